"""A unit written back and read back whose journal entry cannot be marked restored (a
full disk after the writes): the unit is OK, not FAILED; the entry is said once the
units are reported, with its path and the errno's remedy, exit 3, as ``flash`` says an
entry it could not mark complete (text, and --json's unit "journal_error")."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from esp_cabundle.cli import cli
from esp_cabundle.flash.journal import Journal
from esp_cabundle.virtual import VirtualESP32
from tests.test_flash_journal_unmarked import (
    FULL,
    Start,
    flash_args,
    full_after_record,
    mac,
    statuses,
    units,
)


def whole(unit: VirtualESP32) -> bytes:
    return unit.read(0, len(unit.flash))


def flashed(runner: CliRunner, tmp_path: Path, station: list[VirtualESP32]) -> None:
    r = runner.invoke(cli, flash_args(tmp_path, [u.url for u in station]))
    assert r.exit_code == 0, r.output


def restore_args(tmp_path: Path, ports: list[str], *extra: str) -> list[str]:
    args = ["restore", "--journal-dir", str(tmp_path / "j"), *extra]
    return args + [w for p in ports for w in ("--port", p)]


def test_units_whose_entry_cannot_be_marked_restored_are_ok_and_said_after(
    virtual_esp32: Start, runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    station = units(virtual_esp32, 2)
    originals = [whole(u) for u in station]
    flashed(runner, tmp_path, station)
    full_after_record(monkeypatch, {mac(i).replace(":", "") for i in range(2)})
    r = runner.invoke(cli, restore_args(tmp_path, [u.url for u in station]))
    assert r.exit_code == 3, r.output
    first, second, summary = r.stdout.splitlines()
    for line, unit in zip((first, second), station, strict=True):
        assert line.startswith(f"OK  {unit.url}  "), line
        assert "restored fs_0, fs_1 as they were before the update of" in line
        assert "its journal entry could not be marked restored" in line
    assert summary == "2 of 2 units succeeded."
    assert [whole(u) for u in station] == originals
    assert statuses(tmp_path, 0) == statuses(tmp_path, 1) == ["restoring"]
    (entry,) = Journal(tmp_path / "j").entries(mac(0))
    err = " ".join(r.stderr.split())
    assert (
        f"Error: {station[0].url}: {entry.path}: cannot mark the journal entry restored "
        f"({FULL}); the unit holds its CA file from before the update of {entry.when} "
        f"again: it was restored and read back; the entries of {station[1].url} could not "
        "be marked restored either"
    ) in err, r.stderr
    assert f"hint: free space on the disk holding {entry.path.parent} (or raise the quota)" in err


def test_json_says_the_entry_beside_a_restored_unit(
    virtual_esp32: Start, runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    station = units(virtual_esp32, 2)
    flashed(runner, tmp_path, station)
    full_after_record(monkeypatch, {mac(0).replace(":", "")})  # the second's disk is fine
    r = runner.invoke(cli, restore_args(tmp_path, [u.url for u in station], "--json"))
    assert r.exit_code == 3, r.output
    doc = json.loads(r.stdout)
    assert doc["ok"] is False and doc["exit_code"] == 3
    full, fine = doc["units"]
    assert set(full) == set(fine)
    for u in (full, fine):
        assert (u["ok"], u["exit_code"], u["error"], u["status"]) == (True, 0, None, "restored")
    assert fine["journal_error"] is None
    assert full["journal_error"]["error"].startswith(
        f"{full['journal']}: cannot mark the journal entry restored ({FULL})"
    )
    assert full["journal_error"]["hint"].startswith("free space on the disk holding ")
    assert "Error:" not in r.stderr  # said once, in the document
    assert statuses(tmp_path, 0) == ["restoring"] and statuses(tmp_path, 1) == ["restored"]


def test_a_later_restore_settles_the_entry(
    virtual_esp32: Start, runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As the hint says: kept there, the entry is marked by the next restore once the
    disk takes it (nothing left to write back), and that run exits 0."""
    (unit,) = units(virtual_esp32, 1)
    flashed(runner, tmp_path, [unit])
    with monkeypatch.context() as m:
        full_after_record(m, {mac(0).replace(":", "")})
        assert runner.invoke(cli, restore_args(tmp_path, [unit.url])).exit_code == 3
    back = whole(unit)
    r = runner.invoke(cli, restore_args(tmp_path, [unit.url]))
    assert r.exit_code == 0, r.output
    assert "already hold what they held before the update" in r.stdout
    assert statuses(tmp_path, 0) == ["restored"] and whole(unit) == back
