"""Dates as users type them and as certificates carry them (always UTC)."""

from __future__ import annotations

from datetime import date, datetime, time, timezone

from .errors import InputError

__all__ = ["as_datetime", "now", "parse_when"]


def now() -> datetime:
    return datetime.now(timezone.utc)


def as_datetime(value: date | datetime) -> datetime:
    """A date means the start of that day, UTC; naive datetimes are UTC."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
    return datetime.combine(value, time(0, 0), tzinfo=timezone.utc)


def parse_when(text: str, *, what: str = "date") -> datetime:
    """``2032-09-02``, ``2032-09-02T12:00:00``, ``now`` or ``today`` -> aware UTC datetime."""
    t = text.strip()
    if t.lower() in ("now", "today"):
        return now()
    try:
        if len(t) == 10:
            return as_datetime(date.fromisoformat(t))
        return as_datetime(datetime.fromisoformat(t.replace("Z", "+00:00")))
    except ValueError as e:
        raise InputError(
            f"bad {what} '{text}': expected YYYY-MM-DD (or an ISO date-time, or 'now')"
        ) from e
