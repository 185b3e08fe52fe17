"""The journal holds whole sectors of units' file systems, secrets included: it is
private whatever the umask, listed and pruned without showing its content, and an
entry that was edited (or comes from another layout) is refused by ``restore`` and by
a rerun of ``flash`` before anything is written."""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from esp_cabundle.cli import cli
from esp_cabundle.flash.journal import Journal, JournalEntry, prune
from esp_cabundle.virtual import VirtualESP32
from tests.support import dumps
from tests.support.no_skips import ROOT_READS_ANYTHING

Start = Callable[..., VirtualESP32]
CA = dumps.pem("isrgrootx1.pem") + dumps.pem("isrg-root-x2.pem")
MAC = "24:0a:c4:12:34:56"


@pytest.fixture
def ca_file(tmp_path: Path) -> Path:
    path = tmp_path / "ca.pem"
    path.write_bytes(CA)
    return path


@pytest.fixture
def umask_000() -> Iterator[None]:
    old = os.umask(0)
    try:
        yield
    finally:
        os.umask(old)


def flash(runner: CliRunner, unit: VirtualESP32, board: str, ca: Path, journal: Path) -> Result:
    args = ["flash", "-p", unit.url, "--board", board, "--bundle", str(ca)]
    return runner.invoke(cli, [*args, "--journal-dir", str(journal)])


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def the_entry(journal: Path) -> Path:
    (path,) = journal.glob("*/*.json")
    return path


# ---------------------------------------------------------------------------------------
# Private on disk


def test_folders_0700_files_0600_whatever_the_umask(
    arduino_unit: VirtualESP32, runner: CliRunner, ca_file: Path, tmp_path: Path, umask_000: None
) -> None:
    # mdash.cfg: the device token sits next to ca.pem
    journal = tmp_path / "state" / "journal"
    parent_mode = mode(tmp_path)
    r = flash(runner, arduino_unit, "mdash-arduino", ca_file, journal)
    assert r.exit_code == 0, r.output
    entry = the_entry(journal)
    assert mode(tmp_path / "state") == mode(journal) == mode(entry.parent) == 0o700
    assert mode(entry) == 0o600
    assert mode(tmp_path) == parent_mode  # an existing parent is left as it was
    assert not [p for p in entry.parent.iterdir() if p.name.startswith(".")]  # no temp left
    # rewritten on every status change: still 0600
    assert flash(runner, arduino_unit, "mdash-arduino", ca_file, journal).exit_code == 0
    assert mode(entry) == 0o600


def test_an_older_world_readable_unit_folder_is_made_private(
    mongoose_unit: VirtualESP32, runner: CliRunner, ca_file: Path, tmp_path: Path, umask_000: None
) -> None:
    folder = tmp_path / "j" / "240ac4123456"
    folder.mkdir(parents=True, mode=0o755)
    os.chmod(folder, 0o755)
    r = flash(runner, mongoose_unit, "mongoose-os-esp32", ca_file, tmp_path / "j")
    assert r.exit_code == 0, r.output
    assert mode(folder) == 0o700 and mode(the_entry(tmp_path / "j")) == 0o600


# ---------------------------------------------------------------------------------------
# list and prune


NOW = datetime(2026, 12, 1, tzinfo=timezone.utc)


def _entry(
    journal: Journal, mac: str, status: str, age: timedelta, now: datetime = NOW
) -> JournalEntry:
    when = now - age
    e = JournalEntry(
        id=os.urandom(4).hex(),
        created=when,
        mac=mac,
        chip="ESP32",
        port="/dev/ttyUSB0",
        board="mdash-arduino",
        ca_sha256="00" * 32,
        partitions=(),
        status=status,  # type: ignore[arg-type]
        updated=when,
    )
    return journal.record(e)


def test_list_shows_every_update_never_its_content(
    arduino_unit: VirtualESP32, runner: CliRunner, ca_file: Path, tmp_path: Path
) -> None:
    journal = tmp_path / "j"
    assert flash(runner, arduino_unit, "mdash-arduino", ca_file, journal).exit_code == 0
    saved = json.loads(the_entry(journal).read_text())
    secrets = [s["old"][:40] for p in saved["partitions"] for s in p["sectors"]]
    r = runner.invoke(cli, ["journal", "list", "--journal-dir", str(journal)])
    assert r.exit_code == 0, r.output
    assert MAC in r.stdout and "mdash-arduino" in r.stdout and "complete" in r.stdout
    assert "1 update of 1 unit." in r.stdout
    r = runner.invoke(cli, ["journal", "list", "--journal-dir", str(journal), "--json"])
    (e,) = json.loads(r.stdout)["entries"]
    assert e["mac"] == MAC and e["status"] == "complete" and e["partitions"] == ["spiffs"]
    assert e["sectors"] == len(saved["partitions"][0]["sectors"])
    for out in (r.stdout, flash(runner, arduino_unit, "mdash-arduino", ca_file, journal).output):
        assert not any(s in out for s in secrets)
    r = runner.invoke(cli, ["journal", "list", "--journal-dir", str(tmp_path / "none")])
    assert r.exit_code == 0 and "no journaled update" in r.stdout


