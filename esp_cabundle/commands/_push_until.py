"""``push --watch`` and ``--until``: a date means through the end of that day (UTC), a
refusal says the value as it was typed, not as parsed (2026-01-01, not
2026-01-02T00:00:00), and a watch with no terminal to draw its bar on logs its passes."""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

import click

from ..dates import clamped
from ..text import some
from ..ui import note, stderr_is_tty
from .options import Date

if TYPE_CHECKING:
    from ..push.campaign import UnitEvent
    from ..push.mqtt import MqttTransport

_DATE_ONLY = re.compile(r"^\s*(\d{4}-\d{2}-\d{2}|today)\s*$", re.I)
_RAW = "esp_cabundle.push.typed"  # ctx.meta: option name -> the text typed


class Until(Date):
    """``--until``: a date means through the end of that day (UTC); a date-time is
    taken as given. ``now`` is always past (refused): a bad value's words offer
    ``today`` instead."""

    now_said = False

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        when = super().convert(value, param, ctx)
        if isinstance(value, str) and ctx is not None and param is not None and param.name:
            ctx.meta.setdefault(_RAW, {})[param.name] = value.strip()  # for the messages
        if isinstance(value, str) and _DATE_ONLY.match(value):
            day = when.replace(hour=0, minute=0, second=0, microsecond=0)
            when = clamped(day, timedelta(days=1))  # 9999-12-31: to the calendar's end
        return when


def until_words(until: datetime) -> str:
    """When a watch ends: ``--until 2026-12-05`` (its end, 00:00 the next day) said as
    "through 2026-12-06 00:00 UTC" read one day too long; a midnight is said as the end of
    the day before it."""
    return f"until {end_words(until)}"


def end_words(end: datetime) -> str:
    """An instant a watch ends, as :func:`until_words` and the run's last line say it:
    a midnight as the end of the day before ("the end of 2026-12-05 (00:00 UTC
    2026-12-06)"), any other as "2026-12-05 13:30 UTC" (with its seconds when it has
    some: ``--until 2026-12-05T13:30:30`` said as 13:30 read as half a minute sooner)."""
    at = end.astimezone(timezone.utc)
    if at.time() == datetime.min.time():
        day_before = (at - timedelta(days=1)).date().isoformat()
        return f"the end of {day_before} (00:00 UTC {at.date().isoformat()})"
    return f"{at:%Y-%m-%d %H:%M:%S} UTC" if at.second else f"{at:%Y-%m-%d %H:%M} UTC"


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


# What the MQTT link says of a call made while the broker is gone (push.mqtt).
_LINK_DOWN = "broker link is down"
# mDash's API gone (push.mdash: "unit X: mDash's API at URL cannot be reached (...)"):
# said as "mDash's API lost" and "back", as the broker is, guessed from the units' calls.
_MDASH_DOWN = "mDash's API at "
_NO_ANSWER = ("", "listed offline")  # a unit passed over, or its listing: no call made


