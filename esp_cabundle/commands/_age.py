"""``--older-than``'s type: an age with its unit (``journal prune``), kept apart from
:mod:`.options` so that module stays within its size; months, years and a bare ``m``
are refused with the age to give instead, since a prune cannot be undone."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import click

from ..text import plural

if TYPE_CHECKING:
    _ParamType = click.ParamType[Any]
else:  # click < 8.2 (pyproject allows 8.1) has no generic ParamType
    _ParamType = click.ParamType

__all__ = ["MAX_AGE", "Age", "GivenAge", "age_text"]


_AGE = re.compile(r"^\s*(\d+)\s*([a-z]*)\s*$", re.IGNORECASE)
_AGE_UNITS = {"min": 60, "h": 3600, "d": 86400, "w": 604800}  # seconds
_UNIT_WORDS = {"min": "minute", "h": "hour", "d": "day", "w": "week"}
_SECONDS = frozenset({"s", "sec", "secs", "second", "seconds"})
# Read as minutes by one user and as months by the next: a prune that deletes what was
# meant to be kept cannot be undone, so these ask which.
_AMBIGUOUS_AGE = frozenset({"m", "mo", "mon", "month", "months", "y", "yr", "year", "years"})
_YEARS = frozenset({"y", "yr", "year", "years"})
_MONTHS = frozenset({"mo", "mon", "month", "months"})
# Older than any entry can be, yet far from where "now minus the age" leaves the calendar.
MAX_AGE = timedelta(days=36500)


def _shown(text: str) -> str:
    """A value said back in an error, a pasted screenful cut to its two ends."""
    return text if len(text) <= 24 else f"{text[:12]}...{text[-4:]}"


def _ambiguous_age(shown: str, unit: str, digits: str) -> str:
    """The refusal of an age in months or years (their length varies) or in 'm' (minutes
    to some, months to others), with the age to give instead: 2y -> 730d."""
    n = int(digits) if len(digits) <= 6 else None
    if unit.lower() in _YEARS:
        ask = f"{shown!r}: years vary in length;"
        example = f": {n * 365}d for {plural(n, 'year')}" if n is not None else ""
    elif unit.lower() in _MONTHS:
        ask = f"{shown!r}: months vary in length;"
        example = f": {n * 30}d for {plural(n, 'month')}" if n is not None else ""
    else:
        ask = f"{shown!r}: is '{unit}' minutes or months?"
        example = f": {n}min, or {n * 30}d for {plural(n, 'month')}" if n is not None else ""
    give = "Give" if ask.endswith("?") else "give"
    return f"{ask} {give} the age in min, h, d or w{example}"


class GivenAge(timedelta):
    """An age as given: said back in its own unit ("0 days", "3 weeks"), not as the
    seconds it comes to, so the user recognises what they typed."""

    text: str


def age_text(age: timedelta) -> str:
    """``3 weeks`` for ``3w``; an age not from :class:`Age` in its largest whole unit."""
    if isinstance(age, GivenAge):
        return age.text
    seconds = int(age.total_seconds())
    for unit, size in (("week", 604800), ("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds and seconds % size == 0:
            return plural(seconds // size, unit)
    return plural(seconds, "second")


class Age(_ParamType):
    """``30d``, ``12h``, ``2w``, ``90min``: a duration with its unit, as a timedelta."""

    name = "age"
    accepted = "an age: a number and a unit, min, h, d or w"
    example = "30d"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, timedelta):
            return value
        m = _AGE.match(str(value))
        unit = m.group(2).lower() if m is not None else ""
        if m is not None and unit in _SECONDS:
            self.fail(
                f"{_shown(m.group(0).strip())!r}: seconds are finer than a journal needs; give "
                "the age in min, h, d or w (0d for every entry that is not unfinished)",
                param,
                ctx,
            )
        if m is None or (unit not in _AGE_UNITS and unit not in _AMBIGUOUS_AGE):
            self.fail(
                f"{_shown(str(value))!r} is not an age: a number and a unit, min, h, d or w "
                "(e.g. 30d)",
                param,
                ctx,
            )
        digits = m.group(1).lstrip("0") or "0"
        shown = _shown(m.group(0).strip())
        if unit in _AMBIGUOUS_AGE:
            self.fail(_ambiguous_age(shown, m.group(2), digits), param, ctx)
        # Compared as digits first: int() of a thousand-digit number is refused by Python.
        seconds = int(digits) * _AGE_UNITS[unit] if len(digits) <= 12 else None
        if seconds is None or seconds > MAX_AGE.total_seconds():
            self.fail(
                f"{shown!r} is too large an age: at most {MAX_AGE.days}d (100 years; no "
                "entry is older)",
                param,
                ctx,
            )
        age = GivenAge(seconds=seconds)
        age.text = plural(int(digits), _UNIT_WORDS[unit])
        return age
