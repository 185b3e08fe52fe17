"""What ``flash`` and ``restore`` report of a unit they found half updated, checked
against the unit itself (its partitions mounted here):

* a sector torn by a cut is said to be torn (on LittleFS: the CA file from before the
  update or the update's, both named from the journal), never as one of the journal's
  root lists as if that were what the partition held;
* every partition of the interrupted update is listed with what it held and what was
  written there (untouched, resumed, rewritten; for restore, written back or untouched);
* a run that finished another CA's interrupted update and was then stopped, at every
  step of its own update, reports what each partition holds;
* two slots holding different CA files before the update are each reported, and
  restored, with their own roots.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from support.layouts import load_mongoose

from esp_cabundle.blocks import SectorWrite
from esp_cabundle.boards import load_board
from esp_cabundle.certs import load_certificates
from esp_cabundle.cli import cli
from esp_cabundle.commands._bench import flash_line
from esp_cabundle.commands._plan_view import flash_detail_lines, flash_dict
from esp_cabundle.errors import EspCabundleError, FlashError
from esp_cabundle.flash.base import Message
from esp_cabundle.flash.flasher import FlashResult, flash_unit
from esp_cabundle.flash.interrupt import Cancel, UnitInterrupted
from esp_cabundle.flash.journal import Journal
from esp_cabundle.flash.offline import update_dump
from esp_cabundle.flash.station import UnitOutcome, flash_log_record
from esp_cabundle.fs import open_image
from esp_cabundle.text import printable
from esp_cabundle.virtual import VirtualESP32
from tests.support import dumps
from tests.support.flashing import NEW_CA, flash_mongoose, sector_states
from tests.support.gated import canonical, gated
from tests.test_dump_update import _dump_for

Start = Callable[..., VirtualESP32]
MONGOOSE = {"fs_0": (0x190000, 0x1D0000), "fs_1": (0x350000, 0x390000)}
MAC = "24:0a:c4:12:34:56"
OLD_ROOTS = ["ISRG Root X1", "ISRG Root X2", "DST Root CA X3"]
NEW_ROOTS = ["ISRG Root X1", "ISRG Root X2", "R10"]
OTHER_CA = canonical(dumps.pem("isrgrootx1.pem"))
TORN = "torn by a cut: held the CA file from before the update or the update's"

pytestmark = pytest.mark.timeout(600)


def held(unit: VirtualESP32) -> dict[str, list[str]]:
    """The roots of each partition's CA file, read from the unit's flash."""
    out = {}
    for name, (start, end) in MONGOOSE.items():
        ca = open_image(unit.read(start, end - start)).read("/ca.pem")
        out[name] = [printable(c.label) for c in load_certificates(ca, source="test")]
    return out


def as_reported(per: dict[str, list[str]]) -> list[str]:
    """Root names as a report lists them: once when every partition holds the same,
    else each prefixed with its partition."""
    lists = list(per.values())
    if all(x == lists[0] for x in lists):
        return lists[0]
    return [f"{name}: {n}" for name, names in per.items() for n in names]


def flash_args(unit: VirtualESP32, ca: Path, journal: Path, *more: str) -> list[str]:
    args = ["flash", "-p", unit.url, "--board", "mongoose-os-esp32", "--bundle", str(ca)]
    return [*args, "--journal-dir", str(journal), "--at", "2026-06-01", *more]


def restore_args(unit: VirtualESP32, journal: Path, *more: str) -> list[str]:
    return ["restore", "-p", unit.url, "--journal-dir", str(journal), *more]


def invoke(runner: CliRunner, args: list[str]) -> Any:
    r = runner.invoke(cli, args)
    assert r.exit_code == 0, r.output
    return r


def cut_tearing(unit: VirtualESP32, journal: Path, sector: int) -> None:
    """Flash NEW_CA with the link cut inside the ``sector``-th sector (0-based) of the
    plan, its first half erased: that sector then holds neither its old nor its new
    content, every sector before it the new and every one after it the old."""
    unit.arm_cut(sector_writes=sector, tear="erase")
    with pytest.raises(FlashError, match="link lost"):
        flash_mongoose(unit, journal)
    (entry,) = Journal(journal).entries(MAC)
    assert sector_states(unit, entry) == ["new"] * sector + ["torn"] + ["old"] * (5 - sector)


# ---------------------------------------------------------------------------------------
# A torn sector


def test_a_torn_partition_is_reported_torn_in_json_text_and_log(
    mongoose_unit: VirtualESP32, runner: CliRunner, tmp_path: Path
) -> None:
    """The cut tears fs_0's metadata commit: what fs_0 then mounts with is not in the
    journal. The rerun says so (JSON, --verbose, the line, the log), naming both root
    lists the journal holds, and what it wrote to each partition."""
    journal = tmp_path / "j"
    cut_tearing(mongoose_unit, journal, 2)
    assert held(mongoose_unit)["fs_0"] in (OLD_ROOTS, NEW_ROOTS)  # what "torn" claims
    ca = tmp_path / "ca.pem"
    ca.write_bytes(NEW_CA)
    before = mongoose_unit.read(0, len(mongoose_unit.flash))
    dry = invoke(runner, flash_args(mongoose_unit, ca, journal, "--dry-run", "--verbose"))
    dry_json = invoke(runner, flash_args(mongoose_unit, ca, journal, "--dry-run", "--json"))
    assert mongoose_unit.read(0, len(mongoose_unit.flash)) == before
    (planned,) = json.loads(dry_json.stdout)["units"][0]["resumed"]
    for f in planned["found"]:  # the text says what the JSON says
        assert f"  {f['description']}" in dry.stdout, (f, dry.stdout)
    assert "fs_0: torn by a cut" in dry.stdout and "to be resumed (1 of 3 sectors)" in dry.stdout

    log = tmp_path / "station.jsonl"
    r = invoke(runner, flash_args(mongoose_unit, ca, journal, "--json", "--log", str(log)))
    (u,) = json.loads(r.stdout)["units"]
    assert u["result"] == "resumed"
    assert u["roots_before"] == [f"fs_0: {TORN}"] + [f"fs_1: {n}" for n in OLD_ROOTS]
    assert u["ca_before"][0] == "fs_0:torn" and len(u["ca_before"]) == 4
    (resumed,) = u["resumed"]
    fs_0, fs_1 = resumed["found"]
    assert (fs_0["name"], fs_0["held"], fs_0["roots"]) == ("fs_0", "torn", None)
    assert fs_0["journal_roots"] == {"before": OLD_ROOTS, "after": NEW_ROOTS}
    assert (fs_0["done"], fs_0["sectors_to_write"], fs_0["sectors"]) == ("resumed", 1, 3)
    assert fs_0["description"].startswith(f"fs_0: {TORN} (the journal says: before ISRG")
    assert (fs_1["held"], fs_1["roots"], fs_1["done"]) == ("old", OLD_ROOTS, "rewritten")
    (rec,) = (json.loads(line) for line in log.read_text().splitlines())
    assert rec["roots_before"] == u["roots_before"] and rec["ca_before"] == u["ca_before"]
    assert held(mongoose_unit) == {"fs_0": NEW_ROOTS, "fs_1": NEW_ROOTS}


def test_the_line_names_a_torn_partition(
    mongoose_unit: VirtualESP32, runner: CliRunner, tmp_path: Path
) -> None:
    journal = tmp_path / "j"
    cut_tearing(mongoose_unit, journal, 2)
    ca = tmp_path / "ca.pem"
    ca.write_bytes(NEW_CA)
    r = invoke(runner, flash_args(mongoose_unit, ca, journal))
    # fs_1, which held the old CA file, got R10; fs_0 is not known to have had it
    assert r.stdout.rstrip().endswith(
        f"finished the interrupted update: +R10, -DST Root CA X3 (fs_0 {TORN}; "
        "1 of 3 sectors written)"
    ), r.stdout


def test_restore_of_a_torn_update_says_what_it_found(
    mongoose_unit: VirtualESP32, runner: CliRunner, tmp_path: Path
) -> None:
    """Not "+DST Root CA X3, -R10": fs_1 never got R10, and fs_0 is not known to have;
    fs_1 is left untouched, and only fs_0's sectors are written back."""
    original = mongoose_unit.read(0, len(mongoose_unit.flash))
    journal = tmp_path / "j"
    cut_tearing(mongoose_unit, journal, 2)
    dry = invoke(runner, restore_args(mongoose_unit, journal, "--dry-run", "--verbose"))
    assert (
        f"(fs_0 {TORN}; 3 of 3 sectors to be written)" in dry.stdout
        and "R10" not in dry.stdout.splitlines()[0]
    )
    old = ", ".join(OLD_ROOTS)
    assert f"  fs_1: held the CA file from before the update ({old}); untouched\n" in dry.stdout
    assert "    to be written back in this order: 0x190000 0x1c1000 0x1c0000" in dry.stdout
    assert dry.stdout.count("back in this order") == 1
    r = invoke(runner, restore_args(mongoose_unit, journal, "--json"))
    (report,) = json.loads(r.stdout)["units"]
    fs_0, fs_1 = report["found"]
    assert (fs_0["held"], fs_0["done"], fs_0["sectors_to_write"]) == ("torn", "written back", 3)
    assert (fs_1["held"], fs_1["done"], fs_1["sectors_to_write"]) == ("old", "untouched", 0)
    assert report["sectors_written"] == 3 and report["roots_back"] == OLD_ROOTS
    assert mongoose_unit.read(0, len(mongoose_unit.flash)) == original


