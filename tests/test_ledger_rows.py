"""A unit's row is checked when the ledger is opened: a value no campaign writes (a hand
edit with ``PRAGMA ignore_check_constraints``, a damaged page) is a damaged ledger in
words, exit 2, naming the unit and the column, in text, --json and --csv alike and for
a campaign, and the file is left as it was. Before, a blob id ended ``push status`` in a
traceback, a state ``zzz`` or attempts ``lots`` were printed as they were, and a 250 MB
note was read whole (1 GB for ``--csv``)."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner

from esp_cabundle.cli import cli
from esp_cabundle.errors import InputError
from esp_cabundle.push import ledger_rows
from esp_cabundle.push.ledger import Ledger, check_ledger

NEW = "ab" * 32
BOARD = "mongoose-os-esp32"

# (unit id, column, bad value, as the message shows the unit and the value)
_BAD = [
    (b"\xff", "id", None, "b'\\xff'", "the blob b'\\xff'"),
    ("dev-2", "state", "zzz", "'dev-2'", "'zzz'"),
    ("dev-2", "attempts", "lots", "'dev-2'", "'lots'"),
    ("dev-2", "attempts", -1, "'dev-2'", "the whole number -1"),
    ("dev-2", "attempts", 2**62, "'dev-2'", f"the whole number {2**62}"),
    ("dev-2", "attempts", 1.5, "'dev-2'", "the number 1.5"),
    ("dev-2", "updated_at", b"\x00", "'dev-2'", "the blob b'\\x00'"),
    ("dev-2", "first_seen", "not a date", "'dev-2'", "'not a date'"),
    ("dev-2", "first_seen", "9999-99-99", "'dev-2'", "'9999-99-99'"),
    ("dev-2", "last_seen", 17, "'dev-2'", "'17'"),  # TEXT affinity: stored as text
    # in the shape push writes, but no day of the calendar (month 13, 30 February) or
    # of the clock (hour 25): a hand edit, never a campaign's
    ("dev-2", "first_seen", "2026-13-45T00:00:00+00:00", "'dev-2'", "'2026-13-45T00:00:00+00:00'"),
    ("dev-2", "updated_at", "2026-02-30T12:00:00+00:00", "'dev-2'", "'2026-02-30T12:00:00+00:00'"),
    ("dev-2", "done_at", "2026-00-10T12:00:00+00:00", "'dev-2'", "'2026-00-10T12:00:00+00:00'"),
    ("dev-2", "last_seen", "2026-01-10T25:61:00+00:00", "'dev-2'", "'2026-01-10T25:61:00+00:00'"),
    ("dev-2", "done_at", "2025-02-29T23:00:00+00:00", "'dev-2'", "'2025-02-29T23:00:00+00:00'"),
    ("dev-2", "updated_at", "2026-01-10T24:00:00+00:00", "'dev-2'", "'2026-01-10T24:00:00+00:00'"),
    ("dev-2", "done_at", "yesterday", "'dev-2'", "'yesterday'"),
    # a real day and time, then what isoformat() never writes after it (nor push did)
    ("dev-2", "first_seen", '2026-01-10T12:00:00"x', "'dev-2'", "'2026-01-10T12:00:00\"x'"),
    ("dev-2", "updated_at", "2026-01-10T12:00:00Z", "'dev-2'", "'2026-01-10T12:00:00Z'"),
    ("dev-2", "last_seen", "2026-01-10T12:00:00+00:00x", "'dev-2'", "'2026-01-10T12:00:00+00:00x'"),
    ("dev-2", "done_at", "2026-01-10T12:00:00+24:00", "'dev-2'", "'2026-01-10T12:00:00+24:00'"),
    # what isoformat() writes, but not of a UTC instant, or a form push never wrote
    ("dev-2", "first_seen", "2026-06-30", "'dev-2'", "'2026-06-30'"),
    ("dev-2", "updated_at", "0000-01-10T12:00:00+00:00", "'dev-2'", "'0000-01-10T12:00:00+00:00'"),
    ("dev-2", "updated_at", "2026-01-10T12:00:00", "'dev-2'", "'2026-01-10T12:00:00'"),
    ("dev-2", "done_at", "2026-01-10T12:00", "'dev-2'", "'2026-01-10T12:00'"),
    ("dev-2", "last_seen", "2026-01-10T12:00:00-05:00", "'dev-2'", "'2026-01-10T12:00:00-05:00'"),
    (
        "dev-2",
        "done_at",
        "2026-01-10T12:00:00.123456+05:30",
        "'dev-2'",
        "'2026-01-10T12:00:00.123456+05:30'",
    ),
    ("dev-2", "done_at", "2026-01-10 12:00:00+00:00", "'dev-2'", "'2026-01-10 12:00:00+00:00'"),
    ("dev-2", "done_at", "2026-01-10T12:00Z  +00:00", "'dev-2'", "'2026-01-10T12:00Z  +00:00'"),
    ("dev-2", "done_at", "2026-01-10T12:00:00-05:60", "'dev-2'", "'2026-01-10T12:00:00-05:60'"),
    (
        "dev-2",
        "done_at",
        "2026-01-10T12:00:00.12345+00:00",
        "'dev-2'",
        "'2026-01-10T12:00:00.12345+00:00'",
    ),
    ("dev-2", "done_at", "2026-01-10T12:00:00.1234567", "'dev-2'", "'2026-01-10T12:00:00.1234567'"),
    (
        "dev-2",
        "done_at",
        "2026-01-10T12:00:00.123456+0000",
        "'dev-2'",
        "'2026-01-10T12:00:00.123456+0000'",
    ),
    ("dev-2", "done_at", "2026-01-10T12:00:00\u00e9", "'dev-2'", "'2026-01-10T12:00:00\u00e9'"),
    # a NUL ends text for SQLite's length() and GLOB: what follows it was not seen
    ("dev-2", "updated_at", "2026-01-10T12:00:00\0x", "'dev-2'", "'2026-01-10T12:00:00\\x00x'"),
    ("dev-2", "first_seen", "2026-06-30\0x", "'dev-2'", "'2026-06-30\\x00x'"),
    (
        "dev-2",
        "last_seen",
        "2026-06-30\0T12:00:00+00:00",
        "'dev-2'",
        "'2026-06-30\\x00T12:00:00+00:00'",
    ),
    (
        "dev-2",
        "done_at",
        "2026-06-30T12:00:00+00:00\0",
        "'dev-2'",
        "'2026-06-30T12:00:00+00:00\\x00'",
    ),
    ("dev-2", "new_sha256", NEW + "\0x", "'dev-2'", "'" + NEW + "\\x00x'"),
    ("dev-2", "old_sha256", "ef" * 32 + "\0", "'dev-2'", "'" + "ef" * 32 + "\\x00'"),
    ("dev-2", "lease_until", b"\x00\xff", "'dev-2'", "the blob b'\\x00\\xff'"),
    ("dev-2", "new_sha256", "AB" * 32, "'dev-2'", "'" + "AB" * 32 + "'"),
    ("dev-2", "old_sha256", "x", "'dev-2'", "'x'"),
    ("dev-2", "transport", "", "'dev-2'", "''"),
    ("dev-2", "fw_version", b"1.0", "'dev-2'", "the blob b'1.0'"),
    ("dev\x1b[31m", "state", "zzz", "'dev\\x1b[31m'", "'zzz'"),
    ("dev-2", "note", "N" * (ledger_rows.TEXT_CAP + 1), "'dev-2'", "text of 65537 characters"),
]


def _ledger(path: Path, uid: object, column: str, value: object) -> bytes:
    """A campaign's ledger with two units, ``uid``'s ``column`` then set to ``value``
    by hand (its CHECK constraints off)."""
    with Ledger(path) as ledger:
        ledger.bind(ca_sha256=NEW, board=BOARD, ca_path="/ca.pem")
        ledger.enroll([("dev-1", "mqtt", None), ("dev-2", "mqtt", None)])
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=DELETE")
    db.execute("PRAGMA ignore_check_constraints=1")
    if column == "id":
        db.execute("UPDATE units SET id = ? WHERE id = 'dev-2'", (uid,))
    elif uid != "dev-2":
        db.execute("UPDATE units SET id = ?, state = ? WHERE id = 'dev-2'", (uid, value))
    else:
        db.execute(f"UPDATE units SET {column} = ? WHERE id = 'dev-2'", (value,))
    db.close()
    assert not Path(f"{path}-wal").exists()
    return path.read_bytes()


def _status(path: Path, *argv: str) -> tuple[int, str, str]:
    r = CliRunner().invoke(cli, ["push", "status", "--ledger", str(path), *argv])
    assert not r.exception or isinstance(r.exception, SystemExit), r.exception
    return r.exit_code, r.stdout, r.stderr


@pytest.mark.parametrize(("uid", "column", "value", "unit", "shown"), _BAD)
def test_a_bad_unit_value_is_a_damaged_ledger_in_words(
    tmp_path: Path, uid: object, column: str, value: object, unit: str, shown: str
) -> None:
    path = tmp_path / "c.db"
    before = _ledger(path, uid, column, value)
    for argv in ((), ("--all",), ("--json",), ("--csv",)):
        code, out, err = _status(path, *argv)
        assert code == 2, (argv, out, err)
        if argv == ("--json",):
            doc = json.loads(out)
            assert doc["kind"] == "LedgerDamaged"
            words = doc["error"]
        else:
            assert out == "" and "Traceback" not in err
            words = err.splitlines()[0]
            assert "restore it from a copy" in err
        assert f"the ledger {path} is damaged (unit {unit}: its column '{column}' " in words
        assert f"holds {shown}, not " in words and words.endswith("; nothing changed"), words
        assert "\x1b" not in words
    for open_it in (
        lambda: Ledger(path),  # a campaign opening it to write
        lambda: Ledger(path, readonly=True),
        lambda: check_ledger(path, ca_sha256=NEW, board=BOARD),  # a dry run
    ):
        with pytest.raises(InputError, match="is damaged"):
            open_it()
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.db"]


def test_a_value_past_sqlites_limit_is_refused_unread(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A value longer than any read on a ledger's connection (SQLITE_LIMIT, lowered
    here: 4 MiB in use) is found by halving the rows, and named like any other."""
    path = tmp_path / "c.db"
    before = _ledger(path, "dev-2", "note", "N" * 300_000)
    for module in ("ledger_files", "ledger_rows"):
        monkeypatch.setattr(f"esp_cabundle.push.{module}.SQLITE_LIMIT", 200_000)
    code, out, err = _status(path, "--csv")
    assert code == 2 and out == "", err
    assert "unit 'dev-2': its column 'note' holds " in err, err
    if hasattr(sqlite3.Connection, "setlimit"):  # 3.10 has none: read once, then refused
        assert "unit 'dev-2': its column 'note' holds more than 200000 bytes" in err, err
    assert path.read_bytes() == before


