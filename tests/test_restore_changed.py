"""``restore`` against a unit whose file system changed since the update: a written
sector holding neither its journaled old nor new content is torn by a cut only when the
journal says a write was under way and its bits are what a cut erase or program leaves;
else it changed since (the firmware saved its settings), and nothing is written without
``--force``. Units sharing a MAC (clones) each get their own update back, never
another's files."""

from __future__ import annotations

import csv
import json
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from esp_cabundle.boards import load_board
from esp_cabundle.cli import cli
from esp_cabundle.flash import changed_files, writer
from esp_cabundle.flash.base import SECTOR_SIZE
from esp_cabundle.flash.journal import Journal
from esp_cabundle.flash.log_file import LOG_FIELDS
from esp_cabundle.flash.serial import SerialUnit
from esp_cabundle.fs import open_image
from esp_cabundle.virtual import VirtualESP32
from esp_cabundle.virtual.boards import board_image
from tests.support import dumps
from tests.support.gated import canonical

Start = Callable[..., VirtualESP32]
CA = canonical(dumps.pem("isrgrootx1.pem") + dumps.pem("isrg-root-x2.pem"))
MAC = "24:0a:c4:00:05:00"
BOARD = load_board("mdash-arduino")
IMAGE = board_image(BOARD)


def whole(unit: VirtualESP32) -> bytes:
    return unit.read(0, len(unit.flash))


def flash(runner: CliRunner, unit: VirtualESP32, tmp_path: Path, expect: int = 0) -> Result:
    ca = tmp_path / "ca.pem"
    ca.write_bytes(CA)
    args = ["flash", "-p", unit.url, "--board", "mdash-arduino", "--bundle", str(ca)]
    r = runner.invoke(cli, [*args, "--journal-dir", str(tmp_path / "journal")])
    assert r.exit_code == expect, r.output
    return r


def restore(runner: CliRunner, unit: VirtualESP32, tmp_path: Path, *extra: str) -> Result:
    journal = str(tmp_path / "journal")
    return runner.invoke(cli, ["restore", "-p", unit.url, "--journal-dir", journal, *extra])


def put_cfg(runner: CliRunner, unit: VirtualESP32, tmp_path: Path, text: bytes) -> None:
    """The firmware saving its settings: ``/mdash.cfg`` written into the unit's SPIFFS."""
    dump, cfg = tmp_path / "dump.bin", tmp_path / "cfg"
    dump.write_bytes(whole(unit))
    cfg.write_bytes(text)
    r = runner.invoke(
        cli, ["fs", "put", str(dump), str(cfg), "/mdash.cfg", "--partition", "spiffs"]
    )
    assert r.exit_code == 0, r.output
    unit.load(0, dump.read_bytes())


def cfg_of(unit: VirtualESP32) -> bytes:
    assert BOARD.layout is not None
    p = BOARD.layout.by_name("spiffs")
    assert p is not None
    return open_image(unit.read(p.offset, p.size), fs_type="spiffs").read("/mdash.cfg")


def arduino(start: Start) -> VirtualESP32:
    """A unit of mdash-arduino as ``virtual-unit --board mdash-arduino`` lays it out."""
    unit = start(IMAGE.chip, mac=MAC, flash_size=IMAGE.flash_size)
    unit.load(0, IMAGE.flash)
    return unit


