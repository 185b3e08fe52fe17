"""The campaign ledger as ``push status`` shows it: when units were first seen, the day
each unit's current CA goes dark, and a large ledger read in bounded memory."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from support.fleet import ca_bytes, mdash_unit, write_ca
from support.fleet_links import MdashStandIn

from esp_cabundle.cli import cli
from esp_cabundle.push import ledger as ledger_module
from esp_cabundle.push.ledger import Ledger

KEY = "k3y-for-status-tests"
REPO = Path(__file__).resolve().parent.parent
BOARD = "mdash-arduino@1.2.13"


def _at(monkeypatch: pytest.MonkeyPatch, when: datetime) -> None:
    monkeypatch.setattr(ledger_module, "now", lambda: when)


def _answer(ledger: Ledger, uid: str) -> None:
    assert ledger.claim(uid, ["pending", "offline", "verified"]) is not None
    ledger.record(uid, seen=True)
    ledger.release(uid)


def test_first_seen_is_the_first_answer_not_the_listing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A unit listed but never answering had a first_seen (the time it was listed):
    first_seen is when it first answered, and None while it never has."""
    t0 = datetime(2026, 3, 1, 12, tzinfo=timezone.utc)
    path = tmp_path / "c.db"
    with Ledger(path) as ledger:
        _at(monkeypatch, t0)
        ledger.enroll([("dev-1", "mqtt", None), ("dev-2", "mqtt", None)])
        ledger.mark_offline("dev-2", "not listed online")
        _at(monkeypatch, t0 + timedelta(hours=1))
        _answer(ledger, "dev-1")
        _at(monkeypatch, t0 + timedelta(hours=2))
        _answer(ledger, "dev-1")  # a later answer keeps the first
        rows = {r.id: r for r in ledger.rows()}
    assert rows["dev-1"].first_seen == (t0 + timedelta(hours=1)).isoformat()
    assert rows["dev-1"].last_seen == (t0 + timedelta(hours=2)).isoformat()
    assert rows["dev-2"].first_seen is None and rows["dev-2"].last_seen is None
    # read only, as push status reads it: the same
    with Ledger(path, readonly=True) as ledger:
        assert {r.id: r.first_seen for r in ledger.rows()} == {
            "dev-1": (t0 + timedelta(hours=1)).isoformat(),
            "dev-2": None,
        }


@pytest.fixture
def three_units(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[MdashStandIn, list[Any]]]:
    """dev1 is updated, dev2 never answers, dev3's writes never read back whole (it
    keeps the CA file it holds: DST Root CA X3 alone, which mdash.net stopped chaining
    to)."""
    units = [
        mdash_unit("dev1"),
        mdash_unit("dev2", silent=True),
        mdash_unit("dev3", corrupt_writes=100),
    ]
    units[2].image.write(
        "/ca.pem", (REPO / "tests/data/letsencrypt/dst-root-ca-x3.pem").read_bytes()
    )
    s = MdashStandIn(units, KEY)
    monkeypatch.setenv("MDASH_API_KEY", KEY)
    yield s, units
    s.close()


def _status(*argv: str) -> str:
    r = CliRunner().invoke(cli, ["push", "status", *argv])
    assert r.exit_code in (0, 3), r.output  # 3: a unit not done (test_push_safety)
    return r.stdout


def _expected(when: datetime | None) -> str:
    return "none" if when is None else when.isoformat()


def test_status_gives_each_unit_the_day_its_current_ca_goes_dark(
    three_units: Any, in_tmp: Path
) -> None:
    """A fleet owner asked, per unit, for the day its CA stops working against the
    campaign's servers: the CA pushed once a unit holds it, the CA found on a unit not
    updated, and "unknown" for a unit whose file was never read."""
    from esp_cabundle.boards import load_board
    from esp_cabundle.commands._push_links import deadline_for

    s, units = three_units
    write_ca(in_tmp)
    old = units[2].files()["/ca.pem"]
    r = CliRunner().invoke(cli, ["push", "--mdash", s.url, "--board", BOARD,
                                 "--bundle", "ca.pem", "--timeout", "0.5"])  # fmt: skip
    assert r.exit_code == 3, r.output
    judge = deadline_for(load_board(BOARD), [], in_tmp)
    pushed, found = _expected(judge(ca_bytes())), _expected(judge(old))
    assert pushed != found, (pushed, found)  # the test tells the two files apart

    doc = json.loads(_status("--json"))
    units_doc = {u["id"]: u for u in doc["units"]}
    assert {u: d["state"] for u, d in units_doc.items()} == {
        "dev1": "verified", "dev2": "offline", "dev3": "failed"
    }  # fmt: skip
    assert {u: d["goes_dark"] for u, d in units_doc.items()} == {
        "dev1": pushed, "dev2": "unknown", "dev3": found
    }  # fmt: skip
    assert doc["goes_dark"] == {pushed: 1, found: 1, "unknown": 1}
    assert not any(k.startswith("goes_dark:") for k in doc["campaign"])
    table = list(csv.DictReader(io.StringIO(_status("--csv"))))
    assert [(t["id"], t["goes_dark"]) for t in table] == [
        ("dev1", pushed), ("dev2", "unknown"), ("dev3", found)
    ]  # fmt: skip

    text = _status()
    assert "Current CA goes dark" in text and "goes dark" in text
    lines = {line.split()[0]: line for line in text.splitlines() if line.startswith("dev")}
    assert "unknown" in lines["dev2"]
    day = found[:10]
    past = found != "none" and datetime.fromisoformat(found) <= datetime.now(timezone.utc)
    assert (f"since {day}" if past else day) in lines["dev3"], text


