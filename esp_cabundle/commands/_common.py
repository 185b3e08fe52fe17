"""Options shared by several commands."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
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
