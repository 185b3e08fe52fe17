"""A link lost after the unit acknowledged a sector write, before its MD5 read-back
answered (``arm_cut(command="SPI_FLASH_MD5")``: the write finished, the check's answer
lost): the flash says how many sectors the unit acknowledged, never that the write was
verified, and what the unit holds in the words a cut gives (the sector not read back is
not known to be whole: the stub acknowledges a block before it programs it); the journal
entry stays pending, and the same command run again finishes the update.

The smallest update of a LittleFS unit writes two sectors (a data block, then the
metadata commit that uses it; tests/test_flash_plan.py): the cut comes at the read-back
of either, the first leaving the old CA file in use, the second (every sector written and
acknowledged) the partition mid-update."""

from __future__ import annotations

import csv
import json
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

from esp_cabundle.boards import load_board
from esp_cabundle.cli import cli
from esp_cabundle.flash.journal import Journal
from esp_cabundle.virtual import VirtualESP32
from esp_cabundle.virtual.boards import board_image
from tests.support import dumps
from tests.support.flashing import files, sector_states
from tests.support.gated import canonical

Start = Callable[..., VirtualESP32]
BOARD = "arduino-esp32-littlefs"  # one LittleFS partition, 'spiffs' at 0x290000
PART = (0x290000, 0x3F0000)
CA = canonical(dumps.pem("isrgrootx1.pem"))  # a new root: data block + metadata commit
# a LittleFS partition a cut tore at a sector of the update's order (tests/test_flash_plan.py)
TORN = "torn by a cut: held the CA file from before the update or the update's"


def factory_unit(start: Start) -> VirtualESP32:
    image = board_image(load_board(BOARD))
    unit = start(image.chip, flash_size=len(image.flash))
    unit.load(0, image.flash)
    return unit


@pytest.mark.parametrize(
    ("acked", "said", "holds"),
    [
        # the data block read back in vain: nothing the file system reads has changed
        (1, "the unit mounts with its old CA file (what was written is not in use yet)", "old"),
        # the metadata commit, the last sector: all written, the last one not read back
        (2, "'spiffs' is mid-update (its sector at 0x290000 not known to be written whole: "
            "it may be erased or half written) and may not mount", "broken"),
    ],
)  # fmt: skip
def test_a_cut_before_the_read_back_answers_is_resumed_from_the_journal(
    virtual_esp32: Start, runner: CliRunner, in_tmp: Path, acked: int, said: str, holds: str
) -> None:
    (in_tmp / "ca.pem").write_bytes(CA)
    unit = factory_unit(virtual_esp32)
    before = unit.read(0, len(unit.flash))
    # dry run: the plan is these two sectors, and nothing is written
    args = ["flash", "--board", BOARD, "--bundle", "ca.pem", "--journal-dir", "jp",
            "--port", unit.url]  # fmt: skip
    r = runner.invoke(cli, [*args, "--dry-run", "--json"])
    assert r.exit_code == 0, r.output
    (change,) = json.loads(r.stdout)["units"][0]["partitions"]
    assert change["name"] == "spiffs" and change["sectors"] == [0x335000, 0x290000]
    assert unit.stats.sectors_programmed == 0 and not (in_tmp / "jp").exists()

    unit.arm_cut(command="SPI_FLASH_MD5", sector_writes=acked)
    r = runner.invoke(cli, [*args, "--json"])
    assert r.exit_code == 3, r.output
    assert unit.stats.cuts == 1 and unit.stats.sectors_programmed == acked
    (u,) = json.loads(r.stdout)["units"]
    error = u["error"]
    assert "link lost while writing" in error
    assert "1 of 1 sectors acknowledged by the unit" in error
    assert f"update stopped after {acked - 1} of 2 sectors" in error
    assert said in error
    assert "verified" not in error and "mounts with the new CA file" not in error
    assert u["result"] == "failed" and u["sectors_written"] == acked - 1
    # the CA said in use: the old one, or (the commit not read back) none known
    assert u["ca_after"] == (u["ca_before"] if holds == "old" else [])
    assert f"run the same command again (with --journal-dir {in_tmp / 'jp'})" in u["next"]
    if holds == "broken":
        assert "keep the unit from booting its firmware" in u["next"]
    else:
        assert "keep the unit" not in u["next"]
    # the journal keeps the update pending, the unit holding each sector it acknowledged
    mac = "24:0a:c4:12:34:56"
    (entry,) = Journal(in_tmp / "jp").entries(mac)
    assert entry.status == "pending" and entry.path is not None
    assert u["journal"] == str(entry.path.relative_to(in_tmp)) and u["journal"] in u["next"]
    assert sector_states(unit, entry) == ["new"] * acked + ["old"] * (2 - acked)

    # the same command again finishes it: the new CA file, every other file as it was
    r = runner.invoke(cli, args)
    assert r.exit_code == 0, r.output
    assert "finished the interrupted update" in r.stdout
    after = unit.read(0, len(unit.flash))
    assert dumps.outside_equal(before, after, [PART])
    old, new = files(before, *PART), files(after, *PART)
    assert new.pop("/ca.pem") == CA and old.pop("/ca.pem") != CA
    assert new == old
    (entry,) = Journal(in_tmp / "jp").entries(mac)
    assert entry.status == "complete"


