"""The rows' check passes a unit's SHA-256 equal to one its campaign table names without
its GLOB (2 million rows: 9 s of checking down to 4): only values the whole rule passes
are named, so the check stays as strict. Its other cases: tests/test_ledger_rows.py."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from esp_cabundle.push import ledger_rows
from esp_cabundle.push.ledger import Ledger
from esp_cabundle.push.ledger_files import LedgerDamaged
from esp_cabundle.push.ledger_rows import check_units

NEW, OLD = "ab" * 32, "cd" * 32


def _ledger(path: Path, named: list[str], column: str, value: object) -> sqlite3.Connection:
    """A ledger whose campaign table names ``named`` (as goes_dark keys, written by hand:
    opening it would refuse a bad one first) and whose unit dev-2 holds ``value`` in
    ``column``; the connection the check reads it through."""
    with Ledger(path) as ledger:
        ledger.bind(ca_sha256=NEW, board="mongoose-os-esp32", ca_path="/ca.pem")
        ledger.enroll([("dev-1", "mqtt", None), ("dev-2", "mqtt", None)])
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA ignore_check_constraints=1")
    for sha in named:
        db.execute("INSERT INTO campaign (key, value) VALUES (?, 'none')", ("goes_dark:" + sha,))
    db.execute(f"UPDATE units SET {column} = ? WHERE id = 'dev-2'", (value,))
    return db


@pytest.mark.parametrize("column", ["old_sha256", "new_sha256"])
@pytest.mark.parametrize(
    "value",
    [
        "AB" * 32,  # upper case
        "ab" * 31 + "a",  # 63 digits
        "ab" * 32 + "a",  # 65
        "ab" * 31 + "ag",  # not hex
        "ab" * 31 + "a\u00e9",
        "ab" * 32 + "\0",  # 64 digits, then a NUL (where SQLite's length() stops)
        "ab" * 32 + "\0ab",
        "",
    ],
)
def test_a_bad_sha_is_refused_even_when_the_campaign_names_it(
    tmp_path: Path, column: str, value: str
) -> None:
    db = _ledger(tmp_path / "c.db", [value], column, value)
    with pytest.raises(LedgerDamaged, match=f"unit 'dev-2': its column '{column}' holds"):
        check_units(tmp_path / "c.db", db)
    db.close()


@pytest.mark.parametrize("column", ["old_sha256", "new_sha256"])
def test_a_named_sha_held_as_a_blob_is_refused(tmp_path: Path, column: str) -> None:
    db = _ledger(tmp_path / "c.db", [OLD], column, OLD.encode())
    with pytest.raises(LedgerDamaged, match=f"its column '{column}' holds the blob"):
        check_units(tmp_path / "c.db", db)
    db.close()


@pytest.mark.parametrize("value", [NEW, OLD, "ef" * 32])
@pytest.mark.parametrize("column", ["old_sha256", "new_sha256"])
def test_a_good_sha_passes_named_or_not(tmp_path: Path, column: str, value: str) -> None:
    """The CA pushed (ca_sha256), a file named by its go-dark date, and one not named."""
    db = _ledger(tmp_path / "c.db", [OLD], column, value)
    check_units(tmp_path / "c.db", db)
    db.close()


_DATES = ["first_seen", "last_seen", "updated_at", "done_at"]
_VALUES: list[object] = [
    "2026-01-10T12:00:00+00:00",
    "2024-02-29T23:59:59+00:00",
    "2026-02-30T12:00:00+00:00",  # 30 February
    "2026-13-45T00:00:00+00:00",  # month 13, day 45
    "2026-01-10T25:00:00+00:00",  # hour 25
    None,
    b"2026-01-10T12:00:00+00:00",  # a good date's bytes as a blob
    "2026-01-10T12:00:00+00:00\0x",  # a good date, a NUL (SQLite's length() stops), more
    17,
]


def test_a_date_equal_to_an_earlier_one_is_judged_as_each_alone() -> None:
    """A date equal to an earlier date column's passes without its date() only when that
    one passed: every row of good, bad, NULL, blob and number dates, equal or not, names
    the column each rule alone names first (NULL too, in a table without NOT NULL)."""
    db = sqlite3.connect(":memory:")
    db.execute(f"CREATE TABLE units ({', '.join(_DATES)})")
    rows = [
        (a, b, c, d)
        for a in _VALUES
        for b in _VALUES
        for c in _VALUES
        for d in (_VALUES[0], _VALUES[2], None, _VALUES[6])
    ]
    db.executemany("INSERT INTO units VALUES (?, ?, ?, ?)", rows)
    found = db.execute(f"SELECT {ledger_rows._fault_sql(_DATES)} FROM units ORDER BY rowid")
    alone = db.execute(
        "SELECT coalesce("
        + ", ".join(ledger_rows._fault_sql([c]) for c in _DATES)
        + ") FROM units ORDER BY rowid"
    )
    got, want = [r[0] for r in found], [r[0] for r in alone]
    assert got == want
    assert want.count(None) == 2 * 3 * 2 * 2  # rows that pass
    assert len(set(want)) == 5  # and each column named
