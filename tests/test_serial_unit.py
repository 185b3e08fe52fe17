"""SerialUnit (esptool's Python API) and DumpFile behind the one Flash interface, and
every way a unit can fail: proven against the virtual ESP32."""

from __future__ import annotations

import hashlib
import random
import re
import threading
from collections.abc import Callable
from pathlib import Path

import pytest
from esptool.util import FatalError

from esp_cabundle.errors import DeviceError, FlashError, InputError
from esp_cabundle.flash.base import Message, Progress, ProgressEvent
from esp_cabundle.flash.dump import DumpFile
from esp_cabundle.flash.ports import connect_error
from esp_cabundle.flash.ports import port_error as _port_error
from esp_cabundle.flash.serial import SerialUnit, open_unit
from esp_cabundle.virtual import VirtualESP32
from esp_cabundle.virtual.protocol import SECTOR

Start = Callable[..., VirtualESP32]
MiB = 1 << 20
# pyserial's RFC 2217 client still calls Thread.setDaemon/setName.
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:serial.rfc2217")


def pattern(n: int, seed: int = 1) -> bytes:
    return random.Random(seed).randbytes(n)


def connect(unit: VirtualESP32, **kwargs: object) -> SerialUnit:
    return open_unit(unit.url, connect_attempts=1, **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("chip", "size", "name"),
    [
        ("esp32", 4 * MiB, "ESP32"),
        ("esp32s3", 8 * MiB, "ESP32-S3"),
        ("esp32c3", 16 * MiB, "ESP32-C3"),
    ],
)
@pytest.mark.parametrize("stub", [True, False])
def test_connects_and_identifies(
    virtual_esp32: Start, chip: str, size: int, name: str, stub: bool
) -> None:
    unit = virtual_esp32(chip, flash_size=size, mac="30:ae:a4:00:11:22")
    with connect(unit, stub=stub) as u:
        assert u.info.chip == name
        assert u.info.mac == "30:ae:a4:00:11:22"
        assert u.size == u.info.flash_size == size
        assert u.info.stub is stub
        assert u.name == unit.url
    assert unit.stub_running is stub or not stub


@pytest.mark.parametrize("stub", [True, False])
def test_write_read_md5_erase(virtual_esp32: Start, stub: bool) -> None:
    unit = virtual_esp32("esp32")
    data = pattern(2 * SECTOR)
    with connect(unit, stub=stub) as u:
        u.write(0x100000, data)
        assert unit.read(0x100000, len(data)) == data
        assert (
            u.read(0x100000, 0x400 if not stub else len(data))
            == data[: 0x400 if not stub else None]
        )
        assert u.md5(0x100000, len(data)) == hashlib.md5(data).hexdigest()
        u.erase(0x101000, SECTOR)
    assert unit.read(0x100000, SECTOR) == data[:SECTOR]
    assert unit.read(0x101000, SECTOR) == b"\xff" * SECTOR
    assert unit.stats.sectors_programmed == 2
    assert unit.stats.sectors_erased == 3
    assert unit.stats.commands["SPI_FLASH_MD5"] == 2  # the write was verified by the unit


def test_stub_compresses_when_it_pays(virtual_esp32: Start) -> None:
    unit = virtual_esp32("esp32s3")
    with connect(unit) as u:
        u.write(0x10000, b"\x00" * 4 * SECTOR)
        assert unit.stats.commands["FLASH_DEFL_DATA"] == 1
        u.write(0x20000, pattern(SECTOR))  # random bytes do not compress: sent plain
        assert unit.stats.commands["FLASH_DATA"] == 1
    assert unit.read(0x10000, 4 * SECTOR) == b"\x00" * 4 * SECTOR
    assert unit.stats.bytes_in < 3 * SECTOR + 20_000  # 16 KiB of zeros went over as ~50 bytes


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda u: u.write(0x10800, b"\x00" * SECTOR), "not made of whole 4 KiB sectors"),
        (lambda u: u.write(0x10000, b"\x00" * 100), "not made of whole 4 KiB sectors"),
        (lambda u: u.erase(0x3FF000, 2 * SECTOR), "beyond the 0x400000-byte flash"),
        (lambda u: u.read(0x3FFFF0, 0x20), "beyond the 0x400000-byte flash"),
    ],
)
def test_bad_ranges_are_refused_before_anything_is_sent(
    virtual_esp32: Start, call: Callable[[SerialUnit], object], message: str
) -> None:
    unit = virtual_esp32("esp32")
    unit.load(0x10000, b"\x00" * SECTOR)
    with connect(unit) as u:
        sent = unit.stats.bytes_in
        with pytest.raises(InputError, match=message):
            call(u)
        assert unit.stats.bytes_in == sent
    assert unit.read(0x10000, SECTOR) == b"\x00" * SECTOR


