"""Station-log records keep every fact known when a unit fails, stops or resumes: the
roots before (from the journal when an interrupted update is finished), the sectors
written before a link was cut, what each partition holds when partly applied."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from support.layouts import load_mongoose

from esp_cabundle.cli import cli
from esp_cabundle.errors import EspCabundleError
from esp_cabundle.flash.base import Message
from esp_cabundle.flash.interrupt import Cancel
from esp_cabundle.flash.journal import Journal
from esp_cabundle.flash.station import UnitOutcome, flash_log_record
from esp_cabundle.fs import open_image
from esp_cabundle.virtual import VirtualESP32
from tests.support import dumps
from tests.support.flashing import MONGOOSE, NEW_CA, flash_mongoose
from tests.support.gated import canonical, gated

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
    assert cut["result"] == "failed" and "stopped after 1 of 6 sectors" in cut["error"]
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


def test_finishing_an_interrupted_update_of_another_ca_says_so_and_logs_the_unit_as_found(
    unit: VirtualESP32, runner: CliRunner, tmp_path: Path
) -> None:
    """An update stopped part-way (fs_0 holding its CA, fs_1 the old one), then the unit
    flashed with another CA: it is finished first (so restore can undo one, then the
    other), and the dry run, the line and the log say so, naming both CAs."""
    before_any = unit.read(0, len(unit.flash))
    stopped = record(unit, tmp_path, **cancel_on("(4 of 6)"))
    assert "fs_0 new, fs_1 old" in stopped["error"]
    other_pem = canonical(dumps.pem("isrgrootx1.pem"))
    other = tmp_path / "other.pem"
    other.write_bytes(other_pem)
    interrupted_sha = gated(NEW_CA, "mongoose-os-esp32").sha256
    other_sha = gated(other_pem, "mongoose-os-esp32").sha256
    args = ["flash", "-p", unit.url, "--board", "mongoose-os-esp32", "--bundle", str(other)]
    args += ["--journal-dir", str(tmp_path), "--at", "2026-06-01"]
    before = unit.read(0, len(unit.flash))
    dry = runner.invoke(cli, [*args, "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert unit.read(0, len(unit.flash)) == before
    assert "an interrupted update of another CA (SHA-256 " + interrupted_sha[:12] in dry.stdout
    assert "3 CAs (2 roots, 1 intermediate): ISRG Root X1, ISRG Root X2, R10" in dry.stdout
    assert f"this one SHA-256 {other_sha[:12]}, 1 root: ISRG Root X1" in dry.stdout
    log = tmp_path / "station.jsonl"
    r = runner.invoke(cli, [*args, "--log", str(log)])
    assert r.exit_code == 0, r.output
    assert r.stdout.startswith("OK ")
    assert f"finished the interrupted update of another CA (SHA-256 {interrupted_sha[:12]}" in (
        r.stdout
    )
    assert f"this one SHA-256 {other_sha[:12]}" in r.stdout and "-R10" in r.stdout
    (rec,) = (json.loads(line) for line in log.read_text().splitlines())
    assert rec["result"] == "resumed" and rec["bundle_sha256"] == other_sha
    assert rec["roots_before"] == [f"fs_0: {n}" for n in NEW_ROOTS] + [
        f"fs_1: {n}" for n in OLD_ROOTS
    ]
    assert rec["ca_before"][0].startswith("fs_0:") and len(rec["ca_before"]) == 6
    assert rec["roots_after"] == ["ISRG Root X1"]
    for start, end in MONGOOSE:
        assert open_image(unit.read(start, end - start)).read("/ca.pem") == other_pem
    # what was written is unchanged: the interrupted update finished, then this one
    entries = Journal(tmp_path).entries("24:0a:c4:12:34:56")
    assert [(e.ca_sha256, e.status) for e in entries] == [
        (interrupted_sha, "complete"),
        (other_sha, "complete"),
    ]
    # so restore undoes this run, then the interrupted one, each landing on a whole unit
    for ca in (NEW_CA, None):
        back = runner.invoke(cli, ["restore", "-p", unit.url, "--journal-dir", str(tmp_path)])
        assert back.exit_code == 0, back.output
        if ca is not None:
            for start, end in MONGOOSE:
                assert open_image(unit.read(start, end - start)).read("/ca.pem") == ca
    assert unit.read(0, len(unit.flash)) == before_any
