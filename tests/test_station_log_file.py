"""flash --log as a file: a huge first line is not read whole, a torn last line does not
swallow the next record, a FIFO or a device is refused before any unit, and a JSON
record of any size this version writes is taken as the log's first line."""

from __future__ import annotations

import csv
import json
import os
import threading
import tracemalloc
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner
from support.layouts import load_mongoose

from esp_cabundle.cli import cli
from esp_cabundle.errors import InputError
from esp_cabundle.flash.station import LOG_FIELDS, append_log, check_log
from esp_cabundle.virtual import VirtualESP32
from tests.support import dumps
from tests.support.gated import canonical

Start = Callable[..., VirtualESP32]
NEW_CA = canonical(dumps.pem("isrgrootx1.pem") + dumps.pem("isrg-root-x2.pem"))
RECORD = {k: "" for k in LOG_FIELDS} | {
    "time": "2026-01-01T00:00:00+00:00",
    "port": "/dev/ttyUSB0",
    "roots_after": ["ISRG Root X1", "ISRG Root X2"],
    "result": "updated",
    "notes": ['a "quoted", note'],
}


def flash_args(unit: VirtualESP32, tmp_path: Path, log: Path) -> list[str]:
    ca = tmp_path / "ca.pem"
    ca.write_bytes(NEW_CA)
    return [
        "flash",
        "--board",
        "mongoose-os-esp32",
        "--bundle",
        str(ca),
        "--journal-dir",
        str(tmp_path / "journal"),
        "--port",
        unit.url,
        "--log",
        str(log),
    ]


@pytest.mark.parametrize(("name", "kind"), [("huge.csv", "csv"), ("huge.jsonl", "jsonl")])
def test_a_huge_first_line_is_not_read_whole(tmp_path: Path, name: str, kind: str) -> None:
    """A 3 GB file without a newline (sparse) was read whole to find the CSV header."""
    log = tmp_path / name
    with log.open("wb") as f:
        f.truncate(3 << 30)
    tracemalloc.start()
    try:
        with pytest.raises(InputError, match=r"is not a .* log written by esp-cabundle"):
            check_log(log, kind)  # type: ignore[arg-type]
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 8 << 20, peak
    assert log.stat().st_size == 3 << 30


def test_a_csv_header_line_longer_than_any_header_is_not_a_log(tmp_path: Path) -> None:
    log = tmp_path / "long.csv"
    log.write_text(",".join(LOG_FIELDS) + "," + "x" * 10_000 + "\n")
    with pytest.raises(InputError, match="is not a CSV log"):
        check_log(log, "csv")


@pytest.mark.parametrize("torn", ["2026-01-01T00:00:00+00:00,0.1,/dev/ttyU", ""])
def test_a_csv_record_after_a_torn_line_reads_back_whole(tmp_path: Path, torn: str) -> None:
    """A killed append leaves a line without its newline: the next record was glued on."""
    log = tmp_path / "log.csv"
    append_log(log, [RECORD], "csv")
    with log.open("a", encoding="utf-8") as f:
        f.write(torn)
    check_log(log, "csv")
    append_log(log, [RECORD], "csv")
    with log.open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    last = rows[-1]
    assert last["result"] == "updated" and json.loads(last["notes"]) == RECORD["notes"]
    assert last["roots_after"] == "ISRG Root X1; ISRG Root X2"
    assert list(last) == list(LOG_FIELDS) and None not in last


def test_a_json_record_after_a_torn_line_reads_back_whole(tmp_path: Path) -> None:
    log = tmp_path / "log.jsonl"
    append_log(log, [RECORD], "jsonl")
    with log.open("a", encoding="utf-8") as f:
        f.write('{"time": "2026-01-01T00:00:01+00:00", "port": "/dev/tt')
    check_log(log, "jsonl")
    append_log(log, [RECORD], "jsonl")
    lines = log.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 3 and json.loads(lines[-1]) == RECORD


def test_a_csv_log_torn_inside_a_quoted_field_is_refused_before_any_unit(
    virtual_esp32: Start, runner: CliRunner, tmp_path: Path
) -> None:
    """An open quote would swallow every record after it: said, the log unchanged."""
    unit = virtual_esp32("esp32", mac="24:0a:c4:00:02:00")
    load_mongoose(unit)
    log = tmp_path / "log.csv"
    append_log(log, [RECORD], "csv")
    with log.open("a", encoding="utf-8") as f:
        f.write('2026-01-01T00:00:00+00:00,0.1,/dev/ttyUSB1,,,,,,,,"ISRG Root X1; IS')
    before = log.read_bytes()
    r = runner.invoke(cli, flash_args(unit, tmp_path, log))
    assert r.exit_code == 2, r.output
    assert "last line was cut off inside a quoted field" in r.stderr, r.stderr
    assert "no unit was touched" in r.stderr and "end the torn line" in r.stderr
    assert log.read_bytes() == before and unit.stats.connections == 0


