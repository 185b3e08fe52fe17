"""Private keys spelt in hexadecimal text, for :mod:`.keyscan`.

A DER or BER key pasted into a CA source as hex text is the key all the same. The shapes:

- C hex bytes: ``"\\x30\\x82..."`` in string literals, ``0x30, 0x82, ...`` in arrays,
  with one digit (``0x4``, as Python's ``hex()`` writes), an integer suffix (``0x30u``)
  or a cast (``(uint8_t)0x30``, Java's ``(byte)0x82``) (:func:`find_c_hex`);
- hex dumps with offsets (:func:`find_hex_text`, first pass): ``xxd`` (any ``-g``
  grouping, ``-e``'s little-endian groups), ``hexdump -C``, ``od -tx1``, ``hexdump``,
  ``hexdump -x`` and ``od -x`` (16-bit words, little-endian; ``od -tx4``, ``-tx8``: 32
  and 64), PowerShell's ``Format-Hex``; their offsets and text columns are not bytes;
- bare hex (second pass): a continuous string (``308204a40201...``, ``xxd -p``) and bytes
  apart by spaces or colons (``30:82:04:a4``, as OpenSSL prints; ``od -An -tx1``), over
  lines and the quotes, commas or comment marks around their ends; words of 2, 4 or 8
  bytes (``od -An -x``, ``-tx2``, ``-tx4``, ``-tx8``) are read little-endian too.

Each run of hex is decoded whole and given to the caller's DER scan (keyscan's
``_scan_der``), which finds a key at any offset of it; a certificate, a fingerprint or a
serial number in hex is no key to it. All patterns run over the text lower-cased.

Speed: a pattern opening with a set of characters (hex digits) is tried by re at every
byte (about 100 ms a MiB of PEM). Hex is found instead from markers, substrings that
``bytes.find`` looks for in a copy of the text with every byte replaced by its class
(:data:`_CLASSES`: hex digit, other letter, blank, colon, line end, other): a run has
four bytes in a row on a line, or four lines of one byte each (od -An -tx1 -w1, xxd -p
-c1). A dump's first line is found by a pattern tried at line starts alone
(:data:`_DUMP_START`). Each marker
costs bounded work around it and each run is read once, so the scan is linear; a run of
hex with two or three bytes a line is not looked for.
"""

from __future__ import annotations

import binascii
import bisect
import re
from array import array

from ._patterns import lazy_re
from .keyscan_common import MIN_BYTES, RUN_LEAD, ScanDer, nth_position, scan_runs

__all__ = ["find_c_hex", "find_hex_text"]