def test_good_rows_of_every_kind_are_read(tmp_path: Path) -> None:
    """Rows as a campaign writes them, at the limits, still read."""
    path = tmp_path / "c.db"
    _ledger(path, "dev-2", "note", "N" * ledger_rows.TEXT_CAP)
    db = sqlite3.connect(path, isolation_level=None)
    db.execute(
        "UPDATE units SET attempts = ?, old_sha256 = 'none', new_sha256 = ?, "
        "last_seen = updated_at, lease_until = 1.5, last_error = 'e' WHERE id = 'dev-1'",
        (ledger_rows.ATTEMPTS_CAP, NEW),
    )
    db.close()
    code, out, err = _status(path, "--csv")
    assert code == 3 and "dev-1" in out and "N" * ledger_rows.TEXT_CAP in out, err


@pytest.mark.parametrize(
    "when",
    [
        "2024-02-29T23:59:59+00:00",  # a leap day
        "0001-01-01T00:00:00+00:00",
        "9999-12-31T23:59:59.999999+00:00",
        "2026-01-10T12:00:00.000001+00:00",
    ],
)
def test_a_real_date_in_any_isoformat_is_read(tmp_path: Path, when: str) -> None:
    """The calendar check refuses no day there is, to the second or microsecond."""
    path = tmp_path / "c.db"
    _ledger(path, "dev-2", "first_seen", when)
    code, out, err = _status(path, "--csv")
    assert code == 3 and "dev-2" in out, err


@pytest.mark.parametrize("as_json", [True, False])
def test_status_units_are_written_as_they_are_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, as_json: bool
) -> None:
    """--json and --csv write each batch before the next is read: the units are never
    all held (2 million stayed at 45 MB)."""
    import io

    from esp_cabundle.commands import _push_status_units as units
    from esp_cabundle.push import ledger_status

    path = tmp_path / "c.db"
    _ledger(path, "dev-2", "note", "fine")
    out = io.BytesIO()
    pulled: list[int] = []

    def batches(ledger: Ledger, *, as_text: bool = False):  # type: ignore[no-untyped-def]
        for batch in ledger_status.unit_batches(ledger, as_text=as_text):
            for row in batch:
                pulled.append(len(out.getvalue()))
                yield [row]  # one row per batch: each must be written before the next

    monkeypatch.setattr(units, "unit_batches", batches)
    with Ledger(path, readonly=True) as ledger:
        units._write_units(ledger, out, "utf-8", as_json=as_json)
    assert len(pulled) == 2 and pulled[1] > pulled[0], pulled
    assert b"dev-1" in out.getvalue()[: pulled[1]]
