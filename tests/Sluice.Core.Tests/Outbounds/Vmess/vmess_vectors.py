#!/usr/bin/env python3
"""Known-answer values for VmessProtocolTests, computed independently of Sluice's C# code: Python's hmac,
hashlib and the cryptography package, written from v2fly's VMess AEAD description. Run it to print them."""
import hashlib, hmac, struct, uuid, zlib
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM, ChaCha20Poly1305

def kdf(key, *path):
    # HMAC-SHA256 keyed "VMess AEAD KDF" is the hash under an HMAC keyed path[0], that one under path[1], ...
    ctor = lambda: hmac.new(b"VMess AEAD KDF", digestmod=hashlib.sha256)
    for p in path:
        ctor = (lambda parent, k: (lambda: hmac.new(k, digestmod=parent)))(ctor, p)
    h = ctor()
    h.update(key)
    return h.digest()

def fnv1a(data):
    h = 0x811C9DC5
    for b in data:
        h = ((h ^ b) * 0x01000193) & 0xFFFFFFFF
    return h

USER = uuid.UUID("b831381d-6324-4d53-ad4f-8cda48b30811").bytes
CMD_KEY = hashlib.md5(USER + b"c48619fe-8f02-49e0-b9e9-edf763e17e21").digest()
TIME = 1700000000
RANDOM4 = bytes([1, 2, 3, 4])
NONCE8 = bytes(range(0xA0, 0xA8))
REQ_KEY = bytes(range(16))
REQ_IV = bytes(range(16, 32))
V = 0x2A

def auth_id():
    plain = struct.pack(">q", TIME) + RANDOM4
    plain += struct.pack(">I", zlib.crc32(plain))
    enc = Cipher(algorithms.AES(kdf(CMD_KEY, b"AES Auth ID Encryption")[:16]), modes.ECB()).encryptor()
    return enc.update(plain) + enc.finalize()

def instruction():
    # version, IV, key, V, options (chunk stream | masking), padding 3 << 4 | aes-128-gcm, 0, TCP, port 443, domain
    out = bytes([1]) + REQ_IV + REQ_KEY + bytes([V, 0x05, (3 << 4) | 3, 0, 1]) + struct.pack(">H", 443)
    out += bytes([2, len(b"example.com")]) + b"example.com" + b"\xaa\xbb\xcc"
    return out + struct.pack(">I", fnv1a(out))

def seal_header(ins):
    aid = auth_id()
    lk = kdf(CMD_KEY, b"VMess Header AEAD Key_Length", aid, NONCE8)[:16]
    ln = kdf(CMD_KEY, b"VMess Header AEAD Nonce_Length", aid, NONCE8)[:12]
    hk = kdf(CMD_KEY, b"VMess Header AEAD Key", aid, NONCE8)[:16]
    hn = kdf(CMD_KEY, b"VMess Header AEAD Nonce", aid, NONCE8)[:12]
    return aid + AESGCM(lk).encrypt(ln, struct.pack(">H", len(ins)), aid) + NONCE8 + AESGCM(hk).encrypt(hn, ins, aid)

RESP_KEY = hashlib.sha256(REQ_KEY).digest()[:16]
RESP_IV = hashlib.sha256(REQ_IV).digest()[:16]

def response_header():
    plain = bytes([V, 0, 0, 0])
    lk = kdf(RESP_KEY, b"AEAD Resp Header Len Key")[:16]
    ln = kdf(RESP_IV, b"AEAD Resp Header Len IV")[:12]
    hk = kdf(RESP_KEY, b"AEAD Resp Header Key")[:16]
    hn = kdf(RESP_IV, b"AEAD Resp Header IV")[:12]
    return AESGCM(lk).encrypt(ln, struct.pack(">H", len(plain)), None) + AESGCM(hk).encrypt(hn, plain, None)

def chacha_key(k):
    a = hashlib.md5(k).digest()
    return a + hashlib.md5(a).digest()

def body(key, iv, payloads, security, padding, auth_len=False):
    """Chunks with SHAKE128(iv) length masks; padding bytes are 0x55; the last payload b"" is the end chunk."""
    shake = hashlib.shake_128(iv).digest(4 * len(payloads) + 4)
    at = 0
    def mask():
        nonlocal at
        v = struct.unpack(">H", shake[at:at + 2])[0]
        at += 2
        return v
    aead = AESGCM(key) if security == "aes" else ChaCha20Poly1305(chacha_key(key))
    len_key = kdf(key, b"auth_len")[:16]
    len_aead = AESGCM(len_key) if security == "aes" else ChaCha20Poly1305(chacha_key(len_key))
    out = b""
    for count, p in enumerate(payloads):
        pad = mask() % 64 if padding else 0
        nonce = struct.pack(">H", count) + iv[2:12]
        size = len(p) + 16 + pad
        if auth_len:
            out += len_aead.encrypt(nonce, struct.pack(">H", size - 16), None)
        else:
            out += struct.pack(">H", size ^ mask())
        out += aead.encrypt(nonce, p, None) + b"\x55" * pad
    return out

if __name__ == "__main__":
    show = lambda name, b: print(f'    private const string {name} = "{b.hex()}";')
    show("CommandKey", CMD_KEY)
    show("AuthIdKey", kdf(CMD_KEY, b"AES Auth ID Encryption")[:16])
    show("AuthId", auth_id())
    show("Instruction", instruction())
    show("SealedHeader", seal_header(instruction()))
    show("ResponseHeader", response_header())
    payloads = [b"hello, vmess", b"x" * 100, b""]
    show("ResponseBodyAesPadded", body(RESP_KEY, RESP_IV, payloads, "aes", True))
    show("ResponseBodyChaCha", body(RESP_KEY, RESP_IV, payloads, "chacha", False))
    show("ResponseBodyAesAuthLength", body(RESP_KEY, RESP_IV, payloads, "aes", False, auth_len=True))
    show("RequestBodyAes", body(REQ_KEY, REQ_IV, [b"GET / HTTP/1.1\r\n\r\n", b""], "aes", False))
