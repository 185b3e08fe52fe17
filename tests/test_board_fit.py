"""A board that contradicts the image or the unit is said, with the board that fits
named in a hint that runs; and a CA file put under its own name is said, with the put
that replaces the CA file instead."""

from __future__ import annotations

import json
import shlex
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner
from support.doc_commands import UnitProcess

from esp_cabundle.board_fit import board_misfit
from esp_cabundle.boards import load_board
from esp_cabundle.cli import cli
from esp_cabundle.errors import PartitionTableError
from esp_cabundle.flash.offline import update_dump
from esp_cabundle.fs import open_image
from esp_cabundle.fs.edit import pack_image
from esp_cabundle.spelling import CLI_SPELLING
from tests.support import dumps
from tests.support.gated import gated

PEM = dumps.pem("isrgrootx1.pem")


def _hint(output: str) -> str:
    return output.split("hint: ", 1)[1].replace("\n  ", " ").strip()


@pytest.fixture
def mos_image(in_tmp: Path) -> Path:
    """A Mongoose OS LittleFS image, and ca.pem beside it."""
    (in_tmp / "ca.pem").write_bytes(PEM)
    image = in_tmp / "fs.bin"
    image.write_bytes(pack_image("littlefs", "mongoose-os", 256 << 10, []).data)
    return image


def test_fs_put_refuses_a_board_of_another_file_system(mos_image: Path, runner: CliRunner) -> None:
    """'fs put fs.bin ca.pem --board mdash-arduino' judged a Mongoose OS LittleFS image
    under mDash's SPIFFS board and wrote it, exit 0, nothing said."""
    before = mos_image.read_bytes()
    for verb in (["put", "fs.bin", "ca.pem"], ["rm", "fs.bin", "/ca.pem"]):
        r = runner.invoke(cli, ["fs", *verb, "--board", "mdash-arduino"])
        assert r.exit_code == 2, r.output
        assert "board mdash-arduino's file system is SPIFFS" in r.output
        assert "the image is LittleFS" in r.output and "nothing written" in r.output
        assert mos_image.read_bytes() == before
    hint = _hint(r.output)
    assert "--board mongoose-os-esp32" in hint and "mdash-arduino" not in hint
    r = runner.invoke(cli, ["fs", "put", "fs.bin", "ca.pem", "--board", "mdash-arduino"])
    run = _hint(r.output).split(": ", 1)[1].split(" (or ")[0]
    assert run == "esp-cabundle fs put fs.bin ca.pem --board mongoose-os-esp32"
    r = runner.invoke(cli, shlex.split(run)[1:])
    assert r.exit_code == 0, r.output
    assert b"ISRG Root X1" in open_image(mos_image.read_bytes()).read("/ca.pem")


def test_a_board_of_the_same_file_system_for_another_platform_is_warned_about(
    in_tmp: Path, runner: CliRunner
) -> None:
    (in_tmp / "ca.pem").write_bytes(PEM)
    (in_tmp / "fs.bin").write_bytes(pack_image("spiffs", "mongoose-os", 256 << 10, []).data)
    argv = ["fs", "put", "fs.bin", "ca.pem", "--board", "esp-idf-spiffs", "--json"]
    r = runner.invoke(cli, argv)
    assert r.exit_code == 0, r.output
    (warning,) = json.loads(r.stdout)["warnings"]
    assert "board esp-idf-spiffs's file system is SPIFFS (profile esp-idf)" in warning
    assert "--board mongoose-os-esp32-spiffs" in warning


def _arduino_board(folder: Path, platform: str) -> Path:
    """arduino-esp32-littlefs as a board file whose units run ``platform``."""
    name = f"arduino-{platform.replace('.', '-')}"
    text = (Path(__file__).parents[1] / "boards" / "arduino-esp32-littlefs.yaml").read_text()
    text = text.replace("name: arduino-esp32-littlefs", f"name: {name}")
    text = text.replace("  ca_path: /ca.pem\n", f"  ca_path: /ca.pem\n  platform: {platform}\n")
    (folder / f"{name}.yaml").write_text(text)
    return folder / f"{name}.yaml"


