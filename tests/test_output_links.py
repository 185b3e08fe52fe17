"""Outputs through a symlink that leads nowhere: written through like ``cp`` when the
target's directory exists (with the output's own mode), refused when it does not, as
its missing directories were never asked for."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from click.testing import CliRunner

from esp_cabundle.cli import cli
from esp_cabundle.errors import InputError
from esp_cabundle.fileio import write_all_atomic


def _tree(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


def test_a_link_whose_target_directory_is_missing_is_refused(
    in_tmp: Path, runner: CliRunner
) -> None:
    link = in_tmp / "dangling"
    link.symlink_to(in_tmp / "nowhere" / "sub" / "x")
    (in_tmp / "ca.pem").write_bytes(b"old\n")
    before = _tree(in_tmp)
    r = runner.invoke(cli, ["build", "--preset", "letsencrypt", "--no-lock", "-o", "dangling"])
    assert r.exit_code == 2, r.output
    assert (
        f"dangling: is a symbolic link to '{in_tmp}/nowhere/sub/x', whose directory "
        f"{in_tmp}/nowhere/sub does not exist; nothing written" in r.stderr
    )
    assert f"hint: create the directory first (mkdir -p {in_tmp}/nowhere/sub)" in r.stderr
    assert "or replace the link" in r.stderr
    # nothing changed: no directory made, the link and the other output as they were
    assert _tree(in_tmp) == before and not (in_tmp / "nowhere").exists()
    assert os.readlink(link) == f"{in_tmp}/nowhere/sub/x"
    assert (in_tmp / "ca.pem").read_bytes() == b"old\n"
    # with other outputs: refused before any is written
    with pytest.raises(InputError, match=r"whose directory .* does not exist"):
        write_all_atomic([(in_tmp / "ca.pem", b"new\n"), (link, b"new\n")])
    assert _tree(in_tmp) == before and (in_tmp / "ca.pem").read_bytes() == b"old\n"


def test_a_link_to_a_missing_file_in_an_existing_directory_is_written_through(
    in_tmp: Path, runner: CliRunner
) -> None:
    """As ``cp`` does: the target is made, the link stays; a CA is public (0644)."""
    (in_tmp / "real").mkdir()
    link = in_tmp / "ca.pem"
    link.symlink_to("real/ca.pem")
    r = runner.invoke(cli, ["build", "--preset", "letsencrypt", "--no-lock", "-o", "ca.pem"])
    assert r.exit_code == 0, r.output
    target = in_tmp / "real" / "ca.pem"
    assert link.is_symlink() and target.read_bytes().startswith(b"# ISRG Root X1")
    assert stat.S_IMODE(target.stat().st_mode) == 0o644
    r = runner.invoke(cli, ["build", "--preset", "letsencrypt", "--no-lock", "-o", "ca.pem"])
    assert r.exit_code == 0 and "nchanged" in r.output, r.output


def test_a_dry_run_refuses_the_link_a_real_run_refuses(in_tmp: Path, runner: CliRunner) -> None:
    """``build --dry-run`` said it would write through a link into a missing directory,
    which the real run refuses: it now refuses alike, and still writes nothing."""
    link = in_tmp / "dangling"
    link.symlink_to(in_tmp / "nowhere" / "x")
    before = _tree(in_tmp)
    args = ["build", "--preset", "letsencrypt", "--no-lock", "--dry-run", "-o", "dangling"]
    r = runner.invoke(cli, args)
    assert r.exit_code == 2, r.output
    assert "dangling: is a symbolic link to " in r.stderr and "would write" not in r.output
    assert _tree(in_tmp) == before and not (in_tmp / "nowhere").exists()