def test_prune_deletes_old_finished_entries_keeps_unfinished_and_recent(
    runner: CliRunner, tmp_path: Path
) -> None:
    j = Journal(tmp_path / "j")
    old_done = _entry(j, MAC, "complete", timedelta(days=40))
    old_pending = _entry(j, MAC, "pending", timedelta(days=40))
    recent = _entry(j, "24:0a:c4:00:00:01", "complete", timedelta(days=2))
    other = _entry(j, "24:0a:c4:00:00:02", "restored", timedelta(days=90))
    (j.directory / "240ac4000003").mkdir()
    (j.directory / "240ac4000003" / "broken.json").write_text("{not json")
    now = datetime(2026, 12, 1, tzinfo=timezone.utc)

    dry = prune(j, older_than=timedelta(days=30), now=now, dry_run=True)
    assert {e.id for e in dry.removed} == {old_done.id, other.id}
    assert [e.id for e in dry.kept_unfinished] == [old_pending.id] and dry.kept_recent == 1
    assert len(dry.problems) == 1 and all(e.path and e.path.exists() for e in dry.removed)

    done = prune(j, older_than=timedelta(days=30), now=now)
    assert {e.id for e in done.removed} == {old_done.id, other.id}
    assert not (old_done.path and old_done.path.exists())
    assert not (j.directory / "240ac4000002").exists()  # its folder, now empty, too
    assert old_pending.path and old_pending.path.exists()
    assert recent.path and recent.path.exists()
    assert (j.directory / "240ac4000003" / "broken.json").exists()  # left alone

    every = prune(j, older_than=timedelta(days=30), now=now, unfinished=True, mac=MAC)
    assert [e.id for e in every.removed] == [old_pending.id]
    assert recent.path.exists()


def test_a_restore_stopped_part_way_is_kept_and_restorable(tmp_path: Path) -> None:
    """A ``restoring`` entry is a unit half way back: prune keeps it, restore takes it up."""
    j = Journal(tmp_path / "j")
    old_done = _entry(j, MAC, "complete", timedelta(days=50))
    restoring = _entry(j, MAC, "restoring", timedelta(days=40))
    now = datetime(2026, 12, 1, tzinfo=timezone.utc)
    done = prune(j, older_than=timedelta(days=30), now=now, dry_run=True)
    assert [e.id for e in done.removed] == [old_done.id]
    assert [e.id for e in done.kept_unfinished] == [restoring.id]
    found = j.restorable(MAC)
    assert found is not None and found.id == restoring.id
    assert j.pending(MAC) == []  # not an update for 'flash' to finish


@pytest.mark.parametrize(
    "statuses,said,nothing_to_do",
    [
        (("restored", "restored"), "was already restored; nothing to do", True),
        (("cancelled",), "was cancelled before writing; nothing to do", True),
        (("restored", "cancelled"), "already restored or cancelled before writing", True),
        (("restored", "stale"), "or set aside as stale); nothing written", False),
    ],
)
def test_nothing_left_to_restore_is_told_from_a_refusal(
    tmp_path: Path, statuses: tuple[str, ...], said: str, nothing_to_do: bool
) -> None:
    """Every update undone (or never written) is nothing to do, which ``restore``
    reports as done; a stale entry left over is a refusal. Neither touches the unit."""
    from esp_cabundle.errors import InputError
    from esp_cabundle.flash.restore import AlreadyRestored, restore_flash

    j = Journal(tmp_path / "j")
    for n, status in enumerate(statuses):
        _entry(j, MAC, status, timedelta(days=10 - n))
    untouched: Any = object()  # any use of the unit fails the test
    with pytest.raises(InputError) as e:
        restore_flash(untouched, mac=MAC, journal=j)
    assert said in e.value.message
    assert isinstance(e.value, AlreadyRestored) is nothing_to_do
    assert [x.status for x in j.entries(MAC)] == list(statuses)