# Bytes spelt in C, "\\x30\\x82..." in a string or "0x30, 0x82, ..." in an array, wherever
# they stand (a file read as PEM may end with C pasted from firmware): each run opening
# with a SEQUENCE's "30" is decoded whole and searched as DER. Between two bytes: commas,
# white space, the quotes of adjacent string literals (a key is usually written one
# literal a line, "\\x30\\x82..." then "\\x02\\x01..."), and C comments of one line
# holding no "\\x" or "0x" (a byte in a comment is no separator). Each separator piece
# opens with a byte no other piece nor a byte token opens with, and each is bounded, so a
# run is matched without backtracking beyond one separator; each run is read once.
_C_COMMENT = rb"/\*(?:[^*\\0]|[\\0](?!x)){0,120}\*/|//(?:[^\n\\0]|[\\0](?!x)){0,120}\n"
# C's integer suffixes (C11 6.4.4.1: u, l, ll, in either order; "0x30UL"; any three of
# their letters or none, a set re matches fastest), and a cast to a byte type before a
# number ("(uint8_t)0x30"; Java writes "(byte)0x82" for every byte above 0x7f), lower
# case; keyscan_dec reads them in any case. A cast opens with "(", which no other
# separator piece nor a number opens with.
C_SUFFIX = rb"[ul]{0,3}"
C_CAST = (
    rb"\([ \t]{0,4}(?:(?:const|unsigned|signed)[ \t]{1,4}){0,2}"
    rb"(?:char|u?int8_t|u?int8|[su]8|byte|uchar|guint8|gchar)[ \t]{0,4}\)"
)
# "\\x" or "0x", one or two digits (Python's hex() writes "0x4"), a suffix. One pattern
# for both, as fast as the two digits alone were: a string's "\\x30u" (0x30, then "u")
# is read as 0x30 alone.
_C_HEX_TOKEN = rb"(?:\\x|0x)[0-9a-f]{1,2}" + C_SUFFIX
# Soundness of searching runs from their "30" bytes only: a key's DER or BER opens with
# a SEQUENCE, 0x30, and _scan_der finds a key at any offset of a run's bytes. The search
# tries every "\\x30" and "0x30" not inside a run already matched; a run is maximal (a
# separator holds no token), so one holding the key's first byte runs to its last. Runs
# of fewer than MIN_BYTES bytes are not decoded.
# OpenSSH's key format opens with the magic "openssh-key-v1\\0" (no DER): a run is
# decoded from its first byte, 0x6f, too, if it holds the 15 bytes of it.
# tests/test_keyscan.py::test_c_hex_runs_start_only_at_0x30 checks both. The work stays
# in re: the pattern opens with the literal "x", found by re's fast scan for its first
# byte, and looks back for the "\\" or "0" before it (a "[\\0]" first-byte set was 6x
# slower: "0" abounds in base64).
# re keeps a backtracking entry per repetition of a group: a run is matched _CHUNK
# tokens at a time (8 MiB of "0x30, " as one match held 336 MiB).
_OPENSSH_BYTES = 15
_CHUNK = 1024
_C_HEX_MORE = rb"(?:(?:[\s,\"]|" + _C_COMMENT + rb"|" + C_CAST + rb"){0,48}" + _C_HEX_TOKEN + rb")"


def _c_hex_opening(byte: bytes, more: int) -> bytes:
    """A run opening with ``byte`` (two hex digits) spelt in C, and ``more`` bytes; the
    "x" before it is the caller's."""
    opening = byte + rb"(?<=[\\0]x" + byte + rb")" + C_SUFFIX
    return opening + _C_HEX_MORE + rb"{%d,%d}" % (more, _CHUNK)


# One search for both openings: re looks for their "x" as fast as for "x30". Compiled
# only once their first token is found (_C_HEX_LEAD, a pattern cheap to compile): the
# whole took re 0.5 ms, at every start-up.
_C_HEX_LEAD = re.compile(rb"x(?:30|6f)(?<=[\\0]x..)")
_C_HEX_RUN = lazy_re(
    rb"x(?:"
    + _c_hex_opening(b"30", MIN_BYTES - 1)
    + rb"|"
    + _c_hex_opening(b"6f", _OPENSSH_BYTES - 1)
    + rb")"
)
_C_HEX_TOKEN_RE = lazy_re(_C_HEX_TOKEN)
# OpenSSH's magic as the text of a string literal holding a key file's bytes: C's
# "openssh-key-v1\\0\\0\\0\\0\\4none...", "\\000" or "\\x00" for a NUL, Python's repr,
# JSON's "\\u0000". The magic's NUL, the cipher name's length (00 00 00 then 4 for
# "none", 10 for "aes256-ctr": "\\n" in a repr) and the name's first letters: the magic
# alone is what a scanner's source or prose about the format holds, no key.
_OPENSSH_TEXT_LEAD = b"openssh-key-v1\\"
_NUL_ESCAPE = rb"(?:\\0{1,3}(?![0-7])|\\x0{1,2}(?![0-9a-f])|\\u0000)"
_OPENSSH_TEXT = lazy_re(
    rb"openssh-key-v1" + _NUL_ESCAPE + rb"{4}"
    rb"(?:\\[0-7]{1,3}|\\x[0-9a-f]{1,2}|\\u00[0-9a-f]{2}|\\[nrtvf])[a-z][a-z0-9-]{2}"
)
_C_HEX_RUN_MORE = lazy_re(_C_HEX_MORE + rb"{1,%d}" % _CHUNK)
_C_COMMENT_RE = lazy_re(_C_COMMENT)
_C_CAST_RE = lazy_re(C_CAST)
_C_HEX_DIGITS = lazy_re(rb"(?:\\x|0x)([0-9a-f]{2}|[0-9a-f](?!x))")
# Separators, and the letters of suffixes (once comments and casts are gone, the only
# "u" and "l" left)
_C_HEX_SEPARATORS = b' \t\n\r\x0b\x0c,"ul'