def test_a_board_whose_platform_cannot_mount_the_image_does_not_fit_it(
    in_tmp: Path, runner: CliRunner
) -> None:
    """'fs put' of a 2.1 image under a board whose units run arduino-2.0.5 (littlefs
    2.5: refuses 2.1, and formats on mount failure) wrote it, exit 0, not a word."""
    (in_tmp / "ca.pem").write_bytes(PEM)
    made = pack_image("littlefs", "arduino", 256 << 10, [], platform="arduino-3.0.0").data
    (in_tmp / "fs.bin").write_bytes(made)
    old, new = _arduino_board(in_tmp, "arduino-2.0.5"), _arduino_board(in_tmp, "arduino-3.0.0")
    image = open_image(made)
    assert board_misfit(load_board(str(new)), image) is None
    kind, said = board_misfit(load_board(str(old)), image) or ("", "")
    assert kind == "platform" and "cannot mount the image's on-disk version 2.1" in said
    r = runner.invoke(cli, ["fs", "put", "fs.bin", "ca.pem", "--board", str(old)])
    assert r.exit_code == 2, r.output
    said = r.stderr.replace("\n  ", " ")
    # worded as flash and 'fs' word it: the platform *may* run an old littlefs
    assert "'s platform arduino-2.0.5 may run littlefs 2.5" in said and "nothing written" in said
    # the pack that makes a 2.0 image names the board (its file: pack finds no user's
    # board by name) and its platform; that pack's image takes the put
    pack = f"esp-cabundle pack --board {shlex.quote(str(old))} --platform arduino-2.0.5"
    assert f"'{pack}' (it writes 2.0" in said, said
    r = runner.invoke(cli, [*shlex.split(pack)[1:], "--bundle", "ca.pem", "-o", "new.bin"])
    assert r.exit_code == 0, r.output
    r = runner.invoke(cli, ["fs", "put", "new.bin", "ca.pem", "--board", str(old)])
    assert r.exit_code == 0, r.output
    assert (in_tmp / "fs.bin").read_bytes() == made
    r = runner.invoke(cli, ["fs", "put", "fs.bin", "ca.pem", "--board", str(new)])
    assert r.exit_code == 0 and "warning" not in r.stderr, r.output


def test_mongoose_os_board_refuses_a_2_1_image_as_its_platform_does(
    in_tmp: Path, runner: CliRunner
) -> None:
    """'fs put/rm --board mongoose-os-esp32' on a 2.1 image edited it with only the
    generic "another platform" warning, though Mongoose OS (littlefs 2.5) mounts 2.0
    alone and '--platform mongoose-os-2.20.0', flash and update-dump refuse it."""
    (in_tmp / "ca.pem").write_bytes(PEM)
    made = pack_image(
        "littlefs", "arduino", 256 << 10, [("/ca.pem", PEM)], platform="arduino-3.0.0"
    )
    (in_tmp / "fs.bin").write_bytes(made.data)
    for verb in (["put", "fs.bin", "ca.pem", "/ca.pem"], ["rm", "fs.bin", "/ca.pem"]):
        r = runner.invoke(cli, ["fs", *verb, "--board", "mongoose-os-esp32"])
        assert r.exit_code == 2, r.output
        said = r.stderr.replace("\n  ", " ")
        assert "platform mongoose-os may run littlefs 2.5" in said, said
        assert "cannot mount the image's on-disk version 2.1" in said
        assert (in_tmp / "fs.bin").read_bytes() == made.data
    # a 2.0 image, as pack makes for the board, still takes the put
    mos = pack_image("littlefs", "mongoose-os", 256 << 10, []).data
    (in_tmp / "m.bin").write_bytes(mos)
    r = runner.invoke(cli, ["fs", "put", "m.bin", "ca.pem", "--board", "mongoose-os-esp32"])
    assert r.exit_code == 0 and "warning" not in r.stderr, r.output


def test_an_arduino_board_fits_an_esp_littlefs_build(in_tmp: Path, runner: CliRunner) -> None:
    """An image of esp_littlefs' build (name_max 64) was taken for ESP-IDF alone, so
    an Arduino board was warned about: Arduino-ESP32 built as an ESP-IDF component
    makes it, and its LittleFS (esp_littlefs) mounts it. A PlatformIO board (its
    images are mklittlefs') is still warned about, ESP-IDF's board named first."""
    (in_tmp / "ca.pem").write_bytes(PEM)
    (in_tmp / "fs.bin").write_bytes(pack_image("littlefs", "esp-idf", 256 << 10, []).data)
    r = runner.invoke(cli, ["fs", "put", "fs.bin", "ca.pem", "--board", "arduino-esp32-littlefs"])
    assert r.exit_code == 0 and "warning" not in r.stderr, r.output
    r = runner.invoke(cli, ["fs", "put", "fs.bin", "ca.pem", "--board", "platformio-esp32"])
    assert r.exit_code == 0, r.output
    assert "(profile esp-idf or arduino)" in r.stderr
    assert "--board esp-idf-littlefs (or arduino-esp32-littlefs" in r.stderr.replace("\n  ", " ")


