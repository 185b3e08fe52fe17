"""Keys spelt as text (hex, decimal or octal bytes, words), squeezed dumps too: for keyscan.

od, hexdump and ``xxd -a`` print a line repeating the one before it as a lone ``*`` (od
and hexdump unless ``-v``), the next line's offset telling how many lines it stands for
(``od -tu1 -w1`` of "openssh": 0000003 110, 0000004 115, ``*``, 0000006 104).
A key whose bytes hold such a repeat (with ``-w1`` any two equal bytes in a row, such as
the "ss" of OpenSSH's magic) is in no run the scanners read, so a text holding a lone
``*`` after a line with an offset is scanned again with each such ``*`` replaced by the
line before it as many times as the offsets say (:func:`expand_squeezed`): where the
gap to the next offset is a whole number of lines, the width being the gap between the
two lines before the ``*``, else the width carried from the ``*`` before (c2, ``*``, 4b,
``*``: each ``*`` carries it once, to the next), else for a dump's first line the gap
between the first two full lines in a row after it. A ``*`` with no offset after it
(hexdump -e's last) or none before (od -An) stands for one line, the least it can.
Offsets are read in hex if a letter or xxd's colon says so, else in octal (od's), hex
(hexdump's) and decimal (``od -Ad``) in turn, each base that expands the text otherwise
giving one more scan. Bounded: each ``*``
stands for at most the lines up to the next offset, a line copied is at most _LINE_MAX
bytes, and all copies of a scan together at most _EXPAND_MAX bytes. od's lines of a second
type (od -tx1 -tc: no offset, blanks in its place) are dropped for one more scan, and
so are od -z's text columns (``>0.....<`` ending each line). Last, od -An's lines are
read one by one (:mod:`.keyscan_columns`): a word a line, and ``*`` lines that may stand
for more than one line.
"""

from __future__ import annotations

import bisect
import io
import re
from collections.abc import Callable

from ._patterns import lazy_re
from .keyscan_columns import find_columns
from .keyscan_common import Lowered, ScanDer
from .keyscan_dec import find_decimal
from .keyscan_hex import find_hex_text
from .keyscan_words import find_words

__all__ = ["expand_squeezed", "find_dumps"]

_LINE_MAX = 1024  # longer lines are no dump's (od -w256 -tx1 writes 800 bytes a line)
# A dump line's offset: six to sixteen hex digits after any comment mark, then xxd's
# colon, a blank or the line's end (od's last line, the offset alone).
_OFFSET = rb"[ \t]{0,8}(?:(?:[#;!>%*]|//|--)[ \t]{0,4})?(?P<off>[0-9a-fA-F]{6,16})"
_OFFSET_LINE = lazy_re(_OFFSET + rb"(?P<end>:|[ \t]|\r?$)")
# A lone "*" (in a comment line too: "# *") after a line opening with an offset or after
# a line of numbers alone (od -An's), found in C, so a text of lone "*"s or C comments
# costs no step in Python. Each match ends at its "*" line's end and consumes the line
# before: the search is linear.
_NUMBERS = (
    rb"[ \t]{0,8}(?:(?:[#;!>%]|//)[ \t]{0,4})?[-+]?[0-9a-fA-F]{1,16}"
    rb"(?:[ \t]{1,8}[-+]?[0-9a-fA-F]{1,16}){0,255}[ \t]{0,8}\r?\n"
)
_SQUEEZE = lazy_re(
    rb"(?m)^(?P<line>" + _OFFSET + rb"[: \t][^\n]{0,%d}\n|" % _LINE_MAX + _NUMBERS + rb")"
    + rb"(?P<star>[ \t]{0,8}(?:(?:[#;!>%]|//)[ \t]{0,4})?\*[ \t]*\r?)$"
)  # fmt: skip
# od with more types than one (od -tx1 -tc, -tx1 -to1) prints each line once a type, the
# later ones with blanks where the offset was (comment marks before them if pasted so).
_CONTINUED = lazy_re(
    rb"(?m)^(?P<line>" + _OFFSET + rb"[: \t][^\n]{0,%d}\n)" % _LINE_MAX
    + rb"(?P<more>(?:(?:[ \t]{0,8}(?:[#;!>%%]|//|--))?[ \t]{6,24}[^\n]{1,%d}\n){1,8})" % _LINE_MAX
)  # fmt: skip
# od -z's text column: the blanks before it, then the line's bytes between "> <" ending
# the line.
_TEXT_COLUMN = lazy_re(rb"(?m)[ ]{1,256}>[^\n]{1,512}<(?=\r?$)")
_STAR_MAX = 1 << 14  # bytes of copies one "*" stands for, at most: no key repeats more
_EXPAND_MAX = 1 << 17  # bytes all copies in a text add, at most
_SQUEEZES_MAX = 4096  # "*"s expanded in a text, at most (a key's od -w1 has one in 256 bytes)
_BASES = (8, 16, 10)


