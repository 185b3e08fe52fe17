""" "When did my fleet break?": a fleet whose ca.pem holds only DST Root CA X3 is dated
to 2024 by Let's Encrypt's roadmap (February for servers on the default chain, June for
servers that asked for the chain to DST Root CA X3); one that also holds ISRG Root X1 is
not. The verdicts on both sides of the switch are checked against real mbedTLS."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from esp_cabundle.certs import load_certificate_file
from esp_cabundle.cli import cli
from esp_cabundle.verify import ERR_X509_CERT_VERIFY_FAILED, EXPIRED, NOT_TRUSTED

LE = Path(__file__).parent / "data" / "letsencrypt"
WINDOW = ("--roadmap", "letsencrypt", "--at", "2023-06-01", "--until", "2025-01-01")


@pytest.fixture
def bundles(in_tmp: Path) -> Path:
    shutil.copy(LE / "dst-root-ca-x3.pem", in_tmp / "dst.pem")
    (in_tmp / "dst-x1.pem").write_bytes(
        (LE / "dst-root-ca-x3.pem").read_bytes() + (LE / "isrgrootx1.pem").read_bytes()
    )
    return in_tmp


def check_json(runner: CliRunner, *args: str) -> tuple[int, dict[str, dict[str, Any]], list[str]]:
    r = runner.invoke(cli, ["check", *args, "--json"])
    doc = json.loads(r.stdout)
    return r.exit_code, {x["name"]: x for x in doc["results"]}, doc["notes"]


def first_failure(result: dict[str, Any]) -> dict[str, Any]:
    return next(c for c in result["changes"] if not c["ok"])


def test_a_dst_only_fleet_without_a_clock_is_dated_to_2024(
    runner: CliRunner, bundles: Path
) -> None:
    code, results, notes = check_json(
        runner, "--bundle", "dst.pem", "--device", "mbedtls-noclock", *WINDOW
    )
    assert code == 1
    default, alternate = (
        results["letsencrypt: rsa-default"],
        results["letsencrypt: rsa-dst-preferred"],
    )
    for result in (default, alternate):
        assert result["verdict"]["ok"] and result["failing_since"] is None
        assert result["verdict"]["path"][-1]["label"] == "DST Root CA X3"
    # Servers on the default chain switched to the short chain on 2024-02-08; those that
    # had asked for the chain to DST Root CA X3 (mdash.net) kept it until 2024-06-06.
    change = first_failure(default)
    assert (change["date"], change["chain_change"], change["chain"]) == ("2024-02-08", True, "r3")
    assert change["verdict"]["error"] == "-0x2700"
    assert change["verdict"]["flag_names"] == ["NOT_TRUSTED"]
    change = first_failure(alternate)
    assert (change["date"], change["chain"]) == ("2024-06-06", "r10-r14")
    assert change["verdict"]["error"] == "-0x2700"
    # The Gen Y-only server kinds start after the horizon and are said to be left out.
    assert any("rsa-ending-at-root-yr (from 2026-05-28)" in n for n in notes)
    assert "letsencrypt: rsa-ending-at-root-yr" not in results


def test_the_text_report_says_when_and_how_long_servers_took(
    runner: CliRunner, bundles: Path
) -> None:
    r = runner.invoke(cli, ["check", "--bundle", "dst.pem", "--device", "mbedtls-noclock", *WINDOW])
    out = " ".join(r.stdout.split())
    assert r.exit_code == 1
    assert "2024-02-08: servers switch to r3: the short chain" in out
    assert "(a server takes the new chain when it renews: all have by 2024-05-08)" in out
    assert "2024-06-06: servers switch to r10-r14" in out
    assert "all have by 2024-09-04" in out
    assert "sends: r3-by-dst 2020-12-21..2021-05-04; long 2021-05-04..2024-02-08;" in out


def test_a_fleet_that_also_trusts_isrg_root_x1_is_not_dated_to_2024(
    runner: CliRunner, bundles: Path
) -> None:
    code, results, _ = check_json(
        runner, "--bundle", "dst-x1.pem", "--device", "mbedtls-noclock", *WINDOW
    )
    for name in ("rsa-default", "rsa-dst-preferred", "rsa-x1-preferred", "ecdsa-default"):
        result = results[f"letsencrypt: {name}"]
        assert result["ok"] and not result["changes"], name
    # Only the alternate chain to ISRG Root X2, which this bundle lacks, fails, from the
    # day it is first offered.
    x2 = results["letsencrypt: ecdsa-x2-preferred"]
    assert code == 1 and not x2["ok"] and x2["at"].startswith("2024-06-06")
    assert x2["failing_since"] is None
    # Refused from its first day: --json dates the failure as the text does.
    assert (
        x2["first_failure"]["date"] == "2024-06-06"
        and "servers start" in x2["first_failure"]["why"]
    )
    assert results["letsencrypt: rsa-default"]["first_failure"] is None


def test_json_dates_the_first_failure(runner: CliRunner, bundles: Path) -> None:
    """The text's "2032-09-02: ... the device fails from then on" is in --json too:
    ``date`` the certificate's not-after date (23:59:59 that day), ``from`` the first
    second mbedTLS refuses it (now > not_after), as in the change that says so."""
    shutil.copy(LE / "isrgrootx1.pem", "x1.pem")
    chain = Path(__file__).parents[1] / "examples" / "chains" / "letsencrypt-gen-y-rsa.pem"
    code, results, _ = check_json(
        runner, "--bundle", "x1.pem", "--chain", str(chain), "--device", "mbedtls-clock",
        "--at", "2027-01-01", "--until", "2040-01-01",
    )  # fmt: skip
    result = results["letsencrypt-gen-y-rsa.pem"]
    assert code == 1 and not result["ok"] and result["failing_since"] is None
    first = result["first_failure"]
    assert first == {
        "date": "2032-09-02",
        "from": "2032-09-03T00:00:00+00:00",
        "why": "Root YR cross-signed by ISRG Root X1 expires",
    }
    change = first_failure(result)
    assert (change["date"], change["from"]) == (first["date"], first["from"])
    cross = change["verdict"]["path"][1]
    assert cross["not_after"] == "2032-09-02T23:59:59+00:00" and cross["flags"] == ["EXPIRED"]


def test_with_a_clock_the_fleet_already_failed_in_2021(runner: CliRunner, bundles: Path) -> None:
    _, results, _ = check_json(runner, "--bundle", "dst.pem", "--device", "mbedtls-clock", *WINDOW)
    default = results["letsencrypt: rsa-default"]
    assert not default["verdict"]["ok"] and default["verdict"]["flag_names"] == ["EXPIRED"]
    assert default["failing_since"] == {
        "date": "2021-09-30",
        "why": "DST Root CA X3 expires",
        "roadmap_since": None,
        "valid_from": None,
    }
    assert not [c for c in default["changes"] if not c["ok"]]  # no "first failure" in 2023


def test_the_chains_on_both_sides_of_2024_under_real_mbedtls() -> None:
    """mbedTLS 2.28 itself: with DST Root CA X3 trusted, the long chain builds a path to it
    (only date flags, which a device without a clock never raises) and the short chain
    has no path at all (NOT_TRUSTED, -0x2700)."""
    oracle = pytest.importorskip(
        "tests.support.mbedtls_oracle", reason="python-mbedtls is not installed"
    )
    if not oracle.HAVE_MBEDTLS or not oracle.x509_available():  # pragma: no cover
        pytest.skip("python-mbedtls's libmbedx509 not found")

    def der(name: str) -> bytes:
        return load_certificate_file(LE / f"{name}.pem")[0].der

    dst = [der("dst-root-ca-x3")]
    ret, flags = oracle.x509_verify(dst, [der("lets-encrypt-r3"), der("isrg-root-x1-cross-signed")])
    assert ret == ERR_X509_CERT_VERIFY_FAILED and flags & ~EXPIRED == 0 and flags & EXPIRED
    ret, flags = oracle.x509_verify(dst, [der("lets-encrypt-r3")])
    assert ret == ERR_X509_CERT_VERIFY_FAILED and flags & NOT_TRUSTED
    ret, flags = oracle.x509_verify(dst, [der("2024-r11")])
    assert ret == ERR_X509_CERT_VERIFY_FAILED and flags & NOT_TRUSTED
