"""A library caller's dates reach the ledger in the one form its row check reads back.

The check accepts only what push writes (UTC, +00:00); a ``go_dark_for`` answering
"2027-06-06" or a ``deadline_for`` giving a +02:00 datetime was written as given, and
the next ``push status`` called the caller's own ledger damaged."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from support.fleet import ca_bytes
from support.gated import gated

from esp_cabundle.errors import ArgumentTypeError
from esp_cabundle.push.campaign import CampaignOptions, PushFile, ledger_instant, run_campaign
from esp_cabundle.push.ledger import Ledger
from esp_cabundle.push.ledger_meta import DARK_KEY
from esp_cabundle.push.ledger_status import read_status

BOARD = "mongoose-os-esp32"


def _run(path: Path, go_dark_for: Callable[[bytes], str]) -> PushFile:
    push = PushFile(gated(ca_bytes(), BOARD))
    with Ledger(path) as ledger:
        run_campaign([], push, ledger, CampaignOptions(go_dark_for=go_dark_for))
    return push


def _dates(path: Path) -> dict[str, str]:
    db = sqlite3.connect(path)
    try:
        rows = db.execute("SELECT key, value FROM campaign WHERE key GLOB ?", (DARK_KEY + "*",))
        return dict(rows.fetchall())
    finally:
        db.close()


@pytest.mark.parametrize(
    ("given", "kept"),
    [
        ("2027-06-06", "2027-06-06T00:00:00+00:00"),
        ("2027-06-06T02:00:00+02:00", "2027-06-06T00:00:00+00:00"),
        ("2027-06-06T00:00:00Z", "2027-06-06T00:00:00+00:00"),
        ("2027-06-06T00:00:00.250000", "2027-06-06T00:00:00.250000+00:00"),
        ("none", "none"),
        ("unknown", "unknown"),
    ],
)
def test_a_callers_go_dark_date_is_kept_as_push_writes_it(
    tmp_path: Path, given: str, kept: str
) -> None:
    path = tmp_path / "c.db"
    push = _run(path, lambda _: given)
    read_status(path)  # raised LedgerDamaged before
    assert _dates(path) == {DARK_KEY + push.sha256: kept}


# "20270606" and "+02" are read by fromisoformat() on 3.11 and later, not on 3.10: a
# caller is judged alike on each, by the form push reads back.
@pytest.mark.parametrize(
    "given",
    [
        "soon",
        "2027-13-01",
        "",
        20270606,
        "20270606",
        "2027-06-06T00:00:00+02",
        "2027-06-06T00:00:00-00:00",
    ],
)
def test_a_callers_go_dark_value_that_is_no_date_is_its_error(
    tmp_path: Path, given: object
) -> None:
    path = tmp_path / "c.db"
    with pytest.raises(ArgumentTypeError, match="go_dark_for gave"):
        _run(path, lambda _: given)  # type: ignore[arg-type,return-value]
    read_status(path)
    assert _dates(path) == {}


def test_a_callers_deadline_of_another_zone_is_kept_in_utc() -> None:
    when = datetime(2027, 6, 6, 2, 0, tzinfo=timezone(timedelta(hours=2)))
    assert ledger_instant(when) == "2027-06-06T00:00:00+00:00"
    assert ledger_instant(datetime(2027, 6, 6)) == "2027-06-06T00:00:00+00:00"  # naive: UTC