# A "*" that may be expanded: its line's span (its "\n" included), where the line before
# it (which it repeats) starts, and how many times it stands for that line with the
# offsets read in each of _BASES (0: not in that base). A tuple, not a NamedTuple: that
# would import typing at start-up.
_Squeeze = tuple[int, int, int, tuple[int, ...]]


def find_dumps(data: bytes, low: Lowered, scan_der: ScanDer) -> tuple[str, int] | None:
    """A key in hex dumps or bare hex (``low``: ``data`` lower-cased), decimal or octal
    bytes or words; in the text with its squeezed lines expanded if none without, the
    offsets read in each base that tells another expansion; then, if od printed lines of
    more types than one (od -tx1 -tc), in the text with each line's later types dropped.
    ``low`` is dropped once read: each later scan makes a copy of the text of its own."""
    found = (
        _find_squeezed(data, low, scan_der)
        or _find_without_text_column(data, scan_der)
        or find_columns(data, scan_der)
    )
    if found is not None:
        return found
    if b"      " not in data:  # no line of a later type (a bytes.find, not a pattern)
        return None
    one_type = _drop(_CONTINUED(), "more", data)
    if len(one_type) == len(data):
        return None
    found = _find_squeezed(one_type, Lowered(one_type), scan_der) or _find_without_text_column(
        one_type, scan_der
    )  # od -tu1z -tc: both dropped
    if found is None:
        return None
    return f"{found[0]}, od's lines of other types left out", _before_dropping(data, found[1])


def _find_squeezed(data: bytes, low: Lowered, scan_der: ScanDer) -> tuple[str, int] | None:
    found = _find(data, low.get(), scan_der)
    low.drop()  # the expansions are copies of the text with their own lower-cased ones
    return found or _find_expanded(data, scan_der)


def _find_expanded(data: bytes, scan_der: ScanDer) -> tuple[str, int] | None:
    """_find in ``data`` with its squeezed lines expanded, the offsets read in each base
    that tells another expansion."""
    if b"*" not in data:
        return None
    squeezes = _squeezes(data)
    seen: list[_Marks] = []
    for base in _BASES if squeezes else ():
        expanded = expand_squeezed(data, base, squeezes)
        if expanded is None or expanded[1] in seen:
            continue
        seen.append(expanded[1])

        def again(base: int = base) -> bytes:  # as made above: a function of its arguments
            made = expand_squeezed(data, base, squeezes)
            return made[0] if made is not None else data

        made = [expanded[0]]
        del expanded  # given up to _find_made, which lets it go once lower-cased
        found = _find_made(again, scan_der, made)
        if found is not None:
            return f"{found[0]}, its squeezed lines expanded", _original(seen[-1], found[1])
    return None


def _find_made(
    make: Callable[[], bytes],
    scan_der: ScanDer,
    made: list[bytes] | None = None,
    then: Callable[[bytes, ScanDer], tuple[str, int] | None] | None = None,
) -> tuple[str, int] | None:
    """_find in a text made from the input (columns dropped, lines expanded), one copy
    of it at a time beside the input: lower-cased for the hex scan, then made again
    (``make``) for the decimal and word scans. The text, its lower-cased copy and the
    hex scan's own, held at once, were 3 times the input (5 with it and its own lower-
    cased copy). ``made``: the text made already, alone in a list this empties; ``then``:
    a scan of the text made again, after the others."""
    low = made.pop().lower() if made else make().lower()
    found = find_hex_text(low, scan_der)
    del low
    if found is not None:
        return found
    text = make()
    found = find_decimal(text, scan_der) or find_words(text, scan_der)
    return found or (then(text, scan_der) if then is not None else None)


