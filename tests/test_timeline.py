"""A server's chains over time, judged: a flip dated by the server switching chains, a
flip dated by a certificate, and since when a chain failing at the date checked fails.
The verdicts on both sides of a switch are those of real mbedTLS in a TLS handshake."""

from __future__ import annotations

from datetime import datetime

import pytest

from esp_cabundle.chains import ServerChain
from esp_cabundle.timeline import Period, failing_since, judge_periods
from esp_cabundle.verify import (
    ERR_X509_CERT_VERIFY_FAILED,
    EXPIRED,
    NOT_TRUSTED,
    TrustSet,
)
from tests.support.profiles import CLOCK, NOCLOCK
from tests.support.verify_pki import DAY, NOW, YEAR, Minted, mint


@pytest.fixture(scope="module")
def pki() -> dict[str, Minted]:
    """Let's Encrypt's shape around now: an old root that expires in 30 days, the new root
    cross-signed by it, an issuing intermediate under the new root, a leaf."""
    old = mint("Old Root", not_before=NOW - 20 * YEAR, not_after=NOW + 30 * DAY)
    new_key = mint("New Root").key
    new = mint("New Root", key=new_key, not_before=NOW - 5 * YEAR, not_after=NOW + 10 * YEAR)
    cross = mint("New Root", old, key=new_key, not_before=NOW - YEAR, not_after=NOW + 2 * YEAR)
    issuing = mint("R-like", new, path_length=0, not_before=NOW - YEAR, not_after=NOW + 3 * YEAR)
    leaf = mint("device.example", issuing, ca=False, not_after=NOW + 60 * DAY)
    return {"old": old, "new": new, "cross": cross, "issuing": issuing, "leaf": leaf}


def chain(*certs: Minted) -> ServerChain:
    return ServerChain(tuple(m.c for m in certs), "test")


def switch(pki: dict[str, Minted], when: datetime) -> tuple[Period, Period]:
    """The long chain (to the old root) until ``when``, then the short one."""
    long = Period(chain(pki["leaf"], pki["issuing"], pki["cross"]), "long", "to the old root",
                  NOW - YEAR, when)  # fmt: skip
    short = Period(chain(pki["leaf"], pki["issuing"]), "short", "to the new root", when)
    return long, short


def old_only(pki: dict[str, Minted]) -> TrustSet:
    return TrustSet.from_certificates([pki["old"].c])


def test_a_switch_of_chain_is_a_dated_flip(pki: dict[str, Minted]) -> None:
    periods = switch(pki, NOW + 10 * DAY)
    tl = judge_periods(old_only(pki), periods, NOCLOCK, at=NOW, until=NOW + 2 * YEAR)
    assert tl.start.ok and not tl.ok_throughout and tl.failing_since is None
    (flip,) = tl.flips
    assert flip.chain_change and flip.period.name == "short"
    assert flip.date == NOW + 10 * DAY == tl.first_failure_date
    assert flip.verdict.error == ERR_X509_CERT_VERIFY_FAILED and flip.verdict.flags == NOT_TRUSTED
    assert flip.causes == ("servers switch to short: to the new root",)
    assert "-0x2700" in flip.describe() and "NOT_TRUSTED" in flip.describe()
    # A unit that also trusts the new root never notices.
    both = TrustSet.from_certificates([pki["old"].c, pki["new"].c])
    tl = judge_periods(both, periods, NOCLOCK, at=NOW, until=NOW + 2 * YEAR)
    assert tl.ok_throughout and not tl.flips and len(tl.segments) == 2


def test_both_sides_of_the_switch_agree_with_real_mbedtls(pki: dict[str, Minted]) -> None:
    oracle = pytest.importorskip(
        "tests.support.mbedtls_oracle", reason="python-mbedtls is not installed"
    )
    if not oracle.HAVE_MBEDTLS:  # pragma: no cover - CI installs python-mbedtls
        pytest.skip("python-mbedtls is not importable")
    long, short = switch(pki, NOW + 10 * DAY)
    tl = judge_periods(old_only(pki), (long, short), CLOCK, at=NOW, until=NOW + 20 * DAY)
    (flip,) = tl.flips
    trust = [pki["old"].der]
    assert oracle.handshake(trust, [pki["leaf"], pki["issuing"], pki["cross"]]) == 0
    assert tl.start.ok
    assert oracle.handshake(trust, [pki["leaf"], pki["issuing"]]) == flip.verdict.error


