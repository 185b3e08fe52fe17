"""The mtime write_all_atomic gives the files it writes, set once everything else is done
(backups unlinked too), on the file itself (never through a link swapped in), so that a
directory a make rule lists as an input is not newer than an output written into it;
an unchanged output is stamped only in a directory the caller read that is newer."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from esp_cabundle import fileio
from esp_cabundle.fileio import write_all_atomic

OLD_NS = 1_000_000_000 * 10**9  # 2001


def _aged(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    path.chmod(0o644)
    os.utime(path, ns=(OLD_NS, OLD_NS))
    return path


def _after_discard(monkeypatch: pytest.MonkeyPatch, then: Callable[[], None]) -> None:
    """``then`` run right after the backups are unlinked (and a clock tick passed)."""
    discard = fileio._discard

    def slow(todo: list[fileio._Item]) -> None:
        time.sleep(0.05)  # a later tick than any stamp given before it
        discard(todo)
        then()

    monkeypatch.setattr(fileio, "_discard", slow)


def test_a_replaced_file_is_stamped_after_its_backup_is_unlinked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Reviewer item 2: the stamp came before the backup hard link beside the file was
    unlinked, which made the directory newer than the file again."""
    ca = _aged(tmp_path / "data" / "ca.pem", b"old\n")
    _after_discard(monkeypatch, lambda: None)
    assert write_all_atomic([(ca, b"new\n")]) == ()
    assert ca.read_bytes() == b"new\n"
    assert ca.stat().st_mtime_ns >= ca.parent.stat().st_mtime_ns


def test_the_stamp_never_follows_a_link_swapped_in_after_the_rename(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Reviewer item 2: between the rename and the stamp, someone able to write the
    directory puts a symlink where the output was; its target keeps its mtime."""
    ca = _aged(tmp_path / "data" / "ca.pem", b"old\n")
    victim = _aged(tmp_path / "victim", b"not ours\n")

    def swap() -> None:
        ca.unlink()
        ca.symlink_to(victim)

    _after_discard(monkeypatch, swap)
    write_all_atomic([(ca, b"new\n")])
    assert victim.stat().st_mtime_ns == OLD_NS


def test_an_output_named_through_a_users_link_stamps_the_file_it_leads_to(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The link the user made is followed (its target replaced); that target is the
    file stamped, after everything else was done in its directory."""
    real = _aged(tmp_path / "real" / "ca.pem", b"old\n")
    link = tmp_path / "data" / "ca.pem"
    link.parent.mkdir()
    link.symlink_to(real)
    _after_discard(monkeypatch, lambda: None)
    write_all_atomic([(link, b"new\n")])
    assert link.is_symlink() and real.read_bytes() == b"new\n"
    assert real.stat().st_mtime_ns >= real.parent.stat().st_mtime_ns


def test_an_unchanged_output_is_stamped_only_in_a_newer_directory_read(tmp_path: Path) -> None:
    """Reviewer item 1: data/ca.pem left unchanged while data/ (read: a from_dir) got a
    new file stayed older than data/, and make built again for ever. Only such a file
    is stamped: one elsewhere, or not older than its directory, keeps its mtime."""
    in_read = _aged(tmp_path / "data" / "ca.pem", b"ca\n")
    elsewhere = _aged(tmp_path / "main" / "ca.pem", b"ca\n")
    (tmp_path / "main" / "new.h").write_text("")  # main/ newer too, but not read
    newer = _aged(tmp_path / "conf" / "ca.pem", b"ca\n")
    os.utime(newer.parent, ns=(OLD_NS - 10**9, OLD_NS - 10**9))
    outs = [(in_read, b"ca\n"), (elsewhere, b"ca\n"), (newer, b"ca\n")]
    kept = write_all_atomic(outs, read_dirs=[tmp_path / "data", tmp_path / "conf"])
    assert kept == (in_read, elsewhere, newer)  # no bytes rewritten
    assert in_read.stat().st_mtime_ns >= in_read.parent.stat().st_mtime_ns
    assert elsewhere.stat().st_mtime_ns == OLD_NS
    assert newer.stat().st_mtime_ns == OLD_NS


def test_without_read_dirs_an_unchanged_output_keeps_its_mtime(tmp_path: Path) -> None:
    ca = _aged(tmp_path / "data" / "ca.pem", b"ca\n")
    (tmp_path / "data" / "new.json").write_text("{}")
    assert write_all_atomic([(ca, b"ca\n")]) == (ca,)
    assert ca.stat().st_mtime_ns == OLD_NS
