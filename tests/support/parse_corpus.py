"""Certificates mbedTLS may refuse at parse time, made on purpose, and byte mutations of
real ones: the corpus on which the parse model must give real mbedTLS's exact code.

Certificates cryptography will not build (v1, repeated extensions, compressed keys,
odd string types) are made by editing the DER of a minted one and signing it again.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.x509.oid import NameOID, ObjectIdentifier

from esp_cabundle.pubkeys import der_tlv

from .verify_pki import Minted, fresh_key, mint, pooled_key

DATA = Path(__file__).resolve().parent.parent / "data"


@dataclass
class Sample:
    name: str
    der: bytes


# -- a minimal DER editor -------------------------------------------------------------


tlv = der_tlv


def children(der: bytes) -> list[bytes]:
    """The elements (whole TLVs) inside the constructed element ``der``."""
    out = []
    pos = _header(der, 0)[1]
    while pos < len(der):
        _tag, _start, end = _header(der, pos)
        out.append(der[pos:end])
        pos = end
    return out


def _header(d: bytes, pos: int) -> tuple[int, int, int]:
    tag, first = d[pos], d[pos + 1]
    if first < 0x80:
        return tag, pos + 2, pos + 2 + first
    k = first & 0x7F
    n = int.from_bytes(d[pos + 2 : pos + 2 + k], "big")
    return tag, pos + 2 + k, pos + 2 + k + n


def oid_der(dotted: str) -> bytes:
    from esp_cabundle.verify.asn1 import _oid

    return tlv(0x06, _oid(dotted))


def resign(tbs: bytes, key: Any, alg: bytes | None = None) -> bytes:
    """A certificate around ``tbs`` signed by ``key`` (ECDSA-SHA256 / RSA-SHA256 / Ed25519)."""
    if isinstance(key, ec.EllipticCurvePrivateKey):
        sig = key.sign(tbs, ec.ECDSA(hashes.SHA256()))
        alg = alg or tlv(0x30, oid_der("1.2.840.10045.4.3.2"))
    elif isinstance(key, rsa.RSAPrivateKey):
        sig = key.sign(tbs, padding.PKCS1v15(), hashes.SHA256())
        alg = alg or tlv(0x30, oid_der("1.2.840.113549.1.1.11") + b"\x05\x00")
    else:
        sig = key.sign(tbs)
        alg = alg or tlv(0x30, oid_der("1.3.101.112"))
    return tlv(0x30, tbs + alg + tlv(0x03, b"\x00" + sig))


def edit_tbs(m: Minted, signer: Any, edit: Any) -> bytes:
    """Re-sign ``m`` after ``edit(list of TBS fields) -> list``; the inner signature
    algorithm follows the signer."""
    tbs = m.cert.tbs_certificate_bytes
    fields = edit(children(tbs))
    return resign(tlv(0x30, b"".join(fields)), signer, _alg_of(fields))


def _alg_of(fields: list[bytes]) -> bytes:
    i = 1 if fields[0][0] == 0xA0 else 0
    return fields[i + 1]


def ext(oid: str, value: bytes, critical: bool = False) -> bytes:
    return tlv(0x30, oid_der(oid) + (b"\x01\x01\xff" if critical else b"") + tlv(0x04, value))


def with_extensions(m: Minted, signer: Any, *extra: bytes, keep: bool = True) -> bytes:
    def edit(fields: list[bytes]) -> list[bytes]:
        if fields[-1][0] == 0xA3:
            old = children(children(fields[-1])[0]) if keep else []
            fields = fields[:-1]
        else:
            old = []
        return [*fields, tlv(0xA3, tlv(0x30, b"".join([*old, *extra])))]

    return edit_tbs(m, signer, edit)


# -- the corpus ----------------------------------------------------------------------


NC = tlv(0x30, tlv(0xA0, tlv(0x30, tlv(0x82, b"example.com"))))  # nameConstraints
POLICY = tlv(0x30, tlv(0x30, oid_der("2.23.140.1.2.1")))  # a specific policy (not any)


def crafted() -> Iterator[Sample]:
    root = mint("Parse Root")
    k = root.key
    leaf = mint("parse.example", root, ca=False)
    yield Sample("plain-ca", root.der)
    yield Sample("plain-leaf", leaf.der)
    nc = tlv(0x30, tlv(0xA0, tlv(0x30, tlv(0x82, b"example.com"))))
    yield Sample("critical-name-constraints", with_extensions(root, k, ext("2.5.29.30", nc, True)))
    yield Sample("noncritical-name-constraints", with_extensions(root, k, ext("2.5.29.30", nc)))
    pol = tlv(0x30, tlv(0x30, oid_der("2.23.140.1.2.1")))
    yield Sample("critical-policy", with_extensions(root, k, ext("2.5.29.32", pol, True)))
    yield Sample("noncritical-policy", with_extensions(root, k, ext("2.5.29.32", pol)))
    anyp = tlv(0x30, tlv(0x30, oid_der("2.5.29.32.0")))
    yield Sample("critical-any-policy", with_extensions(root, k, ext("2.5.29.32", anyp, True)))
    yield Sample("critical-unknown", with_extensions(root, k, ext("1.2.3.4.5", b"\x05\x00", True)))
    yield Sample(
        "critical-policy-constraints",
        with_extensions(root, k, ext("2.5.29.36", tlv(0x30, b"\x80\x01\x00"), True)),
    )
    bc = ext("2.5.29.19", tlv(0x30, b"\x01\x01\xff"), True)
    yield Sample("repeated-basic-constraints", with_extensions(root, k, bc))
    ski = ext("2.5.29.14", tlv(0x04, b"\x01\x02"))
    yield Sample("repeated-ski", with_extensions(root, k, ski, ski, keep=False))
    yield Sample("ski-not-octet-string", with_extensions(root, k, ext("2.5.29.14", b"\x05\x00")))
    yield Sample(
        "empty-key-usage",
        with_extensions(mint("KU Empty", key_cert_sign=None), k, ext("2.5.29.15", b"\x03\x01\x00")),
    )
    ip = tlv(0x30, tlv(0x87, b"\x7f\x00\x00"))
    yield Sample(
        "san-ip-3-bytes",
        with_extensions(
            mint("san.example", root, ca=False, san="x"), k, ext("2.5.29.17", ip), keep=False
        ),
    )
    yield Sample("empty-eku", with_extensions(root, k, ext("2.5.29.37", tlv(0x30, b""))))

    def v1(fields: list[bytes]) -> list[bytes]:
        return [f for f in fields if f[0] not in (0xA0, 0xA3)]

    yield Sample("v1", edit_tbs(root, k, v1))

    def v1_with_ext(fields: list[bytes]) -> list[bytes]:
        return [f for f in fields if f[0] != 0xA0]

    yield Sample("v1-with-extensions", edit_tbs(root, k, v1_with_ext))

    def v4(fields: list[bytes]) -> list[bytes]:
        return [tlv(0xA0, b"\x02\x01\x03"), *fields[1:]]

    yield Sample("version-4", edit_tbs(root, k, v4))
    ed = pooled_key("ed25519", 50)
    yield Sample("ed25519-signed", mint("Ed Root", key=ed).der)
    yield Sample("ed25519-key", mint("ed.example", root, key=ed, ca=False).der)
    yield Sample(
        "secp256k1-key", mint("K1 CA", root, key=ec.generate_private_key(ec.SECP256K1())).der
    )
    yield Sample(
        "secp224r1-key", mint("P224 CA", root, key=ec.generate_private_key(ec.SECP224R1())).der
    )
    yield Sample("p521-key", mint("P521 CA", root, key=ec.generate_private_key(ec.SECP521R1())).der)
    bp = ec.generate_private_key(ec.BrainpoolP256R1())
    yield Sample("brainpool-key", mint("BP CA", root, key=bp).der)
    yield Sample("sect-curve-key", mint("B CA", root, key=_binary_curve_key()).der)
    yield Sample("rsa-1024-key", mint("R1024", root, key_kind="rsa1024").der)
    yield Sample(
        "sha1-rsa",
        mint(
            "SHA1 Leaf",
            mint("RSA Root", key_kind="rsa2048"),
            key_kind="rsa2048",
            hash_alg=hashes.SHA1(),
        ).der,
    )
    yield Sample("sha224-ecdsa", mint("SHA224", root, hash_alg=hashes.SHA224()).der)
    yield Sample("sha3-ecdsa", mint("SHA3", root, hash_alg=hashes.SHA3_256()).der)
    rr = mint("RSA Root P", key_kind="rsa2048")
    yield Sample("rsa-pss", mint("PSS CA", rr, pss=True, key_kind="rsa2048").der)

    def compressed(fields: list[bytes]) -> list[bytes]:
        i = 6 if fields[0][0] == 0xA0 else 5
        pub = leaf.key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.CompressedPoint
        )
        alg = children(fields[i])[0]
        fields[i] = tlv(0x30, alg + tlv(0x03, b"\x00" + pub))
        return fields

    yield Sample("compressed-point", edit_tbs(leaf, k, compressed))
    for tag, label in ((0x12, "numeric"), (0x1A, "visible"), (0x16, "ia5"), (0x14, "t61")):
        yield Sample(f"name-{label}-string", _with_subject_string(root, k, tag))

    def sig_mismatch(fields: list[bytes]) -> list[bytes]:
        return fields

    tbs = root.cert.tbs_certificate_bytes
    outer = tlv(0x30, oid_der("1.2.840.10045.4.3.3"))
    sig = k.sign(tbs, ec.ECDSA(hashes.SHA256()))
    yield Sample("signature-algorithm-mismatch", tlv(0x30, tbs + outer + tlv(0x03, b"\x00" + sig)))
    yield Sample("serial-negative", mint_serial(-5, root))
    yield Sample(
        "utc-time-without-seconds", _with_validity(root, k, b"2401010000Z", b"3401010000Z")
    )
    yield Sample(
        "generalized-time",
        _with_validity(root, k, b"20240101000000Z", b"20540101000000Z", tag=0x18),
    )
    yield Sample("date-feb-30", _with_validity(root, k, b"240230000000Z", b"340101000000Z"))
    yield Sample("big-rsa-key", _with_rsa_modulus(leaf, k, 8200))
    yield Sample("rsa-even-exponent", _with_rsa_modulus(leaf, k, 2048, exponent=65538))
    hw = tlv(
        0xA0,
        oid_der("1.3.6.1.5.5.7.8.4") + tlv(0xA0, tlv(0x30, oid_der("1.2.3") + tlv(0x04, b"x"))),
    )
    yield Sample(
        "san-hw-module-name",
        with_extensions(
            mint("hw.example", root, ca=False), k, ext("2.5.29.17", tlv(0x30, hw)), keep=False
        ),
    )
    bad_hw = tlv(0xA0, oid_der("1.3.6.1.5.5.7.8.4") + tlv(0xA0, tlv(0x30, oid_der("1.2.3"))))
    yield Sample(
        "san-hw-module-name-truncated",
        with_extensions(
            mint("hw2.example", root, ca=False), k, ext("2.5.29.17", tlv(0x30, bad_hw)), keep=False
        ),
    )
    aki = tlv(0x30, tlv(0x80, b"\x01\x02") + tlv(0xA1, tlv(0xA4, tlv(0x30, b""))))
    yield Sample("aki-issuer-without-serial", with_extensions(root, k, ext("2.5.29.35", aki)))
    dn = tlv(0x30, tlv(0xA4, tlv(0x30, tlv(0x31, tlv(0x30, oid_der("2.5.4.3") + tlv(0x12, b"1"))))))
    yield Sample(
        "san-directory-name-numeric",
        with_extensions(mint("dn.example", root, ca=False), k, ext("2.5.29.17", dn), keep=False),
    )


def _binary_curve_key() -> Any:
    try:
        return ec.generate_private_key(ec.SECT233R1())
    except Exception:  # OpenSSL builds without binary curves
        return ec.generate_private_key(ec.SECP192R1())


def _with_subject_string(m: Minted, signer: Any, tag: int) -> bytes:
    def edit(fields: list[bytes]) -> list[bytes]:
        i = 5 if fields[0][0] == 0xA0 else 4
        attr = tlv(0x30, oid_der("2.5.4.5") + tlv(tag, b"12345"))
        fields[i] = tlv(0x30, b"".join(children(fields[i])) + tlv(0x31, attr))
        return fields

    return edit_tbs(m, signer, edit)


def _with_validity(m: Minted, signer: Any, nb: bytes, na: bytes, tag: int = 0x17) -> bytes:
    def edit(fields: list[bytes]) -> list[bytes]:
        i = 4 if fields[0][0] == 0xA0 else 3
        fields[i] = tlv(0x30, tlv(tag, nb) + tlv(tag, na))
        return fields

    return edit_tbs(m, signer, edit)


def _with_rsa_modulus(m: Minted, signer: Any, bits: int, exponent: int = 65537) -> bytes:
    """An RSA key of any size (not a real key pair: only the parser reads it)."""
    rnd = random.Random(bits)
    n = rnd.getrandbits(bits) | (1 << (bits - 1)) | 1
    raw = n.to_bytes(bits // 8 + 1, "big")
    e = exponent.to_bytes((exponent.bit_length() + 8) // 8, "big")
    rsa_key = tlv(0x30, tlv(0x02, raw) + tlv(0x02, e))
    spki = tlv(
        0x30,
        tlv(0x30, oid_der("1.2.840.113549.1.1.1") + b"\x05\x00") + tlv(0x03, b"\x00" + rsa_key),
    )

    def edit(fields: list[bytes]) -> list[bytes]:
        fields[6 if fields[0][0] == 0xA0 else 5] = spki
        return fields

    return edit_tbs(m, signer, edit)


def mint_serial(serial: int, issuer: Minted) -> bytes:
    def edit(fields: list[bytes]) -> list[bytes]:
        i = 1 if fields[0][0] == 0xA0 else 0
        raw = serial.to_bytes(8, "big", signed=True).lstrip(b"\xff") or b"\xff"
        fields[i] = tlv(0x02, raw if raw[0] & 0x80 else b"\xff" + raw)
        return fields

    return edit_tbs(mint("Serial", issuer), issuer.key, edit)


def real_certificates() -> Iterator[Sample]:
    from esp_cabundle.certs import load_certificate_file

    for f in sorted((DATA / "letsencrypt").glob("*.pem"))[:20]:
        for c in load_certificate_file(f):
            yield Sample(f.stem, c.der)
    for i, c in enumerate(load_certificate_file(DATA / "idf-bundle" / "input" / "cacrt_all.pem")):
        if i % 4 == 0:
            yield Sample(f"mozilla-{i}", c.der)


def mutations(seeds: list[Sample], count: int, *, seed: int = 12) -> Iterator[Sample]:
    """Byte flips, truncations and tag swaps of real certificates: the model must fail
    exactly where and how mbedTLS fails."""
    rnd = random.Random(seed)
    for n in range(count):
        s = rnd.choice(seeds)
        b = bytearray(s.der)
        how = rnd.random()
        if how < 0.6:
            for _ in range(rnd.randint(1, 3)):
                b[rnd.randrange(len(b))] = rnd.randrange(256)
        elif how < 0.8:
            b = b[: rnd.randrange(1, len(b))]
        else:
            i = rnd.randrange(len(b))
            b[i] = rnd.choice(
                [0x02, 0x03, 0x04, 0x05, 0x06, 0x0C, 0x12, 0x13, 0x30, 0x31, 0xA0, 0xA3]
            )
        yield Sample(f"mut-{n}-{s.name}", bytes(b))


__all__ = [
    "NameOID",
    "ObjectIdentifier",
    "Sample",
    "crafted",
    "ed25519",
    "fresh_key",
    "mutations",
    "real_certificates",
    "x509",
]
