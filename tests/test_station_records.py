"""Station-log records keep every fact known when a unit fails, stops or resumes: the
roots before (from the journal when an interrupted update is finished), the sectors
written before a link was cut, what each partition holds when partly applied."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from support.layouts import load_mongoose

from esp_cabundle.errors import EspCabundleError
from esp_cabundle.flash.base import Message
from esp_cabundle.flash.interrupt import Cancel
from esp_cabundle.flash.station import UnitOutcome, flash_log_record
from esp_cabundle.virtual import VirtualESP32
from tests.support.flashing import NEW_CA, flash_mongoose
from tests.support.gated import gated

Start = Callable[..., VirtualESP32]
OLD_ROOTS = ["ISRG Root X1", "ISRG Root X2", "DST Root CA X3"]
NEW_ROOTS = ["ISRG Root X1", "ISRG Root X2", "R10"]


def record(unit: VirtualESP32, journal: Path, **options: Any) -> dict[str, Any]:
    """Flash ``unit``; the station-log record of its outcome, success or not."""
    started = datetime.now(timezone.utc)
    try:
        result, error = flash_mongoose(unit, journal, **options), None
    except EspCabundleError as e:
        result, error = None, e
    outcome = UnitOutcome(unit.url, result, error, started, 0.1)
    return flash_log_record(outcome, "mongoose-os-esp32", gated(NEW_CA, "mongoose-os-esp32"))


def cancel_on(text: str) -> dict[str, Any]:
    """Options that request a stop when a progress message holding ``text`` is said."""
    cancel = Cancel()

    def progress(event: object) -> None:
        if isinstance(event, Message) and text in event.text:
            cancel.request("test")

    return {"cancel": cancel, "progress": progress}


@pytest.fixture
def unit(virtual_esp32: Start) -> VirtualESP32:
    unit = virtual_esp32("esp32")
    load_mongoose(unit)
    return unit


def test_a_cut_link_keeps_sectors_and_roots_and_the_rerun_logs_the_old_roots(
    unit: VirtualESP32, tmp_path: Path
) -> None:
    unit.arm_cut(sector_writes=1)
    cut = record(unit, tmp_path)
    assert cut["result"] == "failed" and "stopped after 1 of 6 sector(s)" in cut["error"]
    assert cut["sectors_written"] == 1 and cut["bytes_written"] == 4096
    assert cut["roots_before"] == OLD_ROOTS and len(cut["ca_before"]) == 3
    assert cut["partitions"] == ["fs_0", "fs_1"] and cut["mac"] == "24:0a:c4:12:34:56"
    resumed = record(unit, tmp_path)
    assert resumed["result"] == "resumed"
    assert resumed["roots_before"] == OLD_ROOTS and resumed["ca_before"] == cut["ca_before"]
    assert resumed["roots_after"] == NEW_ROOTS


def test_a_partly_applied_stop_logs_each_partitions_roots(
    unit: VirtualESP32, tmp_path: Path
) -> None:
    stopped = record(unit, tmp_path, **cancel_on("(4 of 6)"))
    assert stopped["result"] == "interrupted" and "fs_0 new, fs_1 old" in stopped["error"]
    assert stopped["roots_after"] == [f"fs_0: {n}" for n in NEW_ROOTS] + [
        f"fs_1: {n}" for n in OLD_ROOTS
    ]
    assert len(stopped["ca_after"]) == 6 and stopped["ca_after"][0].startswith("fs_0:")


def test_a_stop_after_reading_before_writing_logs_the_roots(
    unit: VirtualESP32, tmp_path: Path
) -> None:
    stopped = record(unit, tmp_path, **cancel_on("opening partition 'fs_0'"))
    assert stopped["result"] == "interrupted" and stopped["sectors_written"] == 0
    assert stopped["mac"] == "24:0a:c4:12:34:56"
    assert stopped["roots_before"] == OLD_ROOTS and stopped["roots_after"] == OLD_ROOTS
