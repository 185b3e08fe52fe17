"""Several ``push`` processes may share one ledger, from its first moment: two started
together on a new file both made it, and the one that found it half made (SQLite's
header, no tables yet) refused it as "not a campaign ledger" (1 run in 5)."""

from __future__ import annotations

import multiprocessing
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from esp_cabundle.errors import InputError
from esp_cabundle.push.ledger import Ledger

SHA = "ab" * 32


def _open_and_bind(paths: list[str], start: object, out: object) -> None:
    """One of two pushes: each ledger of ``paths`` opened and bound at the moment the
    other process does (the barrier), each result put on ``out``."""
    for path in paths:
        start.wait()  # type: ignore[attr-defined]
        try:
            with Ledger(path) as ledger:
                ledger.bind(ca_sha256=SHA, board="mdash-arduino", ca_path="/ca.pem")
                ledger.enroll([("dev1", "mdash", None)])
            out.put((path, "ok"))  # type: ignore[attr-defined]
        except Exception as e:  # the refusal is what the test reports
            out.put((path, f"{type(e).__name__}: {e}"))  # type: ignore[attr-defined]


def test_two_processes_creating_one_new_ledger_both_succeed(tmp_path: Path) -> None:
    """Two spawned processes (forking a threaded pytest may deadlock on Python 3.12+)
    race on 30 new ledgers, one after another: before the fix 1 race in 5 failed."""
    ctx = multiprocessing.get_context("spawn")
    paths = [str(tmp_path / f"race{i}.db") for i in range(30)]
    start, out = ctx.Barrier(2), ctx.Queue()
    procs = [ctx.Process(target=_open_and_bind, args=(paths, start, out)) for _ in range(2)]
    for p in procs:
        p.start()
    try:
        got = [out.get(timeout=60) for _ in range(2 * len(paths))]
    finally:
        for p in procs:
            p.join(timeout=60)
            if p.is_alive():
                p.kill()
    failed = [(path, said) for path, said in got if said != "ok"]
    assert not failed, failed
    for path in paths:
        with Ledger(path, readonly=True) as ledger:
            assert ledger.meta()["ca_sha256"] == SHA
            assert [r.id for r in ledger.rows()] == ["dev1"]


def _hold_write_lock(path: Path) -> subprocess.Popen[str]:
    """Another process in the middle of a rollback-mode write to ``path`` (SQLite's
    write lock held, its -journal beside), until its stdin is closed."""
    script = (
        "import sqlite3, sys\n"
        "db = sqlite3.connect(sys.argv[1], isolation_level=None)\n"
        "db.execute('BEGIN IMMEDIATE'); db.execute('CREATE TABLE held (a)')\n"
        "print('held', flush=True); sys.stdin.read()\n"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", script, str(path)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert proc.stdout is not None and proc.stdout.readline() == "held\n"
    return proc


def _tableless(path: Path) -> None:
    """A SQLite file without tables, as a creator leaves it before its first commit."""
    db = sqlite3.connect(path)
    db.execute("PRAGMA user_version = 0")
    db.execute("CREATE TABLE x (y)")
    db.execute("DROP TABLE x")
    db.commit()
    db.close()


def test_a_ledger_found_mid_creation_is_read_once_made(tmp_path: Path) -> None:
    """Another process's first commit under way (SQLite's header, no tables yet, its
    -journal beside, its write lock held): read again once it is done, not refused as
    another program's."""
    path = tmp_path / "new.db"
    _tableless(path)
    holder = _hold_write_lock(path)
    journal = tmp_path / "new.db-journal"
    assert journal.exists()

    def finish() -> None:
        time.sleep(0.3)
        with Ledger(tmp_path / "made.db") as made:
            made.bind(ca_sha256=SHA, board="mdash-arduino", ca_path="/ca.pem")
        path.write_bytes((tmp_path / "made.db").read_bytes())
        journal.unlink()
        assert holder.stdin is not None
        holder.stdin.close()  # the holder exits without a commit: its lock goes

    t = threading.Thread(target=finish)
    t.start()
    try:
        with Ledger(path, readonly=True) as ledger:
            assert ledger.meta()["ca_sha256"] == SHA
    finally:
        t.join()
        holder.wait(timeout=30)


@pytest.mark.parametrize("journal_bytes", [b"", b"\xd9\xd5\x05\xf9\x20\xa1\x63\xd7" * 64])
@pytest.mark.parametrize("readonly", [True, False])
def test_a_stale_journal_does_not_delay_a_refusal(
    tmp_path: Path, journal_bytes: bytes, readonly: bool
) -> None:
    """A -journal a crashed process left beside a file that is no ledger (no process
    holds its lock) made the refusal wait 5 s for a ledger being made. Refused at once,
    as without the -journal, and nothing on disk changed (a hot journal not rolled back)."""
    path = tmp_path / "other.db"
    _tableless(path)
    with pytest.raises(InputError) as plain:
        Ledger(path, readonly=readonly)
    journal = tmp_path / "other.db-journal"
    journal.write_bytes(journal_bytes)
    before = {f.name: f.read_bytes() for f in tmp_path.iterdir()}
    started = time.monotonic()
    with pytest.raises(InputError) as stale:
        Ledger(path, readonly=readonly)
    assert time.monotonic() - started < 2.0
    assert str(stale.value) == str(plain.value)
    assert "is not a campaign ledger" in str(stale.value)
    assert stale.value.hint == plain.value.hint
    assert {f.name: f.read_bytes() for f in tmp_path.iterdir()} == before
