"""Counts that lie: a few bytes that declare millions of entries, or inputs whose cost
grows faster than their size. Each is refused (or judged) in bounded time, exit 2 with
the count and the limit in words."""

from __future__ import annotations

import struct
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from support.pki import issue
from support.verify_pki import NOW, fresh_key

from esp_cabundle.chains import load_chain_file
from esp_cabundle.cli import cli
from esp_cabundle.errors import EspCabundleError, InputError
from esp_cabundle.formats.idf_bundle import BundleRoot, parse_idf_bundle, render_idf_bundle
from esp_cabundle.inspect import inspect_bytes
from esp_cabundle.limits import MAX_CHAIN_CERTS, MAX_FORECAST_INSTANTS, MAX_IDF_BUNDLE_ROOTS
from esp_cabundle.verify import TrustSet, forecast, parse_device_profile, verify_chain

DATA = Path(__file__).parent / "data"
DEVICE = parse_device_profile("mbedtls-clock")
_EMPTY_NAME = b"\x30\x00"  # a DER Name with no RDN: what _looks_like_name accepts


def _v2(n: int, name: bytes = _EMPTY_NAME) -> bytes:
    entry = struct.pack("<HH", len(name), 0) + name
    return struct.pack(f"<{n}L", *(4 * n + i * len(entry) for i in range(n))) + entry * n


def _v1(n: int, name: bytes = _EMPTY_NAME) -> bytes:
    return struct.pack(">H", n) + (struct.pack(">HH", len(name), 0) + name) * n


# --- ESP-IDF bundles: the count word ------------------------------------------------------


@pytest.mark.timeout(60)
@pytest.mark.parametrize(
    ("fmt", "data", "count"),
    [("v2", _v2(400_000), "400,000"), ("v1", _v1(0xFFFF), "65,535")],
)
def test_a_bundle_listing_too_many_roots_is_refused_quickly(
    in_tmp: Path, runner: CliRunner, fmt: str, data: bytes, count: str
) -> None:
    """A 4 MB v2 bundle of 400,000 empty entries took 17 s and 327 MB in inspect (40 MB:
    150 s, 3 GB): every entry became a root, a subject and a key description."""
    start = time.process_time()  # CPU, not wall time: a loaded CI machine slows the clock
    with pytest.raises(EspCabundleError, match=f"{fmt} bundle lists {count} roots, over the 4,096"):
        inspect_bytes(data, source="b.bin")
    with pytest.raises(EspCabundleError, match="over the 4,096"):
        parse_idf_bundle(data, bundle_format=fmt)  # type: ignore[arg-type]
    (in_tmp / "b.bin").write_bytes(data)
    r = runner.invoke(cli, ["inspect", "b.bin"])
    assert r.exit_code == 2 and f"ESP-IDF certificate bundle ({fmt}) too large to read" in r.output
    assert "Traceback" not in r.output
    assert time.process_time() - start < 20


def test_a_bundle_at_the_limit_reads() -> None:
    bundle = parse_idf_bundle(_v2(MAX_IDF_BUNDLE_ROOTS))
    assert len(bundle.roots) == MAX_IDF_BUNDLE_ROOTS


def test_a_whole_bundle_with_an_empty_entry_is_named(in_tmp: Path, runner: CliRunner) -> None:
    """A bundle whose layout is whole but whose last entry has an empty name (and key):
    inspect said "binary data ... not an ESP-IDF bundle"."""
    good = (DATA / "idf-bundle" / "small.v2.bin").read_bytes()
    roots = [(r.subject_der, r.spki_der) for r in parse_idf_bundle(good).roots] + [(b"", b"")]
    entries = [struct.pack("<HH", len(n), len(k)) + n + k for n, k in roots]
    offsets = [4 * len(entries) + sum(len(e) for e in entries[:i]) for i in range(len(entries))]
    (in_tmp / "b.bin").write_bytes(struct.pack(f"<{len(offsets)}L", *offsets) + b"".join(entries))
    r = runner.invoke(cli, ["inspect", "b.bin"])
    assert r.exit_code == 2, r.output
    assert "an ESP-IDF certificate bundle (v2) with 1 root of 6 whose stored name is no DER" in (
        r.output
    )


