"""Keys in od's dumps without offsets (``od -An``), read line by line, for keyscan_dumps.

The text scanners read runs of numbers; three od -An layouts escape them:

- one word a line (``od -An -tx4 -w4``, ``-tx2 -w2``, ``-tx8 -w8``, ``-to4 -w4``): a word
  alone on its line looks like an offset, and the words are in the host's byte order
  (little-endian: ``30 82 01 02`` is `` 02018230``). od indents every line of -An (an
  offset opens its line at column 0), so lines opening with blanks, two or more in a row,
  are read here as od's: each line's numbers in every format they fit (hex, octal or
  decimal, of 1, 2, 4 or 8 bytes; od pads hex and octal to one width) in both orders;
- od -z's text column with lines of a second type (``od -An -tu1z -tc -w1``): in a run
  holding such columns, the lines without one are the later types' and are dropped;
- squeezed lines: three equal lines or more print as the line and a ``*``, and with no
  offset nothing tells how many lines the ``*`` stands for (one or more).

How a ``*`` is read (:meth:`_Run.find`): each stands for its line once (the least),
and zero bytes follow the run (_PAD_LINES more lines a ``*``, _PAD bytes at most), so a
key the run then spells shorter than it is still holds its declared length: a key whose
first _HEAD bytes hold no ``*`` standing for more than one line is found, as all that
``der_key_kind`` reads but the length is in those bytes. A key whose first bytes do
hold one (BER DSA's PKCS#8: its algorithm's end-of-contents, ``00 00 00 00``, a byte a
line) is found by reading each ``*`` with a SEQUENCE's or OpenSSH's first byte within
_HEAD bytes before it as 2 to _COUNT_MAX lines, the others once, in a window of _HEAD
bytes each side and _PAD zeros; then each two such ``*`` lines within _HEAD bytes of
each other as 2 to _COUNT_MAX lines each (a DSA key whose p, q, g or key holds a run
of three equal bytes besides: one key in 400), in at most _PAIRS of the text's windows.
Not found (a count tried for each ``*`` would multiply the readings): a key whose first
_HEAD bytes hold three ``*`` lines standing for more than one line each (unless a count
too many for one makes up for another's, in one element or an end-of-contents' zeros),
or one standing for more than _COUNT_MAX; one whose ``*`` lines stand for more bytes
beyond once than its zeros; one after the text's first _TRIES windows or _PADS_MAX
zeros; one whose two such ``*`` lines come after the text's first _PAIRS windows of two.

Bounded: a run's copies add at most _EXPAND_MAX bytes in each format, its zeros _PAD,
a text's all _PADS_MAX; each window holds 2 * _HEAD bytes, 2 * _COUNT_MAX lines (600
bytes of text at most each) and _PAD zeros, and a text tries at most _TRIES windows.
Lines pasted into comments are not read here.
"""

from __future__ import annotations

import hashlib
import re
import sys
from array import array
from collections.abc import Iterator
from itertools import pairwise, product

from ._patterns import lazy_re
from .keyscan_common import MIN_BYTES, ScanDer

__all__ = ["find_columns"]

# Lines opening with blanks (od -An's; -tc prints a space as blanks alone) or lone "*"s,
# two or more, matched a bounded number at a time (a run goes on in the next match).
_BLOCK = lazy_re(rb"(?m)^(?:(?:[ ]{1,24}(?:[^ \n][^\n]{0,600})?|\*\r?)(?:\n|\Z)){2,1024}")
_COLUMN = lazy_re(rb"[ ]{1,64}>[^\n]{0,64}<\r?$")  # od -z's, ending its line
# A line's numbers joined by one blank each (tokens hold none): one match a line, not
# one a number (a number a line is od -An -w1's hostile shape: 87,000 lines in 512 KiB).
_NUMBERS = re.compile(rb"-?[0-9a-fA-F]{1,22}(?: -?[0-9a-fA-F]{1,22})*")
_OCTALS = re.compile(rb"[0-7]+(?: [0-7]+)*")
_DECIMALS = re.compile(rb"-?[0-9]+(?: -?[0-9]+)*")
_HEX_WIDTHS = {2: 1, 4: 2, 8: 4, 16: 8}  # od -tx's digits: bytes
_OCTAL_WIDTHS = {3: 1, 6: 2, 11: 4, 22: 8}  # od -to's
_RADIX = {"hex": 16, "octal": 8, "decimal": 10}
_EXPAND_MAX = 1 << 17  # bytes the "*"s of a text add, at most
_HEAD = 1024  # a key's first bytes holding all der_key_kind reads (DSA's parameters in BER)
_COUNT_MAX = 8  # lines one "*" is tried for in a key's first bytes
_PAD = 1 << 14  # zero bytes after a run: what its "*"s may stand for beyond once
_PAD_LINES = 32  # lines each "*" may stand for beyond once, in those zeros
_PADS_MAX = 1 << 22  # zero bytes after the runs of a text, all in all
_TRIES = 1024  # windows tried in a text, at most
_PAIRS = _TRIES // 2  # of them, windows reading two "*"s (the rest left for one "*")
_STARS = _TRIES // (_COUNT_MAX - 1) + 1  # "*"s a run's format can try
Found = tuple[str, int] | None  # what a DER scan finds


