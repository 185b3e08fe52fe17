"""A CA update on a virtual unit whose 1408 KiB SPIFFS is nearly full (the planner's slow
case, tests/support/spiffs_full.py), cut by a power loss in the middle of its
garbage-collected plan and finished by the rerun, end to end through esptool: the
partition then mounts with the new CA file and every other file as it was."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from esp_cabundle.boards import load_board
from esp_cabundle.errors import FlashError
from esp_cabundle.flash.flasher import flash_unit
from esp_cabundle.fs.spiffs import SpiffsImage
from tests.support import dumps
from tests.support.gated import verbatim
from tests.support.spiffs_full import ca, nearly_full

BOARD = "mdash-arduino"  # esp-idf SPIFFS in the Arduino table's 1408 KiB 'spiffs'
OFFSET, SIZE = 0x290000, 0x160000


def files(partition: bytes) -> dict[str, bytes]:
    img = SpiffsImage.open(partition, "esp-idf")
    return {f.path: img.read(f.path) for f in img.files()}


@pytest.mark.one_python  # a sweep: on the primary only (support.shards)
def test_a_cut_mid_update_of_a_nearly_full_spiffs_is_finished_by_the_rerun(
    virtual_esp32: Callable[..., Any], tmp_path: Path
) -> None:
    old, new = ca(18), ca(8)  # tests/test_spiffs_plan_order.py's smaller-CA case
    fs = nearly_full("esp-idf", old, 1500, 6, 538560)
    flash = bytearray(b"\xff" * dumps.FLASH_4M)
    table = dumps.table("arduino-default")
    flash[0x8000 : 0x8000 + len(table)] = table
    flash[OFFSET : OFFSET + SIZE] = fs
    unit = virtual_esp32("esp32")
    unit.load(0, bytes(flash))
    board, gated = load_board(BOARD), verbatim(new, BOARD)

    def run() -> Any:
        return flash_unit(unit.url, board, gated, journal_dir=tmp_path, connect_attempts=1)

    unit.arm_cut(sector_writes=6)  # inside the window with no CA file; the 7th torn
    with pytest.raises(FlashError, match="link lost"):
        run()
    result = run()
    assert [r.action for r in result.resumed] == ["finished"]
    after = unit.read(0, len(flash))
    assert after[:OFFSET] == flash[:OFFSET] and after[OFFSET + SIZE :] == flash[OFFSET + SIZE :]
    was, now = files(fs), files(after[OFFSET : OFFSET + SIZE])
    assert was.pop("/ca.pem") == old and now.pop("/ca.pem") == new
    assert now == was  # all 1,252 other files, byte for byte
