"""DER re-encoded as BER with indefinite lengths, to make the BER key vectors.

Why: OpenSSL, Python ``cryptography`` and the JDK's own keytool write PKCS#12 and
PKCS#8 in DER only; NSS's ``pk12util`` and Bouncy Castle's default "PKCS12" key store
write the PFX with indefinite lengths (``30 80 ... 00 00``, X.690 8.1.3.6), and every
BER decoder (OpenSSL's d2i, ``cryptography``'s PKCS#12 loader) reads such bytes as the
key they hold. :func:`to_ber` turns a real DER key container into those shapes: each
constructed element at a chosen depth gets length ``0x80`` and end-of-contents octets,
and (``chunk``) a primitive OCTET STRING becomes a constructed one of pieces, as Bouncy
Castle's BEROctetString writes it. Primitive contents are copied unchanged, so a PFX
keeps its MAC (computed over the content of the authSafe's OCTET STRING) and still opens
with its password. :func:`stream` gives CMS the shape OpenSSL's ``cms -stream`` writes.
The vectors are made at test time (``tests/support/key_vectors.py``); none is stored.
"""

from __future__ import annotations

from collections.abc import Callable, Container, Mapping

__all__ = ["VECTORS", "make_vectors", "stream", "to_ber"]


def _header(tag: int, length: int) -> bytes:
    if length < 0x80:
        return bytes([tag, length])
    raw = length.to_bytes((length.bit_length() + 7) // 8, "big")
    return bytes([tag, 0x80 | len(raw)]) + raw


def _elements(der: bytes) -> list[tuple[int, bytes]]:
    """(tag, contents) of each DER element in ``der``; single-byte tags, definite lengths."""
    out, pos = [], 0
    while pos < len(der):
        tag, first = der[pos], der[pos + 1]
        if first < 0x80:
            start, length = pos + 2, first
        else:
            n = first & 0x7F
            start = pos + 2 + n
            length = int.from_bytes(der[pos + 2 : start], "big")
        if tag & 0x1F == 0x1F or first == 0x80 or start + length > len(der):
            raise ValueError(f"not DER at byte {pos}")
        out.append((tag, der[start : start + length]))
        pos = start + length
    return out


def to_ber(
    der: bytes, *, depths: Container[int] = range(64), chunk: int | None = None, _depth: int = 0
) -> bytes:
    """``der`` with every constructed element whose depth (0: the outermost) is in
    ``depths`` written with an indefinite length; with ``chunk``, OCTET STRINGs longer
    than ``chunk`` at those depths written as constructed strings of ``chunk``-byte
    pieces (also indefinite): a string of ``chunk`` bytes or fewer becomes one piece, as
    OpenSSL's streaming writer makes it."""
    out = bytearray()
    for tag, contents in _elements(der):
        here = _depth in depths
        if tag & 0x20:
            inner = to_ber(contents, depths=depths, chunk=chunk, _depth=_depth + 1)
            if here:
                out += bytes([tag, 0x80]) + inner + b"\x00\x00"
            else:
                out += _header(tag, len(inner)) + inner
        elif tag == 0x04 and here and chunk is not None and contents:
            pieces = (contents[i : i + chunk] for i in range(0, len(contents), chunk))
            out += b"\x24\x80" + b"".join(_header(0x04, len(p)) + p for p in pieces) + b"\x00\x00"
        else:
            out += _header(tag, len(contents)) + contents
    return bytes(out)


def _outer_only(der: bytes) -> bytes:
    return to_ber(der, depths={0})


def _inner_only(der: bytes) -> bytes:
    return to_ber(der, depths=range(1, 64))


def _chunked(der: bytes) -> bytes:
    return to_ber(der, chunk=1)


_ID_DATA = bytes.fromhex("06092a864886f70d010701")
_ID_SIGNED = bytes.fromhex("06092a864886f70d010702")


def stream(der: bytes, *, chunk: int = 4096) -> bytes:
    """A DER ContentInfo (data or signed-data) as OpenSSL 3.0's ``cms -stream`` writes it:
    the ContentInfo, its [0], the SignedData, its encapContentInfo and that one's [0]
    indefinite, the content a constructed OCTET STRING (``24 80``) of pieces; digest
    algorithms, certificates and signer infos stay DER (compared with ``openssl
    asn1parse`` of OpenSSL's own output, README in ``tests/data/private-keys``)."""
    (tag, info), *rest = _elements(der)
    (_, oid), (_, explicit) = _elements(info)
    content_type = _header(0x06, len(oid)) + oid
    if tag != 0x30 or rest or content_type not in (_ID_DATA, _ID_SIGNED):
        raise ValueError("not a data or signed-data ContentInfo")
    if content_type == _ID_DATA:
        body = to_ber(explicit, depths={0}, chunk=chunk)
    else:
        ((_, signed),) = _elements(explicit)
        parts = []
        for t, c in _elements(signed):
            element = _header(t, len(c)) + c
            starts_with_oid = t == 0x30 and c[:1] == b"\x06"
            parts.append(stream(element, chunk=chunk) if starts_with_oid else element)
        body = b"\x30\x80" + b"".join(parts) + b"\x00\x00"
    return b"\x30\x80" + content_type + b"\xa0\x80" + body + b"\x00\x00\x00\x00"


# Vector made -> (its DER source, how). The sources are made at test time by
# ``tests/support/key_vectors.py``, in the shapes OpenSSL 3.0 writes them.
VECTORS: dict[str, tuple[str, Callable[[bytes], bytes]]] = {
    # PFX: all constructed elements indefinite (NSS's shape), only the outer one, all
    # but the outer one, and with 1-byte OCTET STRING pieces (Bouncy Castle's test
    # store PKCS12StoreTest.pkcs12 has this shape).
    "test-only-ber.p12": ("test-only-der.p12", to_ber),
    "test-only-ber-outer.p12": ("test-only-der.p12", _outer_only),
    "test-only-ber-inner.p12": ("test-only-der.p12", _inner_only),
    "test-only-ber-chunked.p12": ("test-only-der.p12", _chunked),
    # the keys themselves: PKCS#8, encrypted PKCS#8, SEC1 EC and PKCS#1 RSA in BER
    "test-only-ber-pkcs8.der": ("test-only-ec-pkcs8.der", to_ber),
    "test-only-ber-pkcs8-outer.der": ("test-only-ec-pkcs8.der", _outer_only),
    "test-only-ber-pkcs8-encrypted.der": ("test-only-ec-pkcs8-encrypted.der", to_ber),
    "test-only-ber-sec1.der": ("test-only-ec-sec1.der", to_ber),
    "test-only-ber-rsa-pkcs1.der": ("test-only-rsa-pkcs1.der", to_ber),
    # DSA's parameters make the AlgorithmIdentifier 8 elements long: the walk to the
    # OCTET STRING after it must get past them
    "test-only-ber-dsa-pkcs8.der": ("test-only-dsa-pkcs8.der", to_ber),
}


def make_vectors(sources: Mapping[str, bytes]) -> dict[str, bytes]:
    """Every vector of :data:`VECTORS`, made from its DER source in ``sources``."""
    return {name: how(sources[source]) for name, (source, how) in VECTORS.items()}
