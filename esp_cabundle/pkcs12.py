"""What a PKCS#12 store holds, read without its password.

A PFX (RFC 7292 4) is ``SEQUENCE { version 3, authSafe ContentInfo, macData }``; its
authSafe's data is an AuthenticatedSafe, ContentInfos of type data (SafeContents in the
clear), encryptedData (under the password) or envelopedData (under a key). SafeContents
is a sequence of SafeBags (RFC 7292 4.2): keyBag and pkcs8ShroudedKeyBag hold a private
key, certBag and crlBag certificates and CRLs, secretBag a secret, safeContentsBag more
bags. The bags in the clear are counted here; the encrypted parts are counted, never
opened. A store with no key bag and no encrypted part holds certificates only.

Read in DER or BER (NSS and Bouncy Castle write indefinite lengths and constructed OCTET
STRINGs), with bounded work: at most _MAX_ELEMENTS elements and _MAX_DEPTH levels a walk;
a store this reader cannot walk is None, which callers treat as holding a key.
"""

from __future__ import annotations

from dataclasses import dataclass

from .errors import CertificateError

__all__ = ["PKCS12_HINT", "Pfx", "pkcs12_hint", "read_pfx", "refuse_store", "store_message"]

# What every refusal of a PKCS#12 store as a CA source says to do instead.
PKCS12_HINT = (
    "export its certificates as PEM (openssl pkcs12 -in FILE -nokeys -out ca.pem) and give "
    "that file"
)
# The same for a store in base64 (base64 FILE.p12 > FILE.b64): openssl pkcs12 reads DER.
PKCS12_B64_HINT = (
    "decode it (base64 -d FILE > store.p12), export its certificates as PEM (openssl pkcs12 "
    "-in store.p12 -nokeys -out ca.pem) and give that file"
)
# The same for base64 in string literals (C source, JSON): base64 -d cannot read the file.
PKCS12_LITERAL_HINT = (
    "copy its base64 out of the string literals into store.b64 (what is between the "
    "quotes, without the \\n escapes), decode it (base64 -d store.b64 > store.p12), "
    "export its certificates as PEM (openssl pkcs12 -in store.p12 -nokeys -out ca.pem) "
    "and give that file"
)


def pkcs12_hint(data: bytes, pos: int | None, *, base64: bool) -> str:
    """What to do with the PKCS#12 store found at ``pos`` of ``data`` (None: where is
    not known in ``data``, as for a finding in its UTF-16 text): its DER, its base64 as
    a file, or its base64 inside a string literal (opening right after a quote)."""
    if not base64:
        return PKCS12_HINT
    if pos is not None and pos > 0 and data[pos - 1 : pos] == b'"':
        return PKCS12_LITERAL_HINT
    return PKCS12_B64_HINT


_PKCS7 = bytes.fromhex("2a864886f70d0107")  # 1.2.840.113549.1.7
_DATA = _PKCS7 + b"\x01"
_SEALED = (_PKCS7 + b"\x03", _PKCS7 + b"\x06")  # envelopedData, encryptedData
_BAG = bytes.fromhex("2a864886f70d010c0a01")  # 1.2.840.113549.1.12.10.1: the bag types
_CERT_BAGS = (_BAG + b"\x03", _BAG + b"\x04")  # certBag, crlBag
_NESTED_BAG = _BAG + b"\x06"  # safeContentsBag
_MAX_ELEMENTS = 1 << 17  # a store of 5,000 certificates takes about 100,000
_MAX_DEPTH = 24  # element levels, nested bags included (a store uses about 10)
_INDEFINITE = -1


@dataclass(frozen=True, slots=True)
class Pfx:
    """A PKCS#12 store's bags: ``certificates`` (cert and CRL bags in the clear), ``keys``
    (key, shrouded key, secret and unknown bags in the clear), ``sealed`` (encrypted or
    enveloped parts, which the password opens), and where it ends in the bytes read."""

    certificates: int
    keys: int
    sealed: int
    end: int


class _Unreadable(Exception):
    """Not a PFX this reader can walk within its bounds."""


class _Reader:
    """BER elements of one buffer, each visit counted against _MAX_ELEMENTS."""

    def __init__(self, buf: bytes, visits: list[int]) -> None:
        self.buf, self.visits = buf, visits

    def element(self, pos: int, limit: int, depth: int) -> tuple[int, int, int, int]:
        """(tag, content start, content end, element end) of the element at ``pos``,
        which must end by ``limit``; an indefinite length is walked to its end."""
        self.visits[0] += 1
        if self.visits[0] > _MAX_ELEMENTS or depth > _MAX_DEPTH or pos + 2 > limit:
            raise _Unreadable
        buf = self.buf
        tag, first = buf[pos], buf[pos + 1]
        if tag & 0x1F == 0x1F:
            raise _Unreadable  # a high tag number: none in a PFX
        if first == 0x80:
            if not tag & 0x20:
                raise _Unreadable
            inner = pos + 2
            while not (inner + 2 <= limit and buf[inner] == 0 and buf[inner + 1] == 0):
                inner = self.element(inner, limit, depth + 1)[3]
            return tag, pos + 2, inner, inner + 2
        size, start = first, pos + 2
        if first > 0x80:
            n = first & 0x7F
            if n > 4 or start + n > limit:
                raise _Unreadable
            size, start = int.from_bytes(buf[start : start + n], "big"), start + n
        if start + size > limit:
            raise _Unreadable
        return tag, start, start + size, start + size

    def children(self, start: int, end: int, depth: int) -> list[tuple[int, int, int]]:
        """(tag, content start, content end) of each element in ``buf[start:end]``."""
        out = []
        while start < end:
            tag, content, content_end, start = self.element(start, end, depth)
            out.append((tag, content, content_end))
        return out

    def octets(self, tag: int, start: int, end: int, depth: int) -> bytes:
        """The content of an OCTET STRING, its BER pieces joined."""
        if tag == 0x04:
            return self.buf[start:end]
        if tag != 0x24:
            raise _Unreadable
        parts = [self.octets(t, s, e, depth + 1) for t, s, e in self.children(start, end, depth)]
        return b"".join(parts)


