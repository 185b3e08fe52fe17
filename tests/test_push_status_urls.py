"""``push status`` of a ledger written before a unit's URL was kept with each query value
masked: the stored URL (an address, an id that is one, either quoted in an error) is
shown masked in text, ``--json`` and ``--csv``, and the ledger is left as it was. Before,
``?session=abc123`` was printed as stored."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from esp_cabundle.cli import cli
from esp_cabundle.push.ledger import Ledger

KEY = "status-urls-key-5b2e"  # the mDash stand-in's (conftest)
SECRET = "abc123"
NAMELESS = f"http://192.168.1.20/rpc?session={SECRET}"  # never said its device id
NAMED = f"ws://192.168.1.21/rpc?session={SECRET}&k"


def _old_ledger(path: Path) -> bytes:
    """A campaign's ledger with two LAN units as a release before the masking wrote them
    (the URL as given), added by sqlite3 directly."""
    with Ledger(path) as ledger:
        ledger.bind(ca_sha256="ab" * 32, board="mongoose-os-esp32", ca_path="/ca.pem")
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=DELETE")
    now = "2026-12-01T10:00:00+00:00"
    db.executemany(
        "INSERT INTO units (id, transport, state, attempts, last_error, first_seen, "
        "updated_at, address) VALUES (?, 'http', ?, 1, ?, ?, ?, ?)",
        [
            (NAMELESS, "offline", f"unit {NAMELESS}: no answer ({NAMELESS!r})", now, now, NAMELESS),
            ("dev-b", "failed", f"unit dev-b: refused at {NAMED}", now, now, NAMED),
        ],
    )  # fmt: skip
    db.close()
    assert not Path(f"{path}-wal").exists()
    return path.read_bytes()


@pytest.mark.parametrize("argv", [[], ["--json"], ["--csv"]])
def test_status_masks_the_query_values_an_old_ledger_kept(tmp_path: Path, argv: list[str]) -> None:
    path = tmp_path / "old.db"
    before = _old_ledger(path)
    r = CliRunner().invoke(cli, ["push", "status", "--ledger", str(path), *argv])
    out = r.stdout + r.stderr
    assert r.exit_code == 3, out  # units not done: as any unfinished campaign's
    assert SECRET not in out, out
    assert "192.168.1.20/rpc?session=[redacted]" in out, out
    if argv == ["--json"]:
        units = {u["id"]: u for u in json.loads(r.stdout)["units"]}
        shown = "http://192.168.1.20/rpc?session=[redacted]"
        assert units[shown]["address"] == shown
        assert units[shown]["last_error"] == f"unit {shown}: no answer ({shown!r})"
        assert units["dev-b"]["address"] == "ws://192.168.1.21/rpc?session=[redacted]&[redacted]"
    if argv == ["--csv"]:
        assert "ws://192.168.1.21/rpc?session=[redacted]&[redacted]" in r.stdout
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["old.db"]


def test_a_runs_report_masks_the_query_values_an_old_ledger_kept(
    stand_in: Any, tmp_path: Path
) -> None:
    """A unit once reached by URL, now listed by mDash: its row keeps the address an old
    release stored, which ``push --json`` gave as it was."""
    from support.fleet import mdash_unit, write_ca

    write_ca(tmp_path)
    s = stand_in([mdash_unit("dev1")])
    argv = ["push", "--mdash", s.url, "--board", "mdash-arduino", "--timeout", "2"]
    argv += ["--bundle", str(tmp_path / "ca.pem"), "--ledger", str(tmp_path / "c.db")]
    assert CliRunner().invoke(cli, argv).exit_code == 0
    db = sqlite3.connect(tmp_path / "c.db", isolation_level=None)
    db.execute("UPDATE units SET address = ? WHERE id = 'dev1'", (NAMED,))
    db.close()
    for more in ([], ["--json"]):
        r = CliRunner().invoke(cli, [*argv, *more])
        assert r.exit_code == 0 and SECRET not in r.stdout + r.stderr, r.stdout + r.stderr
    (unit,) = json.loads(r.stdout)["units"]
    assert unit["address"] == "ws://192.168.1.21/rpc?session=[redacted]&[redacted]"


def test_a_damaged_old_ledger_is_refused_naming_its_unit_masked(tmp_path: Path) -> None:
    """A row refused when the ledger is opened is named by its id: a URL an old release
    kept, with its query values."""
    path = tmp_path / "old.db"
    _old_ledger(path)
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA ignore_check_constraints=1")
    db.execute("UPDATE units SET state = 'zzz' WHERE id = ?", (NAMELESS,))
    db.close()
    before = path.read_bytes()
    r = CliRunner().invoke(cli, ["push", "status", "--ledger", str(path)])
    assert r.exit_code == 2 and SECRET not in r.stdout + r.stderr, r.stdout + r.stderr
    assert "unit 'http://192.168.1.20/rpc?session=[redacted]'" in r.stderr, r.stderr
    assert path.read_bytes() == before
