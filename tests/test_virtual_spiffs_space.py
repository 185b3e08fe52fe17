"""A virtual Mongoose OS unit on SPIFFS reports its free space in ``Sys.GetInfo`` as a
real one does (``vfs-fs-spiffs`` ``mgos_vfs_fs_spiffs.c``: ``SPIFFS_info``'s ``total``
and ``total - used``); it reported none, so a rehearsal could never show a push's room
check on a SPIFFS unit ("unknown: the unit does not report its free space")."""

from __future__ import annotations

import json
import shlex
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from support.fleet import ca_bytes, write_ca
from support.fleet_links import started

from esp_cabundle.boards import load_board
from esp_cabundle.cli import cli
from esp_cabundle.fs import open_image
from esp_cabundle.virtual.boards import board_fs_image
from esp_cabundle.virtual.rpc import MongooseUnit
from esp_cabundle.virtual.rpc_links import LanUnitServer

BOARD = "mongoose-os-esp32-spiffs"
# The board's SPIFFS (mongoose-os profile): 256-byte pages of 251 data bytes, 4 KiB
# blocks of 16 pages, one of them the lookup page.
DATA_LEN, ENTRIES = 256 - 5, 16 - 1


@pytest.fixture
def lan() -> Iterator[Any]:
    with started(LanUnitServer) as start:
        yield start


def spiffs_unit(uid: str, size: int = 0x40000, *, filler: int = 0) -> MongooseUnit:
    image = open_image(board_fs_image(load_board(BOARD), size))
    if filler:
        image.write("/filler.bin", b"\xa5" * filler)
    return MongooseUnit(uid, open_image(image.to_bytes()))


def dry_run(tmp_path: Path, url: str) -> dict[str, Any]:
    ca = write_ca(tmp_path)
    line = f"push --rpc {url} --board {BOARD} --bundle {ca} --allow unjudged --dry-run --json"
    r = CliRunner().invoke(cli, [*shlex.split(line), "--ledger", str(tmp_path / "c.db")])
    if r.exception and not isinstance(r.exception, SystemExit):
        raise r.exception
    doc = json.loads(r.stdout)
    assert isinstance(doc, dict), doc
    return doc


def test_the_unit_reports_spiffs_info_total_and_free() -> None:
    unit = spiffs_unit("dev-s")
    info = unit.dispatch("Sys.GetInfo", {})
    blocks = 0x40000 // 4096
    # SPIFFS_info: (blocks - 2 spares) * data pages per block + 1 emergency page
    assert info["fs_size"] == ((blocks - 2) * ENTRIES + 1) * DATA_LEN
    used = info["fs_size"] - info["fs_free"]
    assert 0 < used < 16 * DATA_LEN and used % DATA_LEN == 0, info  # a few files' pages
    unit.image.write("/more.bin", b"x" * 1000)  # 4 data pages and an index page more
    assert unit.dispatch("Sys.GetInfo", {})["fs_free"] == info["fs_free"] - 5 * DATA_LEN


def test_a_dry_run_says_the_file_fits(lan: Any, tmp_path: Path) -> None:
    url = lan(spiffs_unit("dev-s")).http_url
    (row,) = dry_run(tmp_path, url)["units"]
    assert row["room"].startswith("fits (ca.pem.new needs "), row


def test_a_dry_run_says_a_full_unit_would_fail(lan: Any, tmp_path: Path) -> None:
    unit = spiffs_unit("dev-f", 0x10000, filler=(14 * ENTRIES - 30) * DATA_LEN)  # 16 blocks
    assert unit.dispatch("Sys.GetInfo", {})["fs_free"] < len(ca_bytes())  # as meant
    url = lan(unit).http_url
    doc = dry_run(tmp_path, url)
    (row,) = doc["units"]
    assert row["state"] == "failed" and row["room"].startswith("no room (ca.pem.new needs"), row
    assert row["error"].startswith("would fail: no room"), row
