"""Private keys spelt as decimal or octal bytes, for :mod:`.keyscan`.

Firmware sources hold keys as decimal byte lists as often as hex ones: a C array
``{48, 130, 4, 164, 2, 1, 0, ...}``, a Python or JavaScript list ``[48, 130, ...]``, a
Java ``byte[]`` (signed: ``48, -126, 4, -92, ...``), ``od -An -tu1`` or ``od -td1``
output (with or without offsets); numbers may carry C's integer suffixes (``48U``) and
casts (``(uint8_t)48``, Java's ``(byte)-126``). In octal: a C array of octal constants
(``{060, 0202, 02, ...}``: C reads a leading 0 as octal; ``0060`` too) and ``od -b`` or
``hexdump -b`` output (``060 202 002 ...``). :func:`find_decimal` decodes each run of
such numbers that opens like a DER or BER SEQUENCE (see _DEC_RUN and _OCT_RUN) and gives
its bytes to the caller's DER scan (keyscan's ``_scan_der``), which tells a key from a
certificate as it does for hex: a certificate, a list of ports or a table of numbers is
no key to it. OpenSSH's magic, ``openssh-key-v1\\0`` in decimal or octal, is a key too.
"""

from __future__ import annotations

import re

from ._patterns import lazy_re
from .keyscan_common import MIN_BYTES, ScanDer, nth_position, scan_runs
from .keyscan_hex import C_CAST, C_SUFFIX

__all__ = ["find_c_octal", "find_decimal"]

_SUFFIX = C_SUFFIX.replace(b"ul", b"uUlL")
_CAST = rb"(?i:" + C_CAST + rb")"
# A byte: 0 to 255 without leading zeros (C reads 010 as octal), or -128 to -1 (signed
# bytes: Java, od -td1); never a piece of a longer number; a C suffix may follow.
_BYTE = (
    rb"(?:25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9][0-9]|[0-9]"
    rb"|-(?:12[0-8]|1[01][0-9]|[1-9][0-9]|[1-9]))(?![0-9])"
)
_NUM = _BYTE + _SUFFIX
# An octal byte: C's (a 0, then up to three digits: 0, 02, 060, 0060, 0377) or od -b's
# (three digits: 002, 060, 202, 377); either is its digits read in base 8.
_OCT = rb"(?:0(?:[0-3][0-7]{2}|[0-7]{1,2})?|[1-3][0-7]{2})(?![0-9])" + _SUFFIX
# Between two bytes: blanks, commas, line ends, the "#" or " * " of a comment line, C
# comments of one line, casts, and the offset that opens an od line ("\n0000020 ", in a
# comment line "\n# 0000020 "). Each piece opens with a byte that no other piece nor a
# byte opens with (the offset's "\n" is tried before the lone "\n": one step back at
# most), and each is bounded, so a run is matched without backtracking beyond one
# separator; each run is read once.
_COMMENT = rb"/\*[^*\n]{0,120}\*/|//[^\n]{0,120}\n"
_OFFSET = rb"\n[ \t]{0,8}(?:[#*;][ \t]{0,4})?[0-9a-fA-F]{6,16}(?=[ \t])"
_SEP = rb"(?:" + _OFFSET + rb"|[ \t\r\n\x0b\x0c,#*]|" + _COMMENT + rb"|" + _CAST + rb"){1,48}"


def _more(low: int, high: int, number: bytes = _NUM) -> bytes:
    """``low`` to ``high`` more numbers, each after a separator."""
    return rb"(?:" + _SEP + number + rb"){%d,%d}" % (low, high)


