"""Sizes and offsets as firmware people write them, read by one parser everywhere.

Partition CSVs, board files and every CLI flag take ``262144``, ``0x40000``, ``256K``,
``256KiB``, ``256KB`` and ``1M`` alike. K and M are binary (1024), as in ESP-IDF's
``gen_esp32part.py`` (``parse_int``: ``int(v, 0)`` with a ``k``/``m`` suffix), which
this accepts and extends with the ``KB``/``KiB``/``MB``/``MiB`` spellings board sheets
and flash tools use.
"""

from __future__ import annotations

import re

from .errors import InputError
from .limits import MAX_NUMBER_DIGITS

__all__ = ["parse_size"]

# A suffix after the number: k, kb, kib, m, mb, mib (any case), optionally after a space.
_SUFFIX = re.compile(r"\s*([km])(i?b)?$", re.IGNORECASE)
_MULTIPLIERS = {"k": 1 << 10, "m": 1 << 20}


def parse_size(text: str, *, what: str = "size", error: type[InputError] = InputError) -> int:
    """``0x1000``, ``4096``, ``4K``, ``4KiB``, ``1M``, ``0x10K`` -> bytes.

    The number is read as Python's ``int(text, 0)`` reads it (as gen_esp32part does),
    so ``-0x10000`` is negative: callers that take only positive sizes say so. Raises
    ``error`` (an InputError) naming ``what``."""
    t = text.strip()
    if len(t) > MAX_NUMBER_DIGITS:
        raise error(f"{what} is {len(t)} characters long, not a number")
    multiplier = 1
    m = _SUFFIX.search(t)
    if m is not None:
        multiplier = _MULTIPLIERS[m.group(1).lower()]
        t = t[: m.start()]
    try:
        return int(t.strip(), 0) * multiplier
    except ValueError as e:
        raise error(
            f"{what} '{text.strip()}' is not a number (use 0x10000, 65536, 64K or 1M)"
        ) from e
