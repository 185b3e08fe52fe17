"""The campaign table's facts, checked as they are read: each known key holds what the
campaign's own writer writes, or the ledger is refused in words (a damaged ledger, exit
2) before any of it is used. A hand-edited ``goes_dark`` of ``x`` or a date without its
UTC offset ended ``push status`` in a traceback, and ``--json`` passed it on; a schema
this release does not know was read as its own."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta, timezone
from pathlib import Path

from ..dates import as_utc
from ..errors import ArgumentTypeError, InputError
from ..text import printable, shorten
from .ledger_files import DAMAGED_HINT, TEXT_CAP, LedgerDamaged

__all__ = [
    "DARK_KEY",
    "JUDGED_KEY",
    "NONE_FOUND",
    "NOTHING_JUDGED",
    "ROADMAP_KEY",
    "ROADMAP_WHY_KEY",
    "SCHEMA_VERSION",
    "UNKNOWN",
    "caller_instant",
    "checked_meta",
    "go_dark_value",
    "is_roadmap_why",
    "roadmap_value",
]

SCHEMA_VERSION = 2  # the newest schema this release reads and writes (1 is migrated)
DARK_KEY = "goes_dark:"  # + a CA file's SHA-256, in the campaign table
NONE_FOUND = "none"
UNKNOWN = "unknown"
# What the go-dark dates were judged against (CampaignOptions.judged_against): the servers'
# names the last run naming any gave (a later run naming none records no date, so keeps
# them), or NOTHING_JUDGED, when every date is unknown for want of a server.
JUDGED_KEY = "judged_against"
NOTHING_JUDGED = "nothing"
# Beside "failing_since": check's roadmap date for the file found failing
# (CampaignOptions.roadmap_for), and the server kinds that date is of (its "why").
ROADMAP_KEY, ROADMAP_WHY_KEY = "roadmap_since", "roadmap_why"
_SHA256 = re.compile(r"[0-9a-f]{64}")
# datetime.isoformat() of a UTC instant, as every date the campaign keeps is written:
# "+00:00" after the seconds or .ffffff, and nothing else (no date alone, no naive
# time, no other offset, no "Z": fromisoformat() reads "Z" on 3.11 and later, not on
# 3.10, and a ledger is judged alike on each). Refused, not guessed.
_INSTANT = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{6})?\+00:00", re.ASCII)
_SHOWN = 80  # characters of a bad value a message shows
# The dates a library caller fed (go_dark_for's answer, deadline_for's datetime) were
# kept as given until push converted them as it writes them, and the check read any
# offset (before it, anything): isoformat() of a date, or of a datetime with another
# offset. Read as the UTC instant push writes today, so that every consumer sees one
# form; the file is left as it is. Matched by form and built from the digits, not by
# fromisoformat() (it reads more on 3.11 and later than on 3.10). No "-00:00", no
# offset seconds, no "Z": isoformat() writes none of these.
_CALLER_FED = frozenset({"deadline", "failing_since"})  # and each goes_dark:<SHA-256>
_OLDER = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})"
    r"(?:T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{6}))?(?!-00:00)([+-])(\d{2}):([0-5]\d))?",
    re.ASCII,
)


def _is_instant(value: str) -> bool:
    if not _INSTANT.fullmatch(value):
        return False
    try:
        datetime.fromisoformat(value)  # the ranges: no month 13, no offset of 24 hours
    except ValueError:
        return False
    return True


def _as_utc(value: str) -> str:
    """``value`` in push's own form if it is one an older release kept as a caller
    gave it (a real day and time), else as it is, for the check to judge."""
    m = _OLDER.fullmatch(value)
    if m is None or value.endswith("+00:00"):
        return value
    year, month, day, hour, minute, second, micro, sign, off_h, off_m = m.groups()
    try:
        when = datetime(int(year), int(month), int(day), tzinfo=timezone.utc)
        if hour is not None:
            offset = timedelta(hours=int(off_h), minutes=int(off_m))
            zone = timezone(-offset if sign == "-" else offset)  # refuses 24:00 and over
            when = datetime(
                int(year), int(month), int(day), int(hour), int(minute), int(second),
                int(micro or 0), tzinfo=zone,
            ).astimezone(timezone.utc)  # fmt: skip
    except (ValueError, OverflowError):  # 30 February, hour 24; before the year 1 in UTC
        return value
    return when.isoformat()


_NAIVE = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{6})?", re.ASCII)


def caller_instant(value: str) -> str | None:
    """A library caller's ISO date (``isoformat()`` of a date, or of a datetime: naive
    is UTC, "Z" is +00:00) in push's form, or None: judged by the form :func:`_as_utc`
    reads, not by fromisoformat(), which reads "20270606" and "+02" on 3.11 and later
    only, so that push judges a caller alike on every Python."""
    text = value[:-1] + "+00:00" if value.endswith(("Z", "z")) else value
    text = _as_utc(text + "+00:00" if _NAIVE.fullmatch(text) else text)
    return text if _is_instant(text) else None


def _is_name(value: str) -> bool:
    return bool(value) and value.isprintable()


def is_roadmap_why(value: str) -> bool:
    """The roadmap's kinds as push writes them: one line, at most ``TEXT_CAP`` long."""
    return _is_name(value) and len(value) <= TEXT_CAP


