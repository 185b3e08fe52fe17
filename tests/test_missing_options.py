"""A required option or argument left out is said in the tool's words (exit 2, no
usage banner): which one, and a hint that is the command as typed with what is missing
added, an example value from the command's own help. Under --json the document says the
same. Nothing is written."""

from __future__ import annotations

import json
from pathlib import Path

import click
import pytest

from esp_cabundle.cli import COMMANDS, cli, run
from esp_cabundle.commands._missing import EXAMPLES, example_value
from esp_cabundle.commands.options import Needed

# (command line, the error, the hint) for every command with a required option or argument
CASES = [
    (
        ["pack", "--fs", "spiffs", "--bundle", "x.pem"],
        "-o/--output is required",
        "e.g. esp-cabundle pack --fs spiffs --bundle x.pem -o fs.bin",
    ),
    (
        ["flash"],
        "-p/--port is required",
        "e.g. esp-cabundle flash -p /dev/ttyUSB0 --board mdash-arduino",
    ),
    (
        ["flash", "-p", "/dev/ttyUSB1"],
        "--board is required: it says where the CA file lives (flash takes no board: from",
        "e.g. esp-cabundle flash -p /dev/ttyUSB1 --board mdash-arduino",
    ),
    (["read"], "-p/--port is required", "e.g. esp-cabundle read -p /dev/ttyUSB0 -o dump.bin"),
    (
        ["read", "--port", "u"],
        "-o/--output is required",
        "e.g. esp-cabundle read --port u -o dump.bin",
    ),
    (["restore"], "-p/--port is required", "e.g. esp-cabundle restore -p /dev/ttyUSB0"),
    (
        ["update-dump"],
        "the DUMP argument is required (esp-cabundle update-dump [OPTIONS] DUMP)",
        "e.g. esp-cabundle update-dump --board mdash-arduino -o new.bin dump.bin",
    ),
    (
        ["update-dump", "my dump.bin", "--board", "mdash"],
        "-o/--output is required",
        "e.g. esp-cabundle update-dump 'my dump.bin' --board mdash -o new.bin",
    ),
    (["fs", "ls"], "the IMAGE argument is required", "e.g. esp-cabundle fs ls fs.bin"),
    (
        ["fs", "cat", "a.bin"],
        "the PATH argument is required",
        "e.g. esp-cabundle fs cat a.bin /ca.pem",
    ),
    (
        ["fs", "put"],
        "the IMAGE argument is required (esp-cabundle fs put [OPTIONS] IMAGE SOURCE [DEST])",
        "e.g. esp-cabundle fs put fs.bin ca.pem",
    ),
    (
        ["fs", "put", "a.bin"],
        "the SOURCE argument is required",
        "e.g. esp-cabundle fs put a.bin ca.pem",
    ),
    (
        ["fs", "rm", "a.bin"],
        "the PATHS argument is required",
        "e.g. esp-cabundle fs rm a.bin /old-ca.pem",
    ),
    (
        ["journal", "prune", "--dry-run"],
        "--older-than is required",
        "e.g. esp-cabundle journal prune --dry-run --older-than 30d",
    ),
    (
        ["journal", "prune", "--dry-run", "--", "x"],
        "--older-than is required",
        "e.g. esp-cabundle journal prune --dry-run --older-than 30d -- x",
    ),
]


@pytest.mark.parametrize(("argv", "error", "hint"), CASES, ids=lambda c: " ".join(c)[:40])
def test_a_missing_option_is_named_with_an_example(
    argv: list[str], error: str, hint: str, in_tmp: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(argv) == 2
    err = capsys.readouterr().err
    assert f"Error: {error}" in err and f"  hint: {hint}\n" in err, err
    assert "Usage:" not in err and "Missing option" not in err
    assert list(in_tmp.iterdir()) == []


@pytest.mark.parametrize(("argv", "error", "hint"), CASES[:3], ids=lambda c: " ".join(c)[:40])
def test_json_says_the_same(
    argv: list[str], error: str, hint: str, in_tmp: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run([*argv, "--json"]) == 2
    doc = json.loads(capsys.readouterr().out)
    assert doc["ok"] is False and doc["exit_code"] == 2 and error in doc["error"]
    typed = f"e.g. esp-cabundle {' '.join(argv)}"
    assert doc["hint"] == f"{typed} --json{hint.removeprefix(typed)}"


def _required(cmd: click.Command, path: str) -> list[tuple[str, click.Parameter]]:
    found = [(path, p) for p in cmd.params if p.required or isinstance(p, Needed)]
    if isinstance(cmd, click.Group):
        for name, sub in cmd.commands.items():
            found += _required(sub, f"{path} {name}")
    return found


def test_every_required_value_has_an_example_from_its_help() -> None:
    ctx = click.Context(cli)
    required = [
        r for name in COMMANDS if (c := cli.get_command(ctx, name)) for r in _required(c, name)
    ]
    assert len(required) >= 15 and EXAMPLES
    for path, param in required:
        # In the table: its metavar (the fallback) is in --help whatever it says.
        listed = EXAMPLES.get(f"{path} {param.name}", EXAMPLES.get(param.name or ""))
        assert listed is not None, (path, param.name)
        value = example_value(path, param)
        cmd = cli
        for word in path.split():
            assert isinstance(cmd, click.Group)
            sub = cmd.get_command(ctx, word)
            assert sub is not None
            cmd = sub
        shown = cmd.get_help(click.Context(cmd, info_name=path.split()[-1]))
        assert value in shown, (path, param.name, value)