def test_the_line_of_a_resumed_torn_spiffs_says_what_it_did(
    arduino_unit: VirtualESP32, runner: CliRunner, tmp_path: Path
) -> None:
    """SPIFFS's one partition torn: no roots known, yet sectors were written; the line
    says how many, and the change against the journal's roots from before the update,
    never a bare "up to date: already holds the 4 roots"."""
    journal = tmp_path / "j"
    arduino_unit.arm_cut(sector_writes=2)
    args = ["flash", "-p", arduino_unit.url, "--board", "mdash-arduino", "--bundle"]
    ca = tmp_path / "ca.pem"
    ca.write_bytes(NEW_CA)
    args += [str(ca), "--journal-dir", str(journal), "--at", "2026-06-01"]
    assert runner.invoke(cli, args).exit_code == 3
    line = invoke(runner, args).stdout.strip()
    assert "up to date" not in line, line
    assert line.endswith(
        "finished the interrupted update: +R10, -DST Root CA X3 against the journal's roots "
        "before the update (spiffs torn by a cut: what it held is not known; 2 of 4 sectors "
        "written)"
    ), line


def test_a_torn_spiffs_partition_is_not_known(
    arduino_unit: VirtualESP32, runner: CliRunner, tmp_path: Path
) -> None:
    """SPIFFS: no claim that a torn partition held either CA file (SPIFFS's own mount
    erases a block whose magic is torn); the journal's two root lists are named."""
    journal = tmp_path / "j"
    arduino_unit.arm_cut(sector_writes=2)  # the 3rd of 4 sectors erased, half programmed
    args = ["flash", "-p", arduino_unit.url, "--board", "mdash-arduino", "--bundle"]
    ca = tmp_path / "ca.pem"
    ca.write_bytes(NEW_CA)
    args += [str(ca), "--journal-dir", str(journal), "--at", "2026-06-01", "--json"]
    assert runner.invoke(cli, args).exit_code == 3
    (u,) = json.loads(invoke(runner, args).stdout)["units"]
    assert u["roots_before"] == ["torn by a cut: what it held is not known"]
    assert u["ca_before"] == ["torn"]
    ((f,),) = (x["found"] for x in u["resumed"])
    assert (f["name"], f["held"], f["roots"], f["done"]) == ("spiffs", "torn", None, "resumed")
    assert f["description"] == (
        "spiffs: torn by a cut: what it held is not known (the journal says: before "
        f"{', '.join(OLD_ROOTS)}; after {', '.join(NEW_ROOTS)}); resumed (2 of 4 sectors)"
    )


