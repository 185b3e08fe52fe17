"""Certificates in C source: PEM text in string literals (mDash-style one literal per
PEM line, or one literal with ``\\n`` escapes) and DER or PEM text in byte arrays
(``{0x30, 0x82, ...}``).

The C is read as a compiler reads it (:mod:`.c_literals`), and the bytes it compiles to
are scanned for private keys before any certificate is read: ``"\\x30\\x82..."`` or
``{0x30, 0x80, ...}`` may spell a key the source text hides. Imported by
:func:`.certs.load_certificates` only when the input sniffs as C.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

from .c_literals import BrokenArray, position_in_list, scan_c, strings_to_text
from .errors import CertificateError
from .keyscan import refuse_private_keys

if TYPE_CHECKING:
    from .certs import Certificate

# certs' readers, passed in (certs imports this module): PEM text with its line map, and
# concatenated DER with the line of the array holding it.
PemReader = Callable[[str, str, "list[int] | None"], Iterator["Certificate"]]
DerReader = Callable[[bytes, str, "int | None"], Iterator["Certificate"]]

__all__ = ["load_c_source"]


def load_c_source(
    text: str, data: bytes, kind: str, source: str, *, pem: PemReader, der: DerReader
) -> list[Certificate]:
    """Every certificate in C source ``text`` (decoded from ``data``), ``kind`` being
    what :func:`.sniff.sniff_kind` said ("c-strings" or "c-array"); possibly none."""
    if kind == "c-array":
        return _load_c_arrays(text, source, pem, der, require=True)
    scan = scan_c(text)
    pem_text, line_map = strings_to_text(scan)
    # The bytes the literals compile to ("\x30\x82..." spells a DER key in escapes).
    compiled = pem_text.encode("latin-1", errors="replace")
    if compiled != data:
        refuse_private_keys(compiled, source=f"{source} (its string literals, compiled)")
    try:
        certs = list(pem(pem_text, source, line_map))
    except CertificateError as e:
        if not scan.unknown_escapes:
            raise
        line, ch = scan.unknown_escapes[0]
        raise CertificateError(
            f"{e.reason}; line {line} has '\\{ch}', an escape C does not define (a "
            f"compiler warns and keeps '{ch}')",
            path=source,
            line=e.line,
            hint="write the literal as the PEM line it stands for",
        ) from e
    # Arrays may sit beside strings in the same file.
    certs += _load_c_arrays(text, source, pem, der, require=False)
    if not certs and scan.disabled_literals:
        raise CertificateError(
            "no certificate found: its PEM text is in string literals inside '#if 0' "
            f"blocks ({scan.disabled_literals} literals), which the firmware is not "
            "built with",
            path=source,
        )
    return certs


def _load_c_arrays(
    text: str, source: str, pem: PemReader, der: DerReader, *, require: bool
) -> list[Certificate]:
    scan = scan_c(text)
    if scan.bad_arrays:
        line, why = scan.bad_arrays[0]
        raise CertificateError(
            f"byte array holds a value out of range: {why}; the whole file is refused, so "
            "that a typo does not drop a root from the bundle unseen",
            path=source,
            line=line,
            hint=_BYTE_HINT,
        )
    for array in scan.arrays:
        # The bytes each array compiles to ({0x30, 0x80, ...} spells a BER key in hex):
        # every key shape the scanner knows, anywhere in the array, before any is read.
        where = f"{source}:{array.line} (its byte array, compiled)"
        refuse_private_keys(array.data, source=where)
    certs: list[Certificate] = []
    for array in scan.arrays:
        data = array.data.rstrip(b"\0")
        if data[:1] == b"\x30":
            certs.extend(der(array.data, source, array.line))
        elif b"-----BEGIN" in data:
            # PEM text spelled out as bytes ({0x2d, 0x2d, ..., '\\0'}): errors point at the array.
            pem_text = data.decode("utf-8", errors="replace")
            line_map = [array.line] * (len(pem_text.splitlines()) + 1)
            certs.extend(pem(pem_text, source, line_map))
    if require and not certs and scan.broken_arrays:
        # the list that read as bytes longest: a certificate's array with a typo in it
        b = max(scan.broken_arrays, key=lambda b: b.items)
        raise CertificateError(
            f"no certificate found in the C byte arrays: {b.what}, {_where(b)} of a brace "
            "list that reads as a byte array around it",
            path=source,
            line=b.line,
            hint=_BYTE_HINT,
        )
    _refuse_broken_certificate(scan.broken_arrays, source)
    if require and not certs:
        raise CertificateError("no certificate found in the C byte arrays", path=source)
    return certs


_BYTE_HINT = (
    "a byte is written 0x00-0xFF, in decimal, in octal (060) or as a character ('A'), "
    "items separated by commas"
)


def _refuse_broken_certificate(broken: tuple[BrokenArray, ...], source: str) -> None:
    """Refuse the file when a brace list that opens as a certificate stops reading as
    bytes: skipped, it would drop that root from what the units trust without a word
    while the other arrays' certificates are taken (a corrupt PEM block refuses its
    file too). Brace lists that open as no certificate ({0, NULL}) are left alone."""
    for b in broken:
        opens = b.opens_as_certificate()
        if opens is None:
            continue
        raise CertificateError(
            f"a byte array that opens as a certificate's {opens} stops reading as bytes: "
            f"{b.what}, {_where(b)}; the whole file is refused, so that a typo does not drop "
            "a root from the bundle unseen",
            path=source,
            line=b.line,
            hint=_BYTE_HINT,
        )


def _where(b: BrokenArray) -> str:
    return position_in_list(b.items)
