"""How often opening a ledger reads it. A ledger was proven through one read-only
connection, its facts read through another, and ``push status`` read them again through
a third (a campaign: once more after binding); now one read-only connection proves the
file and reads the facts once. ``bind`` checks the facts it reads in its transaction
(another process may have damaged one since the ledger was opened), and a value no
campaign writes is refused as read, not read twice more."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from support.fleet import ca_bytes
from support.gated import gated

from esp_cabundle.push import ledger_meta, ledger_status
from esp_cabundle.push.campaign import CampaignOptions, PushFile, run_campaign
from esp_cabundle.push.ledger import Ledger
from esp_cabundle.push.ledger_files import LedgerDamaged
from esp_cabundle.push.ledger_status import read_consistently, read_status

BOARD = "mongoose-os-esp32"
NEW = "ab" * 32


@dataclass
class _Reads:
    """Every SQLite connection made, and every statement run through one."""

    connections: list[str] = field(default_factory=list)
    statements: list[str] = field(default_factory=list)

    def facts(self) -> int:
        """Reads of the campaign table's facts."""
        return sum(s.startswith("SELECT key, value FROM campaign") for s in self.statements)


def _counted(monkeypatch: pytest.MonkeyPatch) -> _Reads:
    reads = _Reads()
    real = sqlite3.connect

    def connect(database: str | Path, *args: object, **kwargs: object) -> sqlite3.Connection:
        db = real(database, *args, **kwargs)  # type: ignore[arg-type]
        reads.connections.append(str(database))
        db.set_trace_callback(reads.statements.append)
        return db

    monkeypatch.setattr(sqlite3, "connect", connect)
    return reads


def _ledger(path: Path, *, bound: bool = True) -> None:
    with Ledger(path) as ledger:
        if bound:
            ledger.bind(ca_sha256=NEW, board=BOARD, ca_path="/ca.pem")
            ledger.set_meta("judged_against", "mqtt.example.com")
        ledger.enroll([("dev-1", "mqtt", None), ("dev-2", "mqtt", None)])


def _set(path: Path, key: str, value: str) -> None:
    """Another process's write (the ledger's file kept in WAL mode by its writer)."""
    db = sqlite3.connect(path)
    with db:
        db.execute("INSERT OR REPLACE INTO campaign (key, value) VALUES (?, ?)", (key, value))
    db.close()


