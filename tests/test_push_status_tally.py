"""``push status``'s text counts units per state and per go-dark date and names each
state's first ids by one counting pass, then SQL per state (the first ids by the id
index, else a top-N sort): the view is the one sorting every shown row gives, whichever
way each state's ids are found."""

from __future__ import annotations

import sqlite3
from collections import Counter
from pathlib import Path

import pytest

from esp_cabundle.push import ledger_status
from esp_cabundle.push.ledger import STATES, Ledger
from esp_cabundle.push.ledger_status import DARK_KEY, IDS_PER_STATE, read_status

OLD, NEW = "cd" * 32, "ab" * 32


def _ledger(path: Path, *, urls: bool) -> None:
    """Units in every state, their ids not in state order; one state of a single unit
    whose id sorts last, and (``urls``) URL ids whose masked query reorders them."""
    ids = [f"u{(i * 7919) % 500:04d}" for i in range(500)] + ["zz-last"]
    if urls:
        ids += [f"http://10.0.0.{i}/rpc?k={9 - i}" for i in range(10)] + ["http://10.0.0.0/a"]
    with Ledger(path) as ledger:
        ledger.bind(ca_sha256=NEW, board="mongoose-os-esp32", ca_path="/ca.pem")
        ledger.set_meta(DARK_KEY + OLD, "2027-06-06T00:00:00+00:00")
        ledger.enroll((uid, "mqtt", None) for uid in ids)
    db = sqlite3.connect(path)
    with db:
        states = [s for s in STATES if s != "rebooted"]
        for n, s in enumerate(states):
            db.execute(
                "UPDATE units SET state = ?, old_sha256 = CASE WHEN rowid % 3 THEN ? END "
                "WHERE rowid % ? = ?",
                (s, OLD, len(states), n),
            )
        db.execute(
            "UPDATE units SET state = 'rebooted', new_sha256 = ? WHERE id = 'zz-last'", (NEW,)
        )
    db.close()


def _expected(path: Path) -> tuple[dict[str, int], dict[str, list[str]]]:
    with Ledger(path, readonly=True) as ledger:
        rows = [r.shown() for r in ledger.rows()]
    counts = Counter(r.state for r in rows)
    first: dict[str, list[str]] = {}
    for r in sorted(rows, key=lambda r: r.id):
        if len(first.setdefault(r.state, [])) < IDS_PER_STATE:
            first[r.state].append(r.id)
    return {s: counts[s] for s in STATES}, first


@pytest.mark.parametrize("urls", [False, True])
@pytest.mark.parametrize("walked", [0, 3, 40, 20_000])
def test_first_ids_and_counts_whichever_way_they_are_found(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, urls: bool, walked: int
) -> None:
    monkeypatch.setattr(ledger_status, "_WALKED", walked)
    path = tmp_path / "c.db"
    _ledger(path, urls=urls)
    counts, first = _expected(path)
    view = read_status(path)
    assert view.counts == counts
    assert {s: ids for s, ids in view.first_ids.items() if ids} == first
    assert first["rebooted"] == ["zz-last"]
    assert sum(view.dark.values()) == sum(counts.values())
    assert list(view.dark) == ["2027-06-06T00:00:00+00:00", "unknown"]
