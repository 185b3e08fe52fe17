"""Fault injection with real esptool: the link cut at every sector-write boundary of an
update, tearing that sector (half programmed, or half erased). After each cut the LittleFS
unit mounts with the old or the new CA file and every other file intact; for LittleFS and
SPIFFS alike, running the same update again finishes it from the journal, and restore
brings back the original flash byte for byte."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

import pytest
from support.layouts import load_arduino, load_mongoose

from esp_cabundle.boards import load_board
from esp_cabundle.errors import FlashError
from esp_cabundle.flash.flasher import flash_unit
from esp_cabundle.flash.restore import restore_unit
from esp_cabundle.fs.littlefs import LittleFsImage
from esp_cabundle.virtual import VirtualESP32
from tests.support import dumps
from tests.support.flashing import ARDUINO, MONGOOSE, NEW_CA, assert_updated, files
from tests.support.gated import gated

Start = Callable[..., VirtualESP32]
LAYOUTS = {"mongoose-os-esp32": (load_mongoose, MONGOOSE), "mdash-arduino": (load_arduino, ARDUINO)}


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


@pytest.mark.one_python  # a sweep: on the primary only (support.shards)
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
            assert "call flash_unit again" in str(cut.value)  # a script's words
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
            assert_updated(original, unit.read(0, len(unit.flash)), ranges)
            if (k + (tear == "erase")) % 3 == 0:
                restore_unit(unit.url, journal_dir=journal, connect_attempts=1)
                assert unit.read(0, len(unit.flash)) == original, (k, tear)


def test_cut_while_reading_writes_nothing(mongoose_unit: VirtualESP32, tmp_path: Path) -> None:
    original = mongoose_unit.read(0, len(mongoose_unit.flash))
    mongoose_unit.arm_cut(
        bytes_in=9_000
    )  # just after connecting: during the reads, before any write
    with pytest.raises(FlashError, match="link lost while reading"):
        run(mongoose_unit, "mongoose-os-esp32", tmp_path)
    assert (
        mongoose_unit.stats.sectors_erased == 0
        and mongoose_unit.read(0, len(mongoose_unit.flash)) == original
    )
    assert not list(tmp_path.rglob("*.json"))
    run(mongoose_unit, "mongoose-os-esp32", tmp_path)
    assert_updated(
        original, mongoose_unit.read(0, len(mongoose_unit.flash)), LAYOUTS["mongoose-os-esp32"][1]
    )


def test_cut_again_while_finishing_then_finish(arduino_unit: VirtualESP32, tmp_path: Path) -> None:
    original = arduino_unit.read(0, len(arduino_unit.flash))
    arduino_unit.arm_cut(sector_writes=1)
    with pytest.raises(FlashError):
        run(arduino_unit, "mdash-arduino", tmp_path)
    arduino_unit.arm_cut(sector_writes=1, tear="erase")
    with pytest.raises(FlashError, match="finishing the interrupted update stopped"):
        run(arduino_unit, "mdash-arduino", tmp_path)
    result = run(arduino_unit, "mdash-arduino", tmp_path)
    assert [r.action for r in result.resumed] == ["finished"]  # type: ignore[attr-defined]
    assert_updated(
        original, arduino_unit.read(0, len(arduino_unit.flash)), LAYOUTS["mdash-arduino"][1]
    )


def test_interrupted_update_then_the_file_system_changed_is_left_alone(
    mongoose_unit: VirtualESP32, tmp_path: Path
) -> None:
    """Firmware that ran (and wrote) between the cut and the rerun makes the journal
    stale: nothing is written from it, restore refuses without --force."""
    mongoose_unit.arm_cut(sector_writes=0, tear="erase")  # nothing but a blank sector half erased
    with pytest.raises(FlashError):
        run(mongoose_unit, "mongoose-os-esp32", tmp_path)
    mongoose_unit.arm_cut(sector_writes=1)
    with pytest.raises(FlashError):
        run(mongoose_unit, "mongoose-os-esp32", tmp_path)  # first entry dropped, second cut
    mongoose_unit.load(0x1A0000, b"\x00" * 16)  # a byte in a block the update leaves alone
    result = run(mongoose_unit, "mongoose-os-esp32", tmp_path)
    assert [r.action for r in result.resumed] == ["stale"]  # type: ignore[attr-defined]
    statuses = sorted(
        p.read_text().split('"status": "')[1].split('"')[0] for p in tmp_path.rglob("*.json")
    )
    # the first entry, nothing of it written, deleted when found (as a unit stopped before
    # its first write leaves none): restore skips such an entry, it has nothing to undo
    assert statuses == ["complete", "stale"]
    mongoose_unit.load(0x1A0000, b"\x01" * 16)
    with pytest.raises(FlashError, match="changed since the update"):
        restore_unit(mongoose_unit.url, journal_dir=tmp_path, connect_attempts=1)
    forced = restore_unit(mongoose_unit.url, journal_dir=tmp_path, connect_attempts=1, force=True)
    assert forced.sectors_written > 0


def test_cut_while_hashing_says_why_and_that_nothing_was_written(
    arduino_unit: VirtualESP32, tmp_path: Path
) -> None:
    """A link lost on an MD5 while planning: the cause in the message (not in the advice),
    "nothing written", no journal entry, and the unit as it was."""
    original = arduino_unit.read(0, len(arduino_unit.flash))
    pause = arduino_unit.arm_pause(command="SPI_FLASH_MD5")

    def cut() -> None:
        assert pause.reached.wait(20)
        arduino_unit.arm_cut(bytes_out=0)
        pause.release()

    cutter = threading.Thread(target=cut, daemon=True)
    cutter.start()
    with pytest.raises(FlashError) as failed:
        run(arduino_unit, "mdash-arduino", tmp_path)
    cutter.join(5)
    e = failed.value
    assert "link lost while hashing" in e.message and "disconnected" in e.message
    assert e.message.endswith("; nothing was written, the unit is unchanged")
    assert e.hint == "check the cable and power, reconnect and run the command again"
    assert arduino_unit.read(0, len(arduino_unit.flash)) == original
    assert not list(tmp_path.rglob("*.json"))