@pytest.mark.parametrize("board", ["mongoose-os-esp32", "arduino-esp32-littlefs"])
def test_a_restore_torn_anywhere_mounts_with_the_old_or_the_new_ca(board: str) -> None:
    """What "torn: the CA file from before the update or the update's" rests on, for a
    restore (the update's own direction: tests/test_dump_update.py): the sectors written
    back in reverse order, each erased, half programmed or half erased, always mount
    with one CA file or the other, every other file as it was."""
    old = _dump_for(board)
    result = update_dump(old, load_board(board), gated(NEW_CA, board))
    changes = [c for c in result.plan.changes if c.writes]
    assert changes
    for c in changes:
        p = c.partition
        image = open_image(old[p.offset : p.end])
        before = {f.path: image.read(f.path) for f in image.files()}
        old_ca = before.pop(c.ca_path)
        back = tuple(SectorWrite(w.offset, w.new, w.old) for w in reversed(c.writes))
        for label, state in dumps.cut_states(result.flash, back, torn=True):
            image = open_image(state[p.offset : p.end])
            now = {f.path: image.read(f.path) for f in image.files()}
            assert now.pop(c.ca_path, None) in (old_ca, NEW_CA), (p.name, label)
            assert now == before, (p.name, label)


# ---------------------------------------------------------------------------------------
# Every partition of the interrupted update