# A DER or BER SEQUENCE opening with an INTEGER or a SEQUENCE, as keyscan's _DER_START:
# 48, a length (0 to 128, 128 being BER's indefinite one; or 129, 130, 131 and that many
# bytes of it; signed: -128, -127, -126, -125), then 2 or 48. Soundness of decoding runs
# from such openings only: a key opens so, and the DER scan finds a key at any offset of
# a run; a run is maximal, so one holding a key's first byte holds it whole, and an
# opening that is no run's start is searched from again (tests/test_keyscan_dec.py).
_LENGTH = b"|".join(
    [
        rb"(?:12[0-8]|1[01][0-9]|[1-9][0-9]|[0-9]|-128)(?![0-9])" + _SUFFIX,
        rb"(?:129|-127)" + _SUFFIX + _more(1, 1),
        rb"(?:130|-126)" + _SUFFIX + _more(2, 2),
        rb"(?:131|-125)" + _SUFFIX + _more(3, 3),
    ]
)
# The literal "48" first: re finds it by its fast literal search; the look back keeps it
# a number of its own (not "148", "-48", "0x48", "v1.48").
_CHUNK = 1024  # bytes a match at most: re keeps an entry per repetition of a group
_DEC_LEAD = rb"48(?<![0-9A-Za-z._-]48)"
_DEC_RUN = lazy_re(
    _DEC_LEAD + _SUFFIX + _SEP + rb"(?:" + _LENGTH + rb")" + _SEP
    + rb"(?:2|48)(?![0-9])" + _SUFFIX + _more(4, _CHUNK)
)  # fmt: skip
_DEC_MORE = lazy_re(_more(1, _CHUNK))
# In octal, the literal "060" (a SEQUENCE's 0x30) and six more bytes, as C hex runs open
# (keyscan_hex): "060" is rare in text, where "48" is not. The look backs keep "060" and
# "0060" numbers of their own (not "1060", "x060", "00060").
_OCT_LEAD = rb"060(?<![1-9A-Za-z._-]060)(?<![0-9A-Za-z._-]0060)(?![0-9])"
_OCT_RUN = lazy_re(_OCT_LEAD + _SUFFIX + _more(MIN_BYTES - 1, _CHUNK, _OCT))
_OCT_MORE = lazy_re(_more(1, _CHUNK, _OCT))
# OpenSSH's key format opens with its magic, no DER: its 15 bytes in a row are a key.
_OPENSSH_MAGIC = b"openssh-key-v1\x00"
# A number that may open the magic (a number of its own, as the runs' look backs keep
# theirs), then as many more as the magic has bytes; each such run is decoded as the
# DER runs are and compared. One repeated group, not the magic spelt out number by
# number: that pattern took re 7 ms to compile on every start-up.
_SSH_DEC_LEAD = rb"111(?<![0-9A-Za-z._-]111)"
_SSH_OCT_LEAD = rb"157(?<![1-9A-Za-z._-]157)(?<![0-9A-Za-z._-]0157)"
_OPENSSH_DEC = lazy_re(_SSH_DEC_LEAD + _SUFFIX + _more(14, 14))
_OPENSSH_OCT = lazy_re(_SSH_OCT_LEAD + _SUFFIX + _more(14, 14, _OCT))
# Every run above opens with its lead, a suffix and a separator's first byte: a search
# for these (each literal first, cheap to compile, matching no PEM) finds where the first
# run can be; the runs' patterns, which took re 4 ms to compile, are compiled only then.
# Four searches, not one of the four as alternatives: re finds a literal at C speed, the
# alternation's first characters (digits) at every digit of base64, 3x as slow.
_SEP_FIRST = rb"[uUlL]{0,3}[\n \t\r\x0b\x0c,#*/(]"
_LEADS = tuple(
    re.compile(lead + _SEP_FIRST) for lead in (_DEC_LEAD, _OCT_LEAD, _SSH_DEC_LEAD, _SSH_OCT_LEAD)
)
_COMMENT_RE = lazy_re(_COMMENT)
_OFFSET_RE = lazy_re(_OFFSET)
_CAST_RE = lazy_re(_CAST)
_PIECES = rb"(?:" + _COMMENT + rb"|" + _OFFSET + rb"|" + _CAST + rb")"
_PIECE_RE = {
    10: lazy_re(_PIECES + rb"|(?P<num>" + _BYTE + rb")"),
    8: lazy_re(_PIECES + rb"|(?<![0-9])(?P<num>" + _OCT + rb")"),
}
# Every byte but digits and "-" becomes a blank: what is left splits into the numbers.
_TO_BLANKS = bytes(c if c in b"0123456789-" else 0x20 for c in range(256))


def _dec_bytes(run: bytes, base: int) -> bytes:
    """The bytes a piece of a run spells (it opens and ends at a separator or a number:
    its comments, casts and offsets are whole)."""
    if b"/" in run:
        run = _COMMENT_RE().sub(b" ", run)
    if b"(" in run:
        run = _CAST_RE().sub(b" ", run)
    if b"\n" in run:
        run = _OFFSET_RE().sub(b" ", run)
    words = run.translate(_TO_BLANKS).split()
    values = list(map(int, words)) if base == 10 else [int(w, 8) for w in words]
    try:
        return bytes(values)
    except ValueError:  # signed bytes
        return bytes(v & 0xFF for v in values)


