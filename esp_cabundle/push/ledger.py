"""The campaign ledger: one SQLite row per unit, safe to share and to kill.

A campaign runs for weeks; the ledger is what survives between runs. It is a SQLite
database in WAL mode (the standard library's ``sqlite3``), file mode 0600, holding for
each unit its state, attempts, last error, the SHA-256 of the CA file found and of the
one written, its firmware version and timestamps. It never holds a key, a password or
a file's content.

Every state change is one committed transaction, so a run killed at any instant
(``kill -9``) leaves a consistent ledger: the next run reads each unit's state and
finishes what was begun. Several ``push`` processes may share one ledger: a process
works on a unit only while it holds the unit's lease, taken in an ``IMMEDIATE``
transaction and renewed as it goes; a lease expires on its own, and one held by a dead
process on this host is taken over at once.
"""

from __future__ import annotations

import os
import socket
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from ..dates import now
from ..errors import InputError, OutputError

__all__ = [
    "DEFAULT_LEDGER",
    "DONE_STATES",
    "STATES",
    "LeaseLost",
    "Ledger",
    "UnitRow",
]

DEFAULT_LEDGER = "cabundle-campaign.db"
STATES = (
    "pending",
    "offline",
    "up-to-date",
    "writing",
    "verified",
    "rebooted",
    "reconnected",
    "failed",
)
DONE_STATES = frozenset({"up-to-date", "verified", "reconnected"})
_SCHEMA_VERSION = "1"
_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS campaign (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS units (
    id TEXT PRIMARY KEY,
    transport TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ({", ".join(repr(s) for s in STATES)})),
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    old_sha256 TEXT,
    new_sha256 TEXT,
    fw_version TEXT,
    first_seen TEXT NOT NULL,
    last_seen TEXT,
    updated_at TEXT NOT NULL,
    done_at TEXT,
    lease_owner TEXT,
    lease_until REAL
);
"""
_COLUMNS = (
    "id, transport, state, attempts, last_error, old_sha256, new_sha256, fw_version, "
    "first_seen, last_seen, updated_at, done_at"
)


class LeaseLost(Exception):
    """Another process took this unit's lease (ours expired): stop touching the unit."""


@dataclass(frozen=True, slots=True)
class UnitRow:
    """One unit as the ledger records it."""

    id: str
    transport: str
    state: str
    attempts: int
    last_error: str | None
    old_sha256: str | None
    new_sha256: str | None
    fw_version: str | None
    first_seen: str
    last_seen: str | None
    updated_at: str
    done_at: str | None

    @property
    def done(self) -> bool:
        return self.state in DONE_STATES

    def to_dict(self) -> dict[str, object]:
        return {name: getattr(self, name) for name in _COLUMNS.replace(" ", "").split(",")}


