"""A unit written back and read back whose journal entry cannot be marked restored (a
full disk after the writes): the unit is OK, not FAILED; the entry is said once the
units are reported, with its path and the errno's remedy, exit 3, as ``flash`` says an
entry it could not mark complete (text, and --json's unit "journal_error")."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from esp_cabundle.cli import cli
from esp_cabundle.flash.journal import Journal, JournalEntry, Status
from esp_cabundle.virtual import VirtualESP32
from tests.test_flash_journal_unmarked import (
    FULL,
    Start,
    flash_args,
    full_after_record,
    full_everywhere,
    mac,
    statuses,
    stop_requested,
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


def stopped_before_the_first_sector_on_a_full_disk(
    runner: CliRunner, args: list[str], monkeypatch: pytest.MonkeyPatch
) -> Any:
    """Restore with ``args``: the entry is marked restoring, then a stop comes before the
    first sector written back, and the disk fills (the entry cannot be set back)."""
    with monkeypatch.context() as m:
        stop = stop_requested(m)
        real = Journal.set_status

        def set_status(self: Journal, entry: JournalEntry, status: Status, *, unit: str) -> Any:
            saved = real(self, entry, status, unit=unit)
            if status == "restoring":  # after the mark, before the first sector
                stop()
                full_everywhere(m, {mac(0).replace(":", "")})
            return saved

        m.setattr(Journal, "set_status", set_status)
        return runner.invoke(cli, args)


def test_a_stop_before_the_first_sector_back_keeps_the_entry_not_set_back(
    virtual_esp32: Start, runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Setting the entry back to complete failed the unit (exit 3, the stop not said);
    now the unit is interrupted, unchanged, and --json's journal_error (the text: after
    the line) names the entry; the next restore settles it."""
    (unit,) = units(virtual_esp32, 1)
    flashed(runner, tmp_path, [unit])
    updated = whole(unit)
    args = restore_args(tmp_path, [unit.url])
    r = stopped_before_the_first_sector_on_a_full_disk(runner, [*args, "--json"], monkeypatch)
    assert r.exit_code == 130, r.output
    (u,) = json.loads(r.stdout)["units"]
    assert u["sectors_written"] == 0 and "interrupted" in u["status"], u
    (entry,) = Journal(tmp_path / "j").entries(mac(0))
    said = (
        f"{entry.path}: cannot mark the journal entry complete ({FULL}); nothing was "
        "written back: the unit is unchanged"
    )
    assert u["journal_error"]["error"] == said
    assert "it still says restoring" in u["journal_error"]["hint"]
    assert whole(unit) == updated and entry.status == "restoring"
    r = stopped_before_the_first_sector_on_a_full_disk(runner, args, monkeypatch)
    assert r.exit_code == 130, r.output
    again = said.replace("entry complete", "entry restoring")  # as the first run left it
    assert f"Error: {unit.url}: {again}" in " ".join(r.stderr.split()), r.stderr
    # the next restore settles it (the disk is fine again)
    r = runner.invoke(cli, args)
    assert r.exit_code == 0, r.output
    assert statuses(tmp_path, 0) == ["restored"]
