"""The SQL campaign ledgers were made with, written out as the releases ran it: the
ledger's check compares an existing ledger's schema text exactly, so tests that build an
old ledger must not derive it from the module's current literals (an edit there, even of
whitespace alone, would then move the test's ledger with it and hide that every ledger
already in use is refused)."""

from __future__ import annotations

__all__ = ["SCHEMA_1", "SCHEMA_2"]

# Schema 2: "unused", address and note.
SCHEMA_2 = """CREATE TABLE IF NOT EXISTS campaign (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS units (
    id TEXT PRIMARY KEY,
    transport TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('pending', 'offline', 'up-to-date', 'writing', 'verified', 'rebooted', 'reconnected', 'failed', 'unused')),
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
"""  # noqa: E501

# Schema 1: before "unused", address and note.
SCHEMA_1 = """CREATE TABLE IF NOT EXISTS campaign (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS units (
    id TEXT PRIMARY KEY,
    transport TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('pending', 'offline', 'up-to-date', 'writing', 'verified', 'rebooted', 'reconnected', 'failed')),
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
"""  # noqa: E501
