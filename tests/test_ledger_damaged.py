"""A damaged ledger (a copy cut short, a page overwritten) is told from another
program's database: the first is to be restored from a copy, as README says, where a
truncated ledger was called "not a campaign ledger" with the hint to give --ledger a
new file name. Either way the file is left as it was."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

from esp_cabundle.cli import cli
from esp_cabundle.errors import InputError, OutputError
from esp_cabundle.push.ledger import Ledger
from esp_cabundle.push.ledger_files import LedgerDamaged, damaged


def _ledger(tmp: Path) -> bytes:
    """A closed campaign ledger of many pages, as bytes."""
    with Ledger(tmp / "f.db") as ledger:
        ledger.bind(ca_sha256="ab" * 32, board="mdash-arduino", ca_path="/ca.pem")
        ledger.enroll([(f"dev{i:05d}", "mdash", None) for i in range(3000)])
    return (tmp / "f.db").read_bytes()


def _status(path: Path) -> tuple[int, str]:
    r = CliRunner().invoke(cli, ["push", "status", "--ledger", str(path)])
    return r.exit_code, r.output


def _cut(data: bytes) -> bytes:
    return data[:8000]


def _page_overwritten(data: bytes) -> bytes:
    page = int.from_bytes(data[16:18], "big")
    return data[: 3 * page] + b"\xa5" * page + data[4 * page :]


@pytest.mark.parametrize(
    ("harm", "cut_short"), [(_cut, True), (lambda d: d[:60], True), (_page_overwritten, False)]
)
def test_a_damaged_ledger_is_called_damaged_and_left_unchanged(
    tmp_path: Path, harm: Callable[[bytes], bytes], cut_short: bool
) -> None:
    bad = harm(_ledger(tmp_path))
    path = tmp_path / "cut.db"
    path.write_bytes(bad)
    code, out = _status(path)
    assert code == 2, out
    assert f"the ledger {path} is damaged" in out and "restore it from a copy" in out, out
    assert "not a campaign ledger" not in out and "new file name" not in out, out
    if cut_short:  # a page of rows is found by the campaign only when it reads it
        with pytest.raises(LedgerDamaged, match="is damaged"):
            Ledger(path)  # a campaign's open, which would write
    assert path.read_bytes() == bad
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cut.db", "f.db"]


def test_another_programs_database_is_still_not_a_ledger(tmp_path: Path) -> None:
    path = tmp_path / "other.db"
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE t (x)")
    db.executemany("INSERT INTO t VALUES (?)", [(i,) for i in range(3000)])
    db.commit()
    db.close()
    before = path.read_bytes()
    code, out = _status(path)
    assert code == 2 and "is not a campaign ledger" in out and "damaged" not in out, out
    with pytest.raises(InputError, match="not a campaign ledger") as e:
        Ledger(path)
    assert not isinstance(e.value, LedgerDamaged)
    assert "new file name" in (e.value.hint or "")
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["other.db"]


def test_a_locked_database_is_an_io_failure_not_damage(tmp_path: Path) -> None:
    """SQLite's "database is locked" (another process writing it) says nothing of damage:
    an I/O failure (exit 3, run again), never "damaged" (exit 2, restore from a copy)."""
    p = tmp_path / "other.db"
    holder = sqlite3.connect(p, isolation_level=None)
    holder.execute("CREATE TABLE t (x)")
    holder.execute("BEGIN EXCLUSIVE")
    holder.execute("INSERT INTO t VALUES (1)")
    db = sqlite3.connect(f"file:{p}?mode=ro", uri=True, timeout=0)
    try:
        with pytest.raises(OutputError, match="database is locked"):
            damaged(p, db)
    finally:
        db.close()
        holder.close()