def stop_when(said: Callable[[str], bool]) -> dict[str, Any]:
    """Options that request a stop when a progress message ``said`` holds."""
    cancel = Cancel()

    def progress(event: object) -> None:
        if isinstance(event, Message) and said(event.text):
            cancel.request("test")

    return {"cancel": cancel, "progress": progress}


@pytest.mark.parametrize(
    ("stop", "fs_0", "fs_1"),
    [
        # fs_0's new data written, not its commit: fs_0 old, fs_1 never written
        ("(2 of 6)", ("old", OLD_ROOTS, "resumed", 1), ("old", OLD_ROOTS, "rewritten", 3)),
        # fs_0 done, fs_1 never written
        ("(3 of 6)", ("new", NEW_ROOTS, "untouched", 0), ("old", OLD_ROOTS, "rewritten", 3)),
    ],
)
def test_the_rerun_lists_every_partition_with_what_it_held_and_what_was_done(
    mongoose_unit: VirtualESP32,
    runner: CliRunner,
    tmp_path: Path,
    stop: str,
    fs_0: tuple[str, list[str], str, int],
    fs_1: tuple[str, list[str], str, int],
) -> None:
    journal = tmp_path / "j"
    with pytest.raises(UnitInterrupted):
        flash_mongoose(mongoose_unit, journal, **stop_when(lambda text: stop in text))
    truth = held(mongoose_unit)
    ca = tmp_path / "ca.pem"
    ca.write_bytes(NEW_CA)
    r = invoke(runner, flash_args(mongoose_unit, ca, journal, "--json"))
    (u,) = json.loads(r.stdout)["units"]
    (resumed,) = u["resumed"]
    found = resumed["found"]
    assert [f["name"] for f in found] == ["fs_0", "fs_1"]
    for f, (holds, roots, done, written) in zip(found, (fs_0, fs_1), strict=True):
        assert (f["held"], f["roots"], f["done"], f["sectors_to_write"]) == (
            holds,
            roots,
            done,
            written,
        )
        assert f["roots"] == truth[f["name"]]  # what the unit held, mounted here
    assert resumed["sectors"] == fs_0[3] + fs_1[3] == u["sectors_written"]
    assert u["roots_before"] == as_reported(truth)


def test_verbose_lists_every_partition(
    mongoose_unit: VirtualESP32, runner: CliRunner, tmp_path: Path
) -> None:
    journal = tmp_path / "j"
    with pytest.raises(UnitInterrupted):
        flash_mongoose(mongoose_unit, journal, **stop_when(lambda text: "(3 of 6)" in text))
    ca = tmp_path / "ca.pem"
    ca.write_bytes(NEW_CA)
    r = invoke(runner, flash_args(mongoose_unit, ca, journal, "--verbose"))
    new, old = ", ".join(NEW_ROOTS), ", ".join(OLD_ROOTS)
    assert f"    fs_0: held the update's CA file ({new}); untouched\n" in r.stdout
    assert (
        f"    fs_1: held the CA file from before the update ({old}); rewritten (3 of 3 sectors)\n"
        in r.stdout
    )
    # 3 sectors were written: the run does not end saying nothing was
    assert "Up to date once the interrupted update was finished: nothing more written." in r.stdout
    assert "Already up to date: nothing written." not in r.stdout


