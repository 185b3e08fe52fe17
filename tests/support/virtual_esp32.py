"""A virtual ESP32 that speaks esptool's serial protocol over TCP, for the test suite.

Real esptool (its Python API and its CLI) connects to it with a ``socket://127.0.0.1:PORT``
URL and cannot tell it from a unit held in download mode, for everything the project
does: connect, chip detection, stub upload, flash id, read, erase, write (plain and
deflated), MD5, baud change and security information. The flash is a byte array with
NOR semantics, the link counts every byte, and faults can be injected at any point, so
tests can prove what reaches the unit and what survives a cut.

Written from esptool 5.6's loader (``esptool/loader.py``, ``cmds.py``, ``targets/``): the
commands and registers it sends, and the replies it accepts. No code from other
projects.

Commands implemented (opcode, ROM ``R`` / stub ``S``):

- 0x08 SYNC (R: eight replies, value 0x20120707; S: value 0, so esptool sees a stub)
- 0x0A READ_REG, 0x09 WRITE_REG (R, S): a register file with per-chip eFuse words (MAC,
  chip revision and package, flash-encryption counter, key purposes, secure boot), the
  chip-detect magic at 0x40001000, UART_CLKDIV (follows the baud rate), and the SPI1
  controller: writing ``SPI_CMD_USR`` runs the user command in ``SPI_USR2`` (RDID 0x9F,
  RDSFDP 0x5A, RDSR 0x05/0x35/0x15, WREN/WRDI/WRSR/reset/power-down accepted) and puts the
  answer in ``SPI_W0`` masked to ``SPI_MISO_DLEN`` bits
- 0x14 GET_SECURITY_INFO (ESP32-S3/C3: 20 bytes, flash-crypt count from the configured
  flash-encryption state, chip id 9/5; ESP32 ROM: unknown command, as on the real chip)
- 0x05/0x07/0x06 MEM_BEGIN/DATA/END (checksums checked; MEM_END with an entry point
  answers ``OHAI`` and switches to stub behaviour: the stub is not executed)
- 0x0D SPI_ATTACH, 0x0B SPI_SET_PARAMS (in ROM mode flash beyond the set size, 2 MiB until
  set, is refused, as esptool's own comment on the ROM says)
- 0x02/0x03/0x04 FLASH_BEGIN/DATA/END and 0x10/0x11/0x12 FLASH_DEFL_BEGIN/DATA/END (zlib):
  ROM erases the whole region at BEGIN; the stub erases each sector when the write reaches
  it; sequence numbers and checksums are checked; END with "run" leaves the ROM for the
  application (the unit stops answering), END with "reboot" leaves the stub for the ROM
- 0x13 SPI_FLASH_MD5 (R: 32 lowercase hex characters; S: 16 raw bytes)
- 0xD2 READ_FLASH (S: 4 KiB packets, at most ``max_unacked`` unacknowledged, then the MD5
  frame; it waits for acknowledgements without any timeout, since esptool reads a
  ``socket://`` port one byte at a time)
- 0x0E READ_FLASH_SLOW (R: 64 bytes a command; esptool 5.6 sends it to every ESP32-family
  ROM)
- 0xD1 ERASE_REGION, 0xD0 ERASE_FLASH (S; ROM answers "invalid command")
- 0x0F CHANGE_BAUDRATE (R, S; the new rate only changes UART_CLKDIV, TCP has no baud)
- anything else: ROM status 0x01/0x05 ("invalid message"), stub 0xFF00 ("not implemented")

The flash: erasing sets a 4 KiB sector to 0xFF; programming ANDs the new bytes into the
old ones, so a write without an erase corrupts exactly as NOR flash does. Counters: bytes
in each direction, sectors erased, sectors programmed (each sector a write session starts
programming counts once), connections and commands. Faults (:meth:`VirtualESP32.arm_cut`):
cut the link after N more bytes in or out, or when the (N+1)th sector write begins, leaving
that sector torn (half programmed after its erase, or half erased): the in-flight command
gets no answer. A cut is one-shot; the unit then accepts a new connection, as a unit does
after its cable is plugged back in. Pauses (:meth:`VirtualESP32.arm_pause`) hold the
unit at such a point (a sector write about to begin, a command arriving) until the test
releases it, so a test can act (send a signal to a flashing process) at an exact point.

Transports: ``socket://`` (raw TCP, as ser2net gives) and ``rfc2217://`` (pyserial's
RFC 2217 PortManager handles the telnet side). Over RFC 2217 the RTS/DTR lines drive the
two-transistor auto-reset circuit of dev boards (EN low while RTS is asserted and DTR is
not, GPIO0 low in the opposite case, pulses on EN under 5 ms filtered as by its RC): a
reset with GPIO0 low boots the ROM loader (it prints its ``boot:0x3 ... waiting for
download`` banner), otherwise the firmware; ``auto_reset=False`` is a board without
the circuit. ``stats.boots`` records each boot.

Limits of its faithfulness (on purpose, or because the real behaviour is not documented):

- Each TCP connection is a power-on (in ``mode``: download, or ``app``, a unit running its
  firmware that prints log text and no SLIP, or ``silent``, nothing answers); the flash
  persists across connections. Over ``socket://`` RTS/DTR do not travel, so resets are
  invisible.
- No timing: erases and writes are instant; the stub answers a block after writing it
  (the real stub answers first and writes while the next block arrives).
- The ROM's exact reply to an unknown opcode (esptool expects possibly several, with a
  different opcode) is simplified to one reply with status 0x01/0x05.
- Flash beyond the chip's size is an error here; a real chip wraps addresses around.
- Flash encryption only changes the eFuse/security-info state: the flash holds whatever
  was loaded (a real encrypted unit holds ciphertext and decrypts on the fly).
- No secure boot, secure download mode, USB-JTAG, NAND, encrypted writes or SDC commands.
"""