def test_update_dump_hint_names_the_board_the_image_is_for(
    mos_image: Path, runner: CliRunner
) -> None:
    """The hint named 'fs put fs.bin ca.pem --board mdash-arduino', which the image
    contradicts."""
    r = runner.invoke(
        cli,
        ["update-dump", "fs.bin", "--board", "mdash-arduino", "--bundle", "ca.pem", "-o", "n.bin"],
    )
    assert r.exit_code == 2, r.output
    hint = _hint(r.output)
    assert "mdash-arduino" not in hint
    put = hint.split(": ", 1)[1].split("; ")[0]
    assert put == "esp-cabundle fs put fs.bin ca.pem --board mongoose-os-esp32"
    r = runner.invoke(cli, shlex.split(put)[1:])
    assert r.exit_code == 0, r.output


def test_a_ca_file_put_under_its_own_name_is_said(in_tmp: Path, runner: CliRunner) -> None:
    """'fs put f2.bin def.pem' wrote /def.pem, exit 0, not a word: the firmware reads
    /ca.pem. It still writes there (the documented default), and says so."""
    (in_tmp / "def.pem").write_bytes(PEM)
    (in_tmp / "notes.txt").write_bytes(b"hello\n")
    (in_tmp / "f2.bin").write_bytes(pack_image("littlefs", "mongoose-os", 256 << 10, []).data)
    r = runner.invoke(cli, ["fs", "put", "f2.bin", "def.pem"])
    assert r.exit_code == 0, r.output
    assert "warning: /def.pem is not the CA file: the firmware reads /ca.pem" in r.stderr
    assert "esp-cabundle fs put f2.bin def.pem /ca.pem" in r.stderr.replace("\n  ", " ")
    assert open_image((in_tmp / "f2.bin").read_bytes()).read("/def.pem") == PEM
    r = runner.invoke(cli, ["fs", "put", "f2.bin", "def.pem", "--json"])
    (warning,) = json.loads(r.stdout)["warnings"]
    assert "the firmware reads /ca.pem" in warning
    for argv in (["notes.txt"], ["def.pem", "/certs/def.pem"]):  # no CA, or DEST named
        r = runner.invoke(cli, ["fs", "put", "f2.bin", *argv])
        assert r.exit_code == 0 and "warning" not in r.stderr, r.output


def test_a_unit_of_another_board_names_the_board_its_partitions_fit() -> None:
    """'no partition spiffs (it has ... fs_0 ... fs_1); is this the right --board?'
    named no board that has them."""
    with pytest.raises(PartitionTableError, match="no partition 'spiffs'") as e:
        update_dump(
            dumps.mongoose_dump(),
            load_board("mdash-arduino"),
            gated(PEM, "mdash-arduino"),
            spelling=CLI_SPELLING,
        )
    hint = e.value.hint or ""
    assert "board mongoose-os-esp32 (LittleFS on fs_0, fs_1)" in hint
    assert hint.endswith("run the same command again with --board mongoose-os-esp32")


def test_flash_names_the_board_of_the_unit(
    start_unit: Callable[..., UnitProcess], runner: CliRunner, tmp_path: Path
) -> None:
    unit = start_unit("--board", "mongoose-os-esp32-spiffs")
    (tmp_path / "ca.pem").write_bytes(PEM)
    ca, journal = str(tmp_path / "ca.pem"), str(tmp_path / "j")
    argv = ["flash", "--port", unit.url, "--board=mdash-arduino", "--bundle", ca]
    r = runner.invoke(cli, [*argv, "--journal-dir", journal])
    assert r.exit_code == 2, r.output
    # The hint said "run the same command again with --board X": it is now the line
    # typed with the board replaced where it was given, which runs when copied.
    run = r.stdout.split("(SPIFFS on fs_0, fs_1): ", 1)[1].strip()
    fixed = [*argv[:3], "--board", "mongoose-os-esp32-spiffs", *argv[4:], "--journal-dir", journal]
    assert run == "esp-cabundle " + shlex.join(fixed), r.output
    r = runner.invoke(cli, shlex.split(run)[1:])
    assert r.exit_code == 0, r.output


