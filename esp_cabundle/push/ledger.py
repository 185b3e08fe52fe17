"""The campaign ledger: one SQLite row per unit, safe to share and to kill.

A campaign runs for weeks; the ledger is what survives between runs. It is a SQLite
database in WAL mode (the standard library's ``sqlite3``), file mode 0600, holding for
each unit its state, attempts, last error, the SHA-256 of the CA file found and of the
one written, its firmware version and timestamps. It never holds a key, a password or
a file's content. ``first_seen`` is when the unit first answered: the column (NOT NULL
since schema 1) holds the time it was listed until then, and every read shows None for
a unit that never answered (``last_seen`` unset), so no schema change was needed. A
unit reached by address (a LAN unit's URL) is keyed by the device id it reports, with
the URL kept as its ``address``.

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
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from ..arguments import require_path
from ..dates import now
from .ledger_files import DEFAULT_LEDGER, sqlite_errors
from .ledger_mask import Masking, mask_stored
from .ledger_meta import checked_meta
from .ledger_open import AnotherCampaign, check_ledger, open_ledger, refuse_another_campaign
from .ledger_schema import COLUMNS, DONE_STATES, FINAL_STATES, READ_AS, STATES
from .urls import shown_address, shown_text

__all__ = [
    "DEFAULT_LEDGER",
    "DONE_STATES",
    "FINAL_STATES",
    "STATES",
    "AnotherCampaign",
    "LeaseLost",
    "Ledger",
    "UnitRow",
    "check_ledger",
]


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
    first_seen: str | None  # when it first answered; None: never has
    last_seen: str | None
    updated_at: str
    done_at: str | None
    address: str | None = None  # where the unit was reached, when it is not its id (a URL)
    note: str | None = None  # e.g. why a unit is "unused"

    @property
    def done(self) -> bool:
        return self.state in DONE_STATES

    def shown(self) -> UnitRow:
        """The row as outputs show it: a stored URL with each query value masked, as
        :meth:`Ledger.shown_exprs` reads it (a ledger written before kept the values)."""
        stored = (self.id, self.address)
        return replace(
            self,
            id=str(shown_address(self.id)),
            address=self.address and str(shown_address(self.address)),
            last_error=self.last_error and str(shown_text(self.last_error, *stored)),
            note=self.note and str(shown_text(self.note, *stored)),
        )

    def to_dict(self) -> dict[str, object]:
        return {name: getattr(self, name) for name in COLUMNS.replace(" ", "").split(",")}


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

    def __init__(
        self, path: str | Path, *, lease_seconds: float = 120.0, readonly: bool = False
    ) -> None:
        require_path(path, "Ledger")  # bytes failed in Path() with a raw TypeError
        self.path = Path(path)
        self.lease_seconds = lease_seconds
        self.readonly = readonly
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:12]}"
        self._lock = threading.RLock()
        self._facts: dict[str, str] = {}  # a read-only ledger's, as checked when opened
        # unit_exprs(), read once: the columns only change when the ledger is opened
        # (migrate() adds, never drops, so one migrated by another process still reads).
        self._exprs: list[str] | None = None
        self.masking = Masking()  # what bind() did to an older release's stored URLs
        self._db = self._connect()

    # -- opening ----------------------------------------------------------------------

    def _connect(self) -> sqlite3.Connection:
        db, self._facts = open_ledger(self.path, readonly=self.readonly)
        self._exprs = None  # opening may have migrated the schema
        # For shown_exprs(): outputs mask a stored URL's query values.
        db.create_function("shown_address", 1, shown_address, deterministic=True)
        db.create_function("shown_text", 3, shown_text, deterministic=True)
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
        with self._lock, sqlite_errors(self.path):
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    # -- campaign facts -----------------------------------------------------------------

    def meta(self) -> dict[str, str]:
        """The campaign's facts, each checked (:func:`.ledger_meta.checked_meta`). A
        read-only ledger's were read when it was opened: it writes none."""
        if self.readonly:
            return dict(self._facts)
        with self._lock, sqlite_errors(self.path):
            rows = self._db.execute("SELECT key, value FROM campaign").fetchall()
        return checked_meta(self.path, rows)

    def set_meta(self, key: str, value: str) -> None:
        with self._tx() as db:
            db.execute("INSERT OR REPLACE INTO campaign (key, value) VALUES (?, ?)", (key, value))

    def delete_meta(self, *keys: str) -> None:
        self.set_metas({}, delete=keys)

    def set_metas(self, values: dict[str, str], *, delete: Sequence[str] = ()) -> None:
        """Write ``values`` and drop ``delete`` in one transaction: facts read as a pair
        (failing_since and the roadmap's date beside it) are never left half written."""
        with self._tx() as db:
            for key in delete:
                db.execute("DELETE FROM campaign WHERE key = ?", (key,))
            for key, value in values.items():
                db.execute(
                    "INSERT OR REPLACE INTO campaign (key, value) VALUES (?, ?)", (key, value)
                )

    def bind(self, *, ca_sha256: str, board: str, ca_path: str) -> dict[str, str]:
        """Tie the ledger to one CA file: a ledger records one campaign, and a row
        "verified" means "holds this file". The campaign's facts once bound, read and
        checked in the binding's transaction: another process may have written them
        since the ledger was opened, and the run goes on from them. A ledger an
        older release wrote has its stored URLs masked as this one stores them
        (:func:`.ledger_mask.mask_stored`), in the same transaction; ``masking`` says
        what was done."""
        with self._tx() as db:
            have = checked_meta(self.path, db.execute("SELECT key, value FROM campaign").fetchall())
            refuse_another_campaign(self.path, have, ca_sha256=ca_sha256, board=board)
            masking = mask_stored(db, lambda o, until: self._lease_free(o, until, time.time()))
            for key, value in (
                ("ca_sha256", ca_sha256),
                ("board", board),
                ("ca_path", ca_path),
                ("created_at", _now_text()),
            ):
                db.execute(
                    "INSERT OR IGNORE INTO campaign (key, value) VALUES (?, ?)", (key, value)
                )
                have.setdefault(key, value)
        self.masking = masking  # committed
        if masking.masked or masking.dropped:
            self._checkpoint()
        return have

    def retake_held(self) -> frozenset[str]:
        """The masked URLs of :attr:`Masking.held` whose rows a running campaign still
        leases. A unit whose lease has ended is masked now, as bind would have
        (:func:`.ledger_mask.mask_stored`), its row then this run's to report and (a
        watch) to take up; read first, so that a run waiting on a lease writes nothing."""
        held = self.masking.held
        if not held:
            return held
        now, marks = time.time(), ", ".join("?" * len(held))
        with self._lock, sqlite_errors(self.path):
            leases = self._db.execute(
                "SELECT id, lease_owner, lease_until FROM units "
                f"WHERE lease_owner IS NOT NULL AND (instr(id, '?') OR id IN ({marks}))",
                tuple(held),
            ).fetchall()
        still = {
            str(shown_address(uid))
            for uid, owner, until in leases
            if not self._lease_free(owner, until, now)
        }
        if held <= still:
            return held
        with self._tx() as db:
            got = mask_stored(db, lambda o, until: self._lease_free(o, until, time.time()))
        self.masking = replace(self.masking, held=got.held)
        if got.masked or got.dropped:
            self._checkpoint()
        return got.held

    def _checkpoint(self) -> None:
        """Copy the WAL into the file and empty it: the pages masking zeroed
        (``secure_delete``) only overwrite the old ones, values and all, in the file at a
        checkpoint, and a run killed before it closes the ledger would leave them there
        and in the WAL. Best effort: a reader of the other run's holding the WAL lets it
        end short, and the checkpoint at close (or that run's) completes it."""
        with self._lock, sqlite_errors(self.path):
            self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()

    # -- rows ---------------------------------------------------------------------------

    def enroll(self, units: Iterable[tuple[str, str, str | None]]) -> None:
        """Add ``(unit id, transport, address)`` rows as ``pending``; known units keep
        their row, with the transport and address they were reached by this time."""
        now, rows = _now_text(), list(units)
        with self._tx() as db:
            db.executemany(
                "INSERT INTO units (id, transport, state, first_seen, updated_at, address) "
                "VALUES (?, ?, 'pending', ?, ?, ?) "
                "ON CONFLICT (id) DO UPDATE SET transport = excluded.transport, "
                "address = COALESCE(excluded.address, address)",
                [(uid, transport, now, now, address) for uid, transport, address in rows],
            )
            _move_addresses(db, ((uid, a) for uid, _, a in rows if a is not None))

    def known_at(self, address: str) -> str | None:
        """The id of the unit last reached at ``address`` (a LAN unit's URL), if any:
        one row at most holds an address (see :func:`_move_addresses`); the newest of
        several is for ledgers written before that."""
        with self._lock, sqlite_errors(self.path):
            r = self._db.execute(
                "SELECT id FROM units WHERE address = ? AND id != ? "
                "ORDER BY updated_at DESC LIMIT 1",
                (address, address),
            ).fetchone()
        return str(r[0]) if r else None

    def adopt(self, uid: str, address: str) -> bool:
        """The unit at ``address`` reports device id ``uid``: a row an earlier run kept
        under the address (it could not ask the unit) becomes ``uid``'s, or is dropped
        when ``uid`` already has one. False when that row is leased elsewhere (left)."""
        now = time.time()
        with self._tx() as db:
            r = db.execute(
                "SELECT lease_owner, lease_until FROM units WHERE id = ?", (address,)
            ).fetchone()
            if r is None or uid == address:
                return True
            if not self._lease_free(r[0], r[1], now):
                return False
            if db.execute("SELECT 1 FROM units WHERE id = ?", (uid,)).fetchone():
                db.execute("DELETE FROM units WHERE id = ?", (address,))
            else:
                db.execute(
                    "UPDATE units SET id = ?, address = ? WHERE id = ?", (uid, address, address)
                )
            _move_addresses(db, [(uid, address)])
        return True

    def unit_columns(self) -> str:
        """The SELECT list of a :class:`UnitRow`, as this ledger's units table has them."""
        return ", ".join(self.unit_exprs())

    def unit_exprs(self) -> list[str]:
        """:meth:`unit_columns`, an expression per field (asked of SQLite once: a pass
        reads a row twice per unit)."""
        with self._lock:
            if self._exprs is None:
                with sqlite_errors(self.path):
                    have = {r[1] for r in self._db.execute("PRAGMA table_info(units)")}
                # A schema-1 ledger read by ``push status`` has no address or note yet.
                self._exprs = [
                    READ_AS.get(c, c) if c in have else "NULL" for c in COLUMNS.split(", ")
                ]
            return list(self._exprs)

    def shown_exprs(self) -> list[str]:
        """:meth:`unit_exprs` as outputs show a row: a stored URL (the address, an id that
        is one, either quoted in the error or note) with each query value masked
        (:func:`~.urls.shown_address`), for a ledger written before the URL was kept so."""
        exprs = dict(zip(COLUMNS.split(", "), self.unit_exprs(), strict=True))
        uid, address = exprs["id"], exprs["address"]
        # Python is called only for a row whose id or address holds a query.
        query = f"instr({uid}, '?') OR instr(ifnull({address}, ''), '?')"
        for c in ("last_error", "note"):
            e = exprs[c]
            exprs[c] = f"CASE WHEN {query} THEN shown_text({e}, {uid}, {address}) ELSE {e} END"
        for c in ("id", "address"):
            e = exprs[c]
            exprs[c] = f"CASE WHEN instr({e}, '?') THEN shown_address({e}) ELSE {e} END"
        return list(exprs.values())

    def select(self, sql: str, args: Sequence[object] = ()) -> Iterator[tuple[Any, ...]]:
        """A read query's rows one at a time: ``push status`` on a fleet of millions holds
        only what it shows."""
        with self._lock, sqlite_errors(self.path):
            yield from self._db.execute(sql, args)

    def select_batches(
        self, sql: str, args: Sequence[object] = (), size: int = 1024
    ) -> Iterator[list[tuple[Any, ...]]]:
        """A read query's rows ``size`` at a time: ``push status --json``/``--csv`` write
        millions of rows, where one generator step per row costs seconds."""
        with self._lock, sqlite_errors(self.path):
            cur = self._db.execute(sql, args)
            while batch := cur.fetchmany(size):
                yield batch

    def rows(self, ids: Sequence[str] | None = None) -> list[UnitRow]:
        """Rows in ``ids`` order (all rows, by id, when None)."""
        cols = self.unit_columns()
        with self._lock, sqlite_errors(self.path):
            found = {
                r[0]: UnitRow(*r)
                for r in self._db.execute(f"SELECT {cols} FROM units ORDER BY id").fetchall()
            }
        if ids is None:
            return list(found.values())
        return [found[i] for i in ids if i in found]

    def row(self, uid: str) -> UnitRow | None:
        """One unit's row, asked of SQLite by id: called twice per unit in a pass, where
        reading every row (as :meth:`rows` does) made a 3000-unit pass quadratic."""
        cols = self.unit_columns()
        with self._lock, sqlite_errors(self.path):
            got = self._db.execute(f"SELECT {cols} FROM units WHERE id = ?", (uid,)).fetchone()
        return UnitRow(*got) if got else None

    def counts(self) -> dict[str, int]:
        with self._lock, sqlite_errors(self.path):
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
        note: str | None = None,
        clear_note: bool = False,
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
            ("note", note),
        ):
            if value is not None:
                sets.append(f"{column} = ?")
                args.append(value)
        if clear_error and error is None:
            sets.append("last_error = NULL")
        if clear_note and note is None:
            sets.append("note = NULL")
        if attempt:
            sets.append("attempts = attempts + 1")
        if seen:
            # SET reads the row as it was: a unit's first answer sets first_seen.
            sets.append("first_seen = CASE WHEN last_seen IS NULL THEN ? ELSE first_seen END")
            sets.append("last_seen = ?")
            args.extend((now, now))
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
        with self._lock, sqlite_errors(self.path):
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
            if r is None or r[0] in FINAL_STATES or not self._lease_free(r[1], r[2], now):
                return False
            state = r[0] if r[0] in ("writing", "rebooted", "failed") else "offline"
            db.execute(
                "UPDATE units SET state = ?, last_error = ?, updated_at = ? WHERE id = ?",
                (state, reason, _now_text(), uid),
            )
        return True


def _move_addresses(db: sqlite3.Connection, held: Iterable[tuple[str, str]]) -> None:
    """Each ``(unit id, address)``: the address (a LAN unit's URL, which DHCP hands on) is
    that unit's now, and no other row's; ``updated_at`` ties within a second."""
    db.executemany(
        "UPDATE units SET address = NULL WHERE address = ? AND id != ? AND id != address",
        [(address, uid) for uid, address in held if uid != address],
    )
