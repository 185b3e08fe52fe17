"""Private keys spelt as decimal bytes, for :mod:`.keyscan`.

Firmware sources hold keys as decimal byte lists as often as hex ones: a C array
``{48, 130, 4, 164, 2, 1, 0, ...}``, a Python or JavaScript list ``[48, 130, ...]``, a
Java ``byte[]`` (signed: ``48, -126, 4, -92, ...``), ``od -An -tu1`` or ``od -td1``
output (with or without offsets). :func:`find_decimal` decodes each run of such numbers
that opens like a DER or BER SEQUENCE (see _DEC_RUN) and gives its bytes to the caller's
DER scan (keyscan's ``_scan_der``), which tells a key from a certificate as it does for
hex: a certificate, a list of ports or a table of numbers is no key to it.
"""

from __future__ import annotations

import re

from .keyscan_hex import ScanDer

__all__ = ["find_decimal"]

# A byte: 0 to 255 without leading zeros (C reads 010 as octal), or -128 to -1 (signed
# bytes: Java, od -td1); never a piece of a longer number.
_NUM = (
    rb"(?:25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9][0-9]|[0-9]"
    rb"|-(?:12[0-8]|1[01][0-9]|[1-9][0-9]|[1-9]))(?![0-9])"
)
# Between two bytes: blanks, commas, line ends, the "#" or " * " of a comment line, C
# comments of one line, and the offset that opens an od line ("\n0000020 "). Each piece
# opens with a byte that no other piece nor a byte opens with (the offset's "\n" is
# tried before the lone "\n": one step back at most), and each is bounded, so a run is
# matched without backtracking beyond one separator; each run is read once.
_COMMENT = rb"/\*[^*\n]{0,120}\*/|//[^\n]{0,120}\n"
_OFFSET = rb"\n[0-9a-fA-F]{6,16}(?=[ \t])"
_SEP = rb"(?:" + _OFFSET + rb"|[ \t\r\n\x0b\x0c,#*]|" + _COMMENT + rb"){1,48}"
# A DER or BER SEQUENCE opening with an INTEGER or a SEQUENCE, as keyscan's _DER_START:
# 48, a length (0 to 128, 128 being BER's indefinite one; or 129, 130, 131 and that many
# bytes of it; signed: -128, -127, -126, -125), then 2 or 48. Soundness of decoding runs
# from such openings only: a key opens so, and the DER scan finds a key at any offset of
# a run; a run is maximal, so one holding a key's first byte holds it whole, and an
# opening that is no run's start is searched from again (tests/test_keyscan_dec.py).
_LENGTH = (
    rb"(?:12[0-8]|1[01][0-9]|[1-9][0-9]|[0-9]|-128"
    rb"|(?:129|-127)" + _SEP + _NUM + rb"|(?:130|-126)(?:" + _SEP + _NUM + rb"){2}"
    rb"|(?:131|-125)(?:" + _SEP + _NUM + rb"){3})(?![0-9])"
)
# The literal "48" first: re finds it by its fast literal search; the look back keeps it
# a number of its own (not "148", "-48", "0x48", "v1.48").
_CHUNK = 1024  # bytes a match at most: re keeps an entry per repetition of a group
_DEC_RUN = re.compile(
    rb"48(?<![0-9A-Za-z._-]48)" + _SEP + _LENGTH + _SEP + rb"(?:2|48)(?![0-9])"
    rb"(?:" + _SEP + _NUM + rb"){4,%d}" % _CHUNK
)
_DEC_MORE = re.compile(rb"(?:" + _SEP + _NUM + rb"){1,%d}" % _CHUNK)
_COMMENT_RE = re.compile(_COMMENT)
_OFFSET_RE = re.compile(_OFFSET)
_PIECE_RE = re.compile(rb"(?:" + _COMMENT + rb"|" + _OFFSET + rb")|(?P<num>" + _NUM + rb")")
# Every byte but digits and "-" becomes a blank: what is left splits into the numbers.
_TO_BLANKS = bytes(c if c in b"0123456789-" else 0x20 for c in range(256))


def _dec_bytes(run: bytes) -> bytes:
    """The bytes a piece of a run spells (it opens and ends at a separator or a number:
    its comments and offsets are whole)."""
    if b"/" in run:
        run = _COMMENT_RE.sub(b" ", run)
    if b"\n" in run:
        run = _OFFSET_RE.sub(b" ", run)
    values = list(map(int, run.translate(_TO_BLANKS).split()))
    try:
        return bytes(values)
    except ValueError:  # signed bytes
        return bytes(v & 0xFF for v in values)


def find_decimal(data: bytes, scan_der: ScanDer) -> tuple[str, int] | None:
    """A DER or BER key spelt as decimal bytes in ``data``: its kind, and where the
    number of its first byte is."""
    pos = 0  # (no "48 in data" first: re's search for its literal is 3x as fast)
    while (run := _DEC_RUN.search(data, pos)) is not None:
        out = bytearray(_dec_bytes(run.group()))
        pos = run.end()
        while (more := _DEC_MORE.match(data, pos)) is not None:
            out += _dec_bytes(more.group())
            pos = more.end()
        found = scan_der(bytes(out))
        if found is not None:
            return f"{found[0]} spelt as decimal bytes", _number_position(
                data, run.start(), found[1]
            )
    return None


def _number_position(data: bytes, start: int, index: int) -> int:
    """Where the ``index``-th number of the run opening at ``start`` is (an error's
    line only: linear in the run)."""
    for m in _PIECE_RE.finditer(data, start):
        if m.group("num") is not None:
            if not index:
                return m.start()
            index -= 1
    return start