def _c_hex_bytes(run: bytes) -> bytes:
    """The bytes a run of C hex tokens (lower case) spells, decoded at C speed: after
    comments and casts go, every "x" is a token's (hex digits hold none, separators
    neither); each of two digits unless one has one (``0x4``)."""
    if b"/" in run:
        run = _C_COMMENT_RE().sub(b"", run)
    if b"(" in run:
        run = _C_CAST_RE().sub(b"", run)
    digits = run.replace(b"\\x", b"").replace(b"0x", b"").translate(None, _C_HEX_SEPARATORS)
    if len(digits) == 2 * run.count(b"x"):
        return bytes.fromhex(digits.decode("ascii"))
    # a token of one digit ("0x4"; "0x50x79", no C, is two): token by token
    return bytes(int(d, 16) for d in _C_HEX_DIGITS().findall(run))


def find_c_hex(low: bytes, scan_der: ScanDer) -> tuple[str, int] | None:
    """A DER or BER key (or OpenSSH's) spelt as C hex bytes (see _C_HEX_RUN) in the
    lower-cased text, or OpenSSH's magic in a string literal."""
    if _OPENSSH_TEXT_LEAD in low and (magic := _OPENSSH_TEXT().search(low)) is not None:
        return "OpenSSH key magic in a string literal", magic.start()
    lead = _C_HEX_LEAD.search(low)
    if lead is None:
        return None
    # the run's text opens at the "\\" or "0" before the "x30" or "x6f" its pattern finds
    more = _C_HEX_RUN_MORE()
    hit = scan_runs(low, lead.start(), _C_HEX_RUN(), more, _c_hex_bytes, scan_der, back=1)
    if hit is None:
        return None
    (kind, offset), start = hit
    return f"{kind} spelt as C hex bytes", nth_position(_C_HEX_TOKEN_RE(), low, start, offset)


# ---------------------------------------------------------------------------------------
# Hex dumps and bare hex

_HEX_DIGITS = b"0123456789abcdef"
# Each byte's class: "h" a hex digit, "x" another letter, " " a blank, ":" and "\n"
# themselves, "." anything else (the text is lower-cased first).
_CLASSES = bytes(
    b"h"[0]
    if c in _HEX_DIGITS
    else b"x"[0]
    if 0x67 <= c <= 0x7A
    else c
    if c in b" :\n"
    else b" "[0]
    if c == 0x09
    else b"."[0]
    for c in range(256)
)
_NOT_HEX = bytes(c for c in range(256) if c not in _HEX_DIGITS)
_DIGITS = lazy_re(rb"[0-9a-f]+")
# Where bare hex has four bytes in a row apart by blanks or colons, or six continuous
# (four would be found in base64 once every 40 lines, and each costs a search).
_RUN_MARKS = (
    b"h" * 12,
    b"hh hh hh hh",
    b"hh:hh:hh:hh",
    b"\nhh\nhh\nhh\nhh\n",
    b" hh\n hh\n hh\n hh\n",
)
# od -An -tx2 (-x) and -tx4: three words of 4 digits or two of 8 after a blank, not after
# an offset (od -x, whose dump is read whole as one) nor after a colon (xxd's groups, read
# as its dump). One pattern: one search over text that holds none (half the time).
_WORD_MARKS = (
    re.compile(
        rb" hhhh(?:hhhh hhhhhhhh(?!h)(?<![:h] hhhhhhhh hhhhhhhh)"
        rb"| hhhh hhhh(?!h)(?<![:h] hhhh hhhh hhhh))"
    ),
)