def test_prune_command(runner: CliRunner, tmp_path: Path) -> None:
    j = Journal(tmp_path / "j")
    now = datetime.now(timezone.utc)  # the command's clock
    old = _entry(j, MAC, "complete", timedelta(days=40), now)
    pending = _entry(j, MAC, "pending", timedelta(days=50), now)
    _entry(j, MAC, "complete", timedelta(days=20), now)
    base = ["journal", "prune", "--journal-dir", str(j.directory)]
    r = runner.invoke(cli, [*base, "--older-than", "30d", "--dry-run"])
    assert r.exit_code == 0 and "would delete 1 entry older than 30 days; kept 1 newer" in r.stdout
    assert old.path and old.path.exists()
    assert "kept the unfinished update" in r.stderr and "--unfinished" in r.stderr
    r = runner.invoke(cli, [*base, "--older-than", "4w", "--json"])
    report = json.loads(r.stdout)
    assert [e["id"] for e in report["removed"]] == [old.id] and not old.path.exists()
    assert [e["id"] for e in report["kept_unfinished"]] == [pending.id]
    for bad in ("30", "3x", "-1d", "", "9" * 5000 + "x"):
        r = runner.invoke(cli, [*base, "--older-than", bad])
        assert r.exit_code == 2 and "is not an age" in r.output, bad
        assert len(r.output) < 400, bad  # a pasted screenful is not said back whole
    # An age, but too large: said so (it was "not an age", or an OverflowError)
    for big in ("99999999d", "999999d", "999999w", "36501d", "5215w", "9" * 5000 + "min"):
        r = runner.invoke(cli, [*base, "--older-than", big])
        assert r.exit_code == 2 and "is too large an age: at most 36500d" in r.output, big
        assert len(r.output) < 400 and "Traceback" not in r.output
    # 'm' is minutes to some and months to others: asked, never guessed (nothing deleted)
    # months and years vary in length: refused, with the days to give for that unit
    for vague, advice in [
        ("6m", "is 'm' minutes or months? Give the age in min, h, d or w: 6min, or 180d "
         "for 6 months"),
        ("6M", "is 'M' minutes or months?"),
        ("1m", "1min, or 30d for 1 month"),
        ("6mo", "months vary in length; give the age in min, h, d or w: 180d for 6 months"),
        ("6 months", "180d for 6 months"),
        ("1y", "years vary in length; give the age in min, h, d or w: 365d for 1 year"),
        ("2y", "730d for 2 years"),
        ("2 years", "730d for 2 years"),
        ("9" * 5000 + "m", "is 'm' minutes or months? Give the age in min, h, d or w"),
    ]:  # fmt: skip
        r = runner.invoke(cli, [*base, "--older-than", vague])
        assert r.exit_code == 2 and advice in r.output, (vague, r.output)
        assert len(r.output) < 500, vague
    assert pending.path and pending.path.exists()
    r = runner.invoke(cli, [*base, "--older-than", "90min", "--dry-run"])
    assert r.exit_code == 0 and "older than 90 minutes" in r.stdout, r.output
    r = runner.invoke(cli, [*base, "--older-than", "36500d", "--dry-run"])
    assert r.exit_code == 0 and "older than 36500 days" in r.stdout
    assert prune(j, older_than=timedelta.max, dry_run=True).removed == ()  # before year 1
    r = runner.invoke(cli, ["journal", "prune", "--journal-dir", str(j.directory)])
    assert r.exit_code == 2 and "--older-than" in r.output
    assert pending.path and pending.path.exists()


def test_prune_and_list_take_any_spelling_of_a_mac(runner: CliRunner, tmp_path: Path) -> None:
    j = Journal(tmp_path / "j")
    now = datetime.now(timezone.utc)
    base = ["journal", "prune", "--journal-dir", str(j.directory), "--older-than", "30d"]
    for spelling in ("240AC4123456", "24-0a-c4-12-34-56", "24:0A:C4:12:34:56", "240a.c412.3456"):
        old = _entry(j, MAC, "complete", timedelta(days=40), now)
        listing = ["journal", "list", "--journal-dir", str(j.directory), "--json"]
        r = runner.invoke(cli, [*listing, "--mac", spelling])
        assert r.exit_code == 0 and len(json.loads(r.stdout)["entries"]) == 1, spelling
        r = runner.invoke(cli, [*base, "--mac", spelling])
        assert r.exit_code == 0 and "deleted 1 entry" in r.stdout, (spelling, r.output)
        assert old.path and not old.path.exists()
    kept = _entry(j, MAC, "complete", timedelta(days=40), now)
    for bad in (
        "zz",
        "24:0a:c4:12:34",
        "24:0a-c4:12:34:56",
        "24:0a:c4:12:34:5g",
        "2:40a:c4:12:34:56",
    ):
        r = runner.invoke(cli, [*base, "--mac", bad])
        assert r.exit_code == 2 and "is not a MAC address" in r.output, bad
        assert kept.path and kept.path.exists()


