"""The ledger's file as SQLite keeps it, read without writing: proving a file is a
campaign ledger before anything opens it for writing, reading one read-only, and the
-wal/-shm files beside it (where a symlinked ledger's really are). Apart from
:mod:`.ledger`, which writes."""

from __future__ import annotations

import contextlib
import os
import sqlite3
from pathlib import Path
from urllib.parse import quote

from ..errors import InputError

NOT_A_LEDGER_HINT = "give --ledger a new file name, or the ledger a campaign wrote"


def uri(p: Path, query: str) -> str:
    return f"file:{quote(str(p.resolve()))}?{query}"


def side(p: Path, suffix: str) -> Path:
    """The ledger's -wal or -shm where SQLite keeps it: beside the file a symlink leads
    to (SQLite follows it), not beside the link, where none is ever found: a running
    campaign's ledger was then read immutable, without its write-ahead log."""
    real = p.resolve()
    return real.with_name(real.name + suffix)


def is_ledger(uri: str) -> bool:
    try:
        db = sqlite3.connect(uri, uri=True, timeout=30.0)
        try:
            tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
            if not {"campaign", "units"} <= tables:
                return False
            return db.execute("SELECT 1 FROM campaign WHERE key = 'schema'").fetchone() is not None
        finally:
            db.close()
    except sqlite3.DatabaseError:
        return False


def prove_ledger(p: Path) -> None:
    """InputError unless ``p`` is a campaign ledger; reads only. ``immutable=1`` reads
    the file as it is, creating no -wal/-shm beside it; a ledger whose tables are still
    only in its write-ahead log (a first campaign running) already has those files,
    and is read through them."""
    with p.open("rb") as f:
        if f.read(16) != b"SQLite format 3\x00":
            raise InputError(
                f"{p} is not a campaign ledger (not a SQLite database)", hint=NOT_A_LEDGER_HINT
            )
    if is_ledger(uri(p, "immutable=1")):
        return
    if side(p, "-wal").exists() and is_ledger(uri(p, "mode=ro")):
        return
    raise InputError(
        f"{p} is not a campaign ledger (a SQLite database without a campaign's tables); "
        "nothing changed",
        hint=NOT_A_LEDGER_HINT,
    )


def open_readonly(p: Path) -> sqlite3.Connection:
    """Without a -wal beside it (no campaign running) the file holds every row: read it
    immutable, so ``push status`` leaves no -wal/-shm behind; with one, through them."""
    live = side(p, "-wal").exists()
    try:
        db = sqlite3.connect(
            uri(p, "mode=ro" if live else "immutable=1"), uri=True, timeout=30.0,
            isolation_level=None, check_same_thread=False,
        )  # fmt: skip
        db.execute("SELECT 1 FROM units LIMIT 1").fetchall()
    except sqlite3.DatabaseError as e:
        raise InputError(f"cannot read the ledger {p} ({e})", hint=NOT_A_LEDGER_HINT) from e
    narrow_side_files(p)  # reading a WAL ledger opens its -wal/-shm
    return db


def narrow_side_files(p: Path) -> None:
    for suffix in ("-wal", "-shm"):
        path = side(p, suffix)
        if path.exists():
            with contextlib.suppress(OSError):  # another user's ledger: leave its files be
                os.chmod(path, 0o600)
