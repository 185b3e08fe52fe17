"""Dates as users type them and as certificates carry them (always UTC).

A certificate may say it never expires (RFC 5280 4.1.2.5: ``99991231235959Z``) and a
user may give 9999-12-31 as the end of service: date arithmetic that steps past it
(the instant after an expiry, the next day, a year later) goes through :func:`shifted`
or :func:`clamped`, never a bare ``+``, so the calendar's end is an answer, not an
OverflowError.
"""

from __future__ import annotations

import calendar
from datetime import date, datetime, time, timedelta, timezone

from ._patterns import lazy_re
from .errors import ArgumentTypeError, InputError

__all__ = [
    "FIRST",
    "LAST",
    "add_years",
    "as_datetime",
    "as_utc",
    "clamped",
    "likely_date",
    "nearest_date",
    "now",
    "parse_when",
    "shifted",
]

# The first and last instants a datetime can hold, in UTC.
FIRST = datetime.min.replace(tzinfo=timezone.utc)
LAST = datetime.max.replace(tzinfo=timezone.utc)


def now() -> datetime:
    return datetime.now(timezone.utc)


def as_datetime(value: date | datetime) -> datetime:
    """A date means the start of that day, UTC; naive datetimes are UTC. Anything else
    (a str, a timestamp) is an ArgumentTypeError: the library parses no dates."""
    if not isinstance(value, date):
        raise ArgumentTypeError(
            f"a date or datetime is needed, not {type(value).__name__} {value!r}",
            hint="give a datetime (datetime(2026, 1, 1, tzinfo=timezone.utc)) or a date "
            f"(date.fromisoformat({value if isinstance(value, str) else '2026-01-01'!r}))",
        )
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
    return datetime.combine(value, time(0, 0), tzinfo=timezone.utc)


def as_utc(value: date | datetime) -> datetime:
    """:func:`as_datetime`, in UTC: an aware datetime of another zone is converted, so a
    value kept (a chain's capture date) compares, and is written with a ``Z``, as it is."""
    when = as_datetime(value)
    try:
        return when.astimezone(timezone.utc)
    except OverflowError:  # 0001-01-01T00:00+01:00 is before the year 1 in UTC
        raise InputError(f"{when.isoformat()} falls outside the years 1 to 9999 in UTC") from None


def shifted(when: datetime, delta: timedelta) -> datetime | None:
    """``when + delta``, or None when that lies outside the calendar (after 9999-12-31
    or before year 1): an instant no horizon can reach."""
    try:
        return when + delta
    except OverflowError:
        return None


def clamped(when: datetime, delta: timedelta) -> datetime:
    """``when + delta``, held at the calendar's first or last instant."""
    moved = shifted(when, delta)
    if moved is not None:
        return moved
    return LAST if delta > timedelta(0) else FIRST


def add_years(when: datetime, years: int) -> datetime:
    """The same day ``years`` later (28 February for 29 February in a common year), held
    at the calendar's end."""
    year = when.year + years
    if year > LAST.year:
        return LAST
    if year < FIRST.year:
        return FIRST
    try:
        return when.replace(year=year)
    except ValueError:  # 29 February
        return when.replace(year=year, day=28)


def parse_when(
    text: str, *, what: str = "date", relative: bool = True, now_said: bool = True
) -> datetime:
    """``2032-09-02``, ``2032-09-02T12:00:00``, ``now`` or ``today`` -> aware UTC datetime;
    ``relative=False`` for a date written down (a file's), where ``now`` means nothing;
    ``now_said=False``: a refusal offers ``today``, not ``now`` (an end, ``push --until``,
    which refuses ``now`` as already past)."""
    t = text.strip()
    if relative and t.lower() in ("now", "today"):
        return now()
    try:
        if len(t) == 10:
            return as_datetime(date.fromisoformat(t))
        when = as_datetime(datetime.fromisoformat(t.replace("Z", "+00:00")))
    except ValueError as e:
        now_too = (", or 'now'" if now_said else ", or 'today'") if relative else ""
        why = _no_such_day(t) or f"expected YYYY-MM-DD (or an ISO date-time{now_too})"
        raise InputError(f"bad {what} '{text}': {why}") from e
    try:
        return when.astimezone(timezone.utc)
    except OverflowError:  # 9999-12-31T23:00-05:00 is in the year 10000 in UTC
        raise InputError(
            f"bad {what} '{text}': in UTC it falls outside the years 1 to 9999"
        ) from None


_YMD = lazy_re(r"([0-9]{4})-([0-9]{2})-([0-9]{2})(?=$|[T ])")  # ASCII digits only


def nearest_date(text: str) -> str | None:
    """For a YYYY-MM-DD whose month or day is not in the calendar (2030-13-01), the
    nearest date that is, written the same way (2030-12-01); None for any other text."""
    m = _YMD().match(text)
    if m is None or int(m[1]) < 1:
        return None
    year, month, day = (int(g) for g in m.groups())
    fit_month = min(max(month, 1), 12)
    days = calendar.monthrange(year, fit_month)[1]
    fit_day = min(max(day, 1), days)
    if (fit_month, fit_day) == (month, day):
        return None
    return f"{m[1]}-{fit_month:02d}-{fit_day:02d}" + text[m.end() :]


def likely_date(text: str) -> str | None:
    """For a YYYY-MM-DD not in the calendar, the date most likely meant: day and month
    swapped when that makes a real date (2034-31-12 is 2034-12-31 typed day first),
    else :func:`nearest_date`; None for any other text."""
    m = _YMD().match(text)
    if m is not None and int(m[1]) >= 1:
        year, month, day = (int(g) for g in m.groups())
        if month > 12 and 1 <= day <= 12 and month <= calendar.monthrange(year, day)[1]:
            return f"{m[1]}-{day:02d}-{month:02d}" + text[m.end() :]
    return nearest_date(text)


def _no_such_day(text: str) -> str | None:
    """For a YYYY-MM-DD whose day or month is not in the calendar (2034-02-30, which
    *is* the form asked for), which one, and the nearest date that is, written the same
    way (day and month swapped first, as :func:`likely_date`, so the message and a
    hint built from it name the same date); None when the text is not of that form."""
    nearest = likely_date(text)
    m = _YMD().match(text)
    if nearest is None or m is None:
        return None
    year, month, day = (int(g) for g in m.groups())
    days = calendar.monthrange(year, min(max(month, 1), 12))[1]
    if not 1 <= month <= 12:
        return f"there is no month {m[2]} (01 to 12); e.g. '{nearest}'"
    if not 1 <= day <= days:
        name = calendar.month_name[month]
        return f"{name} {year} has {days} days, no day {m[3]}; e.g. '{nearest}'"
    return None
