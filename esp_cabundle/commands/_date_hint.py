"""A date option's bad value (``check --until 2030-13-01``, ``push --until notadate``),
said in the tool's words: click printed its usage banner and "Invalid value", with no
hint of the forms taken and no line to copy."""

from __future__ import annotations

from datetime import timedelta

import click

from ..dates import likely_date, now
from ..errors import InputError
from ._usage import example_line, line_with_value

__all__ = ["bad_date"]

FORMS = "a date is YYYY-MM-DD, an ISO date-time (2030-12-01T12:00:00Z), now or today"
# An end (push --until) refuses "now" as already past: its hint does not offer it.
END_FORMS = "a date is YYYY-MM-DD, an ISO date-time (2030-12-01T12:00:00Z) or today"


def bad_date(
    error: InputError,
    value: str,
    param: click.Parameter,
    ctx: click.Context,
    *,
    now_said: bool = True,
) -> InputError:
    """``error`` (parse_when's) with a hint: the forms taken (``now_said=False``: not
    ``now``), and the command line as typed with ``param`` given a date that parses: the
    nearest real one for a day not in the calendar, else a year from today (a deadline
    or an end of service is ahead)."""
    example = likely_date(value.strip()) or (now() + timedelta(days=365)).date().isoformat()
    words = line_with_value(ctx, param, example)
    return InputError(
        error.message, hint=f"{FORMS if now_said else END_FORMS}: {example_line(words)}"
    )
