"""Names the way mbedTLS reads and compares them (``x509_get_name``, ``x509_name_cmp``)."""

from __future__ import annotations

import functools
import ipaddress
from dataclasses import dataclass

from ..certs import Certificate
from ..pubkeys import read_tlv_header


def read_tlv(data: bytes, pos: int) -> tuple[int, int, int]:
    """(tag, start of content, end of content) of the DER element at ``pos``, whose
    content must be there too."""
    tag, header, length = read_tlv_header(data, pos)
    start = pos + header
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


# ---------------------------------------------------------------------------------------
# The server's name (x509_crt_verify_name, x509_crt_check_cn, x509_check_wildcard)

_SAN_OID = bytes.fromhex("551d11")


def _extension_value(der: bytes, oid: bytes) -> bytes | None:
    """The extnValue contents of extension ``oid`` in a DER certificate, or None."""
    try:
        _tag, pos, _end = read_tlv(der, 0)
        _tag, pos, tbs_end = read_tlv(der, pos)
        while pos < tbs_end:
            tag, start, end = read_tlv(der, pos)
            pos = end
            if tag != 0xA3:
                continue
            _tag, epos, eend = read_tlv(der, start)
            while epos < eend:
                _tag, xpos, xend = read_tlv(der, epos)
                epos = xend
                _tag, opos, oend = read_tlv(der, xpos)
                if der[opos:oend] != oid:
                    continue
                vpos = oend
                tag, vstart, vend = read_tlv(der, vpos)
                if tag == 0x01:  # critical
                    tag, vstart, vend = read_tlv(der, vend)
                return der[vstart:vend]
    except ValueError:
        return None
    return None


def _memcasecmp(n1: bytes, n2: bytes) -> bool:
    """``x509_memcasecmp``: equal, or differing only in the case of ASCII letters of n1."""
    for a, b in zip(n1, n2, strict=True):
        d = a ^ b
        if d and not (d == 32 and (0x61 <= a <= 0x7A or 0x41 <= a <= 0x5A)):
            return False
    return True


def check_cn(name: bytes, host: bytes) -> bool:
    """``x509_crt_check_cn``: exact (case-insensitive) or ``*.rest`` matching exactly one
    leading label of a host that has a dot."""
    if len(name) == len(host) and _memcasecmp(host, name):
        return True
    if len(name) < 3 or name[:2] != b"*.":
        return False
    dot = host.find(b".")
    if dot <= 0:
        return False
    rest = host[dot:]
    return len(rest) == len(name) - 1 and _memcasecmp(name[1:], rest)


def _ip_bytes(host: str) -> bytes | None:
    try:
        return ipaddress.ip_address(host).packed
    except ValueError:
        return None


@functools.lru_cache(maxsize=4096)
def _general_names(der: bytes) -> tuple[tuple[int, bytes], ...] | None:
    """(tag number, value) of each SAN entry, or None when there is no SAN extension."""
    value = _extension_value(der, _SAN_OID)
    if value is None:
        return None
    out = []
    try:
        _tag, pos, end = read_tlv(value, 0)
        while pos < end:
            tag, start, stop = read_tlv(value, pos)
            out.append((tag & 0x1F, value[start:stop]))
            pos = stop
    except ValueError:
        return ()
    return tuple(out)


def hostname_matches(cert: object, hostname: str, mbedtls: str = "2.28") -> bool:
    """``x509_crt_verify_name``: with a subjectAltName, only its entries count (2.28:
    dNSName; 3.6 also iPAddress and URI, after every dNSName); without one, every CN of
    the subject."""
    assert isinstance(cert, Certificate)
    host = hostname.encode("utf-8", "surrogateescape")
    sans = _general_names(cert.der)
    if sans is not None:
        if any(kind == 2 and check_cn(v, host) for kind, v in sans):
            return True
        if mbedtls == "3.6":
            ip = _ip_bytes(hostname)
            if ip is not None and any(kind == 7 and v == ip for kind, v in sans):
                return True
            if any(kind == 6 and v == host for kind, v in sans):
                return True
        return False
    return any(
        oid == CN_OID and check_cn(value, host)
        for oid, _t, value, _m in name_attrs(cert.subject_der)
    )


@dataclass(frozen=True, slots=True)
class HeldNames:
    """What a certificate names itself: subjectAltName entries by kind (``has_san``:
    whether it has the extension at all) and the subject's CNs."""

    has_san: bool
    dns: tuple[str, ...]
    ips: tuple[str, ...]
    uris: tuple[str, ...]
    cns: tuple[str, ...]


def held_names(cert: object) -> HeldNames:
    """Every name ``cert`` holds, whether or not a given mbedTLS line reads it: for saying
    why a name matched or did not (an IP address in the subjectAltName, which 2.28 never
    compares; a CN, which a subjectAltName hides)."""
    assert isinstance(cert, Certificate)
    sans = _general_names(cert.der)
    entries = sans or ()

    def ip_text(v: bytes) -> str:
        try:
            return str(ipaddress.ip_address(v))
        except ValueError:
            return v.hex()

    return HeldNames(
        has_san=sans is not None,
        dns=tuple(v.decode("ascii", "replace") for kind, v in entries if kind == 2),
        ips=tuple(ip_text(v) for kind, v in entries if kind == 7),
        uris=tuple(v.decode("ascii", "replace") for kind, v in entries if kind == 6),
        cns=tuple(
            value.decode("utf-8", "replace")
            for oid, _t, value, _m in name_attrs(cert.subject_der)
            if oid == CN_OID
        ),
    )
