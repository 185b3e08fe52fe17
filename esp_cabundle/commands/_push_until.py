"""``push --until``: a date means through the end of that day (UTC), and a refusal
says the value as it was typed, not as parsed (2026-01-01, not 2026-01-02T00:00:00)."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any

import click

from ..dates import clamped
from .options import Date

_DATE_ONLY = re.compile(r"^\s*(\d{4}-\d{2}-\d{2}|today)\s*$", re.I)
_RAW = "esp_cabundle.push.typed"  # ctx.meta: option name -> the text typed


class Until(Date):
    """``--until``: a date means through the end of that day (UTC); a date-time is
    taken as given."""

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        when = super().convert(value, param, ctx)
        if isinstance(value, str) and ctx is not None and param is not None and param.name:
            ctx.meta.setdefault(_RAW, {})[param.name] = value.strip()  # for the messages
        if isinstance(value, str) and _DATE_ONLY.match(value):
            day = when.replace(hour=0, minute=0, second=0, microsecond=0)
            when = clamped(day, timedelta(days=1))  # 9999-12-31: to the calendar's end
        return when


def as_typed(ctx: click.Context, name: str) -> str:
    """An option's value as the user wrote it (the last one given, click keeps it);
    the parsed date said "2026-01-02T00:00:00+00:00" for a typed 2026-01-01."""
    raw = _raw(ctx, name)
    if raw is not None:
        return raw
    value = ctx.params[name]
    return value.isoformat(timespec="seconds") if isinstance(value, datetime) else str(value)


def day_end(ctx: click.Context, name: str) -> str:
    """What a typed date meant: a bare "2026-01-01 is already past" reads as wrong on
    2026-01-01 itself."""
    raw = _raw(ctx, name)
    return " (through the end of that day, UTC)" if raw and _DATE_ONLY.match(raw) else ""


def _raw(ctx: click.Context, name: str) -> str | None:
    raw = ctx.meta.get(_RAW, {}).get(name)
    return raw if isinstance(raw, str) else None
