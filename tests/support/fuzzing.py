"""Hostile inputs for tests: odd certificates and a seeded mutator for fuzzing.

``cert_with_spki(spki)`` rewrites a minted certificate so its SubjectPublicKeyInfo is
``spki`` (an unknown algorithm such as ML-DSA, an EC point off its curve) and signs the
new TBS with the original key, so everything but the key is a well-formed certificate.

``Mutator(seed)`` derives variants of seed bytes (bit flips, byte sets, truncation,
duplicated and swapped spans, inserted interesting tokens); the same seed gives the
same sequence. ``run_bounded(fn)`` runs one parse call and reports how long it took.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from esp_cabundle.pubkeys import der_tlv, encode_oid

from .verify_pki import Minted, mint

__all__ = [
    "BER_TOKENS",
    "ML_DSA_65_SPKI",
    "NUMBER_TOKENS",
    "Mutator",
    "bad_ec_point_spki",
    "cert_with_spki",
    "der_tlv",
    "timed",
]


def _oid(dotted: str) -> bytes:
    return der_tlv(0x06, encode_oid(dotted))


def _children(data: bytes) -> list[bytes]:
    """The DER elements inside the SEQUENCE ``data``."""
    out = []
    first = data[1]
    pos = 2 + (first & 0x7F if first & 0x80 else 0)
    while pos < len(data):
        b = data[pos + 1]
        hdr = 2 + (b & 0x7F if b & 0x80 else 0)
        length = int.from_bytes(data[pos + 2 : pos + hdr], "big") if b & 0x80 else b
        out.append(data[pos : pos + hdr + length])
        pos += hdr + length
    return out


# FIPS 204 ML-DSA-65: algorithm OID 2.16.840.1.101.3.4.3.18, no parameters, a
# 1952-byte public key (RFC 9881 / draft-ietf-lamps-dilithium-certificates).
ML_DSA_65_OID = "2.16.840.1.101.3.4.3.18"
ML_DSA_65_SPKI = der_tlv(
    0x30,
    der_tlv(0x30, _oid(ML_DSA_65_OID))
    + der_tlv(0x03, b"\x00" + bytes(range(256)) * 7 + bytes(160)),
)


def bad_ec_point_spki() -> bytes:
    """A P-256 SubjectPublicKeyInfo whose uncompressed point is not on the curve."""
    alg = der_tlv(0x30, _oid("1.2.840.10045.2.1") + _oid("1.2.840.10045.3.1.7"))
    return der_tlv(0x30, alg + der_tlv(0x03, b"\x00\x04" + b"\x01" * 64))


def cert_with_spki(
    subject: str, spki: bytes, *, issuer: Minted | None = None, sig_oid: str | None = None
) -> bytes:
    """DER of a CA certificate for ``subject`` holding ``spki``, signed by ``issuer``'s
    EC key (self-issued when None: then the signature cannot verify, as for a root
    whose algorithm nothing here knows; ``sig_oid`` names that algorithm)."""
    base = mint(subject, issuer, key_kind="ec256")
    signer = (issuer or base).key
    assert isinstance(signer, ec.EllipticCurvePrivateKey)
    der = base.der
    tbs, sig_alg, _sig = _children(der)
    fields = _children(tbs)
    spki_index = 6 if fields[0][0] == 0xA0 else 5
    fields[spki_index] = spki
    if sig_oid is not None:
        alg = der_tlv(0x30, _oid(sig_oid))
        fields[spki_index - 4] = alg
        sig_alg = alg
    new_tbs = der_tlv(0x30, b"".join(fields))
    signature = signer.sign(new_tbs, ec.ECDSA(hashes.SHA256()))
    return der_tlv(0x30, new_tbs + sig_alg + der_tlv(0x03, b"\x00" + signature))


def pem_of(der: bytes) -> bytes:
    import base64

    b64 = base64.b64encode(der).decode("ascii")
    lines = [b64[i : i + 64] for i in range(0, len(b64), 64)]
    return (
        "-----BEGIN CERTIFICATE-----\n" + "\n".join(lines) + "\n-----END CERTIFICATE-----\n"
    ).encode()


# ---------------------------------------------------------------------------------------
# A seeded mutator

_TOKENS: Sequence[bytes] = (
    b"\x00",
    b"\xff",
    b"\xff\xff\xff\xff",
    b"\x7f\xff\xff\xff",
    b"\x80\x00\x00\x00",
    b"\x30\x84\xff\xff\xff\xff",
    b"\x30\x80",
    b"-----BEGIN CERTIFICATE-----\n",
    b"-----END CERTIFICATE-----\n",
    b"-----BEGIN PRIVATE KEY-----\n",
    b'"',
    b"'",
    b"\\",
    b"/*",
    b"*/",
    b"{",
    b"}",
    b"0x41, ",
    b"\r",
    b"\f",
    b"\n",
    b"[",
    b"]",
    b"&a ",
    b"*a ",
    b"!!python/name:os.system ",
    b"!custom ",
    b"2035-02-30",
    b"\xc3\x28",
    b"\xed\xa0\x80",
)


# BER's indefinite-length pieces (X.690 8.1.3.6) and the heads of key containers: the key
# scanner's fuzz inserts these.
BER_TOKENS: Sequence[bytes] = (
    b"\x30\x80",
    b"\x00\x00",
    b"\x24\x80\x04\x01",
    b"\xa0\x80",
    b"\x30\x80\x02\x01\x03\x30\x80",
    b"\x30\x80\x02\x01\x00\x30\x80\x06",
    b"\x06\x09\x2a\x86\x48\x86\xf7\x0d\x01\x07\x01",
    b"MIAC",
    b"MIAGCSqGSIb3DQEHAaCAJIAE",
    b"-----BEGIN PRIVATE KEY-----\n",
    b"# ---- never add a private key ----\n",
)


# The pieces of numbers the key scanner reads in C and in od's and hexdump's dumps.
NUMBER_TOKENS: Sequence[bytes] = (
    b"0x",
    b"0x4",
    b"u",
    b"UL",
    b"(uint8_t)",
    b"(byte) ",
    b"060, ",
    b"0060 ",
    b"48U, ",
    b"-",
    b"\n0000020 ",
    b"\n# ",
    b"33072   ",
    b"111, 112, 101, 110, ",
    b'\\n"\n  "',
    b"MIIC",
)


class Mutator:
    """Variants of seed inputs from one seeded ``random.Random``: reproducible runs.
    ``tokens``: what the insert operation picks from (default: every parser's)."""

    def __init__(self, seed: int, tokens: Sequence[bytes] = _TOKENS) -> None:
        self.rng = random.Random(seed)
        self.tokens = tokens

    def mutate(self, data: bytes, *, rounds: int | None = None) -> bytes:
        rng = self.rng
        buf = bytearray(data)
        for _ in range(rounds if rounds is not None else rng.randint(1, 8)):
            op = rng.randrange(8)
            n = len(buf)
            pos = rng.randrange(n + 1)
            if op == 0 and n:
                buf[min(pos, n - 1)] ^= 1 << rng.randrange(8)
            elif op == 1 and n:
                buf[min(pos, n - 1)] = rng.randrange(256)
            elif op == 2:
                del buf[pos:]
            elif op == 3:
                buf[pos:pos] = rng.choice(self.tokens)
            elif op == 4 and n:
                end = min(n, pos + rng.randint(1, 64))
                buf[pos:pos] = buf[pos:end] * rng.randint(1, 16)
            elif op == 5 and n:
                del buf[pos : pos + rng.randint(1, 64)]
            elif op == 6 and n > 8:
                a, b = sorted(rng.sample(range(n), 2))
                size = min(rng.randint(1, 512), b - a, n - b)
                buf[a : a + size], buf[b : b + size] = buf[b : b + size], buf[a : a + size]
            elif op == 7 and n:
                buf[pos:pos] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 16)))
        return bytes(buf)

    def variants(self, seeds: Sequence[bytes], count: int) -> Iterator[bytes]:
        for _ in range(count):
            yield self.mutate(self.rng.choice(seeds))


def timed(fn: Callable[[], Any]) -> tuple[Any, BaseException | None, float]:
    """(result, exception, seconds) of one call."""
    start = time.perf_counter()
    try:
        return fn(), None, time.perf_counter() - start
    except Exception as e:  # the caller decides which exceptions are allowed
        return None, e, time.perf_counter() - start
