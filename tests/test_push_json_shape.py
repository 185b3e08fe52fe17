"""``push --json`` and ``push status --json`` describe one campaign in one shape, as
README documents it: a script that reads one reads the other (review finding: the
units of ``push --json`` had no ``goes_dark``, its document no ``campaign``)."""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from support.fleet import mdash_unit, write_ca
from support.fleet_links import MdashStandIn

from esp_cabundle.cli import cli
from esp_cabundle.push.ledger import STATES

KEY = "k3y-for-json-shape-tests"
REPO = Path(__file__).resolve().parent.parent
BOARD = "mdash-arduino@1.2.13"


@pytest.fixture
def four_units(monkeypatch: pytest.MonkeyPatch) -> Iterator[MdashStandIn]:
    """A unit updated, one that never answers, one whose writes never read back whole
    (it keeps DST Root CA X3 alone: a go-dark date of its own) and one whose firmware
    does not read the file: four states, three go-dark values."""
    units = [
        mdash_unit("dev1"),
        mdash_unit("dev2", silent=True),
        mdash_unit("dev3", corrupt_writes=100),
        mdash_unit("dev4", fw_version="1.2.16-a-10819-ESP32_DEV"),
    ]
    units[2].image.write(
        "/ca.pem", (REPO / "tests/data/letsencrypt/dst-root-ca-x3.pem").read_bytes()
    )
    s = MdashStandIn(units, KEY)
    monkeypatch.setenv("MDASH_API_KEY", KEY)
    yield s
    s.close()


def _json(argv: list[str], code: int) -> dict[str, Any]:
    r = CliRunner().invoke(cli, argv)
    assert r.exit_code == code, r.output
    doc: dict[str, Any] = json.loads(r.stdout)
    return doc


def _readme_shape() -> str:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    start = text.index("`push --json` and `push status --json` describe a campaign in one shape")
    return text[start : text.index("\n\n", start)]


def test_push_and_status_json_share_one_shape(four_units: MdashStandIn, in_tmp: Path) -> None:
    write_ca(in_tmp)
    argv = ["push", "--mdash", four_units.url, "--board", BOARD, "--bundle", "ca.pem",
            "--timeout", "0.5", "--json"]  # fmt: skip
    dry = _json([*argv, "--dry-run"], 3)
    run = _json(argv, 3)
    status = _json(["push", "status", "--json"], 3)  # as the push: units not done

    run_units = {u["id"]: u for u in run["units"]}
    status_units = {u["id"]: u for u in status["units"]}
    assert {u: d["state"] for u, d in status_units.items()} == {
        "dev1": "verified", "dev2": "offline", "dev3": "failed", "dev4": "unused"
    }  # fmt: skip
    keys = {frozenset(u) for u in [*run["units"], *status["units"]]}
    assert len(keys) == 1, keys  # every unit of both documents: the same keys
    assert "goes_dark" in next(iter(keys))
    assert run_units == status_units  # the same values for the same unit
    darks = {u["goes_dark"] for u in run["units"]}
    assert len(darks) == 3 and "unknown" in darks, darks  # the values tell units apart

    assert run["campaign"] == status["campaign"]
    assert {k: run["campaign"][k] for k in ("board", "ca_sha256")} == {
        "board": run["board"], "ca_sha256": run["ca_sha256"]
    }  # fmt: skip
    for doc in (run, status):  # counts and go-dark dates: of the document's units
        states = Counter(u["state"] for u in doc["units"])
        assert doc["counts"] == {s: states[s] for s in STATES}
        assert doc["goes_dark"] == dict(Counter(u["goes_dark"] for u in doc["units"]))
    assert list(run["counts"]) == list(status["counts"])
    assert run["goes_dark"] == status["goes_dark"]
    assert {"ledger", "ok", "interrupted", "passes", "notes", "bytes"} <= set(run)  # kept
    # bytes: the traffic (the file written and read back, at least), which README says:
    # a bare `bytes` beside the CA's facts read as the file's size
    assert run["bytes"] > 2 * len((in_tmp / "ca.pem").read_bytes()), run["bytes"]
    assert "`bytes` (the run's RPC traffic" in _readme_shape()
    assert run["exit_code"] == dry["exit_code"] == 3  # as the process exited
    assert status["ok"] is run["ok"] is False  # status said ok while units were not done

    # A dry run's units, as README says: the keys a push records, and three of its own.
    shared = {"id", "transport", "state", "fw_version", "old_sha256", "note"}
    for u in dry["units"]:
        own = {"error", "current", "current_roots", "room", "goes_dark"}
        assert set(u) == shared | own, u
        ran = run_units[u["id"]]
        assert {k: u[k] for k in shared - {"state"}} == {k: ran[k] for k in shared - {"state"}}
    assert "campaign" not in dry and "counts" not in dry
    # goes_dark: the file found on each unit (a push's, once written, is another's date)
    assert dry["goes_dark"] == dict(Counter(u["goes_dark"] for u in dry["units"]))
    # ...and the order each lists them in: push its listing's, status by id
    assert [u["id"] for u in run["units"]] == ["dev1", "dev2", "dev3", "dev4"]
    assert [u["id"] for u in status["units"]] == sorted(status_units)

    # README names every key a unit has, and each fact the campaign holds here.
    said = set(re.findall(r"`([a-z_0-9]+)`", _readme_shape()))
    assert next(iter(keys)) | set(run["campaign"]) | set(dry["units"][0]) <= said
    assert {k for k in set(run) | set(status) | set(dry) if k != "dry_run"} - said <= {
        "would_finish"
    }


@pytest.mark.parametrize(
    ("states", "code"),
    [
        ((), 0),
        (("up-to-date", "would-write", "unused"), 0),
        (("would-write", "offline"), 3),
        (("failed",), 3),
    ],
)
def test_a_dry_runs_exit_code_is_worked_out_once(states: tuple[str, ...], code: int) -> None:
    """push.py exits with, and the --json document says, the one dry_run_exit_code."""
    from esp_cabundle.commands._push_render import dry_run_exit_code
    from esp_cabundle.push.survey import SurveyRow

    assert dry_run_exit_code([SurveyRow(f"u{i}", "mqtt", s) for i, s in enumerate(states)]) == code
