"""``push`` and ``push status`` tell the roadmap's date beside the date a saved chain
proves, as ``check`` does: units holding DST Root CA X3 alone, mdash.net's saved chain
(2024's Let's Encrypt short chain) proving "failing at least since 2024-03-13", and the
servers a shipped roadmap says send that chain failing from 2024-06-06 (when units
without a clock really went dark). push said only the first date."""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path

import pytest
from click.testing import CliRunner
from support.fleet import ca_bytes, dst_mdash_fleet
from support.fleet_links import MdashStandIn
from support.gated import gated

from esp_cabundle.cli import cli
from esp_cabundle.errors import ArgumentTypeError, OutputError
from esp_cabundle.push.campaign import CampaignOptions, PushFile, _Run
from esp_cabundle.push.ledger import Ledger
from esp_cabundle.push.ledger_rows import TEXT_CAP

KEY = "k3y-for-roadmap-tests"
BOARD = "mdash-arduino@1.2.13"
# push's sentence names no chain of its own: the roadmap's words name it
SAID = "servers a shipped roadmap says send that server's chain fail from 2024-06-06"
KINDS = "letsencrypt rsa-default since 2024-02-08"


@pytest.fixture
def dst_fleet(monkeypatch: pytest.MonkeyPatch, in_tmp: Path) -> Iterator[MdashStandIn]:
    """A unit updated and one holding DST Root CA X3 alone whose writes never read back
    whole (so the campaign is not settled and the dates are said); mdash.net's chain
    saved as 2024's short chain."""
    s = dst_mdash_fleet(in_tmp, KEY, dst=(1,))
    monkeypatch.setenv("MDASH_API_KEY", KEY)
    yield s
    s.close()


def _run(*argv: str, code: int = 3) -> str:
    r = CliRunner().invoke(cli, list(argv))
    assert r.exit_code == code, r.output
    return r.stdout


def _flat(text: str) -> str:
    return " ".join(text.split())


def test_push_and_status_tell_the_roadmaps_date_beside_the_proven_one(
    dst_fleet: MdashStandIn,
) -> None:
    # no unit is silent: 2 s waits out no one, and a slow read on a loaded machine is
    # not taken for a unit gone (0.5 s was)
    argv = ["push", "--mdash", dst_fleet.url, "--board", BOARD, "--bundle", "ca.pem",
            "--timeout", "2"]  # fmt: skip
    text = _flat(_run(*argv))
    assert "at least since 2024-03-13" in text, text
    assert f"{SAID} (" in text and KINDS in text, text
    assert "this chain" not in text, text  # check's words, where a chain was shown
    doc = json.loads(_run(*argv, "--json"))
    assert doc["failing_since"].startswith("2024-03-13"), doc
    roadmap = doc["roadmap_since"]
    # as check --json's failing_since.roadmap_since: the day; the ledger keeps the instant
    assert roadmap["date"] == "2024-06-06" and KINDS in roadmap["why"], roadmap
    assert doc["campaign"]["roadmap_since"] == "2024-06-06T00:00:00+00:00"
    assert doc["campaign"]["roadmap_why"] == roadmap["why"]

    status = _flat(_run("push", "status"))
    assert "at least since 2024-03-13" in status and f"{SAID} (" in status, status
    assert KINDS in status, status
    facts = json.loads(_run("push", "status", "--json"))["campaign"]
    assert facts["failing_since"].startswith("2024-03-13"), facts
    assert facts["roadmap_since"] == "2024-06-06T00:00:00+00:00", facts
    assert facts["roadmap_why"] == roadmap["why"]


def test_a_ledger_without_the_roadmaps_date_reads_as_before(tmp_path: Path) -> None:
    """A ledger an older release wrote: its failing_since alone, said as before."""
    path = tmp_path / "c.db"
    with Ledger(path) as ledger:
        ledger.bind(ca_sha256="ab" * 32, board=BOARD, ca_path="/ca.pem")
        ledger.set_meta("failing_since", "2024-03-13T00:00:00+00:00")
        ledger.enroll([("dev-1", "mqtt", None)])
    before = path.read_bytes()
    text = _flat(_run("push", "status", "--ledger", str(path)))
    assert "at least since 2024-03-13: a unit that connects" in text, text
    assert "roadmap" not in text
    facts = json.loads(_run("push", "status", "--ledger", str(path), "--json"))["campaign"]
    assert facts["failing_since"] == "2024-03-13T00:00:00+00:00"
    assert "roadmap_since" not in facts and "roadmap_why" not in facts
    assert path.read_bytes() == before


PROVEN = datetime(2024, 3, 13, tzinfo=timezone.utc)
ROAD = (datetime(2024, 6, 6, tzinfo=timezone.utc), KINDS)


def _meta(path: Path) -> dict[str, str]:
    with Ledger(path, readonly=True) as ledger:
        return ledger.meta()


def _campaign(path: Path, **options: object) -> _Run:
    push = PushFile(gated(ca_bytes(), "mongoose-os-esp32"))
    ledger = Ledger(path)
    ledger.bind(ca_sha256=push.sha256, board=push.board, ca_path=push.name)
    return _Run([], push, ledger, CampaignOptions(**options), None, threading.Event())  # type: ignore[arg-type]