def test_no_bundle_is_written_that_could_not_be_read(monkeypatch: pytest.MonkeyPatch) -> None:
    from esp_cabundle.formats import idf_bundle

    roots = [BundleRoot(b"\x30\x03\x02\x01" + bytes([i % 256]), b"") for i in range(4097)]
    monkeypatch.setattr(idf_bundle, "_sorted_roots", lambda certs: roots)
    with pytest.raises(InputError, match="v1 bundle would list 4,097 roots, over the 4,096"):
        render_idf_bundle([], bundle_format="v1", max_certs=None)


# --- server chains and forecasts -------------------------------------------------------


def _same_named_roots(n: int, key: object) -> list[Any]:
    """``n`` roots named "Same" with one key, each valid for an hour, an hour apart:
    every one a candidate parent, each date an instant for a forecast, each a flip."""
    start = datetime(2030, 1, 1, tzinfo=timezone.utc)
    return [
        issue(
            "Same",
            key=key,
            not_before=start + timedelta(hours=2 * i),
            not_after=start + timedelta(hours=2 * i + 1),
        )
        for i in range(n)
    ]


@pytest.mark.timeout(60)
def test_a_chain_longer_than_any_server_sends_is_refused(in_tmp: Path, runner: CliRunner) -> None:
    """8,001 same-named intermediates took 7 s to judge once and over 10 min to forecast
    (every date an instant, every instant a walk over all of them)."""
    e5 = (DATA / "letsencrypt" / "2024-e5.pem").read_bytes()
    (in_tmp / "chain.pem").write_bytes(e5 * (MAX_CHAIN_CERTS + 1))
    (in_tmp / "ok.pem").write_bytes(e5 * MAX_CHAIN_CERTS)
    assert len(load_chain_file(in_tmp / "ok.pem").certificates) == MAX_CHAIN_CERTS
    with pytest.raises(InputError, match="chain of 101 certificates, over the 100"):
        load_chain_file(in_tmp / "chain.pem")
    for argv in (
        ["check", "--chain", "chain.pem", "--bundle", "ok.pem", "--until", "2030-01-01"],
        ["chains", "show", "chain.pem"],
    ):
        r = runner.invoke(cli, argv)
        assert r.exit_code == 2 and "chain.pem: a server chain of 101 certificates" in r.output
    certs = load_chain_file(in_tmp / "ok.pem").certificates
    trust = TrustSet.from_certificates(list(certs[:1]), source="t")
    with pytest.raises(InputError, match="over the 100"):
        verify_chain(trust, [*certs, certs[0]], DEVICE, at=NOW)


@pytest.mark.timeout(60)
def test_a_forecast_over_too_many_dates_is_refused(in_tmp: Path, runner: CliRunner) -> None:
    roots = _same_named_roots(MAX_FORECAST_INSTANTS // 2 + 1, key=fresh_key("ec256"))
    leaf = issue("leaf.example", issuer=roots[0], ca=False, san="leaf.example")
    (in_tmp / "roots.pem").write_bytes(b"".join(r.pem for r in roots))
    (in_tmp / "leaf.pem").write_bytes(leaf.pem)
    args = ["check", "--bundle", "roots.pem", "--chain", "leaf.pem", "--at", "2029-12-01"]
    r = runner.invoke(cli, [*args, "--until", "2031-01-01", "--device", "mbedtls-clock"])
    assert r.exit_code == 2, r.output
    assert "would judge the chain at 258 dates" in r.output and "over the 256" in r.output
    r = runner.invoke(cli, [*args, "--device", "mbedtls-clock"])  # one instant: judged
    assert r.exit_code == 1 and "Traceback" not in r.output
    trust = TrustSet.from_certificates([x.certificate for x in roots[:-1]], source="t")
    when = datetime(2029, 12, 1, tzinfo=timezone.utc)
    fc = forecast(trust, [leaf.certificate], DEVICE, at=when, until=when + timedelta(days=400))
    assert len(fc.changes) == 2 * (len(roots) - 1)  # at the limit: every flip found
