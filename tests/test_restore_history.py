"""``restore --force`` on one unit with update history (earlier updates of its own,
restored or finished, journaled beside the one it undoes) is not refused as a clone;
clones sharing a MAC still never get each other's files; and the ``restore --force``
flash's cut refusal hints at works."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner, Result

from esp_cabundle.cli import cli
from esp_cabundle.flash.base import SECTOR_SIZE
from esp_cabundle.flash.changed_files import unnamed_note
from esp_cabundle.flash.journal import Journal
from esp_cabundle.flash.writer import EntryState
from esp_cabundle.spelling import CLI_SPELLING
from esp_cabundle.virtual import VirtualESP32
from tests.support import dumps
from tests.support.gated import canonical
from tests.test_restore_changed import (
    BOARD,
    CA,
    MAC,
    Start,
    arduino,
    cfg_of,
    put_cfg,
    restore,
    whole,
)

OTHER_CA = canonical(dumps.pem("isrgrootx1.pem"))


def flash_ca(
    runner: CliRunner, unit: VirtualESP32, tmp_path: Path, ca: bytes, expect: int = 0
) -> Result:
    path = tmp_path / "ca.pem"
    path.write_bytes(ca)
    args = ["flash", "-p", unit.url, "--board", "mdash-arduino", "--bundle", str(path)]
    r = runner.invoke(cli, [*args, "--journal-dir", str(tmp_path / "journal")])
    assert r.exit_code == expect, r.output
    return r


def statuses(tmp_path: Path) -> list[str]:
    return [e.status for e in Journal(tmp_path / "journal").entries(MAC)]


def test_force_restores_a_unit_flashed_again_after_a_restore(
    virtual_esp32: Start, runner: CliRunner, tmp_path: Path
) -> None:
    """flash, restore, flash, the firmware saves its settings, restore --force: the
    restored entry was undone before the second update was written (this unit's own
    history), so --force writes the saved sectors back."""
    unit = arduino(virtual_esp32)
    flash_ca(runner, unit, tmp_path, CA)
    assert restore(runner, unit, tmp_path).exit_code == 0
    flash_ca(runner, unit, tmp_path, CA)
    put_cfg(runner, unit, tmp_path, b"cfgN")
    r = restore(runner, unit, tmp_path)
    assert r.exit_code == 3 and "--force" in r.stdout and "none of" not in r.stdout, r.output
    r = restore(runner, unit, tmp_path, "--force")
    assert r.exit_code == 0, r.output
    assert "none of" not in r.stdout
    assert statuses(tmp_path) == ["restored", "restored"]


def test_force_undoes_the_update_before_one_restored(
    virtual_esp32: Start, runner: CliRunner, tmp_path: Path
) -> None:
    """flash, flash, restore, the firmware saves its settings, restore --force (the
    --help's "run it again to undo the update before that"): the restored entry was
    written over what the older one wrote, so it is this unit's history."""
    unit = arduino(virtual_esp32)
    flash_ca(runner, unit, tmp_path, OTHER_CA)
    flash_ca(runner, unit, tmp_path, CA)
    assert restore(runner, unit, tmp_path).exit_code == 0
    put_cfg(runner, unit, tmp_path, b"cfgN")
    r = restore(runner, unit, tmp_path, "--force")
    assert r.exit_code == 0, r.output
    assert statuses(tmp_path) == ["restored", "restored"]


def test_a_clone_rerun_after_its_own_restore_never_gets_the_older_clones_files(
    virtual_esp32: Start, runner: CliRunner, tmp_path: Path
) -> None:
    """Clones A then B updated, B restored, B run again with --force: B's restored
    entry was written over B's own sectors, not over what A's update wrote, so A's
    entry is not B's: refused, nothing written, A's entry left complete."""
    a, b = arduino(virtual_esp32), arduino(virtual_esp32)
    put_cfg(runner, a, tmp_path, b"unit A")
    put_cfg(runner, b, tmp_path, b"unit B")
    flash_ca(runner, a, tmp_path, CA)
    flash_ca(runner, b, tmp_path, CA)
    assert restore(runner, b, tmp_path).exit_code == 0
    held = whole(b)
    r = restore(runner, b, tmp_path, "--force")
    assert r.exit_code == 3, r.output
    assert "none of the 2 updates journaled" in r.stdout, r.stdout
    assert whole(b) == held and cfg_of(b) == b"unit B"
    assert statuses(tmp_path) == ["complete", "restored"]


def test_the_restore_force_flash_hints_at_after_a_torn_cut_works(
    virtual_esp32: Start, runner: CliRunner, tmp_path: Path
) -> None:
    """An earlier finished update, then one cut whose torn sector fits no cut of ours:
    flash refuses, hinting restore --force; restore says it as flash does ("torn by that
    cut, or changed since") and, with --force as hinted, puts back what the unit held
    before that update; then flash runs again."""
    unit = arduino(virtual_esp32)
    flash_ca(runner, unit, tmp_path, OTHER_CA)
    before = whole(unit)
    unit.arm_cut(sector_writes=1)
    flash_ca(runner, unit, tmp_path, CA, expect=3)
    (entry,) = [e for e in Journal(tmp_path / "journal").entries(MAC) if e.status == "pending"]
    torn = next(s for s in entry.sectors if unit.read(s.offset, SECTOR_SIZE) not in (s.old, s.new))
    unit.load(torn.offset, b"\x00" * SECTOR_SIZE)
    r = flash_ca(runner, unit, tmp_path, CA, expect=3)
    assert "torn by that cut, or changed since" in r.stdout, r.stdout
    assert "restore" in r.stdout and "--force" in r.stdout, r.stdout
    r = restore(runner, unit, tmp_path)
    assert r.exit_code == 3, r.output
    assert "torn by that cut, or changed since" in r.stdout, r.stdout
    assert "no cut leaves that" not in r.stdout, r.stdout
    r = restore(runner, unit, tmp_path, "--force")
    assert r.exit_code == 0, r.output
    assert whole(unit) == before
    assert statuses(tmp_path) == ["complete", "restored"]
    flash_ca(runner, unit, tmp_path, CA)
    assert statuses(tmp_path) == ["complete", "restored", "complete"]


def test_restore_help_says_what_even_force_does_not_write(runner: CliRunner) -> None:
    """--help says nothing changed is written "unless --force"; the clone refusal that
    holds even with --force is said beside it, with how to restore such a unit."""
    r = runner.invoke(cli, ["restore", "--help"], terminal_width=200)
    assert r.exit_code == 0, r.output
    text = " ".join(r.output.split())
    assert "Not even --force writes over a changed file system when another update" in text
    assert "clones sharing a MAC would get each other's files" in text
    assert "--journal-dir naming a journal that holds only the unit's own entry" in text


def test_the_unnamed_files_hint_reads_the_partition_and_lists_it(
    virtual_esp32: Start, runner: CliRunner, tmp_path: Path
) -> None:
    """A changed 1.4 MiB SPIFFS: the refusal's hint reads that partition alone (not the
    whole flash) and lists the file; followed as printed, it shows /mdash.cfg."""
    unit = arduino(virtual_esp32)
    flash_ca(runner, unit, tmp_path, CA)
    put_cfg(runner, unit, tmp_path, b"cfgN")
    r = restore(runner, unit, tmp_path)
    assert r.exit_code == 3, r.output
    text = " ".join(r.stdout.split())
    read = f"esp-cabundle read --port {unit.url} --partition spiffs -o part.bin"
    assert f"'{read}', then 'esp-cabundle fs ls part.bin'" in text, text
    part = tmp_path / "part.bin"
    args = read.split()[1:]
    r = runner.invoke(cli, [*args[:-1], str(part)])
    assert r.exit_code == 0, r.output
    r = runner.invoke(cli, ["fs", "ls", str(part)])
    assert r.exit_code == 0 and "/mdash.cfg" in r.stdout, r.output


def test_the_unnamed_files_hint_sets_off_a_single_quoted_port_as_is(
    virtual_esp32: Start, runner: CliRunner, tmp_path: Path
) -> None:
    """A port the shell needs single quotes for (a '$' in it) is not put inside another
    pair: the commands are then given as is; a plain port's are set off in quotes."""
    unit = arduino(virtual_esp32)
    flash_ca(runner, unit, tmp_path, CA)
    (entry,) = Journal(tmp_path / "journal").entries(MAC)
    state = EntryState({}, (), (entry.sectors[0].offset,))
    note = unnamed_note("rfc2217://h:4000?$x", entry, state, BOARD, CLI_SPELLING)
    assert "(esp-cabundle read --port 'rfc2217://h:4000?$x' --partition spiffs" in note, note
    assert "-o part.bin, then esp-cabundle fs ls part.bin)" in note, note
    note = unnamed_note("/dev/ttyUSB0", entry, state, BOARD, CLI_SPELLING)
    assert "('esp-cabundle read --port /dev/ttyUSB0 --partition spiffs -o part.bin'" in note


def test_a_clone_restored_before_the_other_was_updated_never_gets_its_files(
    virtual_esp32: Start, runner: CliRunner, tmp_path: Path
) -> None:
    """Clone A updated and restored, then clone B updated, then A's firmware saves its
    settings and A is restored with --force: B's update found B's files, not what A's
    restore left, so it is not A's: refused, nothing written, B's entry left complete."""
    a, b = arduino(virtual_esp32), arduino(virtual_esp32)
    put_cfg(runner, a, tmp_path, b"unit A")
    put_cfg(runner, b, tmp_path, b"unit B")
    flash_ca(runner, a, tmp_path, CA)
    assert restore(runner, a, tmp_path).exit_code == 0
    flash_ca(runner, b, tmp_path, CA)
    put_cfg(runner, a, tmp_path, b"unit A, later")
    held = whole(a)
    r = restore(runner, a, tmp_path, "--force")
    assert r.exit_code == 3, r.output
    assert "none of the 2 updates journaled" in r.stdout, r.stdout
    assert whole(a) == held and cfg_of(a) == b"unit A, later"
    assert statuses(tmp_path) == ["restored", "complete"]
