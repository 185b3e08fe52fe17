"""A unit on a serial port, driven through esptool's Python API (never its CLI or output).

:func:`open_unit` connects (any pyserial port or URL: ``/dev/ttyUSB0``, ``COM3``,
``socket://host:port``, ``rfc2217://host:port``), checks the chip against the one
expected, loads esptool's flasher stub, raises the baud rate and attaches the flash. The
:class:`SerialUnit` it returns is a :class:`~esp_cabundle.flash.base.Flash`.

Reads, erases and writes go through esptool's loader methods (``read_flash``,
``erase_region``, ``flash_defl_begin``/``flash_defl_block``, ``flash_md5sum``) rather
than ``esptool.cmds.write_flash``: that command silently reconnects and rewrites after a
serial error, and cannot say which sectors reached the unit. Here every block the unit
acknowledges is counted, so a lost link is reported with exactly what was done, and every
write is checked by the unit's own MD5 of the range.

esptool reports through a process-wide logger; :mod:`.esptool_log` routes its messages
to each operation's progress callback, so nothing esptool says is printed directly.
Opening the port and translating its errors is :mod:`.ports`.

esptool is imported inside the functions only: ``esp-cabundle --help`` and ``build``
never load it.
"""

from __future__ import annotations

import hashlib
import logging
import re
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Literal, TypedDict

from ..arguments import check_port
from ..errors import DeviceError, FlashError
from .base import SECTOR_SIZE, Flash, Message, Progress, ProgressCallback
from .esptool_log import esptool_output
from .ports import (
    bridge_hint,
    connect_error,
    is_link_failure,
    open_rfc2217_port,
    open_socket_port,
    port_error,
    url_scheme,
)

__all__ = [
    "DEFAULT_BAUD",
    "Link",
    "ResetMode",
    "SecurityInfo",
    "SerialUnit",
    "UnitInfo",
    "chip_key",
    "esptool_output",
    "open_unit",
]

logger = logging.getLogger(__name__)

ResetMode = Literal["default-reset", "usb-reset", "no-reset"]
AfterMode = Literal["hard-reset", "no-reset"]


class Link(TypedDict, total=False):
    """How to reach a unit and how to leave it, as :func:`open_unit` takes them: the
    functions that connect on a caller's behalf (read, inspect, flash, restore) take
    these keywords and pass them on as they are."""

    baud: int | None
    reset: ResetMode
    after: AfterMode
    connect_attempts: int | None


# esptool's CLI default; ROM bootloaders sync at 115200 and the stub then switches.
DEFAULT_BAUD = 460800
ROM_BAUD = 115200
# esptool's read_flash accumulates with bytes +=: read in bounded chunks (each still
# checked by the unit's MD5) to keep that cost linear.
READ_CHUNK = 0x40000


@dataclass(frozen=True, slots=True)
class UnitInfo:
    """What the unit said about itself when it connected."""

    port: str
    chip: str  # esptool's CHIP_NAME: "ESP32", "ESP32-S3", ...
    description: str  # "ESP32-D0WD-V3 (revision v3.0)"
    features: tuple[str, ...]
    mac: str  # "24:0a:c4:12:34:56"
    flash_size: int
    flash_id: int  # JEDEC id as esptool reads it (manufacturer in the low byte)
    stub: bool


@dataclass(frozen=True, slots=True)
class SecurityInfo:
    """The chip's own security state (eFuses), not what a partition table claims."""

    flash_encryption: bool
    secure_boot: bool
    secure_download_mode: bool


def chip_key(name: str) -> str:
    """``"ESP32-S3"``, ``"esp32s3"``, ``"esp32-s3"`` -> ``"esp32s3"``."""
    return re.sub(r"[^a-z0-9]", "", name.lower())


def _chip_name(name: str) -> str:
    """esptool's spelling of a chip name (``esp32s3`` -> ``ESP32-S3``)."""
    from esptool.targets import CHIP_DEFS

    cls = CHIP_DEFS.get(chip_key(name))
    return str(cls.CHIP_NAME) if cls is not None else name


