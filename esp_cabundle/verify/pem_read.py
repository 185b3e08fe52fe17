"""A PEM CA file as mbedTLS 2.28 reads it (``mbedtls_x509_crt_parse_file``).

The tool's own reader is lenient: it finds every block by its armour and accepts any
white space around base64 lines, so a file is read whatever editor touched it. The
device is not. ``mbedtls_x509_crt_parse`` (library/x509_crt.c) loops
``mbedtls_pem_read_buffer`` (pem.c) over the NUL-terminated file:

- a block is found with ``strstr`` for ``-----BEGIN CERTIFICATE-----`` and the first
  ``-----END CERTIFICATE-----`` after the current position; an END before the BEGIN
  (a comment quoting it), a missing END, or a BEGIN not followed by a line end (one
  space and a CR may come first) ends the loop: nothing after it is loaded;
- ``TRUSTED CERTIFICATE`` or ``X509 CERTIFICATE`` blocks are never seen; a file with no
  CERTIFICATE armour at all is parsed as DER, and fails;
- base64 (base64.c) allows spaces only right before a line end; a tab, a space inside a
  line, a leading space or a lone CR refuses the block (-0x112C), as does an empty one
  (-0x1100); the loop goes on with the next block;
- a block whose DER does not parse is skipped too; the call returns how many blocks
  failed when one certificate was loaded, else the first error.

Sources: Mbed-TLS/mbedtls v2.28.9 library/x509_crt.c (mbedtls_x509_crt_parse),
library/pem.c (mbedtls_pem_read_buffer), library/base64.c (mbedtls_base64_decode).
Checked against Debian's libmbedtls-dev 2.28 by tests/test_pem_read.py.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Sequence
from dataclasses import dataclass

from ..certs import Certificate
from ..sniff import sniff_kind
from .parse import parse_refusal

__all__ = [
    "DeviceBlock",
    "DeviceRead",
    "DeviceView",
    "device_view",
    "parse_file_result",
    "read_as_mbedtls",
]

_BEGIN = b"-----BEGIN CERTIFICATE-----"
_END = b"-----END CERTIFICATE-----"
ERR_PEM_INVALID_DATA = -0x1100
ERR_PEM_BAD_BASE64 = -0x1100 - 0x002C  # INVALID_DATA + BASE64_INVALID_CHARACTER
ERR_PEM_PASSWORD_REQUIRED = -0x1300
ERR_X509_UNKNOWN_FORMAT = -0x2780
# RFC 1421's header of an encrypted block (written in two pieces: the key scanner, run
# over the package's own files, takes the whole line for a key's header).
_ENCRYPTED = b"Proc-Type: 4," + b"ENCRYPTED"
_BASE64_BODY = re.compile(rb"[A-Za-z0-9+/]*={0,2}")
_B64 = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")


@dataclass(frozen=True, slots=True)
class DeviceBlock:
    """One CERTIFICATE block mbedTLS reached: its DER, or the PEM error that refused it."""

    offset: int  # of its BEGIN armour
    der: bytes | None
    error: int | None = None


@dataclass(frozen=True, slots=True)
class DeviceRead:
    """What the loop reached, in file order, and where (and why) it stopped early."""

    blocks: tuple[DeviceBlock, ...]
    stop_offset: int | None = None  # the BEGIN it never read past, or None
    stop_reason: str = ""
    pem: bool = True  # False: no CERTIFICATE armour, the file is parsed as DER

    @property
    def ders(self) -> tuple[bytes, ...]:
        return tuple(b.der for b in self.blocks if b.der is not None)

    @property
    def pem_failures(self) -> tuple[DeviceBlock, ...]:
        return tuple(b for b in self.blocks if b.der is None)


def read_as_mbedtls(data: bytes) -> DeviceRead:
    """The blocks ``mbedtls_x509_crt_parse_file`` reaches in ``data`` (the file's bytes)."""
    text = data.split(b"\0", 1)[0]  # the file is read as a C string: strstr stops at NUL
    if _BEGIN not in text:
        return DeviceRead((), pem=False)
    blocks: list[DeviceBlock] = []
    pos = 0
    while pos < len(text):
        s1 = text.find(_BEGIN, pos)
        if s1 < 0:
            break
        s2 = text.find(_END, pos)
        if s2 < 0 or s2 <= s1:
            why = "no END armour follows it" if s2 < 0 else "an END armour stands before it"
            return DeviceRead(tuple(blocks), s1, why)
        p = s1 + len(_BEGIN)
        p += text[p : p + 1] == b" "
        p += text[p : p + 1] == b"\r"
        if text[p : p + 1] != b"\n":
            return DeviceRead(tuple(blocks), s1, "its BEGIN armour is not followed by a line end")
        p += 1
        end = s2 + len(_END)
        for ch in (b" ", b"\r", b"\n"):
            end += text[end : end + 1] == ch
        pos = end
        body = text[p:s2]
        if body.startswith(_ENCRYPTED):
            blocks.append(DeviceBlock(s1, None, ERR_PEM_PASSWORD_REQUIRED))
            continue
        der = _decode(body)
        if isinstance(der, int):
            blocks.append(DeviceBlock(s1, None, der))
        else:
            blocks.append(DeviceBlock(s1, der))
    return DeviceRead(tuple(blocks))


def _decode(body: bytes) -> bytes | int:
    """``mbedtls_base64_decode`` of a block's body: its bytes, or the PEM error code."""
    if not body:
        return ERR_PEM_INVALID_DATA
    if b" " not in body:
        # Without spaces the rules come down to: line ends are LF or CRLF, and the rest
        # is base64 with at most two '=' at the end (what the loop below checks byte by
        # byte, as mbedTLS does, for bodies that hold spaces).
        joined = body.replace(b"\r\n", b"").replace(b"\n", b"")
        if _BASE64_BODY.fullmatch(joined) is None:
            return ERR_PEM_BAD_BASE64
        return _bytes_of(joined)
    digits = bytearray()
    equals = 0
    i, n = 0, len(body)
    while i < n:
        spaces = False
        while i < n and body[i] == 0x20:
            i += 1
            spaces = True
        if i == n:
            break
        c = body[i]
        if c == 0x0D and i + 1 < n and body[i + 1] == 0x0A:
            i += 1
            continue
        if c == 0x0A:
            i += 1
            continue
        if spaces:
            return ERR_PEM_BAD_BASE64  # a space inside a line (or before its first digit)
        if c == 0x3D:  # '='
            equals += 1
            if equals > 2:
                return ERR_PEM_BAD_BASE64
        elif equals or c not in _B64:
            return ERR_PEM_BAD_BASE64
        digits.append(c)
        i += 1
    return _bytes_of(bytes(digits))


def _bytes_of(digits: bytes) -> bytes | int:
    """Base64 digits (checked) as bytes. A last group of one digit carries no whole byte:
    mbedTLS drops it (Debian's 2.28 keeps such a certificate), and so is it dropped here."""
    if len(digits) % 4 == 1:
        digits = digits[:-1]
    if not digits:
        return b""
    try:
        return base64.b64decode(digits + b"=" * (-len(digits) % 4))
    except (binascii.Error, ValueError):
        return ERR_PEM_BAD_BASE64


def parse_file_result(data: bytes) -> tuple[int, int]:
    """(what ``mbedtls_x509_crt_parse_file`` returns, certificates it keeps) for a file
    holding ``data``: the number of failed blocks when one was kept, else the first
    error (or -0x2780 when no block was reached at all)."""
    read = read_as_mbedtls(data)
    if not read.pem:
        refusal = parse_refusal(data + b"\0")  # parse_file passes the NUL it appends
        return (refusal.code if refusal is not None else 0), (0 if refusal else 1)
    kept, failed, first = 0, 0, 0
    for block in read.blocks:
        code = block.error
        if block.der is not None:
            refusal = parse_refusal(block.der)
            code = refusal.code if refusal is not None else None
        if code is None:
            kept += 1
        else:
            failed += 1
            first = first or code
    if kept:
        return failed, kept
    return (first or ERR_X509_UNKNOWN_FORMAT), 0


@dataclass(frozen=True, slots=True)
class DeviceView:
    """Where the device's reading of a CA file differs from the file's certificates:
    the DER it loads (in order), the blocks refused before any DER parse, and notes."""

    loaded: tuple[bytes, ...]
    failures: int
    notes: tuple[str, ...]
    unread: frozenset[str]  # SHA-256 of the file's certificates it never loads


def device_view(data: bytes, certs: Sequence[Certificate], *, source: str) -> DeviceView | None:
    """None when mbedTLS loads exactly ``certs`` (the file as the tool read it) from
    ``data``, else what it loads instead and why. Only PEM text is judged here: DER and
    C source reach mbedTLS as the tool reads them."""
    if sniff_kind(data) != "pem":
        return None
    read = read_as_mbedtls(data)
    if read.pem and read.ders == tuple(c.der for c in certs) and not read.pem_failures:
        return None
    text = data.split(b"\0", 1)[0]

    def line(offset: int) -> int:
        return text.count(b"\n", 0, offset) + 1

    notes = [
        f"{source} line {line(b.offset)}: mbedTLS cannot decode this "
        f"certificate block (-0x{-(b.error or 0):04X}: base64 with a tab, a space inside or "
        "before a line, or another character it does not take) and skips it"
        for b in read.pem_failures
    ]
    failures = len(read.pem_failures)
    if not read.pem:
        notes.append(
            f"{source}: mbedTLS finds no '-----BEGIN CERTIFICATE-----' in its bytes as stored "
            "(UTF-16 text, or a NUL before it) and parses the file as DER: it loads no root"
        )
        failures += 1
    if read.stop_offset is not None:
        notes.append(
            f"{source} line {line(read.stop_offset)}: mbedTLS stops "
            f"reading the file at this BEGIN ({read.stop_reason})"
        )
    loaded = set(read.ders)
    unread = [c for c in certs if c.der not in loaded]
    if unread:
        notes.append(
            "not loaded by the unit's mbedTLS, though the file holds them: "
            + ", ".join(c.label for c in unread)
            + " (write the file again with 'esp-cabundle build')"
        )
    return DeviceView(read.ders, failures, tuple(notes), frozenset(c.sha256 for c in unread))
