"""A partition that does not mount on a unit over serial: the eFuses are read once for
the hint, and a failure to read them (link lost) does not replace the mount failure."""

from __future__ import annotations

from esp_cabundle.blocks import FlashCache
from esp_cabundle.boards import load_board
from esp_cabundle.errors import FlashError, ImageError
from esp_cabundle.flash import plan
from esp_cabundle.flash.serial import SerialUnit
from esp_cabundle.partitions import Partition, PartitionTable
from esp_cabundle.spelling import PYTHON


class _Unit(SerialUnit):
    """A unit over serial whose eFuse read fails, or counts its reads."""

    def __init__(self, fails: bool) -> None:  # no port: nothing here touches one
        self.fails = fails
        self.reads = 0

    def security(self):  # type: ignore[no-untyped-def]
        self.reads += 1
        if self.fails:
            raise FlashError("/dev/ttyUSB0: link lost while reading the security eFuses")
        return type("S", (), {"flash_encryption": True})()


def _failure(unit: _Unit, *, flagged: bool = True) -> ImageError:
    board = load_board("arduino-esp32-spiffs")
    p = Partition("spiffs", 1, 0x82, 0x290000, 0x160000, encrypted=flagged)
    table = PartitionTable((p,))
    return plan._mount_failure(p, board, table, FlashCache(unit), ImageError("bad magic"), PYTHON)


def test_failing_efuse_read_keeps_the_mount_failure() -> None:
    e = _failure(_Unit(fails=True))
    assert "does not mount as spiffs" in e.message
    assert e.hint and "spiffs" in e.hint


def test_efuses_are_read_once() -> None:
    unit = _Unit(fails=False)
    e = _failure(unit, flagged=False)  # the eFuses alone decide the hint
    assert "does not mount" in e.message
    assert unit.reads == 1
    assert e.hint and "flash encryption is on" in e.hint
