"""One virtual unit: a TCP server speaking esptool's SLIP framing, as a unit in download
mode does behind ``socket://`` or ``rfc2217://``; see the package for what it does and
where it is not faithful."""

from __future__ import annotations

import select
import socket
import struct
import threading
import time
from typing import Any, Literal

from .chips import CHIPS, JEDEC_CAPACITY
from .commands import Commands
from .link import (
    Connection,
    Disconnected,
    Fault,
    Lines,
    LinkCut,
    LinkStats,
    Pause,
    WriteSession,
    close_socket,
)
from .protocol import (
    BOOT_LOG_APP,
    BOOT_LOG_DOWNLOAD,
    CHIP_DETECT_MAGIC_REG,
    DEFAULT_BAUD,
    EN_FILTER_S,
    OP_NAMES,
    ROM_DEFAULT_FLASH_SIZE,
    ROM_INVALID_MSG,
    STUB_BAD_DATA_LEN,
    MiB,
)

__all__ = ["VirtualESP32"]


class VirtualESP32(Commands):
    """One virtual unit served on 127.0.0.1 (use as a context manager, one per test; or
    :meth:`start` and :meth:`stop` it).

    ``flash`` is the live flash array (tests may inspect it); :meth:`load` preloads data
    as a factory would, without touching the counters.
    """

    def __init__(
        self,
        chip: str = "esp32",
        *,
        flash_size: int = 4 * MiB,
        mac: str | bytes = "24:0a:c4:12:34:56",
        flash_encryption: bool = False,
        mode: Literal["download", "app", "silent"] = "download",
        transport: Literal["socket", "rfc2217"] = "socket",
        auto_reset: bool = True,
        max_unacked: int | None = None,
    ) -> None:
        if chip not in CHIPS:
            raise ValueError(f"unknown chip {chip!r}; known: {', '.join(CHIPS)}")
        if flash_size not in JEDEC_CAPACITY:
            raise ValueError("flash_size must be 4, 8 or 16 MiB")
        self.chip = CHIPS[chip]
        self.flash = bytearray(b"\xff" * flash_size)
        self.mac = bytes.fromhex(mac.replace(":", "")) if isinstance(mac, str) else bytes(mac)
        if len(self.mac) != 6:
            raise ValueError("mac must be 6 bytes")
        self.flash_encryption = flash_encryption
        self.mode = mode
        self.transport = transport
        self.auto_reset = auto_reset
        self.max_unacked = max_unacked
        self._telnet: Any = None  # pyserial's RFC 2217 PortManager, per connection
        self._lines = Lines(self._lines_changed)
        self.stats = LinkStats()
        self._fault: Fault | None = None
        self._pause: Pause | None = None
        self._lock = threading.RLock()
        self._stop = threading.Event()
        self._listener: socket.socket | None = None
        self._host = "127.0.0.1"
        self._client: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self.errors: list[BaseException] = []  # unexpected exceptions in the server
        self._reset_session()

    # --- lifecycle ---------------------------------------------------------------------
    def start(self, *, host: str = "127.0.0.1", port: int = 0) -> VirtualESP32:
        """Listen on ``host``:``port`` (0: any free port; see :attr:`url`) and serve."""
        self._host = host
        self._listener = socket.create_server((host, port))
        self._wake_r, self._wake_w = socket.socketpair()  # stop() wakes the server at once
        self._thread = threading.Thread(
            target=self._serve, name=f"virtual-{self.chip.key}", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._wake_w.send(b"x")
            self._thread.join(timeout=5)
            self._wake_r.close()
            self._wake_w.close()
        if self._listener is not None:
            self._listener.close()

    def __enter__(self) -> VirtualESP32:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        assert self._listener is not None, "start() the unit first"
        port: int = self._listener.getsockname()[1]
        return port

    @property
    def url(self) -> str:
        return f"{self.transport}://{self._host}:{self.port}"

    # --- test helpers ------------------------------------------------------------------
    def load(self, offset: int, data: bytes) -> None:
        """Put ``data`` at ``offset`` as a factory programmer would (no counters)."""
        if offset < 0 or offset + len(data) > len(self.flash):
            raise ValueError("data does not fit in the flash")
        with self._lock:
            self.flash[offset : offset + len(data)] = data

    def read(self, offset: int, length: int) -> bytes:
        with self._lock:
            return bytes(self.flash[offset : offset + length])

    def arm_cut(
        self,
        *,
        bytes_in: int | None = None,
        bytes_out: int | None = None,
        sector_writes: int | None = None,
        tear: Literal["program", "erase"] = "program",
        command: str | None = None,
    ) -> None:
        """Cut the link after N more bytes in/out, or once N more sectors are written.

        With ``sector_writes=N`` the cut comes when the (N+1)th sector starts: it is left
        torn (``tear="program"``: erased, then only its first half programmed;
        ``tear="erase"``: only its first half erased, when the stub erases it).
        With ``command`` (say "SPI_FLASH_MD5") it comes when that command arrives, the
        first once ``sector_writes`` (default 0) more sectors are written, every sector
        written whole: the read-back of a write the unit finished, lost with the link.
        """
        s = self.stats
        if command is not None:
            self._fault = Fault(
                command=command, after_writes=s.sectors_programmed + (sector_writes or 0)
            )
            return
        self._fault = Fault(
            bytes_in=None if bytes_in is None else s.bytes_in + bytes_in,
            bytes_out=None if bytes_out is None else s.bytes_out + bytes_out,
            sector_writes=None if sector_writes is None else s.sectors_programmed + sector_writes,
            tear=tear,
        )

    def arm_pause(
        self,
        *,
        sector_writes: int | None = None,
        command: str | None = None,
        nth: int = 1,
    ) -> Pause:
        """Hold the unit (one-shot) when the (N+1)th sector write from now begins, before
        that sector is erased, or when the ``nth`` ``command`` from now arrives (say
        "READ_FLASH"), before it is carried out. The host then waits for an answer as it
        would for a slow unit; ``pause.reached`` tells the test the unit is there, and
        ``pause.release()`` lets it go on. Lets a test act at an exact point of a run."""
        if (sector_writes is None) == (command is None):
            raise ValueError("pause at sector_writes=N or at command=NAME")
        pause = Pause(
            sector_writes=None
            if sector_writes is None
            else self.stats.sectors_programmed + sector_writes,
            command=command,
            nth=self.stats.commands[command] + nth if command is not None else 1,
        )
        self._pause = pause
        return pause

    def _hold(self, pause: Pause) -> None:
        self._pause = None
        pause.reached.set()
        while not pause.go.wait(0.05):
            if self._stop.is_set():
                raise Disconnected

    @property
    def stub_running(self) -> bool:
        return self._stub

    # --- server loop -------------------------------------------------------------------
    def _serve(self) -> None:
        assert self._listener is not None
        while not self._stop.is_set():
            select.select([self._listener, self._wake_r], [], [])
            if self._stop.is_set():
                return
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self._client = conn
            self.stats.connections += 1
            self._link_dead = False
            self._reset_session()
            if self.transport == "rfc2217":
                from serial.rfc2217 import PortManager

                self._lines = Lines(self._lines_changed)
                self._en_low = False
                self._boot_pending = False
                self._telnet = PortManager(self._lines, Connection(conn))
            try:
                self._session()
            except (Disconnected, ConnectionError):
                pass
            except LinkCut:
                self.stats.cuts += 1
                self._fault = None
            except Exception as e:  # a bug in the virtual unit: make the test see it
                if not self._stop.is_set():
                    self.errors.append(e)
            finally:
                close_socket(conn)
                self._client = None
                self._telnet = None

    def _reset_session(self, *, download: bool | None = None) -> None:
        """Power-on: ROM download mode (or the firmware), registers at reset values."""
        self._stub = False
        self._app = self.mode != "download" if download is None else not download
        self._baud = DEFAULT_BAUD
        self._rom_flash_size = ROM_DEFAULT_FLASH_SIZE
        self._write: WriteSession | None = None
        self._mem_expected = 0
        self._rx = bytearray()
        regs = self.chip.registers(self.mac)
        for addr, value in self.chip.security_registers(self.flash_encryption).items():
            regs[addr] = regs.get(addr, 0) | value
        regs[CHIP_DETECT_MAGIC_REG] = self.chip.magic
        self._regs = regs
        self._update_clkdiv()

    # --- raw I/O with counters and faults ----------------------------------------------
    def _recv_some(self) -> bytes:
        conn = self._client
        assert conn is not None
        if self._link_dead:
            raise LinkCut
        select.select([conn, self._wake_r], [], [])
        if self._stop.is_set():
            raise Disconnected
        data = conn.recv(65536)
        if not data:
            raise Disconnected
        if self._telnet is not None:
            data = b"".join(self._telnet.filter(data))  # telnet commands handled here
            if self._boot_pending and data:
                self._boot()
            if not data:
                return b""
        f = self._fault
        if f is not None and f.bytes_in is not None:
            room = f.bytes_in - self.stats.bytes_in
            if len(data) >= room:
                # Only the bytes before the cut arrive; complete commands among them are
                # carried out, but no answer gets back (see _send_raw).
                data = data[: max(room, 0)]
                self._link_dead = True
        self.stats.bytes_in += len(data)
        return data

    def _send_raw(self, data: bytes) -> None:
        conn = self._client
        assert conn is not None
        if self._link_dead:
            raise LinkCut
        f = self._fault
        if f is not None and f.bytes_out is not None:
            room = f.bytes_out - self.stats.bytes_out
            if len(data) >= room:
                if room > 0:
                    conn.sendall(self._escape(data[:room]))
                    self.stats.bytes_out += room
                raise LinkCut
        conn.sendall(self._escape(data))
        self.stats.bytes_out += len(data)

    def _escape(self, data: bytes) -> bytes:
        return data if self._telnet is None else b"".join(self._telnet.escape(data))

    # --- RFC 2217 reset lines: the two-transistor auto-reset circuit of dev boards ------
    def _lines_changed(self) -> None:
        """EN is low while RTS is asserted and DTR is not; GPIO0 is low in the opposite
        case. The RC on EN filters pulses shorter than EN_FILTER_S (pyserial sets RTS and
        DTR one after the other when it opens the port); the ROM samples GPIO0 after EN
        has risen, which here is the next line change or byte received."""
        if not self.auto_reset or self._telnet is None:
            return
        rts, dtr = self._lines.rts, self._lines.dtr
        en_low = rts and not dtr
        now = time.monotonic()
        if self._boot_pending and not en_low:
            self._boot()
        if en_low and not self._en_low:
            self._en_low_since = now
            self._boot_pending = False
        elif not en_low and self._en_low and now - self._en_low_since >= EN_FILTER_S:
            self._boot_pending = True
        self._en_low = en_low

    def _boot(self) -> None:
        self._boot_pending = False
        if self.mode == "silent":
            return  # a dead unit stays dead
        download = self._lines.dtr and not self._lines.rts  # GPIO0 strapped low
        self.stats.boots.append("download" if download else "app")
        self._reset_session(download=download)
        self._send_raw(BOOT_LOG_DOWNLOAD if download else BOOT_LOG_APP)

    def _send_frame(self, payload: bytes) -> None:
        body = payload.replace(b"\xdb", b"\xdb\xdd").replace(b"\xc0", b"\xdb\xdc")
        self._send_raw(b"\xc0" + body + b"\xc0")

    def _read_frame(self) -> bytes:
        """The next SLIP frame from the host (bytes between frames are ignored)."""
        while True:
            start = self._rx.find(b"\xc0")
            if start >= 0:
                end = self._rx.find(b"\xc0", start + 1)
                if end >= 0:
                    body = bytes(self._rx[start + 1 : end])
                    del self._rx[:end]  # keep the closing C0: it may open the next frame
                    if body:
                        return body.replace(b"\xdb\xdc", b"\xc0").replace(b"\xdb\xdd", b"\xdb")
                    continue
            elif self._rx:
                self._rx.clear()
            self._rx += self._recv_some()

    # --- protocol ----------------------------------------------------------------------
    def _session(self) -> None:
        while True:
            if self._app:
                data = self._recv_some()
                if not self._app:  # a reset into download mode came with these bytes
                    self._rx += data
                    continue
                if self.mode != "silent" and data:
                    self._send_raw(b"I (1042) app: running, not in download mode\r\n")
                continue
            frame = self._read_frame()
            if len(frame) < 8:
                continue
            direction, op, length, chk = struct.unpack("<BBHI", frame[:8])
            data = frame[8:]
            if direction != 0:
                continue
            name = OP_NAMES.get(op, f"0x{op:02X}")
            self.stats.commands[name] += 1
            f = self._fault
            if (
                f is not None
                and f.command == name
                and self.stats.sectors_programmed >= f.after_writes
            ):
                raise LinkCut  # the command arrived; the link died before its answer
            pause = self._pause
            if (
                pause is not None
                and pause.command == name
                and self.stats.commands[name] >= pause.nth
            ):
                self._hold(pause)
            if len(data) != length:
                self._fail(op, ROM_INVALID_MSG, STUB_BAD_DATA_LEN)
                continue
            with self._lock:
                self._dispatch(op, data, chk)
