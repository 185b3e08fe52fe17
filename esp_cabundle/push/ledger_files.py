"""The ledger's file as SQLite keeps it, read without writing: proving a file is a
campaign ledger before anything opens it for writing, reading one read-only, the
-wal/-shm files beside it (where a symlinked ledger's really are), and SQLite's failures
on it in the tool's words. Apart from :mod:`.ledger`, which writes."""

from __future__ import annotations

import contextlib
import os
import sqlite3
from collections.abc import Collection, Iterator, Mapping
from pathlib import Path
from urllib.parse import quote

from ..errors import InputError, OutputError
from ..text import printable

NOT_A_LEDGER_HINT = "give --ledger a new file name, or the ledger a campaign wrote"
_NO_TABLES = "a SQLite database without a campaign's tables"


DAMAGED_HINT = (
    "restore it from a copy, or give --ledger a new file (units that hold the CA file "
    "already are found up to date)"
)


class LedgerDamaged(InputError):
    """SQLite found a page of the ledger's file damaged (a disk error, a copy cut short)."""


@contextlib.contextmanager
def sqlite_errors(p: Path) -> Iterator[None]:
    """SQLite's failures on the ledger ``p`` as the tool's errors, never a traceback: a
    file SQLite cannot lock or write (busy past the timeout, a full or failing disk) is
    an I/O failure (exit 3), any other a damaged file (exit 2)."""
    try:
        yield
    except sqlite3.OperationalError as e:
        if str(e).startswith("Could not decode"):  # text that is not UTF-8: a damaged row
            raise LedgerDamaged(f"the ledger {p} is damaged ({e})", hint=DAMAGED_HINT) from e
        raise OutputError(
            f"the ledger {p}: {e}",
            hint="another process may hold it, or its disk be full or failing; run again",
        ) from e
    except (sqlite3.DatabaseError, UnicodeDecodeError) as e:
        raise LedgerDamaged(f"the ledger {p} is damaged ({e})", hint=DAMAGED_HINT) from e


def uri(p: Path, query: str) -> str:
    return f"file:{quote(str(p.resolve()))}?{query}"


def side(p: Path, suffix: str) -> Path:
    """The ledger's -wal or -shm where SQLite keeps it: beside the file a symlink leads
    to (SQLite follows it), not beside the link, where none is ever found: a running
    campaign's ledger was then read immutable, without its write-ahead log."""
    real = p.resolve()
    return real.with_name(real.name + suffix)


def ledger_problem(uri: str, tables: Mapping[str, Collection[str]]) -> str | None:
    """Why the database at ``uri`` is not a campaign ledger, or None when it is one.

    Its schema must be what a campaign writes: ``tables`` maps each table to the CREATE
    statements (as SQLite keeps them) campaigns have used, and only their primary-key
    indexes and SQLite's own tables may sit beside them. A trigger, view, other index or
    changed table is someone else's SQL, which SQLite would run on the campaign's reads
    and writes (a trigger with a recursive query never ends). Only the schema is read
    before that is known."""
    try:
        db = sqlite3.connect(uri, uri=True, timeout=30.0)
        try:
            schema = db.execute("SELECT type, name, sql FROM sqlite_master").fetchall()
            if not set(tables) <= {name for kind, name, _ in schema if kind == "table"}:
                return _NO_TABLES
            for kind, name, sql in schema:
                problem = _foreign(kind, name, sql, tables)
                if problem is not None:
                    return f"a SQLite database {problem}"
            if db.execute("SELECT 1 FROM campaign WHERE key = 'schema'").fetchone() is None:
                return _NO_TABLES
            return None
        finally:
            db.close()
    except (sqlite3.DatabaseError, UnicodeDecodeError):  # a schema that does not read
        return _NO_TABLES


def _foreign(
    kind: str, name: str, sql: str | None, tables: Mapping[str, Collection[str]]
) -> str | None:
    """What in one ``sqlite_master`` row is not a campaign's, or None."""
    if kind == "table" and name in tables:
        return None if sql in tables[name] else f"whose table '{name}' is not a campaign's"
    if kind == "index" and name in {f"sqlite_autoindex_{t}_1" for t in tables}:
        return None  # a table's PRIMARY KEY
    if kind == "table" and name.startswith("sqlite_"):
        return None  # SQLite's own (sqlite_stat1 after an ANALYZE)
    return f"holding {kind} '{printable(name)}', which no campaign writes"


def prove_ledger(p: Path, tables: Mapping[str, Collection[str]]) -> None:
    """InputError unless ``p`` is a campaign ledger (see :func:`ledger_problem`); reads
    only. ``immutable=1`` reads the file as it is, creating no -wal/-shm beside it; a
    ledger with a write-ahead log (a campaign running) already has those files, and is
    read through them too."""
    with p.open("rb") as f:
        if f.read(16) != b"SQLite format 3\x00":
            raise InputError(
                f"{p} is not a campaign ledger (not a SQLite database)", hint=NOT_A_LEDGER_HINT
            )
    problem = ledger_problem(uri(p, "immutable=1"), tables)
    if problem in (None, _NO_TABLES) and side(p, "-wal").exists():
        # the log holds the newest schema: what a campaign opening the file would see
        problem = ledger_problem(uri(p, "mode=ro"), tables)
    if problem is None:
        return
    raise InputError(
        f"{p} is not a campaign ledger ({problem}); nothing changed", hint=NOT_A_LEDGER_HINT
    )


def read_campaign(p: Path) -> list[tuple[object, object]]:
    """The campaign table's rows of the proven ledger ``p``, read without writing (no
    side file made): checked before a campaign opens the file to write."""
    live = side(p, "-wal").exists()  # a campaign running: its newest rows are in the log
    db = sqlite3.connect(uri(p, "mode=ro" if live else "immutable=1"), uri=True, timeout=30.0)
    try:
        with sqlite_errors(p):
            return db.execute("SELECT key, value FROM campaign").fetchall()
    finally:
        db.close()


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
