"""A station whose log cannot take a record once the units are done (a full disk): every
unit's result is still reported, in lines and in --json, and the run says which records
the log lacks; a log the run created is not left behind empty."""

from __future__ import annotations

import errno
import json
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner
from support.layouts import load_mongoose

from esp_cabundle.cli import cli
from esp_cabundle.flash import station
from esp_cabundle.fs import open_image
from esp_cabundle.virtual import VirtualESP32
from tests.support import dumps
from tests.support.gated import canonical

Start = Callable[..., VirtualESP32]
NEW_CA = canonical(dumps.pem("isrgrootx1.pem") + dumps.pem("isrg-root-x2.pem"))


def two_units(start: Start) -> list[VirtualESP32]:
    units = []
    for i in range(2):
        unit = start("esp32", mac=f"24:0a:c4:00:01:{i:02x}")
        load_mongoose(unit)
        units.append(unit)
    return units


def ca_on(unit: VirtualESP32) -> bytes:
    return open_image(unit.read(0x190000, 0x40000)).read("/ca.pem")


def flash_args(units: list[VirtualESP32], tmp_path: Path, *extra: str) -> list[str]:
    ca = tmp_path / "ca.pem"
    ca.write_bytes(NEW_CA)
    args = ["flash", "--board", "mongoose-os-esp32", "--bundle", str(ca)]
    args += ["--journal-dir", str(tmp_path / "journal"), *extra]
    for unit in units:
        args += ["--port", unit.url]
    return args


def test_a_full_log_keeps_the_units_report_and_says_what_is_missing(
    virtual_esp32: Start, runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A full disk under the log (a log on /dev/full is refused up front, as a device)."""

    def full(fd: int, data: bytes) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(station, "_write_all", full)
    units = two_units(virtual_esp32)
    log = tmp_path / "st.csv"
    r = runner.invoke(cli, flash_args(units, tmp_path, "--log", str(log)))
    assert r.exit_code == 3, r.output
    assert all(ca_on(u) == NEW_CA for u in units)
    lines = r.stdout.splitlines()
    assert [line.split()[0] for line in lines[:2]] == ["OK", "OK"], r.stdout
    assert "2 of 2 units succeeded" in r.stdout
    assert "cannot append to the log" in r.stderr
    assert "own work is done, as reported above (2 updated and verified)" in r.stderr
    for unit in units:
        assert unit.url in r.stderr  # the records missing, by port
    # JSON: the units as usual, and the log's failure beside them
    for unit in units:
        load_mongoose(unit)
    r = runner.invoke(cli, flash_args(units, tmp_path, "--log", str(log), "--json"))
    assert r.exit_code == 3, r.output
    doc = json.loads(r.stdout)
    assert doc["ok"] is False and doc["exit_code"] == 3
    assert [u["result"] for u in doc["units"]] == ["updated", "updated"]
    assert "cannot append to the log" in doc["log"]["error"]
    assert doc["log"]["missing"] == [u.url for u in units]
    assert "Error:" not in r.stderr  # said once, in the document


def test_a_new_log_that_took_nothing_is_not_left_empty(
    virtual_esp32: Start, runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def full(fd: int, data: bytes) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(station, "_write_all", full)
    units = two_units(virtual_esp32)
    log = tmp_path / "st.csv"
    r = runner.invoke(cli, flash_args(units, tmp_path, "--log", str(log)))
    assert r.exit_code == 3, r.output
    assert "No space left on device" in r.stderr
    assert not log.exists()
    assert all(ca_on(u) == NEW_CA for u in units)


def test_an_existing_log_is_left_as_it_was_when_a_record_does_not_fit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A half-written record would be a line no reader can parse: the log is cut back."""
    log = tmp_path / "st.jsonl"
    station.append_log(log, [{"time": "t", "port": "p", "result": "updated"}], "jsonl")
    before = log.read_bytes()

    def half(fd: int, data: bytes) -> None:
        import os

        os.write(fd, data[:5])
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(station, "_write_all", half)
    with pytest.raises(station.OutputError, match="cannot append to the log"):
        station.append_log(log, [{"time": "u", "port": "q", "result": "failed"}], "jsonl")
    assert log.read_bytes() == before


def test_records_lost_says_what_each_caller_knows_and_nothing_it_does_not() -> None:
    """flash counts its units' results and says what a rerun would log; restore (one
    form for every unit) says neither: no empty brackets, no rerun promise."""
    from esp_cabundle.commands._station import records_lost

    err = station.OutputError("cannot append to the log x.csv", hint="free some space")
    bare = records_lost([("p1", err), ("p2", err)], 3)
    assert bare.message == (
        "cannot append to the log x.csv: the records of 2 units are missing from it "
        "(p1, p2); the units' own work is done, as reported above"
    )
    assert bare.hint == (
        "free some space; copy what the missing records would say from the lines above (or --json)"
    )
    one = records_lost([("p1", err)], 1, done="1 updated", rerun="running again logs it")
    assert "the record of 1 unit is missing from it (p1); the unit's own work" in one.message
    assert one.message.endswith("as reported above (1 updated)")
    assert one.hint.endswith("(or --json): running again logs it")
