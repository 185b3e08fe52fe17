""" "Failing at least since" from a saved chain a shipped roadmap knows: the date the chain
proves (its newest certificate's first day), with the roadmap's date beside it as
context. 576070a dated it by the roadmap (2024-06-06), false for a server that came to
Let's Encrypt late: DigiCert root + DST, a server moved from DigiCert to Gen Y in 2026-06
fails only from then, but check said "at least since 2024-06-06" (2021-09-30 with a
clock). The two verdicts no longer contradict: one is a bound for this server, the
other what the roadmap's servers did (DOMAIN.md: 2024-02-08 / 2024-06-06)."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from support.fleet import full_mongoose_unit, write_ca
from support.fleet_links import started

from esp_cabundle.cli import cli
from esp_cabundle.push.ledger import Ledger
from esp_cabundle.virtual.rpc_links import LanUnitServer

LE = Path(__file__).parent / "data" / "letsencrypt"
CHAINS = Path(__file__).resolve().parent.parent / "examples" / "chains"


@pytest.mark.parametrize(
    ("saved", "floor"),
    [("letsencrypt-2024-short.pem", "2024-03-13"), ("letsencrypt-gen-y-rsa.pem", "2026-05-13")],
)
def test_a_saved_chain_is_dated_by_itself_and_the_roadmap_told_beside(
    in_tmp: Path, saved: str, floor: str
) -> None:
    (in_tmp / "chains").mkdir()
    shutil.copy(CHAINS / saved, in_tmp / "chains" / "mdash.net.pem")
    r = CliRunner().invoke(cli, ["check", "--board", "mdash-arduino@1.2.13", "--at",
                                 "2026-12-01", "--until", "2034-12-31", "--json"])  # fmt: skip
    assert r.exit_code == 1, r.output
    results = json.loads(r.stdout)["results"]
    since = {res["name"]: res["failing_since"] for res in results}
    assert len(since) == 2, since
    chain = since["mdash.net"]
    assert chain["date"] == floor, chain
    assert chain["roadmap_since"]["date"] == "2024-06-06", chain
    assert "letsencrypt rsa-default since 2024-02-08" in chain["roadmap_since"]["why"]
    road = next(s for n, s in since.items() if n != "mdash.net")
    assert road["date"] == "2024-06-06" and road["roadmap_since"] is None, road
    text = CliRunner().invoke(cli, ["check", "--board", "mdash-arduino@1.2.13", "--at",
                                    "2026-12-01", "--until", "2034-12-31"]).output  # fmt: skip
    text = " ".join(text.split())
    assert f"failing at least since {floor}" in text, text
    assert "servers a shipped roadmap says send this chain fail from 2024-06-06" in text
    assert "already failing since 2024-06-06" in text
    assert "letsencrypt rsa-default since 2024-02-08" in text  # the kinds the roadmap tells


@pytest.mark.parametrize(("device", "roadmap"), [("mbedtls-noclock", "2024-06-06"),
                                                 ("mbedtls-clock", "2021-09-30")])  # fmt: skip
def test_a_server_that_came_to_gen_y_late_is_not_dated_by_the_roadmap(
    in_tmp: Path, device: str, roadmap: str
) -> None:
    """DigiCert root + DST, a server that moved from DigiCert to Gen Y: it fails from
    the Gen Y chain's first day at the earliest, whatever Let's Encrypt's servers did."""
    built = CliRunner().invoke(cli, ["build", "--root", "digicert-global-root-g2", "--root",
                                     "dst-root-ca-x3", "--allow", "expired", "--no-lock",
                                     "-o", "ca.pem"])  # fmt: skip
    assert built.exit_code == 0, built.output
    shutil.copy(CHAINS / "letsencrypt-gen-y-rsa.pem", in_tmp / "shop.pem")
    argv = ["check", "--bundle", "ca.pem", "--device", device, "--target", "shop.pem",
            "--at", "2026-12-01", "--until", "2027-01-01"]  # fmt: skip
    r = CliRunner().invoke(cli, [*argv, "--json"])
    assert r.exit_code == 1, r.output
    since = json.loads(r.stdout)["results"][0]["failing_since"]
    assert since["date"] == "2026-05-13", since
    assert since["roadmap_since"]["date"] == roadmap, since
    text = " ".join(CliRunner().invoke(cli, argv).output.split())
    assert "failing at least since 2026-05-13" in text, text
    assert f"servers a shipped roadmap says send this chain fail from {roadmap}" in text, text


def test_an_unknown_saved_chain_keeps_its_own_first_day() -> None:
    """A chain no roadmap sends (YR1 alone): only its certificates can date it."""
    from dataclasses import replace
    from datetime import datetime, timezone

    from esp_cabundle.chains import load_chain_file
    from esp_cabundle.timeline import Period, failing_since
    from esp_cabundle.trust_files import device_trust_set
    from tests.support.profiles import NOCLOCK

    trust = device_trust_set((LE / "dst-root-ca-x3.pem").read_bytes(), source="dst")
    at = datetime(2026, 12, 1, tzinfo=timezone.utc)
    gen_y = load_chain_file(CHAINS / "letsencrypt-gen-y-rsa.pem")
    since = failing_since(trust, (Period(gen_y),), NOCLOCK, at=at)
    assert since.date == max(c.not_before for c in gen_y.certificates), since
    assert since.roadmap_since is not None and not since.bounded, since
    assert since.roadmap_since.date().isoformat() == "2024-06-06", since
    alone = replace(gen_y, certificates=gen_y.certificates[:1])
    since = failing_since(trust, (Period(alone),), NOCLOCK, at=at)
    assert since.date == alone.certificates[0].not_before and not since.bounded, since
    assert since.roadmap_since is None, since


@pytest.fixture
def lan() -> Iterator[Any]:
    with started(LanUnitServer) as start:
        yield start


def test_push_dates_dst_only_units_by_the_saved_chain(lan: Any, tmp_path: Path) -> None:
    """``push --target`` a saved Gen Y chain, units holding only DST Root CA X3: failing
    at least since the chain's 2026-05-13, all the chain proves for that server (the
    roadmap's 2024-06-06 holds for Let's Encrypt's own servers, not one that came late)."""
    write_ca(tmp_path)
    dst = (LE / "dst-root-ca-x3.pem").read_bytes()
    unit = full_mongoose_unit("dst-only", blocks=64, old_ca=dst, spare=8)
    argv = ["push", "--rpc", lan(unit).http_url, "--board", "mongoose-os-esp32", "--bundle",
            str(tmp_path / "ca.pem"), "--target", str(CHAINS / "letsencrypt-gen-y-rsa.pem"),
            "--ledger", str(tmp_path / "c.db"), "--timeout", "2"]  # fmt: skip
    r = CliRunner().invoke(cli, argv)
    assert r.exit_code == 0, r.output
    with Ledger(tmp_path / "c.db", readonly=True) as ledger:
        meta = ledger.meta()
    assert meta["failing_since"].startswith("2026-05-13"), meta
