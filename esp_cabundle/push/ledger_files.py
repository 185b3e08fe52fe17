"""The ledger's file as SQLite keeps it, read without writing: proving a file is a
campaign ledger before anything opens it for writing, reading one read-only, the
-wal/-shm files beside it (where a symlinked ledger's really are), and SQLite's failures
on it in the tool's words. Apart from :mod:`.ledger`, which writes."""

from __future__ import annotations

import contextlib
import os
import sqlite3
import struct
import sys
import time
from collections.abc import Collection, Iterator, Mapping
from pathlib import Path
from urllib.parse import quote

from ..errors import InputError, OutputError
from ..file_kinds import shell_word
from ..text import printable

NOT_A_LEDGER_HINT = "give --ledger a new file name, or the ledger a campaign wrote"
DEFAULT_LEDGER = "cabundle-campaign.db"
_NO_TABLES = "a SQLite database without a campaign's tables"
_MAGIC = b"SQLite format 3\x00"
_MADE_WAIT = 5.0  # seconds a ledger another process is making may take to appear whole
# Bytes of any value (or row) SQLite hands over on a ledger's connection: a unit's text
# columns each at their cap (TEXT_CAP) fit; a longer one is refused unread.
SQLITE_LIMIT = 4 << 20
# Characters of any text the ledger keeps (a unit's text column, the roadmap's kinds).
# The tool writes far less: a firmware version is cut to 120, a unit id to 128 (MQTT) or
# a URL, an error is a message of a few hundred (a unit's reply quoted, a hint); 64 Ki
# leaves room for what a later release may write. Here, not in ledger_rows: ledger_meta
# checks it too, and ledger_rows imports ledger_meta.
TEXT_CAP = 64 * 1024


DAMAGED_HINT = (
    "restore it from a copy, or give --ledger a new file (units that hold the CA file "
    "already are found up to date)"
)


class LedgerDamaged(InputError):
    """SQLite found a page of the ledger's file damaged (a disk error, a copy cut short),
    or a value no campaign writes. ``reread``: whether reading again may find it whole
    (SQLite's error on pages a checkpoint moved under an immutable read); a value read
    whole and refused is refused again, so it is not read again."""

    def __init__(self, message: str, *, hint: str | None = None, reread: bool = True) -> None:
        super().__init__(message, hint=hint)
        self.reread = reread


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
    """SQLite's URI for ``p``: its bytes percent-encoded (a name that is not UTF-8, held
    as surrogate escapes, raised UnicodeEncodeError as text: a traceback from push status)."""
    return f"file:{quote(os.fsencode(p.resolve()))}?{query}"


def side(p: Path, suffix: str) -> Path:
    """The ledger's -wal or -shm where SQLite keeps it: beside the file a symlink leads
    to (SQLite follows it), not beside the link, where none is ever found: a running
    campaign's ledger was then read immutable, without its write-ahead log."""
    real = p.resolve()
    return real.with_name(real.name + suffix)


def _connect(p: Path, query: str) -> sqlite3.Connection:
    return limit_lengths(
        sqlite3.connect(
            uri(p, query), uri=True, timeout=30.0, isolation_level=None, check_same_thread=False
        )
    )


def limit_lengths(db: sqlite3.Connection) -> sqlite3.Connection:
    """``db``, reading no value longer than SQLITE_LIMIT bytes ("string or blob too
    big"): a 250 MB note was read whole, twice over. Python 3.10 has no ``setlimit``:
    there the rows' check (ledger_rows) reads such a value once, then refuses it."""
    setlimit = getattr(db, "setlimit", None)
    if setlimit is not None:
        setlimit(0, SQLITE_LIMIT)  # SQLITE_LIMIT_LENGTH (the constant: 3.11 too)
    return db


def ledger_problem(db: sqlite3.Connection, tables: Mapping[str, Collection[str]]) -> str | None:
    """Why the database open in ``db`` is not a campaign ledger, or None when it is one.

    Its schema must be what a campaign writes: ``tables`` maps each table to the CREATE
    statements (as SQLite keeps them) campaigns have used, and only their primary-key
    indexes and SQLite's own tables may sit beside them. A trigger, view, other index or
    changed table is someone else's SQL, which SQLite would run on the campaign's reads
    and writes (a trigger with a recursive query never ends). Only the schema is read
    before that is known."""
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


def not_a_ledger_hint(p: Path, *, reading: bool = False) -> str:
    """The hint when ``p`` is no campaign ledger. A new file name is a way out for a
    campaign, which makes its ledger, not for a read (``push status``), which never
    makes one: there it names the default ledger beside ``p`` when one lies there."""
    if not reading:
        return NOT_A_LEDGER_HINT
    near = p.parent / DEFAULT_LEDGER
    if os.path.isfile(near) and near.resolve() != p.resolve():
        return (
            f"give --ledger the ledger a campaign wrote, e.g. --ledger "
            f"{shell_word(str(near))} (the one a push run there wrote)"
        )
    return "give --ledger the file a 'push --ledger FILE' run wrote (status never makes one)"


