"""A LittleFS directory that holds nothing: ``fs put IMAGE ca.pem /cfg/a`` then ``fs rm
IMAGE /cfg/a`` left ``/cfg`` in the image, which ``fs ls`` did not show and ``fs rm
IMAGE /cfg`` refused ("a directory, not a file") with no hint. It is kept, as a unit's
unlink keeps it, and now said: rm's line names it, ls lists it, rm removes it (littlefs's
lfs_remove removes an empty directory), and one holding files is refused naming them."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from esp_cabundle.cli import cli
from esp_cabundle.fs import open_image
from esp_cabundle.fs.edit import pack_image

CA = (Path(__file__).parent / "data" / "letsencrypt" / "isrgrootx1.pem").read_bytes()


def _fs(runner: CliRunner, *args: str) -> tuple[int, str, str]:
    r = runner.invoke(cli, ["fs", *args])
    return r.exit_code, r.stdout, r.stderr


def _image(in_tmp: Path, fs_type: str = "littlefs") -> Path:
    image = in_tmp / "lfs.bin"
    image.write_bytes(pack_image(fs_type, "esp-idf", 256 * 1024, [("/ca.pem", CA)]).data)
    (in_tmp / "a.txt").write_bytes(b"hello\n")
    return image


def test_a_directory_rm_emptied_is_said_listed_and_removed(in_tmp: Path, runner: CliRunner) -> None:
    image = _image(in_tmp)
    assert _fs(runner, "put", "lfs.bin", "a.txt", "/cfg/a")[0] == 0
    code, out, err = _fs(runner, "rm", "lfs.bin", "/cfg/a")
    assert code == 0, err
    assert "removed /cfg/a (left empty, kept: /cfg; fs rm removes an empty directory)" in out
    assert open_image(image.read_bytes()).empty_dirs() == ["/cfg"]  # kept, as a unit keeps it

    code, out, err = _fs(runner, "ls", "lfs.bin")
    assert code == 0, err
    assert [line.split() for line in out.splitlines()[-2:]] == [
        ["/ca.pem", "1,939"],
        ["/cfg/", "(empty", "directory)"],
    ], out
    code, out, err = _fs(runner, "ls", "lfs.bin", "--json")
    assert json.loads(out)["empty_dirs"] == ["/cfg"], out

    code, out, err = _fs(runner, "rm", "lfs.bin", "/cfg")
    assert code == 0, err
    assert "removed /cfg;" in out, out
    after = open_image(image.read_bytes())
    assert after.empty_dirs() == [] and [f.path for f in after.files()] == ["/ca.pem"]
    assert json.loads(_fs(runner, "ls", "lfs.bin", "--json")[1])["empty_dirs"] == []


def test_a_directory_holding_files_is_refused_naming_them(in_tmp: Path, runner: CliRunner) -> None:
    image = _image(in_tmp)
    for dest in ("/cfg/b", "/cfg/sub/a"):
        assert _fs(runner, "put", "lfs.bin", "a.txt", dest)[0] == 0
    before = image.read_bytes()
    code, _, err = _fs(runner, "rm", "lfs.bin", "/cfg")
    assert code == 2, err
    said = " ".join(err.split())
    assert "/cfg is a directory in the LittleFS image with 2 paths under it" in said, err
    assert "hint: remove what it holds first, then /cfg: /cfg/b, /cfg/sub/a" in said, err
    assert image.read_bytes() == before
    # what the hint says, in one run: files, then the directories they leave empty
    code, _, err = _fs(runner, "rm", "lfs.bin", "/cfg/b", "/cfg/sub/a", "/cfg/sub", "/cfg")
    assert code == 0, err
    after = open_image(image.read_bytes())
    assert after.empty_dirs() == [] and [f.path for f in after.files()] == ["/ca.pem"]


def test_spiffs_has_no_directories(in_tmp: Path, runner: CliRunner) -> None:
    """SPIFFS names hold '/', but removing one leaves nothing behind to list."""
    image = _image(in_tmp, "spiffs")
    assert _fs(runner, "put", "lfs.bin", "a.txt", "/cfg/a")[0] == 0
    code, out, err = _fs(runner, "rm", "lfs.bin", "/cfg/a")
    assert code == 0 and "left empty" not in out, out + err
    assert json.loads(_fs(runner, "ls", "lfs.bin", "--json")[1])["empty_dirs"] == []
    assert open_image(image.read_bytes()).empty_dirs() == []
