""" "Failing at least since" from a saved chain a shipped roadmap knows: no later, and no
earlier, than the roadmap's own verdict for servers sending that chain. A Gen Y chain
saved in 2026 dated DST-only units "failing since 2026-05-13" (its certificates' start)
in ``push``'s failing_since and goes_dark, and ``check`` said "at least since
2024-03-13" (R11's first day) for a saved R11 chain beside the roadmap's "already
failing since 2024-06-06" for the same server (DOMAIN.md: 2024-02-08 / 2024-06-06)."""

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


@pytest.mark.parametrize("saved", ["letsencrypt-2024-short.pem", "letsencrypt-gen-y-rsa.pem"])
def test_a_saved_chain_and_the_roadmap_agree_since_when_it_fails(in_tmp: Path, saved: str) -> None:
    (in_tmp / "chains").mkdir()
    shutil.copy(CHAINS / saved, in_tmp / "chains" / "mdash.net.pem")
    r = CliRunner().invoke(cli, ["check", "--board", "mdash-arduino@1.2.13", "--at",
                                 "2026-12-01", "--until", "2034-12-31", "--json"])  # fmt: skip
    assert r.exit_code == 1, r.output
    results = json.loads(r.stdout)["results"]
    since = {res["name"]: res["failing_since"] for res in results}
    assert len(since) == 2, since
    assert {s["date"] for s in since.values()} == {"2024-06-06"}, since
    text = CliRunner().invoke(cli, ["check", "--board", "mdash-arduino@1.2.13", "--at",
                                    "2026-12-01", "--until", "2034-12-31"]).output  # fmt: skip
    text = " ".join(text.split())
    assert "failing at least since 2024-06-06" in text, text
    assert "already failing since 2024-06-06" in text
    assert "letsencrypt rsa-default since 2024-02-08" in text  # the kinds the roadmap tells


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
    assert since.date.date().isoformat() == "2024-06-06" and not since.bounded, since
    alone = replace(gen_y, certificates=gen_y.certificates[:1])
    since = failing_since(trust, (Period(alone),), NOCLOCK, at=at)
    assert since.date == alone.certificates[0].not_before and not since.bounded, since


@pytest.fixture
def lan() -> Iterator[Any]:
    with started(LanUnitServer) as start:
        yield start


def test_push_dates_dst_only_units_by_the_roadmap(lan: Any, tmp_path: Path) -> None:
    """``push --target`` a saved Gen Y chain, units holding only DST Root CA X3: failing
    since 2024-06-06, as the roadmap says, not the chain's 2026-05-13."""
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
    assert meta["failing_since"].startswith("2024-06-06"), meta
