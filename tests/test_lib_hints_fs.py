"""The file-system layer's hints name the knob the caller has, as test_lib_hints does for
the build: ``open_image``, ``create_image``, ``locate_image`` and the LittleFS version
rules tell a script of ``fs_type=``, ``offset=``, ``disk_version=``..., while ``fs`` and
``pack``, passing CLI_SPELLING, keep their flags word for word (the second half)."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from esp_cabundle.errors import EspCabundleError, ImageError, InputError
from esp_cabundle.fs import create_image, open_image
from esp_cabundle.fs.edit import locate_image, pack_image
from esp_cabundle.fs.lfs_platforms import DISK_VERSION_2_0, DISK_VERSION_2_1
from esp_cabundle.spelling import set_to

FLAGS = ("--fs", "--offset", "--size", "--profile", "--platform", "--disk-version")
FLAGS += ("'esp-cabundle ",)  # a command to run (the tool named as itself is fine)
SIZE = 64 * 1024
FILES = [("/ca.pem", b"x" * 100)]


def _said(e: pytest.ExceptionInfo[EspCabundleError]) -> str:
    """The error as the caller sees it, checked to name no CLI flag or command."""
    said = str(e.value)
    assert not [f for f in FLAGS if f in said], said
    return said


def _spiffs() -> bytes:
    return pack_image("spiffs", "esp-idf", SIZE, FILES).data


def _littlefs(version: int) -> bytes:
    return pack_image("littlefs", "esp-idf", SIZE, FILES, disk_version=version).data


def test_set_to_writes_a_flag_or_a_python_literal() -> None:
    assert set_to("--fs", "spiffs") == "--fs spiffs"
    assert set_to("fs_type=", "spiffs") == "fs_type='spiffs'"
    assert set_to("--offset", 0x290000) == "--offset 0x290000"
    assert set_to("offset=", 0x290000) == "offset=0x290000"


# --- library: the Python parameter ---------------------------------------------------


def test_open_image_names_fs_type_and_offset() -> None:
    with pytest.raises(ImageError, match="a spiffs image, not littlefs") as e:
        open_image(_spiffs(), fs_type="littlefs")
    assert e.value.hint == "omit fs_type=, or give fs_type='spiffs'"
    _said(e)
    with pytest.raises(ImageError, match="all 4096 bytes are 0xFF") as erased:
        open_image(b"\xff" * 4096)
    assert erased.value.hint == "make one with pack_ca, or check offset="
    _said(erased)


def test_littlefs_options_on_spiffs_name_the_parameters() -> None:
    with pytest.raises(ImageError) as e:
        open_image(_spiffs(), platform="arduino-3.1.0")
    assert _said(e).startswith("platform= applies to LittleFS images, not spiffs")
    assert e.value.hint == "omit platform= for spiffs"
    with pytest.raises(ImageError) as made:
        create_image("spiffs", "esp-idf", SIZE, disk_version=DISK_VERSION_2_0)
    assert made.value.hint == "omit disk_version= for spiffs"
    _said(made)


def test_the_littlefs_version_rules_name_disk_version() -> None:
    v20, v21 = _littlefs(DISK_VERSION_2_0), _littlefs(DISK_VERSION_2_1)
    with pytest.raises(ImageError, match=r"does not upgrade it to 2\.1") as up:
        open_image(v20, disk_version=DISK_VERSION_2_1)
    assert (up.value.hint or "").startswith("omit disk_version= to keep 2.0 (firmware")
    _said(up)
    with pytest.raises(ImageError, match=r"cannot convert it to 2\.0") as down:
        open_image(v21, disk_version=DISK_VERSION_2_0)
    assert down.value.hint == "make a new image with pack_ca or pack_image (disk_version= for 2.0)"
    _said(down)
    with pytest.raises(ImageError, match="Mongoose OS") as mos:
        create_image("littlefs", "mongoose-os", SIZE, disk_version=DISK_VERSION_2_1)
    assert mos.value.hint == "omit disk_version=; the mongoose-os profile writes 2.0"
    _said(mos)


def test_the_littlefs_profile_rules_name_profile() -> None:
    with pytest.raises(ImageError, match="uses the arduino profile, not esp-idf") as e:
        create_image("littlefs", "esp-idf", SIZE, platform="arduino-3.1.0")
    assert e.value.hint == "give profile='arduino', or omit profile="
    _said(e)
    with pytest.raises(ImageError, match=r"only mounts 2\.0") as mos:
        open_image(_littlefs(DISK_VERSION_2_1), profile="mongoose-os")
    assert mos.value.hint == "the device would refuse this image; omit profile= to open it as it is"
    _said(mos)


def test_locate_image_names_offset_and_size() -> None:
    data = _spiffs()
    with pytest.raises(InputError, match="runs past the end") as e:
        locate_image(data, offset=0x1000, size=SIZE)
    assert e.value.hint == "check offset= and size= against the partition table"
    _said(e)
    with pytest.raises(InputError, match="cannot be read from its bytes") as spiffs:
        locate_image(data + data, offset=SIZE)
    assert spiffs.value.hint == "give size= (the partition's size from the partition table)"
    _said(spiffs)


# --- CLI: the flags, word for word ---------------------------------------------------


def _cli(runner: CliRunner, *args: str) -> tuple[int, str]:
    from esp_cabundle.cli import cli  # deferred: the library half never loads the CLI

    r = runner.invoke(cli, list(args))
    return r.exit_code, r.stderr


def test_the_cli_keeps_its_flags_in_the_fs_hints(in_tmp: Path, runner: CliRunner) -> None:
    (in_tmp / "s.bin").write_bytes(_spiffs())
    (in_tmp / "two.bin").write_bytes(_spiffs() * 2)
    (in_tmp / "blank.bin").write_bytes(b"\xff" * 4096)
    (in_tmp / "v20.bin").write_bytes(_littlefs(DISK_VERSION_2_0))
    (in_tmp / "v21.bin").write_bytes(_littlefs(DISK_VERSION_2_1))
    (in_tmp / "ca.pem").write_bytes(b"x")
    before = {p.name: p.read_bytes() for p in in_tmp.iterdir()}
    code, err = _cli(runner, "fs", "ls", "s.bin", "--fs", "littlefs")
    assert code != 0 and "hint: omit --fs, or give --fs spiffs\n" in err
    code, err = _cli(runner, "fs", "ls", "blank.bin")
    assert "hint: make one with 'esp-cabundle pack', or check --offset\n" in err
    code, err = _cli(runner, "fs", "ls", "s.bin", "--offset", "0x1000", "--size", "64K")
    assert "hint: check --offset and --size against the partition table\n" in err
    code, err = _cli(runner, "fs", "ls", "two.bin", "--offset", "64K")
    assert "hint: give --size (the partition's size from the partition table)\n" in err
    put = ("fs", "put")
    code, err = _cli(runner, *put, "s.bin", "ca.pem", "/x", "--platform", "arduino-3.1.0")
    assert "--platform applies to LittleFS images, not spiffs" in err
    assert "hint: omit --platform for spiffs\n" in err
    code, err = _cli(runner, *put, "v20.bin", "ca.pem", "/x", "--disk-version", "2.1")
    assert "hint: omit --disk-version to keep 2.0 (firmware with littlefs 2.6+" in err
    code, err = _cli(runner, *put, "v21.bin", "ca.pem", "/x", "--disk-version", "2.0")
    assert "hint: make a new image with 'esp-cabundle pack --disk-version 2.0'\n" in err
    code, err = _cli(runner, *put, "v21.bin", "ca.pem", "/x", "--profile", "mongoose-os")
    assert "hint: the device would refuse this image; omit --profile to open it as it is\n" in err
    assert {p.name: p.read_bytes() for p in in_tmp.iterdir()} == before


def test_the_cli_keeps_its_flags_in_the_pack_version_hints(in_tmp: Path, runner: CliRunner) -> None:
    from tests.support.gate_cases import X1_PEM

    (in_tmp / "ca.pem").write_bytes(X1_PEM)
    pack = ("pack", "--bundle", "ca.pem", "--size", "64K", "-o", "out.bin")
    code, err = _cli(runner, *pack, "--fs", "littlefs", "--profile", "mongoose-os",
                     "--disk-version", "2.1")  # fmt: skip
    assert code != 0 and "hint: omit --disk-version; the mongoose-os profile writes 2.0\n" in err
    code, err = _cli(runner, *pack, "--fs", "littlefs", "--profile", "esp-idf",
                     "--platform", "arduino-3.1.0")  # fmt: skip
    assert "hint: give --profile arduino, or omit --profile\n" in err
    code, err = _cli(runner, *pack, "--fs", "spiffs", "--profile", "esp-idf",
                     "--disk-version", "2.0")  # fmt: skip
    assert "hint: omit --disk-version for spiffs\n" in err
    assert not (in_tmp / "out.bin").exists()
