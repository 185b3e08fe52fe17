"""Python code that C calls back and that an interrupt must not be raised in.

littlefs-python calls the block device (:mod:`esp_cabundle.fs.lfs_device`) from C
functions declared ``noexcept``: an exception raised there is printed and dropped, and
littlefs goes on with what the call left (a read buffer never filled, a program taken
for done). A KeyboardInterrupt from Ctrl-C or SIGTERM landing there printed a traceback,
and the command went on to write its output and exit 0.

So the signal handler that raises (:mod:`esp_cabundle._entry`) first asks
:func:`shielded`: inside such a callback it records the interrupt (:func:`defer`)
instead, and the code that called into C raises it as soon as that call returns
(:func:`raise_deferred`, from the device's ``check()``). No side effects on import.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from types import CodeType, FrameType
from typing import Any

from ._signals import SignalInterrupt

__all__ = ["defer", "pending", "raise_deferred", "shield", "shielded"]

_CODES: set[CodeType] = set()
_PENDING: list[str | None] = [None]  # the name of the signal held, if one is


def shield(*functions: Callable[..., Any]) -> None:
    """Mark ``functions`` (callbacks from C) as places an interrupt is deferred from."""
    for fn in functions:
        _CODES.add(fn.__code__)


def shielded(frame: FrameType | None) -> bool:
    """Whether ``frame`` (a signal handler's) runs inside a shielded callback."""
    while frame is not None:
        if frame.f_code in _CODES:
            return True
        frame = frame.f_back
    return False


def defer(name: str) -> None:
    """Hold the interrupt of signal ``name`` (``SIGTERM``) until the C call returns."""
    _PENDING[0] = name


def pending() -> bool:
    """Whether an interrupt is held for this thread: only the main thread's (signal
    handlers run there, so only its callbacks are ever deferred from), so a station's
    worker thread never takes the main thread's Ctrl-C as its unit's failure."""
    return _PENDING[0] is not None and threading.current_thread() is threading.main_thread()


def raise_deferred() -> None:
    """Raise the interrupt that arrived inside a callback, if one did (main thread)."""
    name = _PENDING[0]
    if name is not None and pending():
        _PENDING[0] = None
        raise SignalInterrupt(name)