def read_pfx(buf: bytes, pos: int = 0) -> Pfx | None:
    """The bags of the PFX at ``buf[pos:]``, or None when it is not one this reader can
    walk (not a PFX, malformed, over its bounds, or integrity by public key)."""
    visits = [0]
    reader = _Reader(buf, visits)
    try:
        tag, start, end, stop = reader.element(pos, len(buf), 0)
        parts = reader.children(start, end, 1)
        if tag != 0x30 or len(parts) not in (2, 3) or buf[parts[0][1] : parts[0][2]] != b"\x03":
            return None
        safe = _content(reader, parts[1], 1, expect=_DATA)
        count = [0, 0, 0]  # certificates, keys, sealed
        inner = _Reader(safe, visits)
        top = inner.children(0, len(safe), 0)  # the AuthenticatedSafe: ContentInfos
        if len(top) != 1 or top[0][0] != 0x30:
            return None
        for info in inner.children(top[0][1], top[0][2], 1):
            kind = _content_type(inner, info, 1)
            if kind in _SEALED:
                count[2] += 1
            else:
                contents = _Reader(_content(inner, info, 1, expect=_DATA), visits)
                _bags(contents, 0, len(contents.buf), count, 0)
    except (_Unreadable, IndexError):
        return None
    return Pfx(count[0], count[1], count[2], stop)


def refuse_store(data: bytes, pos: int, source: str, line: int | None) -> None:
    """Name a PKCS#12 store of certificates only for what it is: no key (the key scan,
    run first, refuses a store with one, or one that may hide one encrypted), yet no CA
    source this tool reads."""
    pfx = read_pfx(data, pos)
    if pfx is None or pfx.keys or pfx.sealed:
        return
    where = "" if pos == 0 and pfx.end == len(data) else f" at byte offset {pos}"
    raise CertificateError(store_message(pfx, where), path=source, line=line, hint=PKCS12_HINT)


def store_message(pfx: Pfx, where: str) -> str:
    count = f"{pfx.certificates} certificate{'' if pfx.certificates == 1 else 's'}"
    return (
        f"a PKCS#12 store{where} holding {count} and no private key: PKCS#12 is not a "
        "supported CA source"
    )


def _content_type(reader: _Reader, info: tuple[int, int, int], depth: int) -> bytes:
    """The content type of the ContentInfo ``info`` (tag, content start, end)."""
    tag, start, end = info
    parts = reader.children(start, end, depth + 1) if tag == 0x30 else []
    if len(parts) not in (1, 2) or parts[0][0] != 0x06:
        raise _Unreadable
    return reader.buf[parts[0][1] : parts[0][2]]


def _content(reader: _Reader, info: tuple[int, int, int], depth: int, *, expect: bytes) -> bytes:
    """The data of the ContentInfo ``info``, which must be of type ``expect``."""
    if _content_type(reader, info, depth) != expect:
        raise _Unreadable
    _tag, start, end = info
    explicit = reader.children(start, end, depth + 1)[1:]
    if len(explicit) != 1 or explicit[0][0] != 0xA0:
        raise _Unreadable
    octets = reader.children(explicit[0][1], explicit[0][2], depth + 2)
    if len(octets) != 1:
        raise _Unreadable
    return reader.octets(*octets[0], depth + 3)


def _bags(reader: _Reader, start: int, end: int, count: list[int], depth: int) -> None:
    """Count into ``count`` the bags of the SafeContents that ``reader.buf[start:end]``
    holds (one SEQUENCE of SafeBags)."""
    top = reader.children(start, end, depth)
    if len(top) != 1 or top[0][0] != 0x30:
        raise _Unreadable
    for tag, bag_start, bag_end in reader.children(top[0][1], top[0][2], depth + 1):
        parts = reader.children(bag_start, bag_end, depth + 2) if tag == 0x30 else []
        if len(parts) < 2 or parts[0][0] != 0x06:
            raise _Unreadable
        bag = reader.buf[parts[0][1] : parts[0][2]]
        if bag in _CERT_BAGS:
            count[0] += 1
        elif bag == _NESTED_BAG and parts[1][0] == 0xA0:
            _bags(reader, parts[1][1], parts[1][2], count, depth + 3)
        else:
            count[1] += 1  # a key, shrouded key, secret or unknown bag