@pytest.mark.parametrize("chip", ["esp32", "esp32s3", "esp32c3"])
@pytest.mark.parametrize("encrypted", [True, False])
def test_security_from_the_chip(virtual_esp32: Start, chip: str, encrypted: bool) -> None:
    unit = virtual_esp32(chip, flash_encryption=encrypted)
    with connect(unit) as u:
        s = u.security()
    assert s.flash_encryption is encrypted
    assert not s.secure_boot and not s.secure_download_mode


@pytest.mark.parametrize("expected", ["esp32s3", "ESP32-S3", ("esp32", "esp32-s3")])
def test_expected_chip_matches_any_spelling(
    virtual_esp32: Start, expected: str | tuple[str, ...]
) -> None:
    unit = virtual_esp32("esp32s3")
    with connect(unit, expected_chip=expected) as u:
        assert u.info.chip == "ESP32-S3"


def test_wrong_chip_names_both_and_touches_nothing(virtual_esp32: Start) -> None:
    unit = virtual_esp32("esp32c3")
    with pytest.raises(DeviceError) as e:
        connect(unit, expected_chip="esp32")
    assert "the unit is an ESP32-C3, but ESP32 was expected" in str(e.value)
    assert e.value.exit_code == 3
    assert unit.stats.commands["MEM_BEGIN"] == 0  # not even the stub was loaded


def test_nothing_listening(refused_port: int) -> None:
    with pytest.raises(DeviceError, match="nothing is listening there") as e:
        open_unit(f"socket://127.0.0.1:{refused_port}")
    assert e.value.exit_code == 3


def test_no_such_port() -> None:
    with pytest.raises(DeviceError, match="/dev/ttyNO-SUCH-PORT: no such serial port"):
        open_unit("/dev/ttyNO-SUCH-PORT")


def test_not_a_serial_port(tmp_path: Path) -> None:
    f = tmp_path / "plain-file"
    f.write_bytes(b"")
    with pytest.raises(InputError, match="not a serial port") as e:
        open_unit(str(f))
    assert e.value.exit_code == 2  # the user named a file, not a port: bad input
    assert "/dev/ttyUSB0" in (e.value.hint or "") and "socket://" in (e.value.hint or "")


@pytest.mark.parametrize(
    ("detail", "message", "hint"),
    [
        (
            "[Errno 13] could not open port /dev/ttyUSB0: [Errno 13] Permission denied",
            "permission denied",
            "dialout",
        ),
        (
            "[Errno 16] could not open port /dev/ttyUSB0: [Errno 16] Device or resource busy",
            "in use by another program",
            "monitor",
        ),
        (
            "could not open port 'COM7': PermissionError(13, 'Access is denied.', None, 5)",
            "permission denied",
            "dialout",
        ),
    ],
)
def test_port_errors_that_need_a_real_device(detail: str, message: str, hint: str) -> None:
    """Root bypasses permissions and nothing holds a port here: classify pyserial's text."""
    e = _port_error("/dev/ttyUSB0", detail)
    assert message in e.message and hint in (e.hint or "")


@pytest.mark.parametrize(
    ("mode", "why"),
    [("app", "running its firmware, not in download mode"), ("silent", "nothing answered")],
)
def test_unit_not_in_download_mode(virtual_esp32: Start, mode: str, why: str) -> None:
    unit = virtual_esp32("esp32", mode=mode)
    with pytest.raises(DeviceError, match="no answer from an ESP bootloader") as e:
        connect(unit)
    assert why in str(e.value) and "GPIO0" in str(e.value)


def test_link_lost_while_connecting(virtual_esp32: Start) -> None:
    """Over a bridge, the link closed in the handshake is what a second station on the
    same URL may get (a bridge turning it away): the hint was a station's generic "check
    the cable and power"; it asks about another client first."""
    unit = virtual_esp32("esp32")
    unit.arm_cut(bytes_in=30)  # in the middle of the first SYNC frame
    with pytest.raises(DeviceError, match="link lost while connecting") as e:
        connect(unit)
    assert e.value.hint is not None and "another station" in e.value.hint
    assert "serves one client at a time" in e.value.hint


