"""The signals that ask a command to stop, as Ctrl-C does: SIGINT, SIGTERM (a CI job
cancelled, ``timeout``, a service manager) and, where the platform has it, SIGHUP (the
terminal closed, an SSH session dropped). SIGHUP's default would end the process on the
spot: no ``interrupted`` records, no ``--log``, a sector possibly torn.

A SIGHUP the process was started ignoring (``nohup esp-cabundle flash ...``) stays
ignored: whoever started it asked for the run to outlive the terminal. Read once, on
import (before :mod:`esp_cabundle._entry` installs its handlers); no other side effects.
"""

from __future__ import annotations

import signal

__all__ = ["STOP_SIGNALS", "SignalInterrupt"]


class SignalInterrupt(KeyboardInterrupt):
    """The KeyboardInterrupt a stop signal is turned into, naming it (``SIGTERM``): a
    ``--json`` run stopped by ``timeout`` said only "KeyboardInterrupt", as if Ctrl-C."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.signal_name = name


def _hangup() -> tuple[signal.Signals, ...]:
    hup = getattr(signal, "SIGHUP", None)
    if hup is None:
        return ()
    try:
        return () if signal.getsignal(hup) == signal.SIG_IGN else (hup,)
    except ValueError:  # pragma: no cover - an invalid signal on this platform
        return ()


STOP_SIGNALS: tuple[signal.Signals, ...] = (signal.SIGINT, signal.SIGTERM, *_hangup())