def _find_without_text_column(data: bytes, scan_der: ScanDer) -> tuple[str, int] | None:
    """Scan again with od -z's text columns dropped: without offsets (od -An -tx1z) a
    line's numbers and its column's letters and digits run together, and a squeezed
    line's "*" follows a line of numbers alone only once the column is gone."""
    if b"<\n" not in data and not _ends_with_column(data):
        return None  # no line ends as a text column does (a bytes.find, not a pattern)
    if _TEXT_COLUMN().search(data) is None:
        return None

    def bare() -> bytes:  # made twice, never held beside itself
        return _drop(_TEXT_COLUMN(), 0, data)

    found = _find_made(bare, scan_der, then=_find_expanded)
    if found is None:
        return None
    pos = found[1]  # the columns found again, not kept: a list of their spans took 2 MB
    for m in _TEXT_COLUMN().finditer(data):  # in order: each one before pos moves it on
        if m.start() > pos:
            break
        pos += m.end() - m.start()
    return f"{found[0]}, od's text column left out", pos


def _ends_with_column(data: bytes) -> bool:
    """``data.rstrip(b"\\r\\n").endswith(b"<")``, without that copy of ``data``."""
    end = len(data)
    while end > 0:
        tail = data[max(0, end - 4096) : end].rstrip(b"\r\n")
        if tail:
            return tail.endswith(b"<")
        end -= 4096
    return False


def _drop(pattern: re.Pattern[bytes], group: int | str, data: bytes) -> bytes:
    """``data`` without ``group`` of each match of ``pattern``, copied piece by piece
    into one buffer: ``re.sub`` holds a list of every piece before joining them, 16
    bytes of input a byte on a text of short lines (`` 48  >0<``, ``0 >0<``). A BytesIO
    hands its buffer over as the bytes (``bytes(bytearray)`` copied it: twice the text
    at the peak)."""
    out = io.BytesIO()
    view = memoryview(data)
    last = 0
    for m in pattern.finditer(data):
        out.write(view[last : m.start(group)])
        last = m.end(group)
    out.write(view[last:])
    return out.getvalue()


def _before_dropping(data: bytes, pos: int) -> int:
    """Where offset ``pos`` of ``data`` with od's later types' lines dropped is in it."""
    dropped = 0
    for m in _CONTINUED().finditer(data):
        if m.start("more") - dropped > pos:
            break
        dropped += m.end() - m.start("more")
    return pos + dropped


def _find(data: bytes, low: bytes, scan_der: ScanDer) -> tuple[str, int] | None:
    return (
        find_hex_text(low, scan_der) or find_decimal(data, scan_der) or find_words(data, scan_der)
    )


# For each expansion: where its copies start and end in the expanded text, where its "*"
# is in the original and where the line after it starts.
_Marks = list[tuple[int, int, int, int]]


def _original(marks: _Marks, pos: int) -> int:
    """Where offset ``pos`` of the expanded text is in the original: a copied line is
    at its ``*``."""
    i = bisect.bisect_right([m[0] for m in marks], pos) - 1
    if i < 0:
        return pos
    _, end, star, after = marks[i]
    return star if pos < end else after + pos - end


