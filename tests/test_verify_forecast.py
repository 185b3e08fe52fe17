"""Forecasts: verdicts only change where a certificate enters or leaves its window, so
the forecast evaluates exactly those instants — checked here against brute force."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from esp_cabundle.chains import ServerChain
from esp_cabundle.errors import InputError
from esp_cabundle.timeline import Period, Timeline, judge_periods
from esp_cabundle.verify import (
    TrustSet,
    forecast,
    verify_chain,
)
from tests.support.profiles import CLOCK, IDF_CLOCK, NOCLOCK, UNSET
from tests.support.verify_pki import fresh_key, mint

BASE = datetime(2030, 1, 1, tzinfo=timezone.utc)
SECOND = timedelta(seconds=1)


def day(n: int) -> datetime:
    return BASE + timedelta(days=n)


def test_flip_happens_one_second_after_not_after() -> None:
    root = mint("F Root", not_before=day(-1000), not_after=day(100))
    inter = mint("F CA", root, not_before=day(-900), not_after=day(900), path_length=0)
    trust = TrustSet.from_certificates([root.c])
    fc = forecast(trust, [inter.c], CLOCK, at=day(0), until=day(400))
    assert fc.start.ok and len(fc.changes) == 1
    change = fc.changes[0]
    assert change.when == day(100) + SECOND and not change.verdict.ok
    assert verify_chain(trust, [inter.c], CLOCK, at=day(100)).ok
    assert change.describe() == (
        f"{day(100).date().isoformat()}: F Root expires — the device fails from then on"
    )
    assert fc.first_failure is change and not fc.ok_throughout


def test_a_chain_can_start_passing_when_a_cross_sign_becomes_valid() -> None:
    old = mint("Old", not_before=day(-1000), not_after=day(3000))
    key = fresh_key()
    cross = mint("New", old, key=key, not_before=day(50), not_after=day(2000))
    inter = mint(
        "Issuing", mint("New", key=key), path_length=0, not_before=day(-10), not_after=day(5000)
    )
    trust = TrustSet.from_certificates([old.c])
    fc = forecast(trust, [inter.c, cross.c], CLOCK, at=day(0), until=day(2500))
    assert not fc.start.ok
    assert [(c.verdict.ok, c.when) for c in fc.changes] == [
        (True, day(50)),
        (False, day(2000) + SECOND),
    ]
    assert [str(e) for e in fc.changes[0].events] == ["New becomes valid"]
    # Failing now, passing later, failing again: no first failure (as check's), the
    # failure now is dated back, and the later dates are in the changes.
    assert fc.first_failure is None
    tl = _timeline(trust, [inter.c, cross.c], at=day(0), until=day(2500))
    assert tl.first_failure is None and tl.failing_since is not None and not fc.start.ok
    assert [(f.verdict.ok, f.when) for f in tl.flips] == [
        (c.verdict.ok, c.when) for c in fc.changes
    ]


def _timeline(trust: TrustSet, chain: list, *, at: datetime, until: datetime) -> Timeline:
    """What check judges of one saved chain (no capture date)."""
    return judge_periods(
        trust, [Period(ServerChain(tuple(chain), "c.pem"))], CLOCK, at=at, until=until
    )


def test_a_chain_failing_now_has_no_first_failure_but_since_when() -> None:
    """Fails at ``at`` (its issuing CA expired); later its root expires too: that later
    change is no first failure (it read as a failure still to come), as check's JSON has
    it (whose failing_since dates the one in effect)."""
    root = mint("S Root", not_before=day(-1000), not_after=day(500))
    inter = mint("S CA", root, path_length=0, not_before=day(-900), not_after=day(-10))
    trust = TrustSet.from_certificates([root.c])
    fc = forecast(trust, [inter.c], CLOCK, at=day(0), until=day(1000))
    assert not fc.start.ok and [c.verdict.ok for c in fc.changes] == [False]
    assert fc.first_failure is None
    tl = _timeline(trust, [inter.c], at=day(0), until=day(1000))
    since = tl.failing_since
    assert tl.first_failure is None and since is not None
    assert since.date == day(-10) and since.why == "S CA expires"


def test_a_chain_passing_now_has_a_first_failure_and_no_failing_since() -> None:
    root = mint("P Root", not_before=day(-1000), not_after=day(100))
    inter = mint("P CA", root, path_length=0, not_before=day(-900), not_after=day(900))
    trust = TrustSet.from_certificates([root.c])
    fc = forecast(trust, [inter.c], CLOCK, at=day(0), until=day(400))
    assert fc.start.ok
    first = fc.first_failure
    assert first is not None and first.when == day(100) + SECOND
    tl = _timeline(trust, [inter.c], at=day(0), until=day(400))
    assert tl.first_failure is not None and tl.first_failure.when == first.when


def test_issuing_intermediates_and_leaves_rotate_unless_asked() -> None:
    root = mint("Rot Root", not_before=day(-10), not_after=day(5000))
    inter = mint("Rot CA", root, path_length=0, not_before=day(-10), not_after=day(300))
    leaf = mint("leaf", inter, ca=False, not_before=day(-10), not_after=day(60))
    trust = TrustSet.from_certificates([root.c])
    fc = forecast(trust, [leaf.c, inter.c], CLOCK, at=day(0), until=day(6000))
    assert [e.label for e in fc.rotating] == ["leaf", "Rot CA"]
    assert [c.when for c in fc.changes] == [day(5000) + SECOND]
    strict = forecast(
        trust, [leaf.c, inter.c], CLOCK, at=day(0), until=day(6000), rotate_issuing=False
    )
    assert strict.changes[0].when == day(60) + SECOND
    assert "leaf expires" in strict.changes[0].describe()


def test_no_clock_and_unset_clock_say_dates_do_not_matter() -> None:
    root = mint("NC Root", not_before=day(-10), not_after=day(10))
    inter = mint("NC CA", root, path_length=0)
    trust = TrustSet.from_certificates([root.c])
    fc = forecast(trust, [inter.c], NOCLOCK, at=day(0), until=day(9000))
    assert fc.ok_throughout and fc.changes == ()
    assert "no date can break it" in fc.note and "server changes its chain" in fc.note
    bad = forecast(
        TrustSet.from_certificates([mint("X").c]), [inter.c], NOCLOCK, at=day(0), until=day(9000)
    )
    assert not bad.ok_throughout and "no date changes this verdict" in bad.note
    unset = forecast(trust, [inter.c], UNSET, at=day(0), until=day(9000))
    assert not unset.ok_throughout and "1970" in unset.note


def test_until_before_at_is_an_error() -> None:
    root = mint("E Root")
    with pytest.raises(InputError, match="before"):
        forecast(TrustSet.from_certificates([root.c]), [root.c], CLOCK, at=day(10), until=day(1))


def test_forecast_is_json_ready() -> None:
    import json

    root = mint("J Root", not_before=day(-10), not_after=day(100))
    inter = mint("J CA", root, path_length=0)
    fc = forecast(TrustSet.from_certificates([root.c]), [inter.c], CLOCK, at=day(0), until=day(200))
    doc = json.loads(json.dumps(fc.to_dict()))
    assert doc["ok_throughout"] is False
    assert doc["changes"][0]["date"] == day(100).date().isoformat()
    assert doc["changes"][0]["events"] == ["J Root expires"]


# ---------------------------------------------------------------------------------------
# Property: the forecast's timeline equals the verdict at any sampled instant.

_KEYS = [fresh_key() for _ in range(4)]
window = st.tuples(st.integers(-400, 3000), st.integers(1, 3000))


@st.composite
def hierarchies(draw: st.DrawFn):  # type: ignore[no-untyped-def]
    """Two roots sharing a name and key (re-issued), a cross-sign by another root, an
    intermediate; random windows; random trust subset; random chain contents."""
    w = [draw(window) for _ in range(5)]

    def span(i: int) -> dict:
        start, length = w[i]
        return {"not_before": day(start), "not_after": day(start + length)}

    root_a = mint("Prop Root", key=_KEYS[0], **span(0))
    root_b = mint("Prop Root", key=_KEYS[0], **span(1))
    other = mint("Prop Other", key=_KEYS[1], **span(2))
    cross = mint("Prop Root", other, key=_KEYS[0], **span(3))
    inter = mint("Prop CA", root_a, key=_KEYS[2], path_length=0, **span(4))
    trust = draw(
        st.lists(st.sampled_from([root_a, root_b, other]), min_size=1, max_size=3, unique_by=id)
    )
    sent = [inter, *draw(st.sampled_from([[], [cross], [cross, root_b]]))]
    profile = draw(st.sampled_from([CLOCK, IDF_CLOCK]))
    return TrustSet.from_certificates([t.c for t in trust]), [c.c for c in sent], profile


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(hierarchies(), st.lists(st.integers(-500, 6500), min_size=5, max_size=12))
def test_timeline_matches_every_sampled_instant(case, samples) -> None:  # type: ignore[no-untyped-def]
    trust, sent, profile = case
    at, until = day(-500), day(6500)
    fc = forecast(trust, sent, profile, at=at, until=until, rotate_issuing=False)
    points = [day(s) for s in samples]
    points += [c.when for c in fc.changes] + [c.when - SECOND for c in fc.changes]
    for t in points:
        if not at <= t <= until:
            continue
        expected = fc.start.ok
        for c in fc.changes:
            if c.when <= t:
                expected = c.verdict.ok
        assert verify_chain(trust, sent, profile, at=t).ok == expected, t
