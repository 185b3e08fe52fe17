"""Fault injection with real esptool: the link cut at every sector-write boundary of an
update, tearing that sector (half programmed, or half erased). After each cut the LittleFS
unit mounts with the old or the new CA file and every other file intact; for LittleFS and
SPIFFS alike, running the same update again finishes it from the journal, and restore
brings back the original flash byte for byte."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from support.layouts import load_arduino, load_mongoose

from esp_cabundle.boards import load_board
from esp_cabundle.errors import FlashError
from esp_cabundle.flash.flasher import flash_unit
from esp_cabundle.flash.restore import restore_unit
from esp_cabundle.fs import open_image
from esp_cabundle.fs.littlefs import LittleFsImage
from esp_cabundle.virtual import VirtualESP32
from tests.support import dumps
from tests.support.gated import canonical, gated

Start = Callable[..., VirtualESP32]
NEW_CA = canonical(
    dumps.pem("isrgrootx1.pem") + dumps.pem("isrg-root-x2.pem") + dumps.pem("2024-r10.pem")
)
LAYOUTS = {
    "mongoose-os-esp32": (load_mongoose, [(0x190000, 0x1D0000), (0x350000, 0x390000)]),
    "mdash-arduino": (load_arduino, [(0x290000, 0x3F0000)]),
}


def files(flash: bytes, start: int, end: int) -> dict[str, bytes]:
    image = open_image(flash[start:end])
    return {f.path: image.read(f.path) for f in image.files()}


def run(unit: VirtualESP32, board: str, journal: Path, ca: bytes = NEW_CA) -> object:
    return flash_unit(
        unit.url, load_board(board), gated(ca, board), journal_dir=journal, connect_attempts=1
    )


def sectors_of_update(virtual_esp32: Start, board: str, tmp_path: Path) -> int:
    load, _ = LAYOUTS[board]
    unit = virtual_esp32("esp32")
    load(unit)
    run(unit, board, tmp_path / "probe")
    return unit.stats.sectors_programmed


def assert_complete(before: bytes, after: bytes, ranges: list[tuple[int, int]]) -> None:
    assert dumps.outside_equal(before, after, ranges)
    for start, end in ranges:
        old, new = files(before, start, end), files(after, start, end)
        assert new.pop("/ca.pem") == NEW_CA
        old.pop("/ca.pem")
        assert new == old


@pytest.mark.parametrize("board", ["mongoose-os-esp32", "mdash-arduino"])
def test_cut_at_every_sector_write_then_rerun_and_restore(
    virtual_esp32: Start, tmp_path: Path, board: str
) -> None:
    load, ranges = LAYOUTS[board]
    total = sectors_of_update(virtual_esp32, board, tmp_path)
    assert 2 <= total <= 12
    for k in range(total):
        for tear in ("program", "erase"):
            journal = tmp_path / f"j-{k}-{tear}"
            unit = virtual_esp32("esp32")
            load(unit)
            original = unit.read(0, len(unit.flash))
            unit.arm_cut(sector_writes=k, tear=tear)
            with pytest.raises(FlashError, match="link lost") as cut:
                run(unit, board, journal)
            assert "run the same command again" in str(cut.value)
            cut_state = unit.read(0, len(unit.flash))
            assert dumps.outside_equal(original, cut_state, ranges), (k, tear)
            if board == "mongoose-os-esp32":
                for start, end in ranges:  # littlefs: old or new, never broken
                    old = files(original, start, end)
                    image = LittleFsImage.open(cut_state[start:end])
                    now = {f.path: image.read(f.path) for f in image.files()}
                    assert now.pop("/ca.pem") in (old.pop("/ca.pem"), NEW_CA), (k, tear)
                    assert now == old, (k, tear)
            result = run(unit, board, journal)
            assert result.status in ("updated", "up to date")  # type: ignore[attr-defined]
            assert [r.action for r in result.resumed] in (  # type: ignore[attr-defined]
                ["finished"],
                ["dropped"],
            )
            assert_complete(original, unit.read(0, len(unit.flash)), ranges)
            if (k + (tear == "erase")) % 3 == 0:
                restore_unit(unit.url, journal_dir=journal, connect_attempts=1)
                assert unit.read(0, len(unit.flash)) == original, (k, tear)


def test_cut_while_reading_writes_nothing(virtual_esp32: Start, tmp_path: Path) -> None:
    unit = virtual_esp32("esp32")
    load_mongoose(unit)
    original = unit.read(0, len(unit.flash))
    unit.arm_cut(bytes_in=9_000)  # just after connecting: during the reads, before any write
    with pytest.raises(FlashError, match="link lost while reading"):
        run(unit, "mongoose-os-esp32", tmp_path)
    assert unit.stats.sectors_erased == 0 and unit.read(0, len(unit.flash)) == original
    assert not list(tmp_path.rglob("*.json"))
    run(unit, "mongoose-os-esp32", tmp_path)
    assert_complete(original, unit.read(0, len(unit.flash)), LAYOUTS["mongoose-os-esp32"][1])


def test_cut_again_while_finishing_then_finish(virtual_esp32: Start, tmp_path: Path) -> None:
    unit = virtual_esp32("esp32")
    load_arduino(unit)
    original = unit.read(0, len(unit.flash))
    unit.arm_cut(sector_writes=1)
    with pytest.raises(FlashError):
        run(unit, "mdash-arduino", tmp_path)
    unit.arm_cut(sector_writes=1, tear="erase")
    with pytest.raises(FlashError, match="finishing the interrupted update stopped"):
        run(unit, "mdash-arduino", tmp_path)
    result = run(unit, "mdash-arduino", tmp_path)
    assert [r.action for r in result.resumed] == ["finished"]  # type: ignore[attr-defined]
    assert_complete(original, unit.read(0, len(unit.flash)), LAYOUTS["mdash-arduino"][1])


def test_interrupted_update_then_the_file_system_changed_is_left_alone(
    virtual_esp32: Start, tmp_path: Path
) -> None:
    """Firmware that ran (and wrote) between the cut and the rerun makes the journal
    stale: nothing is written from it, restore refuses without --force."""
    unit = virtual_esp32("esp32")
    load_mongoose(unit)
    unit.arm_cut(sector_writes=0, tear="erase")  # nothing but a blank sector half erased
    with pytest.raises(FlashError):
        run(unit, "mongoose-os-esp32", tmp_path)
    unit.arm_cut(sector_writes=1)
    with pytest.raises(FlashError):
        run(unit, "mongoose-os-esp32", tmp_path)  # first entry dropped, second cut
    unit.load(0x1A0000, b"\x00" * 16)  # a byte in a block the update leaves alone
    result = run(unit, "mongoose-os-esp32", tmp_path)
    assert [r.action for r in result.resumed] == ["stale"]  # type: ignore[attr-defined]
    statuses = sorted(
        p.read_text().split('"status": "')[1].split('"')[0] for p in tmp_path.rglob("*.json")
    )
    assert statuses == ["cancelled", "complete", "stale"]
    unit.load(0x1A0000, b"\x01" * 16)
    with pytest.raises(FlashError, match="changed since the update"):
        restore_unit(unit.url, journal_dir=tmp_path, connect_attempts=1)
    forced = restore_unit(unit.url, journal_dir=tmp_path, connect_attempts=1, force=True)
    assert forced.sectors_written > 0
