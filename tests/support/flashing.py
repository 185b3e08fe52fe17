"""Flashing a virtual Mongoose OS unit with the new CA most flash tests use."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from esp_cabundle.boards import load_board
from esp_cabundle.flash.dump import DumpFile
from esp_cabundle.flash.flasher import FlashResult, flash_ca, flash_unit
from esp_cabundle.flash.interrupt import Cancel, UnitInterrupted
from esp_cabundle.flash.journal import Journal, JournalEntry
from esp_cabundle.flash.restore import restore_flash
from esp_cabundle.fs import open_image
from esp_cabundle.spelling import Spelling
from esp_cabundle.virtual import VirtualESP32
from tests.support import dumps
from tests.support.gated import canonical, gated

# As the gate writes it: ISRG Root X1 and X2, and the R10 intermediate.
NEW_CA = canonical(
    dumps.pem("isrgrootx1.pem") + dumps.pem("isrg-root-x2.pem") + dumps.pem("2024-r10.pem")
)
# The file-system partitions of the two layouts (tests/support/layouts.py): Mongoose OS's
# fs_0 and fs_1, Arduino's spiffs.
MONGOOSE = [(0x190000, 0x1D0000), (0x350000, 0x390000)]
ARDUINO = [(0x290000, 0x3F0000)]


def files(flash: bytes, start: int, end: int) -> dict[str, bytes]:
    """Every file of the file system in ``flash[start:end]``, by path."""
    image = open_image(flash[start:end])
    return {f.path: image.read(f.path) for f in image.files()}


def assert_updated(before: bytes, after: bytes, ranges: list[tuple[int, int]]) -> None:
    """The CA file is :data:`NEW_CA` in every range, every other file and byte as it was."""
    assert dumps.outside_equal(before, after, ranges)
    for start, end in ranges:
        old, new = files(before, start, end), files(after, start, end)
        assert new.pop("/ca.pem") == NEW_CA
        old.pop("/ca.pem")
        assert new == old


def sector_states(unit: VirtualESP32, entry: JournalEntry) -> list[str]:
    """Each journaled sector as the unit holds it: "new", "old", or "torn" (neither)."""
    out = []
    for s in entry.sectors:
        now = unit.read(s.offset, len(s.new))
        out.append("new" if now == s.new else "old" if now == s.old else "torn")
    return out


def flash_mongoose(unit: VirtualESP32, journal: Path, **options: Any) -> FlashResult:
    """``flash_unit`` on ``unit`` for board mongoose-os-esp32 with :data:`NEW_CA`, one
    connect attempt; ``options`` (progress, cancel, dry_run...) pass through."""
    return flash_unit(
        unit.url,
        load_board("mongoose-os-esp32"),
        gated(NEW_CA, "mongoose-os-esp32"),
        journal_dir=journal,
        connect_attempts=1,
        **options,
    )


def stopped_restore(unit: DumpFile, journal: Path, spelling: Spelling) -> UnitInterrupted:
    """``unit`` (a Mongoose OS dump) flashed with :data:`NEW_CA`, then its restore
    stopped before its first write (the stop requested up front): what it raised."""
    board = "mongoose-os-esp32"
    mac = "aa:bb:cc:dd:ee:ff"
    flash_ca(unit, load_board(board), gated(NEW_CA, board), mac=mac, journal=Journal(journal))
    cancel = Cancel()
    cancel.request("test")
    with pytest.raises(UnitInterrupted) as e:
        restore_flash(unit, mac=mac, journal=Journal(journal), cancel=cancel, spelling=spelling)
    return e.value
