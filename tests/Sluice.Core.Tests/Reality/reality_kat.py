#!/usr/bin/python3
"""Reality known answers from Debian's python3-cryptography (OpenSSL underneath), independent of the .NET and
BouncyCastle code Sluice uses. Run by RealityKnownAnswerTests at test time.

stdin: JSON with hex fields client_private, server_private, hello (the ClientHello handshake message with its
session id zeroed), short_id, version (3 bytes), and unix_time (int).
stdout: JSON with hex fields client_public, server_public, shared, auth_key, session_id (what the client must
send), server_view_shared (the server's side of X25519), reality_certificate (an Ed25519 certificate whose
signature is HMAC-SHA512(auth_key, its public key), as a Reality server sends) and ordinary_certificate.
"""
import datetime
import json
import struct
import sys

from cryptography import x509
from cryptography.hazmat.primitives import hashes, hmac, serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.x509.oid import NameOID

RAW = serialization.Encoding.Raw, serialization.PublicFormat.Raw

args = json.load(sys.stdin)
client = X25519PrivateKey.from_private_bytes(bytes.fromhex(args["client_private"]))
server = X25519PrivateKey.from_private_bytes(bytes.fromhex(args["server_private"]))
hello = bytes.fromhex(args["hello"])
random = hello[6:38]
assert hello[38] == 32 and hello[39:71] == bytes(32), "the session id must be zeroed in the AAD"

shared = client.exchange(server.public_key())
auth_key = HKDF(algorithm=hashes.SHA256(), length=32, salt=random[:20], info=b"REALITY").derive(shared)
plaintext = bytes.fromhex(args["version"]) + b"\x00" + struct.pack(">I", args["unix_time"]) + bytes.fromhex(args["short_id"]).ljust(8, b"\x00")
session_id = AESGCM(auth_key).encrypt(random[20:32], plaintext, hello)

signing = Ed25519PrivateKey.generate()
name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "reality")])
now = datetime.datetime(2026, 1, 1)
certificate = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(signing.public_key())
               .serial_number(1).not_valid_before(now).not_valid_after(now + datetime.timedelta(days=1))
               .sign(signing, None).public_bytes(serialization.Encoding.DER))
mac = hmac.HMAC(auth_key, hashes.SHA512())
mac.update(signing.public_key().public_bytes(*RAW))
reality_certificate = certificate[:-64] + mac.finalize()  # the Ed25519 signature is the last 64 bytes

json.dump({
    "client_public": client.public_key().public_bytes(*RAW).hex(),
    "server_public": server.public_key().public_bytes(*RAW).hex(),
    "shared": shared.hex(),
    "server_view_shared": server.exchange(client.public_key()).hex(),
    "auth_key": auth_key.hex(),
    "session_id": session_id.hex(),
    "reality_certificate": reality_certificate.hex(),
    "ordinary_certificate": certificate.hex(),
}, sys.stdout)
