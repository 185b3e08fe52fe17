"""A unit updated and verified whose journal entry cannot be marked complete (a full
disk after the writes): the unit is OK, not FAILED; the entry is said once the units
are reported, with its path and the errno's remedy, and the run exits 3, as a station
log that lost records does (text, and --json's unit "journal_error")."""

from __future__ import annotations

import csv
import errno
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from support.layouts import load_mongoose

from esp_cabundle.cli import cli
from esp_cabundle.commands import _station as station_commands
from esp_cabundle.errors import OutputError
from esp_cabundle.flash import flasher as flasher_module
from esp_cabundle.flash import journal as journal_module
from esp_cabundle.flash import station as station_module
from esp_cabundle.flash import writer as writer_module
from esp_cabundle.flash.interrupt import Cancel
from esp_cabundle.flash.journal import Journal, JournalEntry
from esp_cabundle.fs import open_image
from esp_cabundle.virtual import VirtualESP32
from tests.support import dumps, flashing
from tests.support.gated import canonical

Start = Callable[..., VirtualESP32]
NEW_CA = canonical(dumps.pem("isrgrootx1.pem") + dumps.pem("isrg-root-x2.pem"))
FULL = "No space left on device"


def mac(i: int) -> str:
    return f"24:0a:c4:00:03:{i:02x}"


def units(start: Start, n: int) -> list[VirtualESP32]:
    out = []
    for i in range(n):
        unit = start("esp32", mac=mac(i))
        load_mongoose(unit)
        out.append(unit)
    return out


def ca_on(unit: VirtualESP32) -> bytes:
    return open_image(unit.read(0x190000, 0x40000)).read("/ca.pem")


def full_after_record(monkeypatch: pytest.MonkeyPatch, folders: set[str]) -> None:
    """The journal of the units whose folder is in ``folders`` takes the entry saved
    before the first write, then no more (ENOSPC): marking it complete fails."""
    real = journal_module._write_private
    saved: set[Path] = set()

    def write(path: Path, data: bytes) -> None:
        if path.parent.name in folders and path in saved:
            raise OSError(errno.ENOSPC, FULL)
        real(path, data)
        saved.add(path)

    monkeypatch.setattr(journal_module, "_write_private", write)


def flash_args(tmp_path: Path, ports: list[str], *extra: str) -> list[str]:
    ca = tmp_path / "ca.pem"
    ca.write_bytes(NEW_CA)
    args = ["flash", "--board", "mongoose-os-esp32", "--bundle", str(ca)]
    args += ["--journal-dir", str(tmp_path / "j"), *extra]
    return args + [w for p in ports for w in ("--port", p)]


def statuses(tmp_path: Path, i: int) -> list[str]:
    return [e.status for e in Journal(tmp_path / "j").entries(mac(i))]


