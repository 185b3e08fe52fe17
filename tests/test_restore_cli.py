"""``esp-cabundle restore``: the journaled original written back, byte for byte; updates
undone newest first; refusals (no journal, a file system changed since) write nothing."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from support.layouts import load_mongoose

from esp_cabundle.cli import cli
from esp_cabundle.flash.journal import Journal, default_journal_dir
from esp_cabundle.fs import open_image
from esp_cabundle.virtual import VirtualESP32
from tests.support import dumps
from tests.support.gated import canonical

Start = Callable[..., VirtualESP32]
CA_1 = canonical(dumps.pem("isrgrootx1.pem") + dumps.pem("isrg-root-x2.pem"))
CA_2 = canonical(dumps.pem("isrgrootx1.pem"))


def write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def flash(
    runner: CliRunner, unit: VirtualESP32, board: str, ca: Path, journal: Path, expect: int = 0
) -> Result:
    """``flash`` with the CA file ``ca``, ending with exit code ``expect``."""
    args = ["flash", "-p", unit.url, "--board", board, "--bundle", str(ca)]
    r = runner.invoke(cli, [*args, "--journal-dir", str(journal)])
    assert r.exit_code == expect, r.output
    return r


def restore(runner: CliRunner, unit: VirtualESP32, journal: Path, *extra: str) -> Result:
    return runner.invoke(cli, ["restore", "-p", unit.url, "--journal-dir", str(journal), *extra])


def test_restore_undoes_updates_newest_first(
    mongoose_unit: VirtualESP32, runner: CliRunner, tmp_path: Path
) -> None:
    original = mongoose_unit.read(0, len(mongoose_unit.flash))
    journal = tmp_path / "journal"
    flash(runner, mongoose_unit, "mongoose-os-esp32", write(tmp_path, "1.pem", CA_1), journal)
    after_first = mongoose_unit.read(0, len(mongoose_unit.flash))
    flash(runner, mongoose_unit, "mongoose-os-esp32", write(tmp_path, "2.pem", CA_2), journal)
    assert open_image(mongoose_unit.read(0x350000, 0x40000)).read("/ca.pem") == CA_2

    erased = mongoose_unit.stats.sectors_erased
    r = restore(runner, mongoose_unit, journal, "--dry-run")
    assert r.exit_code == 0 and "would write" in r.stdout
    assert "100% DRY RUN" in r.stderr and "OK" not in r.stderr, r.stderr  # bar as line
    assert mongoose_unit.stats.sectors_erased == erased
    # as flash --dry-run --json and the dry run's log record: nothing written; what
    # would be is each partition's sectors_to_write (it said the sectors it would write)
    r = restore(runner, mongoose_unit, journal, "--dry-run", "--json")
    (report,) = json.loads(r.stdout)["units"]
    assert report["status"] == "dry run" and report["sectors_written"] == 0, report
    assert sum(f["sectors_to_write"] for f in report["found"]) > 0, report
    assert mongoose_unit.stats.sectors_erased == erased

    r = restore(runner, mongoose_unit, journal, "--verbose")
    assert r.exit_code == 0, r.output
    line, *details = r.stdout.splitlines()  # the line: OK, port, MAC, seconds, roots back
    assert line.startswith(f"OK  {mongoose_unit.url}  24:0a:c4:12:34:56  ")
    assert "restored fs_0, fs_1 as they were before the update of" in line
    assert line.endswith(": +ISRG Root X2")  # the second update had dropped it
    assert any("written back in this order: 0x" in d for d in details)
    assert "100%" in r.stderr  # the one bar of the job
    # the job's own steps, never esptool's chatter or a phase bar of unknown size
    assert "restore: sector 0x" in r.stderr and " (1 of " in r.stderr
    for raw in ("Write 0x", "0/?", "Compressed ", "Wrote "):
        assert raw not in r.output
    assert mongoose_unit.read(0, len(mongoose_unit.flash)) == after_first
    r = restore(runner, mongoose_unit, journal, "--json")
    (report,) = json.loads(r.stdout)["units"]  # a station's document, as flash's
    assert report["sectors_written"] > 0 and report["partitions"] == ["fs_0", "fs_1"]
    assert mongoose_unit.read(0, len(mongoose_unit.flash)) == original
    statuses = [e.status for e in Journal(journal).entries("24:0a:c4:12:34:56")]
    assert statuses == ["restored", "restored"]

    # All undone: nothing to do is no failure (a station's script may run it again).
    erased = mongoose_unit.stats.sectors_erased
    r = restore(runner, mongoose_unit, journal)
    assert r.exit_code == 0, r.output
    assert r.stdout.startswith(f"OK  {mongoose_unit.url}  24:0a:c4:12:34:56  ")
    assert "every update journaled for 24:0a:c4:12:34:56 in " in r.stdout
    assert r.stdout.rstrip().endswith("was already restored; nothing to do")
    assert "FAILED" not in r.output and "journaled on the computer that ran" not in r.stdout
    r = restore(runner, mongoose_unit, journal, "--json")
    assert r.exit_code == 0, r.output
    (report,) = json.loads(r.stdout)["units"]
    assert report["already_restored"] is True and report["sectors_written"] == 0
    assert report["mac"] == "24:0a:c4:12:34:56" and report["ok"] is True  # no failure
    assert report["message"].endswith("was already restored; nothing to do")
    assert mongoose_unit.stats.sectors_erased == erased
    assert mongoose_unit.read(0, len(mongoose_unit.flash)) == original
    assert [e.status for e in Journal(journal).entries("24:0a:c4:12:34:56")] == statuses


def test_restore_after_an_interrupted_spiffs_update(
    arduino_unit: VirtualESP32, runner: CliRunner, tmp_path: Path
) -> None:
    original = arduino_unit.read(0, len(arduino_unit.flash))
    arduino_unit.arm_cut(sector_writes=2)
    r = flash(
        runner, arduino_unit, "mdash-arduino", write(tmp_path, "ca.pem", CA_1), tmp_path, expect=3
    )
    assert "run the same command again" in r.stdout
    assert arduino_unit.read(0, len(arduino_unit.flash)) != original
    r = restore(runner, arduino_unit, tmp_path)
    assert r.exit_code == 0, r.output
    # one partition reads as one ("restored spiffs as they were" before)
    assert "restored spiffs as it was before the update of" in r.stdout, r.stdout
    assert arduino_unit.read(0, len(arduino_unit.flash)) == original


def test_restore_reads_back_a_spiffs_unit_without_reading_its_partition(
    arduino_unit: VirtualESP32, runner: CliRunner, tmp_path: Path
) -> None:
    """The read-back after a restore mounts SPIFFS through the unit's MD5s, as flash's
    plan does: reading the whole 1408 KiB partition took ~35 s at 460800 baud."""
    original = arduino_unit.read(0, len(arduino_unit.flash))
    flash(runner, arduino_unit, "mdash-arduino", write(tmp_path, "ca.pem", CA_1), tmp_path)
    sent = arduino_unit.stats.bytes_out
    r = restore(runner, arduino_unit, tmp_path)
    assert r.exit_code == 0, r.output
    # one partition reads as one ("restored spiffs as they were" before)
    assert "restored spiffs as it was before the update of" in r.stdout, r.stdout
    assert arduino_unit.read(0, len(arduino_unit.flash)) == original
    assert arduino_unit.stats.bytes_out - sent < 128 * 1024, arduino_unit.stats.bytes_out - sent


def test_refusals_write_nothing(virtual_esp32: Start, runner: CliRunner, tmp_path: Path) -> None:
    unit = virtual_esp32("esp32")
    load_mongoose(unit)
    r = restore(runner, unit, tmp_path / "empty")
    assert r.exit_code == 2 and "holds no update" in r.stdout
    flash(runner, unit, "mongoose-os-esp32", write(tmp_path, "ca.pem", CA_1), tmp_path / "j")
    unit.load(0x1A8000, b"\x00\x01\x02")  # the firmware wrote elsewhere in fs_0 since
    changed = unit.read(0, len(unit.flash))
    erased = unit.stats.sectors_erased
    r = restore(runner, unit, tmp_path / "j")
    assert r.exit_code == 3 and "changed since the update" in r.stdout
    assert r.stdout.startswith("FAILED") and "--force only as a last resort" in r.stdout
    assert unit.stats.sectors_erased == erased and unit.read(0, len(unit.flash)) == changed
    s3 = virtual_esp32("esp32s3", flash_size=8 << 20)
    r = runner.invoke(
        cli,
        ["restore", "-p", s3.url, "--board", "mongoose-os-esp32", "--journal-dir", str(tmp_path)],
    )
    assert r.exit_code == 3 and "ESP32-S3" in r.stdout
    assert s3.stats.sectors_erased == 0


def test_one_unit_commands_refuse_several_ports(
    virtual_esp32: Start, runner: CliRunner, tmp_path: Path
) -> None:
    """read and inspect reach one unit: a second --port (or a glob matching two ports)
    is refused before anything is opened, never taken instead of the first while the
    run says OK with the other unit left as it was (restore takes several:
    tests/test_restore_ports.py)."""
    journal = tmp_path / "j"
    units = [virtual_esp32("esp32", mac=f"24:0a:c4:00:00:0{i}") for i in (1, 2)]
    for unit in units:
        load_mongoose(unit)
        flash(runner, unit, "mongoose-os-esp32", write(tmp_path, "ca.pem", CA_1), journal)
    held = [unit.read(0, len(unit.flash)) for unit in units]
    erased = [unit.stats.sectors_erased for unit in units]
    both = ["-p", units[0].url, "-p", units[1].url]
    out = tmp_path / "dump.bin"
    for args in (
        ["read", *both, "--all", "-o", str(out)],
        ["inspect", *both],
    ):
        r = runner.invoke(cli, args)
        assert r.exit_code == 2, (args, r.output)
        assert f"--port given 2 times ({units[0].url}, {units[1].url})" in r.output
        assert f"'{args[0]}' reaches one unit at a time; nothing was touched" in r.output
        assert "only 'flash' and 'restore' take several ports" in r.output
    r = runner.invoke(cli, ["inspect", *both, "--json"])  # a script still gets its document
    doc = json.loads(r.stdout)
    assert r.exit_code == doc["exit_code"] == 2 and doc["ok"] is False
    assert "reaches one unit at a time" in doc["error"] and "only 'flash'" in doc["hint"]
    assert [unit.read(0, len(unit.flash)) for unit in units] == held
    assert [unit.stats.sectors_erased for unit in units] == erased
    assert not out.exists()
    statuses = [
        e.status
        for u in ("24:0a:c4:00:00:01", "24:0a:c4:00:00:02")
        for e in Journal(journal).entries(u)
    ]
    assert statuses == ["complete", "complete"]
    # a glob naming two device paths is as two ports; a URL glob's hint names one URL
    for name in ("ttyTEST0", "ttyTEST1"):
        (tmp_path / name).touch()
    r = runner.invoke(cli, ["inspect", "-p", str(tmp_path / "ttyTEST*")])
    assert r.exit_code == 2 and "matches 2 ports" in r.output, r.output
    r = runner.invoke(cli, ["inspect", "-p", "socket://127.0.0.1:560*"])
    assert r.exit_code == 2 and "give the one unit's URL" in r.output, r.output
    assert "--port socket://127.0.0.1:5602" not in r.output
    # restore takes several ports: its hint names each unit's URL with its own --port
    r = runner.invoke(cli, ["restore", "-p", "socket://127.0.0.1:560*"])
    assert r.exit_code == 2 and "a URL cannot be a glob" in r.output, r.output
    assert "--port socket://127.0.0.1:5602" in r.output


def test_a_damaged_journal_entry_is_named(
    virtual_esp32: Start, runner: CliRunner, tmp_path: Path
) -> None:
    unit = virtual_esp32("esp32")
    folder = tmp_path / "240ac4123456"
    folder.mkdir()
    (folder / "20250101T000000000000Z-abcd.json").write_text("{not json")
    r = restore(runner, unit, tmp_path)
    assert r.exit_code == 2 and "20250101T000000000000Z-abcd.json" in r.stdout


def test_default_journal_dir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("ESP_CABUNDLE_JOURNAL", raising=False)
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path))
    assert default_journal_dir() == tmp_path / "esp-cabundle" / "journal"
    monkeypatch.setenv("ESP_CABUNDLE_JOURNAL", str(tmp_path / "x"))
    assert default_journal_dir() == tmp_path / "x"
    monkeypatch.delenv("ESP_CABUNDLE_JOURNAL")
    monkeypatch.delenv("XDG_STATE_HOME")
    assert default_journal_dir() == Path.home() / ".local" / "state" / "esp-cabundle" / "journal"


def test_force_over_a_later_update_reports_what_the_unit_holds(
    mongoose_unit: VirtualESP32, runner: CliRunner, tmp_path: Path
) -> None:
    """A later update journaled elsewhere moved the file system on: the first update's
    saved sectors verify by MD5 once written back, yet the unit mounts with the newer
    CA. Restore reads the unit back and says so (exit 3), never OK."""
    first, later = tmp_path / "default", tmp_path / "later"
    flash(runner, mongoose_unit, "mongoose-os-esp32", write(tmp_path, "1.pem", CA_1), first)
    flash(runner, mongoose_unit, "mongoose-os-esp32", write(tmp_path, "2.pem", CA_2), later)
    r = restore(runner, mongoose_unit, first)
    assert r.exit_code == 3 and "changed since the update" in r.stdout
    assert "next: if a later update of this unit was journaled elsewhere" in r.stdout
    assert "restore --journal-dir" in r.stdout and "--force only as a last resort" in r.stdout
    r = restore(runner, mongoose_unit, first, "--force")
    assert r.exit_code == 3, r.output
    assert r.stdout.startswith("FAILED") and "does not hold what it held before" in r.stdout
    assert "fs_0 holds ISRG Root X1, not the old " in r.stdout
    assert open_image(mongoose_unit.read(0x350000, 0x40000)).read("/ca.pem") == CA_2
    (entry,) = Journal(first).entries("24:0a:c4:12:34:56")
    assert entry.status == "stale"


def test_a_board_keeping_another_file_system_is_refused(
    mongoose_unit: VirtualESP32, runner: CliRunner, tmp_path: Path
) -> None:
    """restore --board naming a board whose file system is not the one the update wrote
    (mongoose-os-esp32-spiffs for a LittleFS update) was restored all the same, and its
    log and --json recorded the unit as that board: refused, nothing written."""
    journal = tmp_path / "journal"
    flash(runner, mongoose_unit, "mongoose-os-esp32", write(tmp_path, "1.pem", CA_1), journal)
    flashed = mongoose_unit.read(0, len(mongoose_unit.flash))
    erased = mongoose_unit.stats.sectors_erased
    log = tmp_path / "station.csv"
    r = restore(
        runner, mongoose_unit, journal, "--board", "mongoose-os-esp32-spiffs", "--log", str(log)
    )
    assert r.exit_code == 2, r.output
    assert r.stdout.startswith("FAILED"), r.stdout
    assert "LittleFS" in r.stdout and "SPIFFS" in r.stdout, r.stdout
    assert "mongoose-os-esp32-spiffs" in r.stdout
    assert mongoose_unit.stats.sectors_erased == erased
    assert mongoose_unit.read(0, len(mongoose_unit.flash)) == flashed
    r = restore(runner, mongoose_unit, journal, "--board", "mongoose-os-esp32")
    assert r.exit_code == 0, r.output


def test_a_board_whose_partitions_the_unit_lacks_is_refused_without_blaming_the_entry(
    mongoose_unit: VirtualESP32, runner: CliRunner, tmp_path: Path
) -> None:
    """restore --board esp-idf-littlefs (its file system in a 'littlefs' partition the
    unit has not) of a good Mongoose OS entry: the line said the entry was "not from this
    unit's layout (or was edited); move it out of the journal", which loses the only way
    back, and broke the line with the board error's own hint. It names the --board."""
    journal = tmp_path / "journal"
    flash(runner, mongoose_unit, "mongoose-os-esp32", write(tmp_path, "1.pem", CA_1), journal)
    flashed = mongoose_unit.read(0, len(mongoose_unit.flash))
    r = restore(runner, mongoose_unit, journal, "--board", "esp-idf-littlefs")
    assert r.exit_code == 2, r.output
    (line,) = r.stdout.splitlines()  # one line: the hint's own no longer breaks it
    assert line.startswith("FAILED") and "move it out" not in line, line
    assert "board esp-idf-littlefs finds no file-system partition" in line
    assert "next: is this the right --board? the update was made for mongoose-os-esp32: " in line
    assert mongoose_unit.read(0, len(mongoose_unit.flash)) == flashed
    assert restore(runner, mongoose_unit, journal).exit_code == 0  # the entry was good
