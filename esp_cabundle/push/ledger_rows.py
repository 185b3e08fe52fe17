"""The units table's rows checked when a ledger is opened: each column holds what the
campaign's own writer writes, or the ledger is refused in words (a damaged ledger, exit
2, nothing changed), as its campaign table's facts are (:mod:`.ledger_meta`). A row
written by hand (``PRAGMA ignore_check_constraints``: a state ``zzz``, attempts
``lots``, a blob for an id or a date) ended ``push status`` in a traceback or was
printed as it was, and a 250 MB note took ``push status --csv`` past 1 GB.

The check is one SQL scan (no Python per row: 2 million rows in a few seconds, half of
it the dates: a day no calendar has, 2026-13-45 or 30 February, was once let through),
run where the file is proven a ledger, before a byte of it is written: ``push status``
(text, ``--json``, ``--csv``), a campaign and a dry run refuse the same rows the same
way. SQLite hands
over no value longer than :data:`SQLITE_LIMIT` bytes on a ledger's connection, so an
oversized one is refused without being read whole."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from ..text import printable, shorten
from .ledger_files import DAMAGED_HINT, SQLITE_LIMIT, TEXT_CAP, LedgerDamaged, sqlite_errors
from .ledger_meta import DARK_KEY
from .ledger_schema import STATES
from .urls import shown_address

__all__ = ["TEXT_CAP", "check_units"]

assert 4 * TEXT_CAP * 16 <= SQLITE_LIMIT  # each text column full, 4-byte UTF-8
ATTEMPTS_CAP = 2**31 - 1  # one attempt per pass: a campaign never counts near this
_SHOWN = 80  # characters of a bad value a message shows

# Each rule is comparisons where it can be (SQLite runs them without a function call:
# 2 million rows are checked in a second or two). Text sorts after every number and
# before every blob, so ">= '' AND < x''" is "is text".
_IS_TEXT = "{c} >= '' AND {c} < x''"
_TEXT = f"{_IS_TEXT} AND length({{c}}) <= {TEXT_CAP}"
# As push writes a date: datetime.isoformat() of a UTC instant, "+00:00" after the
# seconds or after .ffffff (25 or 32 bytes), and nothing else: a date alone, a naive
# time, another offset, "Z", a space for the "T" or "12:00Z  " (SQLite's date() reads
# it) were read as dates once, though no campaign writes them. SQLite's date() refuses
# month 13, day 45 or hour 25 (NULL) and, given a modifier, carries 30 February or
# 24:00 into the next day, later than the text; its date and time only. The one
# function call of the scan per value (strftime() writing the text back took twice
# as long). The GLOB (no class: cheap) puts the T and colons where isoformat() does,
# and the date() then reads two digits each side of them. length(), substr() and GLOB
# stop at a NUL in text ("...T12:00:00\0junk" was 19 characters): the bytes are
# counted too. Push's own form, "+00:00" after the seconds, 25 bytes, is tried first.
_DATE = (
    "{c} BETWEEN '0001-01-01T00:00:00' AND '9999-12-31T23:59:60~'"
    " AND {c} GLOB '??????????T??:??:??[.+]*'"
    " AND (substr({c}, 20) = '+00:00' AND length(CAST({c} AS BLOB)) = 25"
    " OR length(CAST({c} AS BLOB)) = 32 AND length({c}) = 32 AND substr({c}, 27) = '+00:00'"
    " AND substr({c}, 20, 7) GLOB '.[0-9][0-9][0-9][0-9][0-9][0-9]')"
    " AND (date(substr({c}, 1, 19), '+0 days') <= {c}) IS 1"
)
# 64 bytes, not characters: length() and GLOB stop at a NUL (64 digits, NUL, anything).
_HEX = f"{_IS_TEXT} AND length(CAST({{c}} AS BLOB)) = 64 AND {{c}} NOT GLOB '*[^0-9a-f]*'"
# The GLOB parses its class once per character: 6 of the scan's 9 s at 2 million rows
# of two SHA-256 columns. A campaign's units hold the few files its campaign table
# names (the CA pushed, each file met: goes_dark:<SHA-256>): those the same rule passes
# are collected once, and a unit's value equal to one of them (text, the same bytes,
# all of them: IN compares past a NUL) passes without the GLOB; any other value meets
# the whole rule.
_NAMED = (
    "SELECT v FROM (SELECT value AS v FROM campaign WHERE key = 'ca_sha256' UNION "
    f"SELECT substr(key, {len(DARK_KEY) + 1}) FROM campaign WHERE key GLOB '{DARK_KEY}*') "
    f"WHERE {_HEX.format(c='v')}"
)
_SHA = f"{{c}} IN ({_NAMED}) OR ({_HEX})"
_STATES = ", ".join(f"'{s}'" for s in STATES)
# Each column: (SQL true of a value a campaign writes, what that is, NULL allowed).
_RULES: dict[str, tuple[str, str, bool]] = {
    "id": (_TEXT, "a unit id", False),
    "transport": (_TEXT + " AND length({c}) BETWEEN 1 AND 64", "a transport's name", False),
    "state": (f"{{c}} IN ({_STATES})", "a unit's state", False),
    "attempts": (
        f"typeof({{c}}) = 'integer' AND {{c}} BETWEEN 0 AND {ATTEMPTS_CAP}",
        "a count of attempts (a whole number)",
        False,
    ),
    "last_error": (_TEXT, f"text of at most {TEXT_CAP} characters", True),
    "old_sha256": (f"{{c}} = 'none' OR ({_SHA})", "a SHA-256 in hex or 'none'", True),
    "new_sha256": (_SHA, "a SHA-256 in hex", True),
    "fw_version": (_TEXT, f"text of at most {TEXT_CAP} characters", True),
    "first_seen": (_DATE, "a date (as push writes it)", False),
    "last_seen": (_DATE, "a date (as push writes it)", True),
    "updated_at": (_DATE, "a date (as push writes it)", False),
    "done_at": (_DATE, "a date (as push writes it)", True),
    "lease_owner": (_TEXT, f"text of at most {TEXT_CAP} characters", True),
    "lease_until": ("typeof({c}) IN ('real', 'integer')", "a time in seconds", True),
    "address": (_TEXT, f"text of at most {TEXT_CAP} characters", True),
    "note": (_TEXT, f"text of at most {TEXT_CAP} characters", True),
}


def _fault_sql(columns: list[str]) -> str:
    """SQL naming a row's first column that holds no value a campaign writes, else NULL."""
    whens: list[str] = []
    dates: list[str] = []  # the date columns before, each passed if reached
    for c in columns:
        ok, _, nullable = _RULES[c]
        test = ok.format(c=c)  # true or false of a value, NULL of NULL
        if ok is _DATE:
            # A date equal to an earlier date column's (the same text: push writes one
            # instant to several) passes as that one did: the CASE names a row's first
            # bad column, so an earlier one is reached here only if it passed (or is
            # NULL: "IS" is then false). Saves the date() of most of a campaign's dates.
            test = "(" + " OR ".join([*(f"{c} IS {d}" for d in dates), f"({test})"]) + ")"
            dates.append(c)
        if nullable:
            bad = f"{c} IS NOT NULL AND NOT ({test})"
        else:
            bad = f"NOT ({c} IS NOT NULL AND {test})"
        whens.append(f"WHEN {bad} THEN '{c}'")
    return f"CASE {' '.join(whens)} END"


