"""esptool's messages, routed per thread to the operation that caused them.

esptool reports through a process-wide logger (esp-pylib's ``EspLog.instance``). While
an operation on a unit runs, :func:`esptool_output` installs a router in its place that
sends each thread's messages to that thread's progress callback, so several units can
work in parallel threads and nothing esptool says is printed directly; the previous
logger is put back when the last operation ends. Everything also goes to this module's
debug log.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, Literal

from .base import Message

__all__ = ["esptool_output"]

logger = logging.getLogger(__name__)

_route_lock = threading.Lock()
_route_depth = 0
_route_saved: Any = None
_route_local = threading.local()
_router: Any = None

# What esptool says of every socket:// or rfc2217:// port, which has no USB identity: two
# warnings (one naming no device) that tell a user nothing. Kept in the debug log only.
_URL_PORT_NOISE = ("Failed to get VID/PID of a device on", "Cannot resolve VID/PID for '")


def _url_port_noise(text: str) -> bool:
    """One of those warnings, about a URL port. The same warning about a /dev/ or COM
    port (a udev alias pyserial does not list, a device hidden from a container) says
    the unit gets the standard reset sequence, which a USB-JTAG chip may not answer."""
    head = text.lstrip()
    for prefix in _URL_PORT_NOISE:
        if head.startswith(prefix):
            port = head[len(prefix) :].split()
            return bool(port) and "://" in port[0]
    return False


# esptool's note on every socket:// port tells the user to reset the chip by hand; the
# connection that follows either finds the unit in download mode (a virtual unit always
# is) or fails with our own hint, so a technician gets this instead.
_SOCKET_RESET = "It's not possible to reset the chip over a TCP socket"
_SOCKET_RESET_SAID = (
    "socket:// port: no reset lines travel over it; the unit is taken to be in download "
    "mode already (a virtual unit always is)"
)


def _make_router() -> Any:
    from esp_pylib.logger import EspLogBase
    from rich.text import Text

    def plain(text: str) -> str:
        try:
            return Text.from_markup(text).plain
        except Exception:  # esptool escapes its markup; never fail on a message
            return text

    class Router(EspLogBase):
        """esptool's logger while our operations run: each line to its thread's sink."""

        def _sink(self) -> Callable[[Message], None] | None:
            return getattr(_route_local, "sink", None)

        def _say(self, level: Literal["info", "note", "warning", "error"], text: str) -> None:
            sink = self._sink()
            text = plain(text)
            if _url_port_noise(text):
                logger.debug("esptool %s: %s", level, text)
                return
            for line in text.splitlines():
                if line.lstrip().startswith(_SOCKET_RESET):  # that line only: not the rest
                    logger.debug("esptool %s: %s", level, line)
                    line = _SOCKET_RESET_SAID
                if line.strip():
                    logger.debug("esptool %s: %s", level, line)
                    if sink is not None:
                        sink(Message(level, line.strip()))

        def print(self, *args: Any, **kwargs: Any) -> None:
            poll = getattr(_route_local, "poll", None)
            if poll is not None:  # may raise: esptool prints on every connect attempt
                poll()
            sink = self._sink()
            if sink is None and _route_saved is not None:
                _route_saved.print(*args, **kwargs)
                return
            text = str(kwargs.get("sep", " ")).join(str(a) for a in args)
            text += str(kwargs.get("end", "\n"))
            pending = getattr(_route_local, "line", "") + text
            *lines, rest = pending.split("\n")
            _route_local.line = rest
            for line in lines:
                self._say("info", line)

        def note(self, *args: Any) -> None:
            self._say("note", " ".join(str(a) for a in args))

        def hint(self, *args: Any) -> None:
            self._say("note", " ".join(str(a) for a in args))

        def debug(self, *args: Any) -> None:
            logger.debug("esptool: %s", "".join(str(a) for a in args))

        def warn(self, *args: Any, suggestion: str | None = None) -> None:
            self._say("warning", " ".join(str(a) for a in args))

        def err(self, *args: Any, suggestion: str | None = None) -> None:
            self._say("error", " ".join(str(a) for a in args))

        def warning(self, message: str, suggestion: str | None = None) -> None:
            self.warn(message)

        def error(self, message: str, suggestion: str | None = None) -> None:
            self.err(message)

        def set_verbosity(self, mode: int | str) -> None:
            pass

        def progress_bar(
            self,
            cur_iter: int,
            total_iters: int,
            prefix: str = "",
            suffix: str = "",
            bar_length: int = 30,
        ) -> None:
            pass  # operations report their own Progress events

    return Router()


@contextmanager
def esptool_output(
    sink: Callable[[Message], None], *, poll: Callable[[], None] | None = None
) -> Iterator[None]:
    """Route esptool's messages from this thread to ``sink`` for the duration.

    esptool's logger is a process global; the router stays installed while any thread is
    inside this context and the previous logger comes back when the last one leaves.
    ``poll`` is called whenever esptool prints (a dot per failed sync while connecting,
    even mid-line), so it may stop, by raising, a loop esptool offers no other way out of.
    """
    global _route_depth, _route_saved, _router
    import esptool.logger  # noqa: F401 - installs esptool's own logger first
    from esp_pylib.logger import EspLog

    with _route_lock:
        if _router is None:
            _router = _make_router()
        if _route_depth == 0:
            _route_saved = EspLog.instance
            EspLog.instance = _router
        _route_depth += 1
    previous = getattr(_route_local, "sink", None), getattr(_route_local, "poll", None)
    _route_local.sink, _route_local.poll = sink, poll
    try:
        yield
    finally:
        _route_local.sink, _route_local.poll = previous
        _route_local.line = ""
        with _route_lock:
            _route_depth -= 1
            if _route_depth == 0:
                EspLog.instance = _route_saved
                _route_saved = None
