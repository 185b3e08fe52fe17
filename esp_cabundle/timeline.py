"""A server's chain over time, judged: verdict flips from certificate dates and from
the server switching chains, and since when a failing chain has been failing.

:func:`verify.forecast` judges one chain over a horizon. A server does not send one
chain for ever: Let's Encrypt's servers sent the long chain until 2024-02-08 (or
2024-06-06), then the short one. :func:`judge_periods` judges each chain over the time
it is sent and stitches the forecasts into one :class:`Timeline`, so that a fleet
without a clock, which no certificate date can break, still learns the day its servers
changed what they send. When the verdict already fails at the date checked, it looks
back for the day the failure began instead of reporting that date as a first failure.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from .chains import ServerChain
from .dates import clamped
from .verify import CertEvent, DeviceProfile, Forecast, TrustSet, Verdict, Verifier, forecast
from .verify.forecast import is_rotating

__all__ = [
    "FailingSince",
    "Flip",
    "Period",
    "Segment",
    "Timeline",
    "judge_periods",
    "roadmap_words",
]

_SECOND = timedelta(seconds=1)


@dataclass(frozen=True, slots=True)
class Period:
    """A chain a server sends from ``start`` until ``end`` (exclusive). ``None`` bounds
    are open: a captured chain is judged as if always sent."""

    chain: ServerChain
    name: str = ""
    description: str = ""
    start: datetime | None = None
    end: datetime | None = None

    def covers(self, when: datetime) -> bool:
        return (self.start is None or self.start <= when) and (self.end is None or when < self.end)


@dataclass(frozen=True, slots=True)
class Flip:
    """The verdict from ``when`` on, and why it changed: certificate events, or the
    server switching to the chain of ``period`` (``chain_change``)."""

    when: datetime
    verdict: Verdict
    causes: tuple[str, ...]
    period: Period
    chain_change: bool = False
    cause_date: datetime | None = None  # a certificate's own date, when one caused it

    @property
    def date(self) -> datetime:
        """The calendar date people associate with the flip."""
        return self.cause_date or self.when

    def describe(self) -> str:
        why = "; ".join(self.causes) or "verdict changes"
        state = "passes" if self.verdict.ok else "fails"
        text = f"{self.date.date().isoformat()}: {why} — the device {state} from then on"
        if not self.verdict.ok and self.verdict.error is not None:
            flags = f" [{', '.join(self.verdict.flag_names)}]" if self.verdict.flag_names else ""
            text += f": {self.verdict.error_text}{flags}"
        return text


def roadmap_words(since: datetime, why: str, chain: str = "this chain") -> str:
    """:attr:`FailingSince.roadmap_text` of ``since`` and ``why``: also what ``push``
    says of the roadmap's date its ledger keeps, in check's words; ``chain``: what
    names the chain, for a sentence that shows none (push's)."""
    said = f"servers a shipped roadmap says send {chain} fail from"
    return f"{said} {since.date().isoformat()} ({why})"


@dataclass(frozen=True, slots=True)
class FailingSince:
    """When a chain that fails at the date checked began failing, and why.

    ``roadmap_since``/``roadmap_why``: for a saved chain failing throughout that a
    shipped roadmap says servers send, since when those servers fail (each kind's own
    history): context beside ``date``, not a bound for this server, which may have come
    to that chain late (from DigiCert to Gen Y in 2026: it failed from then, not 2024).

    ``valid_from``: a saved chain judged before its newest certificate's first day (set
    then): it did not exist at ``date``, so the server sent another chain then, and
    "failing at least since" that date would blame it for a day it was not sent."""

    date: datetime
    why: str
    bounded: bool  # False: failing at least since ``date``, the earliest instant judged
    roadmap_since: datetime | None = None
    roadmap_why: str = ""
    valid_from: datetime | None = None

    @property
    def roadmap_text(self) -> str:
        """``servers a shipped roadmap says send this chain fail from DATE (KINDS)``, or ""."""
        if self.roadmap_since is None:
            return ""
        return roadmap_words(self.roadmap_since, self.roadmap_why)

    def describe(self, *, sentence: bool = False) -> str:
        """``failing at least since DATE (WHY)``; ``sentence``: ``Failing at least since
        DATE: WHY.``, for a line whose verdict already holds parentheses. The roadmap's
        date, when there is one, follows after a semicolon."""
        lead = "already failing since" if self.bounded else "failing at least since"
        if self.valid_from is not None:
            lead = "not what the server sent at"
        also = f"; {self.roadmap_text}" if self.roadmap_since is not None else ""
        if sentence:
            return f"{lead.capitalize()} {self.date.date().isoformat()}: {self.why}{also}."
        return f"{lead} {self.date.date().isoformat()} ({self.why}){also}"

    def to_dict(self) -> dict[str, object]:
        """check's --json ``failing_since``: ``date`` is what the chain proves,
        ``roadmap_since`` (null: none) what a shipped roadmap's servers did."""
        roadmap = (
            {"date": self.roadmap_since.date().isoformat(), "why": self.roadmap_why}
            if self.roadmap_since is not None
            else None
        )
        return {
            "date": self.date.date().isoformat(),
            "why": self.why,
            "roadmap_since": roadmap,
            # set: the chain did not exist at ``date`` (its newest certificate's first day)
            "valid_from": self.valid_from.date().isoformat() if self.valid_from else None,
        }


@dataclass(frozen=True, slots=True)
class Segment:
    """One period as judged: its forecast from ``forecast.start.at`` to ``forecast.until``."""

    period: Period
    forecast: Forecast


@dataclass(frozen=True, slots=True)
class Timeline:
    """``sent_from`` is set when nothing is sent at the date checked and judging starts
    with the first later chain; ``failing_since`` when the verdict fails at the date
    checked."""

    segments: tuple[Segment, ...]
    flips: tuple[Flip, ...]
    failing_since: FailingSince | None = None
    sent_from: datetime | None = None

    @property
    def start(self) -> Verdict:
        return self.segments[0].forecast.start

    @property
    def until(self) -> datetime:
        return self.segments[-1].forecast.until

    @property
    def ok_throughout(self) -> bool:
        return all(s.forecast.ok_throughout for s in self.segments) and all(
            f.verdict.ok for f in self.flips
        )

    @property
    def first_failure(self) -> Flip | None:
        """The first flip to a failing verdict after a passing start (None if the start
        already fails: see :attr:`failing_since`)."""
        if not self.start.ok:
            return None
        return next((f for f in self.flips if not f.verdict.ok), None)

    @property
    def first_failure_date(self) -> datetime | None:
        """When the device first fails after the date checked: a flip, or the day servers
        start sending a chain it refuses (None: it never fails, or fails already)."""
        if not self.start.ok:
            return self.sent_from
        first = self.first_failure
        return first.date if first else None

    @property
    def note(self) -> str:
        return "" if self.flips else self.segments[-1].forecast.note

    @property
    def rotating(self) -> tuple[CertEvent, ...]:
        seen: dict[str | None, CertEvent] = {}
        for s in self.segments:
            for e in s.forecast.rotating:
                seen.setdefault(e.sha256, e)
        return tuple(seen.values())

    @property
    def renewed(self) -> tuple[CertEvent, ...]:
        """Certificates of the chain judged at the date checked that the server has
        renewed by then (valid when the chain was seen, expired at that date)."""
        return self.segments[0].forecast.renewed

    @property
    def undated(self) -> tuple[CertEvent, ...]:
        """The leaf and issuing intermediates of a chain with no capture date that expire
        before the date checked or within the horizon: whether the server renewed them
        cannot be known (the chain may have been saved after they expired), so their dates
        are judged, at the date checked and in the forecast alike."""
        return self.segments[0].forecast.undated

    @property
    def undated_end(self) -> datetime | None:
        """When the first of the undated chain's leaf and issuing intermediates expires,
        within the horizon or not (None: dated, or dates not judged): the chain fails
        then, so a summary claims no acceptance past it."""
        return self.segments[0].forecast.undated_end

    def period_at(self, when: datetime) -> Period:
        for s in self.segments:
            if s.period.covers(when):
                return s.period
        return self.segments[0].period


def _last_ok(fc: Forecast) -> bool:
    return fc.changes[-1].verdict.ok if fc.changes else fc.start.ok


def _in_window(periods: Sequence[Period], begin: datetime, end: datetime) -> list[Period]:
    return [
        p
        for p in periods
        if (p.start is None or p.start <= end) and (p.end is None or p.end > begin)
    ]


@dataclass(frozen=True, slots=True)
class _Judge:
    """What every forecast of one timeline shares: the trust, the device, the name the
    unit connects to (None: not judged), a verifier prepared for that trust, and when a
    chain without a capture date was seen sent (``now``; None: not known)."""

    trust: TrustSet
    device: DeviceProfile
    hostname: str | None
    verifier: Verifier | None
    now: datetime | None = None

    def forecast(
        self, period: Period, at: datetime, until: datetime, *, rotate_issuing: bool = True
    ) -> Forecast:
        """The forecast of the chain ``period`` sends, from ``at`` until ``until``. A
        captured or saved chain (an open period) was seen sent when it was captured, or
        at ``now`` when given; a roadmap's chains are what servers send, their renewals
        are its steps. One with neither (a chain file with no ``# captured:`` line) has
        nothing renewed: its leaf and intermediates fail on their dates (README), unless
        it is a CA's published chain a roadmap dates (:mod:`.known_chains`)."""
        seen = self.seen(period)
        return forecast(
            self.trust,
            period.chain.certificates,
            self.device,
            at=at,
            until=until,
            rotate_issuing=rotate_issuing,
            hostname=self.hostname,
            verifier=self.verifier,
            seen=seen,
            renews=period.start is not None or seen is not None,
        )

    def seen(self, period: Period) -> datetime | None:
        """When a saved chain (an open period) was seen sent: captured, ``now``, or as a
        roadmap dates a CA's published chain; None for a roadmap's step or not known."""
        if period.start is not None:
            return None
        return period.chain.captured_at or self.now or _roadmap_seen(period.chain)

    def renewed(self, period: Period) -> bool:
        """True when ``period`` is a saved chain seen sent while its leaf and issuing
        intermediates were all valid: the server renews them, so their expiries flip
        nothing (as :meth:`forecast` judges them later). One already expired then, or a
        chain never dated, fails on its certificates' own dates."""
        seen = self.seen(period)
        return seen is not None and all(
            c.not_before <= seen <= c.not_after
            for i, c in enumerate(period.chain.certificates)
            if is_rotating(c, i)
        )


def _roadmap_seen(chain: ServerChain) -> datetime | None:
    """When a shipped roadmap, last reviewed, says servers still sent ``chain`` (no leaf,
    exactly its chain; :attr:`.known_chains.KnownChain.seen`), else None."""
    # deferred: reading the roadmaps parses YAML and certificates, needed only for a
    # chain file with no capture date
    from .known_chains import known_chain

    known = known_chain(chain.certificates)
    return known.seen if known is not None else None


def judge_periods(
    trust: TrustSet,
    periods: Sequence[Period],
    device: DeviceProfile,
    *,
    at: datetime,
    until: datetime | None = None,
    hostname: str | None = None,
    verifier: Verifier | None = None,
    now: datetime | None = None,
) -> Timeline:
    """Judge what a server sends from ``at`` until ``until`` (or at ``at`` alone), for a
    unit connecting to ``hostname`` (None: the name is not judged); ``verifier`` is one
    prepared for ``trust`` and reused; ``now``: when a chain with no capture date was
    seen sent (None, the default: not known, so its server certificates' dates all count
    at ``at``, see :attr:`Timeline.undated`).

    Periods must follow each other in time. When none is sent at ``at``, judging starts
    where the first later one starts (a chain announced for a later date).
    """
    if not periods:
        raise ValueError("judge_periods needs at least one period")
    judge = _Judge(trust, device, hostname, verifier, now)
    begin = at
    if not any(p.covers(at) for p in periods):
        later = [p.start for p in periods if p.start is not None and p.start > at]
        if later:
            begin = min(later)
    end = max(until, begin) if until is not None else begin
    segments: list[Segment] = []
    flips: list[Flip] = []
    for p in _in_window(periods, begin, end):
        s = begin if p.start is None or p.start < begin else p.start
        last = clamped(p.end, -_SECOND) if p.end is not None else None
        e = end if last is None or last > end else last
        if e < s:
            continue
        fc = judge.forecast(p, s, e)
        if segments and fc.start.ok != _last_ok(segments[-1].forecast):
            cause = f"servers switch to {p.name or p.chain.source}"
            if p.description:
                cause += f": {p.description}"
            flips.append(Flip(s, fc.start, (cause,), p, chain_change=True))
        for c in fc.changes:
            flips.append(
                Flip(c.when, c.verdict, tuple(str(ev) for ev in c.events), p, False, c.date)
            )
        segments.append(Segment(p, fc))
    if not segments:  # ``at`` falls in a gap: judge the period that comes next
        segments.append(Segment(periods[0], judge.forecast(periods[0], begin, end)))
    sent_from = begin if begin > at else None
    if segments[0].forecast.start.ok or sent_from is not None:
        return Timeline(tuple(segments), tuple(flips), None, sent_from)
    since = _failing_since(judge, periods, begin)
    return Timeline(tuple(segments), tuple(flips), since)


def _chain_born(chain: ServerChain) -> datetime:
    """The first instant every certificate of the chain existed."""
    return max(c.not_before for c in chain.certificates)


def _unissued(chain: ServerChain) -> str:
    """Why a saved chain was not what a server sent at a date before its newest
    certificate (the leaf, or the one named) was valid."""
    newest = max(chain.certificates, key=lambda c: c.not_before)
    leaf = newest is chain.certificates[0] and not newest.is_ca
    which = "leaf" if leaf else f"'{newest.label}'"
    return (
        f"the saved chain's {which} is valid from {newest.not_before.date().isoformat()}, "
        "so the server sent another chain then"
    )


def failing_since(
    trust: TrustSet,
    periods: Sequence[Period],
    device: DeviceProfile,
    *,
    at: datetime,
    hostname: str | None = None,
    verifier: Verifier | None = None,
) -> FailingSince:
    """When the failure in effect at ``at`` began: the last flip to failing before
    ``at`` (every certificate date counting but those a saved chain's server renews,
    see :meth:`_Judge.renewed`), or the day servers switched to the failing
    chain, or, failing throughout, the earliest instant the chain can have been sent."""
    return _failing_since(_Judge(trust, device, hostname, verifier), periods, at)


def _roadmap_since(judge: _Judge, chain: ServerChain, at: datetime) -> tuple[datetime, str] | None:
    """For a saved chain failing whenever it is sent, which a shipped roadmap says
    servers send: since when every server kind sending it fails (each kind's own history
    judged on the last day it sends that chain by ``at``), and those kinds' dates. Only
    context for "at least since": a server that came to the chain late (from another CA)
    failed from then, so the bound stays the chain's own. None: no roadmap kind sends it
    by ``at`` (a kind whose step ended earlier counts, judged on its last day), or a kind
    sending it passes (the failure is the saved chain's own)."""
    # deferred: reading the roadmaps parses YAML and certificates, needed only for a
    # saved chain that fails throughout
    from .known_chains import senders

    dates: dict[str, datetime] = {}
    for roadmap, kind, step in senders(chain.certificates):
        t = at if step.end is None else min(at, clamped(step.end, -_SECOND))
        if t < step.start:
            continue  # not sent yet at the date checked
        periods = tuple(Period(s.chain, s.name, s.description, s.start, s.end) for s in kind.steps)
        sent = next(p for p in periods if p.covers(t))
        if judge.forecast(sent, t, t, rotate_issuing=False).start.ok:
            return None
        dates[f"{roadmap} {kind.name}"] = _failing_since(judge, periods, t).date
    if not dates:
        return None
    each = ", ".join(f"{name} since {d.date().isoformat()}" for name, d in dates.items())
    return max(dates.values()), each


def _unsent_at(chain: ServerChain, at: datetime) -> bool:
    """A saved chain judged at a date before its newest certificate's first day that it
    was not captured at or before: the server sent another chain then. One captured by
    then was sent (a certificate issued ahead: the server's fault, renewal hints)."""
    if _chain_born(chain) <= at:
        return False
    return chain.captured_at is None or chain.captured_at > at


def unissued_note(timeline: Timeline) -> str | None:
    """For a verdict that passes at a date before the saved chain judged (one with no
    start of its own) existed: that it is not what the server sent then (a device that
    checks no dates passes a chain it was never sent). A note, not a failure; a failing
    verdict says it in :attr:`FailingSince.valid_from` (None: the chain existed then)."""
    period, at = timeline.segments[0].period, timeline.start.at
    if not timeline.start.ok or period.start is not None or not _unsent_at(period.chain, at):
        return None
    return f"Not what the server sent at {at.date().isoformat()}: {_unissued(period.chain)}."


def _failing_since(judge: _Judge, periods: Sequence[Period], at: datetime) -> FailingSince:
    current = next((p for p in periods if p.covers(at)), periods[0])
    index = list(periods).index(current)
    when = at
    while True:
        floor = current.start if current.start is not None else _chain_born(current.chain)
        floor = min(floor, when)
        # every certificate date counting, but those the server renews (README: a saved
        # chain's leaf expiring after its capture is no failure of the CA)
        fc = judge.forecast(current, floor, when, rotate_issuing=judge.renewed(current))
        states = [(floor, fc.start.ok, "")] + [
            (c.date, c.verdict.ok, "; ".join(str(e) for e in c.events)) for c in fc.changes
        ]
        if states[-1][1]:  # the exact verdict at ``when`` fails only at that instant
            return FailingSince(when, "the verdict at this date", True)
        last_pass = max((i for i, st in enumerate(states) if st[1]), default=None)
        if last_pass is not None:
            date, _, why = states[last_pass + 1]
            return FailingSince(date, why or "a certificate date", True)
        # Failing over the whole period: since the server switched to it, or before.
        prev = periods[index - 1] if index > 0 else None
        if current.start is None:
            born = _chain_born(current.chain)
            if _unsent_at(current.chain, when):  # judged before it existed: not what was sent
                return FailingSince(when, _unissued(current.chain), False, valid_from=born)
            if not judge.device.checks_dates:
                why = "this device does not check dates, so the chain fails whenever it is sent"
            else:
                why = "the chain's newest certificate was issued then"
            roadmap = _roadmap_since(judge, current.chain, when)
            if roadmap is None:
                return FailingSince(floor, why, False)
            return FailingSince(floor, why, False, *roadmap)
        if prev is None or prev.end != current.start:
            return FailingSince(
                floor, f"servers sent {current.name or 'this chain'} from then", False
            )
        before = clamped(current.start, -_SECOND)
        prev_fc = judge.forecast(prev, before, before)
        if prev_fc.start.ok:
            return FailingSince(
                current.start, f"servers switched to {current.name or 'this chain'}", True
            )
        current, index, when = prev, index - 1, before
