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
from support.fleet import full_mongoose_unit, mongoose_unit, write_ca
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


def test_a_unit_out_of_room_keeps_the_date_its_file_goes_dark(
    mosquitto: Any, host: Any, in_tmp: Path
) -> None:
    """A unit refused "out of space" had its CA file read before the refusal: status
    gives the day that file goes dark (the units a fleet owner must act on first), not
    "unknown", which it gave because the file's SHA-256 was not kept."""
    write_ca(in_tmp)
    (in_tmp / "chains").mkdir()
    shutil.copy(REPO / "examples/chains/letsencrypt-2024-short.pem", in_tmp / f"chains/{HOST}.pem")
    dst_only = (REPO / "tests/data/letsencrypt/dst-root-ca-x3.pem").read_bytes()
    (full,) = unit_ids("esp32-f", 1)
    unit = full_mongoose_unit(full, old_ca=dst_only)
    host([unit])
    before = unit.files()
    argv = ["push", "--mqtt", mosquitto.url, "--board", "mongoose-os-esp32", "--bundle", "ca.pem"]
    argv += ["--ledger", "c.db", "--timeout", "2", "--target", HOST, "--device", full]
    r = CliRunner().invoke(cli, argv)
    assert r.exit_code == 3 and "out of space" in r.output, r.output
    assert unit.files() == before
    r = CliRunner().invoke(cli, ["push", "status", "--ledger", "c.db", "--json"])
    assert r.exit_code == 3, r.output
    (row,) = json.loads(r.stdout)["units"]
    assert row["state"] == "failed" and row["old_sha256"], row
    assert row["goes_dark"] not in ("unknown", "none"), row  # DST Root CA X3 alone: a date
    r = CliRunner().invoke(cli, ["push", "status", "--ledger", "c.db"])
    (line,) = [x for x in r.output.splitlines() if x.startswith(full + " ")]
    assert "since 20" in line, r.output


def test_a_dry_run_says_when_each_unit_goes_dark(mosquitto: Any, host: Any, in_tmp: Path) -> None:
    """A fleet owner reads the dry run first: it gives each unit's go-dark date (the
    file found on it, judged as a push judges it) and the units per date, the dates the
    push then records for the units it could not update."""
    write_ca(in_tmp)
    (in_tmp / "chains").mkdir()
    shutil.copy(REPO / "examples/chains/letsencrypt-2024-short.pem", in_tmp / f"chains/{HOST}.pem")
    dst_only = (REPO / "tests/data/letsencrypt/dst-root-ca-x3.pem").read_bytes()
    old_id, full_id, done_id = unit_ids("esp32-g", 3)
    units = [
        mongoose_unit(old_id),
        full_mongoose_unit(full_id, old_ca=dst_only),
        mongoose_unit(done_id),
    ]
    units[0].image.write("/ca.pem", dst_only)
    units[2].image.write("/ca.pem", (in_tmp / "ca.pem").read_bytes())
    host(units)
    before = [u.files() for u in units]
    argv = ["push", "--mqtt", mosquitto.url, "--board", "mongoose-os-esp32", "--bundle", "ca.pem"]
    argv += ["--ledger", "c.db", "--timeout", "2", "--target", HOST]
    for u in units:
        argv += ["--device", u.unit_id]
    r = CliRunner().invoke(cli, [*argv, "--dry-run", "--json"])
    assert r.exit_code == 3, r.output
    doc = json.loads(r.stdout)
    darks = {u["id"]: u["goes_dark"] for u in doc["units"]}
    assert darks[done_id] == "none", darks
    assert darks[old_id] not in ("none", "unknown") and darks[full_id] == darks[old_id], darks
    assert doc["goes_dark"] == {darks[old_id]: 2, "none": 1}, doc["goes_dark"]
    r = CliRunner().invoke(cli, [*argv, "--dry-run"])
    assert r.exit_code == 3, r.output
    # as push's paragraph says it: "at least since" the day, check's roadmap date beside
    day = f"at least since {darks[old_id][:10]} (roadmap: 2024-06-06)"
    assert "Current CA goes dark" in r.output and f"{day}  2" in r.output, r.output
    for uid in (old_id, full_id):
        (line,) = [x for x in r.output.splitlines() if x.startswith(uid + " ")]
        assert day in line, r.output
    assert [u.files() for u in units] == before and not (in_tmp / "c.db").exists()
    r = CliRunner().invoke(cli, argv)  # the push records the same date for the unit left
    assert r.exit_code == 3, r.output
    r = CliRunner().invoke(cli, ["push", "status", "--ledger", "c.db", "--json"])
    after = {u["id"]: u["goes_dark"] for u in json.loads(r.stdout)["units"]}
    assert after[full_id] == darks[full_id], after


def test_a_later_run_naming_no_server_keeps_the_servers_the_dates_were_judged_against(
    mosquitto: Any, host: Any, in_tmp: Path
) -> None:
    """A run naming no server (a plain mqtt:// broker) overwrote ``judged_against`` with
    "nothing" while the dates and failing_since an earlier run judged against --target
    HOST stayed: status said both "fails a server the campaign judged it against" and
    "named no server". A run that judges nothing now keeps the servers named before."""
    write_ca(in_tmp)
    (in_tmp / "chains").mkdir()
    shutil.copy(REPO / "examples/chains/letsencrypt-2024-short.pem", in_tmp / f"chains/{HOST}.pem")
    dst_only = (REPO / "tests/data/letsencrypt/dst-root-ca-x3.pem").read_bytes()
    full, later = unit_ids("esp32-j", 2)
    units = [full_mongoose_unit(full, old_ca=dst_only), mongoose_unit(later)]
    host(units)
    argv = ["push", "--mqtt", mosquitto.url, "--board", "mongoose-os-esp32", "--bundle", "ca.pem"]
    argv += ["--ledger", "c.db", "--timeout", "2"]
    r = CliRunner().invoke(cli, [*argv, "--target", HOST, "--device", full])
    assert r.exit_code == 3 and "out of space" in r.output, r.output  # its file stays
    r = CliRunner().invoke(cli, [*argv, "--device", later, "--allow", "unjudged"])  # no server
    assert r.exit_code == 0, r.output
    r = CliRunner().invoke(cli, ["push", "status", "--ledger", "c.db"])
    assert "fails a server the campaign judged it against" in r.output, r.output
    assert "named no server" not in r.output, r.output
    with Ledger(in_tmp / "c.db", readonly=True) as ledger:
        assert ledger.meta()["judged_against"] == HOST, ledger.meta()
