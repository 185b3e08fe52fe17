"""``flash --json``: every unit object has the same keys whatever its outcome, and its
``result`` in the station log's words, so a script reads a failed unit as it reads one
that was updated."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from click.testing import CliRunner
from support.layouts import load_mongoose

from esp_cabundle.cli import cli
from esp_cabundle.virtual import VirtualESP32
from tests.support import dumps
from tests.support.gated import canonical

Start = Callable[..., VirtualESP32]
NEW_CA = canonical(dumps.pem("isrgrootx1.pem") + dumps.pem("isrg-root-x2.pem"))


def test_a_failed_unit_has_every_key_and_its_log_result(
    virtual_esp32: Start, runner: CliRunner, tmp_path: Path
) -> None:
    unit = virtual_esp32("esp32", mac="24:0a:c4:00:02:01")
    load_mongoose(unit)
    ca = tmp_path / "ca.pem"
    ca.write_bytes(NEW_CA)
    log = tmp_path / "st.jsonl"
    missing = str(tmp_path / "ttyUSB9")  # no such port
    args = ["flash", "--board", "mongoose-os-esp32", "--bundle", str(ca), "--json"]
    args += ["--journal-dir", str(tmp_path / "j"), "--log", str(log)]
    r = runner.invoke(cli, [*args, "-p", unit.url, "-p", missing])
    assert r.exit_code == 3, r.output
    ok, failed = json.loads(r.stdout)["units"]
    assert failed["port"] == missing and failed["ok"] is False
    assert set(failed) == set(ok)
    records = {rec["port"]: rec for rec in map(json.loads, log.read_text().splitlines())}
    assert (ok["result"], failed["result"]) == ("updated", "failed")
    assert failed["result"] == records[missing]["result"]
    assert failed["status"] == "failed" and failed["journal"] is None
    assert failed["partitions"] == [] and failed["sectors_written"] == 0
    assert failed["interrupted"] is None and ok["interrupted"] is None
