"""The 2021 and 2024 Let's Encrypt events, replayed: with a hierarchy of the same shape
minted here (leaves included), and with the real Let's Encrypt certificates where no leaf
is needed."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import pytest

from esp_cabundle.certs import Certificate, load_certificate_file
from esp_cabundle.check import load_trust_set
from esp_cabundle.verify import (
    ERR_X509_CERT_VERIFY_FAILED,
    ERR_X509_FATAL_ERROR,
    EXPIRED,
    NOT_TRUSTED,
    TrustSet,
    forecast,
    parse_device_profile,
    verify_chain,
)
from tests.support.profiles import CLOCK, IDF, IDF6, NOCLOCK
from tests.support.verify_pki import mint

DATA = Path(__file__).parent / "data"
LE = DATA / "letsencrypt"


def d(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=timezone.utc)


def le(name: str) -> Certificate:
    (cert,) = load_certificate_file(LE / f"{name}.pem")
    return cert


# ---------------------------------------------------------------------------------------
# A hierarchy shaped like Let's Encrypt's, minted with the real dates


@pytest.fixture(scope="module")
def pki() -> dict[str, Certificate]:
    dst = mint("DST-like Root", not_before=d("2000-09-30"), not_after=d("2021-09-30T14:01:15"))
    x1_key = mint("X1-like Root").key
    x1 = mint("X1-like Root", key=x1_key, not_before=d("2015-06-04"), not_after=d("2035-06-04"))
    x1_by_dst = mint(
        "X1-like Root",
        dst,
        key=x1_key,
        not_before=d("2021-01-20"),
        not_after=d("2024-09-30T18:14:03"),
    )
    r3 = mint("R3-like", x1, not_before=d("2020-09-04"), not_after=d("2025-09-15"), path_length=0)
    leaf = mint(
        "device.example", r3, ca=False, not_before=d("2021-01-01"), not_after=d("2030-01-01")
    )
    return {"dst": dst.c, "x1": x1.c, "x1_by_dst": x1_by_dst.c, "r3": r3.c, "leaf": leaf.c}


def long_chain(p: dict[str, Certificate]) -> list[Certificate]:
    return [p["leaf"], p["r3"], p["x1_by_dst"]]


def short_chain(p: dict[str, Certificate]) -> list[Certificate]:
    return [p["leaf"], p["r3"]]


def test_2021_dst_only_device_without_clock_keeps_working_on_the_long_chain(pki) -> None:
    trust = TrustSet.from_certificates([pki["dst"]])
    for when in ("2021-06-01", "2021-10-01", "2023-06-01", "2024-06-05"):
        v = verify_chain(trust, long_chain(pki), NOCLOCK, at=d(when))
        assert v.ok, (when, v.explanation)
        assert [s.source for s in v.path] == ["chain", "chain", "chain", "trust"]
        assert v.path[-1].label == "DST-like Root"


def test_2021_dst_only_device_with_clock_fails_after_the_dst_expiry(pki) -> None:
    trust = TrustSet.from_certificates([pki["dst"]])
    assert verify_chain(trust, long_chain(pki), CLOCK, at=d("2021-09-30T14:01:15")).ok
    v = verify_chain(trust, long_chain(pki), CLOCK, at=d("2021-09-30T14:01:16"))
    assert not v.ok
    assert v.flags == EXPIRED
    assert v.error == ERR_X509_CERT_VERIFY_FAILED
    assert v.path[-1].source == "trust" and v.path[-1].flags == EXPIRED
    assert "'DST-like Root' (in the bundle) expired on 2021-09-30" in v.explanation


def test_2024_short_chain_fails_a_dst_only_device_always(pki) -> None:
    trust = TrustSet.from_certificates([pki["dst"]])
    for profile in (NOCLOCK, CLOCK):
        for when in ("2021-06-01", "2024-06-06", "2026-01-01"):
            v = verify_chain(trust, short_chain(pki), profile, at=d(when))
            assert not v.ok and v.flags & NOT_TRUSTED, (profile.name, when)
            assert v.error == ERR_X509_CERT_VERIFY_FAILED
            assert (
                "'R3-like' is issued by 'X1-like Root', which is not in the bundle" in v.explanation
            )
            assert "the bundle holds only DST-like Root" in v.explanation


def test_x1_bundle_passes_both_chains(pki) -> None:
    trust = TrustSet.from_certificates([pki["x1"]])
    for chain in (long_chain(pki), short_chain(pki)):
        for profile in (NOCLOCK, CLOCK):
            v = verify_chain(trust, chain, profile, at=d("2023-06-01"))
            assert v.ok, v.explanation
            # Trusted parents first: R3's parent is the trusted X1, not the sent cross-sign.
            assert [s.label for s in v.path] == ["device.example", "R3-like", "X1-like Root"]
            assert v.path[-1].source == "trust"


def test_2023_idf_bundle_fails_the_long_chain_without_the_cross_signer(pki) -> None:
    trust = TrustSet.from_certificates([pki["x1"]])
    v = verify_chain(trust, long_chain(pki), IDF, at=d("2023-06-01"))
    assert not v.ok
    assert v.error == ERR_X509_FATAL_ERROR
    assert "'DST-like Root' is not in the bundle" in v.explanation
    assert "although 'X1-like Root' itself is" in v.explanation
    # ESP-IDF shipped DST in its bundle for exactly this; with it the chain passes.
    with_dst = TrustSet.from_certificates([pki["x1"], pki["dst"]])
    assert verify_chain(with_dst, long_chain(pki), IDF, at=d("2023-06-01")).ok
    # The short chain is fine with X1 alone, and ESP-IDF 6.0's cross-signed mode fixes it.
    assert verify_chain(trust, short_chain(pki), IDF, at=d("2023-06-01")).ok
    assert verify_chain(trust, long_chain(pki), IDF6, at=d("2023-06-01")).ok


def test_forecast_names_the_dst_expiry(pki) -> None:
    trust = TrustSet.from_certificates([pki["dst"]])
    fc = forecast(trust, long_chain(pki), CLOCK, at=d("2021-06-01"), until=d("2026-01-01"))
    assert fc.start.ok and not fc.ok_throughout
    first = fc.first_failure
    assert first is not None
    assert first.when == d("2021-09-30T14:01:16")
    assert first.describe().startswith("2021-09-30: DST-like Root expires")
    noclock = forecast(trust, long_chain(pki), NOCLOCK, at=d("2021-06-01"), until=d("2026-01-01"))
    assert noclock.ok_throughout
    assert "no date can break it" in noclock.note


# ---------------------------------------------------------------------------------------
# The real Let's Encrypt certificates (chains that start at an intermediate)


def test_real_r11_against_a_dst_only_bundle() -> None:
    trust = TrustSet.from_certificates([le("dst-root-ca-x3")])
    v = verify_chain(trust, [le("2024-r11")], NOCLOCK, at=d("2024-07-01"))
    assert not v.ok and v.flags == NOT_TRUSTED
    assert v.explanation.startswith(
        "'R11' is issued by 'ISRG Root X1', which is not in the bundle and which the server "
        "does not send; the bundle holds only DST Root CA X3, which signs no certificate in "
        "this chain."
    )
    assert "-0x2700" in v.explanation and "0xffffd900" in v.explanation


def test_real_long_chain_2021_to_2024() -> None:
    long = [le("lets-encrypt-r3"), le("isrg-root-x1-cross-signed")]
    dst = TrustSet.from_certificates([le("dst-root-ca-x3")])
    x1 = TrustSet.from_certificates([le("isrgrootx1")])
    v = verify_chain(dst, long, NOCLOCK, at=d("2024-01-01"))
    assert v.ok and [s.label for s in v.path] == [
        "R3",
        "ISRG Root X1 cross-signed by DST Root CA X3",
        "DST Root CA X3",
    ]
    assert not verify_chain(dst, long, CLOCK, at=d("2022-01-01")).ok
    assert verify_chain(x1, long, CLOCK, at=d("2022-01-01")).ok
    assert verify_chain(x1, long, IDF, at=d("2022-01-01")).error == ERR_X509_FATAL_ERROR


def test_forecast_of_a_chain_failing_now_says_what_check_says() -> None:
    """The long chain at 2026 with ISRG Root X1 alone: R3 expired on 2025-09-15, so the
    chain fails now; the root's own expiry (2035-06-04) is no first failure to come, as
    check --json says (first_failure null; its failing_since 2025-09-15)."""
    from esp_cabundle.chains import ServerChain
    from esp_cabundle.check import CheckItem, check_items

    x1 = TrustSet.from_certificates([le("isrgrootx1")])
    long = [le("lets-encrypt-r3"), le("isrg-root-x1-cross-signed")]
    at, until = d("2026-01-01"), d("2036-01-01")
    fc = forecast(x1, long, CLOCK, at=at, until=until)
    assert not fc.start.ok and fc.changes  # the root's expiry is still a change
    assert fc.first_failure is None
    item = CheckItem("le", ServerChain(tuple(long), "long.pem"), CLOCK)
    (result,) = check_items(x1, [item], at=at, until=until).results
    doc = result.to_dict()
    assert doc["first_failure"] is None
    assert doc["failing_since"] == {
        "date": "2025-09-15",
        "why": "R3 expires",
        "roadmap_since": None,
        "valid_from": None,
    }


def test_real_gen_y_chain_with_an_x1_only_bundle() -> None:
    x1 = TrustSet.from_certificates([le("isrgrootx1")])
    with_cross = [le("gen-y-int-yr1"), le("gen-y-root-yr-by-x1")]
    for profile in (NOCLOCK, CLOCK, IDF, IDF6):
        assert verify_chain(x1, with_cross, profile, at=d("2026-07-01")).ok, profile.name
    without = [le("gen-y-int-yr1")]
    v = verify_chain(x1, without, NOCLOCK, at=d("2026-07-01"))
    assert not v.ok and "'YR1' is issued by 'Root YR'" in v.explanation
    fc = forecast(x1, with_cross, CLOCK, at=d("2026-07-01"), until=d("2036-01-01"))
    assert fc.first_failure is not None
    assert fc.first_failure.describe().startswith(
        "2032-09-02: Root YR cross-signed by ISRG Root X1 expires"
    )
    # YR1 (2028) is renewed by the server and is not a forecast event.
    assert [e.label for e in fc.rotating] == ["YR1"]


def test_real_idf_bundle_file_as_trust_set() -> None:
    """A real x509_crt_bundle (ESP-IDF's gen_crt_bundle.py: X1, X2, DST, YR, YE) keeps
    only names and keys: DST still anchors the long chain even with a clock."""
    for name in ("small.v1.bin", "small.v2.bin"):
        trust = load_trust_set(DATA / "verify" / name)
        assert len(trust) == 5 and not trust.has_dates
        long = [le("lets-encrypt-r3"), le("isrg-root-x1-cross-signed")]
        clock_idf = parse_device_profile("idf-bundle:synced")
        v = verify_chain(trust, long, clock_idf, at=d("2023-01-01"))
        assert v.ok, v.explanation
        assert v.path[-1].label == "DST Root CA X3" and v.path[-1].certificate is None
        assert verify_chain(trust, [le("2024-r11")], IDF, at=d("2024-07-01")).ok


def test_forged_issuer_name_does_not_pass() -> None:
    """A certificate naming 'ISRG Root X1' as issuer but signed by another key."""
    x1 = le("isrgrootx1")
    forged = mint("R66", issuer_name=x1.x509.subject, path_length=0).c
    assert forged.issuer_der == x1.subject_der
    trust = TrustSet.from_certificates([x1])
    v = verify_chain(trust, [forged], NOCLOCK, at=d("2026-01-01"))
    assert not v.ok and v.flags == NOT_TRUSTED
    assert "its key does not verify the signature of 'R66'" in v.explanation
    for profile in (IDF, IDF6):
        v = verify_chain(trust, [forged], profile, at=d("2026-01-01"))
        assert not v.ok and v.error == ERR_X509_FATAL_ERROR, profile.name