def test_a_handshake_out_of_step_over_a_bridge_asks_about_another_client() -> None:
    """esptool answered out of step (a second station's bytes queued behind the first's,
    as esp_rfc2217_server does): "cannot connect", with the same hint; a local port's
    has none of it (no bridge)."""
    error = FatalError("Failed to get security info (result was 0105: invalid)")
    e = connect_error("rfc2217://127.0.0.1:4000", error)
    assert e.message.endswith(
        "cannot connect (Failed to get security info (result was 0105: invalid))"
    )
    assert e.hint is not None and "another station" in e.hint
    assert connect_error("/dev/ttyUSB0", error).hint is None


def test_link_lost_mid_read(virtual_esp32: Start) -> None:
    unit = virtual_esp32("esp32")
    with connect(unit) as u:
        unit.arm_cut(bytes_out=5 * SECTOR + 100)
        with pytest.raises(FlashError) as e:
            u.read(0x200000, 16 * SECTOR)
    m = re.match(
        rf"{unit.url}: link lost while reading 0x200000..0x210000: 0x([0-9a-f]+) of 0x10000 "
        r"bytes read; nothing was written",
        str(e.value),
    )
    assert m is not None, str(e.value)
    assert int(m.group(1), 16) <= 0x5000  # at most what the unit sent before the cut
    assert e.value.exit_code == 3 and "check the cable" in str(e.value)


def test_link_lost_mid_write_says_what_reached_the_unit(virtual_esp32: Start) -> None:
    unit = virtual_esp32("esp32")
    old, new = pattern(8 * SECTOR, seed=2), pattern(8 * SECTOR, seed=3)
    unit.load(0x290000, old)
    with connect(unit) as u:
        unit.arm_cut(sector_writes=5)  # the second 16 KiB block dies in its second sector
        with pytest.raises(FlashError) as e:
            u.write(0x290000, new)
    assert str(e.value).startswith(
        f"{unit.url}: link lost while writing 0x290000..0x298000: 4 of 8 sectors acknowledged "
        "by the unit; the sectors from 0x294000 on may be erased or partly written"
    )
    assert unit.read(0x290000, 5 * SECTOR) == new[: 5 * SECTOR]
    assert unit.read(0x295000, SECTOR)[:0x800] == new[5 * SECTOR : 5 * SECTOR + 0x800]  # torn
    assert unit.read(0x296000, 2 * SECTOR) == old[6 * SECTOR :]
    with connect(unit) as u:  # reconnect and write again: the unit ends up right
        u.write(0x290000, new)
    assert unit.read(0x290000, len(new)) == new


def test_progress_events_and_nothing_printed(
    virtual_esp32: Start, capsys: pytest.CaptureFixture[str]
) -> None:
    unit = virtual_esp32("esp32")
    unit.load(0x300000, pattern(3 * SECTOR))
    events: list[ProgressEvent] = []
    with connect(unit, progress=events.append) as u:
        u.read(0x300000, 3 * SECTOR)
        u.write(0x310000, pattern(SECTOR))
    reads = [e for e in events if isinstance(e, Progress) and e.operation == "read"]
    assert reads[0].done == 0 and reads[-1].done == reads[-1].total == 3 * SECTOR
    assert [e.done for e in reads] == sorted(e.done for e in reads)
    assert any(
        isinstance(e, Progress) and e.operation == "write" and e.done == SECTOR for e in events
    )
    texts = [e.text for e in events if isinstance(e, Message)]
    assert any(t.startswith("Connected: ESP32-D0WD-V3") for t in texts)
    assert any("Stub flasher running" in t for t in texts)  # esptool's own lines, routed
    out = capsys.readouterr()
    assert out.out == "" and out.err == ""


def test_esptool_logger_is_restored(virtual_esp32: Start) -> None:
    from esp_pylib.logger import EspLog

    before = EspLog.instance
    unit = virtual_esp32("esp32")
    with connect(unit) as u:
        assert EspLog.instance is before  # only installed while an operation runs
        u.md5(0, SECTOR)
    assert EspLog.instance is before


