"""Examples in ``--help`` are commands users paste: the ones that can run offline here
run as printed."""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest
from click.testing import CliRunner

from esp_cabundle.cli import cli
from tests.support import dumps
from tests.support.doc_commands import freeze_clock


def help_examples(runner: CliRunner, command: str) -> list[list[str]]:
    """The examples of ``command`` ("fs ls" for a subcommand), as argument lists: a
    trailing ``# comment`` is dropped, a ``> FILE`` redirection kept as two words."""
    text = runner.invoke(cli, [*command.split(), "--help"]).stdout
    joined = text.replace("\\\n", " ")
    return [
        shlex.split(line.strip(), comments=True)[1:]
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


def test_pack_and_fs_examples_run_in_order_in_one_directory(
    runner: CliRunner, in_tmp: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A new user pastes pack's examples, then fs's, in one directory: each image an fs
    example opens is one a pack example wrote, with the file system, profile and
    platform it was made for (fs put's --platform arduino-2.0.5 on a 2.1 image made for
    arduino-2.0.17 is refused), and each dump is the board's its offsets are for. The
    directory holds what a user brings: a CA, files to pack, two boards' dumps."""
    freeze_clock(monkeypatch)
    made = runner.invoke(cli, ["build", "--preset", "letsencrypt", "-o", "ca.pem", "-q"])
    assert made.exit_code == 0, made.output
    for name in ("new-ca.pem", "build/ca.pem", "fs/old.pem", "fs/old-ca.pem", "data/x"):
        (in_tmp / name).parent.mkdir(exist_ok=True)
        (in_tmp / name).write_bytes((in_tmp / "ca.pem").read_bytes())
    (in_tmp / "arduino-dump.bin").write_bytes(dumps.arduino_dump())
    (in_tmp / "mos-dump.bin").write_bytes(dumps.mongoose_dump())
    for name in ("/a.pem", "/b.pem"):  # the unit's files fs rm's example removes
        put = ["fs", "put", "mos-dump.bin", "new-ca.pem", name, "--offset", "0x190000"]
        assert runner.invoke(cli, put).exit_code == 0
    ran = []
    for command in ("pack", "fs", "fs ls", "fs cat", "fs put", "fs rm"):
        for example in help_examples(runner, command):
            words = example
            to = words.index(">") if ">" in words else None
            r = runner.invoke(cli, words[:to])
            assert r.exit_code == 0, (shlex.join(words), r.output)
            if to is not None:
                (in_tmp / words[to + 1]).write_bytes(r.stdout_bytes)
            ran.append(words)
    assert len(ran) >= 17 and {w[0] for w in ran} == {"pack", "fs"}, ran


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
