"""A CA update of a nearly full 1408 KiB SPIFFS partition (tests/support/spiffs_full.py)
whose garbage-collected plan has cut points that may not mount: ``flash`` warns before
its first write, in its default output (not only --verbose's order), and --json says it
per partition (README: "warns on stderr before its first write")."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

from esp_cabundle.boards import load_board
from esp_cabundle.cli import cli
from esp_cabundle.flash.base import Message, ProgressEvent
from esp_cabundle.flash.flasher import flash_unit
from esp_cabundle.virtual import VirtualESP32
from tests.support import dumps
from tests.support.flashing import NEW_CA
from tests.support.gated import gated
from tests.support.spiffs_full import ROOTS, ca, nearly_full

BOARD = "mdash-arduino"  # esp-idf SPIFFS in the Arduino table's 1408 KiB 'spiffs'
OFFSET, SIZE = 0x290000, 0x160000
# ISRG Root X1 and X2 with R10 (mdash.net's gate passes) and Let's Encrypt's 2024
# intermediates: 18 certificates, more than the partition's 8 hold without collection
NEW = NEW_CA + b"".join(p.read_bytes() for p in ROOTS if p.name.startswith("2024-"))
# every point between the plan's 42 sector writes (its order says the same)
SAID = "a cut between any two of its 42 sector writes may leave a partition that does not mount"
KEEP = "keep the unit powered and in its bootloader until this update finishes"


@pytest.fixture(autouse=True)
def _no_home_journal(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ESP_CABUNDLE_JOURNAL", str(tmp_path / "default-journal"))


def full_unit(start: Callable[..., VirtualESP32]) -> VirtualESP32:
    """A unit whose 'spiffs' holds 8 of the roots, 400 small files, a big one."""
    flash = bytearray(b"\xff" * dumps.FLASH_4M)
    table = dumps.table("arduino-default")
    flash[0x8000 : 0x8000 + len(table)] = table
    flash[OFFSET : OFFSET + SIZE] = nearly_full("esp-idf", ca(8), 600, 3, 1002144)
    unit = start("esp32")
    unit.load(0, bytes(flash))
    return unit


@pytest.mark.one_python  # plans a nearly full partition three times: on the primary only
def test_cut_points_that_may_not_mount_are_warned_of_before_the_first_write(
    virtual_esp32: Callable[..., VirtualESP32], tmp_path: Path
) -> None:
    unit = full_unit(virtual_esp32)
    bundle = tmp_path / "new.pem"
    bundle.write_bytes(NEW)
    argv = ["flash", "--port", unit.url, "--board", BOARD, "--bundle", str(bundle)]
    argv += ["--journal-dir", str(tmp_path / "j"), "--at", "2026-06-01", "--dry-run"]

    # the default output: the warning on stderr, no --verbose needed
    r = CliRunner().invoke(cli, argv)
    assert r.exit_code == 0, r.output
    (warning,) = [x for x in r.stderr.splitlines() if ": warning: " in x]
    assert warning.startswith(f"{unit.url}: warning: partition 'spiffs' is nearly full")
    assert SAID in warning and KEEP in warning and "restore" in warning

    # --json: the count and the words, per partition
    r = CliRunner().invoke(cli, [*argv, "--json"])
    assert r.exit_code == 0, r.output
    (part,) = json.loads(r.stdout)["units"][0]["partitions"]
    assert part["unsafe_cuts"] == 41 and SAID in part["warning"]
    assert "a cut between any two of its 42 sector writes" in part["order"]

    # and it is said before the first sector is erased
    erased_when_warned: list[int] = []

    def progress(event: ProgressEvent) -> None:
        if isinstance(event, Message) and event.level == "warning":
            erased_when_warned.append(unit.stats.sectors_erased)

    result = flash_unit(
        unit.url,
        load_board(BOARD),
        gated(NEW, BOARD),
        journal_dir=tmp_path / "j",
        connect_attempts=1,
        progress=progress,
    )
    assert result.status == "updated"
    assert erased_when_warned == [0] and unit.stats.sectors_erased >= 42
