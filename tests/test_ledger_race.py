"""Several ``push`` processes may share one ledger, from its first moment: two started
together on a new file both made it, and the one that found it half made (SQLite's
header, no tables yet) refused it as "not a campaign ledger" (1 run in 5)."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

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


def test_a_ledger_found_mid_creation_is_read_once_made(tmp_path: Path) -> None:
    """Another process's first commit under way (SQLite's header, no tables yet, its
    -journal beside): read again once it is done, not refused as another program's."""
    import sqlite3
    import threading
    import time

    path = tmp_path / "new.db"
    db = sqlite3.connect(path)
    db.execute("PRAGMA user_version = 0")
    db.execute("CREATE TABLE x (y)")
    db.execute("DROP TABLE x")  # a SQLite file without tables, as a creator leaves it
    db.commit()
    db.close()
    journal = tmp_path / "new.db-journal"
    journal.write_bytes(b"")

    def finish() -> None:
        time.sleep(0.3)
        with Ledger(tmp_path / "made.db") as made:
            made.bind(ca_sha256=SHA, board="mdash-arduino", ca_path="/ca.pem")
        path.write_bytes((tmp_path / "made.db").read_bytes())
        journal.unlink()

    t = threading.Thread(target=finish)
    t.start()
    try:
        with Ledger(path, readonly=True) as ledger:
            assert ledger.meta()["ca_sha256"] == SHA
    finally:
        t.join()
