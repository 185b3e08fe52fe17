"""A journal folder holding what no update wrote: a FIFO or a device named like an entry.
``journal list`` and ``prune`` hung on a FIFO (its read waited for a writer), and so did
``flash`` and ``restore``, which read the unit's entries first."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from esp_cabundle.cli import cli
from esp_cabundle.errors import InputError
from esp_cabundle.flash.journal import Journal
from esp_cabundle.limits import check_size
from esp_cabundle.text import plural_noun

MAC = "30:ae:a4:00:11:22"
ENTRY = "20260101T000000000000Z-abcd1234.json"


def _special(folder: Path, kind: str) -> Path:
    unit = folder / MAC.replace(":", "")
    unit.mkdir(parents=True)
    path = unit / ENTRY
    if kind == "fifo":
        os.mkfifo(path)
    else:
        path.symlink_to("/dev/zero")
    return path


@pytest.mark.timeout(30)
@pytest.mark.parametrize(("kind", "words"), [("fifo", "FIFO"), ("device", "character device")])
def test_an_entry_that_is_no_file_is_named_not_read(
    tmp_path: Path, runner: CliRunner, kind: str, words: str
) -> None:
    path = _special(tmp_path / "journal", kind)
    for argv in (["list"], ["prune", "--older-than", "1d"]):
        r = runner.invoke(cli, ["journal", *argv, "--journal-dir", str(tmp_path / "journal")])
        assert r.exit_code == 0, r.output
        assert f"cannot read this journal entry: {path}: is a {words}" in r.output
    with pytest.raises(InputError, match=f"is a {words}.*not a regular journal entry"):
        Journal(tmp_path / "journal").entries(MAC)
    assert path.exists()  # left where it is


def test_limits_name_their_noun_in_the_plural() -> None:
    assert plural_noun("journal entry") == "journal entries"
    assert plural_noun("lock file") == "lock files" and plural_noun("key") == "keys"
    with pytest.raises(InputError, match=r"over the 64 MiB limit for journal entries\n"):
        check_size((64 << 20) + 1, 64 << 20, what="journal entry")


def test_a_journal_of_only_unreadable_entries_says_how_many(
    tmp_path: Path, runner: CliRunner
) -> None:
    """'no journaled update' alone hid entries that were there but could not be read;
    --json names each in the same words, whatever was wrong with it."""
    unit = tmp_path / "journal" / "240ac4123456"
    unit.mkdir(parents=True)
    files = {"a.json": "garbage\n", "b.json": '{"format": "x"}\n', "c.json": "[1]\n"}
    for name, text in files.items():
        (unit / name).write_text(text)
    base = ["journal", "list", "--journal-dir", str(tmp_path / "journal")]
    r = runner.invoke(cli, base)
    assert r.exit_code == 0, r.output
    assert "no journaled update (3 unreadable entries, warned of above)" in r.stdout
    r = runner.invoke(cli, [*base, "--json"])
    unreadable = json.loads(r.stdout)["unreadable"]
    assert [u.split(": ")[:2] for u in unreadable] == [
        ["cannot read this journal entry", str(unit / name)] for name in sorted(files)
    ]
    assert {p.name: p.read_text() for p in unit.iterdir()} == files


def _entry_bytes() -> bytes:
    """A valid pending entry of MAC, made as flash makes one."""
    from datetime import datetime, timezone

    from esp_cabundle.flash.journal import JournalEntry, JournalPartition, JournalSector

    sector = JournalSector(0x290000, b"\xff" * 4096, b"\x00" * 4096)
    part = JournalPartition("spiffs", 0x290000, 0x160000, "spiffs", (sector,), ())
    when = datetime(2026, 1, 1, tzinfo=timezone.utc)
    entry = JournalEntry(
        "abcd1234", when, MAC, "esp32", "/dev/ttyUSB0", "mdash-arduino", "0" * 64, (part,)
    )
    return json.dumps(entry.to_json()).encode()


def test_prune_never_deletes_through_a_linked_folder(tmp_path: Path, runner: CliRunner) -> None:
    """A folder in the journal that is a symbolic link to another (a backup of entries, a
    shared folder): prune deleted the entries there, outside the journal, then failed
    on the link (exit 3). It is now named and left alone, and so is what it names."""
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / ENTRY).write_bytes(_entry_bytes())
    journal = tmp_path / "journal"
    journal.mkdir()
    (journal / "linked").symlink_to(outside)
    for argv in (["list"], ["prune", "--older-than", "0d", "--unfinished"]):
        r = runner.invoke(cli, ["journal", *argv, "--journal-dir", str(journal)])
        assert r.exit_code == 0, r.output
        assert "cannot read this journal entry: linked: a symbolic link to a folder" in r.output
        assert "Traceback" not in r.output
    assert (outside / ENTRY).read_bytes() == _entry_bytes()
    assert (journal / "linked").is_symlink()


def test_a_unit_folder_that_is_a_link_keeps_its_entries(tmp_path: Path) -> None:
    """flash drops an entry that wrote nothing (Journal.remove): never through a link."""
    from esp_cabundle.errors import OutputError

    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / ENTRY).write_bytes(_entry_bytes())
    (tmp_path / "journal").mkdir()
    (tmp_path / "journal" / MAC.replace(":", "")).symlink_to(outside)
    journal = Journal(tmp_path / "journal")
    [entry] = journal.entries(MAC)
    with pytest.raises(OutputError, match="not deleted: its folder is a symbolic link"):
        journal.remove(entry)
    assert (outside / ENTRY).read_bytes() == _entry_bytes()
