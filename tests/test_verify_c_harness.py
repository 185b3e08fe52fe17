"""Agreement with real mbedTLS 2.28 through a C harness compiled against Debian's
libmbedtls-dev: certificate parsing (error codes, what a CA file keeps), verification
flags with a name and at a chosen instant (faketime), ESP-IDF's bundle callback, and a
real TLS client handshake for the checks only the TLS layer makes (key usage)."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from esp_cabundle.formats.idf_bundle import render_idf_bundle
from esp_cabundle.verify import (
    ERR_X509_FATAL_ERROR,
    DeviceProfile,
    Verdict,
    flag_names,
    parse_refusal,
)
from tests.support import c_harness
from tests.support import parse_corpus as pc
from tests.support.profiles import CLOCK, IDF_CLOCK
from tests.support.verify_pki import NOW, Minted, mint, tls_server
from tests.support.verify_scenarios import (
    Scenario,
    assert_x509_agrees,
    certificates,
    der,
    device_scenarios,
    named_scenarios,
    our_verdict,
    random_scenarios,
)

H = c_harness.debian_or_skip(module=True)

SCENARIOS = [*named_scenarios(), *device_scenarios(), *random_scenarios(10, seed=7)]


def _pem(items: list[Minted | bytes]) -> bytes:
    import base64
    import textwrap

    out = []
    for m in items:
        b64 = "\n".join(textwrap.wrap(base64.b64encode(der(m)).decode(), 64))
        out.append(f"-----BEGIN CERTIFICATE-----\n{b64}\n-----END CERTIFICATE-----\n")
    return "".join(out).encode()


def _ours(s: Scenario, profile: DeviceProfile = CLOCK, at: datetime = NOW) -> Verdict:
    return our_verdict(s.trust, s.chain, profile, at=at, hostname=s.hostname)


def test_harness_is_debian_228() -> None:
    assert H.version.startswith("2.28.")


# ---------------------------------------------------------------------------------------
# Parsing


def _corpus() -> list[pc.Sample]:
    seeds = [*pc.crafted(), *pc.real_certificates()]
    return [*seeds, *pc.mutations(seeds, 1500)]


def test_parse_model_gives_real_codes() -> None:
    """Every crafted refusal, every real certificate and 1,500 mutations of them: the
    model returns exactly what mbedtls_x509_crt_parse_der returns."""
    corpus = _corpus()
    real = H.parse([s.der for s in corpus])
    wrong = []
    for s, code in zip(corpus, real, strict=True):
        model = parse_refusal(s.der)
        if (model.code if model else 0) != code:
            wrong.append(f"{s.name}: mbedTLS -0x{-code:04x}, model {model}")
    assert not wrong, wrong[:10]
    assert len({c for c in real if c}) >= 15  # the corpus reaches many distinct codes


def test_a_ca_file_keeps_what_parses_and_counts_the_rest() -> None:
    """mbedtls_x509_crt_parse_file returns the number it skipped, not an error."""
    root = mint("Keep Root")
    nc = pc.with_extensions(root, root.key, pc.ext("2.5.29.30", pc.NC, True))
    rc, kept = H.parse_file(_pem([root, nc, mint("Keep Two"), nc]))
    assert (rc, kept) == (2, 2)
    rc, _kept = H.parse_file(_pem([nc]))
    assert rc == -0x2562  # nothing parsed: the first error


# ---------------------------------------------------------------------------------------
# Verification (CA list and ESP-IDF bundle), with names, at an instant


@pytest.mark.parametrize("s", SCENARIOS, ids=lambda s: s.name)
def test_ca_list_verdicts_agree(s: Scenario) -> None:
    v = _ours(s)
    stage, rc, flags = H.verify(
        _pem(s.trust),
        [der(m) for m in s.chain],
        name=s.hostname,
        at=NOW if c_harness.have_faketime() else None,
    )
    if stage == "parse":
        assert v.stage == "chain-parse" and v.error == rc, v.explanation
        return
    if rc == ERR_X509_FATAL_ERROR:
        assert v.fatal, v.explanation
        return
    usage = v.flags & 0x1800  # KEY_USAGE/EXT_KEY_USAGE come from the TLS layer, not x509
    assert flags == v.flags & ~usage, (
        f"{s.name}: mbedTLS {flag_names(flags)}, ours {v.flag_names}: {v.explanation}"
    )
    assert (rc == 0) == (v.ok or v.stage == "tls"), v.explanation


@pytest.mark.parametrize("s", SCENARIOS, ids=lambda s: s.name)
def test_idf_bundle_verdicts_agree(s: Scenario) -> None:
    trust = certificates(s.trust)
    bundle = render_idf_bundle(trust, bundle_format="v2", max_certs=None)
    v = _ours(s, IDF_CLOCK)
    stage, rc, flags = H.verify_bundle(
        "v2", bundle, [der(m) for m in s.chain], name=s.hostname, at=NOW
    )
    assert_x509_agrees(v, stage, rc, flags, s.name)


def test_one_second_resolution_under_faketime() -> None:
    """A leaf valid until 12:00:00 is accepted during the whole of that second: real
    mbedTLS at 12:00:00 (time() has no fraction) and the tool at 12:00:00.600 agree."""
    if not c_harness.have_faketime():
        pytest.skip("faketime is not installed: apt-get install faketime")
    end = (NOW + timedelta(days=3)).replace(hour=12, minute=0, second=0)
    root = mint("Second Root")
    leaf = mint("localhost", root, ca=False, not_after=end)
    s = Scenario("second", [root], [leaf])
    for at, ok in ((end, True), (end + timedelta(seconds=1), False)):
        _stage, rc, _flags = H.verify(_pem([root]), [leaf.der], name="localhost", at=at)
        assert (rc == 0) == ok
    assert _ours(s, at=end + timedelta(milliseconds=600)).ok
    assert not _ours(s, at=end + timedelta(seconds=1)).ok


# ---------------------------------------------------------------------------------------
# The TLS layer: key usage of the server's certificate (-0x7a00)


TLS_SCENARIOS = [s for s in device_scenarios() if s.name.startswith(("eku-", "ku-", "name-"))]


@pytest.mark.parametrize("s", TLS_SCENARIOS, ids=lambda s: s.name)
def test_tls_handshake_agrees(s: Scenario) -> None:
    chain = [m for m in s.chain if isinstance(m, Minted)]
    v = _ours(s)
    with tls_server(chain) as port:
        rc, flags = H.tls(port, _pem(s.trust), s.hostname or "-")
    assert rc == (v.error or 0), f"{s.name}: mbedTLS -0x{-rc:04x}, ours {v.error_text}"
    assert flags == v.flags, f"{s.name}: {flag_names(flags)} vs {v.flag_names}"
