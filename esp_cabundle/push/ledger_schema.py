"""The campaign ledger's tables: the states a unit passes through, the SQL a campaign
writes (compared whole when a file is proven a ledger) and the migration from schema 1.
Apart from :mod:`.ledger`, which reads and writes rows, and :mod:`.ledger_open`, which
opens the file."""

from __future__ import annotations

import sqlite3

from .ledger_meta import SCHEMA_VERSION

__all__ = [
    "COLUMNS",
    "DONE_STATES",
    "FINAL_STATES",
    "PROGRESS",
    "READ_AS",
    "STATES",
    "TABLES",
    "create_tables",
    "migrate",
]

STATES = (
    "pending",
    "offline",
    "up-to-date",
    "writing",
    "verified",
    "rebooted",
    "reconnected",
    "failed",
    "unused",
)
DONE_STATES = frozenset({"up-to-date", "verified", "reconnected"})
# Final without being done: the unit's firmware does not read the file pushed.
FINAL_STATES = DONE_STATES | {"unused"}
# How far a unit got, for keeping one of several rows that name it (an older release's,
# its URLs masked: :mod:`.ledger_mask`): a final state, then the steps of a write in the
# order a unit takes them, then the states a next run takes up again.
PROGRESS = {
    "pending": 0,
    "offline": 1,
    "failed": 2,
    "writing": 3,
    "verified": 4,
    "rebooted": 5,
    "reconnected": 6,
    "up-to-date": 6,
    "unused": 6,
}
_UNITS = f"""
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
    lease_until REAL,
    address TEXT,
    note TEXT
);
"""
_CAMPAIGN = "CREATE TABLE IF NOT EXISTS campaign (key TEXT PRIMARY KEY, value TEXT NOT NULL);"
COLUMNS = (
    "id, transport, state, attempts, last_error, old_sha256, new_sha256, fw_version, "
    "first_seen, last_seen, updated_at, done_at, address, note"
)
# Schema 1 (before "unused", address and note): rebuilt in place when opened to write.
_V1_COLUMNS = (
    "id, transport, state, attempts, last_error, old_sha256, new_sha256, fw_version, "
    "first_seen, last_seen, updated_at, done_at, lease_owner, lease_until"
)
# Columns read through an expression: first_seen holds the listing time until the unit
# first answers (the column is NOT NULL), which is no sighting.
READ_AS = {"first_seen": "CASE WHEN last_seen IS NULL THEN NULL ELSE first_seen END"}


def _kept(create: str) -> str:
    """A CREATE statement as SQLite keeps it in sqlite_master (IF NOT EXISTS dropped)."""
    return create.strip().removesuffix(";").replace(" IF NOT EXISTS", "", 1)


# Every table a campaign has written, as SQLite keeps it: schema 2, and schema 1's units
# (before "unused", address and note). A ledger holding anything else is not one. The
# text is compared whole (a CHECK or generated column shows in no PRAGMA): _UNITS stays
# byte for byte as released (tests/support/ledger_schemas.py holds a frozen copy).
TABLES = {
    "campaign": frozenset({_kept(_CAMPAIGN)}),
    "units": frozenset(
        {
            _kept(_UNITS),
            _kept(
                _UNITS.replace(", 'unused'", "").replace(",\n    address TEXT,\n    note TEXT", "")
            ),
        }
    ),
}


def migrate(db: sqlite3.Connection) -> None:
    """Schema 1 -> 2: the units table gains "unused", ``address`` and ``note``; SQLite
    cannot change a CHECK constraint, so the table is rebuilt in one transaction."""
    row = db.execute(
        "SELECT value FROM campaign WHERE key = 'schema'"
        if db.execute("SELECT 1 FROM sqlite_master WHERE name = 'campaign'").fetchone()
        else "SELECT NULL WHERE 0"
    ).fetchone()
    if row is None or row[0] != "1":
        return
    db.execute("BEGIN IMMEDIATE")
    try:
        db.execute("ALTER TABLE units RENAME TO units_v1")
        db.execute(_UNITS)
        db.execute(f"INSERT INTO units ({_V1_COLUMNS}) SELECT {_V1_COLUMNS} FROM units_v1")
        db.execute("DROP TABLE units_v1")
        db.execute("UPDATE campaign SET value = ? WHERE key = 'schema'", (str(SCHEMA_VERSION),))
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")


def create_tables(db: sqlite3.Connection) -> None:
    """A new ledger's tables and schema number, in one exclusive transaction (a file
    another process makes at the same moment is made once, and is never seen with
    SQLite's header but without its tables); a ledger that has them is left as it is.
    Not through ``executescript``, which commits before each statement."""
    db.execute("BEGIN EXCLUSIVE")
    try:
        db.execute(_CAMPAIGN)
        db.execute(_UNITS)
        db.execute(
            "INSERT OR IGNORE INTO campaign (key, value) VALUES ('schema', ?)",
            (str(SCHEMA_VERSION),),
        )
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")