def _chosen(stars: array[int]) -> Iterator[tuple[int, ...]]:
    """The "*"s a window reads as 2 to _COUNT_MAX lines, by where they are in ``stars``
    (its triples): each alone, then each two within _HEAD bytes of each other."""
    ends = range(0, len(stars), 3)
    yield from ((i,) for i in ends)
    for i in ends:
        yield from ((i, j) for j in ends if i < j and stars[j] < stars[i] + _HEAD)


class _Run:
    """A run of od -An's lines: where each starts (a "*" line as -1 - where), whether
    od -z's columns are cut (and lines without one dropped), and what its numbers fit."""

    def __init__(self, data: bytes) -> None:
        self.data, self.lines = data, array("q")
        self.columns = False
        self.widths: set[int] = set()
        self.hex = self.octal = self.decimal = True
        self.low = self.high = 0

    def tokens(self, pos: int) -> list[bytes] | None:
        """The numbers of the line at ``pos``; None for a later type's line (dropped)."""
        end = self.data.find(b"\n", pos)
        line = self.data[pos : end if end >= 0 else len(self.data)]
        if self.columns:
            column = _COLUMN().search(line)
            if column is None:
                return None
            line = line[: column.start()]
        return line.split()

    def add(self, pos: int) -> bool:
        """Take the line at ``pos``; False if it holds no numbers (the run ends)."""
        if self.data.startswith(b"*", pos):
            self.lines.append(-1 - pos)
            return True
        tokens = self.tokens(pos)
        if tokens is None:
            return True
        joined = b" ".join(tokens)
        if not _NUMBERS.fullmatch(joined):  # no numbers, or not only numbers
            return False
        self.lines.append(pos)
        self.widths.update(map(len, tokens))
        self.hex = self.hex and b"-" not in joined  # a number's sign, od -td's
        self.octal = self.octal and _OCTALS.fullmatch(joined) is not None
        if self.decimal and _DECIMALS.fullmatch(joined):
            values = list(map(int, tokens))
            self.low, self.high = min(self.low, *values), max(self.high, *values)
        else:
            self.decimal = False
        return True

    def formats(self) -> list[tuple[str, int]]:
        """The formats every number fits: (base, bytes a number); od pads hex and octal
        to one width."""
        out: list[tuple[str, int]] = []
        width = next(iter(self.widths)) if len(self.widths) == 1 else 0
        if self.hex and width in _HEX_WIDTHS:
            out.append(("hex", _HEX_WIDTHS[width]))
        if self.octal and width in _OCTAL_WIDTHS:
            out.append(("octal", _OCTAL_WIDTHS[width]))
        if self.decimal:
            size = next(
                (
                    s
                    for s in (1, 2, 4, 8)
                    if -(1 << (8 * s - 1)) <= self.low and self.high < 1 << (8 * s)
                ),
                0,
            )
            if size:
                out.append(("decimal", size))
        return out

    def spell(self, base: str, size: int, order: str) -> tuple[bytearray, array[int], int] | None:
        """The run's bytes, each "*" read as its line once; for the "*"s that may be in
        a key's first bytes, where its copy starts, its line's length, where it is; and
        the bytes the "*"s' copies add."""
        out, stars, last = bytearray(), array("q"), b""
        radix, mask = _RADIX[base], (1 << (8 * size)) - 1
        budget = _EXPAND_MAX
        for pos in self.lines:
            if pos < 0:
                if not last or budget < len(last):
                    last = b""
                    continue  # a "*" opening the run, or past the bounds: a break
                budget -= len(last)
                near = max(0, len(out) - _HEAD)  # a key's first byte this near before it
                if len(stars) < 3 * _STARS and (
                    out.rfind(b"\x30", near) >= 0 or out.rfind(b"o", near) >= 0
                ):
                    stars.extend((len(out), len(last), -1 - pos))
            else:
                tokens = self.tokens(pos) or []
                try:
                    last = b"".join((int(t, radix) & mask).to_bytes(size, order) for t in tokens)  # type: ignore[arg-type]
                except OverflowError:  # od -to1's "777" is no byte
                    return None
            out += last
        return out, stars, _EXPAND_MAX - budget

    def line_of(self, base: str, size: int, order: str, offset: int) -> int:
        """Where the line (or "*") spelling byte ``offset`` of :meth:`spell`'s is."""
        spelt = last = 0
        for pos in self.lines:
            if pos >= 0:
                last = len(self.tokens(pos) or []) * size
            spelt += last
            if spelt > offset:
                return pos if pos >= 0 else -1 - pos
        return abs(self.lines[-1])

    def find(
        self,
        scan_der: ScanDer,
        budget: list[int],
        windows: dict[tuple[bytes, tuple[int, ...]], Found],
    ) -> tuple[str, int] | None:
        """A key in the run's bytes in each format and order (see the module's docstring);
        ``budget``: the text's windows to try, zero bytes to pad runs with, and windows
        of two "*"s to try;
        ``windows``: what the DER scan found in each window tried, by its parts."""
        if len(self.lines) < 2:
            return None
        for base, size in self.formats():
            for order in ("little", "big") if size > 1 else (sys.byteorder,):
                spelt = self.spell(base, size, order)
                if spelt is None or len(spelt[0]) < MIN_BYTES:
                    continue
                data, stars, copied = spelt
                how = f"od -An's {base} {8 * size}-bit numbers"
                how += f", {order}-endian" if size > 1 else ""
                pad = min(_PAD, _PAD_LINES * copied, budget[1])
                budget[1] -= pad
                found = scan_der(bytes(data) + bytes(pad))
                if found is not None and found[1] < len(data):
                    return f"{found[0]} spelt as {how}", self.line_of(base, size, order, found[1])
                for chosen in _chosen(stars):
                    if len(chosen) > 1 and budget[2] <= 0:
                        break  # the text's windows of two "*"s are tried
                    at, where = stars[chosen[0]], stars[chosen[0] + 2]
                    cuts = [max(0, at - _HEAD), *(stars[i] for i in chosen), at + _HEAD]
                    pieces = [bytes(data[a:b]) for a, b in pairwise(cuts)]
                    lines = [bytes(data[stars[i] : stars[i] + stars[i + 1]]) for i in chosen]
                    # A window is its parts: one seen before (hostile text repeats them,
                    # 2 KiB of parts for 18 KiB of window) is answered without building
                    # it, as the memoised scan would answer it from the window's digest.
                    sizes = [len(p) for p in pieces[:-1]] + [len(line) for line in lines]
                    parts = b" ".join(b"%d" % n for n in sizes) + b" " + b"".join(pieces + lines)
                    key = hashlib.sha256(parts).digest()
                    for counts in product(range(1, _COUNT_MAX), repeat=len(chosen)):
                        if budget[0] <= 0:
                            return None
                        if len(chosen) > 1 and budget[2] <= 0:
                            break
                        budget[0] -= 1
                        budget[2] -= len(chosen) - 1
                        copies = [line * n for line, n in zip(lines, counts, strict=True)]
                        size = sum(map(len, pieces)) + sum(map(len, copies))
                        if (key, counts) in windows:
                            found = windows[key, counts]
                        else:
                            window = b"".join(
                                x for pair in zip(pieces, copies, strict=False) for x in pair
                            )
                            found = scan_der(window + pieces[-1] + bytes(_PAD))
                            windows[key, counts] = found
                        if found is not None and found[1] < size:
                            read = " and ".join(str(n + 1) for n in counts)
                            what = "a '*'" if len(chosen) == 1 else "two '*'s"
                            return f"{found[0]} spelt as {how}, {what} read as {read} lines", where
        return None


