"""Agreement with real mbedTLS 3.6 (ESP-IDF 5.x), recorded from a hand-made build
(``tests/data/mbedtls36/README.md`` says how): parse codes of a crafted and mutated
corpus, CA-list and ESP-IDF-bundle verdicts with names at the recording instant, and TLS
handshakes (key usage, and the 3.6.3 rule on clients that set no hostname)."""

from __future__ import annotations

import base64
import json
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from esp_cabundle.verify import DeviceProfile, Verdict, parse_device_profile, parse_refusal
from tests.support import parse_corpus as pc
from tests.support.verify_scenarios import assert_x509_agrees, our_verdict

DATA = json.loads((Path(__file__).parent / "data" / "mbedtls36" / "recorded.json").read_text())
AT = datetime.fromisoformat(DATA["at"])
CA = parse_device_profile("mbedtls3-clock")
IDF = parse_device_profile("idf5-bundle-clock")


def _der(b64: str) -> bytes:
    return base64.b64decode(b64)


def test_recorded_from_36() -> None:
    assert DATA["mbedtls"].startswith("3.6.")


def test_parse_model_gives_36_codes() -> None:
    samples = [pc.Sample(s["name"], _der(s["der"])) for s in DATA["samples"]]
    muts = list(pc.mutations(samples, DATA["mutations"]["count"], seed=DATA["mutations"]["seed"]))
    expected = [s["code"] for s in DATA["samples"]] + DATA["mutations"]["codes"]
    wrong = []
    for s, code in zip([*samples, *muts], expected, strict=True):
        model = parse_refusal(s.der, "3.6")
        if (model.code if model else 0) != code:
            wrong.append(f"{s.name}: 3.6 -0x{-code:04x}, model {model}")
    assert not wrong, wrong[:10]


def test_36_parses_what_228_refuses_and_back() -> None:
    """The corpus holds certificates the two lines treat differently (compressed points,
    empty keyUsage, malformed subjectKeyIdentifier, odd iPAddress SANs)."""
    differ = [
        s["name"]
        for s in DATA["samples"]
        if (parse_refusal(_der(s["der"]), "2.28") is None) != (s["code"] == 0)
    ]
    assert {"compressed-point", "empty-key-usage", "ski-not-octet-string"} <= set(differ)


def _verdict(s: dict[str, Any], profile: DeviceProfile) -> Verdict:
    trust, chain = [_der(d) for d in s["trust"]], [_der(d) for d in s["chain"]]
    return our_verdict(trust, chain, profile, at=AT, hostname=s["hostname"])


@pytest.mark.parametrize("s", DATA["scenarios"], ids=lambda s: s["name"])
@pytest.mark.parametrize("mode", ["ca_list", "idf_bundle"])
def test_verdicts_agree_with_36(s: dict[str, Any], mode: str) -> None:
    v = _verdict(s, CA if mode == "ca_list" else IDF)
    stage, rc, flags = s[mode]
    assert_x509_agrees(v, stage, rc, flags, f"3.6 {s['name']}")


TLS = [s for s in DATA["scenarios"] if "tls" in s]


@pytest.mark.parametrize("s", TLS, ids=lambda s: s["name"])
def test_tls_agrees_with_36(s: dict[str, Any]) -> None:
    v = _verdict(s, CA)
    rc, flags = s["tls"]
    assert rc == (v.error or 0), f"3.6 -0x{-rc:04x}, ours {v.error_text}"
    assert flags == v.flags
    rc, _flags = s["tls_without_set_hostname"]
    nohost = _verdict(s, replace(CA, sets_hostname=False))
    assert rc == nohost.error == -0x5D80, nohost.explanation


def test_the_scenarios_reach_36_only_outcomes() -> None:
    """SHA-224 and secp256k1 pass under 2.28 and fail under 3.6 (CA list); in bundle mode
    the callback forgives BAD_MD on the certificate it checks against a bundle root."""
    by_name = {s["name"]: s for s in DATA["scenarios"]}
    sha224 = by_name["sha224-intermediate"]
    assert sha224["ca_list"][1] != 0 and _verdict(sha224, CA).flag_names == ("BAD_MD",)
    assert _verdict(sha224, parse_device_profile("mbedtls-clock")).ok
    assert by_name["secp256k1-intermediate-key"]["ca_list"][2] & 0x10000  # BAD_KEY
    root_key = by_name["secp256k1-root-key"]
    assert root_key["idf_bundle"][1] == 0 and _verdict(root_key, IDF).ok