def test_a_fifo_log_is_refused_before_any_unit(
    virtual_esp32: Start, runner: CliRunner, tmp_path: Path
) -> None:
    """Opening a FIFO with no reader hung the run silently; one with a reader took the
    records away. Held open by a reader here, so the run cannot hang either way."""
    unit = virtual_esp32("esp32", mac="24:0a:c4:00:02:01")
    load_mongoose(unit)
    log = tmp_path / "log.jsonl"
    os.mkfifo(log)
    reader = os.open(log, os.O_RDONLY | os.O_NONBLOCK)
    try:
        r = runner.invoke(cli, flash_args(unit, tmp_path, log))
    finally:
        os.close(reader)
    assert r.exit_code == 2, r.output
    assert "is a FIFO, not a file" in r.stderr and "no unit was touched" in r.stderr
    assert unit.stats.connections == 0


def test_a_fifo_log_without_a_reader_does_not_hang(tmp_path: Path) -> None:
    log = tmp_path / "log.csv"
    os.mkfifo(log)
    said: list[BaseException] = []

    def check() -> None:
        try:
            check_log(log, "csv")
        except BaseException as e:  # handed to the test's thread
            said.append(e)

    t = threading.Thread(target=check, daemon=True)
    t.start()
    t.join(10)
    assert not t.is_alive(), "check_log hangs on a FIFO"
    assert isinstance(said[0], InputError) and "is a FIFO" in said[0].message


@pytest.mark.skipif(not Path("/dev/null").exists(), reason="needs /dev/null")
def test_a_device_log_is_refused(tmp_path: Path) -> None:
    """Records sent to /dev/null would be lost without a word."""
    log = tmp_path / "log.csv"
    log.symlink_to("/dev/null")
    with pytest.raises(InputError, match="is a character device, not a file"):
        check_log(log, "csv")


def test_a_json_log_whose_first_record_is_over_a_mib_is_taken(tmp_path: Path) -> None:
    """A record has no size cap (the roots of every CA file, by name and fingerprint):
    one over the 1 MiB read was refused as "not a JSON-lines log"."""
    log = tmp_path / "log.jsonl"
    big = RECORD | {"roots_before": [f"Root {i:06d} " + "x" * 200 for i in range(8000)]}
    append_log(log, [big], "jsonl")
    assert log.stat().st_size > 1 << 20
    check_log(log, "jsonl")
    append_log(log, [RECORD], "jsonl")
    lines = log.read_text(encoding="utf-8").splitlines()
    assert json.loads(lines[0]) == big and json.loads(lines[1]) == RECORD


@pytest.mark.parametrize(
    "head",
    [
        '{"name": "other", "time": "x", "port": "y", "list": [',
        '{"time": "x", "list": [',
        '["time", "port", ',
    ],
)
def test_a_long_first_line_that_does_not_open_as_a_record_is_refused(
    tmp_path: Path, head: str
) -> None:
    log = tmp_path / "other.jsonl"
    log.write_text(head + '"' + "x" * (2 << 20) + '"]}\n')
    with pytest.raises(InputError, match="is not a JSON-lines log"):
        check_log(log, "jsonl")


@pytest.mark.parametrize(
    "first",
    [b"[" * 5000 + b"\n", b"{" + b"[" * 5000 + b'"' + b"x" * (2 << 20) + b"\n"],
    ids=["deep line", "deep key of a long line"],
)
def test_a_first_line_nested_past_the_recursion_limit_is_not_a_log(
    virtual_esp32: Start, runner: CliRunner, tmp_path: Path, first: bytes
) -> None:
    """json's decoder raised RecursionError on such a line: a traceback from flash and
    restore. Now it is a file that is not a log, said before any unit, left unchanged."""
    with pytest.raises(InputError, match="is not a JSON-lines log"):
        check_log_at(tmp_path / "deep.jsonl", first)
    unit = virtual_esp32("esp32", mac="24:0a:c4:00:02:02")
    load_mongoose(unit)
    log = tmp_path / "deep.jsonl"
    r = runner.invoke(cli, flash_args(unit, tmp_path, log))
    assert r.exit_code == 2, r.output
    assert "is not a JSON-lines log" in r.stderr and "Traceback" not in r.output
    assert log.read_bytes() == first and unit.stats.connections == 0


def check_log_at(log: Path, first: bytes) -> None:
    log.write_bytes(first)
    check_log(log, "jsonl")


@pytest.mark.parametrize("name", ["log.csv", "log.jsonl"])
def test_a_new_log_is_0644_whatever_the_umask(tmp_path: Path, name: str) -> None:
    # Under umask 000 the log was made 0666: any user could rewrite a station's record.
    old = os.umask(0)
    try:
        append_log(tmp_path / name, [RECORD], "csv" if name.endswith(".csv") else "jsonl")
    finally:
        os.umask(old)
    assert (tmp_path / name).stat().st_mode & 0o777 == 0o644


def test_an_existing_log_keeps_its_mode(tmp_path: Path) -> None:
    log = tmp_path / "log.jsonl"
    log.touch(mode=0o600)
    log.chmod(0o660)  # the owner's choice (a group of station operators): left as it is
    old = os.umask(0)
    try:
        append_log(log, [RECORD], "jsonl")
    finally:
        os.umask(old)
    assert log.stat().st_mode & 0o777 == 0o660
    assert json.loads(log.read_text())["port"] == "/dev/ttyUSB0"
