"""A partition that had no CA file, said on the result line and in ``--json`` and the
station log: ``flash`` says the file was created there, ``restore`` that it was removed
again (the technician's tryout: fs_0 without /ca.pem got "+ISRG ..., -DST Root CA X3"
and its restore "+DST Root CA X3", as if fs_0 had held the other slot's roots)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from support.layouts import load_mongoose

from esp_cabundle.cli import cli
from esp_cabundle.flash.journal import Journal
from esp_cabundle.fs import open_image
from esp_cabundle.virtual import VirtualESP32
from tests.support.flashing import NEW_CA

pytestmark = pytest.mark.timeout(600)

FS_0 = (0x190000, 0x40000)
MAC = "24:0a:c4:12:34:56"
OLD = ["ISRG Root X1", "ISRG Root X2", "DST Root CA X3"]


@pytest.fixture
def unit(virtual_esp32: object) -> VirtualESP32:
    """A Mongoose OS unit whose fs_0 holds no /ca.pem (``fs rm`` on a dump of it)."""
    u: VirtualESP32 = virtual_esp32("esp32")  # type: ignore[operator]
    load_mongoose(u)
    image = open_image(bytes(u.read(*FS_0)))
    image.remove("/ca.pem")
    u.load(FS_0[0], image.to_bytes())
    return u


def flash_args(unit: VirtualESP32, tmp_path: Path, *more: str) -> list[str]:
    ca = tmp_path / "ca.pem"
    ca.write_bytes(NEW_CA)
    args = ["flash", "-p", unit.url, "--board", "mongoose-os-esp32", "--bundle", str(ca)]
    return [*args, "--journal-dir", str(tmp_path / "j"), "--at", "2026-06-01", *more]


def restore_args(unit: VirtualESP32, tmp_path: Path, *more: str) -> list[str]:
    return ["restore", "-p", unit.url, "--journal-dir", str(tmp_path / "j"), *more]


def run(runner: CliRunner, args: list[str]) -> str:
    r = runner.invoke(cli, args)
    assert r.exit_code == 0, r.output
    return r.stdout


def test_flash_says_the_ca_file_was_created(
    unit: VirtualESP32, runner: CliRunner, tmp_path: Path
) -> None:
    dry = run(runner, flash_args(unit, tmp_path, "--dry-run"))
    assert "; fs_0: /ca.pem would be created (none before)" in dry, dry
    log = tmp_path / "station.jsonl"
    out = run(runner, flash_args(unit, tmp_path, "--json", "--log", str(log)))
    (u,) = json.loads(out)["units"]
    assert u["roots_before"] == ["fs_0: no CA file"] + [f"fs_1: {n}" for n in OLD]
    assert u["ca_before"][0] == "fs_0:none" and len(u["ca_before"]) == 4
    (rec,) = (json.loads(line) for line in log.read_text().splitlines())
    assert rec["roots_before"] == u["roots_before"] and rec["ca_before"] == u["ca_before"]
    (entry,) = Journal(tmp_path / "j").entries(MAC)
    assert [p.ca_created for p in entry.partitions] == [True, False]


def test_the_line_says_created_and_restore_says_removed(
    unit: VirtualESP32, runner: CliRunner, tmp_path: Path
) -> None:
    original = unit.read(0, len(unit.flash))
    line = run(runner, flash_args(unit, tmp_path)).strip().splitlines()[-1]
    assert line.startswith("OK") and line.endswith("; fs_0: /ca.pem created (none before)")
    dry = run(runner, restore_args(unit, tmp_path, "--dry-run", "--verbose"))
    assert "; fs_0: CA file would be removed (none before the update)" in dry, dry
    out = run(runner, restore_args(unit, tmp_path, "--json"))
    (u,) = json.loads(out)["units"]
    assert u["roots_back"] == ["fs_0: no CA file"] + [f"fs_1: {n}" for n in OLD]
    assert unit.read(0, len(unit.flash)) == original
    assert not open_image(bytes(unit.read(*FS_0))).exists("/ca.pem")


def test_restore_line_says_removed(unit: VirtualESP32, runner: CliRunner, tmp_path: Path) -> None:
    run(runner, flash_args(unit, tmp_path))
    line = run(runner, restore_args(unit, tmp_path)).strip().splitlines()[-1]
    assert line.startswith("OK") and line.endswith(
        "; fs_0: CA file removed (none before the update)"
    )


def test_an_entry_whose_ca_created_is_not_a_bool_is_refused_writing_nothing(
    unit: VirtualESP32, runner: CliRunner, tmp_path: Path
) -> None:
    run(runner, flash_args(unit, tmp_path))
    (entry,) = Journal(tmp_path / "j").entries(MAC)
    assert entry.path is not None
    obj = json.loads(entry.path.read_text())
    obj["partitions"][0]["ca_created"] = "yes"
    entry.path.write_text(json.dumps(obj))
    before = unit.read(0, len(unit.flash))
    erased = unit.stats.sectors_erased
    r = runner.invoke(cli, restore_args(unit, tmp_path))
    assert r.exit_code == 2, r.output
    assert "ca_created of partition 'fs_0' is 'yes', not true or false" in r.output
    assert unit.stats.sectors_erased == erased
    assert unit.read(0, len(unit.flash)) == before