def find_columns(data: bytes, scan_der: ScanDer) -> tuple[str, int] | None:
    """A key in od -An's lines (see the module's docstring): its kind and where the line
    holding its first byte (or the ``*`` standing for it) is."""
    if b"\n " not in data and not data.startswith(b" "):
        return None  # no line opens with a blank (a bytes.find, not a pattern)
    budget = [_TRIES, _PADS_MAX, _PAIRS]
    windows: dict[tuple[bytes, tuple[int, ...]], Found] = {}  # _TRIES at most
    run, ended = _Run(data), -1
    for block in _BLOCK().finditer(data):
        if block.start() != ended:  # not the run of the block before going on
            found = run.find(scan_der, budget, windows)
            if found is not None:
                return found
            run = _Run(data)
        ended = block.end()
        columns = b"<\n" in data[block.start() : ended] or data[
            block.start() : ended
        ].rstrip().endswith(b"<")
        run.columns = run.columns or columns
        pos = block.start()
        while pos < ended:
            if not run.add(pos):
                found = run.find(scan_der, budget, windows)
                if found is not None:
                    return found
                run = _Run(data)
                run.columns = columns
            nl = data.find(b"\n", pos, ended)
            pos = ended if nl < 0 else nl + 1
    return run.find(scan_der, budget, windows)
