"""Options shared by several commands."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

import click

F = TypeVar("F", bound=Callable[..., Any])


def json_option(f: F) -> F:
    return click.option("--json", "as_json", is_flag=True, help="Print a JSON report on stdout.")(f)


def quiet_option(f: F) -> F:
    return click.option("-q", "--quiet", is_flag=True, help="Print nothing but errors.")(f)


def at_option(f: F) -> F:
    return click.option(
        "--at",
        "at",
        metavar="DATE",
        help="Judge as of this date (YYYY-MM-DD) instead of today.",
    )(f)


def parse_at(value: str | None) -> datetime:
    from ..dates import now, parse_when

    return parse_when(value, what="--at date") if value else now()


class _OutputPath(click.Path):
    """A file to write: never empty (``-o ''`` names no file), ``-`` only where the
    command can write to standard output."""

    def __init__(self, *, allow_dash: bool) -> None:
        super().__init__(dir_okay=False, path_type=Path, allow_dash=allow_dash)

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, str):
            if not value.strip():
                self.fail("an empty path names no file", param, ctx)
            if value == "-" and not self.allow_dash:
                self.fail("'-' (standard output) is not supported here; name a file", param, ctx)
        return super().convert(value, param, ctx)


def output_path(*, allow_dash: bool = False) -> click.Path:
    """The type of every ``-o``/``--output`` option (and other files a command writes)."""
    return _OutputPath(allow_dash=allow_dash)