def test_update_dump_names_the_board_of_the_dump_in_the_line_typed(
    in_tmp: Path, runner: CliRunner
) -> None:
    """update-dump's wrong-board hint said "run the same command again with --board X",
    as flash's did: it is now the line typed with the board replaced, which runs."""
    (in_tmp / "ca.pem").write_bytes(PEM)
    (in_tmp / "dump.bin").write_bytes(dumps.mongoose_dump())
    argv = ["update-dump", "dump.bin", "--board=mdash-arduino", "--bundle", "ca.pem"]
    r = runner.invoke(cli, [*argv, "-o", "new.bin"])
    assert r.exit_code == 2 and not (in_tmp / "new.bin").exists(), r.output
    run = r.output.replace("\n  ", " ").split("(LittleFS on fs_0, fs_1): ", 1)[1].split("\n")[0]
    fixed = [argv[0], argv[1], "--board", "mongoose-os-esp32", *argv[3:], "-o", "new.bin"]
    assert run.strip() == "esp-cabundle " + shlex.join(fixed), r.output
    r = runner.invoke(cli, shlex.split(run)[1:])
    assert r.exit_code == 0, r.output
    assert (in_tmp / "new.bin").stat().st_size == len(dumps.mongoose_dump())


def test_update_dump_of_an_image_the_board_cannot_mount_hints_no_refused_put(
    in_tmp: Path, runner: CliRunner
) -> None:
    """An image given as the dump, under a board whose platform cannot mount its on-disk
    version: the hint named an 'fs put ... --board' that refuses that board."""
    (in_tmp / "ca.pem").write_bytes(PEM)
    made = pack_image("littlefs", "arduino", 256 << 10, [], platform="arduino-3.0.0").data
    (in_tmp / "fs.bin").write_bytes(made)
    old = _arduino_board(in_tmp, "arduino-2.0.5")
    r = runner.invoke(cli, ["update-dump", "fs.bin", "--board", str(old), "--bundle", "ca.pem",
                            "-o", "new.bin"])  # fmt: skip
    assert r.exit_code == 2 and not (in_tmp / "new.bin").exists(), r.output
    said = r.output.replace("\n  ", " ")
    assert "fs put" not in said, said
    assert "cannot mount the image's on-disk version 2.1" in said
    pack = f"esp-cabundle pack --board {shlex.quote(str(old))} --platform arduino-2.0.5"
    assert f"'{pack}' (it writes 2.0" in said and "read --port PORT --all" in said, said
    assert (in_tmp / "fs.bin").read_bytes() == made


def test_update_dump_opens_an_image_given_as_the_dump_once(
    mos_image: Path, runner: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An image given as the dump, under a board of another file system, was opened
    (mounted) twice to find the hint: once for the platform, once for the board."""
    # deferred: the module itself, to count its opens
    from esp_cabundle.commands import update_dump as command

    opened: list[int] = []

    def counted(data: bytes) -> object:
        opened.append(len(data))
        return open_image(data)

    monkeypatch.setattr(command, "open_image", counted)
    argv = ["update-dump", "fs.bin", "--board", "mdash-arduino", "--bundle", "ca.pem"]
    r = runner.invoke(cli, [*argv, "-o", "new.bin"])
    assert r.exit_code == 2, r.output
    assert "--board mongoose-os-esp32" in _hint(r.output), r.output
    assert opened == [mos_image.stat().st_size]


def test_update_dump_of_no_dump_names_a_read_that_runs(in_tmp: Path, runner: CliRunner) -> None:
    """A dump not there, named with a leading dash: the read hinted took '-o -dump.bin'
    for options (as 'fs' commands' hint does not: ./-dump.bin)."""
    (in_tmp / "ca.pem").write_bytes(PEM)
    argv = ["update-dump", "--board", "mdash-arduino", "--bundle", "ca.pem", "-o", "new.bin"]
    r = runner.invoke(cli, [*argv, "--", "-dump.bin"])
    assert r.exit_code == 2, r.output
    said = _hint(r.output)
    assert said.startswith("save a unit's whole flash as it (esp-cabundle read --port PORT "), said
    assert "--all -o ./-dump.bin), then update that copy" in said, said