# A dump line: a comment mark before it if pasted into a comment, an offset, then either
# - xxd (offset, colon) or Format-Hex (offset, three blanks): groups one blank apart,
#   then a text column two blanks on; xxd -e aligns a last group shorter than the others
#   to the right ("6e6d6c6b   71706f", or alone on its line): the "tail", read for
#   little-endian groups only;
# - hexdump -C, hexdump, od: groups one or two blanks apart (hexdump -x: four), then
#   hexdump -C's text column between bars, or od -tx1z's between "> <".
# Groups are 1 to 16 bytes (a line with an odd number of digits is no dump's); every
# repetition is bounded, and groups and blanks cannot run into each other, so a line is
# matched with backtracking of one group at most.
_GROUP = rb"[0-9a-f]{2,32}"
_DUMP_LINE = lazy_re(
    rb"(?:[ \t]{0,8}(?:[#;!>%*]|//|--)[ \t]{0,4})?[0-9a-f]{6,16}(?:"
    rb"(?::[ ]|[ ]{3}(?![ ]))(?P<xxd>(?:" + _GROUP + rb"(?:[ ]" + _GROUP + rb"){0,255})?)"
    rb"(?:[ ]{1,32}(?P<tail>[0-9a-f]{2,30})(?=[ ]{2}))?(?:[ ]{2}[^\n]{0,512})?"
    rb"|[ ]{1,4}(?P<od>" + _GROUP + rb"(?:[ ]{1,4}" + _GROUP + rb"){0,255})[ ]*"
    rb"(?:[|>][^\n]{0,512})?"
    rb")\r?(?=\n|\Z)"
)
# The lines a dump may open with, found by one search in C (od's "0000000 048" lines,
# each no dump's first line, cost a _read_dump call a line: 0.5 MB/s). A superset of
# the first lines _read_dump takes, _DUMP_LINE's with an even number of digits: an
# offset then xxd's or Format-Hex's separator (whatever follows), or od's groups (each
# a maximal run of digits, so each one's parity is known; odd ones in pairs) then what
# may end the line. Every bounded repetition reaches as far as _DUMP_LINE's 256 groups;
# each group is matched once, so a line costs linear work at most.
_EVEN_GROUP = rb"(?:[0-9a-f]{2}){1,16}(?![0-9a-f])"
_ODD_GROUP = rb"[0-9a-f](?:[0-9a-f]{2}){1,15}(?![0-9a-f])"
_EVEN_PIECE = (
    rb"(?:" + _EVEN_GROUP + rb"|" + _ODD_GROUP
    + rb"(?:[ ]{1,4}" + _EVEN_GROUP + rb"){0,255}[ ]{1,4}" + _ODD_GROUP + rb")"
)  # fmt: skip
_DUMP_OPENING = (
    rb"(?:[ \t]{0,8}(?:[#;!>%*]|//|--)[ \t]{0,4})?[0-9a-f]{6,16}(?::[ ]|[ ]{3}(?![ ])"
    rb"|[ ]{1,4}" + _EVEN_PIECE + rb"(?:[ ]{1,4}" + _EVEN_PIECE + rb"){0,255}"
    rb"[ ]*(?:[|>]|\r?(?=\n|\Z)))"
)
# Tried after each line end, which re finds as fast as bytes.find (a pattern opening
# with "^" is tried at every byte: 4x slower on PEM); the text's first line apart.
_DUMP_FIRST = lazy_re(_DUMP_OPENING)
_DUMP_START = lazy_re(rb"\n" + _DUMP_OPENING)
# Where a dump line's offset ends (six digits or more, then a blank or a colon): a text
# holding neither holds no dump (a PEM bundle: two bytes.find in place of the search).
_DUMP_MARKS = (b"hhhhhh:", b"hhhhhh ")
# Bare hex: bytes of two digits, between two of them up to two blanks or colons, or a
# line end with bytes that are neither letters nor digits around it, up to 8 before (a
# closing quote, OpenSSL's trailing colon) and 16 after (indentation, an opening quote,
# "# " or " * " of a comment). Matched _CHUNK bytes at a time, as C hex is.
_RUN_SEP = rb"(?:[ \t:]{0,2}|[^\n0-9a-z]{0,8}\n[^\n0-9a-z]{0,16})"
_HEX_RUN = lazy_re(rb"[0-9a-f]{2}(?:" + _RUN_SEP + rb"[0-9a-f]{2}){%d,%d}" % (6, _CHUNK))
_HEX_RUN_MORE = lazy_re(rb"(?:" + _RUN_SEP + rb"[0-9a-f]{2}){1,%d}" % _CHUNK)
# Two words of od -An -tx2 (-x), -tx4 or -tx8 (4, 8 or 16 digits), their first opening
# within _WORD_REACH - 34 bytes of a run's start.
_WORD_PAIR = lazy_re(
    rb"(?<![0-9a-f])(?:[0-9a-f]{4} [0-9a-f]{4}|[0-9a-f]{8} [0-9a-f]{8}"
    rb"|[0-9a-f]{16} [0-9a-f]{16})(?![0-9a-f])"
)
_WORD_REACH = 64 + 34
# A piece of hex this long is a string (xxd -p, one string), no dump's word (16 digits at
# most): what is before a key in it may be of an odd number of digits.
_LONG_PIECE = b"h" * 18
# Seven bytes with the widest separators between them: a search for the runs opening
# before a marker's end looks this far beyond it.
_RUN_SPAN = 2 * MIN_BYTES + (MIN_BYTES - 1) * (8 + 1 + 16)
_RUN_AHEAD = 4096  # how much further than a marker's own a search finding no run looks


