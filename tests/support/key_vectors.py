"""The key scanner's test-only private keys, made at test time or unmasked in memory.

Why: the repository holds no private key in any readable encoding (a secret scanner's
or our own rule), yet the scanner's tests need keys in every encoding a CA file may carry.
Whatever ``cryptography`` can write is made here once per session: DER is canonical, so
its PKCS#8, SEC1, PKCS#1 and PKCS#12 have the shapes OpenSSL 3.0 writes (compared with
``openssl asn1parse`` against OpenSSL's own files before they were deleted: the same
elements at the same depths; cryptography's encrypted PKCS#8 names AES-256-CBC where
``openssl pkcs8 -v2 aes-128-cbc`` names AES-128-CBC, and its PKCS#12 iterates 20000
times to OpenSSL's 2048). BER forms come from :mod:`.ber`; CMS-wrapped keys are
cryptography's PKCS#7 signing and a hand-built data ContentInfo, re-encoded as ``openssl
cms -stream`` writes them (the data one byte for byte). What only a tool outside Python
writes (NSS's BER PKCS#12, keytool's JKS and JCEKS) is stored XOR-masked in
``tests/data/private-keys`` (README there) and unmasked only in memory by :func:`stored`.
"""

from __future__ import annotations

import base64
import hashlib
import re
from functools import cache
from pathlib import Path

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives import serialization as ser
from cryptography.hazmat.primitives.asymmetric import dsa, ed25519
from cryptography.hazmat.primitives.serialization import pkcs7, pkcs12

from .ber import _header, make_vectors, stream, to_ber
from .verify_pki import mint, pooled_key

__all__ = [
    "KEYS",
    "MASK_LABEL",
    "PASSWORD",
    "STORED",
    "key_vectors",
    "mask",
    "openssh_key",
    "stored",
]

KEYS = Path(__file__).resolve().parent.parent / "data" / "private-keys"
PASSWORD = b"test-only"
MASK_LABEL = b"esp-cabundle test-only key vector mask"
# Vector name -> the masked file holding what the real tool wrote.
STORED = {
    "test-only-nss-pk12util.p12": "test-only-nss-pk12util.p12.masked",
    "test-only-keytool.jks": "test-only-keytool.jks.masked",
    "test-only-keytool.jceks": "test-only-keytool.jceks.masked",
}
_ID_DATA = bytes.fromhex("06092a864886f70d010701")


def mask(data: bytes) -> bytes:
    """``data`` XOR SHA-256 in counter mode: block i is SHA-256(MASK_LABEL || i as 8
    big-endian bytes). Its own inverse: it masks and unmasks."""
    blocks = (len(data) + 31) // 32
    stream_ = b"".join(
        hashlib.sha256(MASK_LABEL + i.to_bytes(8, "big")).digest() for i in range(blocks)
    )
    return bytes(a ^ b for a, b in zip(data, stream_, strict=False))


def stored(name: str) -> bytes:
    """The bytes a real tool wrote for vector ``name`` (a key of :data:`STORED`)."""
    return mask((KEYS / STORED[name]).read_bytes())


def _dsa_pkcs8() -> bytes:
    """A DSA key's DER PKCS#8, made afresh until its BER form (what :func:`.ber.to_ber`
    makes of it) holds no run of three equal bytes or more but its algorithm's
    end-of-contents ``00 00 00 00``. Why: in od -An -tx1 -w1's squeezed lines each such
    run is a "*" standing for more than one line, and esp_cabundle/keyscan_columns.py's
    docstring finds a key whose first bytes hold one such "*" always, two only within
    a cap of windows, three never; one key in 400 holds a second run (p, q, g or the key
    a run of three equal bytes), so the vector of one "*" stays one."""
    while True:
        der = dsa.generate_private_key(1024).private_bytes(
            ser.Encoding.DER, ser.PrivateFormat.PKCS8, ser.NoEncryption()
        )
        runs = [m.group() for m in re.finditer(rb"(?s)(.)\1\1+", to_ber(der))]
        if runs == [bytes(4)]:
            return der


