"""The CLI's commands by their path (``"fs put"``), for the census tests that walk
every command (missing options, bad values)."""

from __future__ import annotations

import click

from esp_cabundle.cli import cli


def command_at(path: str) -> click.Command:
    """The command ``path`` names, through its groups."""
    cmd: click.Command = cli
    for word in path.split():
        assert isinstance(cmd, click.Group)
        sub = cmd.get_command(click.Context(cmd), word)
        assert sub is not None, path
        cmd = sub
    return cmd
