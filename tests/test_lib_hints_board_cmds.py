"""The commands that edit a unit's or a dump's file system (flash, update-dump, restore)
have no --profile, --size or --offset: the board names the profile, the unit's own table
the partitions. A LittleFS image that contradicts the board's profile is told to change
what those users can change (the board, the image), while ``fs`` keeps its flags and a
script is told of its parameters (test_lib_hints_fs)."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from esp_cabundle.cli import cli
from esp_cabundle.errors import ImageError
from esp_cabundle.fs import open_image
from esp_cabundle.fs.lfs_platforms import DISK_VERSION_2_1
from esp_cabundle.fs.littlefs import build_littlefs_image
from esp_cabundle.spelling import BOARD_SPELLING, CLI_SPELLING, PYTHON
from tests.support import dumps

FS_0 = 0x190000
FS_SIZE = 0x40000
NO_SUCH_FLAG = ("--profile", "--size", "--offset", "encrypt")
BOARD_HINT = "pick the --board whose filesystem: profile: made this file system"
FILES = [("/ca.pem", dumps.pem("dst-root-ca-x3.pem"))]


def _half_size_image() -> bytes:
    """A Mongoose OS image made for a partition half the size of fs_0."""
    image = build_littlefs_image(FILES, size=FS_SIZE // 2, profile="mongoose-os")
    return image + b"\xff" * (FS_SIZE - len(image))


def _v21_image() -> bytes:
    """On-disk 2.1, which Mongoose OS's littlefs 2.5 does not mount."""
    return build_littlefs_image(
        FILES, size=FS_SIZE, profile="esp-idf", disk_version=DISK_VERSION_2_1
    )


def _dump_with(fs_0: bytes) -> bytes:
    flash = bytearray(dumps.mongoose_dump(fs_1=False))
    flash[FS_0 : FS_0 + FS_SIZE] = fs_0
    return bytes(flash)


def test_the_spellings_differ_only_where_the_board_decides() -> None:
    changed = {
        f for f in CLI_SPELLING._fields if getattr(CLI_SPELLING, f) != getattr(BOARD_SPELLING, f)
    }
    assert changed == {"profile", "offset", "size", "profile_off", "geometry"}
    assert PYTHON.profile_off == "omit profile= to open it as it is"


def test_a_script_is_told_of_size_offset_and_profile() -> None:
    with pytest.raises(ImageError, match="requires the block count") as e:
        open_image(_half_size_image(), profile="mongoose-os")
    assert e.value.hint == "check size=/offset=, or omit profile= to open it as it is"


@pytest.mark.parametrize(
    ("image", "message", "hint"),
    [
        (_half_size_image, "requires the block count", "check the image in this partition"),
        (_v21_image, r"only mounts 2\.0", "the device would refuse this image; " + BOARD_HINT),
    ],
)
def test_update_dump_names_the_board_not_flags_it_lacks(
    in_tmp: Path,
    runner: CliRunner,
    image: Callable[[], bytes],
    message: str,
    hint: str,
) -> None:
    (in_tmp / "d.bin").write_bytes(_dump_with(image()))
    (in_tmp / "ca.pem").write_bytes(dumps.pem("isrgrootx1.pem"))
    before = {p.name: p.read_bytes() for p in in_tmp.iterdir()}
    args = ["update-dump", "d.bin", "--board", "mongoose-os-esp32", "--bundle", "ca.pem"]
    r = runner.invoke(cli, [*args, "-o", "o.bin"])
    assert r.exit_code == 2, r.output
    assert re.search(message, r.stderr), r.stderr
    (said,) = [line for line in r.stderr.splitlines() if line.startswith("  hint: ")]
    assert said.startswith("  hint: " + hint) and BOARD_HINT in said, said
    own = said.replace("'esp-cabundle pack --size'", "")  # pack's own flag, rightly named
    assert not [f for f in NO_SUCH_FLAG if f in own], said
    assert {p.name: p.read_bytes() for p in in_tmp.iterdir()} == before


def test_flash_names_the_board_not_flags_it_lacks(
    virtual_esp32: Callable[..., Any], runner: CliRunner, tmp_path: Path
) -> None:
    unit = virtual_esp32("esp32")
    flash = _dump_with(_v21_image())
    unit.load(0, flash)
    ca = tmp_path / "ca.pem"
    ca.write_bytes(dumps.pem("isrgrootx1.pem"))
    args = ["flash", "-p", unit.url, "--board", "mongoose-os-esp32", "--bundle", str(ca)]
    r = runner.invoke(cli, [*args, "--journal-dir", str(tmp_path / "j")])
    assert r.exit_code != 0, r.output
    assert "only mounts 2.0" in r.output and BOARD_HINT in r.output, r.output
    assert "omit --profile" not in r.output and "encrypted" not in r.output
    assert unit.read(0, len(flash)) == flash
