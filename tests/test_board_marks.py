"""A file that marks a firmware (/mdash.cfg: mDash) picks the board a wrong-board hint
names, and refuses a board of other firmware before anything is written.

A tryout: 'flash --board mongoose-os-esp32' on an mDash unit named
arduino-esp32-spiffs (the first board alphabetically whose partitions the unit has) in
a runnable line; that line wrote a CA which mdash-arduino refuses, as it cuts mDash
units off mdash.net."""

from __future__ import annotations

import shlex
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner
from support.doc_commands import UnitProcess

import esp_cabundle
from esp_cabundle.certs import load_certificates
from esp_cabundle.cli import cli
from esp_cabundle.fs import open_image
from esp_cabundle.fs.edit import pack_image
from tests.support import dumps

FIRMWARE = Path(esp_cabundle.__file__).parent / "data" / "firmware"
SPIFFS = slice(0x290000, 0x290000 + 0x160000)  # the Arduino default table's spiffs


def _one_line(output: str) -> str:
    return output.replace("\n  ", " ")


def _line(output: str, after: str) -> str:
    """The command line that follows ``after`` in the output, to its end."""
    return _one_line(output).split(after, 1)[1].split("\n")[0].strip()


@pytest.fixture
def wrong_pem(tmp_path: Path) -> Path:
    """Amazon Root CA 1 and GTS Root R1: no chain to mdash.net's root."""
    roots = load_certificates((FIRMWARE / "roots.pem").read_bytes())
    names = ("CN=Amazon Root CA 1,", "CN=GTS Root R1,")
    pem = "".join(c.pem() for c in roots if str(c.subject).startswith(names))
    assert pem.count("BEGIN CERTIFICATE") >= 2
    path = tmp_path / "wrong.pem"
    path.write_text(pem)
    return path


def test_flash_hint_on_an_mdash_unit_names_mdash_arduino(
    start_unit: Callable[..., UnitProcess], runner: CliRunner, wrong_pem: Path, tmp_path: Path
) -> None:
    """The tryout: the hint's line named arduino-esp32-spiffs, which wrote the CA (exit
    0); it names mdash-arduino, whose gate refuses it; and arduino-esp32-spiffs typed
    by hand is refused before writing, the line mended to mdash-arduino."""
    unit = start_unit("--board", "mdash-arduino")
    journal = str(tmp_path / "j")
    argv = ["flash", "-p", unit.url, "--board", "mongoose-os-esp32", "--bundle", str(wrong_pem)]
    r = runner.invoke(cli, [*argv, "--journal-dir", journal])
    assert r.exit_code == 2, r.output
    run = _line(r.output, "those of board mdash-arduino (SPIFFS on spiffs): ")
    fixed = [*argv[:4], "mdash-arduino", *argv[5:], "--journal-dir", journal]
    assert run == "esp-cabundle " + shlex.join(fixed), r.output
    assert "arduino-esp32-spiffs" not in r.output
    r = runner.invoke(cli, shlex.split(run)[1:])
    assert r.exit_code == 1, r.output
    assert "would cut mdash-arduino@1.2.13 units off mdash.net" in _one_line(r.output)

    typed = [*argv[:4], "arduino-esp32-spiffs", *argv[5:], "--journal-dir", journal]
    r = runner.invoke(cli, typed)
    assert r.exit_code == 2, r.output
    said = _one_line(r.output)
    assert "partition 'spiffs' holds /mdash.cfg" in said and "nothing written" in said
    assert "+Amazon Root CA 1" not in said
    assert _line(r.output, "is this the right --board? ") == run


def test_update_dump_of_an_mdash_dump_names_mdash_arduino(
    in_tmp: Path, runner: CliRunner, wrong_pem: Path
) -> None:
    """update-dump picked as flash did: arduino-esp32-spiffs for a dump whose spiffs
    partition holds /mdash.cfg; and that board, typed, wrote the CA."""
    (in_tmp / "dump0.bin").write_bytes(dumps.arduino_dump())
    argv = ["update-dump", "dump0.bin", "--board", "mongoose-os-esp32", "--bundle", "wrong.pem"]
    r = runner.invoke(cli, [*argv, "-o", "new.bin"])
    assert r.exit_code == 2, r.output
    run = _line(r.output, "those of board mdash-arduino (SPIFFS on spiffs): ")
    assert run == "esp-cabundle " + shlex.join(
        [*argv[:3], "mdash-arduino", *argv[4:], "-o", "new.bin"]
    )
    for board in ("arduino-esp32-spiffs", "esp-idf-spiffs", "platformio-esp32-spiffs"):
        r = runner.invoke(cli, [*argv[:3], board, *argv[4:], "-o", "new.bin"])
        assert r.exit_code == 2, r.output
        assert "holds /mdash.cfg, which only mDash firmware keeps" in _one_line(r.output)
        assert _line(r.output, "is this the right --board? ") == run
        assert not (in_tmp / "new.bin").exists()
    r = runner.invoke(cli, shlex.split(run)[1:])
    assert r.exit_code == 1 and "off mdash.net" in r.output, r.output
    assert not (in_tmp / "new.bin").exists()