def _now_text() -> str:
    return now().isoformat(timespec="seconds")


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class Ledger:
    """A campaign ledger file; thread-safe within a process, shareable across processes.

    ``lease_seconds`` bounds how long a unit stays claimed without a renewal.
    """

    def __init__(self, path: str | Path, *, lease_seconds: float = 120.0) -> None:
        self.path = Path(path)
        self.lease_seconds = lease_seconds
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:12]}"
        self._lock = threading.RLock()
        self._db = self._connect()

    # -- opening ----------------------------------------------------------------------

    def _connect(self) -> sqlite3.Connection:
        p = self.path
        if p.exists() and not p.is_file():
            raise InputError(f"{p} is not a file", hint="give --ledger a file path")
        if p.is_file() and p.stat().st_size:
            with p.open("rb") as f:
                if f.read(16) != b"SQLite format 3\x00":
                    raise InputError(
                        f"{p} is not a campaign ledger (not a SQLite database)",
                        hint="give --ledger a new file name, or the ledger a campaign wrote",
                    )
        try:
            fd = os.open(p, os.O_RDWR | os.O_CREAT, 0o600)
            os.close(fd)
            os.chmod(p, 0o600)  # also narrows a ledger created by hand with a wider mode
        except OSError as e:
            raise OutputError(f"cannot open the ledger {p}: {e.strerror}") from e
        try:
            db = sqlite3.connect(p, timeout=30.0, isolation_level=None, check_same_thread=False)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            db.executescript(_SCHEMA)
            db.execute(
                "INSERT OR IGNORE INTO campaign (key, value) VALUES ('schema', ?)",
                (_SCHEMA_VERSION,),
            )
        except sqlite3.DatabaseError as e:
            raise InputError(
                f"{p} is not a campaign ledger ({e})",
                hint="give --ledger a new file name, or the ledger a campaign wrote",
            ) from e
        for suffix in ("-wal", "-shm"):
            side = p.with_name(p.name + suffix)
            if side.exists():
                os.chmod(side, 0o600)
        return db

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        """One IMMEDIATE transaction (the write lock is taken at BEGIN)."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    # -- campaign facts -----------------------------------------------------------------

    def meta(self) -> dict[str, str]:
        with self._lock:
            return dict(self._db.execute("SELECT key, value FROM campaign").fetchall())

    def set_meta(self, key: str, value: str) -> None:
        with self._tx() as db:
            db.execute("INSERT OR REPLACE INTO campaign (key, value) VALUES (?, ?)", (key, value))

    def bind(self, *, ca_sha256: str, board: str, ca_path: str) -> None:
        """Tie the ledger to one CA file: a ledger records one campaign, and a row
        "verified" means "holds this file"."""
        with self._tx() as db:
            have = dict(db.execute("SELECT key, value FROM campaign").fetchall())
            if "ca_sha256" in have and have["ca_sha256"] != ca_sha256:
                raise InputError(
                    f"the ledger {self.path} records a campaign for another CA file "
                    f"(SHA-256 {have['ca_sha256'][:16]}..., this one is {ca_sha256[:16]}...)",
                    hint="give --ledger a new file for the new campaign",
                )
            if "board" in have and have["board"] != board:
                raise InputError(
                    f"the ledger {self.path} records a campaign for board {have['board']}, "
                    f"not {board}",
                    hint="give --ledger a new file, or the campaign's --board",
                )
            for key, value in (
                ("ca_sha256", ca_sha256),
                ("board", board),
                ("ca_path", ca_path),
                ("created_at", _now_text()),
            ):
                db.execute(
                    "INSERT OR IGNORE INTO campaign (key, value) VALUES (?, ?)", (key, value)
                )

    # -- rows ---------------------------------------------------------------------------

    def enroll(self, units: Iterable[tuple[str, str]]) -> None:
        """Add ``(unit id, transport)`` rows as ``pending`` (known units keep their row)."""
        now = _now_text()
        with self._tx() as db:
            db.executemany(
                "INSERT INTO units (id, transport, state, first_seen, updated_at) "
                "VALUES (?, ?, 'pending', ?, ?) "
                "ON CONFLICT (id) DO UPDATE SET transport = excluded.transport",
                [(uid, transport, now, now) for uid, transport in units],
            )

    def rows(self, ids: Sequence[str] | None = None) -> list[UnitRow]:
        """Rows in ``ids`` order (all rows, by id, when None)."""
        with self._lock:
            found = {
                r[0]: UnitRow(*r)
                for r in self._db.execute(f"SELECT {_COLUMNS} FROM units ORDER BY id").fetchall()
            }
        if ids is None:
            return list(found.values())
        return [found[i] for i in ids if i in found]

    def row(self, uid: str) -> UnitRow | None:
        rows = self.rows([uid])
        return rows[0] if rows else None

    def counts(self) -> dict[str, int]:
        with self._lock:
            got = dict(self._db.execute("SELECT state, COUNT(*) FROM units GROUP BY state"))
        return {s: int(got.get(s, 0)) for s in STATES}

    # -- leases -------------------------------------------------------------------------

    def _lease_free(self, owner: str | None, until: float | None, now: float) -> bool:
        if owner is None or until is None or until < now:
            return True
        if owner == self.owner:
            return False
        host, _, rest = owner.partition(":")
        pid_text = rest.split(":", 1)[0]
        if host == socket.gethostname() and pid_text.isdigit():
            pid = int(pid_text)
            return pid == os.getpid() or not _pid_alive(pid)
        return False

    def claim(self, uid: str, states: Iterable[str]) -> UnitRow | None:
        """Take the unit's lease if its state is one of ``states`` and nobody holds it."""
        wanted = frozenset(states)
        now = time.time()
        with self._tx() as db:
            r = db.execute(
                "SELECT state, lease_owner, lease_until FROM units WHERE id = ?", (uid,)
            ).fetchone()
            if r is None or r[0] not in wanted or not self._lease_free(r[1], r[2], now):
                return None
            db.execute(
                "UPDATE units SET lease_owner = ?, lease_until = ? WHERE id = ?",
                (self.owner, now + self.lease_seconds, uid),
            )
        return self.row(uid)

    def renew(self, uid: str) -> None:
        """Extend our lease; LeaseLost if it is no longer ours."""
        with self._tx() as db:
            cur = db.execute(
                "UPDATE units SET lease_until = ? WHERE id = ? AND lease_owner = ?",
                (time.time() + self.lease_seconds, uid, self.owner),
            )
            if cur.rowcount != 1:
                raise LeaseLost(uid)

    def release(self, uid: str) -> None:
        with self._tx() as db:
            db.execute(
                "UPDATE units SET lease_owner = NULL, lease_until = NULL "
                "WHERE id = ? AND lease_owner = ?",
                (uid, self.owner),
            )

    def record(
        self,
        uid: str,
        *,
        state: str | None = None,
        error: str | None = None,
        clear_error: bool = False,
        old_sha256: str | None = None,
        new_sha256: str | None = None,
        fw_version: str | None = None,
        attempt: bool = False,
        seen: bool = False,
    ) -> None:
        """Change a leased unit's row in one transaction (and renew the lease);
        LeaseLost if the lease is no longer ours."""
        if state is not None and state not in STATES:
            raise ValueError(state)
        now = _now_text()
        sets = ["updated_at = ?", "lease_until = ?"]
        args: list[object] = [now, time.time() + self.lease_seconds]
        for column, value in (
            ("state", state),
            ("last_error", error),
            ("old_sha256", old_sha256),
            ("new_sha256", new_sha256),
            ("fw_version", fw_version),
        ):
            if value is not None:
                sets.append(f"{column} = ?")
                args.append(value)
        if clear_error and error is None:
            sets.append("last_error = NULL")
        if attempt:
            sets.append("attempts = attempts + 1")
        if seen:
            sets.append("last_seen = ?")
            args.append(now)
        if state is not None:
            sets.append("done_at = ?")
            args.append(now if state in DONE_STATES else None)
        with self._tx() as db:
            cur = db.execute(
                f"UPDATE units SET {', '.join(sets)} WHERE id = ? AND lease_owner = ?",
                (*args, uid, self.owner),
            )
            if cur.rowcount != 1:
                raise LeaseLost(uid)

    def held_elsewhere(self, ids: Sequence[str]) -> list[str]:
        """Of ``ids``, the units another live process holds a lease on now."""
        now = time.time()
        with self._lock:
            leased = self._db.execute(
                "SELECT id, lease_owner, lease_until FROM units WHERE lease_owner IS NOT NULL"
            ).fetchall()
        wanted = set(ids)
        return [
            uid
            for uid, owner, until in leased
            if uid in wanted and owner != self.owner and not self._lease_free(owner, until, now)
        ]

    def mark_offline(self, uid: str, reason: str) -> bool:
        """A unit the fleet service lists as offline: recorded without a lease, unless
        it is done or someone is working on it. True when the row changed."""
        now = time.time()
        with self._tx() as db:
            r = db.execute(
                "SELECT state, lease_owner, lease_until FROM units WHERE id = ?", (uid,)
            ).fetchone()
            if r is None or r[0] in DONE_STATES or not self._lease_free(r[1], r[2], now):
                return False
            state = r[0] if r[0] in ("writing", "rebooted", "failed") else "offline"
            db.execute(
                "UPDATE units SET state = ?, last_error = ?, updated_at = ? WHERE id = ?",
                (state, reason, _now_text(), uid),
            )
        return True
