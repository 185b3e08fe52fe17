"""The ``esp-cabundle`` console script and ``python -m esp_cabundle``.

Kept apart from :mod:`esp_cabundle.cli` so that Ctrl-C while click and the commands are
still being imported (the first tenths of a second) ends as any other interrupt does:
"Interrupted." and exit 130, never a traceback. Once the command has finished, a late
Ctrl-C is ignored: the exit code is the command's, as its output said.

SIGTERM (a CI job cancelled, ``timeout``, a service manager) and SIGHUP (the terminal
closed, an SSH session dropped) are Ctrl-C here (:mod:`esp_cabundle._signals`): the
default would end the process on the spot, leaving staged files and half-replaced
output sets; as a KeyboardInterrupt it unwinds through the same clean-up. Commands
that write to units install their own handlers for them while they run
(:func:`~esp_cabundle.commands._interrupt.stop_on_signals`) and put these back after.

A reader of stdout or stderr that leaves early (``| head -1``) neither stops the work
nor changes the exit code (:mod:`esp_cabundle._pipes`), except 141 when the command's
output itself was going to stdout and was cut short.
"""

from __future__ import annotations

import contextlib
import gc
import signal
import sys
from types import FrameType
from typing import Any

from . import _pipes, _shield
from ._signals import STOP_SIGNALS, SignalInterrupt

__all__ = ["main"]


_SIGNALS = STOP_SIGNALS


def _before_main(signum: int, frame: object) -> None:
    """Ctrl-C between this import and ``main()`` (the console script's own lines)."""
    sys.stderr.write("Interrupted.\n")
    raise SystemExit(130)


def _handle(handler: Any) -> None:
    """``handler`` for SIGINT, SIGTERM and SIGHUP (ValueError: not the main thread, as when a
    test calls main() from a worker: leave them be)."""
    with contextlib.suppress(ValueError, OSError):
        for sig in _SIGNALS:
            signal.signal(sig, handler)


# Installed on import, because the console script imports this module and only then
# calls main(): a signal in between must not print the interpreter's traceback.
_handle(_before_main)

# Whether a signal is a KeyboardInterrupt now (the command runs) or nothing (it ended).
# A flag, not a swap of handlers: clearing it is one store, with no call in between
# where the interpreter runs a handler (a second Ctrl-C, `timeout` then `kill`).
_ARMED = [False]


def _interrupt(signum: int, frame: FrameType | None) -> None:
    if _ARMED[0]:
        name = signal.Signals(signum).name  # said in --json's document (cli)
        if _shield.shielded(frame):  # raised there it would be dropped (see _shield)
            _shield.defer(name)  # and raised once littlefs returns
            return
        raise SignalInterrupt(name)


def _quiet_interrupts(hook: Any) -> Any:
    """``sys.unraisablehook`` that drops a KeyboardInterrupt raised where none can be
    caught (a weakref callback of the import machinery, a ``__del__``): Ctrl-C landing
    there is lost whatever we do, and Python would print "Exception ignored in ...",
    a traceback, over a command that then ends as it would have. Other reports pass."""

    def quiet(unraisable: Any) -> None:
        if isinstance(unraisable.exc_value, KeyboardInterrupt):
            return
        hook(unraisable)

    return quiet


def _cut_by_interrupt(e: BaseException) -> bool:
    """Whether ``e`` is an interrupt in another exception's clothes: Ctrl-C inside a
    class body being made (a dataclass field's ``__set_name__``, while a command is
    imported) reaches us as CPython 3.11's "RuntimeError: Error calling __set_name__",
    caused by the KeyboardInterrupt."""
    seen: set[int] = set()
    cause: BaseException | None = e
    while cause is not None and id(cause) not in seen:
        if isinstance(cause, KeyboardInterrupt):
            return True
        seen.add(id(cause))
        cause = cause.__cause__ or cause.__context__
    return False


def main(argv: list[str] | None = None) -> None:
    if argv is None:  # the console script's own streams (a test's capture is left be)
        _pipes.guard_streams()
    previous_hook = sys.unraisablehook
    sys.unraisablehook = _quiet_interrupts(previous_hook)
    escaped = False
    try:
        # From here on an interrupt is an ordinary KeyboardInterrupt, caught below and
        # by the commands that stop at a safe point; SIGTERM and SIGHUP too.
        _ARMED[0] = True
        _handle(_interrupt)
        if argv is None:  # the console script: see cli.hold_collection
            gc.disable()
        from . import cli  # deferred: click and the commands, under the guard below

        if argv is None:
            cli.hold_collection()
        try:
            code = cli.run(argv)
            _ARMED[0] = False  # its outcome is known: no signal changes it from here on
        finally:
            cli.release_collection()
    except KeyboardInterrupt:
        _ARMED[0] = False
        code, escaped = 130, True
    except Exception as e:
        _ARMED[0] = False
        if not _cut_by_interrupt(e):
            raise
        code, escaped = 130, True
    _ARMED[0] = False
    # And ignored outright for the rest of the process: at exit the interpreter puts a
    # Python-level handler back to the default, which would let a late signal kill it.
    _handle(signal.SIG_IGN)
    sys.unraisablehook = previous_hook
    if escaped:
        sys.stderr.write("Interrupted.\n")
    if code == 0 and _pipes.output_cut():
        code = 141  # as SIGPIPE would have ended it: the output is incomplete
    failed = _pipes.write_failure()
    if failed is not None:
        stream, reason, hint = failed
        done = " (the command's own work is done)" if code in (0, 141) else ""
        with contextlib.suppress(OSError, ValueError):  # stderr itself may be the one
            sys.stderr.write(
                f"Error: cannot write to {stream} ({reason}): what the command printed "
                f"there is incomplete\nhint: {hint}{done}\n"
            )
            sys.stderr.flush()
        if code in (0, 141):
            code = 3  # an I/O failure, as README's exit codes say
    sys.exit(code)
