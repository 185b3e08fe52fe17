"""A value an option's type refuses (``pack --size 12X``, ``flash --before x``) is said
in the tool's words (cli.py, commands/_bad_value.py): which option and the type's
reason, no usage banner, a hint with the form taken and, where the type offers a value,
the line as typed with it in place; exit 2, and under --json one InputError document."""

from __future__ import annotations

import json
import shlex
from collections.abc import Iterator
from pathlib import Path

import click
import pytest
from support.cli_commands import command_at

from esp_cabundle.cli import COMMANDS, cli, run
from esp_cabundle.commands._missing import EXAMPLES
from esp_cabundle.errors import EspCabundleError

# Values some type refuses: each option below is fed the first its own type refuses.
BAD = ["", "12X", "zz", "-999999999", "9.9", "no-such-choice", "2030-13-01"]


def _options(cmd: click.Command, path: str) -> Iterator[tuple[str, click.Option]]:
    """Every option of ``cmd`` and its subcommands whose type is the project's own,
    a Choice or a number range: the types whose refusals cli.py converts."""
    for p in cmd.params:
        kind = type(p.type)
        ours = kind.__module__.startswith("esp_cabundle.") and not issubclass(kind, click.Path)
        if (
            isinstance(p, click.Option)
            and not p.is_flag
            and (ours or isinstance(p.type, (click.Choice, click.IntRange, click.FloatRange)))
        ):
            yield path, p
    if isinstance(cmd, click.Group):
        for name, sub in cmd.commands.items():
            yield from _options(sub, f"{path} {name}")


def _census() -> list[tuple[str, click.Option]]:
    ctx = click.Context(cli)
    return [o for name in COMMANDS if (c := cli.get_command(ctx, name)) for o in _options(c, name)]


def _refused(option: click.Option) -> str:
    ctx = click.Context(click.Command("x"))
    for value in BAD:
        try:
            option.type.convert(value, option, ctx)
        except (click.BadParameter, EspCabundleError):
            return value
    raise AssertionError(f"no value in BAD is refused by {option.opts}: add one")


CENSUS = _census()


@pytest.mark.parametrize(
    ("path", "option"), CENSUS, ids=[f"{p} {max(o.opts, key=len)}" for p, o in CENSUS]
)
def test_every_typed_option_refuses_a_bad_value_in_the_tools_words(
    path: str, option: click.Option, in_tmp: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    flag = max(option.opts, key=len)
    bad = _refused(option)
    # the command's complete example first, so a required option is not what is missing
    line = [*path.split(), *shlex.split(EXAMPLES.get(path, "")), flag, bad]
    assert run(line) == 2
    err = capsys.readouterr().err
    assert "Usage:" not in err and "Invalid value" not in err, err
    assert err.startswith(f"Error: bad {flag}"), err
    assert "\n  hint: " in err, err
    if not any("--json" in p.opts for p in command_at(path).params):
        return
    assert run([*line, "--json"]) == 2
    out, err = capsys.readouterr()
    doc = json.loads(out)
    assert (doc["kind"], doc["error"].startswith(f"bad {flag}")) == ("InputError", True)
    assert err == ""


def test_the_census_covers_the_custom_types() -> None:
    kinds = {type(o.type).__name__ for _, o in CENSUS}
    assert {"Size", "Whole", "Seconds", "Mac", "Name", "Age", "DiskVersion", "Choice"} <= kinds
    assert len(CENSUS) >= 30


@pytest.mark.parametrize(
    ("line", "said", "hint"),
    [
        (["pack", "--size", "12X", "-o", "x.bin"], "bad --size: '12X' is not a size: 'X'",
         "--size takes a size: bytes, 0x hex or K/M; e.g. esp-cabundle pack --size 1408K"
         " -o x.bin"),
        (["fs", "ls", "--offset", "zz", "fs.bin"], "bad --offset: 'zz' is not an offset",
         "e.g. esp-cabundle fs ls --offset 0x290000 fs.bin"),
        # a number out of range: the bound nearest it
        (["push", "--concurrency=999", "--mqtt", "mqtt://127.0.0.1:9"],
         "bad --concurrency: 999 is not in the range 1<=x<=256",
         "--concurrency takes a number of units at a time from 1 to 256; e.g. esp-cabundle"
         " push --concurrency 256 --mqtt mqtt://127.0.0.1:9"),
        # a choice mistyped: the nearest
        (["inspect", "--fail-on", "expird", "ca.pem"], "'expird' is not one of",
         "takes one of expired, not-ca or unparseable; e.g. esp-cabundle inspect"
         " --fail-on expired ca.pem"),
        (["journal", "prune", "--older-than", "3q"], "bad --older-than: '3q' is not an age",
         "e.g. esp-cabundle journal prune --older-than 30d"),
        # an empty name: the value the command's help shows
        (["read", "-p", "", "--all", "-o", "x.bin"], "bad --port: an empty value names no port",
         "e.g. esp-cabundle read --port /dev/ttyUSB0 --all -o x.bin"),
    ],
)  # fmt: skip
def test_the_hint_gives_the_form_and_the_line_with_a_value_taken(
    line: list[str], said: str, hint: str, in_tmp: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(line) == 2
    err = capsys.readouterr().err
    assert said in err.splitlines()[0], err
    assert hint in err, err
