"""``--allow a,b`` and ``allow: a,b``: the gate's hint joins the policies it names with
commas ("relax a rule with --allow expires-before-service-end,not-ca"), so the value it
writes must be one the CLI and the config take; the repeated form still works."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import click
import pytest
from click.testing import CliRunner
from support.verify_pki import mint

from esp_cabundle.cli import cli

BOTH = "expires-before-service-end,not-ca"


@pytest.fixture
def leaf(in_tmp: Path) -> Path:
    """A root that breaks two policies: no CA, and ending before the service end."""
    end = datetime(2030, 1, 1, tzinfo=timezone.utc)
    (in_tmp / "leaf.pem").write_bytes(mint("Leaf Root", ca=False, not_after=end).pem)
    return in_tmp


BASE = ["build", "--root", "leaf.pem", "--service-until", "2031-01-01", "--no-lock"]
BASE += ["-o", "ca.pem", "--at", "2026-06-01"]


def test_the_gates_hint_is_a_value_the_cli_takes(leaf: Path) -> None:
    r = CliRunner().invoke(cli, BASE)
    assert r.exit_code == 1, r.output
    assert f"relax a rule with --allow {BOTH}" in r.stderr
    assert not (leaf / "ca.pem").exists()
    r = CliRunner().invoke(cli, [*BASE, "--allow", BOTH])
    assert r.exit_code == 0, r.output
    assert (leaf / "ca.pem").exists()


def test_repeated_and_spaced_forms_are_the_same(leaf: Path) -> None:
    for more in (
        ["--allow", "not-ca", "--allow", "expires-before-service-end"],
        ["--allow", "not-ca, expires-before-service-end"],
        ["--allow=not-ca,expires-before-service-end"],
    ):
        r = CliRunner().invoke(cli, [*BASE, *more])
        assert r.exit_code == 0, (more, r.output)


def test_a_bad_name_in_the_list_is_named_with_the_list_mended(leaf: Path) -> None:
    r = CliRunner().invoke(cli, [*BASE, "--allow", "not-ca,expires-before-end"])
    assert r.exit_code == 2, r.output
    first = r.stderr.splitlines()[0]
    assert "bad --allow: 'expires-before-end' (in 'not-ca,expires-before-end') is not" in first
    assert "several separated by commas" in r.stderr
    assert r.stderr.rstrip().endswith("--allow not-ca,expires-before-service-end")
    assert not (leaf / "ca.pem").exists()


def test_push_takes_its_own_value_in_the_list() -> None:
    """push's extra value (unjudged) is one of the names a list may hold."""
    push = cli.get_command(click.Context(cli), "push")
    assert push is not None
    allow = next(p for p in push.params if p.name == "allow")
    assert allow.type.convert("unjudged,not-ca", allow, None) == ("unjudged", "not-ca")


def test_the_config_takes_the_list_and_names_a_bad_name_at_its_line(leaf: Path) -> None:
    cfg = leaf / "cabundle.yaml"
    argv = ["build", "--service-until", "2031-01-01", "--no-lock", "--at", "2026-06-01"]
    for allow in (
        f"allow: {BOTH}",
        f"allow: [{BOTH}]",
        "allow: [not-ca, expires-before-service-end]",
    ):
        cfg.write_text(f"roots: [leaf.pem]\n{allow}\noutputs: [{{format: pem, path: ca.pem}}]\n")
        r = CliRunner().invoke(cli, argv)
        assert r.exit_code == 0, (allow, r.output)
        (leaf / "ca.pem").unlink()
    cfg.write_text("roots: [leaf.pem]\nallow: not-ca,expird\n")
    r = CliRunner().invoke(cli, argv)
    assert r.exit_code == 2, r.output
    assert "cabundle.yaml:2" in r.stderr
    assert "allow: 'expird' (in 'not-ca,expird') is not one of" in r.stderr
    assert "did you mean 'expired'?" in r.stderr
    assert not (leaf / "ca.pem").exists()
