"""Agreement with real mbedTLS 2.28: our ``mbedtls`` + ``synced`` verdict must equal what
python-mbedtls's client decides in a real TLS handshake against a server on 127.0.0.1,
and the flags must equal ``mbedtls_x509_crt_verify``'s, for every scenario."""

from __future__ import annotations

import pytest

from esp_cabundle.dates import now
from esp_cabundle.verify import ERR_X509_FATAL_ERROR, Verdict, flag_names
from tests.support.profiles import CLOCK, IDF_CLOCK
from tests.support.verify_scenarios import (
    Scenario,
    certificates,
    der,
    device_scenarios,
    named_scenarios,
    our_verdict,
    random_scenarios,
)

# What differs between interpreters: run on every CI Python (tests/support/shards.py).
pytestmark = pytest.mark.every_python

mbedtls_oracle = pytest.importorskip(
    "tests.support.mbedtls_oracle", reason="python-mbedtls is not installed"
)
if not mbedtls_oracle.HAVE_MBEDTLS:  # pragma: no cover - CI installs python-mbedtls
    pytest.skip("python-mbedtls is not importable", allow_module_level=True)

SCENARIOS = [*named_scenarios(), *random_scenarios(14)]
# Parsing, names, key usage, 3.6-only rules (judged here under 2.28), order: the device
# scenarios run through a real handshake; the flag-level tests keep to chains that parse.
HANDSHAKES = [*SCENARIOS, *device_scenarios()]


def ours(s: Scenario, *, hostname: str | None = None) -> Verdict:
    return our_verdict(s.trust, s.chain, CLOCK, at=now(), hostname=hostname)


@pytest.mark.parametrize("s", HANDSHAKES, ids=lambda s: s.name)
def test_handshake_agrees_with_mbedtls(s: Scenario) -> None:
    v = ours(s, hostname=s.hostname)
    real = mbedtls_oracle.handshake([der(m) for m in s.trust], s.chain, hostname=s.hostname)  # type: ignore[arg-type]
    assert (real == 0) == v.ok, f"{s.name}: mbedTLS {real:#x}, ours: {v.explanation}"
    if not v.ok:
        assert real == v.error, f"{s.name}: mbedTLS -0x{-real:04x}, ours {v.error_text}"


@pytest.mark.parametrize("s", SCENARIOS, ids=lambda s: s.name)
def test_flags_agree_with_mbedtls(s: Scenario) -> None:
    if not mbedtls_oracle.x509_available():
        pytest.skip("python-mbedtls's libmbedx509 not found for ctypes")
    v = ours(s)
    ret, flags = mbedtls_oracle.x509_verify([der(m) for m in s.trust], [der(m) for m in s.chain])
    if ret == ERR_X509_FATAL_ERROR:
        assert v.fatal and v.error == ERR_X509_FATAL_ERROR, v.explanation
        return
    assert flags == v.flags, (
        f"{s.name}: mbedTLS {flag_names(flags)}, ours {v.flag_names}: {v.explanation}"
    )
    assert (ret == 0) == v.ok


def test_the_family_covers_every_outcome() -> None:
    """The scenarios are only worth something if they reach every kind of verdict."""
    seen: set[str] = set()
    for s in SCENARIOS:
        v = ours(s)
        seen.add("ok" if v.ok else "fatal" if v.fatal else "fail")
        seen.update(v.flag_names)
    assert {"ok", "fail", "fatal", "NOT_TRUSTED", "EXPIRED", "FUTURE", "BAD_MD", "BAD_KEY"} <= seen


@pytest.mark.parametrize("s", SCENARIOS, ids=lambda s: s.name)
def test_idf_bundle_rules_agree_with_mbedtls_and_the_bundle_callback(s: Scenario) -> None:
    """Real mbedTLS builds the path against ESP-IDF's empty dummy CA and calls a verify
    callback written from ESP-IDF's; our ``idf-bundle`` verdict must match."""
    if not mbedtls_oracle.x509_available():
        pytest.skip("python-mbedtls's libmbedx509 not found for ctypes")
    v = our_verdict(s.trust, s.chain, IDF_CLOCK, at=now(), hostname=None)
    bundle = [(c.subject_der, c.spki_der) for c in certificates(s.trust)]
    ret, flags = mbedtls_oracle.x509_verify_idf_bundle(bundle, [der(m) for m in s.chain])
    assert (ret == 0) == v.ok, f"{s.name}: mbedTLS {ret:#x}, ours: {v.explanation}"
    if ret == ERR_X509_FATAL_ERROR:
        assert v.error == ERR_X509_FATAL_ERROR, v.explanation
    else:
        assert flags == v.flags, f"{s.name}: {flag_names(flags)} vs {v.flag_names}"