def test_status_proves_and_reads_the_facts_through_one_connection(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "c.db"
    _ledger(path)
    reads = _counted(monkeypatch)
    view = read_status(path)
    assert view.meta["board"] == BOARD and view.counts["pending"] == 2
    assert len(reads.connections) == 1 and "immutable=1" in reads.connections[0]
    assert reads.facts() == 1, reads.statements


def test_status_of_a_running_campaign_reads_the_facts_once_through_its_log(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "c.db"
    _ledger(path)
    with Ledger(path) as writer:  # a campaign running: a -wal beside the file
        writer.set_meta("deadline", "2027-06-06T00:00:00+00:00")
        reads = _counted(monkeypatch)
        view = read_status(path)
    assert view.meta["deadline"] == "2027-06-06T00:00:00+00:00"  # read through the log
    # the file proven as it is (no -shm made beside a file that is no ledger), then read
    assert ["immutable=1" in c for c in reads.connections] == [True, False]
    assert reads.facts() == 1, reads.statements


def test_a_campaign_reads_its_facts_once_to_open_and_once_to_bind(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "c.db"
    _ledger(path, bound=False)  # a campaign begun whose first run bound nothing yet
    _set(path, "deadline", "2099-06-06T00:00:00+00:00")
    reads = _counted(monkeypatch)
    with Ledger(path) as ledger:
        report = run_campaign([], PushFile(gated(ca_bytes(), BOARD)), ledger, CampaignOptions())
    assert report.deadline is not None and report.deadline.year == 2099  # the bound facts
    assert len(reads.connections) == 2  # one read-only, then the writer's
    assert reads.facts() == 2, reads.statements


def test_bind_returns_the_facts_as_bound(tmp_path: Path) -> None:
    path = tmp_path / "c.db"
    _ledger(path, bound=False)
    with Ledger(path) as ledger:
        facts = ledger.bind(ca_sha256=NEW, board=BOARD, ca_path="/ca.pem")
        assert facts == ledger.meta() and facts["ca_sha256"] == NEW


@pytest.mark.parametrize(
    ("bound", "key", "value"),
    [
        (False, "created_at", "yesterday"),  # bind would keep it (INSERT OR IGNORE)
        (True, ledger_meta.DARK_KEY + "cd" * 32, "x"),
        (True, "deadline", "2030-01-01T00:00:00"),  # naive: no caller's isoformat() kept
    ],
)
def test_a_fact_damaged_after_opening_is_refused_by_bind(
    tmp_path: Path, bound: bool, key: str, value: str
) -> None:
    path = tmp_path / "c.db"
    _ledger(path, bound=bound)
    wal = Path(f"{path}-wal")
    with Ledger(path) as ledger:
        _set(path, key, value)
        before = path.read_bytes(), wal.read_bytes()
        with pytest.raises(LedgerDamaged, match="is damaged") as e:
            ledger.bind(ca_sha256=NEW, board=BOARD, ca_path="/ca.pem")
        assert e.value.exit_code == 2
        assert f"its campaign key '{key}' holds '{value}'" in e.value.message
        assert (path.read_bytes(), wal.read_bytes()) == before
    db = sqlite3.connect(path)
    facts = dict(db.execute("SELECT key, value FROM campaign"))
    db.close()
    assert facts[key] == value and ("ca_sha256" in facts) == bound


def test_a_damaged_value_is_read_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "c.db"
    _ledger(path)
    _set(path, "board", "")
    reads = _counted(monkeypatch)
    with pytest.raises(LedgerDamaged, match="campaign key 'board' holds ''") as e:
        read_status(path)
    assert reads.facts() == 1 and len(reads.connections) == 1, reads.connections
    assert not e.value.reread  # read whole: reading it again finds it the same


def test_pages_moved_under_a_read_are_read_again(tmp_path: Path) -> None:
    """SQLite's damage (a checkpoint moving pages under an immutable read) still is."""
    path = tmp_path / "c.db"
    _ledger(path)
    calls: list[int] = []

    def read(ledger: Ledger) -> int:
        calls.append(1)
        if len(calls) == 1:
            raise LedgerDamaged("the ledger is damaged (database disk image is malformed)")
        return ledger.counts()["pending"]

    assert read_consistently(path, read) == 2 and len(calls) == 2


def test_a_value_refused_while_the_file_changed_is_read_again(tmp_path: Path) -> None:
    """A torn immutable read can give any value, not only SQLite's damage: refused while
    a campaign changed the file under the read, it is read again, not called damage."""
    path = tmp_path / "c.db"
    _ledger(path)
    calls: list[int] = []

    def read(ledger: Ledger) -> int:
        calls.append(1)
        if len(calls) == 1:
            with path.open("ab") as f:  # a campaign writing meanwhile: the file changes
                f.write(bytes(4096))
            raise LedgerDamaged("campaign key 'board' holds ''", reread=False)
        return ledger.counts()["pending"]

    assert read_consistently(path, read) == 2 and len(calls) == 2


def test_the_judged_facts_names_live_with_the_rules() -> None:
    assert ledger_meta.JUDGED_KEY == "judged_against" and ledger_meta.NOTHING_JUDGED == "nothing"
    assert ledger_status.JUDGED_KEY is ledger_meta.JUDGED_KEY  # still importable there
    assert ledger_status.NOTHING_JUDGED is ledger_meta.NOTHING_JUDGED


def test_one_units_row_is_asked_of_sqlite_by_id(tmp_path: Path) -> None:
    """``row`` is called twice per unit in a pass; reading every row for it made a
    3000-unit pass quadratic (8 ms a call at 3000 rows)."""
    with Ledger(tmp_path / "c.db") as ledger:
        ledger.enroll([(f"unit-{i}", "mqtt", None) for i in range(50)])
        seen: list[str] = []
        ledger._db.set_trace_callback(seen.append)
        got = ledger.row("unit-7")
        ledger._db.set_trace_callback(None)
        assert got is not None and got.id == "unit-7"
        assert ledger.row("nobody") is None
    selects = [s for s in seen if s.lstrip().upper().startswith("SELECT") and "units" in s]
    assert selects and all("WHERE id" in s for s in selects), seen


def test_rows_read_the_units_columns_once_per_ledger(tmp_path: Path) -> None:
    """``row`` is called twice per unit in a pass: it asked SQLite for the table's
    columns (PRAGMA table_info) every time."""
    with Ledger(tmp_path / "c.db") as ledger:
        ledger.enroll([("a", "mqtt", None), ("b", "mqtt", None)])
        said: list[str] = []
        ledger._db.set_trace_callback(said.append)
        got = [ledger.row("a"), ledger.row("b"), ledger.row("a"), *ledger.rows(["b"])]
        ledger._db.set_trace_callback(None)
    assert [r.id for r in got if r is not None] == ["a", "b", "a", "b"]
    assert sum("table_info" in s for s in said) <= 1, said


@pytest.mark.parametrize("raw", [b"camp\xff.db", b"a?b#c%41.db"])
def test_a_ledger_whose_name_is_not_utf8_or_holds_uri_marks_is_read(
    tmp_path: Path, raw: bytes
) -> None:
    """Read-only, the ledger opens through SQLite's URI: a name that is not UTF-8 (its
    surrogate escapes) raised UnicodeEncodeError, a traceback from push status. Its bytes
    are percent-encoded now; '?', '#' and '%' in a name are the name's, not the URI's."""
    import os

    from click.testing import CliRunner

    from esp_cabundle.cli import cli

    p = Path(os.fsdecode(os.fsencode(tmp_path) + b"/" + raw))
    with Ledger(p) as ledger:
        ledger.set_meta("failing_since", "2024-03-13T00:00:00+00:00")
    with Ledger(p, readonly=True) as ledger:
        assert ledger.meta()["failing_since"] == "2024-03-13T00:00:00+00:00"
    r = CliRunner().invoke(cli, ["push", "status", "--ledger", str(p), "--json"])
    assert r.exit_code == 0, r.output
    assert sorted(os.listdir(tmp_path)) == [os.fsdecode(raw)]  # no other file made
