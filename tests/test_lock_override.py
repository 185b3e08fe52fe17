"""A one-off build in a project (``build --preset letsencrypt -o /tmp/x.pem``) rewrote
./cabundle.lock with roots the config does not name, and the next ``build --locked``
failed in CI: flags that change the config's selection leave the lock as it is, saying
so; ``--lock`` writes it anyway, ``--no-lock`` never does."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from esp_cabundle.cli import cli


@pytest.fixture
def project(in_tmp: Path) -> Path:
    (in_tmp / "cabundle.yaml").write_text(
        "preset: default\noutputs: [{format: pem, path: ca.pem}]\n"
    )
    r = CliRunner().invoke(cli, ["build", "-q"])
    assert r.exit_code == 0, r.output
    return in_tmp


@pytest.mark.parametrize(
    ("flags", "said"),
    [
        (["--preset", "letsencrypt"], "--preset changes"),
        (["--root", "amazon-root-ca-2"], "--root changes"),
        (["--exclude", "isrg-root-x2"], "--exclude changes"),
        (["--preset", "letsencrypt", "--root", "amazon-root-ca-2"], "--preset and --root change"),
    ],
)
def test_flags_changing_the_selection_leave_the_lock(
    project: Path, flags: list[str], said: str
) -> None:
    kept = (project / "cabundle.lock").read_bytes()
    r = CliRunner().invoke(cli, ["build", *flags, "-o", "one-off.pem"])
    assert r.exit_code == 0, r.output
    assert (project / "one-off.pem").exists()
    assert (project / "cabundle.lock").read_bytes() == kept
    line = f"note: cabundle.lock left as it is: {said} the selection cabundle.yaml describes"
    assert line in " ".join(r.stderr.split()), r.stderr
    r = CliRunner().invoke(cli, ["build", "--locked", "-q"])
    assert r.exit_code == 0, r.output


def test_lock_writes_it_and_json_says_why_not(project: Path) -> None:
    kept = (project / "cabundle.lock").read_bytes()
    r = CliRunner().invoke(cli, ["build", "--preset", "letsencrypt", "-o", "x.pem", "--json"])
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    assert doc["lock"] is None
    assert any("cabundle.lock left as it is" in n for n in doc["notes"])
    r = CliRunner().invoke(cli, ["build", "--preset", "letsencrypt", "-o", "x.pem", "--lock"])
    assert r.exit_code == 0, r.output
    assert "left as it is" not in r.stderr
    assert (project / "cabundle.lock").read_bytes() != kept


def test_flags_that_keep_the_selection_still_write_the_lock(project: Path) -> None:
    """-f, -o and the policies change no root: the lock is the config's, written."""
    (project / "cabundle.lock").unlink()
    r = CliRunner().invoke(cli, ["build", "-o", "other.pem", "--max-bytes", "64K"])
    assert r.exit_code == 0, r.output
    assert "left as it is" not in r.stderr
    assert (project / "cabundle.lock").exists()


def test_without_a_config_the_flags_make_the_lock(in_tmp: Path) -> None:
    r = CliRunner().invoke(cli, ["build", "--preset", "letsencrypt", "-q"])
    assert r.exit_code == 0, r.output
    assert (in_tmp / "cabundle.lock").exists()