def _squeezes(data: bytes) -> list[_Squeeze]:
    """Every "*" after a line with an offset that stands for a whole number of lines in
    some base (its width from the line before it, the "*" before it or the lines after
    it: :func:`_width_after`), or for one line at least when no offset follows (hexdump
    -e writes none after its last "*") or none precedes (od -An: once, the least, which
    catches a pair of equal lines); as many as _EXPAND_MAX can expand (each adds its
    line once at least)."""
    out: list[_Squeeze] = []
    budget = 0
    # The last "*"'s two offsets one line apart, and where the line after it starts: a
    # "*" after that one line ("0000132 c2", "*", "0000134 4b", "*") has a "*" before
    # its line, no offset, and the dump's width is still the last one's: carried from
    # "*" to "*", each at most once.
    width: tuple[bytes, bytes] | None = None
    width_ends = -1
    later: list[tuple[bytes, bytes] | None] = []  # the dump's width, looked for once
    once = (1,) * len(_BASES)
    for m in _SQUEEZE().finditer(data):
        start = m.start("star")
        before = m.start() - 1  # the "\n" ending the line before the copied one
        after = data.find(b"\n", m.end() + 1, m.end() + 2 + _LINE_MAX)
        here = _OFFSET_LINE().match(data, m.start(), start)
        nxt = _OFFSET_LINE().match(data, m.end() + 1, after if after >= 0 else len(data))
        apart = None
        counts: tuple[int, ...] = (0,) * len(_BASES)
        if here is None or nxt is None:  # how far unknown: the least the "*" stands for
            counts = once
        else:
            earlier = None
            if before > 0:
                earlier_start = data.rfind(b"\n", max(0, before - _LINE_MAX), before) + 1
                earlier = _OFFSET_LINE().match(data, earlier_start, before)
            if earlier is not None:
                apart = (earlier.group("off"), here.group("off"))
            elif m.start() == width_ends and width is not None:
                apart = width
            else:  # a dump's first line: its width from the lines after the "*"
                apart = _width_after(data, start - m.start(), m.end() + 1)
                if apart is None:
                    if not later:
                        later.append(_width_after(data, start - m.start(), m.end() + 1, 64))
                    apart = later[0]
            if apart is not None:
                offsets = (*apart, here.group("off"), nxt.group("off"))
                hexadecimal = here.group("end") == b":" or any(not o.isdigit() for o in offsets)
                counts = tuple(0 if hexadecimal and b != 16 else _count(offsets, b) for b in _BASES)
        if any(counts):
            out.append((start, m.end() + 1, m.start(), counts))
            width, width_ends = apart, m.end() + 1
            budget += start - m.start()
            if budget > _EXPAND_MAX or len(out) >= _SQUEEZES_MAX:
                break
    return out


def _width_after(data: bytes, size: int, pos: int, lines: int = 1) -> tuple[bytes, bytes] | None:
    """The offsets of the first two lines in a row with offsets among the ``lines`` + 1
    lines from ``pos`` (the line after a "*") on, the first as long as the line the "*"
    repeats (``size`` bytes with its "\\n": a full line, not the dump's shorter last)."""
    line = None
    for _ in range(lines + 1):
        end = data.find(b"\n", pos, pos + _LINE_MAX + 2)
        if end < 0:  # the last line, if short
            end = len(data) if len(data) - pos <= _LINE_MAX else pos - 1
        if end < pos:
            return None
        m = _OFFSET_LINE().match(data, pos, end)
        if line is not None and m is not None:
            return line.group("off"), m.group("off")
        line = m if end - pos + 1 == size else None
        pos = end + 1
    return None


def expand_squeezed(
    data: bytes, base: int, squeezes: list[_Squeeze] | None = None
) -> tuple[bytes, _Marks] | None:
    """``data`` with each lone ``*`` after a dump line replaced by copies of that line
    (see the module's docstring), its offsets read in ``base`` (hex ones always in 16),
    and the expansions' marks for :func:`_original`; None if there is none to expand."""
    out = io.BytesIO()  # as in _drop: its buffer becomes the bytes, not copied
    view = memoryview(data)
    marks: _Marks = []
    last = budget = 0
    which = _BASES.index(base)
    for start, end, line_start, counts in _squeezes(data) if squeezes is None else squeezes:
        count = counts[which]
        copies = (start - line_start) * count
        if not count or copies > _STAR_MAX:
            continue  # left as it is: a break in the dump, as before
        if budget + copies > _EXPAND_MAX:
            break
        out.write(view[last:start])
        marks.append((out.tell(), out.tell() + copies, start, end))
        out.write(data[line_start:start] * count)  # _STAR_MAX at most
        last = end  # the "*" line's "\n" too: each copy ends with its own
        budget += copies
    if not marks:
        return None
    out.write(view[last:])
    return out.getvalue(), marks


def _count(offsets: tuple[bytes, bytes, bytes, bytes], base: int) -> int:
    """How many lines a "*" stands for, its offsets (of two lines one line apart, of the
    line before it and of the line after) read in ``base``; 0 unless the first two are
    one line's width apart and the next offset is a whole number of lines past its line."""
    try:
        first, second, here, nxt = (int(o, base) for o in offsets)
    except ValueError:  # 8 or 9 in octal
        return 0
    width, gap = second - first, nxt - here
    return gap // width - 1 if width > 0 and gap > width and gap % width == 0 else 0