class _Marks:
    """The next occurrence of each marker at or after a position: each is looked for
    again only once passed, so every marker's searches cover the text once. A marker is
    a substring, or a pattern whose match opens with a literal (which re looks for as
    fast as ``bytes.find``)."""

    def __init__(
        self, classes: bytes, marks: tuple[bytes, ...], patterns: tuple[re.Pattern[bytes], ...] = ()
    ) -> None:
        self.classes, self.marks, self.patterns = classes, marks, patterns
        self.at = [classes.find(m) for m in marks]
        self.matched = [p.search(classes) for p in patterns]

    def next(self, pos: int) -> tuple[int, int]:
        """Where the first marker at or after ``pos`` is and its length; (-1, 0) if none."""
        first = (-1, 0)
        for i, mark in enumerate(self.marks):
            at = self.at[i]
            if 0 <= at < pos:
                at = self.at[i] = self.classes.find(mark, pos)
            if at >= 0 and (first[0] < 0 or at < first[0]):
                first = (at, len(mark))
        for i, pattern in enumerate(self.patterns):
            m = self.matched[i]
            if m is not None and m.start() < pos:
                m = self.matched[i] = pattern.search(self.classes, pos)
            if m is not None and (first[0] < 0 or m.start() < first[0]):
                first = (m.start(), m.end() - m.start())
        return first


def find_hex_text(low: bytes, scan_der: ScanDer) -> tuple[str, int] | None:
    """A DER or BER key in a hex dump or bare hex in the lower-cased text: its kind and
    where the hex of its first byte is."""
    classes = low.translate(_CLASSES)
    return _find_dumps(low, classes, scan_der) or _find_runs(low, classes, scan_der)


def _find_dumps(low: bytes, classes: bytes, scan_der: ScanDer) -> tuple[str, int] | None:
    if not any(mark in classes for mark in _DUMP_MARKS):
        return None
    pos, starts = 0, _DUMP_START()
    at = 0 if _DUMP_FIRST().match(low) is not None else -1
    while True:
        if at < 0:  # the next line, at or after pos, that may open a dump
            start = starts.search(low, max(0, pos - 1))
            if start is None:
                return None
            at = start.start() + 1
        found, pos = _read_dump(low, at, scan_der)
        if found is not None:
            return found
        pos, at = max(pos, at + 1), -1