from __future__ import annotations

import collections
import contextlib
import hashlib
import select
import socket
import struct
import threading
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any, Literal

__all__ = ["CHIPS", "ChipProfile", "LinkStats", "Pause", "VirtualESP32"]

KiB = 1024
MiB = 1024 * KiB
SECTOR = 0x1000

# Opcodes (esptool ESPLoader.ESP_CMDS).
FLASH_BEGIN, FLASH_DATA, FLASH_END = 0x02, 0x03, 0x04
MEM_BEGIN, MEM_END, MEM_DATA = 0x05, 0x06, 0x07
SYNC, WRITE_REG, READ_REG = 0x08, 0x09, 0x0A
SPI_SET_PARAMS, SPI_ATTACH, READ_FLASH_SLOW, CHANGE_BAUDRATE = 0x0B, 0x0D, 0x0E, 0x0F
FLASH_DEFL_BEGIN, FLASH_DEFL_DATA, FLASH_DEFL_END = 0x10, 0x11, 0x12
SPI_FLASH_MD5, GET_SECURITY_INFO = 0x13, 0x14
ERASE_FLASH, ERASE_REGION, READ_FLASH = 0xD0, 0xD1, 0xD2

OP_NAMES = {
    FLASH_BEGIN: "FLASH_BEGIN",
    FLASH_DATA: "FLASH_DATA",
    FLASH_END: "FLASH_END",
    MEM_BEGIN: "MEM_BEGIN",
    MEM_END: "MEM_END",
    MEM_DATA: "MEM_DATA",
    SYNC: "SYNC",
    WRITE_REG: "WRITE_REG",
    READ_REG: "READ_REG",
    SPI_SET_PARAMS: "SPI_SET_PARAMS",
    SPI_ATTACH: "SPI_ATTACH",
    READ_FLASH_SLOW: "READ_FLASH_SLOW",
    CHANGE_BAUDRATE: "CHANGE_BAUDRATE",
    FLASH_DEFL_BEGIN: "FLASH_DEFL_BEGIN",
    FLASH_DEFL_DATA: "FLASH_DEFL_DATA",
    FLASH_DEFL_END: "FLASH_DEFL_END",
    SPI_FLASH_MD5: "SPI_FLASH_MD5",
    GET_SECURITY_INFO: "GET_SECURITY_INFO",
    ERASE_FLASH: "ERASE_FLASH",
    ERASE_REGION: "ERASE_REGION",
    READ_FLASH: "READ_FLASH",
}

# Status codes: ROM replies (status, error) = (1, code); the stub puts its code in the
# first byte (esptool's FatalError.WithResult tables).
ROM_INVALID_MSG = 0x05
ROM_RESULT_WRONG = 0x06
ROM_CHECKSUM = 0x07
ROM_FLASH_WRITE = 0x08
ROM_FLASH_READ = 0x09
ROM_DEFLATE = 0x0B
STUB_BAD_DATA_LEN = 0xC0
STUB_BAD_CHECKSUM = 0xC1
STUB_FAILED_SPI_OP = 0xC4
STUB_NOT_IN_FLASH_MODE = 0xC6
STUB_INFLATE_ERROR = 0xC7
STUB_NOT_ENOUGH_DATA = 0xC8
STUB_TOO_MUCH_DATA = 0xC9
STUB_NOT_IMPLEMENTED = 0xFF