# ---------------------------------------------------------------------------------------
# Edited journals write nothing


def _edit(path: Path, change: Callable[[dict[str, object]], None]) -> None:
    obj = json.loads(path.read_text())
    change(obj)
    path.write_text(json.dumps(obj))


def _into_bootloader(obj: dict[str, object]) -> None:
    """The partition and every sector moved onto the bootloader (0x1000..0x8000): the
    entry is consistent with itself, only the unit's table says it lies."""
    (part,) = obj["partitions"]  # type: ignore[misc]
    part["offset"], part["size"], part["untouched"] = 0x1000, 0x7000, []
    for i, s in enumerate(part["sectors"]):
        s["offset"] = 0x1000 + i * 0x1000


def _sector_outside(obj: dict[str, object]) -> None:
    (part,) = obj["partitions"]  # type: ignore[misc]
    part["sectors"][0]["offset"] = 0x1000


def _other_partition(obj: dict[str, object]) -> None:
    """Renamed to the unit's NVS (keys, Wi-Fi): a data partition, but not the file
    system's; same offset and size as the table says, sectors moved into it."""
    (part,) = obj["partitions"]  # type: ignore[misc]
    part["name"], part["offset"], part["size"], part["untouched"] = "nvs", 0x9000, 0x5000, []
    for i, s in enumerate(part["sectors"]):
        s["offset"] = 0x9000 + i * 0x1000


@pytest.mark.parametrize(
    ("edit", "says"),
    [
        (_into_bootloader, "names partition 'spiffs' at 0x1000"),
        (_sector_outside, "is not a whole sector of partition 'spiffs'"),
        (_other_partition, "keeps no file system in"),
    ],
)
def test_restore_refuses_an_edited_journal_writing_nothing(
    arduino_unit: VirtualESP32,
    runner: CliRunner,
    ca_file: Path,
    tmp_path: Path,
    edit: Callable[[dict[str, object]], None],
    says: str,
) -> None:
    journal = tmp_path / "j"
    assert flash(runner, arduino_unit, "mdash-arduino", ca_file, journal).exit_code == 0
    _edit(the_entry(journal), edit)
    before = arduino_unit.read(0, len(arduino_unit.flash))
    erased = arduino_unit.stats.sectors_erased
    r = runner.invoke(cli, ["restore", "-p", arduino_unit.url, "--journal-dir", str(journal)])
    assert r.exit_code == 2, r.output
    assert says in r.stdout
    assert (
        arduino_unit.stats.sectors_erased == erased
        and arduino_unit.read(0, len(arduino_unit.flash)) == before
    )
    r = runner.invoke(
        cli, ["restore", "-p", arduino_unit.url, "--journal-dir", str(journal), "--force"]
    )
    assert r.exit_code == 2 and arduino_unit.read(0, len(arduino_unit.flash)) == before


def test_an_edited_unfinished_entry_is_not_finished_by_a_rerun(
    arduino_unit: VirtualESP32, runner: CliRunner, ca_file: Path, tmp_path: Path
) -> None:
    journal = tmp_path / "j"
    arduino_unit.arm_cut(sector_writes=1)
    assert flash(runner, arduino_unit, "mdash-arduino", ca_file, journal).exit_code == 3
    _edit(the_entry(journal), _into_bootloader)
    boot = arduino_unit.read(0x1000, 0x7000)
    r = flash(runner, arduino_unit, "mdash-arduino", ca_file, journal)
    assert "no longer matches the unit" in r.output and "names partition 'spiffs'" in r.output
    assert arduino_unit.read(0x1000, 0x7000) == boot
    statuses = [e.status for e in Journal(journal).entries(MAC)]
    assert "stale" in statuses


JOURNAL_COMMANDS = [
    ["journal", "list"],
    ["journal", "prune", "--older-than", "1d"],
    ["restore", "-p", "socket://127.0.0.1:9"],  # refused before the port is opened
]


def _as_journal(tmp_path: Path, kind: str) -> tuple[str, str]:
    """A --journal-dir that cannot be the journal, and what the error says of it."""
    (tmp_path / "file").write_text("not a journal\n")
    (tmp_path / "loop").symlink_to("loop")
    return {
        "file": ("file", "file: is a regular file, not a journal directory; nothing was"),
        "under-file": ("file/j", "file/j: cannot read the journal directory (Not a directory)"),
        "loop": ("loop", "loop: cannot read the journal directory (Too many levels of sym"),
    }[kind]