def test_a_dump_that_shows_no_firmware_gets_no_line_that_picks_one(
    in_tmp: Path, runner: CliRunner, wrong_pem: Path
) -> None:
    """Without /mdash.cfg the spiffs partition could be an Arduino sketch's or an mDash
    unit's: the boards are named, and the line leaves the board to the user."""
    flash = bytearray(dumps.arduino_dump())
    image = open_image(bytes(flash[SPIFFS]))
    image.remove("/mdash.cfg")
    flash[SPIFFS] = image.to_bytes()
    (in_tmp / "dump0.bin").write_bytes(flash)
    argv = ["update-dump", "dump0.bin", "--board", "mongoose-os-esp32", "--bundle", "wrong.pem"]
    r = runner.invoke(cli, [*argv, "-o", "new.bin"])
    assert r.exit_code == 2, r.output
    said = _one_line(r.output)
    assert "arduino-esp32-spiffs (SPIFFS on spiffs) or" in said
    assert "mdash-arduino (SPIFFS on spiffs)" in said
    assert _line(r.output, "their CA rules differ: ") == "esp-cabundle " + shlex.join(
        [*argv[:3], "BOARD", *argv[4:], "-o", "new.bin"]
    )
    # and a board of no firmware is taken as typed: nothing marks another
    r = runner.invoke(cli, [*argv[:3], "arduino-esp32-spiffs", *argv[4:], "-o", "new.bin"])
    assert r.exit_code == 0, r.output


def test_fs_put_refuses_a_board_of_other_firmware_than_the_image_shows(
    in_tmp: Path, runner: CliRunner, wrong_pem: Path
) -> None:
    """'fs put' of the CA into an mDash image under arduino-esp32-spiffs judged it by
    that board's rules and wrote it."""
    image = in_tmp / "fs.bin"
    image.write_bytes(dumps.arduino_dump()[SPIFFS])
    before = image.read_bytes()
    argv = ["fs", "put", "fs.bin", "wrong.pem", "/ca.pem", "--board", "arduino-esp32-spiffs"]
    r = runner.invoke(cli, argv)
    assert r.exit_code == 2, r.output
    said = _one_line(r.output)
    assert "the image holds /mdash.cfg, which only board mdash-arduino's firmware" in said
    assert image.read_bytes() == before
    run = _line(r.output, "name the board the image is for: ")
    assert run == "esp-cabundle " + shlex.join([*argv[:-1], "mdash-arduino"])
    r = runner.invoke(cli, shlex.split(run)[1:])
    assert r.exit_code == 1 and "off mdash.net" in _one_line(r.output), r.output
    assert image.read_bytes() == before


def _home_made_board(folder: Path, *, profile: str) -> Path:
    """mongoose-os-esp32 as a user's board file: no firmware:, config_files nor
    platform: (Mongoose OS's, which another profile contradicts), its file system's
    profile ``profile``."""
    text = (Path(__file__).parents[1] / "boards" / "mongoose-os-esp32.yaml").read_text()
    text = text.replace("name: mongoose-os-esp32\n", "name: my-mos-board\n")
    head, rest = text.split("firmware:\n", 1)
    text = head + rest.split("framework:", 1)[1].join(["framework:", ""])
    text = text.replace("  config_files: [/conf9.json, /conf0.json]\n", "")
    text = text.replace("  profile: mongoose-os\n", f"  profile: {profile}\n")
    text = text.replace("  platform: mongoose-os\n", "")
    assert "firmware:" not in text and "config_files" not in text and "platform:" not in text
    path = folder / "my-mos-board.yaml"
    path.write_text(text)
    return path