def find_decimal(data: bytes, scan_der: ScanDer) -> tuple[str, int] | None:
    """A DER or BER key spelt as decimal or octal bytes in ``data``, or OpenSSH's magic:
    its kind, and where the number of its first byte is."""
    leads = [m.start() for m in (lead.search(data) for lead in _LEADS) if m is not None]
    if not leads:
        return None  # no run can open (every PEM bundle): nothing more to compile
    first = min(leads)
    for name, base, spelt in (("decimal", 10, _OPENSSH_DEC()), ("octal", 8, _OPENSSH_OCT())):
        pos = first  # each opening tried, overlapping: "111, 111, 112, ..." holds it at its 2nd
        while (run := spelt.search(data, pos)) is not None:
            if _dec_bytes(run.group(), base) == _OPENSSH_MAGIC:
                return f"OpenSSH key spelt as {name} bytes", run.start()
            pos = run.start() + 1
    return _find_runs(data, first, scan_der, 10) or _find_runs(data, first, scan_der, 8)


def _find_runs(data: bytes, pos: int, scan_der: ScanDer, base: int) -> tuple[str, int] | None:
    run_re, more_re = (_DEC_RUN(), _DEC_MORE()) if base == 10 else (_OCT_RUN(), _OCT_MORE())
    # (no "48 in data" first: re's search for its literal is 3x as fast)
    hit = scan_runs(data, pos, run_re, more_re, lambda run: _dec_bytes(run, base), scan_der)
    if hit is None:
        return None
    found, start = hit
    if base == 8 and data[start - 1 : start] == b"0":
        start -= 1  # "0060": the run's match opens at its "060"
    where = nth_position(_PIECE_RE[base](), data, start, found[1])
    return f"{found[0]} spelt as {'decimal' if base == 10 else 'octal'} bytes", where


# C octal escapes in string literals, "\\060\\202\\004..." (or the shortest, "\\60\\202\\4"):
# a backslash and one to three octal digits (C11 6.4.4.4: as many as there are, three at
# most). A run opens with 0x30 (a SEQUENCE) or 0x6f (OpenSSH's magic), as C hex escapes'
# (keyscan_hex), then six more escapes; between two: nothing, or the quotes and blanks of
# adjacent literals, a macro's line-continuing backslash. The lead is the literal "\\",
# found by re's fast search (PEM holds none). Matched _CHUNK escapes at a time.
_ESC_SEP = rb'(?:[ \t\r\n"]|\\\r?\n){0,48}'
_ESC = rb"\\[0-7]{1,3}"
_ESC_LEAD = rb"\\(?:0?60|157)(?![0-7])"
_ESC_RUN = lazy_re(_ESC_LEAD + rb"(?:" + _ESC_SEP + _ESC + rb"){%d,%d}" % (MIN_BYTES - 1, _CHUNK))
_ESC_MORE = lazy_re(rb"(?:" + _ESC_SEP + _ESC + rb"){1,%d}" % _CHUNK)
_ESC_DIGITS = lazy_re(rb"\\([0-7]{1,3})")
_ESC_LEAD_RE = re.compile(_ESC_LEAD)


def _esc_bytes(run: bytes) -> bytes:
    """The bytes a run of octal escapes spells (one over \\377 is no C: its low byte)."""
    return bytes(int(d, 8) & 0xFF for d in _ESC_DIGITS().findall(run))


def find_c_octal(data: bytes, scan_der: ScanDer) -> tuple[str, int] | None:
    """A DER or BER key (or OpenSSH's magic) spelt as C octal escapes in ``data`` (the
    DER scan finds the magic too): its kind, and where the escape of its first byte is."""
    lead = _ESC_LEAD_RE.search(data)
    if lead is None:
        return None  # no run can open (every PEM bundle): nothing more to compile
    hit = scan_runs(data, lead.start(), _ESC_RUN(), _ESC_MORE(), _esc_bytes, scan_der)
    if hit is None:
        return None
    (kind, offset), start = hit
    return f"{kind} spelt as C octal escapes", nth_position(_ESC_DIGITS(), data, start, offset)
