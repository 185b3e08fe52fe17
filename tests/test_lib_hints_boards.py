"""The board and catalog hints name the knob the caller has, as test_lib_hints does for
the build: planning a CA update (``update_dump``, ``plan_ca_update``), a board's
file-system partitions, the LittleFS readability rule and a root not in the catalog tell a
script of ``board``, ``list_boards()``, ``inspect_bytes``, ``pack_ca`` and ``BundleSpec``,
while ``update-dump``, ``fs`` and ``build``, passing CLI_SPELLING, keep their flags and
commands word for word (the second half)."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from esp_cabundle.boards import load_board
from esp_cabundle.bundle import BundleSpec, resolve_bundle
from esp_cabundle.catalog import Catalog
from esp_cabundle.cli import cli
from esp_cabundle.errors import (
    CatalogError,
    EspCabundleError,
    ImageError,
    InputError,
    PartitionTableError,
)
from esp_cabundle.flash.offline import WholeDump, update_dump
from esp_cabundle.formats.idf_filter import load_cmn_filter
from esp_cabundle.fs.lfs_platforms import DISK_VERSION_2_1, check_readable, resolve_platform
from esp_cabundle.fs.littlefs import build_littlefs_image
from tests.support import dumps
from tests.support.gated import canonical, gated

FLAGS = ("--board", "--profile", "--size", "--offset", "--root", "--idf-filter")
FLAGS += ("esp-cabundle ",)
FP = "0123456789abcdef" * 4  # a well-formed SHA-256 no catalog root has
NEW_CA = canonical(dumps.pem("isrgrootx1.pem"))
SPIFFS = (0x290000, 0x160000)  # the Arduino dump's file-system partition


def _said(e: pytest.ExceptionInfo[EspCabundleError]) -> str:
    """The error as the caller sees it, checked to name no CLI flag or command."""
    said = str(e.value)
    assert not [f for f in FLAGS if f in said], said
    return said


def _not_littlefs() -> bytes:
    """An Arduino dump whose file-system partition holds no file system (random bytes)."""
    return dumps.with_random(dumps.arduino_dump(), *SPIFFS)


def _littlefs_2_1() -> bytes:
    """An Arduino dump whose file-system partition holds a LittleFS image of version 2.1."""
    flash = dumps.arduino_dump()
    offset, size = SPIFFS
    image = build_littlefs_image(
        {"/ca.pem": b"x"}, size=size, profile="arduino", disk_version=DISK_VERSION_2_1
    )
    return flash[:offset] + image + flash[offset + size :]


# --- library: the Python words -------------------------------------------------------


def test_a_partition_that_does_not_mount_names_the_board_argument() -> None:
    board = load_board("arduino-esp32-littlefs")
    with pytest.raises(ImageError, match="does not mount as littlefs") as e:
        update_dump(_not_littlefs(), board, gated(NEW_CA, board.name))
    assert e.value.hint == (
        "is board arduino-esp32-littlefs right for this unit? (inspect_bytes shows what it holds)"
    )
    _said(e)


def test_a_board_taking_one_of_two_partitions_names_list_boards() -> None:
    board = load_board("platformio-esp32")
    with pytest.raises(PartitionTableError, match="takes only the last") as e:
        update_dump(dumps.mongoose_dump(), board, gated(NEW_CA, board.name))
    assert e.value.hint == (
        "is this the right board? pick the board of the unit's firmware (list_boards()), "
        "or one that names every partition it mounts; the unit's partitions are those of "
        "board mongoose-os-esp32 (LittleFS on fs_0, fs_1): use load_board('mongoose-os-esp32')"
    )
    _said(e)


def test_a_missing_partition_names_the_board() -> None:
    board = load_board("mongoose-os-esp32")
    with pytest.raises(PartitionTableError, match="no partition 'fs_0'") as e:
        board.fs_partitions(WholeDump.parse(dumps.arduino_dump()).table)
    assert e.value.hint is not None and "is this the right board? the firmware" in e.value.hint
    _said(e)


def test_an_unreadable_version_names_pack_ca() -> None:
    with pytest.raises(ImageError, match=r"has on-disk version 2\.1") as e:
        check_readable(DISK_VERSION_2_1, resolve_platform("arduino-2.0.5"), "the image")
    assert e.value.hint is not None
    assert e.value.hint.startswith("make a new 2.0 image with pack_ca (it writes 2.0")
    _said(e)


def test_a_root_not_in_the_catalog_is_told_to_come_in_bundle_spec() -> None:
    with pytest.raises(CatalogError, match="is not in the catalog") as e:
        resolve_bundle(BundleSpec(roots=(FP,)), Catalog.load())
    assert e.value.hint == (
        "pass the root as a file (BundleSpec(roots=['path/to/root.pem'])) to use it anyway"
    )
    _said(e)


def test_a_missing_filter_csv_names_load_cmn_filter(in_tmp: Path) -> None:
    with pytest.raises(InputError, match="cannot read the filter CSV") as e:
        load_cmn_filter(in_tmp / "on")
    assert e.value.hint is not None
    assert e.value.hint.startswith("load_cmn_filter takes the path of ESP-IDF's cmn_crt")
    _said(e)


# --- CLI: the flags, word for word ---------------------------------------------------


def _update_dump(tmp: Path, flash: bytes, board: str) -> str:
    (tmp / "d.bin").write_bytes(flash)
    (tmp / "ca.pem").write_bytes(NEW_CA)
    r = CliRunner().invoke(
        cli, ["update-dump", "d.bin", "--board", board, "--bundle", "ca.pem", "-o", "o.bin"]
    )
    assert r.exit_code == 2, r.output
    assert not (tmp / "o.bin").exists()
    return r.stderr


def test_cli_update_dump_keeps_its_board_hints(in_tmp: Path) -> None:
    err = _update_dump(in_tmp, _not_littlefs(), "arduino-esp32-littlefs")
    assert (
        "hint: is --board arduino-esp32-littlefs right for this unit? (esp-cabundle inspect "
        "shows what it holds)\n"
    ) in err
    err = _update_dump(in_tmp, dumps.mongoose_dump(), "platformio-esp32")
    assert (
        "hint: is this the right --board? pick the board of the unit's firmware (esp-cabundle "
        "boards), or one that names every partition it mounts; the unit's partitions are "
        "those of board mongoose-os-esp32 (LittleFS on fs_0, fs_1): esp-cabundle "
        "update-dump d.bin --board mongoose-os-esp32 --bundle ca.pem -o o.bin\n"
    ) in err.replace("\n    ", " ")
    err = _update_dump(in_tmp, dumps.arduino_dump(), "mongoose-os-esp32")
    assert "is this the right --board? the firmware mounts its file system from" in err


def test_cli_fs_keeps_its_pack_hint(in_tmp: Path) -> None:
    offset, size = SPIFFS
    (in_tmp / "lfs.bin").write_bytes(_littlefs_2_1()[offset : offset + size])
    (in_tmp / "ca.pem").write_bytes(NEW_CA)
    before = (in_tmp / "lfs.bin").read_bytes()
    r = CliRunner().invoke(cli, ["fs", "put", "lfs.bin", "ca.pem", "--platform", "arduino-2.0.5"])
    assert r.exit_code == 2, r.output
    assert "hint: make a new 2.0 image with 'esp-cabundle pack' (it writes 2.0 for this " in (
        r.stderr
    )
    assert (in_tmp / "lfs.bin").read_bytes() == before


def test_cli_build_keeps_its_root_hint(in_tmp: Path) -> None:
    r = CliRunner().invoke(cli, ["build", "--root", FP, "-o", "ca.pem"])
    assert r.exit_code == 2, r.output
    assert "hint: pass the root as a file (--root path/to/root.pem) to use it anyway\n" in (
        r.stderr
    )
    assert not (in_tmp / "ca.pem").exists()


def test_cli_build_keeps_its_idf_filter_hint(in_tmp: Path) -> None:
    r = CliRunner().invoke(cli, ["build", "--idf-filter", "on", "-o", "ca.pem"])
    assert r.exit_code == 2, r.output
    assert "hint: --idf-filter takes the path of ESP-IDF's cmn_crt_authorities.csv " in r.stderr
    assert not (in_tmp / "ca.pem").exists()
