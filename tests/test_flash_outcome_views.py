"""A flashed unit's details (``flash --verbose``) and JSON take what is known of its
run from the one place the station log does: a write that failed part-way carries its
result too (not only an interrupt), and a unit stopped before it started reads
"interrupted" in both the JSON's status and its log result."""

from __future__ import annotations

from datetime import datetime, timezone

from esp_cabundle.commands._plan_view import flash_dict, outcome_detail_lines
from esp_cabundle.errors import Interrupted
from esp_cabundle.flash.flasher import FlashResult
from esp_cabundle.flash.station import UnitOutcome
from esp_cabundle.flash.writer import WriteFailed

_STARTED = datetime(2026, 1, 2, tzinfo=timezone.utc)


def _failed_write() -> UnitOutcome[FlashResult]:
    result = FlashResult(
        "/dev/ttyUSB0", "24:0a:c4:00:00:01", "ESP32", "mdash", "updated", None, sectors_written=3
    )
    error = WriteFailed("/dev/ttyUSB0: link lost while writing", written=3)
    error.result = result
    return UnitOutcome("/dev/ttyUSB0", None, error, _STARTED, 0.5)


def test_failed_write_shows_its_details_and_json() -> None:
    o = _failed_write()
    assert outcome_detail_lines(o)[0] == "ESP32 MAC 24:0a:c4:00:00:01, board mdash"
    doc = flash_dict(o)
    assert (doc["status"], doc["result"]) == ("failed", "failed")
    assert doc["sectors_written"] == 3 and doc["mac"] == "24:0a:c4:00:00:01"


def test_interrupted_before_the_unit_is_interrupted_in_json() -> None:
    o: UnitOutcome[FlashResult] = UnitOutcome(
        "/dev/ttyUSB1", None, Interrupted("stopped before this unit"), _STARTED, 0.0
    )
    doc = flash_dict(o)
    assert (doc["status"], doc["result"]) == ("interrupted", "interrupted")
    assert outcome_detail_lines(o) == []