def test_the_earliest_files_roadmap_is_kept_beside_its_date(tmp_path: Path) -> None:
    """A file found failing earlier takes failing_since: the roadmap's date of another
    file's chain is not left beside it."""
    dates = {b"a": PROVEN, b"b": datetime(2021, 9, 30, tzinfo=timezone.utc)}
    roads = {b"a": ROAD, b"b": None}
    run = _campaign(tmp_path / "c.db", deadline_for=dates.get, roadmap_for=roads.get)
    try:
        run.note_old_ca(b"a")
        meta = _meta(tmp_path / "c.db")
        assert meta["roadmap_since"] == "2024-06-06T00:00:00+00:00", meta
        assert meta["roadmap_why"] == KINDS and run.roadmap == ROAD
        run.note_old_ca(b"b")
        meta = _meta(tmp_path / "c.db")
        assert meta["failing_since"].startswith("2021-09-30"), meta
        assert "roadmap_since" not in meta and "roadmap_why" not in meta and run.roadmap is None
    finally:
        run.ledger.close()


@pytest.mark.parametrize(
    "given",
    [
        "2024-06-06",
        (ROAD[0],),
        (ROAD[0], ""),
        (ROAD[0], "a\nb"),
        ("2024-06-06", KINDS),
        (ROAD[0], 3),
        (ROAD[0], "k" * (TEXT_CAP + 1)),  # past what the ledger keeps of any text
    ],
)
def test_a_callers_roadmap_that_is_none_of_push_is_its_error(tmp_path: Path, given: object) -> None:
    path = tmp_path / "c.db"
    run = _campaign(path, deadline_for=lambda _: PROVEN, roadmap_for=lambda _: given)
    try:
        before = _meta(path)
        with pytest.raises(ArgumentTypeError, match="roadmap_for gave"):
            run.note_old_ca(b"a")
        assert _meta(path) == before  # nothing written: no date, no go-dark value
    finally:
        run.ledger.close()


def test_campaign_options_refuse_a_roadmap_for_that_is_no_function() -> None:
    with pytest.raises(ArgumentTypeError, match="roadmap_for= takes a function or None"):
        CampaignOptions(roadmap_for="2024-06-06")  # type: ignore[arg-type]


def test_a_roadmap_why_at_the_cap_is_kept(tmp_path: Path) -> None:
    why = "k" * TEXT_CAP
    run = _campaign(
        tmp_path / "c.db", deadline_for=lambda _: PROVEN, roadmap_for=lambda _: (ROAD[0], why)
    )
    try:
        run.note_old_ca(b"a")
    finally:
        run.ledger.close()
    assert _meta(tmp_path / "c.db")["roadmap_why"] == why


def test_a_stored_roadmap_why_past_the_cap_is_a_damaged_ledger(tmp_path: Path) -> None:
    path = tmp_path / "c.db"
    with Ledger(path) as ledger:
        ledger.bind(ca_sha256="ab" * 32, board=BOARD, ca_path="/ca.pem")
        ledger.set_meta("failing_since", PROVEN.isoformat())
        ledger.set_meta("roadmap_since", ROAD[0].isoformat())
    db = sqlite3.connect(path)
    with db:  # a value push never writes
        db.execute("INSERT INTO campaign VALUES ('roadmap_why', ?)", ("k" * (TEXT_CAP + 1),))
    db.close()
    before = path.read_bytes()
    r = CliRunner().invoke(cli, ["push", "status", "--ledger", str(path)])
    assert r.exit_code == 2, r.output
    said = " ".join(r.stderr.split())
    assert f"the ledger {path} is damaged" in said and "'roadmap_why'" in said, said
    assert f"at most {TEXT_CAP} characters" in said, said
    assert path.read_bytes() == before


class _FailingWrite:
    """The ledger's connection, failing the write of ``key`` as a full disk would."""

    def __init__(self, db: sqlite3.Connection, key: str) -> None:
        self.db, self.key = db, key

    def execute(self, sql: str, params: tuple[object, ...] = ()) -> object:
        if sql.startswith("INSERT") and params[:1] == (self.key,):
            raise sqlite3.OperationalError("disk I/O error")
        return self.db.execute(sql, params)

    def __getattr__(self, name: str) -> object:
        return getattr(self.db, name)


@pytest.mark.parametrize("key", ["roadmap_since", "roadmap_why"])
def test_failing_since_and_the_roadmap_are_written_in_one_transaction(
    tmp_path: Path, key: str
) -> None:
    """They were three transactions: a crash after the first left failing_since with no
    roadmap beside it (or an earlier file's)."""
    path = tmp_path / "c.db"
    run = _campaign(path, deadline_for=lambda _: PROVEN, roadmap_for=lambda _: ROAD)
    try:
        real = run.ledger._db
        run.ledger._db = _FailingWrite(real, key)  # type: ignore[assignment]
        with pytest.raises(OutputError, match="disk I/O error"):
            run.note_old_ca(b"a")
        run.ledger._db = real
        meta = _meta(path)
        assert not {"failing_since", "roadmap_since", "roadmap_why"} & set(meta), meta
    finally:
        run.ledger.close()
