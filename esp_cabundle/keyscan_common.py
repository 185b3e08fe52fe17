"""What the text scanners of :mod:`.keyscan` (hex, decimal, words) share: the DER scan
they call, the sizes their runs are bounded by, a lazily compiled pattern and where the
n-th number of a run is."""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import cache

__all__ = ["MIN_BYTES", "RUN_LEAD", "ScanDer", "lazy_re", "nth_position"]

# keyscan's DER scan: (kind, offset) of the first key in some bytes, or None.
ScanDer = Callable[[bytes], tuple[str, int] | None]
# The smallest structure der_key_kind takes for a key has 7 bytes (SEC1: 30 05, 02 01 01,
# 24 80; every other shape needs more): shorter runs are not decoded.
MIN_BYTES = 7
RUN_LEAD = 512  # how far before a marker its run is looked for, at most


def lazy_re(pattern: bytes) -> Callable[[], re.Pattern[bytes]]:
    """A getter of ``pattern`` compiled on its first call: start-up pays nothing for a
    pattern only a hit (or a rare prefilter's match) needs; compiling some took ms."""
    return cache(lambda: re.compile(pattern))


def nth_position(
    pieces: re.Pattern[bytes], data: bytes, start: int, index: int, end: int | None = None
) -> int:
    """Where the ``index``-th number of the run opening at ``start`` is, or ``start``.
    ``pieces`` matches the numbers, in its group "num" if it has one (its other matches,
    comments, offsets, casts holding digits, are passed over). An error's line only:
    linear in the run."""
    numbered = "num" in pieces.groupindex
    for m in pieces.finditer(data, start, len(data) if end is None else end):
        if numbered and m.group("num") is None:
            continue
        if not index:
            return m.start()
        index -= 1
    return start
