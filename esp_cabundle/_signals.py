"""The signals that ask a command to stop, as Ctrl-C does: SIGINT, SIGTERM (a CI job
cancelled, ``timeout``, a service manager) and, where the platform has it, SIGHUP (the
terminal closed, an SSH session dropped). SIGHUP's default would end the process on the
spot: no ``interrupted`` records, no ``--log``, a sector possibly torn. No side effects
on import; the handlers are installed by :mod:`esp_cabundle._entry` and the commands."""

from __future__ import annotations

import signal

__all__ = ["STOP_SIGNALS"]

STOP_SIGNALS: tuple[signal.Signals, ...] = (signal.SIGINT, signal.SIGTERM) + (
    (signal.SIGHUP,) if hasattr(signal, "SIGHUP") else ()
)
