"""The link to a virtual unit: what crossed it, the faults and pauses a test arms, the
state of a flash write, and the RFC 2217 side (the reset lines of dev boards)."""

from __future__ import annotations

import collections
import contextlib
import socket
import threading
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

from ..errors import InputError
from .protocol import DEFAULT_BAUD

__all__ = [
    "Connection",
    "Disconnected",
    "Fault",
    "Lines",
    "LinkCut",
    "LinkStats",
    "Pause",
    "WriteSession",
    "close_socket",
    "listen_error",
]


def listen_error(host: str, port: int, e: OSError) -> InputError:
    """A port that cannot be listened on: bad input (exit 2), for the serial unit
    (--listen) as for --rpc and --mdash, each with the way out. socket.create_server's
    "(while attempting to bind on address ...)" is left out: the line names it."""
    said = (e.strerror or str(e)).split(" (while attempting to bind", 1)[0]
    return InputError(
        f"cannot listen on {host}:{port} ({said})",
        hint="choose another port, or port 0 for any free one",
    )


@dataclass
class LinkStats:
    """What crossed the link and what the flash went through, since the unit started."""

    bytes_in: int = 0  # host -> unit
    bytes_out: int = 0  # unit -> host
    sectors_erased: int = 0
    sectors_programmed: int = 0
    connections: int = 0
    cuts: int = 0
    boots: list[str] = field(default_factory=list)  # "download"/"app", from RFC 2217 resets
    commands: collections.Counter[str] = field(default_factory=collections.Counter)


class LinkCut(Exception):
    """Raised inside the server when an armed fault fires: drop the connection."""


class Disconnected(Exception):
    """The host closed the connection."""


@dataclass
class Fault:
    bytes_in: int | None = None  # absolute LinkStats.bytes_in at which to cut
    bytes_out: int | None = None
    sector_writes: int | None = None  # absolute sectors_programmed after which to cut
    tear: Literal["program", "erase"] = "program"
    # or the first command of this name (OP_NAMES) once sectors_programmed reaches
    # ``after_writes``: it arrives whole and gets no answer, nothing of it carried out
    command: str | None = None
    after_writes: int = 0


@dataclass
class Pause:
    """A point where the unit holds still until the test lets it go (see
    :meth:`VirtualESP32.arm_pause`). ``reached`` is set when the unit stops there."""

    sector_writes: int | None = None  # absolute sectors_programmed at which to hold
    command: str | None = None  # or the (nth) command of this name (OP_NAMES)
    nth: int = 1
    reached: threading.Event = field(default_factory=threading.Event)
    go: threading.Event = field(default_factory=threading.Event)

    def release(self) -> None:
        self.go.set()


@dataclass
class WriteSession:
    offset: int
    size: int  # bytes to program (uncompressed)
    blocks: int
    block_size: int
    compressed: bool
    next_seq: int = 0
    written: int = 0
    inflater: zlib._Decompress | None = None
    erased: set[int] = field(default_factory=set)  # sectors erased so far (stub)
    started: set[int] = field(default_factory=set)  # sectors programming has reached


def close_socket(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    sock.close()


class Lines:
    """The port settings an RFC 2217 client may change; RTS/DTR drive the reset circuit."""

    def __init__(self, on_change: Callable[[], None]) -> None:
        self._on_change = on_change
        self._rts = False
        self._dtr = False
        self.baudrate = DEFAULT_BAUD
        self.bytesize = 8
        self.parity = "N"
        self.stopbits = 1
        self.xonxoff = False
        self.rtscts = False
        self.break_condition = False
        self.cts = self.dsr = self.ri = self.cd = False

    @property
    def rts(self) -> bool:
        return self._rts

    @rts.setter
    def rts(self, value: bool) -> None:
        self._rts = bool(value)
        self._on_change()

    @property
    def dtr(self) -> bool:
        return self._dtr

    @dtr.setter
    def dtr(self, value: bool) -> None:
        self._dtr = bool(value)
        self._on_change()

    def reset_input_buffer(self) -> None:
        pass

    def reset_output_buffer(self) -> None:
        pass


class Connection:
    """What pyserial's PortManager writes its telnet answers to."""

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock

    def write(self, data: bytes) -> None:
        self._sock.sendall(data)