def test_units_whose_journal_cannot_be_marked_are_ok_and_said_after(
    virtual_esp32: Start, runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    station = units(virtual_esp32, 2)
    full_after_record(monkeypatch, {mac(i).replace(":", "") for i in range(2)})
    r = runner.invoke(cli, flash_args(tmp_path, [u.url for u in station]))
    assert r.exit_code == 3, r.output
    first, second, summary = r.stdout.splitlines()
    for line, unit in zip((first, second), station, strict=True):
        assert line.startswith(f"OK  {unit.url}  "), line
        assert "its journal entry could not be marked complete" in line
    assert summary == "2 of 2 units succeeded."
    assert all(ca_on(u) == NEW_CA for u in station)
    assert statuses(tmp_path, 0) == statuses(tmp_path, 1) == ["pending"]
    (entry,) = Journal(tmp_path / "j").entries(mac(0))
    err = " ".join(r.stderr.split())
    assert (
        f"Error: {station[0].url}: {entry.path}: cannot mark the journal entry complete "
        f"({FULL}); the unit holds the new CA file: it was updated and verified; the "
        f"entries of {station[1].url} could not be marked complete either"
    ) in err, r.stderr
    assert f"hint: free space on the disk holding {entry.path.parent} (or raise the quota)" in err
    assert "it still says pending" in err


def test_json_says_the_entry_beside_an_updated_unit(
    virtual_esp32: Start, runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    station = units(virtual_esp32, 2)
    full_after_record(monkeypatch, {mac(0).replace(":", "")})  # the second's disk is fine
    r = runner.invoke(cli, flash_args(tmp_path, [u.url for u in station], "--json"))
    assert r.exit_code == 3, r.output
    doc = json.loads(r.stdout)
    assert doc["ok"] is False and doc["exit_code"] == 3
    full, fine = doc["units"]
    assert set(full) == set(fine)
    for u in (full, fine):
        assert u["ok"] is True and u["exit_code"] == 0 and u["error"] is None
        assert (u["status"], u["result"]) == ("updated", "updated")
    assert fine["journal_error"] is None
    assert (
        f"{full['journal']}: cannot mark the journal entry complete ({FULL})"
        in (full["journal_error"]["error"])
    )
    assert full["journal_error"]["hint"].startswith("free space on the disk holding ")
    assert "Error:" not in r.stderr  # said once, in the document
    assert statuses(tmp_path, 0) == ["pending"] and statuses(tmp_path, 1) == ["complete"]
    assert all(ca_on(u) == NEW_CA for u in station)


def test_a_later_flash_settles_the_entry(
    virtual_esp32: Start, runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As the hint says: kept there, the entry is marked by the next flash once the
    disk takes it, and that run exits 0."""
    (unit,) = units(virtual_esp32, 1)
    with monkeypatch.context() as m:
        full_after_record(m, {mac(0).replace(":", "")})
        assert runner.invoke(cli, flash_args(tmp_path, [unit.url])).exit_code == 3
    r = runner.invoke(cli, flash_args(tmp_path, [unit.url]))
    assert r.exit_code == 0, r.output
    assert statuses(tmp_path, 0) == ["complete"]
    assert ca_on(unit) == NEW_CA


# ---------------------------------------------------------------------------------------
# An interrupted update finished first, its entry not marked complete


OTHER_CA = flashing.NEW_CA  # with the R10 intermediate: another CA than NEW_CA


def full_on_rewrite(monkeypatch: pytest.MonkeyPatch, folders: set[str]) -> None:
    """The journal of the units whose folder is in ``folders`` takes new entries but no
    rewrite of one (ENOSPC): no entry can be marked, a new one can be recorded."""
    real = journal_module._write_private

    def write(path: Path, data: bytes) -> None:
        if path.parent.name in folders and path.exists():
            raise OSError(errno.ENOSPC, FULL)
        real(path, data)

    monkeypatch.setattr(journal_module, "_write_private", write)


def cut_part_way(unit: VirtualESP32, tmp_path: Path, runner: CliRunner) -> None:
    """Flash NEW_CA with the link cut in the third sector: the entry says pending."""
    unit.arm_cut(sector_writes=2)
    r = runner.invoke(cli, flash_args(tmp_path, [unit.url]))
    assert r.exit_code != 0 and "link lost" in r.output, r.output
    assert statuses(tmp_path, 0) == ["pending"]


def test_an_interrupted_update_finished_whose_entry_cannot_be_marked_is_ok(
    virtual_esp32: Start, runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The rerun finishes the update (the same CA: nothing more to write); its entry
    cannot be marked complete: OK, said after the line, exit 3, as for this run's own
    entry; the log's record says resumed, its notes the entry and the remedy."""
    (unit,) = units(virtual_esp32, 1)
    cut_part_way(unit, tmp_path, runner)
    log = tmp_path / "station.jsonl"
    full_on_rewrite(monkeypatch, {mac(0).replace(":", "")})
    r = runner.invoke(cli, flash_args(tmp_path, [unit.url], "--log", str(log)))
    assert r.exit_code == 3, r.output
    (line,) = r.stdout.splitlines()
    assert line.startswith(f"OK  {unit.url}  "), line
    assert "finished the interrupted update" in line
    assert line.endswith("its journal entry could not be marked complete"), line
    (entry,) = Journal(tmp_path / "j").entries(mac(0))
    err = " ".join(r.stderr.split())
    assert (
        f"Error: {unit.url}: {entry.path}: cannot mark the journal entry complete ({FULL}); "
        "the unit holds the CA file of the update interrupted on"
    ) in err, r.stderr
    assert "this run's CA not written" not in err  # the run went on
    assert "hint: free space on the disk holding" in err
    assert ca_on(unit) == NEW_CA and entry.status == "pending"
    (record,) = (json.loads(x) for x in log.read_text().splitlines())
    assert (record["result"], record["error"]) == ("resumed", "")
    assert record["notes"][-1].startswith(f"journal: {entry.path}: cannot mark the journal")
    assert "; next: free space on the disk holding" in record["notes"][-1]


def test_json_says_the_finished_entry_and_this_runs_both_unmarked(
    virtual_esp32: Start, runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another CA this time: the interrupted update is finished, then this one written
    and verified; neither entry can be marked complete. The unit is updated, and its
    journal_error names both."""
    (unit,) = units(virtual_esp32, 1)
    cut_part_way(unit, tmp_path, runner)
    (tmp_path / "ca.pem").write_bytes(OTHER_CA)
    args = ["flash", "--board", "mongoose-os-esp32", "--bundle", str(tmp_path / "ca.pem")]
    args += ["--journal-dir", str(tmp_path / "j"), "--port", unit.url, "--json"]
    full_on_rewrite(monkeypatch, {mac(0).replace(":", "")})
    r = runner.invoke(cli, args)
    assert r.exit_code == 3, r.output
    (u,) = json.loads(r.stdout)["units"]
    assert (u["ok"], u["status"], u["result"], u["error"]) == (True, "updated", "resumed", None)
    finished, this = Journal(tmp_path / "j").entries(mac(0))
    said = u["journal_error"]["error"]
    assert said.startswith(f"{finished.path}: cannot mark the journal entry complete ({FULL})")
    assert f"; and {this.path}: cannot mark the journal entry complete ({FULL})" in said
    assert u["journal_error"]["hint"].startswith("free space on the disk holding ")
    assert (finished.status, this.status) == ("pending", "pending")
    assert ca_on(unit) == OTHER_CA


def test_a_csv_log_keeps_the_unmarked_entry_on_the_records_line(
    virtual_esp32: Start, runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The record of a unit updated whose entry is not marked: result updated, the error
    empty (it did not fail), the entry and what to do among its notes, one line."""
    station = units(virtual_esp32, 2)
    log = tmp_path / "station.csv"
    full_after_record(monkeypatch, {mac(0).replace(":", "")})
    r = runner.invoke(cli, flash_args(tmp_path, [u.url for u in station], "--log", str(log)))
    assert r.exit_code == 3, r.output
    lines = log.read_text().splitlines()
    assert len(lines) == 3  # the header and one line per unit
    rows = {row["port"]: row for row in csv.DictReader(lines)}
    full, fine = rows[station[0].url], rows[station[1].url]
    assert (full["result"], full["error"]) == ("updated", "")
    (entry,) = Journal(tmp_path / "j").entries(mac(0))
    *plan_notes, last = json.loads(full["notes"])  # the notes split back, as README says
    assert last.startswith(
        f"journal: {entry.path}: cannot mark the journal entry complete ({FULL})"
    )
    assert "; next: free space on the disk holding" in last
    assert (fine["result"], fine["error"]) == ("updated", "")
    assert json.loads(fine["notes"]) == plan_notes  # the plan's notes first, alike


def full_everywhere(monkeypatch: pytest.MonkeyPatch, folders: set[str]) -> None:
    """The journal of the units whose folder is in ``folders`` takes nothing more: no
    new entry, no rewrite of one (ENOSPC)."""
    real = journal_module._write_private

    def write(path: Path, data: bytes) -> None:
        if path.parent.name in folders:
            raise OSError(errno.ENOSPC, FULL)
        real(path, data)

    monkeypatch.setattr(journal_module, "_write_private", write)


def test_a_new_entry_refused_after_a_finish_does_not_say_nothing_was_written(
    virtual_esp32: Start, runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another CA on a full disk: the interrupted update is finished (sectors written),
    its entry cannot be marked, then this run's entry cannot be saved. The error said
    "nothing written to the unit" and dropped the finished entry's trouble: it now says
    what the unit holds and names both."""
    (unit,) = units(virtual_esp32, 1)
    cut_part_way(unit, tmp_path, runner)
    (tmp_path / "ca.pem").write_bytes(OTHER_CA)
    args = ["flash", "--board", "mongoose-os-esp32", "--bundle", str(tmp_path / "ca.pem")]
    args += ["--journal-dir", str(tmp_path / "j"), "--port", unit.url, "--json"]
    full_everywhere(monkeypatch, {mac(0).replace(":", "")})
    r = runner.invoke(cli, args)
    assert r.exit_code != 0, r.output
    (u,) = json.loads(r.stdout)["units"]
    said = u["error"]
    assert "nothing written to the unit" not in said, said
    assert "this run's CA not written; the earlier interrupted update was finished (" in said
    assert "so the unit holds that update's CA" in said
    (finished,) = Journal(tmp_path / "j").entries(mac(0))
    assert f"; and {finished.path}: cannot mark the journal entry complete ({FULL})" in said
    assert ca_on(unit) == NEW_CA and finished.status == "pending"


# ---------------------------------------------------------------------------------------
# --log beside an unmarked entry: the log's part says the records it lacks, only


def log_full(monkeypatch: pytest.MonkeyPatch) -> None:
    """The station log takes no record (ENOSPC)."""

    def full(fd: int, data: bytes) -> None:
        raise OSError(errno.ENOSPC, FULL)

    monkeypatch.setattr(station_module, "_write_all", full)


def log_args(folder: Path, station: list[VirtualESP32], log: Path, *extra: str) -> list[str]:
    """flash --log LOG on every unit of ``station``, the journal (and CA) in ``folder``."""
    folder.mkdir(exist_ok=True)
    return flash_args(folder, [u.url for u in station], "--log", str(log), *extra)


def test_json_log_says_no_error_when_every_record_was_written(
    virtual_esp32: Start, runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The entry not marked was said as the log's error (every record written)."""
    station = units(virtual_esp32, 2)
    log = tmp_path / "station.jsonl"
    full_after_record(monkeypatch, {mac(0).replace(":", "")})
    r = runner.invoke(cli, log_args(tmp_path, station, log, "--json"))
    assert r.exit_code == 3, r.output
    doc = json.loads(r.stdout)
    assert doc["log"] == {
        "path": str(log),
        "format": "jsonl",
        "error": None,
        "hint": None,
        "missing": [],
    }
    full, fine = doc["units"]
    assert "cannot mark the journal entry complete" in full["journal_error"]["error"]
    assert fine["journal_error"] is None
    assert [json.loads(x)["result"] for x in log.read_text().splitlines()] == ["updated"] * 2
    # the text says the entry after the lines, as the journal's, not the log's
    for u in station:
        load_mongoose(u)
    r = runner.invoke(cli, log_args(tmp_path / "text", station, log))
    assert r.exit_code == 3, r.output
    err = " ".join(r.stderr.split())
    assert f"Error: {station[0].url}: " in err and "cannot mark the journal entry complete" in err
    assert "the log" not in err and "missing from it" not in err, err
    assert len(log.read_text().splitlines()) == 4


def test_json_log_keeps_the_lost_records_apart_from_the_unmarked_entry(
    virtual_esp32: Start, runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Both at once: the log's part names its own failure and the records it lacks;
    the entry stays the unit's; the text's error says both, one exit 3."""
    station = units(virtual_esp32, 2)
    log = tmp_path / "station.jsonl"
    full_after_record(monkeypatch, {mac(0).replace(":", "")})
    log_full(monkeypatch)
    r = runner.invoke(cli, log_args(tmp_path, station, log, "--json"))
    assert r.exit_code == 3, r.output
    doc = json.loads(r.stdout)
    said = doc["log"]["error"]
    assert "cannot append to the log" in said and "missing from it" in said, said
    assert "journal entry" not in said and "journal entry" not in doc["log"]["hint"]
    assert doc["log"]["missing"] == [u.url for u in station]
    assert "cannot mark the journal entry complete" in doc["units"][0]["journal_error"]["error"]
    for u in station:
        load_mongoose(u)
    r = runner.invoke(cli, log_args(tmp_path / "text", station, log))
    assert r.exit_code == 3, r.output
    err = " ".join(r.stderr.split())
    assert "Error: " in err and "cannot append to the log" in err, err
    assert f"; and {station[0].url}: " in err and "cannot mark the journal entry complete" in err


# ---------------------------------------------------------------------------------------
# Two interrupted updates pending; entries that cannot be marked stale or deleted


def two_pending(
    unit: VirtualESP32, tmp_path: Path, runner: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> tuple[JournalEntry, JournalEntry]:
    """NEW_CA cut part-way (A); then OTHER_CA on a disk that takes new entries only: A is
    finished (its entry not marked complete), OTHER_CA's own (B) recorded and cut in its
    first sector. Both entries say pending."""
    cut_part_way(unit, tmp_path, runner)
    (first,) = Journal(tmp_path / "j").entries(mac(0))
    (tmp_path / "other.pem").write_bytes(OTHER_CA)
    with monkeypatch.context() as m:
        full_on_rewrite(m, {mac(0).replace(":", "")})
        unit.arm_cut(sector_writes=len(first.sectors) - 2)  # A's last sectors, then B's first
        r = runner.invoke(cli, other_args(tmp_path, unit))
    assert r.exit_code != 0 and "link lost" in r.output, r.output
    a, b = Journal(tmp_path / "j").entries(mac(0))
    assert (a.status, b.status, a.ca_sha256 != b.ca_sha256) == ("pending", "pending", True)
    return a, b


def other_args(tmp_path: Path, unit: VirtualESP32) -> list[str]:
    args = ["flash", "--board", "mongoose-os-esp32", "--bundle", str(tmp_path / "other.pem")]
    return [*args, "--journal-dir", str(tmp_path / "j"), "--port", unit.url, "--json"]


def test_an_entry_not_marked_stale_does_not_fail_the_unit(
    virtual_esp32: Start, runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """B's torn sector lies outside A's: A is stale, B is finished; on a full disk neither
    can be marked. The stale entry's save failed the unit before B was looked at; now
    the run goes on, the unit is whole with OTHER_CA, and journal_error names both."""
    (unit,) = units(virtual_esp32, 1)
    a, b = two_pending(unit, tmp_path, runner, monkeypatch)
    full_everywhere(monkeypatch, {mac(0).replace(":", "")})
    r = runner.invoke(cli, other_args(tmp_path, unit))
    assert r.exit_code == 3, r.output
    (u,) = json.loads(r.stdout)["units"]
    assert (u["ok"], u["status"], u["error"]) == (True, "up to date", None), u
    assert [x["action"] for x in u["resumed"]] == ["stale", "finished"]
    said = u["journal_error"]["error"]
    assert said.startswith(f"{a.path}: cannot mark the journal entry stale ({FULL}); ")
    assert "none of it was written by this run, it is left alone" in said
    assert f"; and {b.path}: cannot mark the journal entry complete ({FULL})" in said
    assert u["journal_error"]["hint"].startswith("free space on the disk holding ")
    assert statuses(tmp_path, 0) == ["pending", "pending"]
    assert ca_on(unit) == OTHER_CA


def test_an_entry_not_deleted_keeps_the_update_finished_before(
    virtual_esp32: Start, runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A partly applied again (one sector back to its old content), B's torn sector as
    it was before B: A is finished (a sector written), then B, holding none of its
    sectors, dropped (its entry deleted); on a full disk A cannot be marked, and B's
    entry cannot be deleted. The save of "cancelled" (as B was once) failed the unit
    saying nothing of A's sector; now the unit is OK with NEW_CA, the finished update
    reported and both entries named."""
    (unit,) = units(virtual_esp32, 1)
    a, b = two_pending(unit, tmp_path, runner, monkeypatch)
    unit.load(a.sectors[-1].offset, a.sectors[-1].old)
    unit.load(b.sectors[0].offset, b.sectors[0].old)
    full_everywhere(monkeypatch, {mac(0).replace(":", "")})
    real_unlink = Path.unlink

    def unlink(self: Path, missing_ok: bool = False) -> None:
        if self == b.path:
            raise PermissionError(errno.EACCES, "Permission denied")
        real_unlink(self, missing_ok=missing_ok)

    monkeypatch.setattr(Path, "unlink", unlink)
    r = runner.invoke(cli, flash_args(tmp_path, [unit.url], "--json"))
    assert r.exit_code == 3, r.output
    (u,) = json.loads(r.stdout)["units"]
    assert (u["ok"], u["status"], u["result"], u["error"]) == (True, "up to date", "resumed", None)
    assert [(x["action"], x["sectors"]) for x in u["resumed"]] == [("finished", 1), ("dropped", 0)]
    assert u["sectors_written"] == 1
    said = u["journal_error"]["error"]
    assert said.startswith(f"{a.path}: cannot mark the journal entry complete ({FULL}); ")
    assert f"; and {b.path}: cannot delete (Permission denied); " in said
    assert said.endswith("the unit holds what it held before it")
    assert statuses(tmp_path, 0) == ["pending", "pending"]
    assert ca_on(unit) == NEW_CA
    # and the line, in text
    unit.load(a.sectors[-1].offset, a.sectors[-1].old)
    r = runner.invoke(cli, flash_args(tmp_path, [unit.url]))
    assert r.exit_code == 3, r.output
    (line,) = r.stdout.splitlines()
    assert line.startswith(f"OK  {unit.url}  ") and "finished the interrupted update" in line
    err = " ".join(r.stderr.split())
    assert f"Error: {unit.url}: {a.path}: cannot mark the journal entry complete" in err
    assert "nothing written" not in err


# ---------------------------------------------------------------------------------------
# A stop after an entry could not be marked: the report keeps the entry


def stop_requested(monkeypatch: pytest.MonkeyPatch) -> Callable[[], None]:
    """What a Ctrl-C does to the run under way: its token, a new one each run, set by
    the function returned (no signal is sent)."""
    tokens = [Cancel()]

    @contextmanager
    def stop_on_signals(**_: object) -> Iterator[Cancel]:
        tokens.append(Cancel())
        yield tokens[-1]

    def stop() -> None:
        tokens[-1].request("SIGINT")

    monkeypatch.setattr(station_commands, "stop_on_signals", stop_on_signals)
    return stop


def stop_on_message(monkeypatch: pytest.MonkeyPatch, module: Any, text: str) -> None:
    """A stop requested as ``module`` says a progress message holding ``text``."""
    stop = stop_requested(monkeypatch)
    real = module.say

    def say(progress: Any, message: str, *args: Any) -> None:
        if text in message:
            stop()
        real(progress, message, *args)

    monkeypatch.setattr(module, "say", say)


def test_a_stop_before_the_first_write_after_a_finish_says_both_entries(
    virtual_esp32: Start, runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another CA: the interrupted update is finished (its entry not marked complete),
    this run's entry recorded, then a stop before its first sector; that entry, which
    holds nothing the unit needs, cannot be deleted either. The unit is interrupted,
    holding the finished update's CA, and journal_error names both entries, each with
    its remedy."""
    (unit,) = units(virtual_esp32, 1)
    cut_part_way(unit, tmp_path, runner)
    (tmp_path / "other.pem").write_bytes(OTHER_CA)
    full_on_rewrite(monkeypatch, {mac(0).replace(":", "")})
    stop = stop_requested(monkeypatch)
    real = Journal.record

    def record(self: Journal, entry: JournalEntry) -> JournalEntry:
        saved = real(self, entry)
        stop()  # after the journal, before the first sector
        return saved

    def remove(self: Journal, entry: JournalEntry) -> None:
        raise OutputError(f"{entry.path}: cannot delete (Permission denied)")

    monkeypatch.setattr(Journal, "record", record)
    monkeypatch.setattr(Journal, "remove", remove)
    r = runner.invoke(cli, other_args(tmp_path, unit))
    assert r.exit_code == 130, r.output
    (u,) = json.loads(r.stdout)["units"]
    assert (u["ok"], u["result"]) == (False, "interrupted"), u
    ((action, written),) = [(x["action"], x["sectors"]) for x in u["resumed"]]
    assert action == "finished" and written > 0 and u["sectors_written"] == written
    finished, this = Journal(tmp_path / "j").entries(mac(0))
    said = u["journal_error"]["error"]
    assert said.startswith(f"{finished.path}: cannot mark the journal entry complete ({FULL})")
    assert f"; and {this.path}: cannot delete (Permission denied); " in said
    assert "no sector of that update was written" in said
    hint = u["journal_error"]["hint"]
    assert hint.startswith("free space on the disk holding ") and "delete the entry" in hint
    assert "stopped before anything was written" not in u["error"]  # the finish wrote one
    assert (finished.status, this.status) == ("pending", "pending")
    assert ca_on(unit) == NEW_CA


@pytest.mark.parametrize(
    ("module", "text"),
    [
        (flasher_module, "no longer matches the unit"),  # before B is looked at
        (writer_module, "finishing the interrupted update: sector"),  # in B's first sector
    ],
)
def test_a_stop_after_an_entry_not_marked_stale_keeps_it_said(
    virtual_esp32: Start,
    runner: CliRunner,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    module: Any,
    text: str,
) -> None:
    """A is stale and cannot be marked so (a full disk); the run is then stopped while
    B is being finished. The stop dropped A's trouble: the report and --json now say it
    (journal_error), and the log's record keeps it among its notes."""
    (unit,) = units(virtual_esp32, 1)
    a, _b = two_pending(unit, tmp_path, runner, monkeypatch)
    full_everywhere(monkeypatch, {mac(0).replace(":", "")})
    stop_on_message(monkeypatch, module, text)
    log = tmp_path / "station.jsonl"
    r = runner.invoke(cli, [*other_args(tmp_path, unit), "--log", str(log)])
    assert r.exit_code == 130, r.output
    (u,) = json.loads(r.stdout)["units"]
    assert u["result"] == "interrupted", u
    said = u["journal_error"]["error"]
    assert said.startswith(f"{a.path}: cannot mark the journal entry stale ({FULL}); "), said
    (record,) = (json.loads(x) for x in log.read_text().splitlines())
    assert record["notes"][-1].startswith(f"journal: {a.path}: cannot mark the journal entry")
    # and in text, after the unit's line
    unit_before = unit.read(0, len(unit.flash))
    r = runner.invoke(cli, other_args(tmp_path, unit)[:-1])
    assert r.exit_code == 130, r.output
    err = " ".join(r.stderr.split())
    assert f"{a.path}: cannot mark the journal entry stale ({FULL})" in err, r.stderr
    assert unit.read(0, len(unit.flash)) == unit_before or module is writer_module