CHECKSUM_SEED = 0xEF
ROM_SYNC_VALUE = 0x20120707
ROM_DEFAULT_FLASH_SIZE = 2 * MiB
CHIP_DETECT_MAGIC_REG = 0x40001000
# What the ROM prints on UART0 when it starts (esptool looks for "boot:0x..").
BOOT_LOG_DOWNLOAD = (
    b"ets Jul 29 2019 12:21:46\r\n\r\nrst:0x1 (POWERON_RESET),boot:0x3 "
    b"(DOWNLOAD_BOOT(UART0/UART1/SDIO_REI_REO_V2))\r\nwaiting for download\r\n"
)
BOOT_LOG_APP = (
    b"ets Jul 29 2019 12:21:46\r\n\r\nrst:0x1 (POWERON_RESET),boot:0x13 "
    b"(SPI_FAST_FLASH_BOOT)\r\nI (31) boot: ESP-IDF bootloader\r\n"
)
# EN has an RC filter (10 kOhm, 1 uF on most boards): shorter pulses do not reset.
EN_FILTER_S = 0.005
XTAL_HZ = 40_000_000
DEFAULT_BAUD = 115200

# SPI_CMD_REG bit that starts a user command; SPI_USR_REG flag bits.
SPI_CMD_USR = 1 << 18
SPI_USR_ADDR = 1 << 30
SPI_USR_MISO = 1 << 28
SPI_USR_ADDR_LEN_SHIFT = 26

# JEDEC ids: manufacturer 0xC8 (GigaDevice), type 0x40, capacity 2^n bytes.
JEDEC_CAPACITY = {4 * MiB: 0x16, 8 * MiB: 0x17, 16 * MiB: 0x18}


def _sfdp_table() -> bytes:
    """A minimal SFDP area: signature, one JEDEC basic parameter header, 0xFF after."""
    header = b"SFDP" + bytes([0x06, 0x01, 0x00, 0xFF])  # rev 1.6, 1 header, access 0xFF
    param = bytes([0x00, 0x06, 0x01, 0x10, 0x30, 0x00, 0x00, 0xFF])  # id 0, 16 dwords @0x30
    table = header + param
    return table + b"\xff" * (0x100 - len(table))


SFDP = _sfdp_table()


@dataclass(frozen=True)
class ChipProfile:
    """The registers of one chip that esptool reads, at that chip's addresses."""

    key: str
    name: str
    magic: int
    chip_id: int | None  # in GET_SECURITY_INFO; None: the ROM lacks the command
    spi_base: int
    spi_usr: int
    spi_usr1: int
    spi_usr2: int
    spi_miso_dlen: int
    spi_w0: int
    spi_addr_msb: bool
    uart_clkdiv: int
    efuse_base: int

    def registers(self, mac: bytes) -> dict[int, int]:
        """Power-on values of the registers esptool reads (all others read as 0)."""
        if self.key == "esp32":
            e = self.efuse_base
            return {
                e + 4: int.from_bytes(mac[2:6], "big"),  # EFUSE_BLK0_RDATA1: MAC low
                e + 8: int.from_bytes(mac[0:2], "big"),  # RDATA2: MAC high (CRC left 0)
                e + 12: (1 << 9) | (1 << 15),  # RDATA3: package D0WD, revision bit 0
                e + 16: 64,  # RDATA4: CK8M frequency (the ROM's baud correction)
                e + 20: 1 << 20,  # RDATA5: revision bit 1
                0x3FF6607C: 1 << 31,  # APB_CTL_DATE: revision bit 2 -> v3.0
                0x3FF5F06C: 1600 << 7,  # RTCCALICFG1: ROM-calibrated 40 MHz crystal
            }
        block1 = self.efuse_base + 0x44
        minor = 2 if self.key == "esp32s3" else 4
        return {
            block1: int.from_bytes(mac[2:6], "big"),
            block1 + 4: int.from_bytes(mac[0:2], "big"),
            block1 + 12: minor << 18,  # word 3: package 0, minor revision
        }

    def security_registers(self, flash_encryption: bool) -> dict[int, int]:
        """eFuse words that say whether flash encryption is on."""
        if not flash_encryption:
            return {}
        if self.key == "esp32":
            # FLASH_CRYPT_CNT (bits 20..26 of BLK0 word 0) odd; FLASH_CRYPT_CONFIG 0xF.
            return {self.efuse_base: 1 << 20, self.efuse_base + 20: (1 << 20) | (0xF << 28)}
        # SPI_BOOT_CRYPT_CNT bits 18..20 of +0x34, KEY_PURPOSE_0 = XTS_AES_128_KEY (4).
        return {self.efuse_base + 0x34: (1 << 18) | (4 << 24)}


