"""A file name the OS refuses for its length (a part over NAME_MAX, 255 bytes on Linux,
is ENAMETOOLONG) is exit 2 with a message, never an OSError traceback: before Python
3.12 ``Path.is_file``, ``exists`` and ``is_dir`` raise on it where ``os.path``'s say
False, and a look before reading (is it a root file? is there a config beside it?) met
it first. Found by a local campaign giving every command's options such a name."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from esp_cabundle.cli import cli

LONG = "a" * 300


@pytest.mark.parametrize(
    "args",
    [
        ["build", "--root", LONG],
        ["build", "--root", "isrg-root-x1", "--target", f"{LONG}/x.pem"],
        ["inspect", LONG],
        ["init", "-o", LONG],
        ["push", "status", "--ledger", LONG],
    ],
    ids=lambda a: " ".join(x[:12] for x in a),
)
def test_an_over_long_name_is_exit_2(in_tmp: Path, runner: CliRunner, args: list[str]) -> None:
    r = runner.invoke(cli, args)
    assert r.exception is None or isinstance(r.exception, SystemExit), r.exception
    assert r.exit_code == 2, r.output
    assert "Error: " in r.stderr and "Traceback" not in r.output
    assert list(in_tmp.iterdir()) == []


def test_an_over_long_root_file_in_a_config(in_tmp: Path, runner: CliRunner) -> None:
    (in_tmp / "cabundle.yaml").write_text(f"roots: [isrg-root-x1, {LONG}/x.pem]\n")
    r = runner.invoke(cli, ["build", "-c", "cabundle.yaml"])
    assert r.exception is None or isinstance(r.exception, SystemExit), r.exception
    assert r.exit_code == 2, r.output
    assert "roots[1]" in r.stderr


@pytest.mark.parametrize(
    "args",
    [
        ["build", "--root", "isrg-root-x1", "-o", f"{LONG}.pem"],
        ["build", "--root", "isrg-root-x1", "-o", f"{LONG}/ca.pem"],
        ["pack", "--fs", "littlefs", "--platform", "arduino-2.0.17", "--size", "64K",
         "--root", "isrg-root-x1", "-o", f"{LONG}.bin"],
    ],
    ids=["build-file", "build-dir", "pack"],
)  # fmt: skip
def test_an_over_long_output_name_is_refused_before_the_work(
    in_tmp: Path, runner: CliRunner, args: list[str]
) -> None:
    # It was exit 3 ("cannot write (File name too long)") once the build was done.
    r = runner.invoke(cli, args)
    assert r.exit_code == 2, r.output
    assert "longer than the 255 the OS allows" in r.stderr, r.stderr
    assert "nothing was read or written" in r.stderr
    assert list(in_tmp.iterdir()) == []


@pytest.mark.parametrize(
    ("key", "text"),
    [
        ("roots[1]", f"roots: [isrg-root-x1, {LONG}.pem]\n"),
        ("exclude[0]", f"roots: [isrg-root-x1]\nexclude: [{LONG}.pem]\n"),
    ],
)
def test_an_over_long_root_file_name_says_so(
    in_tmp: Path, runner: CliRunner, key: str, text: str
) -> None:
    # It said "no such root file", as for a name a file could have but none has.
    (in_tmp / "cabundle.yaml").write_text(text)
    r = runner.invoke(cli, ["build", "-c", "cabundle.yaml"])
    assert r.exit_code == 2, r.output
    assert f"{key}: root file" in r.stderr, r.stderr
    assert "cannot exist: a part of the name is 304 bytes" in r.stderr
    assert "no such root file" not in r.stderr