def test_cut_could_leave_only_what_a_cut_erase_or_program_leaves() -> None:
    """Erased, half programmed, half erased (either way: updating or restoring) are cut
    states; bits cleared that neither the old nor the new content clears are not."""
    old = bytes(range(256)) * (SECTOR_SIZE // 256)
    new = bytes(255 - b for b in old)
    half = SECTOR_SIZE // 2
    for now in (
        b"\xff" * SECTOR_SIZE,
        new[:half] + b"\xff" * half,
        b"\xff" * half + old[half:],
        old[:half] + b"\xff" * half,  # a restore's program cut
        b"\xff" * half + new[half:],  # a restore's erase cut
    ):
        assert writer.cut_could_leave(now, old, new)
    assert not writer.cut_could_leave(b"\x00" * SECTOR_SIZE, old, new)
    assert not writer.cut_could_leave(new[:half] + old[half:], old, new)


def test_a_sector_changed_since_the_update_is_refused_not_called_torn(
    virtual_esp32: Start, runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The tryout's case: /mdash.cfg saved after the update lands in a sector the update
    wrote. Restore and --dry-run refuse (exit 3) naming the sector, and the files that
    changed when the partition is small enough to read them (monkeypatched here: the
    1.4 MiB SPIFFS of mdash-arduino is not, see the next test); --force writes."""
    monkeypatch.setattr(changed_files, "NAMED_UP_TO", 2 * 1024 * 1024)
    unit = arduino(virtual_esp32)
    flash(runner, unit, tmp_path)
    put_cfg(runner, unit, tmp_path, b"cfgN")
    changed = whole(unit)
    erased = unit.stats.sectors_erased
    for extra in ((), ("--dry-run",), ("--json",)):
        r = restore(runner, unit, tmp_path, *extra)
        assert r.exit_code == 3, r.output
        text = json.loads(r.stdout)["units"][0]["error"] if extra == ("--json",) else r.stdout
        assert "changed since the update" in text and "torn" not in text, text
        assert "written sector at 0x291000 holds neither" in text, text
        assert "files changed since: /mdash.cfg)" in text and "not named" not in text, text
        assert "nothing written" in text and "--force" in r.stdout, r.stdout
        assert "(losing the change to /mdash.cfg)" in r.stdout or extra == ("--json",)
    assert unit.stats.sectors_erased == erased and whole(unit) == changed
    (entry,) = Journal(tmp_path / "journal").entries(MAC)
    assert entry.status == "complete"
    r = restore(runner, unit, tmp_path, "--force", "--json")
    assert r.exit_code == 0, r.output
    assert unit.stats.sectors_erased > erased and whole(unit) != changed
    (found,) = json.loads(r.stdout)["units"][0]["found"]  # said changed, never torn
    assert found["held"] == "changed" and "changed since the update" in found["description"]


def test_a_large_partition_is_not_read_whole_to_name_the_changed_files(
    virtual_esp32: Start, runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """mdash-arduino's SPIFFS is 1.4 MiB, minutes over serial at the loader's baud rate:
    the refusal (and --dry-run's) gives the changed sector and how to see the files,
    reading the partition table and hashing the journaled sectors, no file system."""
    unit = arduino(virtual_esp32)
    flash(runner, unit, tmp_path)
    put_cfg(runner, unit, tmp_path, b"cfgN")
    changed = whole(unit)
    read: list[int] = []
    real = SerialUnit.read

    def counted(self: SerialUnit, offset: int, length: int) -> bytes:
        read.append(length)
        return real(self, offset, length)

    monkeypatch.setattr(SerialUnit, "read", counted)
    for extra in ((), ("--dry-run",)):
        read.clear()
        r = restore(runner, unit, tmp_path, *extra)
        assert r.exit_code == 3, r.output
        assert "written sector at 0x291000 holds neither" in r.stdout, r.stdout
        assert "files changed since" not in r.stdout and "losing the change" not in r.stdout
        assert "the files in spiffs (1468 KiB) are not named" in r.stdout, r.stdout
        hinted = f"'esp-cabundle read --port {unit.url} --partition spiffs -o part.bin'"
        assert hinted in r.stdout and "--all" not in r.stdout, r.stdout
        assert "then 'esp-cabundle fs ls part.bin'" in r.stdout, r.stdout
        assert sum(read) < SECTOR_SIZE, read  # the partition table only, no file system
        assert whole(unit) == changed


def test_a_torn_looking_sector_of_a_finished_update_is_changed(
    virtual_esp32: Start, runner: CliRunner, tmp_path: Path
) -> None:
    """Even a sector that looks cut (erased) is no cut when the journal says the update
    finished: refused, nothing written."""
    unit = arduino(virtual_esp32)
    flash(runner, unit, tmp_path)
    (entry,) = Journal(tmp_path / "journal").entries(MAC)
    unit.load(entry.sectors[0].offset, b"\xff" * SECTOR_SIZE)
    changed = whole(unit)
    r = restore(runner, unit, tmp_path)
    assert r.exit_code == 3 and "changed since the update" in r.stdout, r.output
    assert whole(unit) == changed


def test_a_cut_update_is_restored_but_a_sector_changed_after_the_cut_is_not(
    virtual_esp32: Start, runner: CliRunner, tmp_path: Path
) -> None:
    """A pending update's one torn sector (half programmed) is a cut: restored. The same
    sector with bits cleared that neither content clears is a change: refused."""
    unit = arduino(virtual_esp32)
    original = whole(unit)
    unit.arm_cut(sector_writes=1)
    flash(runner, unit, tmp_path, expect=3)
    (entry,) = Journal(tmp_path / "journal").entries(MAC)
    assert entry.status == "pending"
    torn = next(s for s in entry.sectors if unit.read(s.offset, SECTOR_SIZE) not in (s.old, s.new))
    cut = whole(unit)
    unit.load(torn.offset, b"\x00" * SECTOR_SIZE)
    r = restore(runner, unit, tmp_path)
    assert r.exit_code == 3 and "changed since the update" in r.stdout, r.output
    assert f"written sector at {torn.offset:#x} holds neither" in r.stdout
    unit.load(0, cut)
    r = restore(runner, unit, tmp_path)
    assert r.exit_code == 0, r.output
    assert whole(unit) == original


def test_units_sharing_a_mac_each_get_their_own_update_back(
    virtual_esp32: Start, runner: CliRunner, tmp_path: Path
) -> None:
    """Two clones (one MAC) whose /mdash.cfg differ, both updated with one journal:
    each restore writes back that unit's own saved sectors, whichever was updated last."""
    a, b = arduino(virtual_esp32), arduino(virtual_esp32)
    put_cfg(runner, a, tmp_path, b"unit A")
    put_cfg(runner, b, tmp_path, b"unit B")
    a_before, b_before = whole(a), whole(b)
    flash(runner, a, tmp_path)
    flash(runner, b, tmp_path)
    r = restore(runner, a, tmp_path)  # A's update is the older one
    assert r.exit_code == 0, r.output
    assert whole(a) == a_before and cfg_of(a) == b"unit A"
    statuses = [e.status for e in Journal(tmp_path / "journal").entries(MAC)]
    assert statuses == ["restored", "complete"]
    r = restore(runner, b, tmp_path)
    assert r.exit_code == 0, r.output
    assert whole(b) == b_before and cfg_of(b) == b"unit B"


def test_units_sharing_a_mac_and_content_are_refused(
    virtual_esp32: Start, runner: CliRunner, tmp_path: Path
) -> None:
    """Two clones holding the same before and after their updates: which saved sectors
    are this unit's is not known, so nothing is written (exit 3); a clone changed since
    holds neither update and is refused too."""
    a, b = arduino(virtual_esp32), arduino(virtual_esp32)
    flash(runner, a, tmp_path)
    flash(runner, b, tmp_path)
    held = whole(b)
    for extra in ((), ("--dry-run",)):
        r = restore(runner, b, tmp_path, *extra)
        assert r.exit_code == 3, r.output
        assert "units sharing that MAC cannot be told apart" in r.stdout, r.stdout
        assert whole(b) == held
    put_cfg(runner, a, tmp_path, b"unit A, changed")
    held = whole(a)
    r = restore(runner, a, tmp_path)
    assert r.exit_code == 3, r.output
    assert "none of the 2 updates journaled for" in r.stdout, r.stdout
    assert whole(a) == held
    statuses = [e.status for e in Journal(tmp_path / "journal").entries(MAC)]
    assert statuses == ["complete", "complete"]


def test_a_restored_clone_is_never_given_the_other_clones_files(
    virtual_esp32: Start, runner: CliRunner, tmp_path: Path
) -> None:
    """Clones A and B (one MAC, their /mdash.cfg differ) both updated, A restored: a
    rerun on A holds neither update (B's is all that is left to undo), so nothing is
    written, not even with --force, and no --force is offered."""
    a, b = arduino(virtual_esp32), arduino(virtual_esp32)
    put_cfg(runner, a, tmp_path, b"unit A")
    put_cfg(runner, b, tmp_path, b"unit B")
    flash(runner, a, tmp_path)
    flash(runner, b, tmp_path)
    assert restore(runner, a, tmp_path).exit_code == 0
    held = whole(a)
    for extra in ((), ("--dry-run",), ("--force",)):
        r = restore(runner, a, tmp_path, *extra)
        assert r.exit_code == 3, r.output
        assert "none of the 2 updates journaled for 24:0a:c4:00:05:00" in r.stdout, r.stdout
        assert "--journal-dir" in r.stdout and "--force" not in r.stdout, r.stdout
        assert whole(a) == held and cfg_of(a) == b"unit A"
    statuses = [e.status for e in Journal(tmp_path / "journal").entries(MAC)]
    assert statuses == ["restored", "complete"]


def test_a_rerun_on_a_restored_clone_leaves_the_other_clones_entry(
    virtual_esp32: Start, runner: CliRunner, tmp_path: Path
) -> None:
    """Identical clones: A updated and restored, then B updated. A rerun on A finds it
    holding what it held before B's update: nothing written, and B's entry left complete,
    so B's own restore still undoes it."""
    a, b = arduino(virtual_esp32), arduino(virtual_esp32)
    original = whole(a)
    flash(runner, a, tmp_path)
    assert restore(runner, a, tmp_path).exit_code == 0
    flash(runner, b, tmp_path)
    r = restore(runner, a, tmp_path)
    assert r.exit_code == 0, r.output
    assert "already holds what it held before" in r.stdout, r.stdout
    assert "its journal entry is left complete" in r.stdout, r.stdout
    assert whole(a) == original
    statuses = [e.status for e in Journal(tmp_path / "journal").entries(MAC)]
    assert statuses == ["restored", "complete"]
    r = restore(runner, b, tmp_path)
    assert r.exit_code == 0 and "restored spiffs as it was before" in r.stdout, r.output
    assert whole(b) == original


def test_flash_leaves_a_cut_update_pending_when_its_torn_sector_fits_no_cut(
    virtual_esp32: Start, runner: CliRunner, tmp_path: Path
) -> None:
    """The rerun of a cut update finds the sector where it was cut all zero: bits no cut
    of an erase-only-sets-bits model leaves, but a chip that programs a sector to 0
    before erasing it does. Neither finished over nor marked stale for good: refused
    (also --dry-run), nothing written, the entry left pending. A sector changed before
    one the update wrote after it is no cut at all: left alone, marked stale, as before."""
    unit = arduino(virtual_esp32)
    unit.arm_cut(sector_writes=1)
    flash(runner, unit, tmp_path, expect=3)
    (entry,) = Journal(tmp_path / "journal").entries(MAC)
    torn = next(s for s in entry.sectors if unit.read(s.offset, SECTOR_SIZE) not in (s.old, s.new))
    cut = whole(unit)
    unit.load(torn.offset, b"\x00" * SECTOR_SIZE)
    zeroed = whole(unit)
    for extra in ((), ("--dry-run",)):
        ca = tmp_path / "ca.pem"
        args = ["flash", "-p", unit.url, "--board", "mdash-arduino", "--bundle", str(ca)]
        r = runner.invoke(cli, [*args, "--journal-dir", str(tmp_path / "journal"), *extra])
        assert r.exit_code == 3, r.output
        assert f"left sector {torn.offset:#x}, where it was cut" in r.output, r.output
        assert "its journal entry left pending" in r.output and "--force" in r.output, r.output
        assert whole(unit) == zeroed
        assert [e.status for e in Journal(tmp_path / "journal").entries(MAC)] == ["pending"]
    unit.load(0, cut)
    unit.load(torn.offset, torn.new)  # as if that sector had been written
    first = entry.sectors[0]
    assert first.offset != torn.offset and unit.read(first.offset, SECTOR_SIZE) == first.new
    unit.load(first.offset, b"\x00" * SECTOR_SIZE)  # changed before a sector written after it
    r = flash(runner, unit, tmp_path, expect=3)  # then refused: the partition does not mount
    assert "no longer matches the unit (its file system changed since); left alone" in r.output
    assert unit.read(first.offset, SECTOR_SIZE) == b"\x00" * SECTOR_SIZE
    assert [e.status for e in Journal(tmp_path / "journal").entries(MAC)] == ["stale"]
    # the refusal's hint says the entry is stale, not that this journal finishes it;
    # so does a rerun's, the entry set aside by the run before
    for said in (r.output, flash(runner, unit, tmp_path, expect=3).output):
        text = " ".join(said.split())
        assert "does not mount" in text and "finishes it" not in text, text
        assert "the journal's entry of the update of " in text, text
        assert "is stale (the file system changed since)" in text, text
        assert "rewrite spiffs with a fresh image (esp-cabundle pack --board mdash-arduino" in text
    assert unit.read(first.offset, SECTOR_SIZE) == b"\x00" * SECTOR_SIZE


def test_restore_log_says_restored_in_flash_logs_columns(
    virtual_esp32: Start, runner: CliRunner, tmp_path: Path
) -> None:
    """``restore --log`` appends to the CSV ``flash --log`` wrote, same columns: the
    unit's last record says restored, with the roots it held and those put back; a log
    it cannot write to is refused before the unit is touched."""
    unit = arduino(virtual_esp32)
    log = tmp_path / "station.csv"
    ca = tmp_path / "ca.pem"
    ca.write_bytes(CA)
    args = ["flash", "-p", unit.url, "--board", "mdash-arduino", "--bundle", str(ca)]
    r = runner.invoke(cli, [*args, "--journal-dir", str(tmp_path / "journal"), "--log", str(log)])
    assert r.exit_code == 0, r.output
    updated = whole(unit)
    bad = tmp_path / "none" / "station.csv"
    r = restore(runner, unit, tmp_path, "--log", str(bad))
    assert r.exit_code == 2 and whole(unit) == updated, r.output
    assert str(bad.parent) in r.output and "No such option" not in r.output, r.output
    r = restore(runner, unit, tmp_path, "--dry-run", "--log", str(log))
    assert r.exit_code == 0, r.output
    r = restore(runner, unit, tmp_path, "--log", str(log), "--json")
    assert r.exit_code == 0 and json.loads(r.stdout)["log"]["missing"] == [], r.output
    with log.open(newline="") as f:
        flashed, dry, restored = csv.DictReader(f)
    assert list(restored) == list(LOG_FIELDS)
    assert [row["result"] for row in (flashed, dry, restored)] == ["updated", "dry-run", "restored"]
    assert restored["mac"] == MAC and restored["board"] == "mdash-arduino"
    assert restored["bundle"] == "" and int(restored["sectors_written"]) > 0
    assert dry["sectors_written"] == "0"
    assert restored["roots_before"] == flashed["roots_after"]
    assert restored["roots_after"] == flashed["roots_before"]
    assert restored["ca_after"] == flashed["ca_before"]
    assert "undid the update of" in json.loads(restored["notes"])[0]


def test_restore_help_and_readme_say_which_entry_is_undone(runner: CliRunner) -> None:
    """Of several entries for a MAC restore picks the one whose written content the unit
    holds, not simply the newest: its help and the README say so."""
    r = runner.invoke(cli, ["restore", "--help"])
    assert r.exit_code == 0, r.output
    text = " ".join(r.output.split())
    assert "Undo the newest update" not in text
    assert "whose written content the unit holds: of several entries for a MAC" in text, text
    readme = " ".join((Path(__file__).parent.parent / "README.md").read_text().split())
    assert "(of the update whose written content the unit holds: of several" in readme


def test_restore_log_fills_a_failed_row_from_the_entry_chosen(
    virtual_esp32: Start, runner: CliRunner, tmp_path: Path
) -> None:
    """A restore refused (changed since the update) had chosen its entry: the failed row
    names that entry's board and partitions, and says it was not undone."""
    unit = arduino(virtual_esp32)
    flash(runner, unit, tmp_path)
    put_cfg(runner, unit, tmp_path, b"cfgN")
    changed = whole(unit)
    log = tmp_path / "station.csv"
    r = restore(runner, unit, tmp_path, "--log", str(log))
    assert r.exit_code == 3 and whole(unit) == changed, r.output
    with log.open(newline="") as f:
        (row,) = csv.DictReader(f)
    assert row["result"] == "failed" and "changed since the update" in row["error"]
    assert row["board"] == "mdash-arduino" and row["partitions"] == "spiffs"
    assert row["mac"] == MAC and row["chip"] == "ESP32"
    assert row["roots_after"] == "" and row["sectors_written"] == "0"
    assert "failed undoing the update of " in json.loads(row["notes"])[0]
