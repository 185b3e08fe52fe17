"""Private-key material in any encoding, found in one linear pass over the input.

A CA file goes to every device of a fleet, so a key in it is a key published. Keys turn
up in CA files in more shapes than ``-----BEGIN PRIVATE KEY-----``: a header in lower
case, with four dashes, two spaces, a NUL or a non-breaking space in the label; the body
of a key with its header lines cut off; a DER key appended after DER certificates; UTF-16
text; PuTTY ``.ppk`` and JWK files. :func:`find_private_key` looks for all of them:

- a header naming a private key (``private`` and ``key`` separated by at most eight
  non-alphanumeric bytes) on a line that also has ``begin`` or a run of dashes;
- DER structures of private keys wherever they start: PKCS#1 RSA and DSA
  (``SEQUENCE { INTEGER 0|1, INTEGER of 64+ bytes, ...}``), PKCS#8 (``INTEGER 0|1,
  AlgorithmIdentifier, OCTET STRING``), SEC1 EC (``INTEGER 1, OCTET STRING``), encrypted
  PKCS#8 (PKCS#5/PKCS#12 PBE algorithms) and PKCS#12 stores (RFC 8017 A.1.2, RFC 5958,
  RFC 5915, RFC 5208 6, RFC 7292 4);
- the same structures, and OpenSSH's ``openssh-key-v1`` magic, at the start of every run
  of base64 (headerless PEM bodies, C string literals);
- PuTTY's ``PuTTY-User-Key-File-N:`` / ``Private-Lines:`` and a JWK ``"d"`` member;
- all of the above again with NUL bytes removed, which turns UTF-16 and UTF-32 text
  holding ASCII into ASCII.

Each pattern is a regular expression without nested repetition and each candidate is
checked in bounded work, so the scan is linear in the input. A finding carries where it
is (offset, line) and what kind of key it is, never the key's bytes.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from dataclasses import dataclass

from .errors import PrivateKeyError

__all__ = ["KeyFinding", "find_private_key", "refuse_private_keys"]


@dataclass(frozen=True, slots=True)
class KeyFinding:
    """Where key material was found: ``offset`` into the scanned bytes, 1-based ``line``,
    and ``encoding`` ("" for the bytes as given, "UTF-16" for text read with NULs removed)."""

    kind: str
    offset: int
    line: int
    encoding: str = ""

    def where(self) -> str:
        text = f"line {self.line}" if self.line else f"byte offset {self.offset}"
        if self.encoding:
            text += f" of its {self.encoding} text"
        elif self.line:
            text += f" (byte offset {self.offset})"
        return text


# A header label: "private" and "key" with up to 8 separator bytes (spaces, dashes, NUL,
# the two bytes of a UTF-8 NBSP) between them, any case.
# These three run over the bytes lower-cased once (ASCII only, as IGNORECASE on bytes
# is, and the same length, so offsets hold): IGNORECASE makes re up to 8x slower.
_HEADER = re.compile(rb"private[^a-z0-9\n]{0,8}key")
_HEADER_CONTEXT = re.compile(rb"-{3,}|begin")
_CONTEXT_SPAN = 96
# PuTTY .ppk lines, and the RFC 1421 headers of an encrypted traditional OpenSSL key.
_KEY_LINES = re.compile(
    rb"putty-user-key-file-\d{1,3}[ \t]{0,8}:|private-lines[ \t]{0,8}:"
    # OpenSSL's text dump: "Private-Key: (256 bit)", "ED25519 Private-Key:" then "priv:"
    rb"|private-key:[ \t]{0,8}(?:\(\d|\r?\n[ \t]{0,8}priv:)"
    rb"|proc-type:[ \t]{0,8}4,[ \t]{0,8}encrypted|dek-info[ \t]{0,8}:"
)
# Every _KEY_LINES alternative holds one of these: a byte search rules most inputs out
# far faster than the alternation (which has no literal prefix for re to look for).
_KEY_LINE_WORDS = (
    b"putty-user-key-file-",
    b"private-lines",
    b"private-key:",
    b"proc-type:",
    b"dek-info",
)
# JWK private members are base64url; a "d" with a long value is a private exponent/scalar.
_JWK = re.compile(rb'"d"[ \t\r\n]{0,8}:[ \t\r\n]{0,8}"[A-Za-z0-9_-]{16}')
_OPENSSH_MAGIC = b"openssh-key-v1\x00"
# Every position where a DER SEQUENCE opens with an INTEGER or a SEQUENCE (zero-width, so
# no candidate hides another).
_DER_START = re.compile(
    rb"(?=\x30(?:[\x00-\x7f]|\x81[\x00-\xff]|\x82[\x00-\xff]{2}|\x83[\x00-\xff]{3})[\x02\x30])",
    re.DOTALL,
)
_B64_RUN = re.compile(rb"[A-Za-z0-9+/]{16,}")
_B64_GAP = 8  # bytes between two pieces of one base64 body: a line end, C quotes, "\n"
_B64_PREFIX = 256  # base64 characters decoded per run: enough for any key's header

_PKCS5 = bytes.fromhex("2a864886f70d0105")  # 1.2.840.113549.1.5 (PBES1/PBES2)
_PKCS12_PBE = bytes.fromhex("2a864886f70d010c01")  # 1.2.840.113549.1.12.1
_PKCS7_DATA = bytes.fromhex("2a864886f70d0107")  # 1.2.840.113549.1.7 (PFX authSafe)


def _tlv(buf: bytes, pos: int) -> tuple[int, int, int] | None:
    """(tag, content start, content length) of the element at ``pos``, or None."""
    if pos + 2 > len(buf):
        return None
    tag, first = buf[pos], buf[pos + 1]
    if first < 0x80:
        return tag, pos + 2, first
    n = first & 0x7F
    if n == 0 or n > 3 or pos + 2 + n > len(buf):
        return None
    return tag, pos + 2 + n, int.from_bytes(buf[pos + 2 : pos + 2 + n], "big")


def _oid_at(buf: bytes, pos: int, prefixes: tuple[bytes, ...]) -> bool:
    el = _tlv(buf, pos)
    if el is None or el[0] != 0x06:
        return False
    oid = buf[el[1] : el[1] + el[2]]
    return any(oid.startswith(p) for p in prefixes)


def der_key_kind(buf: bytes, pos: int = 0, *, truncated: bool = False) -> str | None:
    """The kind of private key whose DER starts at ``pos``, or None.

    ``truncated``: ``buf`` may stop inside the key (the first bytes of a base64 body);
    its declared length is then not required to fit.
    """
    outer = _tlv(buf, pos)
    if outer is None or outer[0] != 0x30:
        return None
    start, end = outer[1], outer[1] + outer[2]
    if end > len(buf) and not truncated:
        return None
    first = _tlv(buf, start)
    if first is None or first[1] + first[2] > end:
        return None
    tag, c, n = first
    if tag == 0x30:  # EncryptedPrivateKeyInfo: { AlgorithmIdentifier { PBE OID }, OCTET STRING }
        if _oid_at(buf, c, (_PKCS5, _PKCS12_PBE)):
            nxt = _tlv(buf, c + n)
            if nxt is None or nxt[0] == 0x04:
                return "encrypted PKCS#8"
        return None
    if tag != 0x02 or n != 1 or c >= len(buf) or buf[c] > 3:
        return None
    version = buf[c]
    second = _tlv(buf, c + 1)
    if second is None or c + 1 >= end:
        return None
    tag2, c2, n2 = second
    if tag2 == 0x02 and version <= 1 and n2 >= 64:
        return "PKCS#1 RSA or DSA"
    if tag2 == 0x04 and version == 1 and 16 <= n2 <= 72:
        return "SEC1 EC"
    if tag2 == 0x30:
        if version <= 1 and _tlv(buf, c2) is not None and buf[c2] == 0x06:
            # The OCTET STRING after the AlgorithmIdentifier; a v1 certificate's TBS with a
            # small serial has its issuer Name there. DSA/DH parameters may push it past
            # the decoded prefix of a base64 body.
            third = _tlv(buf, c2 + n2)
            if (third is not None and third[0] == 0x04) or (truncated and c2 + n2 >= len(buf)):
                return "PKCS#8"
        if version == 3 and _oid_at(buf, c2, (_PKCS7_DATA,)):
            return "PKCS#12 key store"
    return None


def _line_of(data: bytes, offset: int) -> int:
    return data.count(b"\n", 0, offset) + 1


def _cannot_open_key(head: bytes) -> bool:
    """True when base64 that opens with ``head`` (16 characters) can be neither a key's
    DER, by the tags :func:`der_key_kind` requires, nor OpenSSH's magic. False means
    "look closer", never "a key"."""
    raw = base64.b64decode(head)  # 16 characters of a run: valid, 12 bytes
    if raw[0] != 0x30:
        return not _OPENSSH_MAGIC.startswith(raw)
    outer = _tlv(raw, 0)
    first = _tlv(raw, outer[1]) if outer is not None else None
    if first is None:
        return False
    tag, content = first[0], first[1]
    if tag == 0x30:  # only an encrypted PKCS#8 key: its AlgorithmIdentifier opens with an OID
        return content < len(raw) and raw[content] != 0x06
    return tag != 0x02


def _scan_text(data: bytes) -> tuple[str, int] | None:
    low = data.lower()
    for m in _HEADER.finditer(low):
        # The rest of its line, at most _CONTEXT_SPAN bytes each side (linear overall).
        nl = data.rfind(b"\n", max(0, m.start() - _CONTEXT_SPAN), m.start())
        lo = nl + 1 if nl >= 0 else max(0, m.start() - _CONTEXT_SPAN)
        hi = data.find(b"\n", m.end(), m.end() + _CONTEXT_SPAN)
        hi = min(len(data), m.end() + _CONTEXT_SPAN) if hi < 0 else hi
        if _HEADER_CONTEXT.search(low, lo, hi):
            return "PEM private-key header", m.start()
    line = _KEY_LINES.search(low) if any(w in low for w in _KEY_LINE_WORDS) else None
    if line:
        word = line.group(0)
        if word.startswith(b"private-key"):
            return "OpenSSL key text dump", line.start()
        putty = word.startswith((b"putty", b"private-lines"))
        return ("PuTTY .ppk key" if putty else "encrypted-PEM key headers"), line.start()
    jwk = _JWK.search(data)
    if jwk:
        return 'JWK "d" member', jwk.start()
    runs = list(_B64_RUN.finditer(data))
    for i, run in enumerate(runs):
        if data[run.start()] not in b"Mb":  # DER SEQUENCE encodes as "M", OpenSSH as "b3Bl"
            continue
        if _cannot_open_key(data[run.start() : run.start() + 16]):
            continue  # every certificate's first line: decided from 12 bytes, not 192
        pieces = [data[run.start() : min(run.end(), run.start() + _B64_PREFIX)]]
        size, last = len(pieces[0]), run.end()
        j = i + 1
        while j < len(runs) and size < _B64_PREFIX and runs[j].start() - last <= _B64_GAP:
            nxt = runs[j]
            pieces.append(data[nxt.start() : min(nxt.end(), nxt.start() + _B64_PREFIX - size)])
            size, last, j = size + len(pieces[-1]), nxt.end(), j + 1
        text = b"".join(pieces)[:_B64_PREFIX]
        try:
            raw = base64.b64decode(text[: len(text) // 4 * 4])
        except (binascii.Error, ValueError):
            continue
        if raw.startswith(_OPENSSH_MAGIC):
            return "base64 OpenSSH key", run.start()
        kind = der_key_kind(raw, truncated=True)
        if kind is not None:
            return f"base64 {kind}", run.start()
    return None


def _scan_der(data: bytes) -> tuple[str, int] | None:
    # der_key_kind finds a key only where an INTEGER (0x02) or an OID (0x06) follows the
    # outer SEQUENCE: bytes holding neither (any text file) hold no DER key, and the
    # candidate search, which stops at every "0" of base64 text, can be skipped.
    if b"\x02" in data or b"\x06" in data:
        for m in _DER_START.finditer(data):
            kind = der_key_kind(data, m.start())
            if kind is not None:
                return f"DER {kind}", m.start()
    pos = data.find(_OPENSSH_MAGIC)
    if pos >= 0:
        return "OpenSSH key", pos
    return None


def find_private_key(data: bytes) -> KeyFinding | None:
    """The first private key in ``data`` in any encoding this module knows, or None."""
    found = _scan_text(data)
    if found is not None:
        return KeyFinding(found[0], found[1], _line_of(data, found[1]))
    found = _scan_der(data)
    if found is not None:
        return KeyFinding(found[0], found[1], 0)
    if b"\x00" in data:
        text = data.replace(b"\x00", b"")
        found = _scan_text(text)
        if found is not None:
            return KeyFinding(found[0], found[1], _line_of(text, found[1]), "UTF-16")
    return None


# SHA-256 digests of inputs found to hold no key; bounded for long-lived processes.
_CLEAN: set[bytes] = set()
_CLEAN_MAX = 64


def refuse_private_keys(data: bytes, *, source: str) -> None:
    """Raise :class:`PrivateKeyError` naming ``source`` and where, if ``data`` holds a key.

    The message never quotes the key (nor its header line).
    """
    # A command meets the same bytes more than once (the gate refuses keys before it
    # tells a finished file from an ESP-IDF bundle, then the loader does): bytes found
    # clean are remembered by digest, which costs a tenth of a scan.
    digest = hashlib.sha256(data).digest()
    if digest in _CLEAN:
        return
    found = find_private_key(data)
    if found is None:
        if len(_CLEAN) >= _CLEAN_MAX:
            _CLEAN.clear()
        _CLEAN.add(digest)
        return
    # A line in the bytes as given also makes the error's file:line prefix.
    line = found.line if found.line and not found.encoding else None
    raise PrivateKeyError(
        f"private key material ({found.kind}) at {found.where()}; refusing the whole input",
        path=source,
        line=line,
        hint="a CA file must hold only public certificates: remove the key (and treat it as "
        "exposed if this file was ever shared)",
    )
