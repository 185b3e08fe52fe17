"""The refusal of a partition that looks torn (an update cut at another station): the
unit is left in its bootloader (its firmware would format the partition), the restore
and journal lines it prints run as printed (a board file kept), and a healthy SPIFFS
made with other parameters than the board's profile is not called torn but gets the
wrong-board hint."""

from __future__ import annotations

import json
import shlex
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest
from click.testing import CliRunner
from support.layouts import ARDUINO_SPIFFS_OFFSET, MONGOOSE_LFS, load_arduino

from esp_cabundle.boards import load_board
from esp_cabundle.cli import cli
from esp_cabundle.fs.spiffs import SPIFFS_PROFILES, build_spiffs_image
from esp_cabundle.spelling import BOARD_SPELLING, PYTHON
from esp_cabundle.virtual import VirtualESP32
from tests.support.flashing import NEW_CA

Start = Callable[..., VirtualESP32]
IDF = SPIFFS_PROFILES["esp-idf"]
SPIFFS_SIZE = 0x160000
FILES = [("/ca.pem", b"x" * 3000), ("/mdash.cfg", b"{}")]


def flash_args(url: str, journal: str, board: str = "mdash-arduino") -> list[str]:
    return ["flash", "--board", board, "--bundle", "ca.pem", "--journal-dir", journal,
            "--port", url, "--json"]  # fmt: skip


def torn_flash(start: Start, runner: CliRunner) -> bytes:
    """The whole flash of an Arduino unit whose update (journal ``jp``) a cut tore
    (SPIFFS block 1's magic erased)."""
    unit = start("esp32")
    load_arduino(unit)
    unit.arm_cut(sector_writes=3, tear="erase")
    assert runner.invoke(cli, flash_args(unit.url, "jp")).exit_code == 3
    return unit.read(0, len(unit.flash))


def test_a_torn_unit_is_left_in_its_bootloader(
    virtual_esp32: Start, runner: CliRunner, in_tmp: Path
) -> None:
    """Over rfc2217 resets travel: the refusal leaves the unit in download mode, where a
    hard reset would boot firmware that formats the partition it cannot mount."""
    (in_tmp / "ca.pem").write_bytes(NEW_CA)
    torn = torn_flash(virtual_esp32, runner)
    unit = virtual_esp32("esp32", transport="rfc2217")
    unit.load(0, torn)
    r = runner.invoke(cli, flash_args(unit.url, "other"))
    assert r.exit_code == 3, r.output
    assert "may be an update interrupted part-way" in json.loads(r.stdout)["units"][0]["error"]
    assert "app" not in unit.stats.boots and unit.read(0, len(unit.flash)) == torn


def test_an_ordinary_refusal_still_restarts_the_unit(
    virtual_esp32: Start, runner: CliRunner, in_tmp: Path
) -> None:
    """A wrong --board (nothing torn) keeps the usual hard reset on close."""
    (in_tmp / "ca.pem").write_bytes(NEW_CA)
    unit = virtual_esp32("esp32", transport="rfc2217")
    load_arduino(unit)
    r = runner.invoke(cli, flash_args(unit.url, "jp", board="mongoose-os-esp32"))
    assert r.exit_code != 0 and "interrupted part-way" not in r.output, r.output
    assert unit.stats.boots[-1] == "app"


@pytest.mark.parametrize(
    "profile, said",
    [
        (replace(IDF, obj_name_len=64), "obj_name_len 64, meta_len 4"),
        (replace(IDF, meta_len=0), "obj_name_len 32, meta_len 0"),
        (replace(IDF, meta_len=8), "obj_name_len 32, meta_len 8"),
    ],
)
def test_a_healthy_spiffs_of_other_parameters_is_not_called_torn(
    virtual_esp32: Start, runner: CliRunner, in_tmp: Path, profile: object, said: str
) -> None:
    (in_tmp / "ca.pem").write_bytes(NEW_CA)
    unit = virtual_esp32("esp32")
    load_arduino(unit)
    unit.load(ARDUINO_SPIFFS_OFFSET, build_spiffs_image(FILES, size=SPIFFS_SIZE, profile=profile))  # type: ignore[arg-type]
    before = unit.read(0, len(unit.flash))
    r = runner.invoke(cli, flash_args(unit.url, "jp"))
    assert r.exit_code == 2, r.output
    (u,) = json.loads(r.stdout)["units"]
    assert "interrupted part-way" not in u["error"] and "nothing formatted" in u["error"]
    assert f"it mounts as SPIFFS with {said}, not as esp-idf" in u["next"]
    assert "is --board mdash-arduino right for this unit?" in u["next"]
    assert unit.read(0, len(unit.flash)) == before


