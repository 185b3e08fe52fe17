"""Virtual units' hints in the caller's words: a script laying one out with
``board_image`` or starting one with ``dump_image`` is told of ``dump_image``,
``board_image`` and ``open_unit``; ``esp-cabundle virtual-unit`` keeps --dump FILE,
--board NAME and 'esp-cabundle read' word for word, and names its own commands (not
``build_bundle``) for a board without a file system."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from click.testing import CliRunner

from esp_cabundle.boards import load_board
from esp_cabundle.cli import cli
from esp_cabundle.errors import EspCabundleError, InputError
from esp_cabundle.spelling import BOARD_SPELLING, PYTHON
from esp_cabundle.virtual.boards import board_fs_image, board_image, dump_image

FLAGS = ("--dump", "--board", "esp-cabundle ")
NO_TABLE = bytes(0x9000)  # zeros: no partition table anywhere


def _said(e: pytest.ExceptionInfo[EspCabundleError]) -> str:
    said = f"{e.value.message} hint: {e.value.hint or ''}"
    assert not [f for f in FLAGS if f in said], said
    return said


def test_a_board_without_a_layout_names_dump_image() -> None:
    board = dataclasses.replace(load_board("esp-idf-littlefs"), layout=None)
    with pytest.raises(InputError) as e:
        board_image(board)
    assert _said(e).endswith(
        "hint: start the unit from a dump of a real one: dump_image(FLASH_BYTES)"
    )
    with pytest.raises(InputError) as e:
        board_image(board, spelling=BOARD_SPELLING)
    assert e.value.hint == "start the unit from a dump of a real one: --dump FILE"


def test_a_board_without_a_file_system_names_the_build() -> None:
    board = load_board("esp-idf-bundle")
    for make in (board_image, board_fs_image):
        with pytest.raises(InputError) as e:
            make(board)
        assert "build_bundle (an OutputSpec per file)" in _said(e)
        assert "(list_boards())" in _said(e)
        with pytest.raises(InputError) as e:
            make(board, spelling=BOARD_SPELLING)
        assert e.value.hint == (
            "ship new firmware built with 'esp-cabundle build' output instead, or pick a "
            "board with a file system (esp-cabundle boards)"
        )


def test_bytes_without_a_table_name_open_unit_and_board_image() -> None:
    with pytest.raises(InputError) as e:
        dump_image(NO_TABLE)
    assert _said(e).endswith(
        "hint: start it from a whole-flash dump (unit = open_unit(PORT); unit.read(0, "
        "unit.size), or esptool read-flash 0 ALL dump.bin), or lay it out for a board: "
        "board_image(load_board(NAME))"
    )
    with pytest.raises(InputError) as e:
        dump_image(NO_TABLE, spelling=BOARD_SPELLING)
    assert e.value.hint == (
        "start it from a whole-flash dump (esp-cabundle read --port PORT --all -o dump.bin, "
        "or esptool read-flash 0 ALL dump.bin), or lay it out for a board: --board NAME"
    )
    assert PYTHON.read_all != BOARD_SPELLING.read_all


def _hint(r: object) -> str:
    (said,) = [ln for ln in r.stderr.splitlines() if ln.startswith("  hint: ")]  # type: ignore[attr-defined]
    return said.removeprefix("  hint: ")


def test_virtual_unit_names_its_commands(in_tmp: Path, runner: CliRunner) -> None:
    r = runner.invoke(cli, ["virtual-unit", "--board", "esp-idf-bundle"])
    assert r.exit_code == 2, r.output
    assert _hint(r) == (
        "ship new firmware built with 'esp-cabundle build' output instead, or pick a "
        "board with a file system (esp-cabundle boards)"
    )
    (in_tmp / "zeros.bin").write_bytes(NO_TABLE)
    r = runner.invoke(cli, ["virtual-unit", "--dump", "zeros.bin"])
    assert r.exit_code == 2, r.output
    assert _hint(r) == (
        "start it from a whole-flash dump (esp-cabundle read --port PORT --all -o dump.bin, "
        "or esptool read-flash 0 ALL dump.bin), or lay it out for a board: --board NAME"
    )
    assert (in_tmp / "zeros.bin").read_bytes() == NO_TABLE
