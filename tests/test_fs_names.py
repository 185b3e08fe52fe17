"""A file name in an image is taken as given, by one check, everywhere one is named:
``//double`` is refused as ``/a//b`` is (littlefs would resolve either to another file,
SPIFFS store it verbatim), never normalised into ``/double`` by one command and refused
by the next."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from esp_cabundle.boards import boards_dir, parse_board
from esp_cabundle.cli import cli
from esp_cabundle.errors import ConfigError, ImageError, InputError
from esp_cabundle.fs import open_image
from esp_cabundle.fs.base import checked_path
from esp_cabundle.fs.edit import pack_image
from esp_cabundle.images import image_spec

EMPTY_PARTS = "empty, '.' and '..' parts are not allowed"
# Every name with an empty part, at the start (a leading '//') or inside.
DOUBLED = ["//double", "///double", "//ca.pem", "/a//b", "/a/b//", "//"]


def _image(tmp_path: Path, fs_type: str) -> Path:
    files = [("/ca.pem", b"x"), ("/double", b"kept"), ("/a/b", b"ab")]  # SPIFFS: one name
    p = tmp_path / f"{fs_type}.bin"
    p.write_bytes(pack_image(fs_type, "esp-idf", 64 * 1024, files).data)
    return p


@pytest.mark.parametrize("name", DOUBLED)
def test_the_one_check_refuses_an_empty_part_anywhere(name: str) -> None:
    for new in (True, False):
        with pytest.raises(ImageError, match=EMPTY_PARTS):
            checked_path(name, "SPIFFS image", new=new)
    assert checked_path("ca.pem", "x") == "/ca.pem"  # a bare name gets its one '/'
    assert checked_path("/certs/ca.pem", "x") == "/certs/ca.pem"


@pytest.mark.parametrize("fs_type", ["spiffs", "littlefs"])
@pytest.mark.parametrize("name", DOUBLED)
def test_the_fs_api_refuses_them_for_every_operation(fs_type: str, name: str) -> None:
    img = open_image(pack_image(fs_type, "esp-idf", 64 * 1024, [("/double", b"x")]).data)
    before = img.to_bytes()
    for op in (
        lambda: img.write(name, b"new"),
        lambda: img.read(name),
        lambda: img.remove(name),
        lambda: img.exists(name),
    ):
        with pytest.raises(ImageError, match=EMPTY_PARTS):
            op()
    assert img.to_bytes() == before
    with pytest.raises(ImageError, match=EMPTY_PARTS):
        pack_image(fs_type, "esp-idf", 64 * 1024, [(name, b"x")])


@pytest.mark.parametrize("fs_type", ["spiffs", "littlefs"])
@pytest.mark.parametrize("name", ["//double", "/a//b"])
@pytest.mark.parametrize("command", ["put", "rm", "cat"])
def test_fs_commands_refuse_a_doubled_slash_alike(
    runner: CliRunner, tmp_path: Path, fs_type: str, name: str, command: str
) -> None:
    """The tester's case: 'fs put s.bin note.txt //double' wrote /double, and 'fs rm
    s.bin //double' said 'removed //double' having removed /double."""
    image = _image(tmp_path, fs_type)
    note = tmp_path / "note.txt"
    note.write_text("hello\n")
    before = {p: p.read_bytes() for p in tmp_path.iterdir()}
    args = {"put": [str(note), name], "rm": [name], "cat": [name]}[command]
    r = runner.invoke(cli, ["fs", command, str(image), *args])
    assert r.exit_code == 2, r.output
    assert f"invalid file name '{name}'" in r.stderr and EMPTY_PARTS in r.stderr
    assert "Traceback" not in r.output
    assert {p: p.read_bytes() for p in tmp_path.iterdir()} == before