def _read_dump(low: bytes, start: int, scan_der: ScanDer) -> tuple[tuple[str, int] | None, int]:
    """Scan the dump whose first line starts at ``start``: lines of one kind (xxd or
    od) in a row. Returns what was found, and where the dump ends."""
    digits = bytearray()
    lines = array("q")  # for each line: where its groups start, and the bytes before it
    kind, pos, tail, group = "", start, b"", 0
    while (line := _DUMP_LINE().match(low, pos)) is not None:
        this = "xxd" if line.group("xxd") is not None else "od"
        if kind not in ("", this):
            break
        area = line.group(this).translate(None, b" ")
        if len(area) % 2:
            break
        kind, tail = this, line.group("tail") or b""
        group = group or len(line.group(this).split(b" ", 1)[0]) // 2
        lines.extend((line.start(this), len(digits) // 2))
        digits += area
        pos = line.end() + 1
    if not lines:
        return None, start
    data = binascii.unhexlify(digits)
    del digits
    variants = [(data, "")]
    if group > 1:  # hexdump and od -x print 16-bit words, xxd -e its groups, little-endian
        swapped = _swap(data, group) + binascii.unhexlify(tail[: len(tail) // 2 * 2])[::-1]
        variants.append((swapped, f", its {8 * group}-bit groups little-endian"))
    for decoded, how in variants:
        found = scan_der(decoded) if len(decoded) >= MIN_BYTES else None
        if found is not None:
            where = _dump_position(low, lines, found[1], exact=not how)
            return (f"{found[0]} in a hex dump{how}", where), pos
    return None, pos


def _swap(data: bytes, group: int) -> bytes:
    """``data`` with the bytes of each ``group`` reversed (a tail shorter than a group
    is dropped), by slices at C speed."""
    size = len(data) // group * group
    out = bytearray(size)
    for i in range(group):
        out[i::group] = data[group - 1 - i : size : group]
    return bytes(out)


def _dump_position(low: bytes, lines: array[int], byte: int, *, exact: bool) -> int:
    """Where the hex of byte ``byte`` of the dump is (``exact``), or where the groups of
    its line start (little-endian groups: the byte's digits are inside one)."""
    i = bisect.bisect_right(lines[1::2], byte) - 1
    where = lines[2 * i]
    if not exact:
        return where
    end = low.find(b"\n", where)
    return _digit_position(low, where, end if end >= 0 else len(low), 2 * (byte - lines[2 * i + 1]))


def _find_runs(low: bytes, classes: bytes, scan_der: ScanDer) -> tuple[str, int] | None:
    marks, pos = _Marks(classes, _RUN_MARKS, _WORD_MARKS), 0
    # No run lies whole in clear[0] to clear[1]: a search there found none. Every run
    # opens with one of seven bytes, _RUN_SPAN long at most, so none opens in clear[0]
    # to clear[1] - _RUN_SPAN (a later search goes on from there), and a marker whose
    # search ends inside clear needs none. After a search finding no run, the next one
    # looks _RUN_AHEAD bytes further: markers a line apart (od -An -tx1z's lines of
    # four bytes, no run of seven) searched the same bytes once each, not 170 times.
    clear = [len(low) + 1, 0]  # nothing known yet
    while (marked := marks.next(pos))[0] >= 0:
        # The run holding the marker opens before the marker's end: at it, or before it
        # (the tail of a word, a line of fewer bytes). It is looked for from after the
        # last other letter before the marker, within RUN_LEAD, to where its seventh
        # byte can be; so is every run opening before the marker's end.
        at, end = marked[0], marked[0] + marked[1]
        lead = max(pos, at - RUN_LEAD)
        letter = classes.rfind(b"x", lead, at)
        start = letter + 1 if letter >= 0 else lead
        # Runs hold no other letters: with no "30" (a SEQUENCE) nor "6f" (OpenSSH's
        # magic) before the next one, none here can hold a key (a fingerprint or a
        # serial number in a comment).
        letter = classes.find(b"x", end, end + RUN_LEAD)
        if letter >= 0 and not _may_open_key(low, start, letter):
            pos = letter
            continue
        while True:
            run = _search_run(low, start, end + _RUN_SPAN, clear)
            if run is None:
                break
            found, start = _scan_run(low, classes, run.start(), run.end(), scan_der)
            if found is not None:
                return found
            if start >= end:
                break  # a run opening later holds a marker of its own
        pos = max(start, end)
    return None


def _search_run(low: bytes, start: int, limit: int, clear: list[int]) -> re.Match[bytes] | None:
    """``_HEX_RUN().search(low, start, limit)``, not searching again where ``clear``
    (updated) holds no run; see _find_runs."""
    known = clear[0] <= start
    if known and limit <= clear[1]:
        return None  # a run here would lie whole in clear
    # a run opening before begin would open with seven bytes lying whole in clear
    begin = max(start, clear[1] - _RUN_SPAN) if known else start
    since = clear[0] if known and begin > start else start  # what is known from here on
    if known:
        ahead = _HEX_RUN().search(low, begin, limit + _RUN_AHEAD)
        if ahead is None or ahead.start() >= limit:
            # no run opens from begin to where ahead's does, nor lies whole before it
            clear[:] = [since, limit + _RUN_AHEAD if ahead is None else ahead.start()]
            return None
    run = _HEX_RUN().search(low, begin, limit)
    if run is None:
        clear[:] = [since, limit]
    return run


def _scan_run(
    low: bytes, classes: bytes, start: int, end: int, scan_der: ScanDer
) -> tuple[tuple[str, int] | None, int]:
    """Scan the run of bare hex whose first chunk is ``low[start:end]`` (``classes``:
    its classes, see _CLASSES). Returns what was found, and where the run ends."""
    while (more := _HEX_RUN_MORE().match(low, end)) is not None:
        end = more.end()
    if not _may_open_key(low, start, end):
        return None, end  # a fingerprint, a serial number
    digits = low[start:end].translate(None, _NOT_HEX)
    variants = [(start, digits, 0, 1)]  # (where its digits start, digits, shift, group)
    if classes[end : end + 1] == b"h" or classes.find(_LONG_PIECE, start, end) >= 0:
        # Digits before a key in its piece, of an odd number (the tail of a word before
        # the hex, on its line or the line before: "pasted:" ends in "ed"), put it out
        # of step: read from the second digit too. A run matches whole pairs, so an odd
        # piece in it is its last, one digit left after it, or one long enough to hold
        # such digits and a key (found by bytes.find, not a pattern tried at each byte).
        variants.append((start, digits[1:] + low[end : end + 1].translate(None, _NOT_HEX), 1, 1))
    words = _first_word(low, start, end)
    if words is not None:
        # Words of 2, 4 or 8 bytes: od -An -tx2 (-x), -tx4, -tx8 print them little-endian.
        at, width = words
        variants.append((at, low[at:end].translate(None, _NOT_HEX), 0, width // 2))
    for at, variant, shift, group in variants:
        data = binascii.unhexlify(variant[: len(variant) // 2 * 2])
        found = scan_der(_swap(data, group) if group > 1 else data)
        if found is None:
            continue
        if group > 1:  # the first digit of the word holding the key's first byte
            index = 2 * (found[1] - found[1] % group)
            how = f", its {8 * group}-bit words little-endian"
        else:
            index, how = 2 * found[1] + shift, ""
        where = _digit_position(low, at, end + shift, index)
        return (f"{found[0]} spelt in hex{how}", where), end
    return None, end


def _may_open_key(low: bytes, start: int, end: int) -> bool:
    """Whether hex in ``low[start:end]`` may hold a key: a DER one holds a SEQUENCE's
    "30", OpenSSH's opens with "6f" (in words too: od -x prints "706f"). Either found
    across two bytes ("a3 05" is no "30", "a305" looks like one) costs a decode, no more."""
    return low.find(b"30", start, end) >= 0 or low.find(b"6f", start, end) >= 0


def _first_word(low: bytes, start: int, end: int) -> tuple[int, int] | None:
    """Where the run's words start and their width in digits, if a word (4, 8 or 16
    digits) with a blank and a word of the same width after it opens near the run's
    start (od's words; a piece of hex before them, such as the "ed" of "pasted:", is
    passed over; xxd's offset ends with a colon)."""
    m = _WORD_PAIR().search(low, start, min(end, start + _WORD_REACH))
    return (m.start(), m.group().index(b" ")) if m is not None else None


def _digit_position(low: bytes, start: int, end: int, index: int) -> int:
    """Where the ``index``-th hex digit of ``low[start:end]`` is."""
    for m in _DIGITS().finditer(low, start, end):
        if index < m.end() - m.start():
            return m.start() + index
        index -= m.end() - m.start()
    return start
