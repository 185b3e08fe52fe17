"""A saved chain servers no longer send: the hint says to refresh it, not to add roots.

A saved R11 chain (Let's Encrypt's default until 2026-05-28) judged over a horizon past
ISRG Root X1's expiry failed there with "add the roots these servers chain to", though
servers have sent the Gen Y chain to Root YR since, and Root YR was in the bundle: the
roadmap tells the chain is stale, so the hint says to refresh it (``chains pull``).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from esp_cabundle.cli import cli

EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "chains"
UNTIL = "2036-01-01"


def _project(tmp: Path, chain: bytes) -> None:
    (tmp / "chains").mkdir()
    (tmp / "chains" / "mdash.net.pem").write_bytes(chain)
    (tmp / "cabundle.yaml").write_text(
        "preset: []\nroots: [isrg-root-x1, isrg-root-yr]\ndevice: mbedtls-clock\n"
        "targets:\n  - mdash.net\n"
    )


def _r11(captured: str) -> bytes:
    return (
        f"# captured: {captured}\n".encode()
        + (EXAMPLES / "letsencrypt-2024-short.pem").read_bytes()
    )


def test_a_stale_saved_chain_is_to_be_refreshed_not_given_roots(
    in_tmp: Path, runner: CliRunner
) -> None:
    _project(in_tmp, _r11("2026-01-01"))
    r = runner.invoke(cli, ["check", "--at", "2026-11-01", "--until", UNTIL])
    assert r.exit_code == 1, r.output
    hint = " ".join(r.stderr[r.stderr.index("hint:") :].split())
    assert "add the roots" not in hint, hint
    assert "mdash.net: its saved chain chains/mdash.net.pem is stale: it holds R11" in hint
    assert "which servers sent only until 2026-05-28" in hint, hint
    assert "'esp-cabundle chains pull'" in hint, hint
    r = runner.invoke(cli, ["check", "--at", "2026-11-01", "--until", UNTIL, "--json"])
    doc = json.loads(r.stdout)
    assert r.exit_code == 1 and " ".join(doc["hint"].split()) == hint.removeprefix("hint: ")
    # build's gate gives the same hint (X1's expiry before the end of service allowed).
    config = in_tmp / "cabundle.yaml"
    config.write_text(config.read_text() + f"service_until: {UNTIL}\n")
    args = ["build", "--at", "2026-11-01", "--dry-run", "--no-lock"]
    r = runner.invoke(cli, [*args, "--allow", "expires-before-service-end"])
    assert r.exit_code == 1 and "is stale: it holds R11" in " ".join(r.output.split()), r.output


def test_a_chain_servers_still_sent_at_the_date_checked_is_not_stale(
    in_tmp: Path, runner: CliRunner
) -> None:
    """Checked while servers sent R11, the root is the news: ISRG Root X1, which the CA
    file holds, expires 2035-06-04, so the servers must move to Root YR (in the CA file
    already: the config lists isrg-root-yr); adding roots would not help
    (tests/test_held_root_expiry_hint.py)."""
    _project(in_tmp, _r11("2025-01-01"))
    r = runner.invoke(cli, ["check", "--at", "2025-06-01", "--until", UNTIL])
    assert r.exit_code == 1, r.output
    hint = " ".join(r.stderr.split())
    assert "stale" not in hint and "add the roots" not in hint, hint
    assert "its chain ends at ISRG Root X1, which the CA file already holds" in hint, hint
    assert "(isrg-root-yr, which ISRG Root X1 has cross-signed, is in it already)" in hint


@pytest.mark.parametrize(
    ("example", "holds", "until"),
    [
        ("letsencrypt-2024-short.pem", "R11", "2026-05-28"),
        ("letsencrypt-2021-long.pem", "R3 <- ISRG Root X1", "2024-06-06"),
    ],
)
def test_an_undated_stale_chain_failing_on_its_intermediate_is_to_be_refreshed(
    in_tmp: Path, runner: CliRunner, example: str, holds: str, until: str
) -> None:
    """The common stale failure: the saved chain's own intermediate expires (R11 on
    2027-03-12, R3 on 2025-09-15). The hint said to have the server renew it, though
    servers stopped sending that chain: refresh the saved chain instead. A file named
    with --chain is said as one (it was 'its saved chain', as a config target's is)."""
    (in_tmp / example).write_bytes((EXAMPLES / example).read_bytes())
    r = runner.invoke(cli, ["build", "--root", "isrg-root-x1", "--no-lock", "-o", "ca.pem"])
    assert r.exit_code == 0, r.output
    args = ["check", "--bundle", "ca.pem", "--chain", example, "--until", "2034-12-31"]
    r = runner.invoke(cli, args)
    assert r.exit_code == 1, r.output
    hint = " ".join(r.stderr[r.stderr.index("hint:") :].split())
    assert "the server's certificate is at fault" not in hint, hint
    assert f"hint: the chain file {example} is stale: it holds {holds}" in hint, hint
    assert "saved chain" not in hint, hint
    assert f"which servers sent only until {until}: refresh it" in hint, hint
    assert "roots added" not in hint and "add the roots" not in hint, hint
    doc = json.loads(runner.invoke(cli, [*args, "--json"]).stdout)
    assert " ".join(doc["hint"].split()) == hint.removeprefix("hint: ")