@pytest.mark.parametrize("command", JOURNAL_COMMANDS, ids=lambda c: c[-1])
@pytest.mark.parametrize("kind", ["file", "under-file", "loop"])
def test_journal_dir_errors_are_the_tool_s_own(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, command: list[str], kind: str
) -> None:
    """--journal-dir gave click's "Invalid value ... Directory 'x' is a file." under a
    usage banner (a file under it or a loop passed as an empty journal): now the tool's
    own words, as its readers say them, exit 2, nothing changed."""
    monkeypatch.chdir(tmp_path)
    value, words = _as_journal(tmp_path, kind)
    before = sorted(os.listdir(tmp_path))
    r = CliRunner().invoke(cli, [*command, "--journal-dir", value])
    assert r.exit_code == 2, r.output
    assert f"Error: {words}" in r.stderr, r.stderr
    assert "--journal-dir" in r.stderr  # the hint names the option
    for click_words in ("Usage:", "Invalid value", "Traceback"):
        assert click_words not in r.output
    assert sorted(os.listdir(tmp_path)) == before
    assert (tmp_path / "file").read_text() == "not a journal\n"


@pytest.mark.parametrize("command", JOURNAL_COMMANDS, ids=lambda c: c[-1])
@pytest.mark.parametrize("kind", ["file", "under-file", "loop"])
def test_a_journal_from_the_environment_that_cannot_be_one_is_refused_too(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, command: list[str], kind: str
) -> None:
    """``$ESP_CABUNDLE_JOURNAL`` naming a file was read as an empty journal: 'journal
    list' said "no journaled update", exit 0, and 'restore' found nothing to undo,
    where --journal-dir with the same value is refused."""
    monkeypatch.chdir(tmp_path)
    value, words = _as_journal(tmp_path, kind)
    monkeypatch.setenv("ESP_CABUNDLE_JOURNAL", value)
    before = sorted(os.listdir(tmp_path))
    r = CliRunner().invoke(cli, command)
    assert r.exit_code == 2, r.output
    assert f"Error: {words}" in r.stderr, r.stderr
    assert "with $ESP_CABUNDLE_JOURNAL" in r.stderr  # the hint names where it came from
    assert sorted(os.listdir(tmp_path)) == before
    assert (tmp_path / "file").read_text() == "not a journal\n"


@pytest.mark.parametrize("by", ["mode", "access"])
def test_an_unreadable_journal_dir_is_said_in_the_tool_s_words(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, by: str
) -> None:
    """``mode``: a real mode-0 directory, which binds every user but root; ``access``: the
    same answer from os.access, so the case runs where the tests run as root (CI)."""
    journal = tmp_path / "j"
    journal.mkdir(mode=0 if by == "mode" else 0o700)
    if by == "mode" and os.geteuid() == 0:
        pytest.skip(ROOT_READS_ANYTHING)
    if by == "access":
        monkeypatch.setattr("esp_cabundle.commands._paths.os.access", lambda *a, **k: False)
    try:
        r = CliRunner().invoke(cli, ["journal", "list", "--journal-dir", str(journal)])
    finally:
        journal.chmod(0o700)
    assert r.exit_code == 2, r.output
    assert f"{journal}: cannot read the journal directory (Permission denied)" in r.stderr
    assert "Usage:" not in r.output


def test_prune_says_the_age_back_in_its_own_unit(runner: CliRunner, tmp_path: Path) -> None:
    """'0d' is "0 days" (not "0 seconds"), '3w' "3 weeks", '14d' "14 days" (not "2 weeks");
    seconds are refused with the age to give, and nothing is deleted."""
    j = Journal(tmp_path / "j")
    now = datetime.now(timezone.utc)
    done = _entry(j, MAC, "complete", timedelta(days=1), now)
    base = ["journal", "prune", "--journal-dir", str(j.directory)]
    for given, said in [("0d", "0 days"), ("3w", "3 weeks"), ("14d", "14 days"), ("1h", "1 hour")]:
        r = runner.invoke(cli, [*base, "--older-than", given, "--dry-run"])
        assert r.exit_code == 0 and f"older than {said};" in r.stdout, (given, r.output)
    r = runner.invoke(cli, [*base, "--older-than", "0s"])
    assert r.exit_code == 2 and "'0s': seconds are finer than a journal needs" in r.output
    assert "0d for every entry" in r.output
    assert done.path and done.path.exists()
    r = runner.invoke(cli, [*base, "--older-than", "0d"])
    assert r.exit_code == 0 and "deleted 1 entry older than 0 days" in r.stdout
    assert not done.path.exists()
