"""``flash --board mdash-arduino`` on a plain Arduino SPIFFS unit: the unit's partition
table is Arduino-ESP32 2.x's, not the board's layout, and no /mdash.cfg marks it as
mDash. It fits by partition name, so flash goes on (an mDash unit not yet provisioned
holds no mdash.cfg either), but it says, before writing, that the unit may not run mDash
and names the boards that fit; a unit holding /mdash.cfg gets no such warning."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

from esp_cabundle.cli import cli
from esp_cabundle.fs.spiffs import build_spiffs_image
from esp_cabundle.virtual import VirtualESP32
from tests.support import dumps
from tests.support.flashing import NEW_CA
from tests.support.spiffs_full import ca

OFFSET, SIZE = 0x290000, 0x160000  # Arduino-ESP32 2.x's default table: spiffs
SAID = (
    "warning: partition 'spiffs' holds no /mdash.cfg, which mDash keeps there, and the "
    "unit's partition table is not board mdash-arduino's (spiffs at 0x290000, 0x160000 "
    "bytes; the board's layout has it at 0x291000, 0x16f000 bytes): the unit may not run "
    "mDash"
)


@pytest.fixture(autouse=True)
def _no_home_journal(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ESP_CABUNDLE_JOURNAL", str(tmp_path / "default-journal"))


def flash_holding(*files: str) -> bytes:
    flash = bytearray(b"\xff" * dumps.FLASH_4M)
    table = dumps.table("arduino-default")
    flash[0x8000 : 0x8000 + len(table)] = table
    held = [("ca.pem", ca(3)), *((name, b"x" * 40) for name in files)]
    flash[OFFSET : OFFSET + SIZE] = build_spiffs_image(held, size=SIZE, profile="esp-idf")
    return bytes(flash)


def unit_holding(start: Callable[..., VirtualESP32], *files: str) -> VirtualESP32:
    unit = start("esp32")
    unit.load(0, flash_holding(*files))
    return unit


def flash_argv(unit: VirtualESP32, tmp_path: Path) -> list[str]:
    bundle = tmp_path / "new.pem"
    bundle.write_bytes(NEW_CA)
    return [
        *("flash", "--port", unit.url, "--board", "mdash-arduino", "--bundle", str(bundle)),
        *("--journal-dir", str(tmp_path / "j"), "--at", "2026-06-01"),
    ]


def test_a_plain_arduino_unit_flashed_as_mdash_is_warned_of(
    virtual_esp32: Callable[..., VirtualESP32], tmp_path: Path
) -> None:
    unit = unit_holding(virtual_esp32, "config.json")
    argv = flash_argv(unit, tmp_path)

    r = CliRunner().invoke(cli, [*argv, "--json", "--dry-run"])  # a dry run says it too
    assert r.exit_code == 0, r.output
    (note,) = [n for n in json.loads(r.stdout)["units"][0]["notes"] if "/mdash.cfg" in n]
    assert SAID.removeprefix("warning: ") in note

    r = CliRunner().invoke(cli, argv)  # the default output: a warning, then the update
    assert r.exit_code == 0, r.output
    (warning,) = [x for x in r.stderr.splitlines() if ": warning: " in x]
    assert warning.startswith(f"{unit.url}: {SAID}")
    assert warning.endswith(
        "name its board: arduino-esp32-spiffs or esp-idf-spiffs or platformio-esp32-spiffs "
        "(esp-cabundle boards lists them)"
    )
    assert r.stdout.startswith("OK ") and "+ISRG Root X1" in r.stdout


def test_an_mdash_unit_holding_its_mdash_cfg_is_not_warned_of(
    virtual_esp32: Callable[..., VirtualESP32], tmp_path: Path
) -> None:
    unit = unit_holding(virtual_esp32, "mdash.cfg")
    r = CliRunner().invoke(cli, [*flash_argv(unit, tmp_path), "--dry-run"])
    assert r.exit_code == 0, r.output
    assert "warning" not in r.stderr and r.stdout.startswith("DRY RUN ")


def test_inspect_of_that_unit_and_its_dump_says_so_too(
    virtual_esp32: Callable[..., VirtualESP32], tmp_path: Path
) -> None:
    """inspect --port and inspect DUMP with --board mdash-arduino said nothing where flash
    warned: the same note now, from the same rule."""
    unit = unit_holding(virtual_esp32, "config.json")
    dump = tmp_path / "dump.bin"
    dump.write_bytes(flash_holding("config.json"))  # the same unit's flash, dumped
    for where in (["--port", unit.url], [str(dump)]):
        r = CliRunner().invoke(cli, ["inspect", *where, "--board", "mdash-arduino", "--json"])
        assert r.exit_code == 0, r.output
        (note,) = [n for n in json.loads(r.stdout)["reports"][0]["notes"] if "/mdash.cfg" in n]
        assert SAID.removeprefix("warning: ") in note


def test_inspect_of_an_mdash_unit_holding_its_mdash_cfg_says_nothing_of_it(
    virtual_esp32: Callable[..., VirtualESP32],
) -> None:
    unit = unit_holding(virtual_esp32, "mdash.cfg")
    r = CliRunner().invoke(cli, ["inspect", "--port", unit.url, "--board", "mdash-arduino"])
    assert r.exit_code == 0, r.output
    assert "holds no /mdash.cfg" not in r.output
