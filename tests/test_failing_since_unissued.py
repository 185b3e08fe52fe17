"""``check --at`` a date before the saved chain's newest certificate existed: the
server sent another chain then. check said "failing at least since DATE" (the date
checked, as the floor was clamped to it), blaming this chain for a day it was not sent;
it now says the chain is not what the server sent then, and from when it is valid."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

import pytest
from click.testing import CliRunner
from support.pki import issue

from esp_cabundle.cli import cli

LE = Path(__file__).parent / "data" / "letsencrypt"
CHAINS = Path(__file__).resolve().parent.parent / "examples" / "chains"


def _leaf_chain(tmp: Path) -> tuple[Path, Path]:
    """A captured chain whose leaf is valid from 2025-01-01, and its root as the CA file."""
    root = issue("Unissued Test Root", not_before=datetime(2020, 1, 1, tzinfo=timezone.utc),
                 not_after=datetime(2040, 1, 1, tzinfo=timezone.utc))  # fmt: skip
    leaf = issue("shop.example", issuer=root, ca=False, san="shop.example",
                 not_before=datetime(2025, 1, 1, tzinfo=timezone.utc),
                 not_after=datetime(2025, 4, 1, tzinfo=timezone.utc))  # fmt: skip
    chain, ca = tmp / "shop.pem", tmp / "ca.pem"
    chain.write_bytes(b"# captured: 2025-02-01\n" + leaf.pem)
    ca.write_bytes(root.pem)
    return chain, ca


@pytest.mark.parametrize(("which", "valid_from"), [("leaf", "2025-01-01"), ("'R11'", "2024-03-13")])
def test_a_date_before_the_saved_chain_existed_is_not_a_failing_since(
    tmp_path: Path, which: str, valid_from: str
) -> None:
    if which == "leaf":
        chain, ca = _leaf_chain(tmp_path)
    else:  # a CA's published chain, R11 first (no leaf)
        chain, ca = CHAINS / "letsencrypt-2024-short.pem", LE / "isrgrootx1.pem"
    argv = ["check", "--bundle", str(ca), "--device", "mbedtls-clock", "--chain", str(chain),
            "--at", "2023-06-01"]  # fmt: skip
    r = CliRunner().invoke(cli, argv)
    assert r.exit_code == 1, r.output  # the verdict at that date still fails: [FUTURE]
    text = " ".join(r.output.split())
    assert "failing at least since" not in text, text
    assert (
        f"not what the server sent at 2023-06-01 (the saved chain's {which} is valid from "
        f"{valid_from}, so the server sent another chain then)"
    ) in text, text
    r = CliRunner().invoke(cli, [*argv, "--json"])
    since = json.loads(r.stdout)["results"][0]["failing_since"]
    assert since["date"] == "2023-06-01" and since["valid_from"] == valid_from, since
    report = tmp_path / "report.html"
    CliRunner().invoke(cli, [*argv, "--report", str(report)])
    html = report.read_text()
    assert "not what the server sent at 2023-06-01" in html
    assert "failing at least since" not in html


def test_a_date_once_the_chain_exists_is_still_failing_at_least_since(tmp_path: Path) -> None:
    chain, _ = _leaf_chain(tmp_path)
    other = tmp_path / "other.pem"  # a CA file without the chain's root: fails when sent
    other.write_bytes((LE / "isrgrootx1.pem").read_bytes())
    argv = ["check", "--bundle", str(other), "--device", "mbedtls-clock", "--chain", str(chain),
            "--at", "2025-02-01", "--json"]  # fmt: skip
    r = CliRunner().invoke(cli, argv)
    since = json.loads(r.stdout)["results"][0]["failing_since"]
    assert since["date"] == "2025-01-01" and since["valid_from"] is None, since


def test_the_hint_for_a_date_before_the_chain_existed_blames_no_server(tmp_path: Path) -> None:
    """The hint said "the server's certificate is at fault ... have the server send
    certificates within their dates": wrong for a chain the server did not send then."""
    chain, ca = _leaf_chain(tmp_path)
    argv = ["check", "--bundle", str(ca), "--device", "mbedtls-clock", "--chain", str(chain),
            "--at", "2023-06-01"]  # fmt: skip
    r = CliRunner().invoke(cli, argv)
    assert r.exit_code == 1, r.output
    text = " ".join(r.output.split())
    assert "at fault, not the CA file" not in text and "within their dates" not in text, text
    assert (
        "hint: shop.pem: the saved chain is not what the server sent at 2023-06-01, so neither "
        "the server nor the CA file is at fault: give --at a date from 2025-01-01 on"
    ) in text, text


@pytest.mark.parametrize(("at", "noted"), [("2023-06-01", True), ("2025-02-01", False)])
def test_a_device_checking_no_dates_passes_with_a_note_that_the_chain_did_not_exist(
    tmp_path: Path, at: str, noted: bool
) -> None:
    """mbedtls-noclock passes the chain at any date: before it existed that PASS is of a
    chain the server did not send then, said in a note (no failure)."""
    chain, ca = _leaf_chain(tmp_path)
    argv = ["check", "--bundle", str(ca), "--device", "mbedtls-noclock", "--chain", str(chain),
            "--at", at]  # fmt: skip
    r = CliRunner().invoke(cli, argv)
    assert r.exit_code == 0, r.output
    text = " ".join(r.output.split())
    note = (
        f"Not what the server sent at {at}: the saved chain's leaf is valid from 2025-01-01, "
        "so the server sent another chain then."
    )
    assert (note in text) is noted, text
    assert "PASS shop.pem" in text, text
    result = json.loads(CliRunner().invoke(cli, [*argv, "--json"]).stdout)["results"][0]
    assert result["unissued_note"] == (note if noted else None), result