def _data_content_info(content: bytes) -> bytes:
    octets = _header(0x04, len(content)) + content
    body = _ID_DATA + _header(0xA0, len(octets)) + octets
    return _header(0x30, len(body)) + body


@cache
def key_vectors() -> dict[str, bytes]:
    """Every test-only key vector by name: the DER keys and PKCS#12 cryptography writes,
    their BER re-encodings, the CMS-wrapped key, and the real tools' stores."""
    ec = pooled_key("ec256", 59)
    rsa = pooled_key("rsa2048", 59)
    cert = mint("esp-cabundle test-only key, never a real key", key=ec).cert
    plain = ser.NoEncryption()
    encrypted = ser.BestAvailableEncryption(PASSWORD)
    pkcs8 = ec.private_bytes(ser.Encoding.DER, ser.PrivateFormat.PKCS8, plain)
    der = {
        "test-only-ec-pkcs8.der": pkcs8,
        "test-only-ec-sec1.der": ec.private_bytes(
            ser.Encoding.DER, ser.PrivateFormat.TraditionalOpenSSL, plain
        ),
        "test-only-ec-pkcs8-encrypted.der": ec.private_bytes(
            ser.Encoding.DER, ser.PrivateFormat.PKCS8, encrypted
        ),
        "test-only-rsa-pkcs1.der": rsa.private_bytes(
            ser.Encoding.DER, ser.PrivateFormat.TraditionalOpenSSL, plain
        ),
        "test-only-dsa-pkcs8.der": _dsa_pkcs8(),
        "test-only-der.p12": pkcs12.serialize_key_and_certificates(
            b"test-only", ec, cert, None, encrypted
        ),
    }
    signed = (
        pkcs7.PKCS7SignatureBuilder()
        .set_data(pkcs8)
        .add_signer(cert, ec, hashes.SHA256())
        .sign(ser.Encoding.DER, [pkcs7.PKCS7Options.Binary])
    )
    return {
        **der,
        **make_vectors(der),
        "test-only-cms-data-of-key-ber.p7": stream(_data_content_info(pkcs8)),
        "test-only-cms-signed-key-ber.p7s": stream(signed),
        **{name: stored(name) for name in STORED},
    }


@cache
def openssh_key() -> bytes:
    """The binary of an OpenSSH private key (``openssh-key-v1\\0``, no DER) that
    cryptography writes for an Ed25519 key made now: the base64 between the armour of
    ``ssh-keygen``'s format, decoded. One without a 0x30 byte, so nothing in it opens
    like DER: only the magic makes it a key to the scanner."""
    while True:
        key = ed25519.Ed25519PrivateKey.generate()
        pem = key.private_bytes(ser.Encoding.PEM, ser.PrivateFormat.OpenSSH, ser.NoEncryption())
        blob = base64.b64decode(b"".join(pem.splitlines()[1:-1]))
        if b"\x30" not in blob:  # half of them
            return blob


def no_key_data(seed: int) -> dict[str, bytes]:
    """DER and binary data that hold no private key, for the tests that every encoding
    the scanner reads (hex dumps, decimal bytes) leaves them be: a root certificate, the
    CMS/PKCS#7 vectors, a Java trust store and random bytes (``seed``)."""
    import random

    from esp_cabundle.certs import load_certificates

    from .gate_cases import X1_PEM

    data = KEYS.parent
    pkcs7 = {p.name: p.read_bytes() for p in (data / "pkcs7").iterdir() if p.suffix != ".md"}
    trust = (data / "java" / "isrgrootx1-truststore.jks").read_bytes()
    noise = random.Random(seed).randbytes(4096)
    x1 = load_certificates(X1_PEM)[0].der
    return {"ISRG Root X1": x1, "truststore.jks": trust, **pkcs7, "random": noise}