@pytest.mark.parametrize("fs_type", ["spiffs", "littlefs"])
def test_fs_rm_reports_the_file_it_removed(runner: CliRunner, tmp_path: Path, fs_type: str) -> None:
    image = _image(tmp_path, fs_type)
    r = runner.invoke(cli, ["fs", "rm", str(image), "double"])
    assert r.exit_code == 0, r.output
    assert "removed /double;" in r.output
    r = runner.invoke(cli, ["fs", "rm", str(image), "a/b", "--json"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.output)["removed"] == ["/a/b"]
    assert [f.path for f in open_image(image.read_bytes()).files()] == ["/ca.pem"]


@pytest.mark.parametrize("ca_path", ["//ca.pem", "/certs//ca.pem"])
def test_pack_ca_path_is_checked_before_anything(
    runner: CliRunner, tmp_path: Path, ca_path: str
) -> None:
    out = tmp_path / "fs.bin"
    r = runner.invoke(
        cli,
        ["pack", "--fs", "spiffs", "--profile", "esp-idf", "--size", "64K",
         "--preset", "letsencrypt", "--ca-path", ca_path, "-o", str(out)],
    )  # fmt: skip
    assert r.exit_code == 2, r.output
    assert f"invalid file name '{ca_path}'" in r.stderr and EMPTY_PARTS in r.stderr
    assert "CA:" not in r.stderr  # refused before the gate ran
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(InputError, match=EMPTY_PARTS):
        image_spec(fs_type="littlefs", profile="esp-idf", size=65536, ca_path=ca_path)


def test_an_image_output_ca_path_is_checked_with_its_line(runner: CliRunner, in_tmp: Path) -> None:
    (in_tmp / "cabundle.yaml").write_text(
        "preset: letsencrypt\n"
        "outputs:\n"
        "  - {format: pem, path: ca.pem}\n"
        "  - {format: spiffs, path: fs.bin, profile: esp-idf, size: 64K, ca_path: //ca.pem}\n"
    )
    r = runner.invoke(cli, ["build"])
    assert r.exit_code == 2, r.output
    assert "cabundle.yaml:4" in r.stderr and EMPTY_PARTS in r.stderr
    assert sorted(p.name for p in in_tmp.iterdir()) == ["cabundle.yaml"]


@pytest.mark.parametrize(
    ("value", "words"),
    [
        ("//ca.pem", EMPTY_PARTS),
        ("/certs//ca.pem", EMPTY_PARTS),
        ('"/ca.pem "', "starts or ends with a space"),  # quoted: once trimmed silently
    ],
)
def test_a_board_ca_path_is_taken_as_written(value: str, words: str) -> None:
    text = (boards_dir() / "arduino-esp32-spiffs.yaml").read_text()
    assert "ca_path: /ca.pem" in text
    with pytest.raises(ConfigError, match=words):
        parse_board(text.replace("ca_path: /ca.pem", f"ca_path: {value}"), source="b.yaml")


# --- names SPIFFS firmware made: found as listed -----------------------------------------

# SPIFFS keeps a name verbatim; firmware that opened "/spiffs//b" or "/spiffs/x/../b"
# stored these. Same length as "/big.dat" or shorter, so they patch in place.
FIRMWARE_NAMES = ["//b.dat", "/x/../b", "/a/./b", "/a/b/"]


def _renamed(image: bytes, old: bytes, new: str, start: int = 0) -> bytes:
    at = image.index(old + b"\0", start)
    patched = bytearray(image)
    patched[at : at + len(old) + 1] = new.encode().ljust(len(old) + 1, b"\0")
    return bytes(patched)


@pytest.mark.parametrize("name", FIRMWARE_NAMES)
def test_a_spiffs_name_firmware_made_is_read_listed_and_removed(
    in_tmp: Path, runner: CliRunner, name: str
) -> None:
    """Before, inspect of such an image failed on the name ("'..' parts are not
    allowed ... give the absolute path the firmware opens"), and so did update-dump and
    flash of the unit's CA file, though the user had named no file at all."""
    from esp_cabundle.inspect import inspect_bytes

    pem = (Path(__file__).parent / "data" / "letsencrypt" / "isrgrootx1.pem").read_bytes()
    files = [("/ca.pem", pem), ("/big.dat", b"kept" * 500)]
    data = _renamed(pack_image("spiffs", "esp-idf", 64 * 1024, files).data, b"/big.dat", name)
    img = open_image(data)
    assert [f.path for f in img.files()] == sorted(["/ca.pem", name])
    assert img.read(name) == b"kept" * 500 and img.exists(name)
    report = inspect_bytes(data, source="fs.bin")
    assert len(report.children) == 1 and (f"file {name}", 2000) in report.facts
    (in_tmp / "fs.bin").write_bytes(data)
    r = runner.invoke(cli, ["fs", "cat", "fs.bin", name])
    assert r.exit_code == 0 and r.stdout_bytes == b"kept" * 500
    (in_tmp / "new.txt").write_bytes(b"new")
    r = runner.invoke(cli, ["fs", "put", "fs.bin", "new.txt", name])  # never made here
    assert r.exit_code == 2 and (in_tmp / "fs.bin").read_bytes() == data
    r = runner.invoke(cli, ["fs", "rm", "fs.bin", name])
    assert r.exit_code == 0, r.output
    assert [f.path for f in open_image((in_tmp / "fs.bin").read_bytes()).files()] == ["/ca.pem"]
    r = runner.invoke(cli, ["fs", "rm", "fs.bin", name])  # gone: the name is checked again
    assert r.exit_code == 2 and EMPTY_PARTS in r.output


@pytest.mark.parametrize("name", FIRMWARE_NAMES[:2])
def test_update_dump_keeps_such_a_file(in_tmp: Path, runner: CliRunner, name: str) -> None:
    from tests.support import dumps

    flash = _renamed(dumps.arduino_dump(), b"/big.dat", name, 0x290000)
    (in_tmp / "dump.bin").write_bytes(flash)
    args = ["update-dump", "dump.bin", "--board", "mdash-arduino", "--preset", "mdash"]
    r = runner.invoke(cli, [*args, "-o", "new.bin"])
    assert r.exit_code == 0, r.output
    new = open_image((in_tmp / "new.bin").read_bytes()[0x290000:0x3F0000])
    old = open_image(flash[0x290000:0x3F0000])
    assert new.read(name) == old.read(name) and new.read("/ca.pem") != old.read("/ca.pem")