def test_certificate_dates_still_flip_inside_a_period(pki: dict[str, Minted]) -> None:
    periods = switch(pki, NOW + YEAR)
    tl = judge_periods(old_only(pki), periods, CLOCK, at=NOW, until=NOW + 2 * YEAR)
    first = tl.first_failure
    assert first is not None and not first.chain_change
    assert first.date == pki["old"].c.not_after and first.causes == ("Old Root expires",)
    # Later, the switch to the short chain changes nothing: it failed already.
    assert [f.chain_change for f in tl.flips] == [False]


def test_already_failing_is_dated_back_to_the_certificate(pki: dict[str, Minted]) -> None:
    periods = switch(pki, NOW + YEAR)
    at = NOW + 100 * DAY
    tl = judge_periods(old_only(pki), periods, CLOCK, at=at, until=at + YEAR)
    assert not tl.start.ok and tl.start.flags & EXPIRED and tl.first_failure is None
    assert tl.first_failure_date is None
    since = tl.failing_since
    assert since is not None and since.bounded
    assert since.date == pki["old"].c.not_after and since.why == "Old Root expires"
    assert since.describe().startswith("already failing since ")


def test_already_failing_is_dated_back_to_the_switch(pki: dict[str, Minted]) -> None:
    periods = switch(pki, NOW + 10 * DAY)
    tl = judge_periods(old_only(pki), periods, NOCLOCK, at=NOW + 20 * DAY)
    since = tl.failing_since
    assert since is not None and since.bounded
    assert (since.date, since.why) == (NOW + 10 * DAY, "servers switched to short")
    # Before the first period a roadmap knows, it cannot say more than "at least".
    since = failing_since(old_only(pki), periods[1:], NOCLOCK, at=NOW + 20 * DAY)
    assert (since.date, since.bounded) == (NOW + 10 * DAY, False)
    assert since.describe().startswith("failing at least since ")


def test_a_captured_chain_without_dates_fails_whenever_it_is_sent(pki: dict[str, Minted]) -> None:
    captured = (Period(chain(pki["leaf"], pki["issuing"])),)
    tl = judge_periods(old_only(pki), captured, NOCLOCK, at=NOW)
    since = tl.failing_since
    assert since is not None and not since.bounded
    assert since.date == max(c.not_before for c in captured[0].chain.certificates)
    assert "does not check dates" in since.why
    # one colon: the sentence form already puts one after the date
    sentence = since.describe(sentence=True)
    assert sentence.count(":") == 1 and sentence.endswith("whenever it is sent."), sentence


def test_a_chain_announced_for_later_is_judged_from_its_start(pki: dict[str, Minted]) -> None:
    _, short = switch(pki, NOW + 10 * DAY)
    tl = judge_periods(old_only(pki), (short,), NOCLOCK, at=NOW, until=NOW + YEAR)
    assert tl.sent_from == NOW + 10 * DAY == tl.start.at
    assert not tl.start.ok and tl.failing_since is None
    assert tl.first_failure_date == NOW + 10 * DAY
    with pytest.raises(ValueError):
        judge_periods(old_only(pki), (), NOCLOCK, at=NOW)


def test_a_leaf_issued_ahead_passes_from_the_day_it_is_valid() -> None:
    """A leaf valid only from a later date fails now and passes from then; nothing says
    it was issued before it was."""
    root = mint("Ahead Root", not_before=NOW - YEAR, not_after=NOW + 10 * YEAR)
    valid_from = (NOW + 99 * DAY).replace(microsecond=0)
    leaf = mint("h.example.com", root, ca=False, san="h.example.com",
                not_before=valid_from, not_after=valid_from + 100 * DAY)  # fmt: skip
    trust = TrustSet.from_certificates([root.c])
    periods = (Period(chain(leaf), "ahead"),)
    # Seen sent now (a chain with no capture date would be judged by its leaf's expiry).
    tl = judge_periods(
        trust, periods, CLOCK, at=NOW, until=NOW + YEAR, hostname="h.example.com", now=NOW
    )
    assert not tl.start.ok
    (flip,) = tl.flips
    assert flip.verdict.ok and flip.date == valid_from and "becomes valid" in flip.causes[0]
    assert "fails throughout" not in tl.note
    since = tl.failing_since
    assert since is not None and since.date <= NOW
    assert "issued then" not in since.why and valid_from.date().isoformat() in since.why
    # A horizon that ends before that date says when it would pass.
    tl = judge_periods(trust, periods, CLOCK, at=NOW, until=NOW + 30 * DAY)
    assert not tl.flips and "fails throughout" not in tl.note
    assert f"not valid before {valid_from.date().isoformat()}" in tl.note
