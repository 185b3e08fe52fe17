"""A virtual Mongoose OS unit on SPIFFS reports its free space in ``Sys.GetInfo`` as a
real one does (``vfs-fs-spiffs`` ``mgos_vfs_fs_spiffs.c``: ``SPIFFS_info``'s ``total``
and ``total - used``); it reported none, so a rehearsal could never show a push's room
check on a SPIFFS unit ("unknown: the unit does not report its free space")."""

from __future__ import annotations

import gzip
import json
import shlex
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from support.fleet import ca_bytes, write_ca
from support.fleet_links import started
from support.gated import gated

from esp_cabundle.boards import load_board
from esp_cabundle.cli import cli
from esp_cabundle.fs import open_image
from esp_cabundle.push.campaign_types import PushFile
from esp_cabundle.push.files import UnitInfo
from esp_cabundle.push.room import room_for
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


def push_run(tmp_path: Path, url: str, *extra: str) -> tuple[int, str]:
    ca = write_ca(tmp_path)
    line = f"push --rpc {url} --board {BOARD} --bundle {ca} --allow unjudged"
    argv = [*shlex.split(line), "--ledger", str(tmp_path / "c.db"), *extra]
    r = CliRunner().invoke(cli, argv)
    if r.exception and not isinstance(r.exception, SystemExit):
        raise r.exception
    return r.exit_code, r.stdout + r.stderr


def test_a_dry_run_does_not_promise_room_spiffs_may_keep(lan: Any, tmp_path: Path) -> None:
    """A nearly full SPIFFS reports 12,048 bytes free for a 6,054-byte ca.pem.new, yet
    refuses it: SPIFFS counts its deleted pages free (FS.Put's appends leave many) and
    its clean-up keeps a block. The dry run said "fits" and the push then failed out of
    space; it now says "may fit" with why, and the unit is one it cannot promise."""
    unit = spiffs_unit("dev-n", 0x10000, filler=151 * DATA_LEN)  # 16 blocks
    info = unit.dispatch("Sys.GetInfo", {})
    need = len(ca_bytes())
    assert need <= info["fs_free"] < need + info["fs_size"] // 4, info  # as meant
    url = lan(unit).http_url
    (row,) = dry_run(tmp_path, url)["units"]
    assert row["state"] == "would-write", row
    assert row["room"] == (
        f"may fit (ca.pem.new needs {need:,} bytes, the unit has {info['fs_free']:,} bytes "
        f"free, which SPIFFS may keep for its clean-up and file records: up to a quarter "
        f"of its {info['fs_size']:,} bytes)"
    ), row
    code, out = push_run(tmp_path, url, "--dry-run")
    assert "a push would finish every unit if the 1 unit whose room" in " ".join(out.split())
    before = unit.files()["/ca.pem"]
    code, out = push_run(tmp_path, url)  # what the dry run no longer promises
    assert code == 3 and "out of space on the unit writing ca.pem.new" in out, out
    assert unit.files()["/ca.pem"] == before


def test_room_is_promised_where_the_margin_is_clearly_enough() -> None:
    """A file "fits" where the free bytes exceed it by more than SPIFFS may keep (a
    quarter of its size), and on LittleFS, whose free blocks a file may take; a SPIFFS
    that does not report its size is promised nothing."""

    spiffs = PushFile(gated(ca_bytes(), BOARD))
    littlefs = PushFile(gated(ca_bytes(), "mongoose-os-esp32"))
    need, size = len(ca_bytes()), 52_961
    for free in (need, need + size // 4 - 1):
        fits, words = room_for(spiffs, None, free, in_place=False, size=size)
        assert fits is None and words.startswith("may fit (ca.pem.new needs"), words
        assert room_for(littlefs, None, free, in_place=False, size=size)[0] is True
    fits, words = room_for(spiffs, None, need + size // 4, in_place=True, size=size)
    assert fits is True and words.startswith("fits (ca.pem needs"), words
    fits, words = room_for(spiffs, None, 10 * need, in_place=False)
    assert fits is None and "SPIFFS keeps part" in words and "not report its size" in words
    fits, words = room_for(spiffs, None, need + 30_000, in_place=False, size=1 << 17)
    assert fits is None and "SPIFFS may keep up to 32,768 bytes for its" in words, words


def _full_spiffsgen_unit(uid: str) -> MongooseUnit:
    """A unit whose SPIFFS spiffsgen filled into the two spare blocks (SPIFFS_info's used
    7,279 bytes over its total)."""
    vector = Path(__file__).parent / "data" / "spiffs" / "spiffsgen" / "full-64k"
    return MongooseUnit(
        uid, open_image(gzip.decompress((vector / "spiffsgen.bin.gz").read_bytes()))
    )


def test_a_spiffs_past_its_spare_blocks_reports_free_space_wrapped() -> None:
    """vfs-fs-spiffs's get_space_free returns total - used in u32_t and mgos_rpc.c prints
    it with %u: below zero, a real unit reports 2**32 less the shortfall. The virtual one
    reported -7,279, which no Mongoose OS unit sends."""
    info = _full_spiffsgen_unit("dev-w").dispatch("Sys.GetInfo", {})
    assert info["fs_size"] == 52_961 and info["fs_free"] == (1 << 32) - 7_279, info


def test_free_space_reported_above_the_size_is_not_room(lan: Any, tmp_path: Path) -> None:
    """Read as a count, the wrapped figure promised room ("fits": 4,294,960,017 bytes
    free) on a unit with none; a free figure above fs_size cannot be told from, so the
    dry run says unknown, and why."""
    info = UnitInfo.from_result({"fs_size": 52_961, "fs_free": (1 << 32) - 7_279})
    assert info.fs_size == 52_961 and info.fs_free is None
    url = lan(_full_spiffsgen_unit("dev-w")).http_url
    (row,) = dry_run(tmp_path, url)["units"]
    assert row["room"] == (
        "unknown: the free space the unit reports is not within its file system's 52,961 "
        "bytes (a SPIFFS full into its spare blocks wraps total - used past zero; writing "
        "ca.pem.new)"
    ), row
