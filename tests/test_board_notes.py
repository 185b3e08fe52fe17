"""What board and firmware files tell users to run names options that exist: a note
saying ``--clock synced`` when no command has ``--clock`` sends users nowhere."""

from __future__ import annotations

import re
from pathlib import Path

import click

import esp_cabundle
from esp_cabundle.cli import cli
from esp_cabundle.verify import parse_device_profile

DATA = Path(esp_cabundle.__file__).parent / "data"
FILES = sorted([*DATA.glob("boards/*.yaml"), *DATA.glob("firmware/*.yaml")])


def every_option() -> set[str]:
    names: set[str] = set()

    ctx = click.Context(cli)

    def walk(cmd: click.Command | None) -> None:
        assert cmd is not None
        for p in cmd.params:
            names.update(o for o in [*p.opts, *p.secondary_opts] if o.startswith("--"))
        if isinstance(cmd, click.Group):  # commands load lazily: ask for each by name
            for name in cmd.list_commands(ctx):
                walk(cmd.get_command(ctx, name))

    walk(cli)
    return names


def test_every_option_named_in_board_files_exists() -> None:
    assert FILES
    options = every_option()
    named = {
        (f.name, m)
        for f in FILES
        for m in re.findall(r"(?<![\w-])--[a-z][a-z0-9-]*", f.read_text())
    }
    assert named  # the notes do name options: the check below is not vacuous
    missing = sorted((f, o) for f, o in named if o not in options)
    assert not missing, missing


def test_every_device_named_in_board_files_parses() -> None:
    for f in FILES:
        for value in re.findall(r"--device ([\w@.+:-]+)", f.read_text()):
            parse_device_profile(value)
        for value in re.findall(r"\((\w+-clock) for", f.read_text()):
            parse_device_profile(value)
