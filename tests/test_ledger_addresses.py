"""An address (a LAN unit's URL) is one unit's at a time. DHCP hands a URL on to
another unit; the ledger kept it on both rows and ``known_at`` picked the newer by
``updated_at``, which has whole seconds: two units reached in the same second tied."""

from __future__ import annotations

from pathlib import Path

import pytest

from esp_cabundle.push import ledger as ledger_module
from esp_cabundle.push.ledger import Ledger

URL = "http://192.168.1.20"


@pytest.fixture(autouse=True)
def _one_second(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every row written within the same second, as a quick campaign writes them."""
    monkeypatch.setattr(ledger_module, "_now_text", lambda: "2026-12-03T12:00:00+00:00")


def test_the_unit_reached_last_at_an_address_is_known_there(tmp_path: Path) -> None:
    with Ledger(tmp_path / "c.db") as ledger:
        ledger.enroll([("unit-b", "rpc", URL)])
        ledger.enroll([("unit-a", "rpc", URL)])
        assert ledger.known_at(URL) == "unit-a"
        ledger.enroll(iter([("unit-b", "rpc", URL)]))  # a generator is read once, whole
        assert ledger.known_at(URL) == "unit-b"
        assert ledger.known_at("http://192.168.1.21") is None


def test_a_row_kept_under_the_address_takes_it_to_the_unit_that_reports_its_id(
    tmp_path: Path,
) -> None:
    """An earlier run could not ask the unit at URL its id (the row is keyed by URL);
    now the unit there says it is unit-c, while unit-d was reached there before."""
    with Ledger(tmp_path / "c.db") as ledger:
        ledger.enroll([("unit-d", "rpc", URL), (URL, "rpc", URL)])
        assert ledger.adopt("unit-c", URL)
        assert ledger.known_at(URL) == "unit-c"
        ids = {u.id: u.address for u in ledger.rows()}
        assert ids == {"unit-c": URL, "unit-d": None}