def test_the_one_sector_left_cut_before_its_read_back_is_finished_by_the_next_run(
    virtual_esp32: Start, runner: CliRunner, in_tmp: Path
) -> None:
    """An update cut at its first read-back leaves one sector to write (the metadata
    commit); the rerun acknowledged for that one sector (1 of 1) is cut before its MD5
    answers too: it says the partition is mid-update, not that it holds the new CA file,
    keeps the entry pending, and the next run finishes with nothing left to write."""
    (in_tmp / "ca.pem").write_bytes(CA)
    unit = factory_unit(virtual_esp32)
    before = unit.read(0, len(unit.flash))
    args = ["flash", "--board", BOARD, "--bundle", "ca.pem", "--journal-dir", "jp",
            "--port", unit.url, "--json"]  # fmt: skip
    unit.arm_cut(command="SPI_FLASH_MD5", sector_writes=1)
    assert runner.invoke(cli, args).exit_code == 3
    unit.arm_cut(command="SPI_FLASH_MD5", sector_writes=1)
    r = runner.invoke(cli, args)
    assert r.exit_code == 3, r.output
    assert unit.stats.cuts == 2 and unit.stats.sectors_programmed == 2
    (u,) = json.loads(r.stdout)["units"]
    assert "link lost while writing 0x290000..0x291000: 1 of 1 sectors acknowledged" in u["error"]
    assert "finishing the interrupted update stopped after 0 of 1 sector;" in u["error"]
    assert "'spiffs' is mid-update" in u["error"] and "may not mount" in u["error"]
    assert "verified" not in u["error"] and "new CA file" not in u["error"]
    assert "keep the unit from booting its firmware" in u["next"]
    (entry,) = Journal(in_tmp / "jp").entries("24:0a:c4:12:34:56")
    assert entry.status == "pending" and entry.path is not None
    assert str(entry.path.relative_to(in_tmp)) in u["next"]
    assert sector_states(unit, entry) == ["new", "new"]  # the unit finished that write
    # what is known is kept, as a stop while finishing keeps it: the entry being finished
    # (the one "next" names), stopped with none of its one sector checked, torn by the cut
    (resumed,) = u["resumed"]
    assert (resumed["action"], resumed["sectors"]) == ("stopped", 0)
    assert [f["name"] for f in resumed["found"]] == ["spiffs"]
    assert u["journal"] == str(entry.path.relative_to(in_tmp))
    assert u["sectors_written"] == 0 and u["roots_after"] == [TORN]

    r = runner.invoke(cli, args)
    assert r.exit_code == 0, r.output
    (u,) = json.loads(r.stdout)["units"]
    (resumed,) = u["resumed"]
    assert resumed["action"] == "finished" and resumed["sectors"] == 0
    assert unit.stats.sectors_programmed == 2  # nothing written again
    after = unit.read(0, len(unit.flash))
    assert dumps.outside_equal(before, after, [PART])
    old, new = files(before, *PART), files(after, *PART)
    assert new.pop("/ca.pem") == CA and old.pop("/ca.pem") != CA
    assert new == old
    (entry,) = Journal(in_tmp / "jp").entries("24:0a:c4:12:34:56")
    assert entry.status == "complete"


