"""What a flash says about a unit whose link was cut mid-write, run through the real
flash path against a virtual unit (``arm_cut`` tears the sector in flight): that its
file system is mid-update and may not mount, that it must not boot its firmware, and
rerun and restore lines that name the journal (absolute) so they work as printed; and,
at another station (another journal), that the unmountable partition looks like an
interrupted update (exit 3), not a wrong --board."""

from __future__ import annotations

import json
import shlex
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner
from support.layouts import load_arduino, load_mongoose

from esp_cabundle.boards import board_file, load_board
from esp_cabundle.cli import cli
from esp_cabundle.errors import FlashError
from esp_cabundle.flash.flasher import flash_unit
from esp_cabundle.flash.interrupt import Cancel, GuardedFlash, UnitInterrupted
from esp_cabundle.flash.restore import restore_unit
from esp_cabundle.spelling import BOARD_SPELLING
from esp_cabundle.virtual import VirtualESP32
from tests.support.flashing import MONGOOSE, NEW_CA, files, flash_mongoose
from tests.support.gated import gated

Start = Callable[..., VirtualESP32]
# a cut that leaves the file system unmountable (SPIFFS: block 1's magic erased), and
# one in LittleFS's metadata commit of fs_0
CUTS = {
    "mdash-arduino": (load_arduino, 3, "erase"),
    "mongoose-os-esp32": (load_mongoose, 2, "program"),
}


def flash_args(unit: VirtualESP32, board: str, journal: str) -> list[str]:
    return ["flash", "--board", board, "--bundle", "ca.pem", "--journal-dir", journal,
            "--port", unit.url]  # fmt: skip


def cut_unit(start: Start, board: str) -> VirtualESP32:
    load, k, tear = CUTS[board]
    unit = start("esp32")
    load(unit)
    unit.arm_cut(sector_writes=k, tear=tear)
    return unit


@pytest.mark.parametrize("board", sorted(CUTS))
def test_a_cut_mid_write_says_mid_update_and_a_restore_that_runs_as_printed(
    virtual_esp32: Start, runner: CliRunner, in_tmp: Path, board: str
) -> None:
    (in_tmp / "ca.pem").write_bytes(NEW_CA)
    unit = cut_unit(virtual_esp32, board)
    original = unit.read(0, len(unit.flash))
    log = in_tmp / "station.jsonl"
    r = runner.invoke(cli, [*flash_args(unit, board, "jp"), "--json", "--log", str(log)])
    assert r.exit_code == 3, r.output
    (u,) = json.loads(r.stdout)["units"]
    (record,) = (json.loads(x) for x in log.read_text().splitlines())
    jp = str(in_tmp / "jp")  # the relative --journal-dir, said absolute
    restore = f"'esp-cabundle restore --port {unit.url} --journal-dir {jp}'"
    for error, hint in ((u["error"], u["next"]), (record["error"], record["error"])):
        assert "link lost while writing" in error
        assert "partly applied and NOT whole" in error and "is mid-update" in error
        assert "may not mount" in error and "SPIFFS.begin(true)" in error
        assert "keep the unit from booting its firmware" in hint
        assert f"run the same command again (with --journal-dir {jp})" in hint
        assert restore in hint
    # the restore line, run as printed from elsewhere, puts the original back
    line = shlex.split(u["next"].split(" or ", 1)[1].split("'")[1])
    assert line[:2] == ["esp-cabundle", "restore"]
    r = runner.invoke(cli, line[1:])
    assert r.exit_code == 0, r.output
    assert unit.read(0, len(unit.flash)) == original


