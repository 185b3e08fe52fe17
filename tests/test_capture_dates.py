"""A saved chain's capture date, one rule wherever it comes from, and its advice said once.

- ``ServerChain(captured_at=...)`` from Python: a naive datetime is UTC, as a zone-less
  ``# captured:`` line is (it was kept naive and the check raised a TypeError); another
  zone is kept in UTC (``to_pem`` wrote its local time with a ``Z``).
- A ``# captured:`` line that cannot be read is refused, naming the file and its line
  (it was taken as absent, silently: the chain judged as undated).
- The advice for an undated chain is one wording, in the note, the hint, ``--json`` and
  the HTML report alike.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from esp_cabundle.chains import ServerChain
from esp_cabundle.check import CheckItem, check_items
from esp_cabundle.errors import ArgumentTypeError, InputError
from esp_cabundle.verify import TrustSet, forecast
from tests.support.profiles import CLOCK
from tests.support.verify_pki import NOW, mint

DAY = timedelta(days=1)
ROOT = mint("Dates Root", not_after=NOW + 3000 * DAY)
ISSUING = mint("Dates R1", ROOT, path_length=0, not_after=NOW + 30 * DAY)
LEAF = mint("svc.example", ISSUING, ca=False, san="svc.example", not_after=NOW + 20 * DAY)
LATER = NOW + 60 * DAY
CERTS = (LEAF.c, ISSUING.c)


# ---------------------------------------------------------------------------------------
# 1. captured_at from Python


def test_a_naive_captured_at_is_utc_and_judged_as_an_aware_one() -> None:
    naive = NOW.replace(tzinfo=None)
    chain = ServerChain(CERTS, "x.pem", captured_at=naive)
    assert chain.captured_at == NOW and chain.captured_at.tzinfo is not None
    trust = TrustSet.from_certificates([ROOT.c])
    # Seen sent within their dates: taken as renewed at a later date, as an aware one is.
    (r,) = check_items(trust, [CheckItem("svc", chain, CLOCK)], at=LATER).results
    assert r.ok and [e.label for e in r.timeline.renewed] == ["svc.example", "Dates R1"]
    assert r.to_dict()["captured_at"] == NOW.isoformat()


def test_forecast_takes_a_naive_seen_as_utc() -> None:
    """forecast() says naive datetimes are UTC: ``seen`` too (it was a TypeError)."""
    trust = TrustSet.from_certificates([ROOT.c])
    naive = NOW.replace(tzinfo=None)
    fc = forecast(trust, CERTS, CLOCK, at=LATER, until=LATER, seen=naive)
    assert fc.start.ok and [e.label for e in fc.renewed] == ["svc.example", "Dates R1"]


def test_a_captured_at_in_another_zone_is_kept_and_written_in_utc() -> None:
    plus2 = timezone(timedelta(hours=2))
    chain = ServerChain(CERTS, "x.pem", captured_at=datetime(2026, 1, 31, 1, 30, tzinfo=plus2))
    assert chain.captured_at == datetime(2026, 1, 30, 23, 30, tzinfo=timezone.utc)
    assert chain.captured_at.utcoffset() == timedelta(0)
    assert b"# captured: 2026-01-30T23:30:00Z" in chain.to_pem()
    # One that UTC cannot hold is refused, not an OverflowError.
    with pytest.raises(InputError, match="falls outside the years 1 to 9999 in UTC"):
        ServerChain(CERTS, "x.pem", captured_at=datetime(1, 1, 1, tzinfo=plus2))


def test_a_captured_at_that_is_no_date_is_a_type_error() -> None:
    with pytest.raises(ArgumentTypeError, match="a date or datetime is needed, not str"):
        ServerChain(CERTS, "x.pem", captured_at="2026-01-31")  # type: ignore[arg-type]
    assert issubclass(ArgumentTypeError, TypeError)