@pytest.mark.parametrize("log_name", ["station.csv", "station.jsonl"])
def test_a_rerun_cut_while_finishing_keeps_what_it_wrote_in_json_and_log(
    virtual_esp32: Start, runner: CliRunner, in_tmp: Path, log_name: str
) -> None:
    """An update torn at its first sector leaves both to write; the rerun writes and
    checks the data block, then is cut before the commit's read-back answers. That
    failure keeps what is known, as a stop while finishing does: ``--json``'s "resumed"
    names the entry "stopped" with the one sector written, "sectors_written" counts it,
    "journal" names the entry being finished (the one "next" names), and the station log
    record keeps the sectors, the partition and the roots found (all empty before)."""
    (in_tmp / "ca.pem").write_bytes(CA)
    unit = factory_unit(virtual_esp32)
    args = ["flash", "--board", BOARD, "--bundle", "ca.pem", "--journal-dir", "jp",
            "--port", unit.url, "--json"]  # fmt: skip
    unit.arm_cut(sector_writes=0)  # the data block torn: nothing of it checked
    assert runner.invoke(cli, args).exit_code == 3
    (entry,) = Journal(in_tmp / "jp").entries("24:0a:c4:12:34:56")
    assert sector_states(unit, entry) == ["torn", "old"]
    assert entry.path is not None
    journal = str(entry.path.relative_to(in_tmp))

    unit.arm_cut(command="SPI_FLASH_MD5", sector_writes=2)
    log = in_tmp / log_name
    r = runner.invoke(cli, [*args, "--log", str(log)])
    assert r.exit_code == 3, r.output
    assert sector_states(unit, entry) == ["new", "new"]  # the commit acknowledged
    (u,) = json.loads(r.stdout)["units"]
    assert "finishing the interrupted update stopped after 1 of 2 sectors" in u["error"]
    assert u["result"] == "failed" and u["status"] == "failed"
    (resumed,) = u["resumed"]
    assert (resumed["action"], resumed["sectors"]) == ("stopped", 1)
    assert resumed["ca_sha256"] == entry.ca_sha256
    assert [f["name"] for f in resumed["found"]] == ["spiffs"]
    assert (u["sectors_written"], u["bytes_written"]) == (1, 0x1000)
    assert u["journal"] == journal and journal in u["next"]
    assert u["roots_before"] == ["DST Root CA X3"]  # the torn data block is not read
    # the commit not read back: torn by that cut, the partition one CA file or the other
    assert u["roots_after"] == [TORN] and u["ca_after"] == ["torn"]
    # the log record: the same sectors, the partition, the roots found
    if log_name.endswith(".csv"):
        (row,) = csv.DictReader(log.open(newline=""))
        record = {
            **row,
            **{k: row[k].split() for k in ("partitions", "ca_before", "ca_after")},
            **{k: row[k].split("; ") for k in ("roots_before", "roots_after")},
            **{k: int(row[k]) for k in ("sectors_written", "bytes_written")},
        }
    else:
        (record,) = (json.loads(x) for x in log.read_text().splitlines())
    assert record["result"] == "failed" and journal in record["error"]
    assert (record["sectors_written"], record["bytes_written"]) == (1, 0x1000)
    assert record["partitions"] == ["spiffs"]
    assert (record["roots_before"], record["ca_before"]) == (u["roots_before"], u["ca_before"])
    assert (record["roots_after"], record["ca_after"]) == ([TORN], ["torn"])

    # the same command again finishes it, nothing left to write
    r = runner.invoke(cli, args)
    assert r.exit_code == 0, r.output
    (u,) = json.loads(r.stdout)["units"]
    (resumed,) = u["resumed"]
    assert (resumed["action"], resumed["sectors"]) == ("finished", 0)
    (entry,) = Journal(in_tmp / "jp").entries("24:0a:c4:12:34:56")
    assert entry.status == "complete"