def test_a_journal_set_by_the_variable_is_named_in_the_next_step_too(
    virtual_esp32: Start,
    runner: CliRunner,
    in_tmp: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """$ESP_CABUNDLE_JOURNAL instead of --journal-dir: the rerun and restore lines (the
    text's hint is the same words) still name it, so a shell without the variable undoes
    the update."""
    (in_tmp / "ca.pem").write_bytes(NEW_CA)
    unit = cut_unit(virtual_esp32, "mongoose-os-esp32")
    original = unit.read(0, len(unit.flash))
    monkeypatch.setenv("ESP_CABUNDLE_JOURNAL", "station journal")
    args = ["flash", "--board", "mongoose-os-esp32", "--bundle", "ca.pem", "--port", unit.url]
    r = runner.invoke(cli, [*args, "--json"])
    assert r.exit_code == 3, r.output
    (u,) = json.loads(r.stdout)["units"]
    jp = f'"{in_tmp / "station journal"}"'
    assert f"run the same command again (with --journal-dir {jp})" in u["next"]
    assert f"'esp-cabundle restore --port {unit.url} --journal-dir {jp}'" in u["next"]
    # the restore line, run as printed in a shell without the variable, undoes it
    monkeypatch.delenv("ESP_CABUNDLE_JOURNAL")
    line = shlex.split(u["next"].split(" or ", 1)[1].split("'")[1])
    r = runner.invoke(cli, line[1:])
    assert r.exit_code == 0, r.output
    assert unit.read(0, len(unit.flash)) == original


def test_a_torn_unit_at_another_station_says_interrupted_update(
    virtual_esp32: Start, runner: CliRunner, in_tmp: Path
) -> None:
    """SPIFFS torn (block 1's magic erased), flashed with another journal: a device
    state (exit 3) pointing at the journal and restore, not "is --board right"; nothing
    written."""
    (in_tmp / "ca.pem").write_bytes(NEW_CA)
    unit = cut_unit(virtual_esp32, "mdash-arduino")
    assert runner.invoke(cli, flash_args(unit, "mdash-arduino", "jp")).exit_code == 3
    torn = unit.read(0, len(unit.flash))
    r = runner.invoke(cli, [*flash_args(unit, "mdash-arduino", "other"), "--json"])
    assert r.exit_code == 3, r.output
    (u,) = json.loads(r.stdout)["units"]
    assert "does not mount as spiffs" in u["error"]
    assert "it may be an update interrupted part-way" in u["error"]
    assert "nothing was written, nothing formatted" in u["error"]
    assert "right for this unit" not in u["next"]
    assert "keep the unit from booting its firmware" in u["next"]
    assert f"'esp-cabundle restore --port {unit.url} --journal-dir DIR'" in u["next"]
    assert unit.read(0, len(unit.flash)) == torn
    # with the journal that started it, the rerun finishes it
    r = runner.invoke(cli, flash_args(unit, "mdash-arduino", "jp"))
    assert r.exit_code == 0 and "finished the interrupted update" in r.stdout, r.output


def test_a_stop_mid_write_names_the_journal_in_its_next_step(
    mongoose_unit: VirtualESP32, tmp_path: Path
) -> None:
    """Ctrl-C's next step (the hint, --json's "next", the log's error) names the
    journal given: restore as printed would otherwise read the default one."""
    cancel = Cancel()

    def progress(event: object) -> None:
        if "update: sector 0x1c1000" in str(getattr(event, "text", "")):
            cancel.request("test")

    with pytest.raises(UnitInterrupted) as stopped:
        flash_mongoose(
            mongoose_unit, tmp_path / "jp", progress=progress, cancel=cancel,
            spelling=BOARD_SPELLING,
        )  # fmt: skip
    hint = stopped.value.hint or ""
    assert f"--journal-dir {tmp_path / 'jp'}'" in hint, hint
    assert f"run the same command again (with --journal-dir {tmp_path / 'jp'})" in hint


def test_a_write_failure_leaving_it_torn_does_not_restart_the_unit(
    virtual_esp32: Start, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A sector that does not read back as written, the link still up (rfc2217, where
    resets travel): the unit is left in its bootloader, as a stop not whole is, not
    reset into firmware that would format what it cannot mount."""
    real = GuardedFlash.md5
    checks = []

    def md5(self: GuardedFlash, offset: int, length: int) -> str:
        if self._writing:
            checks.append(offset)
            if len(checks) == 3:  # fs_0's metadata commit's check: not as written
                return "0" * 32
        return real(self, offset, length)

    monkeypatch.setattr(GuardedFlash, "md5", md5)
    unit = virtual_esp32("esp32", transport="rfc2217")
    load_mongoose(unit)
    with pytest.raises(FlashError, match="does not read back as written") as failed:
        flash_mongoose(unit, tmp_path / "jp", spelling=BOARD_SPELLING)
    assert "is mid-update" in failed.value.message
    assert "keep the unit from booting its firmware" in (failed.value.hint or "")
    assert unit.stats.boots == ["download"]


def test_the_restore_line_names_a_board_file_and_the_journal_absolute(
    in_tmp: Path,
) -> None:
    """A board given by path is kept by name in the journal: the restore line gives the
    file; a relative journal directory is said absolute; a shipped board adds nothing."""
    shipped = load_board("mdash-arduino")
    (in_tmp / "my boards").mkdir()
    copy = in_tmp / "my boards" / "mdash-arduino.yaml"
    copy.write_text(Path(shipped.source).read_text())
    assert board_file(shipped) == "" and board_file(load_board(copy)) == str(copy)
    said = BOARD_SPELLING.located("jp", board_file(load_board(copy)))
    assert said.restore_for("/dev/ttyUSB0") == (
        f"'esp-cabundle restore --port /dev/ttyUSB0 --journal-dir {in_tmp / 'jp'} "
        f'--board "{copy}"\''
    )
    assert (
        said.again
        == f'run the same command again (with --journal-dir {in_tmp / "jp"} --board "{copy}")'
    )
    assert BOARD_SPELLING.located(None) is BOARD_SPELLING


def test_a_cut_while_finishing_or_restoring_says_mid_update_too(
    arduino_unit: VirtualESP32, tmp_path: Path
) -> None:
    """The rerun that finishes an update, and a restore, cut mid-write in turn: each
    says the unit is mid-update and not to boot it, with its own next step."""
    journal = tmp_path / "jp"

    def flash() -> object:
        return flash_unit(
            arduino_unit.url,
            load_board("mdash-arduino"),
            gated(NEW_CA, "mdash-arduino"),
            journal_dir=journal,
            connect_attempts=1,
            spelling=BOARD_SPELLING,
        )

    arduino_unit.arm_cut(sector_writes=3, tear="erase")
    with pytest.raises(FlashError, match="is mid-update"):
        flash()
    arduino_unit.arm_cut(sector_writes=0, tear="erase")
    with pytest.raises(FlashError, match="finishing the interrupted update stopped") as cut:
        flash()
    assert "partly applied and NOT whole: 'spiffs' is mid-update" in cut.value.message
    hint = cut.value.hint or ""
    assert hint.startswith("keep the unit from booting its firmware")
    assert f"run the same command again (with --journal-dir {journal}) to finish" in hint
    flash()  # finished
    arduino_unit.arm_cut(sector_writes=1, tear="erase")
    with pytest.raises(FlashError, match="restore stopped") as cut:
        restore_unit(
            arduino_unit.url, journal_dir=journal, connect_attempts=1, spelling=BOARD_SPELLING
        )
    assert "is mid-update" in cut.value.message
    assert (cut.value.hint or "").startswith("keep the unit from booting its firmware")
    assert f"--journal-dir {journal}' again to finish putting the original back" in (
        cut.value.hint or ""
    )


def test_a_torn_stop_is_described_as_cut_not_at_a_boundary(
    mongoose_unit: VirtualESP32, tmp_path: Path
) -> None:
    mongoose_unit.arm_cut(sector_writes=2)  # fs_0's metadata commit
    with pytest.raises(FlashError) as cut:
        flash_mongoose(mongoose_unit, tmp_path)
    stop = cut.value.interruption  # type: ignore[attr-defined]
    assert stop is not None and stop.holds == "broken"
    said = stop.describe()
    assert (
        "stopped after 2 of 6 sectors of the update, the next one (0x190000) not known to be "
        "written whole" in said
    )
    assert "at a sector boundary" not in said and stop.to_json()["holds"] == "broken"


@pytest.mark.parametrize("k", [0, 1])
def test_a_cut_in_a_littlefs_data_block_says_the_old_ca_mounts(
    mongoose_unit: VirtualESP32, tmp_path: Path, k: int
) -> None:
    """fs_0's first two writes are new data blocks its old metadata does not use (the
    commit that uses them comes third): one torn there leaves fs_0 mounting with its
    old CA file, as the failure says, not "may not mount ... would wipe every other
    file" (a factory tryout killed the unit in that sector)."""
    before = mongoose_unit.read(0, len(mongoose_unit.flash))
    mongoose_unit.arm_cut(sector_writes=k)  # erased, then half programmed
    with pytest.raises(FlashError) as cut:
        flash_mongoose(mongoose_unit, tmp_path)
    stop = cut.value.interruption  # type: ignore[attr-defined]
    assert stop is not None and stop.torn == 0x1C0000 + k * 0x1000
    assert mongoose_unit.read(stop.torn, 0x1000) != before[stop.torn : stop.torn + 0x1000]
    # what the message says is what the unit holds: both partitions mount, old CA file
    after = mongoose_unit.read(0, len(mongoose_unit.flash))
    for start, end in MONGOOSE:
        assert files(after, start, end) == files(before, start, end)
    assert stop.holds == "old" and [p.holds for p in stop.partitions] == ["old", "old"]
    message = cut.value.message
    assert "the unit mounts with its old CA file (what was written is not in use yet)" in message
    assert "NOT whole" not in message and "may not mount" not in message
    assert "cut part-way" not in message and "keep the unit" not in (cut.value.hint or "")
