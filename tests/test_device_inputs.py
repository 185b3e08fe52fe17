"""Dumps and images named as devices or pipes: a character device (/dev/zero, a serial
port) is refused before it is opened, in bounded time and memory; a pipe carrying a real
dump is read as the dump; a pipe that never ends stops at the read cap. Each refusal is
exit 2, says what the path is, and writes nothing."""

from __future__ import annotations

import hashlib
import os
import struct
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from esp_cabundle import file_inputs
from esp_cabundle import ui as esp_ui
from esp_cabundle.cli import cli
from tests.support import dumps

CHAR_DEVICE = "is a character device (a serial port, /dev/zero ...), not "


@pytest.fixture
def serial_port() -> Iterator[str]:
    """A pseudo-terminal: a tty that, like a serial port, never ends and may never
    answer (reading it would block for ever)."""
    master, slave = os.openpty()
    try:
        yield os.ttyname(slave)
    finally:
        os.close(slave)
        os.close(master)


# Each command names what it wanted, as virtual-unit always did (reviewer's item 3).
COMMANDS = [
    (["inspect", "{dev}"], "an image or CA file"),
    (["inspect", "ca.pem", "{dev}"], "an image or CA file"),
    (["fs", "ls", "{dev}"], "a file-system image"),
    (["fs", "put", "{dev}", "ca.pem"], "a file-system image"),
    (
        ["update-dump", "{dev}", "--board", "mdash-arduino", "--bundle", "ca.pem", "-o", "o.bin"],
        "a flash dump",
    ),
    (["virtual-unit", "--dump", "{dev}", "--listen", "127.0.0.1:0"], "a flash dump"),
]


@pytest.mark.timeout(30)
@pytest.mark.parametrize("device", ["/dev/zero", "/dev/null", "tty"])
@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c[0][:2]))
def test_a_character_device_is_refused_unread(
    in_tmp: Path,
    runner: CliRunner,
    serial_port: str,
    device: str,
    command: tuple[list[str], str],
) -> None:
    (in_tmp / "ca.pem").write_bytes(dumps.pem("isrgrootx1.pem"))
    dev = serial_port if device == "tty" else device
    args, wanted = command
    r = runner.invoke(cli, [a.format(dev=dev) for a in args])
    assert r.exit_code == 2, r.output
    assert f"Error: {dev}: {CHAR_DEVICE}{wanted}\n" in r.stderr
    assert "a unit is read with --port PORT" in r.stderr
    assert sorted(p.name for p in in_tmp.iterdir()) == ["ca.pem"]


def _feed(fifo: Path, data: bytes | None) -> threading.Thread:
    """A writer into ``fifo``: ``data`` once, or (None) zeros until the reader leaves."""

    def write() -> None:
        with fifo.open("wb") as f:
            try:
                if data is not None:
                    f.write(data)
                    return
                block = bytes(1 << 16)
                while True:
                    f.write(block)
            except BrokenPipeError:
                pass  # the reader stopped: what a bounded read does

    t = threading.Thread(target=write, daemon=True)
    t.start()
    return t


@pytest.mark.timeout(60)
def test_a_pipe_carrying_a_dump_is_inspected(in_tmp: Path, runner: CliRunner) -> None:
    """``esp-cabundle inspect <(esptool ... read-flash ...)`` keeps working."""
    fifo = in_tmp / "dump.fifo"
    os.mkfifo(fifo)
    writer = _feed(fifo, dumps.arduino_dump())
    r = runner.invoke(cli, ["inspect", str(fifo)])
    writer.join(timeout=30)
    assert r.exit_code == 0, r.output
    assert f"{fifo}: flash dump" in r.stdout and "partition table: at 0x8000" in r.stdout
    assert "waiting for something to write" not in r.stderr  # its writer was there


@pytest.mark.timeout(60)
def test_a_writer_a_moment_late_gets_no_waiting_line(in_tmp: Path, runner: CliRunner) -> None:
    """A writer started beside the tool may open its end after the tool looks (CI's
    first run of the test above said "waiting" when its writer thread was slow to
    start): within a second it is no wait to tell of."""
    fifo = in_tmp / "dump.fifo"
    os.mkfifo(fifo)
    late = threading.Timer(0.3, lambda: writers.append(_feed(fifo, dumps.arduino_dump())))
    writers: list[threading.Thread] = []
    late.start()
    r = runner.invoke(cli, ["inspect", str(fifo)])
    late.join(timeout=30)
    writers[0].join(timeout=30)
    assert r.exit_code == 0, r.output
    assert f"{fifo}: flash dump" in r.stdout
    assert "waiting for something to write" not in r.stderr, r.stderr