def test_a_ledger_without_dates_says_unknown(tmp_path: Path) -> None:
    """A ledger written before the dates were kept (or by a run that could not tell
    them) reads as before, every unit's date "unknown"."""
    path = tmp_path / "c.db"
    with Ledger(path) as ledger:
        ledger.bind(ca_sha256="ab" * 32, board="mongoose-os-esp32", ca_path="/ca.pem")
        ledger.enroll([("dev-1", "mqtt", None), ("dev-2", "mqtt", None)])
        assert ledger.claim("dev-1", ["pending"]) is not None
        ledger.record("dev-1", state="verified", old_sha256="cd" * 32, new_sha256="ab" * 32)
        ledger.release("dev-1")
    before = path.read_bytes()
    doc = json.loads(_status("--ledger", str(path), "--json"))
    assert [u["goes_dark"] for u in doc["units"]] == ["unknown", "unknown"]
    assert doc["goes_dark"] == {"unknown": 2}
    assert path.read_bytes() == before


def test_status_reads_a_large_ledger_without_holding_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``push status`` on 2 million units took 32 s and 1.5 GB: every row was made a
    UnitRow. Counts and first ids come from SQL, the table holds the first 50 units not
    done ("and N more"; --all lists them), and --json/--csv write each unit as read."""
    path = tmp_path / "c.db"
    n = 130
    with Ledger(path) as ledger:
        ledger.bind(ca_sha256="ab" * 32, board="mongoose-os-esp32", ca_path="/ca.pem")
        ledger.enroll((f"dev-{i:03}", "mqtt", None) for i in range(n))
        for i in range(0, n, 10):  # every tenth unit updated
            assert ledger.claim(f"dev-{i:03}", ["pending"]) is not None
            ledger.record(f"dev-{i:03}", state="verified", new_sha256="ab" * 32)
            ledger.release(f"dev-{i:03}")
        whole = [r.to_dict() for r in ledger.rows()]

    def unbounded(*a: object, **kw: object) -> None:
        raise AssertionError("status read every row into memory")

    monkeypatch.setattr(Ledger, "rows", unbounded)
    text = _status("--ledger", str(path))
    pending = [f"dev-{i:03}" for i in range(n) if i % 10]
    listed = [line.split()[0] for line in text.splitlines() if line.startswith("dev-")]
    assert listed == pending[:50]
    assert f"Not yet updated ({len(pending)}):" in text
    assert f"... and {len(pending) - 50} more: --all lists them" in text
    first = ", ".join(pending[:10])
    row = next(line for line in text.splitlines() if line.startswith("pending "))
    assert row.split()[:2] == ["pending", str(len(pending))]
    assert row.endswith(f"  {first} and {len(pending) - 10} more"), row
    text = _status("--ledger", str(path), "--all")
    listed = [line.split()[0] for line in text.splitlines() if line.startswith("dev-")]
    assert listed == pending and "more: --all" not in text
    doc = json.loads(_status("--ledger", str(path), "--json"))
    assert [{k: v for k, v in u.items() if k != "goes_dark"} for u in doc["units"]] == whole
    assert doc["counts"]["pending"] == len(pending) and doc["counts"]["verified"] == 13
    table = list(csv.DictReader(io.StringIO(_status("--ledger", str(path), "--csv"))))
    assert [t["id"] for t in table] == [u["id"] for u in whole]


def test_a_file_that_cannot_be_judged_is_unknown_not_none(in_tmp: Path) -> None:
    """ "none" says the forecast found no failure within 20 years; a file it could not
    judge (no server for that board's connection, a file mbedTLS would not load) is
    "unknown", though for --watch both are no deadline."""
    from support.doc_commands import freeze_clock

    from esp_cabundle.boards import load_board
    from esp_cabundle.commands._push_links import CaForecast

    dst = (REPO / "tests/data/letsencrypt/dst-root-ca-x3.pem").read_bytes()
    with pytest.MonkeyPatch.context() as mp:
        freeze_clock(mp, "2026-12-01")
        judge = CaForecast(load_board(BOARD), [], in_tmp)
        assert judge.go_dark(dst).startswith("2024-06-06")  # failing since then
        assert judge.go_dark(ca_bytes()) == "none" and judge.deadline(ca_bytes()) is None
        assert judge.go_dark(b"not a certificate\n") == "unknown"
        # mDash 1.2.16 never reads the file: nothing pushed to it decides its connection
        idle = CaForecast(load_board("mdash@1.2.16"), [], in_tmp)
        assert idle.go_dark(dst) == "unknown" and idle.deadline(dst) is None