def test_restore_lists_every_partition_with_what_it_held_and_wrote_back(
    mongoose_unit: VirtualESP32, runner: CliRunner, tmp_path: Path
) -> None:
    """Stopped with fs_0 done and fs_1's first sector written (fs_1 still old): fs_0
    is written back whole, fs_1 only the one sector, and R10 is said to go from fs_0."""
    original = mongoose_unit.read(0, len(mongoose_unit.flash))
    journal = tmp_path / "j"
    with pytest.raises(UnitInterrupted):
        flash_mongoose(mongoose_unit, journal, **stop_when(lambda text: "(4 of 6)" in text))
    assert held(mongoose_unit) == {"fs_0": NEW_ROOTS, "fs_1": OLD_ROOTS}
    dry = invoke(runner, restore_args(mongoose_unit, journal, "--dry-run", "--verbose"))
    assert dry.stdout.splitlines()[0].endswith(": +DST Root CA X3, -R10")
    old = ", ".join(OLD_ROOTS)
    assert (
        f"  fs_1: held the CA file from before the update ({old}); to be partly written back "
        "(1 of 3 sectors)\n    to be written back in this order: 0x380000\n"
    ) in dry.stdout
    r = invoke(runner, restore_args(mongoose_unit, journal, "--json"))
    fs_0, fs_1 = json.loads(r.stdout)["units"][0]["found"]
    assert (fs_0["held"], fs_0["done"], fs_0["sectors_to_write"]) == ("new", "written back", 3)
    assert (fs_1["held"], fs_1["done"], fs_1["sectors_to_write"]) == (
        "old",
        "partly written back",
        1,
    )
    assert mongoose_unit.read(0, len(mongoose_unit.flash)) == original


def test_a_dry_runs_json_says_what_it_would_do_not_that_it_did(
    mongoose_unit: VirtualESP32, runner: CliRunner, tmp_path: Path
) -> None:
    """restore --dry-run --json said ``"done": "written back"`` beside the description
    "to be written back", and flash --dry-run --json ``"resumed"`` beside its "would
    finish": a dry run writes nothing, so each partition's ``done`` says what the run
    would do, as flash's ``action`` does."""
    journal = tmp_path / "j"
    with pytest.raises(UnitInterrupted):
        flash_mongoose(mongoose_unit, journal, **stop_when(lambda text: "(4 of 6)" in text))
    before = mongoose_unit.read(0, len(mongoose_unit.flash))
    r = invoke(runner, restore_args(mongoose_unit, journal, "--dry-run", "--json"))
    found = json.loads(r.stdout)["units"][0]["found"]
    assert [(f["done"], f["description"].rsplit("; ", 1)[1]) for f in found] == [
        ("would write back", "to be written back (3 of 3 sectors)"),
        ("would partly write back", "to be partly written back (1 of 3 sectors)"),
    ]
    ca = tmp_path / "ca.pem"
    ca.write_bytes(NEW_CA)
    r = invoke(runner, flash_args(mongoose_unit, ca, journal, "--dry-run", "--json"))
    (resumed,) = json.loads(r.stdout)["units"][0]["resumed"]
    assert resumed["action"] == "would finish"
    assert [(f["done"], f["description"].rsplit("; ", 1)[1]) for f in resumed["found"]] == [
        ("untouched", "untouched"),
        ("would resume", "to be resumed (2 of 3 sectors)"),
    ]
    assert mongoose_unit.read(0, len(mongoose_unit.flash)) == before


# ---------------------------------------------------------------------------------------
# Finishing another CA's interrupted update, then stopped at every step


def _at_sector(k: int) -> Callable[[str], bool]:
    return lambda text: text.startswith("update: sector") and f"({k} of " in text


# the interrupted update finished (2 sectors), then each step of this run's own update:
# planning, journaling, each of its 10 sectors (asked during the last, it completes)
STOPS: list[tuple[str, Callable[[str], bool]]] = [
    ("finishing", lambda text: text.startswith("finishing the interrupted update: sector")),
    ("planning", lambda text: text.startswith("opening partition 'fs_0'")),
    ("journaling", lambda text: text.startswith("hashing the ranges the update leaves alone")),
    *((f"sector{k}", _at_sector(k)) for k in range(1, 11)),
]


