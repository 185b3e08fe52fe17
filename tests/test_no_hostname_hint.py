"""Firmware that never sets a hostname on mbedTLS 3.6.3+ (``+no-hostname`` on a 3.6
profile) is refused at the handshake, -0x5d80, whatever its CA file and the server send.
The body said so, while the hint said "add the roots these servers chain to" (or, for a
saved chain servers no longer send, to refresh it): neither changes that verdict. The
hint now says what does; the same CA passes the same chain on 2.28.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from esp_cabundle.cli import cli

DATA = Path(__file__).parent / "data" / "letsencrypt"
CHECK = ["check", "--bundle", "ca.pem", "--chain", "chain.pem"]


@pytest.fixture
def project(in_tmp: Path, runner: CliRunner) -> Path:
    shutil.copy(DATA / "2024-r11.pem", in_tmp / "chain.pem")
    assert runner.invoke(cli, ["build", "--no-lock", "--root", "isrg-root-x1"]).exit_code == 0
    return in_tmp


@pytest.mark.parametrize("at", [["--at", "2025-01-01"], []])  # [] : R11 no longer sent
def test_no_hostname_on_36_is_the_firmwares_to_fix(
    project: Path, runner: CliRunner, at: list[str]
) -> None:
    r = runner.invoke(cli, [*CHECK, "--device", "mbedtls-noclock@3.6+no-hostname", *at, "--json"])
    assert r.exit_code == 1, r.output
    hint = str(json.loads(r.output)["hint"])
    assert hint.startswith("have the firmware call mbedtls_ssl_set_hostname"), hint
    assert "add the roots" not in hint and "stale" not in hint, hint
    # The CA and chain themselves are good: 2.28 checks no name and accepts them.
    r = runner.invoke(cli, [*CHECK, "--device", "mbedtls-noclock@2.28+no-hostname", *at])
    assert r.exit_code == 0, r.output


def test_text_output_gives_the_same_hint(project: Path, runner: CliRunner) -> None:
    r = runner.invoke(
        cli, [*CHECK, "--device", "mbedtls3-noclock+no-hostname", "--at", "2025-01-01"]
    )
    assert r.exit_code == 1
    said = " ".join(r.stderr.split())
    assert "hint: have the firmware call mbedtls_ssl_set_hostname" in said, said
    assert "add the roots" not in said.split("hint:")[1]