_DATE = "a UTC date and time, +00:00 (as push writes it)"
# Each key a campaign writes: whether a value is one it writes, and what that is.
_RULES: dict[str, tuple[Callable[[str], object], str]] = {
    "ca_sha256": (_SHA256.fullmatch, "a SHA-256 in hex"),
    "board": (_is_name, "a board's name"),
    "ca_path": (_is_name, "the CA file's name on the units"),
    "created_at": (_is_instant, _DATE),
    "deadline": (_is_instant, _DATE),
    "failing_since": (_is_instant, _DATE),
    ROADMAP_KEY: (_is_instant, _DATE),
    ROADMAP_WHY_KEY: (
        is_roadmap_why,
        f"the roadmap's server kinds and their dates, at most {TEXT_CAP} characters",
    ),
    JUDGED_KEY: (_is_name, f"the servers' names, or '{NOTHING_JUDGED}'"),
}
_DARK_RULE = (
    lambda v: v in (NONE_FOUND, UNKNOWN) or _is_instant(v),
    f"{_DATE}, '{NONE_FOUND}' or '{UNKNOWN}'",
)


def _shown(text: str) -> str:
    return "'" + shorten(printable(text), _SHOWN) + "'"


def _check_schema(p: Path, value: str) -> None:
    if value in {str(v) for v in range(1, SCHEMA_VERSION + 1)}:
        return
    if re.fullmatch(r"[1-9][0-9]{0,17}", value, re.ASCII):
        raise InputError(
            f"the ledger {p} has schema {value}, newer than this esp-cabundle reads "
            f"({SCHEMA_VERSION} and older); nothing changed",
            hint="upgrade esp-cabundle to read it (the release that wrote it, or later)",
        )
    raise LedgerDamaged(
        f"the ledger {p} is damaged (its campaign key 'schema' holds {_shown(value)}, "
        "not a schema number); nothing changed",
        hint=DAMAGED_HINT,
        reread=False,
    )


def checked_meta(p: Path, rows: Iterable[tuple[object, object]]) -> dict[str, str]:
    """The campaign table of the ledger at ``p`` (its ``(key, value)`` rows) as a dict,
    once every value is one its key's writer writes, a caller's date an older release
    kept as given read in push's form (:func:`_as_utc`). A key this release does not
    know (a later one's) is kept as it is, if text."""
    meta: dict[str, str] = {}
    for key, value in rows:
        if not isinstance(key, str) or not isinstance(value, str):
            where = f"key {_shown(key)} holds" if isinstance(key, str) else "table holds a key"
            bad = shorten(printable(repr(value if isinstance(key, str) else key)), _SHOWN)
            raise LedgerDamaged(
                f"the ledger {p} is damaged (its campaign {where} {bad}, not text); "
                "nothing changed",
                hint=DAMAGED_HINT,
                reread=False,
            )
        if key == "schema":
            _check_schema(p, value)
        elif key.startswith(DARK_KEY):
            if not _SHA256.fullmatch(key[len(DARK_KEY) :]):
                raise LedgerDamaged(
                    f"the ledger {p} is damaged (its campaign key {_shown(key)} names no "
                    "CA file's SHA-256); nothing changed",
                    hint=DAMAGED_HINT,
                    reread=False,
                )
            value = _as_utc(value)
            _check(p, key, value, _DARK_RULE)
        elif key in _RULES:
            value = _as_utc(value) if key in _CALLER_FED else value
            _check(p, key, value, _RULES[key])
        meta[key] = value
    return meta


def _check(p: Path, key: str, value: str, rule: tuple[Callable[[str], object], str]) -> None:
    ok, what = rule
    if not ok(value):
        raise LedgerDamaged(
            f"the ledger {p} is damaged (its campaign key {_shown(key)} holds "
            f"{_shown(value)}, not {what}); nothing changed",
            hint=DAMAGED_HINT,
            reread=False,
        )


def go_dark_value(value: object) -> str:
    """``go_dark_for``'s answer as the ledger keeps it: a date not in push's own form
    ("2027-06-06", "...Z", "+02:00") is converted; anything else is the caller's error,
    raised before the ledger holds it (a value kept as given would be a damaged ledger
    to the next ``push status``)."""
    if value in (NONE_FOUND, UNKNOWN):
        return str(value)
    if isinstance(value, str):
        kept = caller_instant(value)  # by form: fromisoformat() reads more on 3.11+
        if kept is not None:
            return kept
    raise ArgumentTypeError(
        f"go_dark_for gave {value!r}: an ISO date, {NONE_FOUND!r} or {UNKNOWN!r} is needed",
        hint="return when.isoformat() for a date, 'none' when it never fails, 'unknown' "
        "when not judged",
    )


def roadmap_value(value: object) -> tuple[datetime, str] | None:
    """``roadmap_for``'s answer, checked before the ledger holds it (as
    :func:`go_dark_value`): None, or a datetime and the kinds, one line of text."""
    if value is None:
        return None
    if isinstance(value, tuple) and len(value) == 2:
        when, why = value
        if isinstance(when, datetime) and isinstance(why, str) and is_roadmap_why(why):
            return as_utc(when), why
    shown = shorten(repr(value), 200)  # a why past the cap is not echoed whole
    raise ArgumentTypeError(
        f"roadmap_for gave {shown}: None or (a datetime, the server kinds as one line of "
        f"at most {TEXT_CAP} characters) is needed",
        hint="return (since.roadmap_since, since.roadmap_why) of check's failing_since, "
        "or None when it has no roadmap date",
    )
