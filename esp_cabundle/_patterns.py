"""Regular expressions compiled on first use, for any module: a neutral home (sizes.py
and the keyscan readers share it, and sizes should not import keyscan's modules)."""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import cache
from typing import AnyStr

__all__ = ["lazy_re"]


def lazy_re(pattern: AnyStr, flags: int = 0) -> Callable[[], re.Pattern[AnyStr]]:
    """A getter of ``pattern`` compiled on its first call: start-up pays nothing for a
    pattern only a hit (or a rare prefilter's match) needs; compiling some took ms."""
    return cache(lambda: re.compile(pattern, flags))
