"""A unit stopped before its update's first sector: nothing was written, and nothing is
said to have been (``--verbose`` said "/ca.pem was being replaced"), and the journal
keeps no entry for it, whether the stop came before its entry was saved or after (the
first left none, the second a ``cancelled`` one: two such units of one run differed)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from support.layouts import load_mongoose

from esp_cabundle.cli import cli
from esp_cabundle.flash import flasher as flasher_module
from esp_cabundle.flash.journal import Journal, JournalEntry
from esp_cabundle.virtual import VirtualESP32
from tests.support.flashing import NEW_CA
from tests.test_flash_journal_unmarked import stop_requested

pytestmark = pytest.mark.timeout(600)

MAC = "24:0a:c4:12:34:56"


def stop_after_record(monkeypatch: pytest.MonkeyPatch) -> None:
    stop = stop_requested(monkeypatch)
    real = Journal.record

    def record(self: Journal, entry: JournalEntry) -> JournalEntry:
        saved = real(self, entry)
        stop()  # the entry saved, no sector written
        return saved

    monkeypatch.setattr(Journal, "record", record)


def stop_before_record(monkeypatch: pytest.MonkeyPatch) -> None:
    stop = stop_requested(monkeypatch)
    real = flasher_module.say

    def say(progress: Any, message: str, *args: Any) -> None:
        if "hashing the ranges" in message:
            stop()
        real(progress, message, *args)

    monkeypatch.setattr(flasher_module, "say", say)


@pytest.mark.parametrize("stop_at", [stop_after_record, stop_before_record])
def test_a_unit_stopped_before_writing_leaves_no_entry_and_no_false_word(
    stop_at: Callable[[pytest.MonkeyPatch], None],
    virtual_esp32: Callable[..., VirtualESP32],
    runner: CliRunner,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    unit = virtual_esp32("esp32")
    load_mongoose(unit)
    before = unit.read(0, len(unit.flash))
    ca = tmp_path / "ca.pem"
    ca.write_bytes(NEW_CA)
    journal = tmp_path / "j"
    stop_at(monkeypatch)
    args = ["flash", "-p", unit.url, "--board", "mongoose-os-esp32", "--bundle", str(ca)]
    r = runner.invoke(cli, [*args, "--journal-dir", str(journal), "--verbose"])
    assert r.exit_code == 130, r.output
    assert unit.read(0, len(unit.flash)) == before
    assert "was being replaced" not in r.output, r.output
    if stop_at is stop_after_record:  # the plan was made: its changes are listed
        assert "fs_1 (0x350000, littlefs mongoose-os, disk 2.0): /ca.pem was to be replaced" in (
            r.output
        )
    assert Journal(journal).entries(MAC) == []
    listed = runner.invoke(cli, ["journal", "list", "--journal-dir", str(journal)])
    assert listed.exit_code == 0 and MAC not in listed.output, listed.output


@pytest.mark.parametrize("stop_at", [stop_after_record, stop_before_record])
def test_a_unit_stopped_before_writing_names_no_journal_file(
    stop_at: Callable[[pytest.MonkeyPatch], None],
    virtual_esp32: Callable[..., VirtualESP32],
    runner: CliRunner,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Its entry deleted, ``--json`` still named its file as ``journal`` (and --verbose
    printed the MD5s of the ranges left alone from it): null, as for a unit stopped
    before the entry was saved."""
    unit = virtual_esp32("esp32")
    load_mongoose(unit)
    ca = tmp_path / "ca.pem"
    ca.write_bytes(NEW_CA)
    stop_at(monkeypatch)
    args = ["flash", "-p", unit.url, "--board", "mongoose-os-esp32", "--bundle", str(ca)]
    args += ["--journal-dir", str(tmp_path / "j")]
    r = runner.invoke(cli, [*args, "--json"])
    assert r.exit_code == 130, r.output
    (u,) = json.loads(r.stdout)["units"]
    assert (u["journal"], u["sectors_written"], u["journal_error"]) == (None, 0, None), u
    r = runner.invoke(cli, [*args, "--verbose"])
    assert r.exit_code == 130, r.output
    assert "ranges left alone" not in r.output, r.output