def test_parallel_units_keep_their_own_messages(virtual_esp32: Start) -> None:
    units = [virtual_esp32("esp32"), virtual_esp32("esp32s3")]
    seen: dict[str, list[str]] = {u.url: [] for u in units}
    errors: list[BaseException] = []

    def work(unit: VirtualESP32) -> None:
        def sink(event: ProgressEvent) -> None:
            if isinstance(event, Message):
                seen[unit.url].append(event.text)

        try:
            with connect(unit, progress=sink) as u:
                u.write(0x10000, pattern(2 * SECTOR))
        except BaseException as e:
            errors.append(e)

    threads = [threading.Thread(target=work, args=(u,)) for u in units]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors
    for u, chip in zip(units, ["ESP32-D0WD", "ESP32-S3"], strict=True):
        assert any(t.startswith(f"Connected: {chip}") for t in seen[u.url])
        # esptool's warnings that a URL port has no USB VID/PID say nothing to a user
        assert not any("VID/PID" in t or "COM*" in t for t in seen[u.url]), seen[u.url]
        # nor esptool's "reset the chip manually": a rehearsal asks nothing of the hands
        assert not any("manually" in t or "TCP socket" in t for t in seen[u.url]), seen[u.url]
        assert any(t.startswith("socket:// port: no reset lines") for t in seen[u.url])
        assert any("Stub flasher running" in t for t in seen[u.url])
        other = ({x.url for x in units} - {u.url}).pop()
        assert not any(other in t for t in seen[u.url])
        assert u.read(0x10000, 2 * SECTOR) == pattern(2 * SECTOR)


def test_closed_unit_refuses_work(virtual_esp32: Start) -> None:
    unit = virtual_esp32("esp32")
    u = connect(unit)
    u.close()
    u.close()  # twice is fine
    with pytest.raises(DeviceError, match="the connection is closed"):
        u.read(0, 16)


# --- DumpFile ------------------------------------------------------------------------------
def test_dump_file_behind_the_same_interface(tmp_path: Path) -> None:
    path = tmp_path / "dump.bin"
    original = pattern(16 * SECTOR, seed=4)
    path.write_bytes(original)
    events: list[ProgressEvent] = []
    with DumpFile.open(path, progress=events.append) as d:
        assert d.size == len(original) and d.name == str(path)
        assert d.read(0x1234, 16) == original[0x1234:0x1244]
        d.write(0x2000, b"\x00" * SECTOR)
        d.erase(0x5000, 2 * SECTOR)
        assert d.md5(0x5000, 2 * SECTOR) == hashlib.md5(b"\xff" * 2 * SECTOR).hexdigest()
        assert d.changed_sectors(original) == [0x2000, 0x5000, 0x6000]
        assert path.read_bytes() == original  # nothing written until saved
        d.save(tmp_path / "new.bin")
    new = (tmp_path / "new.bin").read_bytes()
    assert new[0x2000:0x3000] == b"\x00" * SECTOR and new[0x7000:] == original[0x7000:]
    assert any(isinstance(e, Progress) and e.operation == "write" for e in events)


