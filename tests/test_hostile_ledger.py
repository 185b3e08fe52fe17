"""A campaign ledger someone else shaped: its schema is SQL that SQLite runs on every
read and write the campaign makes, so only the tables a campaign writes are accepted.
Before this, a trigger holding a recursive query made ``push`` spin for ever, and a
generated column made ``push status`` build gigabytes of text."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from support.fleet import mdash_unit, write_ca

from esp_cabundle.cli import cli
from esp_cabundle.errors import InputError
from esp_cabundle.push.ledger import Ledger, check_ledger

KEY = "ledger-key-5d1e0b"
# A query that never ends: what a trigger may run on each write of the campaign.
_FOREVER = "SELECT count(*) FROM (WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT x FROM c)"  # noqa: E501


def _push(tmp: Path, url: str, *argv: str) -> tuple[int, str]:
    args = ["push", "--mdash", url, "--board", "mdash-arduino", "--bundle", str(tmp / "ca.pem")]
    r = CliRunner().invoke(cli, [*args, "--ledger", str(tmp / "c.db"), "--timeout", "2", *argv])
    if r.exception and not isinstance(r.exception, SystemExit):
        raise r.exception
    return r.exit_code, r.stdout + r.stderr


def _campaign(stand_in: Any, tmp: Path) -> tuple[Any, Path]:
    """A real campaign's ledger: one unit, verified."""
    write_ca(tmp)
    s = stand_in([mdash_unit("dev1")])
    code, out = _push(tmp, s.url)
    assert code == 0, out
    ledger = tmp / "c.db"
    for side in tmp.glob("c.db-*"):  # closed cleanly: no log left
        assert not side.exists()
    return s, ledger


def _alter(ledger: Path, sql: str) -> bytes:
    db = sqlite3.connect(ledger)
    db.executescript(sql)
    db.commit()
    db.close()
    return ledger.read_bytes()


_FOREIGN = {
    "trigger": (
        f"CREATE TRIGGER t AFTER UPDATE ON units BEGIN {_FOREVER}; END;"
        f"CREATE TRIGGER t2 BEFORE INSERT ON units BEGIN {_FOREVER}; END;",
        "holding trigger 't'",
    ),
    "index": (
        "CREATE INDEX i ON units (length(hex(zeroblob(1000000))))",
        "holding index 'i'",
    ),
    "view": ("CREATE VIEW v AS SELECT id FROM units", "holding view 'v'"),
    "generated column": (
        "ALTER TABLE units ADD COLUMN big TEXT AS (hex(zeroblob(1000000)))",
        "table 'units' is not a campaign's",
    ),
}


@pytest.mark.timeout(60)
@pytest.mark.parametrize("case", sorted(_FOREIGN))
def test_a_ledger_with_foreign_sql_is_refused_unrun(
    stand_in: Any, tmp_path: Path, case: str
) -> None:
    s, ledger = _campaign(stand_in, tmp_path)
    sql, words = _FOREIGN[case]
    before = _alter(ledger, sql)
    code, out = _push(tmp_path, s.url)
    assert code == 2 and "is not a campaign ledger" in out and words in out, out
    for argv in (["push", "status", "--ledger", str(ledger)], ["push", "status", "--ledger",
                 str(ledger), "--json"]):  # fmt: skip
        r = CliRunner().invoke(cli, argv)
        assert r.exit_code == 2 and words in r.output, r.output
    assert ledger.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.db", "ca.pem"]


@pytest.mark.timeout(60)
def test_the_library_refuses_it_too(stand_in: Any, tmp_path: Path) -> None:
    _, ledger = _campaign(stand_in, tmp_path)
    _alter(ledger, f"CREATE TRIGGER t AFTER INSERT ON campaign BEGIN {_FOREVER}; END;")
    for open_it in (
        lambda: Ledger(ledger),
        lambda: Ledger(ledger, readonly=True),
        lambda: check_ledger(ledger, ca_sha256="0" * 64, board="mdash-arduino"),
    ):
        with pytest.raises(InputError, match="holding trigger 't'"):
            open_it()


@pytest.mark.timeout(60)
def test_sqlite_statistics_do_not_make_it_foreign(stand_in: Any, tmp_path: Path) -> None:
    """ANALYZE (a user looking at the ledger with sqlite3) adds SQLite's own table."""
    s, ledger = _campaign(stand_in, tmp_path)
    _alter(ledger, "ANALYZE")
    code, out = _push(tmp_path, s.url)
    assert code == 0, out


def _damage_page_holding(ledger: Path, text: bytes) -> None:
    """Break the b-tree page that holds ``text`` (its page-type byte), as a disk error or
    a copy taken mid-write leaves a page: SQLite then says 'database disk image is
    malformed' when it reads there."""
    data = bytearray(ledger.read_bytes())
    page_size = int.from_bytes(data[16:18], "big")
    data[data.index(text) // page_size * page_size] = 0x00
    ledger.write_bytes(bytes(data))


@pytest.mark.timeout(60)
def test_a_damaged_ledger_is_exit_2_in_words(stand_in: Any, tmp_path: Path) -> None:
    """It ended in a traceback (sqlite3.DatabaseError), exit 1, for push and status."""
    s, ledger = _campaign(stand_in, tmp_path)
    _damage_page_holding(ledger, b"dev1")
    before = ledger.read_bytes()
    code, out = _push(tmp_path, s.url)
    assert code == 2 and "the ledger" in out and "is damaged (database disk image" in out, out
    assert "Traceback" not in out and "restore it from a copy" in out
    r = CliRunner().invoke(cli, ["push", "status", "--ledger", str(ledger)])
    assert r.exit_code == 2 and "is damaged" in r.output and "Traceback" not in r.output
    assert ledger.read_bytes() == before


@pytest.mark.timeout(60)
def test_the_ledger_failing_under_a_unit_ends_the_run_in_words(
    stand_in: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A worker thread that met the ledger's failure died with a thread traceback and
    the run went on as if the unit had not been listed."""
    from esp_cabundle.push.ledger_files import LedgerDamaged

    s, _ = _campaign(stand_in, tmp_path)

    def claim(self: Ledger, uid: str, states: Any) -> None:
        raise LedgerDamaged(f"the ledger {self.path} is damaged (database disk image is malformed)")

    monkeypatch.setattr(Ledger, "claim", claim)
    code, out = _push(tmp_path, s.url, "--reboot")  # a verified unit is worked on again
    assert code == 2 and "is damaged" in out and "Exception in thread" not in out, out
