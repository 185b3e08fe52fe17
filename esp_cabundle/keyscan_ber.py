"""Walking BER elements for the key scan (:mod:`.keyscan`), each call in bounded work:
a candidate at every offset of hostile input must cost a fixed number of steps."""

from __future__ import annotations

__all__ = ["INDEFINITE", "WALK", "end", "enter", "next_tag", "oid_at", "tlv"]

# Indefinite-length BER (X.690 8.1.3.6): a constructed element with length octet 0x80
# ends with the end-of-contents octets 00 00. Writers of it: NSS's pk12util (Firefox's
# certificate export) and Bouncy Castle's default "PKCS12" key store (PKCS12KeyStoreSpi
# stores BER unless asked for DER, "PKCS12-DEF"), for the whole PFX; OpenSSL's -stream
# (cms, smime, pkcs7), for CMS ContentInfos. OpenSSL, the JDK's keytool and Python
# cryptography write PKCS#12 and PKCS#8 in DER, but OpenSSL's d2i reads every key
# format in BER too (tests/data/private-keys/README.md).
INDEFINITE = -1
WALK = 16  # elements one walk to the end of an indefinite-length element may visit


def tlv(buf: bytes, pos: int) -> tuple[int, int, int] | None:
    """(tag, content start, content length) of the element at ``pos``, or None; the
    length is INDEFINITE for a constructed element of indefinite length."""
    if pos + 2 > len(buf):
        return None
    tag, first = buf[pos], buf[pos + 1]
    if first < 0x80:
        return tag, pos + 2, first
    n = first & 0x7F
    if n == 0:
        return (tag, pos + 2, INDEFINITE) if tag & 0x20 else None
    if n > 3 or pos + 2 + n > len(buf):
        return None
    return tag, pos + 2 + n, int.from_bytes(buf[pos + 2 : pos + 2 + n], "big")


def end(buf: bytes, pos: int) -> int | None:
    """Where the element at ``pos`` ends, or None: malformed, past the end of ``buf``, or
    an indefinite length whose end-of-contents is more than WALK elements away (the
    walk is bounded, so every candidate costs bounded work). tlv inlined: hostile input
    makes this the scan's inner loop."""
    size, depth = len(buf), 0  # depth: indefinite-length elements open
    for _ in range(WALK):
        if pos + 2 > size:
            return None
        tag, first = buf[pos], buf[pos + 1]
        if first < 0x80:
            if tag == 0 and first == 0 and depth:  # end-of-contents
                depth -= 1
            pos += 2 + first
        elif first == 0x80:
            if not tag & 0x20:
                return None
            depth, pos = depth + 1, pos + 2
        else:
            n = first & 0x7F
            if n > 3:
                return None
            pos += 2 + n + int.from_bytes(buf[pos + 2 : pos + 2 + n], "big")
        if pos > size:
            return None
        if not depth:
            return pos
    return None


def next_tag(buf: bytes, pos: int) -> int | None:
    """The tag of the element after the one at ``pos``, or None if it cannot be found."""
    after = end(buf, pos)
    nxt = tlv(buf, after) if after is not None else None
    return nxt[0] if nxt is not None else None


def oid_at(buf: bytes, pos: int, prefixes: tuple[bytes, ...]) -> bool:
    el = tlv(buf, pos)
    if el is None or el[0] != 0x06:
        return False
    oid = buf[el[1] : el[1] + el[2]]
    return any(oid.startswith(p) for p in prefixes)


def enter(buf: bytes, pos: int | None, tag: int) -> int | None:
    """The content start of the element at ``pos`` if it has ``tag``, else None."""
    el = tlv(buf, pos) if pos is not None else None
    return el[1] if el is not None and el[0] == tag else None