def open_proven(
    p: Path, tables: Mapping[str, Collection[str]], *, reading: bool = False
) -> tuple[sqlite3.Connection, list[tuple[object, object]]]:
    """A read-only connection to ``p`` once it is proven a campaign ledger (see
    :func:`ledger_problem`), and its campaign table's rows read through it: the one
    read a campaign checks before it opens the file to write, and ``push status``
    reads by (closing the connection is the caller's). InputError if it is none.

    Without a -wal beside it (no campaign running) the file holds every row: read
    ``immutable=1``, which creates no -wal/-shm beside it. With one, the file is first
    proven as it is, then read through its log (the newest schema and rows: what a
    campaign opening it sees), so no -shm is made beside a file that is no ledger.
    ``reading``: a read-only open (``push status``), whose refusal hints otherwise."""
    with p.open("rb") as f:
        header = f.read(100)
    if not header.startswith(_MAGIC):
        raise InputError(
            f"{p} is not a campaign ledger (not a SQLite database)",
            hint=not_a_ledger_hint(p, reading=reading),
        )
    give_up = time.monotonic() + _MADE_WAIT
    db = _connect(p, "immutable=1")
    try:
        problem = ledger_problem(db, tables)
        if problem in (None, _NO_TABLES) and os.path.exists(side(p, "-wal")):
            db.close()
            db = _connect(p, "mode=ro")
            problem = ledger_problem(db, tables)
        while problem is not None and being_made(p) and time.monotonic() < give_up:
            # Another process is making this ledger (its first commit, in rollback
            # mode, under way): read it again once that is done.
            time.sleep(0.02)
            db.close()
            db = _connect(p, "mode=ro")
            problem = ledger_problem(db, tables)
        if problem is not None:
            damage = damaged(p, db)
            if damage is not None:
                raise LedgerDamaged(
                    f"the ledger {p} is damaged ({damage}); nothing changed", hint=DAMAGED_HINT
                )
            raise InputError(
                f"{p} is not a campaign ledger ({problem}); nothing changed",
                hint=not_a_ledger_hint(p, reading=reading),
            )
        with sqlite_errors(p):
            rows: list[tuple[object, object]] = db.execute(
                "SELECT key, value FROM campaign"
            ).fetchall()
    except BaseException:
        db.close()
        raise
    return db, rows


def being_made(p: Path) -> bool:
    """Whether a process is writing ``p`` in rollback mode: a campaign writes its ledger
    in WAL mode, so a -journal beside it is a new ledger's first commit under way, if
    a writer holds the file's lock. A -journal a crashed process left (no writer) made
    every refusal of ``p`` wait the whole ``_MADE_WAIT`` first."""
    return os.path.exists(side(p, "-journal")) and _writer_holds(p)


# SQLite's unix lock bytes (os_unix.c): a writer holds RESERVED_BYTE write-locked from
# its first change until its commit is done, its -journal beside the file meanwhile.
_RESERVED_BYTE = 0x40000001


def _writer_holds(p: Path) -> bool:
    """Whether another process holds SQLite's write lock on ``p`` (F_GETLK: asks, takes
    no lock). True when it cannot be told (no fcntl, a file system without locks): then
    a -journal alone says a writer is at work, as before.

    Only while no SQLite connection of this process has ``p`` open (as in
    :func:`open_proven`, before its connection): closing any descriptor of a file drops
    every POSIX lock the process holds on it, SQLite's too (its "Posix advisory locking"
    caveat), which would leave a live connection writing unlocked."""
    try:
        import fcntl  # deferred: POSIX only, and only with a -journal beside a ledger
    except ImportError:
        return True
    if sys.platform == "darwin" or "bsd" in sys.platform:
        layout = "qqihh"  # l_start, l_len, l_pid, l_type, l_whence
        query = struct.pack(layout, _RESERVED_BYTE, 1, 0, fcntl.F_WRLCK, os.SEEK_SET)
        at = 3
    else:  # Linux: l_type, l_whence, l_start, l_len, l_pid (padded to 32 bytes)
        layout = "hhqqi4x"
        query = struct.pack(layout, fcntl.F_WRLCK, os.SEEK_SET, _RESERVED_BYTE, 1, 0)
        at = 0
    try:
        with p.open("rb") as f:
            got = fcntl.fcntl(f.fileno(), fcntl.F_GETLK, query)
    except OSError:
        return True
    return bool(struct.unpack(layout, got)[at] != fcntl.F_UNLCK)


def damaged(p: Path, db: sqlite3.Connection) -> str | None:
    """What shows the SQLite file ``p`` (open in ``db``) damaged, or None: a file cut
    short of the size its header gives, or one SQLite's quick check finds fault with. A
    damaged ledger is to be restored from a copy, where another program's database
    wants another file name: the two are told apart before either is said. Read only
    when the file is refused (the quick check reads every page)."""
    size = p.stat().st_size
    with p.open("rb") as f:
        header = f.read(100)
    if len(header) < 100:
        return f"its file is cut short: {size} bytes, less than SQLite's header"
    page = int.from_bytes(header[16:18], "big")
    page = 65536 if page == 1 else page
    pages = int.from_bytes(header[28:32], "big")
    # The header's page count holds while its change counter matches (SQLite format).
    if header[24:28] == header[92:96] and pages and size < pages * page:
        return f"its file is cut short: {size} bytes, where its header gives {pages * page}"
    if page and size % page:
        return f"its file is cut short: {size} bytes, not a whole number of {page}-byte pages"
    try:
        found = [str(r[0]) for r in db.execute("PRAGMA quick_check(3)")]
    except sqlite3.OperationalError as e:  # locked, or the disk failing: no sign of damage
        with sqlite_errors(p):  # an I/O failure (exit 3), as anywhere else
            raise e from None
    except (sqlite3.DatabaseError, UnicodeDecodeError) as e:
        return str(e)
    return None if found == ["ok"] else "; ".join(found)


def narrow_side_files(p: Path) -> None:
    for suffix in ("-wal", "-shm"):
        path = side(p, suffix)
        if os.path.exists(path):
            with contextlib.suppress(OSError):  # another user's ledger: leave its files be
                os.chmod(path, 0o600)