def test_dump_file_errors(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such flash dump"):
        DumpFile.open(tmp_path / "missing.bin")
    (tmp_path / "empty.bin").write_bytes(b"")
    with pytest.raises(InputError, match="empty file"):
        DumpFile.open(tmp_path / "empty.bin")
    d = DumpFile(b"\xff" * 2 * SECTOR, name="d.bin")
    with pytest.raises(InputError, match="whole 4 KiB sectors"):
        d.write(0x100, b"\x00" * SECTOR)
    with pytest.raises(InputError, match="beyond"):
        d.read(SECTOR, 2 * SECTOR)
    assert not d.modified and d.data == b"\xff" * 2 * SECTOR


# --- rfc2217:// and the reset lines -----------------------------------------------------------
def test_rfc2217_resets_a_running_unit_into_download_mode(virtual_esp32: Start) -> None:
    """default-reset pulses EN with GPIO0 low through the board's auto-reset circuit;
    hard-reset at the end starts the firmware again."""
    unit = virtual_esp32("esp32", transport="rfc2217", mode="app")
    assert unit.url.startswith("rfc2217://")
    with connect(unit, reset="default-reset", after="hard-reset") as u:
        u.write(0x10000, pattern(SECTOR, seed=5))
        assert unit.stats.boots == ["download"]
    assert unit.stats.boots == ["download", "app"]
    assert unit.read(0x10000, SECTOR) == pattern(SECTOR, seed=5)


def test_rfc2217_no_reset_keeps_the_unit_as_it_is(virtual_esp32: Start) -> None:
    unit = virtual_esp32("esp32s3", transport="rfc2217")
    with connect(unit, reset="no-reset", after="no-reset") as u:
        assert u.read(0, 16) == b"\xff" * 16
    assert unit.stats.boots == []  # pyserial's RTS/DTR blip on open is too short to reset


@pytest.mark.parametrize("transport", ["socket", "rfc2217"])
def test_a_scheme_in_capitals_is_the_same_port(
    virtual_esp32: Start, transport: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """URL schemes are case-insensitive (RFC 3986 section 3.1) and pyserial takes them so:
    SOCKET:// got pyserial's one-byte reads, esptool's reset attempts and its "Chip was
    NOT reset" on stderr, and RFC2217:// failed "link lost while connecting (fileno)"."""
    unit = virtual_esp32("esp32", transport=transport)
    unit.load(0x10000, pattern(SECTOR, seed=7))
    said: dict[str, list[str]] = {}
    for url in (unit.url, transport.upper() + unit.url[len(transport) :]):
        events: list[ProgressEvent] = []
        with open_unit(url, connect_attempts=1, progress=events.append) as u:
            assert u.name == url  # said as the user spelt it
            assert u.read(0x10000, SECTOR) == pattern(SECTOR, seed=7)
        said[url] = [e.text.replace(url, "URL") for e in events if isinstance(e, Message)]
    lower, upper = said.values()
    assert upper == lower
    if transport == "socket":
        assert any("no reset lines travel over it" in t for t in upper), upper
    out = capsys.readouterr()
    assert out.out == "" and out.err == ""


def test_board_without_auto_reset_circuit(virtual_esp32: Start) -> None:
    unit = virtual_esp32("esp32", transport="rfc2217", mode="app", auto_reset=False)
    with pytest.raises(DeviceError, match="not in download mode"):
        connect(unit)
    assert unit.stats.boots == []


def test_a_real_port_keeps_its_no_vid_pid_warning() -> None:
    """Only a URL port's VID/PID warnings are noise: about a /dev/ or COM port (a udev
    alias pyserial does not list, a device hidden from a container) the same words say
    the unit gets the standard reset sequence, and they still reach the user."""
    from esp_pylib.logger import EspLog

    from esp_cabundle.flash.esptool_log import esptool_output

    said: list[Message] = []
    real = (
        "Failed to get VID/PID of a device on /dev/serial/by-id/usb-x: Cannot resolve "
        "VID/PID for '/dev/serial/by-id/usb-x': not listed by pyserial. Using standard "
        "reset sequence."
    )
    url = (
        "Failed to get VID/PID of a device on socket://127.0.0.1:9: Cannot resolve VID/PID "
        "for 'socket://127.0.0.1:9': only COM* and absolute device paths are supported "
        "(pyserial URL handlers have no USB identity). Using standard reset sequence."
    )
    with esptool_output(said.append):
        EspLog.instance.note(url)
        EspLog.instance.note("Cannot resolve VID/PID for 'rfc2217://h:1': only COM*")
        EspLog.instance.note(real)
    assert [m.text for m in said] == [real]


def test_the_socket_reset_note_is_replaced_alone() -> None:
    """esptool's "not possible to reset the chip over a TCP socket" is said in the tool's
    own words; replacing the whole message dropped the lines after it."""
    from esp_pylib.logger import EspLog

    from esp_cabundle.flash.esptool_log import _SOCKET_RESET_SAID, esptool_output

    said: list[Message] = []
    note = (
        "It's not possible to reset the chip over a TCP socket. Automatic resetting to "
        "bootloader has been disabled, reset the chip manually."
    )
    with esptool_output(said.append):
        EspLog.instance.note(f"{note}\nA later line of the same note.")
        EspLog.instance.note(f"A line before.\n{note}")
    texts = [m.text for m in said]
    assert texts == [
        _SOCKET_RESET_SAID,
        "A later line of the same note.",
        "A line before.",
        _SOCKET_RESET_SAID,
    ], texts
