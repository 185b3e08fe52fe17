"""Ctrl-C, SIGTERM and SIGHUP for the commands that write to units: a request, never a kill.

The library never installs signal handlers (see :mod:`esp_cabundle.flash.interrupt`);
these commands do, for the time they run, and pass the :class:`Cancel` token down.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from types import FrameType
from typing import TYPE_CHECKING, Any

from .._signals import STOP_SIGNALS
from ..flash.interrupt import Cancel

if TYPE_CHECKING:
    from ..flash.interrupt import Cancel

# The first line a signal prints (tests wait for it before letting a unit go on).
FIRST_NOTICE = "Stopping"
REPEAT_NOTICE = "Still stopping"


def _notice(text: str) -> None:
    """One line on stderr from a signal handler.

    The handler runs in the main thread between two bytecodes, possibly while that
    thread is itself writing to stderr: the buffered writer then refuses a reentrant
    call, and the line goes out unbuffered instead of being lost. A terminal that is
    gone (SIGHUP: EIO, EPIPE) loses the line, never the run.
    """
    line = text + "\n"
    try:
        sys.stderr.write(line)
        sys.stderr.flush()
    except RuntimeError:
        with suppress(OSError):
            os.write(2, line.encode("utf-8", "replace"))
    except (OSError, ValueError):
        pass


_FIRST_TEXT = (
    "units that have written nothing stop now; a unit being written finishes its current "
    "sector first, so none is left mid-sector."
)
_REPEAT_TEXT = "waiting for the sector being written to finish (a unit is never left mid-sector)."


QUIT_NOTICE = "Quitting now"


def _quit_now(name: str, text: str) -> None:
    """End the process at once, as a power cut or SIGKILL would: only for commands whose
    units and records are proven to survive that (push: tests/test_push_process.py)."""
    _notice(f"{QUIT_NOTICE} ({name}): {text}")
    for stream in (sys.stdout, sys.stderr):
        with suppress(OSError, ValueError, RuntimeError):
            stream.flush()
    os._exit(130)


@contextmanager
def stop_on_signals(
    *,
    first: str = _FIRST_TEXT,
    repeat: str = _REPEAT_TEXT,
    quit_on: int | None = None,
    quit_text: str = "",
) -> Iterator[Cancel]:
    """A token that SIGINT, SIGTERM and SIGHUP set while the block runs (handlers restored after).

    The first signal asks every unit to stop: at once if it has written nothing yet,
    else after the sector it is writing. A second (or any later) signal does the same
    and says so again, nothing more: the units are already stopping as fast as they
    safely can, and the only faster ways (raising in the main thread, exiting) would
    either not stop the threads that write or kill them mid-sector, leaving a sector
    half erased. The wait is one sector (a fraction of a second), or esptool's own
    timeout when the link is dead. SIGKILL still ends the process at once; the journal
    then lets the same command finish the update.

    ``quit_on``: the signal of that number ends the process at once (exit 130), for a
    command whose every state survives a kill (push: a unit's staging file, the
    ledger's transactions); the signal before it says so.
    """
    cancel = Cancel()
    if threading.current_thread() is not threading.main_thread():
        yield cancel  # signal handlers can only be installed from the main thread
        return

    def handler(signum: int, frame: FrameType | None) -> None:
        name = signal.Signals(signum).name
        n = cancel.request(name)
        if quit_on is not None and n >= quit_on:
            _quit_now(name, quit_text)
        again = " Once more quits at once." if quit_on is not None and n == quit_on - 1 else ""
        if n == 1:
            _notice(f"{FIRST_NOTICE} ({name}): {first}{again}")
        else:
            _notice(f"{REPEAT_NOTICE} ({name}): {repeat}{again}")

    previous: dict[signal.Signals, Any] = {}
    for sig in STOP_SIGNALS:
        previous[sig] = signal.signal(sig, handler)
    try:
        yield cancel
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)
