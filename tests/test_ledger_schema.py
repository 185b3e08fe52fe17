"""Ledgers made by earlier runs are recognised by their schema, compared with what the
releases wrote (frozen in support/ledger_schemas.py, not taken from the module): an edit
of the module's CREATE text, whitespace included, would otherwise refuse every ledger in
use while the tests moved along with it."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner
from support.ledger_schemas import SCHEMA_1, SCHEMA_2

from esp_cabundle.cli import cli
from esp_cabundle.errors import InputError
from esp_cabundle.push.ledger import Ledger, check_ledger


def _ledger(path: Path, sql: str, version: str) -> bytes:
    """A ledger as a run of schema ``version`` left it: one unit, closed (no log)."""
    db = sqlite3.connect(path)
    db.executescript(sql)
    db.execute("INSERT INTO campaign VALUES ('schema', ?)", (version,))
    db.execute(
        "INSERT INTO units (id, transport, state, attempts, first_seen, updated_at) "
        "VALUES ('dev9', 'mdash', 'offline', 3, '2026-01-01T00:00:00+00:00', "
        "'2026-01-01T00:00:00+00:00')"
    )
    db.commit()
    db.close()
    return path.read_bytes()


@pytest.mark.parametrize(("sql", "version"), [(SCHEMA_2, "2"), (SCHEMA_1, "1")])
def test_a_ledger_a_release_wrote_is_accepted(tmp_path: Path, sql: str, version: str) -> None:
    ledger = tmp_path / "c.db"
    _ledger(ledger, sql, version)
    check_ledger(ledger, ca_sha256="0" * 64, board="mdash-arduino")
    r = CliRunner().invoke(cli, ["push", "status", "--ledger", str(ledger), "--json"])
    assert r.exit_code == 3, r.output  # read whole; dev9 offline: not finished
    assert [u["id"] for u in json.loads(r.stdout)["units"]] == ["dev9"]
    with Ledger(ledger) as opened:  # opened to write: schema 1 is carried on to 2
        assert opened.meta()["schema"] == "2"
        assert [u.attempts for u in opened.rows()] == [3]


_CHANGED = {
    "missing column": SCHEMA_2.replace(",\n    note TEXT", ""),
    "renamed column": SCHEMA_2.replace("    note TEXT", "    notes TEXT"),
    "retyped column": SCHEMA_2.replace("attempts INTEGER", "attempts TEXT"),
}


@pytest.mark.parametrize("case", sorted(_CHANGED))
def test_a_ledger_with_other_columns_is_refused_unchanged(tmp_path: Path, case: str) -> None:
    assert _CHANGED[case] != SCHEMA_2  # the edit took
    ledger = tmp_path / "c.db"
    before = _ledger(ledger, _CHANGED[case], "2")
    opens: list[Callable[[], object]] = [
        lambda: Ledger(ledger),
        lambda: Ledger(ledger, readonly=True),
        lambda: check_ledger(ledger, ca_sha256="0" * 64, board="mdash-arduino"),
    ]
    for open_it in opens:
        with pytest.raises(InputError, match="table 'units' is not a campaign's") as e:
            open_it()
        assert "is not a campaign ledger" in str(e.value) and "nothing changed" in str(e.value)
    r = CliRunner().invoke(cli, ["push", "status", "--ledger", str(ledger)])
    assert r.exit_code == 2 and "table 'units' is not a campaign's" in r.output, r.output
    assert ledger.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["c.db"]  # no -wal or -shm made
