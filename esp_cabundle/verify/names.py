"""Names the way mbedTLS reads and compares them (``x509_get_name``, ``x509_name_cmp``)."""

from __future__ import annotations

import functools


def read_tlv(data: bytes, pos: int) -> tuple[int, int, int]:
    """(tag, start of content, end of content) of the DER element at ``pos``."""
    if pos + 2 > len(data):
        raise ValueError("truncated")
    tag = data[pos]
    first = data[pos + 1]
    if first < 0x80:
        start, length = pos + 2, first
    else:
        n = first & 0x7F
        if n == 0 or n > 4 or pos + 2 + n > len(data):
            raise ValueError("bad length")
        start, length = pos + 2 + n, int.from_bytes(data[pos + 2 : pos + 2 + n], "big")
    if start + length > len(data):
        raise ValueError("truncated")
    return tag, start, start + length


NameAttr = tuple[bytes, int, bytes, bool]  # (oid, value tag, value, next is in same RDN)


@functools.lru_cache(maxsize=8192)
def name_attrs(name_der: bytes) -> tuple[NameAttr, ...]:
    """The AttributeTypeAndValues of a DER Name, as ``x509_get_name`` lists them."""
    out: list[NameAttr] = []
    try:
        tag, pos, end = read_tlv(name_der, 0)
        if tag != 0x30:
            raise ValueError("not a SEQUENCE")
        while pos < end:
            stag, spos, send = read_tlv(name_der, pos)
            if stag != 0x31:
                raise ValueError("not a SET")
            attrs: list[tuple[bytes, int, bytes]] = []
            while spos < send:
                _atag, apos, aend = read_tlv(name_der, spos)
                otag, opos, oend = read_tlv(name_der, apos)
                if otag != 0x06:
                    raise ValueError("not an OID")
                vtag, vpos, vend = read_tlv(name_der, oend)
                attrs.append((name_der[opos:oend], vtag, name_der[vpos:vend]))
                spos = aend
            for i, (oid, vtag, value) in enumerate(attrs):
                out.append((oid, vtag, value, i < len(attrs) - 1))
            pos = send
    except ValueError:
        # Unparseable names only ever equal themselves.
        return ((b"", -1, name_der, False),)
    return tuple(out)


_UTF8_STRING = 0x0C
_PRINTABLE_STRING = 0x13


@functools.lru_cache(maxsize=8192)
def name_key(name_der: bytes) -> tuple[tuple[bytes, object, bytes, bool], ...]:
    """A key equal for two names exactly when mbedTLS's ``x509_name_cmp`` calls them equal:
    same attribute types and RDN structure; values byte-equal with the same tag, or both
    UTF8String/PrintableString and equal up to ASCII letter case."""
    out: list[tuple[bytes, object, bytes, bool]] = []
    for oid, tag, value, merged in name_attrs(name_der):
        if tag in (_UTF8_STRING, _PRINTABLE_STRING):
            out.append((oid, "str", value.lower(), merged))
        else:
            out.append((oid, tag, value, merged))
    return tuple(out)


CN_OID, _OU, _O = bytes.fromhex("550403"), bytes.fromhex("55040b"), bytes.fromhex("55040a")


def name_label(name_der: bytes) -> str:
    """CN (or OU, or O) of a DER name: the label people use."""
    attrs = name_attrs(name_der)
    for want in (CN_OID, _OU, _O):
        for oid, tag, value, _ in attrs:
            if oid == want:
                codec = {0x1E: "utf-16-be", 0x1C: "utf-32-be"}.get(tag, "utf-8")
                return value.decode(codec, "replace")
    return "(unnamed)"


def subject_of(der: bytes) -> bytes | None:
    """The DER subject of a certificate, read from its TBS without a full parse."""
    try:
        _tag, pos, _end = read_tlv(der, 0)
        _tag, pos, tbs_end = read_tlv(der, pos)  # tbsCertificate
        fields: list[tuple[int, int, int]] = []
        while pos < tbs_end and len(fields) < 7:
            tag, _content, end = read_tlv(der, pos)
            fields.append((tag, pos, end))  # whole element: a DER Name keeps its header
            pos = end
        if fields and fields[0][0] == 0xA0:  # [0] version
            fields = fields[1:]
        # serial, signature, issuer, validity, subject
        _tag, start, end = fields[4]
        return der[start:end]
    except (ValueError, IndexError):
        return None