@pytest.mark.timeout(60)
def test_a_fifo_with_no_writer_says_what_it_waits_for_then_is_read(
    in_tmp: Path, runner: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``inspect fifo.pem`` with nothing writing to it blocked in silence; it now says
    so once on stderr, and still reads what a writer that comes later writes."""
    fifo = in_tmp / "fifo.pem"
    os.mkfifo(fifo)
    writers: list[threading.Thread] = []

    def note_then_write(text: str) -> None:
        said(text)
        writers.append(_feed(fifo, dumps.pem("isrgrootx1.pem")))  # the writer comes now
        # ... and is gone before the tool reads on: a second, blocking open of the FIFO
        # waited for ever for another (CI caught it when the writer was quick).
        writers[-1].join(timeout=30)

    said = esp_ui.note  # fifo imports it when it tells, so patched here
    monkeypatch.setattr(esp_ui, "note", note_then_write)
    r = runner.invoke(cli, ["inspect", "fifo.pem"])
    assert len(writers) == 1
    writers[0].join(timeout=30)
    assert r.exit_code == 0, r.output
    waiting = "fifo.pem is a FIFO: waiting for something to write to it (Ctrl-C to stop)\n"
    assert r.stderr.count(waiting) == 1 and r.stderr.startswith(waiting), r.stderr
    assert "fifo.pem: pem, 1 certificate" in r.stdout and "ISRG Root X1" in r.stdout


@pytest.mark.timeout(60)
def test_a_pipe_that_never_ends_stops_at_the_cap(
    in_tmp: Path, runner: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The cap bounds a pipe as it bounds a file (lowered here to keep the test small)."""
    monkeypatch.setattr(file_inputs, "MAX_FILE_INPUT", 1 << 20)
    fifo = in_tmp / "zeros.fifo"
    os.mkfifo(fifo)
    writer = _feed(fifo, None)
    r = runner.invoke(cli, ["inspect", str(fifo)])
    writer.join(timeout=30)
    assert not writer.is_alive()
    assert r.exit_code == 2, r.output
    assert (
        f"{fifo}: image or CA file is over the 1 MiB limit for image or CA files (reading "
        "stopped there: a pipe or device gives no size)" in r.stderr
    )
    assert sorted(p.name for p in in_tmp.iterdir()) == ["zeros.fifo"]


@pytest.mark.timeout(10)
@pytest.mark.parametrize(
    "args", [["fs", "put", "{fifo}", "ca.pem", "/ca.pem"], ["fs", "rm", "{fifo}", "/ca.pem"]]
)
def test_an_image_to_edit_in_place_that_is_a_fifo_is_refused_unopened(
    in_tmp: Path, runner: CliRunner, args: list[str]
) -> None:
    """``fs put``/``fs rm`` write IMAGE back where it was read: a FIFO would hang, before
    the read with no writer, after it until a reader came. Refused before it is opened;
    reading one (``fs ls <(...)``) still works."""
    (in_tmp / "ca.pem").write_bytes(dumps.pem("isrgrootx1.pem"))
    fifo = in_tmp / "fs.fifo"
    os.mkfifo(fifo)
    r = runner.invoke(cli, [a.format(fifo=fifo) for a in args])
    assert r.exit_code == 2, r.output
    assert (
        f"Error: {fifo}: is a FIFO (named pipe), not a file-system image to edit in place; "
        "nothing was read or written" in r.stderr
    )
    assert sorted(p.name for p in in_tmp.iterdir()) == ["ca.pem", "fs.fifo"]


def test_a_dump_whose_table_reaches_past_any_flash_is_refused_not_called_truncated(
    in_tmp: Path, runner: CliRunner
) -> None:
    """A table entry at 0xFFFFF000 of 0xFFFFF000 bytes made update-dump say the dump was
    cut short, and inspect accept it; both now refuse the table, naming the entry."""
    flash = bytearray(dumps.arduino_dump())
    entries = bytes(flash[0x8000 : 0x8000 + 6 * 32])
    huge = struct.pack("<2sBBLL16sL", b"\xaa\x50", 1, 0x82, 0xFFFFF000, 0xFFFFF000, b"huge", 0)
    table = entries + huge + b"\xeb\xeb" + b"\xff" * 14 + hashlib.md5(entries + huge).digest()
    flash[0x8000:0x8C00] = table + b"\xff" * (0xC00 - len(table))
    (in_tmp / "d.bin").write_bytes(flash)
    (in_tmp / "ca.pem").write_bytes(dumps.pem("isrgrootx1.pem"))
    why = "partition 'huge' (data/spiffs) at 0xfffff000, 0xfffff000 bytes ends at 0x1ffffe000, "
    why += "past 128 MiB, the largest flash an ESP32 has"
    r = runner.invoke(
        cli,
        ["update-dump", "d.bin", "--board", "mdash-arduino", "--bundle", "ca.pem", "-o", "o.bin"],
    )
    assert r.exit_code == 2 and why in r.stderr and "truncated" not in r.stderr, r.output
    r = runner.invoke(cli, ["inspect", "d.bin"])
    assert r.exit_code == 2 and why in r.stderr, r.output
    assert sorted(p.name for p in in_tmp.iterdir()) == ["ca.pem", "d.bin"]
