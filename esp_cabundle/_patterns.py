"""Regular expressions compiled on first use, for any module: a neutral home (sizes.py
and the keyscan readers share it, and sizes should not import keyscan's modules)."""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import cache
from typing import AnyStr

__all__ = ["host_port", "lazy_re"]


def lazy_re(pattern: AnyStr, flags: int = 0) -> Callable[[], re.Pattern[AnyStr]]:
    """A getter of ``pattern`` compiled on its first call: start-up pays nothing for a
    pattern only a hit (or a rare prefilter's match) needs; compiling some took ms."""
    return cache(lambda: re.compile(pattern, flags))


def host_port(word: str) -> bool:
    """Whether ``word`` is HOST:PORT with no scheme and no path (``127.0.0.1:5604``,
    ``[::1]:4000``, ``bench-pi:4000``): a network unit's address whose ``socket://`` was
    left out. A device path (``/dev/serial/by-path/...:1.0``) has a slash, COM3 no colon."""
    return _HOST_PORT().fullmatch(word) is not None


_HOST_PORT = lazy_re(r"(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+):\d{1,5}")
