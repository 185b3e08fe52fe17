"""Each unit's "goes dark" as push's paragraph and ``check`` say it, and the dry run's
room column made readable (a fleet owner's tryout of ``push --mdash``).

Units holding DST Root CA X3 alone, mdash.net's chain saved as 2024's short chain: check
says "failing at least since 2024-03-13" and that the servers a shipped roadmap says send
that chain fail from 2024-06-06 (DOMAIN.md: Let's Encrypt stopped offering the long chain
then); push's paragraph says the same. The tables said "since 2024-03-13" per unit, a
different date than the paragraph's to the reader: they now say "at least since
2024-03-13 (roadmap: 2024-06-06)", by the paragraph's one rule (``_push_dates``). The
dry run's room column repeated "unknown: the unit does not report its free space
(writing ca.pem.new)" on every mDash row: it now says "unknown", the reason once below.
--json and --csv keep their values: ``goes_dark`` is the date the chain proves (check
--json's ``failing_since.date``), the roadmap's beside the campaign's ``failing_since``."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path

import pytest
from click.testing import CliRunner
from support.fleet import dst_mdash_fleet
from support.fleet_links import MdashStandIn

from esp_cabundle.cli import cli
from esp_cabundle.push.ledger import Ledger

KEY = "k3y-for-dark-words"
BOARD = "mdash-arduino@1.2.13"
PROVEN = "2024-03-13T00:00:00+00:00"  # the saved chain's newest certificate's first day
CELL = "at least since 2024-03-13 (roadmap: 2024-06-06)"
NO_FREE = "the unit does not report its free space (writing ca.pem.new)"


@pytest.fixture
def dst_fleet(monkeypatch: pytest.MonkeyPatch, in_tmp: Path) -> Iterator[MdashStandIn]:
    """Two mDash units holding DST Root CA X3 alone, one whose writes never read back
    whole (so a push leaves it not done and status lists it)."""
    s = dst_mdash_fleet(in_tmp, KEY, dst=(0, 1))
    monkeypatch.setenv("MDASH_API_KEY", KEY)
    monkeypatch.setenv("COLUMNS", "200")
    yield s
    s.close()


def _run(*argv: str, code: int = 3) -> str:
    r = CliRunner().invoke(cli, list(argv))
    assert r.exit_code == code, r.output
    return r.stdout


def _row(text: str, uid: str) -> str:
    (line,) = [x for x in text.splitlines() if x.startswith(uid + " ")]
    return line


def test_the_dry_runs_table_says_the_date_as_the_paragraph_and_its_room_once(
    dst_fleet: MdashStandIn,
) -> None:
    argv = ["push", "--mdash", dst_fleet.url, "--board", BOARD, "--bundle", "ca.pem",
            "--timeout", "2", "--dry-run"]  # fmt: skip
    text = _run(*argv, code=0)
    for uid in ("dev1", "dev2"):
        line = _row(text, uid)
        assert CELL in line, text
        assert "  unknown  " in line and "free space" not in line, text
    # the reason once, below the table; the roadmap's date said in check's words
    assert text.count(NO_FREE) == 1 and f"room unknown: {NO_FREE}" in text, text
    assert f"{CELL}  2" in text, text  # the summary table's row, in the same words
    flat = " ".join(text.split())
    assert "roadmap: servers a shipped roadmap says send that server's chain fail from " \
        "2024-06-06 (letsencrypt rsa-default since 2024-02-08" in flat, text  # fmt: skip
    # --json as before: the date the chain proves, the room's whole words, no new key
    doc = json.loads(_run(*argv, "--json", code=0))
    assert doc["goes_dark"] == {PROVEN: 2}, doc
    for unit in doc["units"]:
        assert unit["goes_dark"] == PROVEN and unit["room"] == f"unknown: {NO_FREE}", unit
        assert "roadmap" not in unit, unit


def test_status_tells_each_unit_the_paragraphs_date(dst_fleet: MdashStandIn) -> None:
    argv = ["push", "--mdash", dst_fleet.url, "--board", BOARD, "--bundle", "ca.pem",
            "--timeout", "2"]  # fmt: skip
    _run(*argv)
    text = _run("push", "status")
    flat = " ".join(text.split())
    assert "at least since 2024-03-13; servers a shipped roadmap says send that server's " \
        "chain fail from 2024-06-06" in flat, text  # fmt: skip
    assert CELL in _row(text, "dev2"), text  # the unit not yet updated, in the same words
    # a unit updated holds the new file: its own date, not the paragraph's
    assert f"{CELL}  1" in text, text
    doc = json.loads(_run("push", "status", "--json"))
    units = {u["id"]: u for u in doc["units"]}
    assert units["dev2"]["goes_dark"] == doc["campaign"]["failing_since"] == PROVEN, doc
    assert doc["campaign"]["roadmap_since"].startswith("2024-06-06"), doc["campaign"]
    rows = {r["id"]: r for r in csv.DictReader(io.StringIO(_run("push", "status", "--csv")))}
    assert rows["dev2"]["goes_dark"] == PROVEN, rows


def test_an_old_ledger_without_the_roadmap_says_at_least_since(tmp_path: Path) -> None:
    """A ledger an earlier release wrote (no roadmap_since): read as it is, each unit
    "at least since" its day, as the paragraph says it, no roadmap date made up."""
    path = tmp_path / "c.db"
    sha = "cd" * 32
    with Ledger(path) as ledger:
        ledger.bind(ca_sha256="ab" * 32, board=BOARD, ca_path="/ca.pem")
        ledger.set_meta("failing_since", PROVEN)
        ledger.set_meta("goes_dark:" + sha, PROVEN)
        ledger.enroll([("dev-1", "mdash", None)])
        assert ledger.claim("dev-1", ["pending"]) is not None
        ledger.record("dev-1", state="offline", old_sha256=sha)
        ledger.release("dev-1")
    before = path.read_bytes()
    text = _run("push", "status", "--ledger", str(path))
    assert "at least since 2024-03-13" in _row(text, "dev-1") and "roadmap" not in text, text
    assert path.read_bytes() == before


def test_only_the_file_the_roadmap_is_of_gets_its_date() -> None:
    """The campaign keeps one roadmap date, beside failing_since: a unit whose file fails
    from another day is said without it, as the paragraph says nothing of it."""
    from esp_cabundle.commands._push_dates import dark_words

    road = (datetime(2024, 6, 6, tzinfo=timezone.utc), "letsencrypt rsa-default")
    assert dark_words(PROVEN, PROVEN, road) == CELL
    assert dark_words(PROVEN, datetime(2024, 3, 13, tzinfo=timezone.utc), road) == CELL
    other = "2021-09-30T14:01:15+00:00"
    assert dark_words(other, PROVEN, road) == "at least since 2021-09-30"
    assert dark_words("2099-01-01T00:00:00+00:00", PROVEN, road) == "2099-01-01"
    assert (dark_words("none"), dark_words("unknown")) == ("none found", "unknown")


def test_room_cells_number_the_reasons_only_when_they_differ() -> None:
    from esp_cabundle.push.room import room_cells

    wrapped = "unknown: the free space the unit reports is not within its file system's"
    fits = "fits (ca.pem.new needs 6,054 bytes, the unit has 217,088 bytes free)"
    cells, notes = room_cells([f"unknown: {NO_FREE}", fits, None, f"unknown: {NO_FREE}"])
    assert cells == ["unknown", fits, "", "unknown"] and notes == [f"room unknown: {NO_FREE}"]
    cells, notes = room_cells([f"unknown: {NO_FREE}", wrapped])
    assert cells == ["unknown (1)", "unknown (2)"], cells
    assert notes == [f"room unknown (1): {NO_FREE}", f"room unknown (2): {wrapped[9:]}"]
