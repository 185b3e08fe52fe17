"""Public keys of certificates: what they are, even when no library here can load them.

Post-quantum roots (ML-DSA, SLH-DSA) and keys with invalid parameters reach the tool in
real stores and hostile files; they are named by their algorithm OID so every command
can show them and the policies can refuse them, instead of failing on the whole input.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from cryptography import x509

__all__ = [
    "der_tlv",
    "describe_key",
    "dotted_oid",
    "encode_oid",
    "key_facts",
    "read_tlv_header",
    "spki_algorithm",
]


def read_tlv_header(data: bytes, pos: int) -> tuple[int, int, int]:
    """(tag, header length, content length) of the DER element at ``pos``."""
    if pos + 2 > len(data):
        raise ValueError("truncated")
    tag = data[pos]
    first = data[pos + 1]
    if first < 0x80:
        return tag, 2, first
    n = first & 0x7F
    if n == 0 or n > 4 or pos + 2 + n > len(data):
        raise ValueError("bad length")
    length = int.from_bytes(data[pos + 2 : pos + 2 + n], "big")
    return tag, 2 + n, length


def der_tlv(tag: int, body: bytes) -> bytes:
    """One DER element: ``tag``, the definite length of ``body``, ``body``."""
    n = len(body)
    if n < 0x80:
        return bytes([tag, n]) + body
    length = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([tag, 0x80 | len(length)]) + length + body


def encode_oid(dotted: str) -> bytes:
    """The content octets of the OBJECT IDENTIFIER ``dotted`` (the inverse of
    :func:`dotted_oid`)."""
    arcs = [int(x) for x in dotted.split(".")]
    out = bytearray()
    for subid in (40 * arcs[0] + arcs[1], *arcs[2:]):
        chunk = [subid & 0x7F]
        subid >>= 7
        while subid:
            chunk.append(0x80 | (subid & 0x7F))
            subid >>= 7
        out += bytes(reversed(chunk))
    return bytes(out)


def describe_key(key: object) -> tuple[str, int, str | None]:
    from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, rsa

    if isinstance(key, rsa.RSAPublicKey):
        return "RSA", key.key_size, None
    if isinstance(key, ec.EllipticCurvePublicKey):
        names = {"secp256r1": "P-256", "secp384r1": "P-384", "secp521r1": "P-521"}
        return "EC", key.curve.key_size, names.get(key.curve.name, key.curve.name)
    if isinstance(key, ed25519.Ed25519PublicKey):
        return "Ed25519", 256, None
    if isinstance(key, ed448.Ed448PublicKey):
        return "Ed448", 456, None
    if isinstance(key, dsa.DSAPublicKey):
        return "DSA", key.key_size, None
    return type(key).__name__, 0, None


# Public-key algorithms by OID, to name keys cryptography cannot load (or that no
# device's mbedTLS 2.28 reads): FIPS 204 ML-DSA, FIPS 205 SLH-DSA, and the classics.
_KEY_OIDS = {
    "1.2.840.113549.1.1.1": "RSA",
    "1.2.840.113549.1.1.10": "RSASSA-PSS",
    "1.2.840.10045.2.1": "EC",
    "1.2.840.10040.4.1": "DSA",
    "1.3.101.112": "Ed25519",
    "1.3.101.113": "Ed448",
    "2.16.840.1.101.3.4.3.17": "ML-DSA-44",
    "2.16.840.1.101.3.4.3.18": "ML-DSA-65",
    "2.16.840.1.101.3.4.3.19": "ML-DSA-87",
    **{f"2.16.840.1.101.3.4.3.{n}": f"SLH-DSA ({n})" for n in range(20, 32)},
}


def key_facts(cert: x509.Certificate) -> tuple[str, int, str | None, bytes, str | None]:
    """(type, size, curve, SubjectPublicKeyInfo DER, problem) of a certificate's key.

    A key cryptography cannot load (an unknown algorithm such as a post-quantum one,
    an EC point not on its curve) is named by its algorithm OID, and ``problem`` says
    why; the certificate is still read, so inspect can show it and policies refuse it.
    """
    from cryptography.exceptions import UnsupportedAlgorithm
    from cryptography.hazmat.primitives import serialization

    try:
        key = cert.public_key()
    except (ValueError, TypeError, UnsupportedAlgorithm) as e:
        try:
            spki = _spki_from_tbs(cert.tbs_certificate_bytes)
        except (ValueError, IndexError):
            spki = b""
        oid = spki_algorithm(spki)
        name = _KEY_OIDS.get(oid, "unknown")
        if isinstance(e, UnsupportedAlgorithm) or oid not in _KEY_OIDS:
            problem = f"unsupported, OID {oid}"
        else:
            problem = "invalid key"
        return name, 0, None, spki, problem
    spki = key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    kind, size, curve = describe_key(key)
    if kind not in ("RSA", "EC", "Ed25519", "Ed448", "DSA"):
        oid = spki_algorithm(spki)
        return _KEY_OIDS.get(oid, "unknown"), 0, None, spki, f"unsupported, OID {oid}"
    return kind, size, curve, spki, None


def _der_children(data: bytes, pos: int, end: int) -> Iterator[tuple[int, int, int]]:
    """(tag, start, end) of each DER element in ``data[pos:end]``."""
    while pos < end:
        tag, hdr, length = read_tlv_header(data, pos)
        yield tag, pos, pos + hdr + length
        pos += hdr + length


def _spki_from_tbs(tbs: bytes) -> bytes:
    """The SubjectPublicKeyInfo element of a TBSCertificate (RFC 5280 4.1): the seventh
    field, or the sixth when the optional [0] version is absent."""
    _tag, hdr, length = read_tlv_header(tbs, 0)
    fields = list(_der_children(tbs, hdr, hdr + length))
    index = 6 if fields and fields[0][0] == 0xA0 else 5
    _tag, start, end = fields[index]
    return tbs[start:end]


def spki_algorithm(spki: bytes) -> str:
    """The dotted algorithm OID of a SubjectPublicKeyInfo."""
    try:
        _tag, hdr, _len = read_tlv_header(spki, 0)
        _tag, alg_hdr, _alg_len = read_tlv_header(spki, hdr)
        tag, oid_hdr, oid_len = read_tlv_header(spki, hdr + alg_hdr)
        start = hdr + alg_hdr + oid_hdr
        raw = spki[start : start + oid_len]
    except ValueError:
        return "?"
    if tag != 0x06 or not raw:
        return "?"
    return dotted_oid(raw)


def dotted_oid(raw: bytes) -> str:
    """An OBJECT IDENTIFIER's content octets as dotted text (X.690 8.19: base-128
    subidentifiers with a continuation bit; the first holds the first two arcs)."""
    subids, value = [], 0
    for byte in raw:
        value = (value << 7) | (byte & 0x7F)
        if not byte & 0x80:
            subids.append(value)
            value = 0
    if not subids:
        return "(empty)"
    first = min(subids[0] // 40, 2)
    return ".".join(str(a) for a in (first, subids[0] - 40 * first, *subids[1:]))