def _mac(esp: Any) -> str:
    return ":".join(f"{b:02x}" for b in esp.read_mac())


def _said_so_far(port: str, esp: Any) -> UnitInfo | None:
    """The unit as far as it said before the stub and the flash: its chip and MAC (the
    flash unread: size and id 0); None when the ROM refuses the MAC read (the failure
    that follows is then said as it comes). A link lost or silent here is raised: going
    on would wait out another timeout before saying the same."""
    try:
        mac = _mac(esp)
    except Exception as e:
        if is_link_failure(e):
            raise
        return None
    chip = str(esp.CHIP_NAME)
    return UnitInfo(port, chip, chip, (), mac, flash_size=0, flash_id=0, stub=False)


def open_unit(
    port: str,
    *,
    baud: int | None = None,
    reset: ResetMode = "default-reset",
    after: AfterMode = "hard-reset",
    expected_chip: str | tuple[str, ...] | None = None,
    stub: bool = True,
    connect_attempts: int | None = None,
    progress: ProgressCallback | None = None,
    stop: Callable[[], None] | None = None,
) -> SerialUnit:
    """Connect to a unit in download mode and make its flash ready to use.

    ``baud`` is the rate after connecting (None: :data:`DEFAULT_BAUD`); ``reset`` is
    how to put it in download mode (esptool's ``--before``; over
    ``socket://`` no reset is possible and "no-reset" is used); ``after`` is what
    :meth:`SerialUnit.close` does (``hard-reset`` runs the firmware again).
    ``expected_chip`` (one name or several, any spelling: ``ESP32-S3``, ``esp32s3``)
    makes a different chip an error before anything else is done.

    Raises DeviceError: no such port, permission denied, port busy, nothing listening,
    no answer from the bootloader, chip mismatch, link lost while connecting.
    ``stop`` is called between esptool's connect attempts and steps; what it raises
    (a stop requested: nothing has been written) ends the connecting at once.
    """
    check_port(port, "open_unit")  # None failed deep inside esptool: 'not iterable'
    return SerialUnit._connect(
        port,
        baud=baud or DEFAULT_BAUD,
        reset=reset,
        after=after,
        expected_chip=expected_chip,
        stub=stub,
        connect_attempts=connect_attempts,
        progress=progress,
        stop=stop,
    )


