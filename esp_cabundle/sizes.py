"""Sizes and offsets as firmware people write them, read by one parser everywhere.

Partition CSVs, board files and every CLI flag take ``262144``, ``0x40000``, ``256K``,
``256KiB``, ``256KB`` and ``1M`` alike. K and M are binary (1024), as in ESP-IDF's
``gen_esp32part.py`` (``parse_int``: ``int(v, 0)`` with a ``k``/``m`` suffix), which
this accepts and extends with the ``KB``/``KiB``/``MB``/``MiB`` spellings board sheets
and flash tools use.
"""

from __future__ import annotations

import re

from ._patterns import lazy_re
from .errors import InputError
from .limits import MAX_NUMBER_DIGITS

__all__ = ["SIZE_FORMS", "parse_size", "size_problem", "size_words"]

# Compiled on first use: every command imports this module (its options take sizes),
# few runs are given a size, and the three patterns took ~0.4 ms of each start-up.
# A suffix after the number: k, kb, kib, m, mb, mib (any case), after a space or not.
_suffix = lazy_re(r"\s*([km])(i?b)?$", re.IGNORECASE)
# A number with a unit this parser does not take (1G, 4T, 16B).
_other_unit = lazy_re(r"^[0-9.]+\s*([a-z]+)$", re.IGNORECASE)
# A fraction (1.5K).
_fraction = lazy_re(r"^[0-9]*\.[0-9]+\s*([km](i?b)?)?$", re.IGNORECASE)


_MULTIPLIERS = {"k": 1 << 10, "m": 1 << 20}
SIZE_FORMS = "e.g. 262144, 0x40000, 256K, 256KiB, 4M"
"""The forms a size takes, as errors show them."""


def size_problem(text: str) -> str:
    """Why ``text`` is not a size, in words: a fraction, a unit other than K and M, or
    not a number at all (what :func:`parse_size` refuses, said so the user can fix it)."""
    t = text.strip()
    if _fraction().match(t):
        return f"a size is a whole number of bytes, not a fraction ({SIZE_FORMS})"
    unit = _other_unit().match(t)
    if unit and not _suffix().search(t) and not t.lower().startswith("0x"):
        return (
            f"'{unit.group(1)}' is no unit here: the units are K and M (KB, KiB, MB, MiB: "
            f"1024 and 1024*1024 bytes), or none for bytes ({SIZE_FORMS})"
        )
    return f"not a number ({SIZE_FORMS})"


def parse_size(text: str, *, what: str = "size", error: type[InputError] = InputError) -> int:
    """``0x1000``, ``4096``, ``4K``, ``4KiB``, ``1M``, ``0x10K`` -> bytes.

    The number is read as Python's ``int(text, 0)`` reads it (as gen_esp32part does),
    so ``-0x10000`` is negative: callers that take only positive sizes say so. Raises
    ``error`` (an InputError) naming ``what``."""
    t = text.strip()
    if len(t) > MAX_NUMBER_DIGITS:
        raise error(f"{what} is {len(t)} characters long, not a number")
    multiplier = 1
    m = _suffix().search(t)
    if m is not None:
        multiplier = _MULTIPLIERS[m.group(1).lower()]
        t = t[: m.start()]
    try:
        return int(t.strip(), 0) * multiplier
    except ValueError as e:
        problem = size_problem(text)
        sep = " is " if problem.startswith("not a number") else ": "
        raise error(f"{what} '{text.strip()}'{sep}{problem}") from e


def size_words(n: int) -> str:
    """``8K`` for 8192: a size as it is typed (:func:`parse_size` reads it back)."""
    return f"{n // 1024}K" if n and n % 1024 == 0 else str(n)