def check_units(p: Path, db: sqlite3.Connection) -> None:
    """Refuse the ledger ``p`` (open in ``db``, proven a ledger) if a unit's row holds a
    value no campaign writes: its first such row, by id, and column are named."""
    with sqlite_errors(p):
        have = [r[1] for r in db.execute("PRAGMA table_info(units)") if r[1] in _RULES]
        fault = _fault_sql(have)
        try:
            found = db.execute(
                f"SELECT rowid, {fault} FROM units WHERE {fault} IS NOT NULL LIMIT 1"
            ).fetchone()
        except sqlite3.DataError:  # a value past SQLITE_LIMIT: found without reading it
            found = _too_big(db, have)
        if found is None:
            return
        rowid, column = found
        raise LedgerDamaged(
            f"the ledger {p} is damaged (unit {_unit(db, rowid)}: its column '{column}' "
            f"holds {_value(db, rowid, column)}, not {_RULES[column][1]}); nothing changed",
            hint=DAMAGED_HINT,
            reread=False,
        )


def _too_big(db: sqlite3.Connection, columns: list[str]) -> tuple[int, str] | None:
    """The row and column of a value SQLite refuses to read (longer than SQLITE_LIMIT),
    halving the rows each step: none is read whole."""

    def reads(col: str, lo: int, hi: int) -> bool:
        try:
            sql = f"SELECT count(length({col})) FROM units WHERE rowid BETWEEN ? AND ?"
            db.execute(sql, (lo, hi)).fetchone()
        except sqlite3.DataError:
            return False
        return True

    first, last = db.execute("SELECT min(rowid), max(rowid) FROM units").fetchone()
    for col in columns:
        lo, hi = first, last
        if reads(col, lo, hi):
            continue
        while lo < hi:
            mid = (lo + hi) // 2
            lo, hi = (mid + 1, hi) if reads(col, lo, mid) else (lo, mid)
        return lo, col
    return None  # pragma: no cover - the scan failed on a value: one column refuses it


def _value(db: sqlite3.Connection, rowid: int, column: str) -> str:
    """A bad value as a message shows it: short text or bytes escaped, else its kind
    and size (a value past SQLITE_LIMIT is not read)."""
    try:
        row = db.execute(
            f"SELECT typeof({column}), length({column}), "
            f"CASE WHEN length({column}) <= {_SHOWN} THEN {column} END "
            "FROM units WHERE rowid = ?",
            (rowid,),
        ).fetchone()
    except sqlite3.DataError:
        return f"more than {SQLITE_LIMIT} bytes"
    if row is None:  # the scan found it, the look-up by rowid not: a damaged b-tree
        return "a value that cannot be read again"
    kind, size, short = row
    if kind == "null":
        return "nothing (NULL)"
    if kind == "text":
        if short is None:
            return f"text of {size} characters"
        return "'" + shorten(printable(short), _SHOWN) + "'"
    if kind == "blob":
        if short is None:
            return f"a blob of {size} bytes"
        return f"the blob {shorten(printable(repr(short)), _SHOWN)}"
    return f"the {'whole number' if kind == 'integer' else 'number'} {short}"


def _unit(db: sqlite3.Connection, rowid: int) -> str:
    """The bad row's unit, named by its id (escaped), or by its row number when the id
    is itself no text to show."""
    try:
        row = db.execute(
            f"SELECT CASE WHEN length(id) <= {_SHOWN} THEN id END FROM units WHERE rowid = ?",
            (rowid,),
        ).fetchone()
    except sqlite3.DataError:
        row = None
    uid = row[0] if row is not None else None  # None too: the row not found again
    if isinstance(uid, str) and uid:  # a URL an old ledger kept: its query values masked
        return "'" + printable(str(shown_address(uid))) + "'"
    if isinstance(uid, bytes):
        return printable(repr(uid))
    return f"in row {rowid}"