@pytest.mark.parametrize(("step", "said"), STOPS, ids=[step for step, _ in STOPS])
def test_stopped_after_finishing_another_cas_update_reports_what_the_unit_holds(
    virtual_esp32: Start, tmp_path: Path, step: str, said: Callable[[str], bool]
) -> None:
    """NEW_CA's update stopped with fs_0 new and fs_1 old; then OTHER_CA flashed: the
    interrupted update is finished first (fs_1 gets NEW_CA), then OTHER_CA written. A
    stop at any point reports the roots before as found, and after as the unit holds
    them (an unwritten partition holds the finished update's CA, not what it held before
    it), in the result and in the station-log record."""
    unit = virtual_esp32("esp32")
    load_mongoose(unit)
    journal = tmp_path / "j"
    with pytest.raises(UnitInterrupted):
        flash_mongoose(unit, journal, **stop_when(lambda text: "(4 of 6)" in text))
    found = held(unit)
    assert found == {"fs_0": NEW_ROOTS, "fs_1": OLD_ROOTS}
    other = gated(OTHER_CA, "mongoose-os-esp32")
    started = datetime.now(timezone.utc)
    error: EspCabundleError | None = None
    try:
        result: FlashResult = flash_unit(
            unit.url,
            load_board("mongoose-os-esp32"),
            other,
            journal_dir=journal,
            connect_attempts=1,
            **stop_when(said),
        )
    except UnitInterrupted as e:
        error, result = e, e.result
        assert "unchanged" not in e.message  # the finish changed it
    now = held(unit)
    assert result.roots_before == tuple(as_reported(found))
    assert result.roots_after == tuple(as_reported(now)), (step, now)
    outcome = UnitOutcome(unit.url, None if error else result, error, started, 0.1)
    rec = flash_log_record(outcome, "mongoose-os-esp32", other)
    assert rec["roots_before"] == as_reported(found) and rec["roots_after"] == as_reported(now)
    # every sector this run wrote is counted, those finishing the earlier update too
    assert rec["sectors_written"] == unit.stats.sectors_programmed - 4
    if error is None:  # asked during the last sector: it completes
        assert rec["result"] == "resumed"
        assert now == {"fs_0": ["ISRG Root X1"], "fs_1": ["ISRG Root X1"]}
        return
    assert rec["result"] == "interrupted"
    line = flash_line(outcome).what
    assert "unchanged" not in line and "unchanged" not in error.message, line
    if step == "finishing":  # the details and the JSON say where it stopped, per partition
        details = flash_detail_lines(result)
        assert any(
            d.startswith("stopped while finishing the update interrupted on") for d in details
        )
        assert "  fs_1: held the CA file from before the update" in "\n".join(details)
        (x,) = flash_dict(outcome)["resumed"]
        assert x["action"] == "stopped" and [f["name"] for f in x["found"]] == ["fs_0", "fs_1"]
        assert [f["done"] for f in x["found"]] == ["untouched", "resumed"]
        # the entry being finished is the one to finish (the stop's next step names it),
        # and the log names its partitions (there is no plan of this run's own yet)
        (entry,) = Journal(journal).entries("24:0a:c4:12:34:56")  # this run's not saved yet
        assert isinstance(error, UnitInterrupted) and entry.status == "pending"
        assert flash_dict(outcome)["journal"] == str(entry.path)
        assert error.interruption.journal == entry.path
        assert rec["partitions"] == ["fs_0", "fs_1"]
    if step in ("planning", "journaling"):
        assert line.startswith("finished the interrupted update first: holds its CA file")
        assert error.message.endswith(
            "then stopped before writing anything of this one: the unit holds the CA file "
            "of the interrupted update it finished"
        )


# ---------------------------------------------------------------------------------------
# Two slots holding different CA files (Mongoose OS after an OTA)


@pytest.fixture
def slots_differ(mongoose_unit: VirtualESP32) -> VirtualESP32:
    """The Mongoose OS unit with fs_1's CA file holding ISRG Root X1 alone."""
    start, end = MONGOOSE["fs_1"]
    image = open_image(mongoose_unit.read(start, end - start))
    image.write("/ca.pem", OTHER_CA)
    mongoose_unit.load(start, image.to_bytes())
    return mongoose_unit


