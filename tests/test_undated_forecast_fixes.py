"""The forecast of a chain with no ``# captured:`` line says what the dated one says.

- A leaf sent ahead (valid only after the horizon) of a chain the bundle does not trust
  fails throughout, not "until then": the note said the early certificate was the only
  reason, as a dated chain's never did.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

from click.testing import CliRunner

from esp_cabundle.cli import cli
from tests.support.verify_pki import mint

UTC = timezone.utc
ROOT = mint("Ahead Root", not_after=datetime(2040, 1, 1, tzinfo=UTC))
OTHER = mint("Unrelated Root", not_after=datetime(2040, 1, 1, tzinfo=UTC))
AHEAD = mint(
    "ahead.example",
    ROOT,
    ca=False,
    san="ahead.example",
    not_before=datetime(2030, 1, 1, tzinfo=UTC),
    not_after=datetime(2031, 1, 1, tzinfo=UTC),
)
UNTIL_THEN = "A certificate the server sends is not valid before 2030-01-01"
THROUGHOUT = "The chain fails throughout; no date makes it pass."


def _check(runner: CliRunner, bundle: str, *extra: str) -> tuple[str, str]:
    args = ["check", "--bundle", bundle, "--chain", "ahead.pem", "--until", "2028-01-01"]
    args += ["--device", "mbedtls-clock", *extra]
    text = runner.invoke(cli, args)
    assert text.exit_code == 1, text.output
    doc = runner.invoke(cli, [*args, "--json"])
    assert doc.exit_code == 1, doc.output
    (res,) = json.loads(doc.stdout)["results"]
    return " ".join(text.stdout.split()), res["note"]


def test_an_undated_chain_sent_ahead_and_untrusted_fails_throughout(
    in_tmp: Path, runner: CliRunner
) -> None:
    (in_tmp / "ca.pem").write_bytes(ROOT.pem)
    (in_tmp / "other.pem").write_bytes(OTHER.pem)
    (in_tmp / "ahead.pem").write_bytes(AHEAD.pem)
    # Trusted: only the early leaf is at fault, it fails until then.
    said, note = _check(runner, "ca.pem")
    assert note.startswith(UNTIL_THEN) and UNTIL_THEN in said, said
    # Not trusted: no date makes it pass, as the same file with a capture date says.
    said, note = _check(runner, "other.pem")
    assert note == THROUGHOUT and THROUGHOUT in said and UNTIL_THEN not in said, said
    (in_tmp / "ahead.pem").write_bytes(b"# captured: 2026-01-01\n" + AHEAD.pem)
    assert _check(runner, "other.pem")[1] == THROUGHOUT


def test_the_undated_advice_is_said_once_in_check_and_in_builds_refusal(
    in_tmp: Path, runner: CliRunner
) -> None:
    """The hint repeated the note's whole paragraph: it now points to the note, which
    build's refusal lists too (its text shows no results)."""
    root = mint("Once Root", not_after=datetime(2040, 1, 1, tzinfo=UTC))
    leaf = mint(
        "once.example",
        root,
        ca=False,
        san="once.example",
        not_before=datetime(2025, 1, 1, tzinfo=UTC),
        not_after=datetime(2025, 6, 1, tzinfo=UTC),
    )
    (in_tmp / "root.pem").write_bytes(root.pem)
    (in_tmp / "chains").mkdir()
    (in_tmp / "chains" / "once.example.pem").write_bytes(leaf.pem)
    (in_tmp / "cabundle.yaml").write_text(
        "preset: []\nroots: [root.pem]\ndevice: mbedtls-clock\ntargets:\n  - once.example\n"
    )
    advice = "add that date as its first line: '# captured: YYYY-MM-DD' (UTC)"
    pointer = "chains/once.example.pem has no '# captured:' date: refresh or date it"
    for cmd in (["check"], ["build", "--dry-run", "--no-lock"]):
        r = runner.invoke(cli, cmd)
        assert r.exit_code == 1, r.output
        said = " ".join(r.output.split())
        assert said.count(advice) == 1 and pointer in said, said


def test_no_undated_note_for_a_device_that_does_not_check_dates(
    in_tmp: Path, runner: CliRunner
) -> None:
    """mbedtls-noclock passes R11 past its expiry: no "judged by its dates; refresh it"
    note (it said so beside PASS), while mbedtls-clock keeps it."""
    examples = Path(__file__).resolve().parents[1] / "examples" / "chains"
    (in_tmp / "short.pem").write_bytes((examples / "letsencrypt-2024-short.pem").read_bytes())
    r = runner.invoke(cli, ["build", "--root", "isrg-root-x1", "--no-lock", "-o", "ca.pem"])
    assert r.exit_code == 0, r.output
    args = ["check", "--bundle", "ca.pem", "--chain", "short.pem", "--until", "2034-12-31"]
    r = runner.invoke(cli, [*args, "--device", "mbedtls-noclock"])
    assert r.exit_code == 0, r.output
    said = " ".join(r.output.split())
    assert "PASS" in said and "judged by" not in said and "within the horizon" not in said
    r = runner.invoke(cli, [*args, "--device", "mbedtls-noclock", "--json"])
    (res,) = json.loads(r.stdout)["results"]
    assert r.exit_code == 0 and res["undated_note"] is None, res
    r = runner.invoke(cli, [*args, "--device", "mbedtls-clock", "--json"])
    (res,) = json.loads(r.stdout)["results"]
    assert r.exit_code == 1 and "judged by its dates" in res["undated_note"], res