class SerialUnit(Flash):
    """A connected unit (make one with :func:`open_unit`); close it, or use ``with``."""

    def __init__(
        self, esp: Any, info: UnitInfo, *, after: AfterMode, progress: ProgressCallback | None
    ) -> None:
        self._esp = esp
        self.info = info
        self.after = after
        self.progress = progress
        self._closed = False

    # --- connecting ----------------------------------------------------------------------
    @classmethod
    def _connect(
        cls,
        port: str,
        *,
        baud: int,
        reset: ResetMode,
        after: AfterMode,
        expected_chip: str | tuple[str, ...] | None,
        stub: bool,
        connect_attempts: int | None,
        progress: ProgressCallback | None,
        stop: Callable[[], None] | None,
    ) -> SerialUnit:
        import serial
        from esptool.cmds import attach_flash, detect_chip, detect_flash_size, run_stub
        from esptool.loader import DEFAULT_CONNECT_ATTEMPTS
        from esptool.util import FatalError, NotImplementedInROMError, flash_size_bytes

        def sink(m: Message) -> None:
            if progress is not None:
                progress(m)

        with esptool_output(sink, poll=stop):
            sink(Message("info", f"Connecting to {port}"))
            scheme = url_scheme(port)  # SOCKET:// is socket:// (RFC 3986 section 3.1)
            is_socket = scheme == "socket"
            is_url = scheme in ("socket", "rfc2217")
            target: Any = port
            if is_url:
                opener = open_socket_port if is_socket else open_rfc2217_port
                try:
                    target = opener(port)
                except (serial.SerialException, OSError) as e:
                    raise port_error(port, str(e)) from e
            try:
                esp = detect_chip(
                    port=target,
                    baud=ROM_BAUD,
                    connect_mode="no-reset" if is_socket else reset,
                    trace_enabled=False,
                    connect_attempts=connect_attempts or DEFAULT_CONNECT_ATTEMPTS,
                )
            except BaseException as e:
                if is_url:
                    target.close()
                if isinstance(e, FatalError):
                    raise connect_error(port, e) from e
                if isinstance(e, (serial.SerialException, OSError)):
                    raise DeviceError(
                        f"{port}: link lost while connecting ({e})", hint=bridge_hint(port)
                    ) from e
                raise

            said: UnitInfo | None = None
            step = "reading the MAC"
            try:
                # The MAC first (two eFuse reads the ROM answers): a unit refused or lost
                # while connecting is still named by it in a station's line and log.
                # Inside the try: whatever ends the read (Ctrl-C too) closes the port.
                said = _said_so_far(port, esp)
                step = "checking the chip"
                if expected_chip is not None:
                    wanted = (expected_chip,) if isinstance(expected_chip, str) else expected_chip
                    if chip_key(esp.CHIP_NAME) not in {chip_key(w) for w in wanted}:
                        raise DeviceError(
                            f"{port}: the unit is an {esp.CHIP_NAME}, but "
                            f"{' or '.join(_chip_name(w) for w in wanted)} was expected",
                            hint="check the port, or choose the board made for this chip",
                        )
                if stub:
                    step = "loading the flasher stub"
                    esp = run_stub(esp)
                if baud > ROM_BAUD:
                    step = f"changing the baud rate to {baud}"
                    try:
                        esp.change_baud(baud)
                    except NotImplementedInROMError:
                        sink(Message("note", f"the ROM cannot change baud: staying at {ROM_BAUD}"))
                step = "attaching the flash"
                attach_flash(esp)
                flash_id = int(esp.flash_id())
                size_name = detect_flash_size(esp)
                if size_name is None:
                    raise DeviceError(
                        f"{port}: cannot tell the flash size from its JEDEC id {flash_id:#08x}",
                        hint="the flash chip may be unsupported or badly connected",
                    )
                size = int(flash_size_bytes(size_name))
                esp.flash_set_parameters(size)
                step = "reading the chip's identity"
                mac = said.mac if said is not None else _mac(esp)
                info = UnitInfo(
                    port=port,
                    chip=str(esp.CHIP_NAME),
                    description=str(esp.get_chip_description()),
                    features=tuple(str(f) for f in esp.get_chip_features()),
                    mac=mac,
                    flash_size=size,
                    flash_id=flash_id,
                    stub=bool(esp.IS_STUB),
                )
            except BaseException as e:
                _close_port(esp)
                if isinstance(e, DeviceError):
                    e.unit = e.unit or said
                    raise
                if isinstance(e, (FatalError, serial.SerialException, OSError)):
                    if is_link_failure(e):
                        err = DeviceError(f"{port}: link lost while {step} ({e})")
                    else:
                        err = DeviceError(f"{port}: failed while {step}: {e}")
                    err.unit = said
                    raise err from e
                raise
            sink(
                Message(
                    "info",
                    f"Connected: {info.description}, MAC {info.mac}, "
                    f"{info.flash_size // (1 << 20)} MB flash",
                )
            )
        return cls(esp, info, after=after, progress=progress)

    def __enter__(self) -> SerialUnit:
        return self

    # --- Flash interface -----------------------------------------------------------------
    @property
    def name(self) -> str:
        return self.info.port

    @property
    def size(self) -> int:
        return self.info.flash_size

    @contextmanager
    def _output(self) -> Iterator[None]:
        if self._closed:
            raise DeviceError(f"{self.name}: the connection is closed")
        with esptool_output(self._esptool_said):
            yield

    def _esptool_said(self, message: Message) -> None:
        """esptool's commentary on an operation ("Compressed 4096 bytes to 83...") stays
        in the debug log (where the router also puts it): the operations report their
        own progress. Its warnings and errors are passed on."""
        if message.level in ("warning", "error"):
            self._emit(message)

    def read(self, offset: int, length: int) -> bytes:
        from esptool.util import NotImplementedInROMError

        self._check_range(offset, length, sectors=False, what="read")
        out = bytearray()
        partial = 0

        def on_read(done: int, _total: int, _offset: int) -> None:
            nonlocal partial
            partial = done
            self._emit(Progress("read", offset, len(out) + done, length))

        with self._output():
            self._emit(Progress("read", offset, 0, length))
            try:
                while len(out) < length:
                    partial = 0
                    n = min(READ_CHUNK, length - len(out))
                    out += self._esp.read_flash(offset + len(out), n, on_read)
            except NotImplementedInROMError as e:
                raise FlashError(
                    f"{self.name}: the {self.info.chip} ROM cannot read flash",
                    hint="connect with the flasher stub (the default)",
                ) from e
            except Exception as e:
                raise self._failure(
                    e,
                    f"reading {offset:#x}..{offset + length:#x}",
                    f"{len(out) + partial:#x} of {length:#x} bytes read; nothing was written",
                ) from e
        return bytes(out)

    def erase(self, offset: int, length: int) -> None:
        self._check_range(offset, length, sectors=True, what="erase")
        if not length:
            return
        with self._output():
            self._emit(Progress("erase", offset, 0, length))
            try:
                if self._esp.IS_STUB:
                    self._esp.erase_region(offset, length)
                else:
                    # The ROM has no erase command: FLASH_BEGIN erases (esptool does this).
                    self._esp.flash_begin(length, offset, logging=False)
            except Exception as e:
                raise self._failure(
                    e,
                    f"erasing {offset:#x}..{offset + length:#x}",
                    "the range may be partly erased",
                ) from e
            self._emit(Progress("erase", offset, length, length))

    def write(self, offset: int, data: bytes, *, verify: bool = True) -> None:
        """Replace whole sectors; with ``verify`` the unit's MD5 of the range must match."""
        self._check_range(offset, len(data), sectors=True, what="write")
        if not data:
            return
        acked = 0
        end = offset + len(data)

        def on_ack(done: int) -> None:
            nonlocal acked
            acked = done
            self._emit(Progress("write", offset, done, len(data)))

        with self._output():
            self._emit(Progress("write", offset, 0, len(data)))
            try:
                self._send(offset, data, on_ack)
                if verify:
                    got = self._esp.flash_md5sum(offset, len(data))
                    want = hashlib.md5(data).hexdigest()
                    if got != want:
                        raise FlashError(
                            f"{self.name}: {offset:#x}..{end:#x} does not read back as "
                            f"written (unit MD5 {got}, expected {want})",
                            hint="write the range again; if it persists the flash may be worn "
                            "or write-protected",
                        )
            except FlashError:
                raise
            except Exception as e:
                total = len(data) // SECTOR_SIZE
                done = min(acked, len(data)) // SECTOR_SIZE
                state = f"{done} of {total} sectors acknowledged by the unit"
                if done < total:
                    state += (
                        f"; the sectors from {offset + done * SECTOR_SIZE:#x} on may be "
                        "erased or partly written"
                    )
                raise self._failure(e, f"writing {offset:#x}..{end:#x}", state) from e

    def md5(self, offset: int, length: int) -> str:
        self._check_range(offset, length, sectors=False, what="MD5")
        with self._output():
            try:
                return str(self._esp.flash_md5sum(offset, length))
            except Exception as e:
                raise self._failure(e, f"hashing {offset:#x}..{offset + length:#x}", "") from e

    # --- unit operations ---------------------------------------------------------------
    def security(self) -> SecurityInfo:
        """Flash encryption and secure boot as the chip's eFuses say."""
        with self._output():
            esp = self._esp
            try:
                if esp.secure_download_mode:
                    si = esp.get_security_info()
                    return SecurityInfo(
                        flash_encryption=bin(si["flash_crypt_cnt"]).count("1") % 2 == 1,
                        secure_boot=bool(si["parsed_flags"]["SECURE_BOOT_EN"]),
                        secure_download_mode=True,
                    )
                return SecurityInfo(
                    flash_encryption=bool(esp.get_flash_encryption_enabled()),
                    secure_boot=bool(esp.get_secure_boot_enabled()),
                    secure_download_mode=False,
                )
            except Exception as e:
                raise self._failure(e, "reading the security eFuses", "") from e

    def reset(self) -> None:
        """Hard-reset the unit (it runs its firmware; over ``socket://`` nothing happens)."""
        from esptool.cmds import reset_chip

        with self._output():
            try:
                reset_chip(self._esp, "hard-reset")
            except Exception as e:
                raise self._failure(e, "resetting", "") from e

    def close(self) -> None:
        """Run the ``after`` action (errors are only logged) and release the port."""
        if self._closed:
            return
        try:
            # Over socket:// RTS/DTR do not travel: a "reset" would only wait for nothing.
            if self.after == "hard-reset" and url_scheme(self.name) != "socket":
                from esptool.cmds import reset_chip

                with esptool_output(self._esptool_said):
                    reset_chip(self._esp, "hard-reset")
        except Exception as e:  # a dead link must not hide the error that killed it
            logger.debug("reset on close failed: %s", e)
        finally:
            self._closed = True
            _close_port(self._esp)

    # --- internals -------------------------------------------------------------------------
    def _send(self, offset: int, data: bytes, on_ack: Callable[[int], None]) -> None:
        """FLASH_(DEFL_)BEGIN/DATA/END as esptool's write_flash does, counting acks."""
        from esptool.loader import DEFAULT_TIMEOUT, ERASE_WRITE_TIMEOUT_PER_MB, timeout_per_mb

        esp = self._esp
        block_size = int(esp.FLASH_WRITE_SIZE)
        packed = zlib.compress(data, 9) if esp.IS_STUB else data
        if len(packed) < len(data):
            blocks = esp.flash_defl_begin(len(data), len(packed), offset)
            inflater = zlib.decompressobj()
            done = 0
            timeout = DEFAULT_TIMEOUT
            for seq in range(blocks):
                block = packed[seq * block_size : (seq + 1) * block_size]
                plain = len(inflater.decompress(block))
                # esptool's budget: the stub may erase a 64 KiB block per 32 KiB inflated.
                budget = plain + (-(-plain // 0x8000) + 1) * 0x10000
                timeout = timeout_per_mb(ERASE_WRITE_TIMEOUT_PER_MB, budget)
                esp.flash_defl_block(block, seq, timeout=timeout)
                done += plain
                on_ack(done)
            esp.flash_defl_finish(reboot=False, timeout=timeout)  # ROM: nothing is sent
        else:
            blocks = esp.flash_begin(len(data), offset)
            for seq in range(blocks):
                block = data[seq * block_size : (seq + 1) * block_size]
                esp.flash_block(block + b"\xff" * (block_size - len(block)), seq)
                on_ack(min((seq + 1) * block_size, len(data)))
            if esp.IS_STUB:
                esp.flash_finish(reboot=False)  # to the ROM, FLASH_END would run the app

    def _failure(self, e: BaseException, doing: str, state: str) -> FlashError:
        detail = str(e).splitlines()[0] if str(e) else type(e).__name__
        if is_link_failure(e):
            # The cause belongs with what failed; the hint stays the one thing to do.
            return FlashError(
                f"{self.name}: link lost while {doing}"
                + (f": {state}" if state else "")
                + f" ({detail})",
                hint="check the cable and power, reconnect and run the command again",
            )
        return FlashError(f"{self.name}: failed while {doing}: {detail}")


def _close_port(esp: Any) -> None:
    if esp is None:
        return
    try:
        esp._port.close()
    except Exception as e:
        logger.debug("closing the port failed: %s", e)
