"""A server named with ``--target`` (or the config's ``targets:``) counts for the units'
go-dark dates as it counts for judging the CA: a campaign naming its server so recorded
``judged_against: "nothing"``, every unit's date unknown, and ``push status`` asked for
a --server it had been given."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from support.fleet import mongoose_unit, write_ca
from support.fleet_links import unit_hosts, unit_ids

from esp_cabundle.cli import cli
from esp_cabundle.push.ledger import Ledger

REPO = Path(__file__).resolve().parent.parent
HOST = "api.example.com"


@pytest.fixture
def host(mosquitto: Any) -> Iterator[Any]:
    yield from unit_hosts(mosquitto.port)


@pytest.mark.parametrize("named_by", ["--target", "targets:"])
def test_a_target_counts_for_the_go_dark_dates(
    mosquitto: Any, host: Any, in_tmp: Path, named_by: str
) -> None:
    write_ca(in_tmp)
    (in_tmp / "chains").mkdir()
    shutil.copy(REPO / "examples/chains/letsencrypt-2024-short.pem", in_tmp / f"chains/{HOST}.pem")
    named = ["--target", HOST]
    if named_by == "targets:":
        (in_tmp / "cabundle.yaml").write_text(f"targets:\n  - {HOST}\n")
        named = []
    units = [mongoose_unit(u) for u in unit_ids("esp32-d", 2)]
    host(units)
    argv = ["push", "--mqtt", mosquitto.url, "--board", "mongoose-os-esp32", "--bundle", "ca.pem"]
    argv += ["--ledger", "c.db", "--timeout", "2", *named]
    for u in units:
        argv += ["--device", u.unit_id]
    r = CliRunner().invoke(cli, argv)
    assert r.exit_code == 0, r.output
    with Ledger(in_tmp / "c.db", readonly=True) as ledger:
        assert HOST in ledger.meta()["judged_against"], ledger.meta()
    r = CliRunner().invoke(cli, ["push", "status", "--ledger", "c.db", "--json"])
    doc = json.loads(r.stdout)
    assert HOST in doc["campaign"]["judged_against"], doc["campaign"]
    darks = {u["id"]: u.get("goes_dark") for u in doc["units"]}
    assert darks and "unknown" not in darks.values(), (darks, doc["campaign"])
    r = CliRunner().invoke(cli, ["push", "status", "--ledger", "c.db"])
    assert "--server HOST" not in r.output and "named no server" not in r.output, r.output
