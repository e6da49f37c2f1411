#!/usr/bin/env python3
# Generates the known answers of ShadowsocksSealingTests with an implementation independent of Sluice
# (Debian python3-cryptography): /usr/bin/python3 tests/Sluice.Core.Tests/Shadowsocks/ss_aead_kat.py
# Independent Shadowsocks AEAD (SIP004) encoder: EVP_BytesToKey master key, HKDF-SHA1 "ss-subkey",
# little-endian 12-byte nonce counter, chunks of at most 0x3FFF: [sealed 2-byte length][sealed payload].
import hashlib, sys
from cryptography.hazmat.primitives.ciphers.aead import AESGCM, ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives import hashes

def evp_bytes_to_key(password, keylen):
    out, prev = b"", b""
    while len(out) < keylen:
        prev = hashlib.md5(prev + password).digest()
        out += prev
    return out[:keylen]

def encode(method, password, salt, header, writes):
    keylen = {"aes-128-gcm": 16, "aes-256-gcm": 32, "chacha20-ietf-poly1305": 32}[method]
    master = evp_bytes_to_key(password, keylen)
    subkey = HKDF(algorithm=hashes.SHA1(), length=keylen, salt=salt, info=b"ss-subkey").derive(master)
    aead = ChaCha20Poly1305(subkey) if method.startswith("chacha") else AESGCM(subkey)
    counter = 0
    def seal(data):
        nonlocal counter
        nonce = counter.to_bytes(12, "little"); counter += 1
        return aead.encrypt(nonce, data, None)
    out = bytearray(salt)
    def chunks(data):
        for i in range(0, len(data), 0x3FFF):
            piece = data[i:i + 0x3FFF]
            out.extend(seal(len(piece).to_bytes(2, "big"))); out.extend(seal(piece))
    chunks(header)
    for w in writes: chunks(w)
    return bytes(out)

sizes = [1, 100, 16350, 16383, 16384, 50000, 130800, 131072, 300000]
payload = lambda n, k: bytes((i * 7 + k) % 251 for i in range(n))
writes = [payload(n, k) for k, n in enumerate(sizes)]
for method in ["aes-128-gcm", "chacha20-ietf-poly1305"]:
    salt = bytes(range(1, 1 + (16 if method == "aes-128-gcm" else 32)))
    header = bytes([1, 203, 0, 113, 5, 0x01, 0xBB])
    out = encode(method, b"bench-password", salt, header, writes)
    print(method, len(out), hashlib.sha256(out).hexdigest())
