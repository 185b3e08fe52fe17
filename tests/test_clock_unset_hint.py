"""A unit whose clock was never set (``*-clock-unset``: TLS before SNTP, the clock at
1970) finds every certificate not yet valid. The body said "connect only after SNTP has
set the time" while the hint said "add the roots these servers chain to; the server's
certificate is at fault ... renewed": neither the CA file nor the server changes that
verdict. The hint now says what does; a clock that is set keeps the renewal hint for a
certificate that is really not yet valid.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from click.testing import CliRunner

from esp_cabundle.cli import cli

DATA = Path(__file__).parent / "data" / "letsencrypt"


def _check(runner: CliRunner, device: str, *at: str) -> dict[str, object]:
    args = ["check", "--bundle", "ca.pem", "--chain", "chain.pem", "--device", device, *at]
    r = runner.invoke(cli, [*args, "--json"])
    assert r.exit_code == 1, r.output
    out = json.loads(r.output)
    assert isinstance(out, dict)
    return out


def test_a_clock_at_1970_is_fixed_by_waiting_for_sntp_not_by_roots_or_the_server(
    in_tmp: Path, runner: CliRunner
) -> None:
    shutil.copy(DATA / "2024-r11.pem", in_tmp / "chain.pem")
    assert runner.invoke(cli, ["build", "--no-lock", "--root", "isrg-root-x1"]).exit_code == 0
    hint = str(_check(runner, "mbedtls-clock-unset")["hint"])
    assert hint.startswith("connect only after SNTP has set the time"), hint
    assert "add the roots" not in hint and "at fault" not in hint, hint
    # A set clock before R11's first day, the chain captured then: the server sends a
    # certificate not yet valid (uncaptured, the chain is not what it sent then: 7a4e691).
    chain = (in_tmp / "chain.pem").read_text()
    (in_tmp / "chain.pem").write_text("# captured: 2024-01-01T00:00:00Z\n" + chain)
    hint = str(_check(runner, "mbedtls-clock", "--at", "2024-01-01")["hint"])
    assert "SNTP" not in hint
    assert "have the server send certificates within their dates" in hint


def test_text_output_gives_the_same_hint(in_tmp: Path, runner: CliRunner) -> None:
    shutil.copy(DATA / "2024-r11.pem", in_tmp / "chain.pem")
    assert runner.invoke(cli, ["build", "--no-lock", "--root", "isrg-root-x1"]).exit_code == 0
    args = ["check", "--bundle", "ca.pem", "--chain", "chain.pem"]
    r = runner.invoke(cli, [*args, "--device", "mbedtls-clock-unset"])
    assert r.exit_code == 1
    said = " ".join(r.output.split())
    assert "hint: connect only after SNTP has set the time" in said
    assert "add the roots" not in said.split("hint:")[1]