def test_each_slot_is_reported_and_restored_with_its_own_roots(
    slots_differ: VirtualESP32, runner: CliRunner, tmp_path: Path
) -> None:
    """The journal keeps each partition's roots: the report names both, and restore,
    which reads every partition back against them, puts each back (it refused before:
    fs_1 does not hold fs_0's roots)."""
    unit = slots_differ
    original = unit.read(0, len(unit.flash))
    assert held(unit) == {"fs_0": OLD_ROOTS, "fs_1": ["ISRG Root X1"]}
    ca = tmp_path / "ca.pem"
    ca.write_bytes(NEW_CA)
    journal = tmp_path / "j"
    r = invoke(runner, flash_args(unit, ca, journal, "--json"))
    (u,) = json.loads(r.stdout)["units"]
    assert u["roots_before"] == [f"fs_0: {n}" for n in OLD_ROOTS] + ["fs_1: ISRG Root X1"]
    (entry,) = Journal(journal).entries(MAC)
    assert [[n for n, _ in entry.roots_of(p)] for p in entry.partitions] == [
        OLD_ROOTS,
        ["ISRG Root X1"],
    ]
    r = invoke(runner, restore_args(unit, journal, "--json"))
    assert json.loads(r.stdout)["units"][0]["roots_back"] == u["roots_before"]
    assert unit.read(0, len(unit.flash)) == original
    (entry,) = Journal(journal).entries(MAC)
    assert entry.status == "restored"


def _strip_partition_roots(obj: dict[str, Any]) -> None:
    for p in obj["partitions"]:
        del p["roots_before"]


def test_a_journal_without_partition_roots_stands_on_the_entrys(
    mongoose_unit: VirtualESP32, runner: CliRunner, tmp_path: Path
) -> None:
    """An entry written before partitions kept their roots: the entry's roots stand for
    each partition, as they did."""
    original = mongoose_unit.read(0, len(mongoose_unit.flash))
    journal = tmp_path / "j"
    with pytest.raises(UnitInterrupted):
        flash_mongoose(mongoose_unit, journal, **stop_when(lambda text: "(3 of 6)" in text))
    (entry,) = Journal(journal).entries(MAC)
    assert entry.path is not None
    obj = json.loads(entry.path.read_text())
    _strip_partition_roots(obj)
    entry.path.write_text(json.dumps(obj))
    (entry,) = Journal(journal).entries(MAC)
    assert all(p.roots_before is None for p in entry.partitions)
    r = invoke(runner, restore_args(mongoose_unit, journal, "--json"))
    fs_0, fs_1 = json.loads(r.stdout)["units"][0]["found"]
    assert (fs_0["held"], fs_0["roots"], fs_1["roots"]) == ("new", NEW_ROOTS, OLD_ROOTS)
    assert mongoose_unit.read(0, len(mongoose_unit.flash)) == original


def test_an_entry_whose_partition_roots_are_not_a_list_is_refused_writing_nothing(
    mongoose_unit: VirtualESP32, runner: CliRunner, tmp_path: Path
) -> None:
    journal = tmp_path / "j"
    flash_mongoose(mongoose_unit, journal)
    (entry,) = Journal(journal).entries(MAC)
    assert entry.path is not None
    obj = json.loads(entry.path.read_text())
    obj["partitions"][1]["roots_before"] = "ISRG Root X1"
    entry.path.write_text(json.dumps(obj))
    before = mongoose_unit.read(0, len(mongoose_unit.flash))
    erased = mongoose_unit.stats.sectors_erased
    r = runner.invoke(cli, restore_args(mongoose_unit, journal))
    assert r.exit_code == 2, r.output
    assert "not a readable esp-cabundle journal entry" in r.output
    assert "the roots before of partition 'fs_1' is not a list" in r.output
    assert mongoose_unit.stats.sectors_erased == erased
    assert mongoose_unit.read(0, len(mongoose_unit.flash)) == before


@pytest.mark.parametrize(("word", "whole"), [("OK", True), ("DRY RUN", True), ("FAILED", False)])
def test_a_bar_ends_whole_only_when_the_job_did(word: str, whole: bool) -> None:
    """A restore with nothing to do ended OK at 0%: "0% OK" reads as a stall."""
    from esp_cabundle.commands._bench import UnitBars
    from esp_cabundle.flash.base import JOB

    bars = UnitBars(["socket://u"], shown=True, verbose=False)
    task = bars.tasks["socket://u"]
    bars.bars.update(task, completed=JOB // 3)
    bars.finish("socket://u", word)
    (shown,) = bars.bars.tasks
    assert shown.fields["status"] == word
    assert shown.completed == (JOB if whole else JOB // 3)
