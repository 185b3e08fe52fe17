"""Examples in ``--help`` are commands users paste: the ones that can run offline here
run as printed."""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest
from click.testing import CliRunner

from esp_cabundle.cli import cli
from tests.support import dumps


def help_examples(runner: CliRunner, command: str) -> list[list[str]]:
    text = runner.invoke(cli, [command, "--help"]).stdout
    joined = text.replace("\\\n", " ")
    return [
        shlex.split(line.strip())[1:]
        for line in joined.splitlines()
        if line.strip().startswith(f"esp-cabundle {command} ")
    ]


def test_update_dump_first_example_runs_without_a_config(runner: CliRunner, in_tmp: Path) -> None:
    (in_tmp / "dump.bin").write_bytes(dumps.arduino_dump())
    first = help_examples(runner, "update-dump")[0]
    assert "mdash-arduino" in first
    r = runner.invoke(cli, [*first, "--at", "2026-11-27"])
    assert r.exit_code == 0, r.output
    assert (in_tmp / "new.bin").is_file()


@pytest.mark.parametrize("group", ["fs", "chains", "journal", "push"])
def test_group_help_lists_each_command_whole(runner: CliRunner, group: str) -> None:
    """A group's list of commands says what each does in full, never cut off with '...'
    ('put  Write SOURCE into the image as DEST (default: /<SOURCE's name>),...')."""
    text = runner.invoke(cli, [group, "--help"], terminal_width=80).stdout
    listing = text.split("Commands:\n", 1)[1]
    assert listing.strip() and "..." not in listing, listing


@pytest.mark.parametrize(
    "command",
    [
        ["roots"],
        ["boards"],
        ["inspect"],
        ["init"],
        ["fs"],
        ["fs", "ls"],
        ["fs", "cat"],
        ["fs", "put"],
        ["fs", "rm"],
        ["chains"],
        ["chains", "pull"],
        ["chains", "show"],
        ["journal"],
        ["journal", "list"],
        ["journal", "prune"],
        ["build"],
        ["check"],
        ["pack"],
        ["flash"],
        ["restore"],
        ["read"],
        ["update-dump"],
        ["virtual-unit"],
        ["push"],
        ["push", "status"],
    ],
)
def test_help_fits_80_columns(runner: CliRunner, command: list[str]) -> None:
    """Examples are kept as written (click does not wrap them): a long one runs on with
    a backslash, so an 80-column terminal shows no example broken mid-word."""
    text = runner.invoke(cli, [*command, "--help"], terminal_width=80).stdout
    wide = [line for line in text.splitlines() if len(line) > 80]
    assert not wide, wide