def test_a_dump_of_other_parameters_or_torn_is_not_called_torn(
    virtual_esp32: Start, runner: CliRunner, in_tmp: Path
) -> None:
    """A dump has no journal of its own to finish from: never "interrupted"; one of
    other SPIFFS parameters is told so."""
    (in_tmp / "ca.pem").write_bytes(NEW_CA)
    torn = torn_flash(virtual_esp32, runner)
    other = bytearray(torn)
    image = build_spiffs_image(FILES, size=SPIFFS_SIZE, profile=replace(IDF, obj_name_len=64))
    other[ARDUINO_SPIFFS_OFFSET : ARDUINO_SPIFFS_OFFSET + SPIFFS_SIZE] = image
    for name, data in (("torn.bin", torn), ("other.bin", bytes(other))):
        (in_tmp / name).write_bytes(data)
        args = ["update-dump", name, "--board", "mdash-arduino", "--bundle", "ca.pem"]
        r = runner.invoke(cli, [*args, "-o", "out.bin"])
        assert r.exit_code == 2, r.output
        assert "interrupted part-way" not in r.output and "right for this unit" in r.output
        assert ("mounts as SPIFFS with obj_name_len 64" in r.output) == (name == "other.bin")
        assert not (in_tmp / "out.bin").exists()


def test_littlefs_where_the_board_says_spiffs_is_not_called_torn(
    virtual_esp32: Start, runner: CliRunner, in_tmp: Path
) -> None:
    (in_tmp / "ca.pem").write_bytes(NEW_CA)
    unit = virtual_esp32("esp32")
    load_arduino(unit)
    unit.load(ARDUINO_SPIFFS_OFFSET, MONGOOSE_LFS.read_bytes())
    before = unit.read(0, len(unit.flash))
    r = runner.invoke(cli, flash_args(unit.url, "jp"))
    assert r.exit_code == 2, r.output
    (u,) = json.loads(r.stdout)["units"]
    assert "interrupted part-way" not in u["error"]
    assert "holds a littlefs file system" in u["next"]
    assert unit.read(0, len(unit.flash)) == before


def test_the_torn_hint_restores_with_the_board_file_and_lists_as_printed(
    virtual_esp32: Start, runner: CliRunner, in_tmp: Path
) -> None:
    """A board given by a path with a space: the restore line keeps it (the journal
    keeps the board by name only); with DIR filled in, the restore and journal list
    lines run as printed."""
    (in_tmp / "ca.pem").write_bytes(NEW_CA)
    (in_tmp / "my boards").mkdir()
    board = in_tmp / "my boards" / "mdash-arduino.yaml"
    board.write_text(Path(load_board("mdash-arduino").source).read_text())
    unit = virtual_esp32("esp32")
    load_arduino(unit)
    original = unit.read(0, len(unit.flash))
    unit.arm_cut(sector_writes=3, tear="erase")
    assert runner.invoke(cli, flash_args(unit.url, "jp", board=str(board))).exit_code == 3
    r = runner.invoke(cli, flash_args(unit.url, "other", board=str(board)))
    assert r.exit_code == 3, r.output
    hint = json.loads(r.stdout)["units"][0]["next"]
    restore = f"'esp-cabundle restore --port {unit.url} --journal-dir DIR --board \"{board}\"'"
    assert restore in hint, hint
    listing = "'esp-cabundle journal list --journal-dir DIR'"
    assert listing in hint, hint
    r = runner.invoke(cli, shlex.split(listing.strip("'").replace("DIR", "jp"))[1:])
    assert r.exit_code == 0 and "mdash-arduino" in r.output, r.output
    line = shlex.split(restore.strip("'").replace("DIR", str(in_tmp / "jp")))
    r = runner.invoke(cli, line[1:])
    assert r.exit_code == 0, r.output
    assert unit.read(0, len(unit.flash)) == original


def test_restore_from_names_another_journal_keeping_the_board() -> None:
    said = PYTHON.located("/j", "/b/x.yaml")
    assert (
        said.restore_from("P", "DIR")
        == "restore_unit('P', journal_dir=DIR, board=load_board('/b/x.yaml'))"
    )
    assert PYTHON.restore_from("P", "DIR") == "restore_unit('P', journal_dir=DIR)"
    cli_said = BOARD_SPELLING.located(None, "/b/x.yaml")
    assert (
        cli_said.restore_from("P", "DIR")
        == "'esp-cabundle restore --port P --journal-dir DIR --board /b/x.yaml'"
    )