CHIPS: dict[str, ChipProfile] = {
    "esp32": ChipProfile(
        key="esp32",
        name="ESP32",
        magic=0x00F01D83,
        chip_id=None,
        spi_base=0x3FF42000,
        spi_usr=0x1C,
        spi_usr1=0x20,
        spi_usr2=0x24,
        spi_miso_dlen=0x2C,
        spi_w0=0x80,
        spi_addr_msb=True,
        uart_clkdiv=0x3FF40014,
        efuse_base=0x3FF5A000,
    ),
    "esp32s3": ChipProfile(
        key="esp32s3",
        name="ESP32-S3",
        magic=0x00000009,
        chip_id=9,
        spi_base=0x60002000,
        spi_usr=0x18,
        spi_usr1=0x1C,
        spi_usr2=0x20,
        spi_miso_dlen=0x28,
        spi_w0=0x58,
        spi_addr_msb=False,
        uart_clkdiv=0x60000014,
        efuse_base=0x60007000,
    ),
}
# The C3 has the S3's SPI and UART layout; only identity and eFuse block differ.
CHIPS["esp32c3"] = replace(
    CHIPS["esp32s3"],
    key="esp32c3",
    name="ESP32-C3",
    magic=0x1B31506F,
    chip_id=5,
    efuse_base=0x60008800,
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


class _Disconnected(Exception):
    """The host closed the connection."""


@dataclass
class _Fault:
    bytes_in: int | None = None  # absolute LinkStats.bytes_in at which to cut
    bytes_out: int | None = None
    sector_writes: int | None = None  # absolute sectors_programmed after which to cut
    tear: Literal["program", "erase"] = "program"


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
class _WriteSession:
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


class VirtualESP32:
    """One virtual unit served on 127.0.0.1 (use as a context manager, one per test).

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
        self._lines = _Lines(self._lines_changed)
        self.stats = LinkStats()
        self._fault: _Fault | None = None
        self._pause: Pause | None = None
        self._lock = threading.RLock()
        self._stop = threading.Event()
        self._listener: socket.socket | None = None
        self._client: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self.errors: list[BaseException] = []  # unexpected exceptions in the server
        self._reset_session()

    # --- lifecycle ---------------------------------------------------------------------
    def start(self) -> VirtualESP32:
        self._listener = socket.create_server(("127.0.0.1", 0))
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
        return f"{self.transport}://127.0.0.1:{self.port}"

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
    ) -> None:
        """Cut the link after N more bytes in/out, or once N more sectors are written.

        With ``sector_writes=N`` the cut comes when the (N+1)th sector starts: it is left
        torn (``tear="program"``: erased, then only its first half programmed;
        ``tear="erase"``: only its first half erased, when the stub erases it).
        """
        s = self.stats
        self._fault = _Fault(
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
                raise _Disconnected

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

                self._lines = _Lines(self._lines_changed)
                self._en_low = False
                self._boot_pending = False
                self._telnet = PortManager(self._lines, _Connection(conn))
            try:
                self._session()
            except (_Disconnected, ConnectionError):
                pass
            except LinkCut:
                self.stats.cuts += 1
                self._fault = None
            except Exception as e:  # a bug in the virtual unit: make the test see it
                if not self._stop.is_set():
                    self.errors.append(e)
            finally:
                _close(conn)
                self._client = None
                self._telnet = None

    def _reset_session(self, *, download: bool | None = None) -> None:
        """Power-on: ROM download mode (or the firmware), registers at reset values."""
        self._stub = False
        self._app = self.mode != "download" if download is None else not download
        self._baud = DEFAULT_BAUD
        self._rom_flash_size = ROM_DEFAULT_FLASH_SIZE
        self._write: _WriteSession | None = None
        self._mem_expected = 0
        self._rx = bytearray()
        regs = self.chip.registers(self.mac)
        for addr, value in self.chip.security_registers(self.flash_encryption).items():
            regs[addr] = regs.get(addr, 0) | value
        regs[CHIP_DETECT_MAGIC_REG] = self.chip.magic
        self._regs = regs
        self._update_clkdiv()

    def _update_clkdiv(self) -> None:
        self._regs[self.chip.uart_clkdiv] = XTAL_HZ // self._baud

    # --- raw I/O with counters and faults ----------------------------------------------
    def _recv_some(self) -> bytes:
        conn = self._client
        assert conn is not None
        if self._link_dead:
            raise LinkCut
        select.select([conn, self._wake_r], [], [])
        if self._stop.is_set():
            raise _Disconnected
        data = conn.recv(65536)
        if not data:
            raise _Disconnected
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

    def _reply(self, op: int, value: int = 0, payload: bytes = b"", status: int = 0) -> None:
        """A response: header, payload, then status bytes (4 from the ROM, 2 from the stub)."""
        tail = bytes([status, 0]) if self._stub else bytes([1 if status else 0, status, 0, 0])
        body = payload + tail
        self._send_frame(struct.pack("<BBHI", 1, op, len(body), value) + body)

    def _fail(self, op: int, rom_code: int, stub_code: int, payload_len: int = 0) -> None:
        self._reply(op, payload=b"\x00" * payload_len, status=stub_code if self._stub else rom_code)

    def _dispatch(self, op: int, data: bytes, chk: int) -> None:
        handler = {
            SYNC: self._sync,
            READ_REG: self._read_reg,
            WRITE_REG: self._write_reg,
            GET_SECURITY_INFO: self._security_info,
            MEM_BEGIN: self._mem_begin,
            MEM_DATA: self._mem_data,
            MEM_END: self._mem_end,
            SPI_ATTACH: self._ack,
            SPI_SET_PARAMS: self._spi_set_params,
            FLASH_BEGIN: self._flash_begin,
            FLASH_DEFL_BEGIN: self._flash_begin,
            FLASH_DATA: self._flash_data,
            FLASH_DEFL_DATA: self._flash_data,
            FLASH_END: self._flash_end,
            FLASH_DEFL_END: self._flash_end,
            SPI_FLASH_MD5: self._md5,
            READ_FLASH: self._read_flash,
            READ_FLASH_SLOW: self._read_flash_slow,
            ERASE_REGION: self._erase_region,
            ERASE_FLASH: self._erase_flash,
            CHANGE_BAUDRATE: self._change_baud,
        }.get(op)
        if handler is None:
            self._fail(op, ROM_INVALID_MSG, STUB_NOT_IMPLEMENTED)
            return
        handler(op, data, chk)

    def _ack(self, op: int, data: bytes, chk: int) -> None:
        self._reply(op)

    def _sync(self, op: int, data: bytes, chk: int) -> None:
        if data != b"\x07\x07\x12\x20" + b"\x55" * 32:
            self._fail(op, ROM_INVALID_MSG, STUB_BAD_DATA_LEN)
            return
        for _ in range(8):
            self._reply(op, value=0 if self._stub else ROM_SYNC_VALUE)

    # registers and the SPI controller
    def _read_reg(self, op: int, data: bytes, chk: int) -> None:
        if len(data) != 4:
            self._fail(op, ROM_INVALID_MSG, STUB_BAD_DATA_LEN)
            return
        (addr,) = struct.unpack("<I", data)
        self._reply(op, value=self._regs.get(addr, 0))

    def _write_reg(self, op: int, data: bytes, chk: int) -> None:
        if not data or len(data) % 16:
            self._fail(op, ROM_INVALID_MSG, STUB_BAD_DATA_LEN)
            return
        for pos in range(0, len(data), 16):
            addr, value, mask, _delay = struct.unpack("<IIII", data[pos : pos + 16])
            old = self._regs.get(addr, 0)
            self._regs[addr] = (old & ~mask) | (value & mask)
            if addr == self.chip.spi_base and value & mask & SPI_CMD_USR:
                self._run_spi_command()
        self._reply(op)

    def _run_spi_command(self) -> None:
        c = self.chip
        regs = self._regs
        usr = regs.get(c.spi_base + c.spi_usr, 0)
        command = regs.get(c.spi_base + c.spi_usr2, 0) & 0xFF
        result = 0
        if usr & SPI_USR_MISO:
            if command == 0x9F:  # RDID
                result = 0xC8 | (0x40 << 8) | (JEDEC_CAPACITY[len(self.flash)] << 16)
            elif command == 0x5A:  # RDSFDP
                addr = regs.get(c.spi_base + 4, 0)
                if c.spi_addr_msb and usr & SPI_USR_ADDR:
                    addr_len = ((regs.get(c.spi_base + c.spi_usr1, 0) >> 26) & 0x3F) + 1
                    addr >>= 32 - addr_len
                addr &= 0xFF
                result = int.from_bytes((SFDP + b"\xff" * 4)[addr : addr + 4], "little")
            # RDSR/RDSR2/RDSR3 and anything else read back 0: no protection bits set
            bits = (regs.get(c.spi_base + c.spi_miso_dlen, 0) & 0xFFFFFF) + 1
            if bits < 32:
                result &= (1 << bits) - 1
        regs[c.spi_base + c.spi_w0] = result
        regs[c.spi_base] = regs.get(c.spi_base, 0) & ~SPI_CMD_USR  # done

    def _security_info(self, op: int, data: bytes, chk: int) -> None:
        if self.chip.chip_id is None:
            self._fail(op, ROM_INVALID_MSG, STUB_NOT_IMPLEMENTED)
            return
        purposes = [4 if self.flash_encryption else 0] + [0] * 6
        payload = struct.pack(
            "<IB7BII", 0, 1 if self.flash_encryption else 0, *purposes, self.chip.chip_id, 0
        )
        self._reply(op, payload=payload)

    # RAM download (the stub)
    def _mem_begin(self, op: int, data: bytes, chk: int) -> None:
        if len(data) != 16:
            self._fail(op, ROM_INVALID_MSG, STUB_BAD_DATA_LEN)
            return
        _size, blocks, _block_size, _offset = struct.unpack("<IIII", data)
        self._mem_expected = blocks
        self._mem_seq = 0
        self._reply(op)

    def _mem_data(self, op: int, data: bytes, chk: int) -> None:
        length, seq, _, _ = struct.unpack("<IIII", data[:16])
        block = data[16:]
        if len(block) != length or _checksum(block) != chk:
            self._fail(op, ROM_CHECKSUM, STUB_BAD_CHECKSUM)
            return
        if seq != self._mem_seq or seq >= self._mem_expected:
            self._fail(op, ROM_RESULT_WRONG, STUB_BAD_DATA_LEN)
            return
        self._mem_seq += 1
        self._reply(op)

    def _mem_end(self, op: int, data: bytes, chk: int) -> None:
        if len(data) != 8:
            self._fail(op, ROM_INVALID_MSG, STUB_BAD_DATA_LEN)
            return
        no_entry, entry = struct.unpack("<II", data)
        self._reply(op)
        if not no_entry and entry and not self._stub:
            self._send_frame(b"OHAI")
            self._stub = True

    # flash
    def _limit(self) -> int:
        return len(self.flash) if self._stub else min(self._rom_flash_size, len(self.flash))

    def _spi_set_params(self, op: int, data: bytes, chk: int) -> None:
        if len(data) != 24:
            self._fail(op, ROM_INVALID_MSG, STUB_BAD_DATA_LEN)
            return
        _id, total, _block, _sector, _page, _mask = struct.unpack("<IIIIII", data)
        self._rom_flash_size = total
        self._reply(op)

    def _flash_begin(self, op: int, data: bytes, chk: int) -> None:
        if len(data) not in (16, 20):
            self._fail(op, ROM_INVALID_MSG, STUB_BAD_DATA_LEN)
            return
        size, blocks, block_size, offset = struct.unpack("<IIII", data[:16])
        if len(data) == 20 and struct.unpack("<I", data[16:])[0]:
            self._fail(op, ROM_INVALID_MSG, STUB_NOT_IMPLEMENTED)  # encrypted writes
            return
        if offset + size > self._limit():
            self._fail(op, ROM_FLASH_WRITE, STUB_FAILED_SPI_OP)
            return
        compressed = op == FLASH_DEFL_BEGIN
        session = _WriteSession(
            offset=offset,
            size=size,
            blocks=blocks,
            block_size=block_size,
            compressed=compressed,
            inflater=zlib.decompressobj() if compressed else None,
        )
        if not self._stub and size:
            # The ROM erases the whole region up front (esptool times the erase here).
            for sector in _sectors(offset, size):
                self._erase_sector(sector)
                session.erased.add(sector)
        self._write = session
        self._reply(op)

    def _flash_data(self, op: int, data: bytes, chk: int) -> None:
        s = self._write
        compressed = op == FLASH_DEFL_DATA
        if s is None or s.compressed != compressed:
            self._fail(op, ROM_RESULT_WRONG, STUB_NOT_IN_FLASH_MODE)
            return
        if len(data) < 16:
            self._fail(op, ROM_INVALID_MSG, STUB_BAD_DATA_LEN)
            return
        length, seq, _, _ = struct.unpack("<IIII", data[:16])
        block = data[16:]
        if len(block) != length:
            self._fail(op, ROM_INVALID_MSG, STUB_BAD_DATA_LEN)
            return
        if _checksum(block) != chk:
            self._fail(op, ROM_CHECKSUM, STUB_BAD_CHECKSUM)
            return
        if seq != s.next_seq:
            self._fail(op, ROM_RESULT_WRONG, STUB_BAD_DATA_LEN)
            return
        if s.inflater is not None:
            try:
                plain = s.inflater.decompress(block)
            except zlib.error:
                self._fail(op, ROM_DEFLATE, STUB_INFLATE_ERROR)
                return
            if s.written + len(plain) > s.size:
                self._fail(op, ROM_DEFLATE, STUB_TOO_MUCH_DATA)
                return
        else:
            # The last block is padded with 0xFF: programming 0xFF changes nothing, so it
            # is dropped (and not counted). The ROM programs data past the region it
            # erased at BEGIN; there NOR flash only clears bits.
            plain = block[: max(s.size - s.written, 0)]
            if not self._stub and block[len(plain) :].strip(b"\xff"):
                plain = block
        if s.offset + s.written + len(plain) > len(self.flash):
            self._fail(op, ROM_FLASH_WRITE, STUB_FAILED_SPI_OP)
            return
        s.next_seq += 1
        self._program(s, plain)
        self._reply(op)

    def _flash_end(self, op: int, data: bytes, chk: int) -> None:
        s = self._write
        if len(data) != 4:
            self._fail(op, ROM_INVALID_MSG, STUB_BAD_DATA_LEN)
            return
        (stay,) = struct.unpack("<I", data)
        if self._stub and s is not None and s.written < s.size:
            self._fail(op, ROM_RESULT_WRONG, STUB_NOT_ENOUGH_DATA)
            return
        self._write = None
        self._reply(op)
        if not self._stub and stay:
            self._app = True  # the ROM leaves the loader and runs the application
        elif self._stub and not stay:
            self._reset_session()  # the stub reboots into the ROM loader

    def _program(self, s: _WriteSession, data: bytes) -> None:
        """Program ``data`` at the session's cursor, one sector span at a time."""
        pos = 0
        while pos < len(data):
            addr = s.offset + s.written
            sector = addr - addr % SECTOR
            chunk = data[pos : pos + (sector + SECTOR - addr)]
            if sector not in s.started:
                pause = self._pause
                if (
                    pause is not None
                    and pause.sector_writes is not None
                    and self.stats.sectors_programmed >= pause.sector_writes
                ):
                    self._hold(pause)
                f = self._fault
                limit = None if f is None else f.sector_writes
                if f is not None and limit is not None and self.stats.sectors_programmed >= limit:
                    self._tear(s, sector, addr, chunk, f.tear)
                s.started.add(sector)
                self.stats.sectors_programmed += 1
            if self._stub and sector not in s.erased:
                self._erase_sector(sector)  # the stub erases as the write reaches a sector
                s.erased.add(sector)
            self._and_into(addr, chunk)
            s.written += len(chunk)
            pos += len(chunk)

    def _tear(self, s: _WriteSession, sector: int, addr: int, chunk: bytes, tear: str) -> None:
        """The link dies while this sector is being written: leave it as power loss could."""
        if tear == "erase":
            if sector not in s.erased:  # the stub was erasing it: half done
                self.flash[sector : sector + SECTOR // 2] = b"\xff" * (SECTOR // 2)
                self.stats.sectors_erased += 1
        else:
            if sector not in s.erased:
                self._erase_sector(sector)
            self._and_into(addr, chunk[: max(1, len(chunk) // 2)])
        self.stats.sectors_programmed += 1
        raise LinkCut

    def _erase_sector(self, sector: int) -> None:
        self.flash[sector : sector + SECTOR] = b"\xff" * SECTOR
        self.stats.sectors_erased += 1

    def _and_into(self, addr: int, data: bytes) -> None:
        n = len(data)
        old = int.from_bytes(self.flash[addr : addr + n], "little")
        self.flash[addr : addr + n] = (old & int.from_bytes(data, "little")).to_bytes(n, "little")

    def _md5(self, op: int, data: bytes, chk: int) -> None:
        if len(data) != 16:
            self._fail(op, ROM_INVALID_MSG, STUB_BAD_DATA_LEN)
            return
        addr, size, _, _ = struct.unpack("<IIII", data)
        if addr + size > self._limit():
            self._fail(op, ROM_FLASH_READ, STUB_FAILED_SPI_OP, 16 if self._stub else 32)
            return
        digest = hashlib.md5(self.flash[addr : addr + size])
        payload = digest.digest() if self._stub else digest.hexdigest().encode()
        self._reply(op, payload=payload)

    def _read_flash(self, op: int, data: bytes, chk: int) -> None:
        if not self._stub:
            self._fail(op, ROM_INVALID_MSG, STUB_NOT_IMPLEMENTED)
            return
        if len(data) != 16:
            self._fail(op, ROM_INVALID_MSG, STUB_BAD_DATA_LEN)
            return
        offset, length, packet, max_unacked = struct.unpack("<IIII", data)
        if offset + length > len(self.flash) or packet == 0:
            self._fail(op, ROM_FLASH_READ, STUB_FAILED_SPI_OP)
            return
        window = (self.max_unacked or max_unacked or 1) * packet
        self._reply(op)
        content = bytes(self.flash[offset : offset + length])
        sent = acked = 0
        while acked < length:
            while sent < length and sent - acked < window:
                self._send_frame(content[sent : sent + packet])
                sent = min(sent + packet, length)
            ack = self._read_frame()
            if len(ack) != 4:
                return  # not an acknowledgement: the stub gives up the transfer
            acked = max(acked, struct.unpack("<I", ack)[0])
        self._send_frame(hashlib.md5(content).digest())

    def _read_flash_slow(self, op: int, data: bytes, chk: int) -> None:
        if self._stub:
            self._fail(op, ROM_INVALID_MSG, STUB_NOT_IMPLEMENTED)
            return
        if len(data) != 8:
            self._fail(op, ROM_INVALID_MSG, STUB_BAD_DATA_LEN)
            return
        offset, length = struct.unpack("<II", data)
        if length > 64 or offset + length > self._limit():
            self._fail(op, ROM_FLASH_READ, STUB_FAILED_SPI_OP, 64)
            return
        block = bytes(self.flash[offset : offset + length])
        self._reply(op, payload=block + b"\xff" * (64 - len(block)))

    def _erase_region(self, op: int, data: bytes, chk: int) -> None:
        if not self._stub:
            self._fail(op, ROM_INVALID_MSG, STUB_NOT_IMPLEMENTED)
            return
        if len(data) != 8:
            self._fail(op, ROM_INVALID_MSG, STUB_BAD_DATA_LEN)
            return
        offset, size = struct.unpack("<II", data)
        if offset % SECTOR or size % SECTOR:
            self._fail(op, ROM_INVALID_MSG, STUB_BAD_DATA_LEN)
            return
        if offset + size > len(self.flash):
            self._fail(op, ROM_FLASH_WRITE, STUB_FAILED_SPI_OP)
            return
        for sector in _sectors(offset, size):
            self._erase_sector(sector)
        self._reply(op)

    def _erase_flash(self, op: int, data: bytes, chk: int) -> None:
        if not self._stub:
            self._fail(op, ROM_INVALID_MSG, STUB_NOT_IMPLEMENTED)
            return
        for sector in range(0, len(self.flash), SECTOR):
            self._erase_sector(sector)
        self._reply(op)

    def _change_baud(self, op: int, data: bytes, chk: int) -> None:
        if len(data) != 8:
            self._fail(op, ROM_INVALID_MSG, STUB_BAD_DATA_LEN)
            return
        new, _old = struct.unpack("<II", data)
        self._reply(op)
        if new:
            self._baud = new
            self._update_clkdiv()


def _checksum(data: bytes) -> int:
    """esptool's checksum: 0xEF XOR every byte (folded as one big integer, for speed)."""
    x = int.from_bytes(data, "little")
    bits = max(8, len(data) * 8)
    while bits > 8:
        half = (bits // 16 + bits % 16 // 8) * 8  # whole bytes, at least half
        x = (x >> half) ^ (x & ((1 << half) - 1))
        bits = half
    return CHECKSUM_SEED ^ x


def _sectors(offset: int, size: int) -> range:
    start = offset - offset % SECTOR
    end = offset + size
    return range(start, end, SECTOR)


def _close(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    sock.close()


class _Lines:
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


class _Connection:
    """What pyserial's PortManager writes its telnet answers to."""

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock

    def write(self, data: bytes) -> None:
        self._sock.sendall(data)
