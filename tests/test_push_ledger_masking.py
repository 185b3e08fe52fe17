"""A ledger an older release wrote keeps each unit URL's query values as given; ``push
status`` shows them masked and leaves the file as it is (tests/test_push_status_urls.py).
The next campaign that opens it to write rewrites them masked, as it stores its own, in
the transaction that binds it to its CA file, and says so once on stderr."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from esp_cabundle.cli import cli
from esp_cabundle.push.ledger import AnotherCampaign, Ledger

KEY = "ledger-masking-key-7c1d"  # the mDash stand-in's (conftest)
SECRET = "abc123"
RAW = f"http://192.168.1.20/rpc?session={SECRET}"  # never said its device id
NAMED = f"ws://192.168.1.21/rpc?session={SECRET}&k"
BARE = "http://192.168.1.20/rpc?session=[redacted]"
CA = "ab" * 32


def _add_old_rows(path: Path, *rows: tuple[str, str, str | None]) -> None:
    """``(id, last_error, address)`` rows as a release before the masking wrote them."""
    db = sqlite3.connect(path, isolation_level=None)
    now = "2026-12-01T10:00:00+00:00"
    db.executemany(
        "INSERT INTO units (id, transport, state, attempts, last_error, first_seen, "
        "updated_at, address) VALUES (?, 'http', 'offline', 1, ?, ?, ?, ?)",
        [(uid, error, now, now, address) for uid, error, address in rows],
    )
    db.close()


def _stored(path: Path) -> list[tuple[Any, ...]]:
    db = sqlite3.connect(path)
    try:
        return db.execute("SELECT id, address, last_error FROM units ORDER BY id").fetchall()
    finally:
        db.close()


def _old_ledger(path: Path) -> None:
    with Ledger(path) as ledger:
        ledger.bind(ca_sha256=CA, board="mongoose-os-esp32", ca_path="/ca.pem")
    _add_old_rows(
        path,
        (RAW, f"unit {RAW}: no answer ({RAW!r})", RAW),
        ("dev-b", f"unit dev-b: refused at {NAMED}", NAMED),
    )


def test_binding_masks_the_stored_urls_once(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    _old_ledger(path)
    with Ledger(path) as ledger:
        ledger.bind(ca_sha256=CA, board="mongoose-os-esp32", ca_path="/ca.pem")
        assert ledger.masked_stored == 3  # RAW as id and address, NAMED as dev-b's address
    shown_named = "ws://192.168.1.21/rpc?session=[redacted]&[redacted]"
    assert _stored(path) == [
        ("dev-b", shown_named, f"unit dev-b: refused at {shown_named}"),
        (BARE, BARE, f"unit {BARE}: no answer ({BARE!r})"),
    ]
    assert SECRET.encode() not in path.read_bytes()  # zeroed, not only unlinked from rows
    with Ledger(path) as ledger:  # nothing left to mask
        ledger.bind(ca_sha256=CA, board="mongoose-os-esp32", ca_path="/ca.pem")
        assert ledger.masked_stored == 0


def test_a_row_already_kept_under_the_masked_url_is_kept(tmp_path: Path) -> None:
    """The current writer's row for the unit (a run since then made it) stays; the old
    release's rows naming the same masked URL (another session value) are dropped."""
    path = tmp_path / "old.db"
    with Ledger(path) as ledger:
        ledger.bind(ca_sha256=CA, board="mongoose-os-esp32", ca_path="/ca.pem")
    _add_old_rows(path, (BARE, "current", BARE), (RAW, "old", RAW), (RAW + "9", "older", None))
    with Ledger(path) as ledger:
        ledger.bind(ca_sha256=CA, board="mongoose-os-esp32", ca_path="/ca.pem")
        assert ledger.masked_stored == 3
        assert ledger.merged_stored == 2  # "old" and "older", named as "current" once masked
    assert _stored(path) == [(BARE, BARE, "current")]


def test_another_campaigns_ledger_is_refused_with_its_rows_unchanged(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    _old_ledger(path)
    before = _stored(path)
    with Ledger(path) as ledger, pytest.raises(AnotherCampaign):
        ledger.bind(ca_sha256="cd" * 32, board="mongoose-os-esp32", ca_path="/ca.pem")
    assert _stored(path) == before


def test_a_run_masks_an_old_ledgers_urls_and_says_so_once(stand_in: Any, tmp_path: Path) -> None:
    from support.fleet import mdash_unit, write_ca

    write_ca(tmp_path)
    s = stand_in([mdash_unit("dev1")])
    ledger = tmp_path / "c.db"
    argv = ["push", "--mdash", s.url, "--board", "mdash-arduino", "--timeout", "2"]
    argv += ["--bundle", str(tmp_path / "ca.pem"), "--ledger", str(ledger)]
    assert CliRunner().invoke(cli, argv).exit_code == 0
    db = sqlite3.connect(ledger, isolation_level=None)
    db.execute("UPDATE units SET address = ? WHERE id = 'dev1'", (NAMED,))
    db.close()
    status = CliRunner().invoke(cli, ["push", "status", "--ledger", str(ledger)])
    assert "masked" not in status.stderr and _stored(ledger)[0][1] == NAMED  # read only
    r = CliRunner().invoke(cli, [*argv, "-q"])
    assert r.exit_code == 0, r.stdout + r.stderr
    said = f"masked the query values of 1 stored unit URL in {ledger}"
    assert r.stderr.count(said) == 1, r.stderr
    assert SECRET not in r.stdout + r.stderr
    assert _stored(ledger)[0][1] == "ws://192.168.1.21/rpc?session=[redacted]&[redacted]"
    again = CliRunner().invoke(cli, argv)
    assert again.exit_code == 0 and "masked" not in again.stderr, again.stderr


def test_the_note_says_how_many_rows_were_dropped(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Rows told apart by a query value alone are one unit once masked: the run says it
    dropped them, not only that it masked URLs."""
    from types import SimpleNamespace

    from esp_cabundle.commands.push import _say_masked

    ledger = SimpleNamespace(masked_stored=3, merged_stored=2, path=tmp_path / "old.db")
    _say_masked(ledger, {})  # type: ignore[arg-type]
    err = capsys.readouterr().err
    assert "masked the query values of 3 stored unit URLs" in err
    assert "2 rows then naming a unit already listed were dropped, its most recent row kept" in err
    ledger.merged_stored = 0
    _say_masked(ledger, {})  # type: ignore[arg-type]
    assert "dropped" not in capsys.readouterr().err