def test_a_home_made_board_of_a_profile_only_that_firmware_uses_keeps_its_marks(
    in_tmp: Path, runner: CliRunner
) -> None:
    """A user's Mongoose OS board file (profile mongoose-os, no firmware: line) on an
    image holding /conf0.json was refused as 'another firmware's': only Mongoose OS
    boards use that profile, so the file is its own. The same board with a profile
    others share (arduino) is still refused, the board file's way out said."""
    (in_tmp / "ca.pem").write_bytes(dumps.pem("isrgrootx1.pem"))
    made = pack_image("littlefs", "mongoose-os", 256 << 10, [("/conf0.json", b"{}")]).data
    (in_tmp / "fs.bin").write_bytes(made)
    board = _home_made_board(in_tmp, profile="mongoose-os")
    r = runner.invoke(cli, ["fs", "put", "fs.bin", "ca.pem", "/ca.pem", "--board", str(board)])
    assert r.exit_code == 0, r.output
    assert open_image((in_tmp / "fs.bin").read_bytes()).read("/conf0.json") == b"{}"

    (in_tmp / "fs.bin").write_bytes(made)
    board = _home_made_board(in_tmp, profile="arduino")
    r = runner.invoke(cli, ["fs", "put", "fs.bin", "ca.pem", "/ca.pem", "--board", str(board)])
    assert r.exit_code == 2, r.output
    said = _one_line(r.output)
    assert "holds /conf0.json" in said and "lists /conf0.json in its config_files" in said
    assert (in_tmp / "fs.bin").read_bytes() == made


@pytest.fixture
def lfs_mdash_image() -> bytes:
    """An Arduino LittleFS image holding /mdash.cfg, of the Arduino table's spiffs size:
    no shipped mDash board is LittleFS."""
    return pack_image(
        "littlefs", "arduino", SPIFFS.stop - SPIFFS.start, [("/mdash.cfg", b"{}")]
    ).data


def test_a_mark_no_board_of_its_file_system_keeps_names_no_board_that_cannot_mount_it(
    in_tmp: Path, runner: CliRunner, lfs_mdash_image: bytes
) -> None:
    """A LittleFS image holding /mdash.cfg under arduino-esp32-littlefs: the hint's line
    named mdash-arduino, a SPIFFS board, whose put refused the image as another file
    system's and named arduino-esp32-littlefs again: a circle. It names no board now."""
    (in_tmp / "ca.pem").write_bytes(dumps.pem("isrgrootx1.pem"))
    (in_tmp / "fs.bin").write_bytes(lfs_mdash_image)
    argv = ["fs", "put", "fs.bin", "ca.pem", "/ca.pem", "--board", "arduino-esp32-littlefs"]
    r = runner.invoke(cli, argv)
    assert r.exit_code == 2, r.output
    said = _one_line(r.output)
    assert "the image holds /mdash.cfg, which only board mdash-arduino's firmware" in said
    assert "--board mdash-arduino" not in said, said
    assert "no shipped board keeps /mdash.cfg on LittleFS (mdash-arduino keeps it on SPIFFS)" in (
        said
    )
    assert (in_tmp / "fs.bin").read_bytes() == lfs_mdash_image

    flash = bytearray(dumps.arduino_dump())
    flash[SPIFFS] = lfs_mdash_image
    (in_tmp / "dump0.bin").write_bytes(flash)
    argv = ["update-dump", "dump0.bin", "--board", "arduino-esp32-littlefs", "--bundle", "ca.pem"]
    r = runner.invoke(cli, [*argv, "-o", "new.bin"])
    assert r.exit_code == 2, r.output
    said = _one_line(r.output)
    assert "partition 'spiffs' holds /mdash.cfg" in said and "nothing written" in said
    assert "the unit runs mDash firmware, not arduino-esp32-littlefs" in said, said
    assert "--board mdash-arduino" not in said, said
    assert "is this the right --board? no shipped board keeps /mdash.cfg on LittleFS" in said
    assert not (in_tmp / "new.bin").exists()


def test_a_hint_asking_a_question_goes_on_without_a_semicolon(
    start_unit: Callable[..., UnitProcess], runner: CliRunner, wrong_pem: Path, tmp_path: Path
) -> None:
    """A board finding no partition of its subtype asks "is this the right --board?";
    the boards the table fits were appended after "; ", which read "--board?; the
    unit's partitions ..." on an esp-idf-littlefs unit flashed as esp-idf-spiffs."""
    unit = start_unit("--board", "esp-idf-littlefs")
    argv = ["flash", "-p", unit.url, "--board", "esp-idf-spiffs", "--bundle", str(wrong_pem)]
    r = runner.invoke(cli, [*argv, "--journal-dir", str(tmp_path / "j")])
    assert r.exit_code == 2, r.output
    said = _one_line(r.output)
    assert "is this the right --board? the unit's partitions are those of board" in said, said
    assert "?;" not in said