class WatchLog:
    """``--watch`` with stderr no terminal (nohup, systemd, ``2>log``): rich draws no bar
    there, so a watch of days said nothing after "Watching: ..." until it ended. Instead,
    a timestamped line per pass that changed something: units that reached a state
    (verified, failed, offline, ...), and the broker lost or back. Fed the campaign's
    ``progress`` and ``on_listing`` callbacks (a pass starts at each listing), and the
    MQTT transport's ``on_link`` (:meth:`link`)."""

    def __init__(self, write: Callable[[str], None]) -> None:
        self._write = write
        self._lock = threading.Lock()
        self._state: dict[str, str] = {}  # each unit's last final state
        self._changed: dict[str, str] = {}  # this pass: unit -> its new state
        # this pass: units first met passed over (done before this run), by state: said
        # once as "N already verified", not as what this pass did
        self._already: dict[str, int] = {}
        self._seen = 0  # final events this pass
        self._listed = 0
        self._pass = 0
        self._down = False  # the broker was found gone, and not back since
        self._what = "MQTT broker"  # the link _down says gone: the broker or mDash's API
        self._link: list[str] = []  # this pass: "broker lost" / "broker back"
        self._told = False  # the MQTT link reports itself (link()): no guessing from units
        self._listing_down = False  # _down found by a listing: the next listing is back

    @classmethod
    def wanted(cls, *, watch: bool, quiet: bool) -> WatchLog | None:
        """A log when a watch has no terminal on stderr (a terminal gets the bar)."""
        if not watch or quiet or stderr_is_tty():
            return None
        return cls(note)

    def listing(self, n: int) -> None:
        """A pass starts, over ``n`` units: the last one, if still open, is said; a link
        a skipped pass's listing found gone (:meth:`skipped`) answered this one: back."""
        with self._lock:
            self._flush()
            self._pass, self._listed, self._seen = self._pass + 1, n, 0
            if self._listing_down:
                self._down = self._listing_down = False
                self._link.append(f"{self._what} back")

    def skipped(self, link: str) -> None:
        """A pass skipped: its listing found ``link`` gone ("mDash's API (URL)"), an
        outage begun between passes, where no unit's call says it (the loss was logged
        only when it began mid-pass). Said once, at once; the passes skipped after it
        say nothing more, and the next listing says it back."""
        what = link.split(" (", 1)[0]
        with self._lock:
            self._flush()  # the last pass, if not said yet
            if self._down:  # said already (a unit's call found it)
                self._listing_down = self._listing_down or self._what == what
                return
            self._down, self._what, self._listing_down = True, what, True
            self._link.append(f"{what} lost (the passes skipped until it is back)")
            self._flush(head=f"after pass {self._pass}")

    def follow(self, transport: MqttTransport) -> None:
        """Take the broker's state from ``transport``'s client alone, from now on: a
        unit's "link is down" error can land before paho's ``on_disconnect`` (it closes
        the socket first), and a guess made then would say the loss without its reason."""
        transport.on_link = self.link
        with self._lock:
            self._told = True

    def link(self, up: bool, why: str = "") -> None:
        """The MQTT client's own word (paho's ``on_disconnect``, ``on_connect`` again):
        the broker lost or back when it happened, between passes too, where a unit's
        "link is down" error only shows a drop that lasts until a unit is called."""
        with self._lock:
            self._told = True
            if up == self._down:  # a change
                self._down = not up
                lost = f"MQTT broker lost ({why})" if why else "MQTT broker lost"
                self._link.append("MQTT broker back" if up else lost)

    def event(self, ev: UnitEvent) -> None:
        with self._lock:
            mdash = _MDASH_DOWN in ev.text and "cannot be reached" in ev.text
            down = not self._told and (_LINK_DOWN in ev.text or mdash)
            if down and not self._down:
                self._down = True
                self._what = "mDash's API" if mdash else "MQTT broker"
                self._link.append(f"{self._what} lost")
            elif not self._told and self._down and not down and ev.text not in _NO_ANSWER:
                self._down = False  # a call went through it
                self._link.append(f"{self._what} back")
            if not ev.final:
                return
            self._seen += 1
            if ev.passed and ev.unit not in self._state:
                self._state[ev.unit] = ev.state
                self._already[ev.state] = self._already.get(ev.state, 0) + 1
            elif self._state.get(ev.unit) != ev.state:
                self._state[ev.unit] = ev.state
                self._changed[ev.unit] = ev.state
            if self._seen >= self._listed:  # every unit of the pass is through
                self._flush()

    def close(self) -> None:
        """The run ended: its last pass, if not said yet."""
        with self._lock:
            self._flush()

    def _flush(self, head: str = "") -> None:
        """The open pass's line (``head``: what it says instead of "pass N")."""
        if not (self._changed or self._link or self._already) or not self._pass:
            return
        by_state: dict[str, list[str]] = {}
        for unit, state in self._changed.items():
            by_state.setdefault(state, []).append(unit)
        parts = [*self._link] + [f"{len(ids)} {s} ({some(ids)})" for s, ids in by_state.items()]
        parts += [f"{n} already {s}" for s, n in self._already.items()]
        tally: dict[str, int] = {}
        for state in self._state.values():
            tally[state] = tally.get(state, 0) + 1
        now_ = ", ".join(f"{n} {s}" for s, n in sorted(tally.items()))
        # units of the listing no pass of this run has reached yet (a pass the broker
        # cut short, a run stopped): left out, "units now: 6 verified" read as a fleet of 6
        unseen = self._listed - len(self._state)
        if unseen > 0:
            now_ = ", ".join(filter(None, (now_, f"{unseen} not reached yet")))
        when = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        head = head or f"pass {self._pass}"
        self._write(f"{when} {head}: {'; '.join(parts)}; units now: {now_}")
        self._changed, self._link, self._already = {}, [], {}
