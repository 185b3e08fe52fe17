"""When does a verdict flip? Evaluated only at the instants a certificate's window moves."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Literal

from ..certs import Certificate
from ..dates import as_datetime, shifted
from ..errors import InputError
from ..limits import MAX_FORECAST_INSTANTS
from ..spelling import PYTHON
from .nodes import describe_certificate
from .path import chain_nodes
from .profiles import SECOND, DeviceProfile
from .trust import TrustSet
from .verdict import Verdict
from .verifier import Verifier


@dataclass(frozen=True, slots=True)
class CertEvent:
    """A certificate entering or leaving its validity window."""

    kind: Literal["expires", "becomes valid"]
    label: str
    date: datetime  # its not_after (expires) or not_before (becomes valid)
    sha256: str | None

    def __str__(self) -> str:
        return f"{self.label} {self.kind}"


@dataclass(frozen=True, slots=True)
class Change:
    """The verdict from ``when`` on (the first instant it holds) and the events that
    caused it."""

    when: datetime
    verdict: Verdict
    events: tuple[CertEvent, ...]

    @property
    def date(self) -> datetime:
        """The calendar date people associate with it: the certificate's own date."""
        return self.events[0].date if self.events else self.when

    def describe(self) -> str:
        why = "; ".join(str(e) for e in self.events) or "verdict changes"
        state = "passes" if self.verdict.ok else "fails"
        return f"{self.date.date().isoformat()}: {why} — the device {state} from then on"


@dataclass(frozen=True, slots=True)
class Forecast:
    """A verdict at ``start.at`` and every later change until ``until``.

    ``rotating`` lists certificates whose
    expiry is not a forecast event: the leaf and the issuing intermediates (CA
    certificates limited to path length 0), which servers replace before they expire.
    ``renewed`` lists those of them that were valid when the chain was seen sent and
    expire before ``start.at``: the server has renewed them by then, so the verdict at
    ``start.at`` ignores their dates too. ``undated`` lists the leaf and issuing
    intermediates on the path the device builds of a chain nothing dates (``renews``
    False) that expire by ``until``: judged by their dates, not taken as renewed.
    ``undated_end`` is the earliest expiry among those on that path, within the horizon
    or not (None: dated, or dates not judged): the chain is accepted no later than that
    (:func:`.gate_targets._summary`).
    """

    start: Verdict
    until: datetime
    changes: tuple[Change, ...]
    note: str
    rotating: tuple[CertEvent, ...] = ()
    renewed: tuple[CertEvent, ...] = ()
    undated: tuple[CertEvent, ...] = ()
    undated_end: datetime | None = None

    @property
    def ok_throughout(self) -> bool:
        return self.start.ok and all(c.verdict.ok for c in self.changes)

    @property
    def first_failure(self) -> Change | None:
        """When a chain passing at ``start.at`` starts to fail, as ``check``'s
        ``first_failure``: None if it never fails before ``until``, and None if it already
        fails at ``start.at`` (``start.ok`` False: a date then would read as a failure
        still to come; ``check`` dates back since when, as its ``failing_since``). One
        failing at the start that passes later and fails again has those dates in
        :attr:`changes` only."""
        if not self.start.ok:
            return None
        return next((c for c in self.changes if not c.verdict.ok), None)

    def to_dict(self) -> dict[str, object]:
        return {
            "ok_throughout": self.ok_throughout,
            "at": self.start.at.isoformat(),
            "until": self.until.isoformat(),
            "verdict": self.start.to_dict(),
            "changes": [
                {
                    "date": c.date.date().isoformat(),
                    "from": c.when.isoformat(),
                    "ok": c.verdict.ok,
                    "events": [str(e) for e in c.events],
                    "verdict": c.verdict.to_dict(),
                }
                for c in self.changes
            ],
            "rotating": [
                {"label": e.label, "expires": e.date.date().isoformat()} for e in self.rotating
            ],
            "renewed": [
                {"label": e.label, "expires": e.date.date().isoformat()} for e in self.renewed
            ],
            "note": self.note,
        }


def is_rotating(cert: Certificate, position: int) -> bool:
    """The leaf, and issuing intermediates (CA, path length 0), wherever they sit: a chain
    from a roadmap starts at an intermediate."""
    if position == 0 and not cert.is_ca:
        return True
    return cert.is_ca and cert.path_length == 0


def forecast(
    trust: TrustSet,
    chain: Sequence[Certificate],
    profile: DeviceProfile,
    *,
    at: date | datetime,
    until: datetime,
    rotate_issuing: bool = True,
    hostname: str | None = None,
    verifier: Verifier | None = None,
    seen: datetime | None = None,
    renews: bool = True,
) -> Forecast:
    """The verdict at ``at`` and each time it flips before ``until``, with the certificate
    events behind each flip.

    The verdict at ``at`` is exact (every date counts), but for a chain ``seen`` sent
    before ``at`` (captured or saved then): its leaf and issuing intermediates valid at
    ``seen`` that expire before ``at`` are renewed by the server by then (README: they
    are not forecast), so they are listed in ``renewed`` and their dates not judged. With
    ``rotate_issuing``, later instants ignore the leaf's and issuing intermediates' dates:
    servers renew those, and what a bundle owner needs to know is when the trust side
    breaks (roots, cross-signs). ``renews`` False: nothing says when the chain was sent
    (a saved chain with no capture date, which may have been saved after they expired),
    so its leaf and issuing intermediates are not taken as renewed, at ``at`` or later:
    their dates are forecast events like any other (listed in ``undated``).
    ``hostname`` is the name the unit connects to (None: not judged); ``verifier`` reuses
    one prepared for ``trust`` across many chains. Naive datetimes are UTC. Only a
    script calls this directly (check_items refuses a horizon before ``at`` first), so
    its refusal names the parameters.
    """
    at, until = as_datetime(at), as_datetime(until)
    seen = as_datetime(seen) if seen is not None else None  # naive is UTC, as at's
    if until < at:
        raise InputError(
            f"{PYTHON.until.format(until.date().isoformat())} is before "
            f"{PYTHON.at.format(at.date().isoformat())}"
        )
    verifier = verifier or Verifier(trust)
    kinds = [c for i, c in enumerate(chain) if is_rotating(c, i)]
    rotating_certs = kinds if rotate_issuing and renews else []
    rotating = tuple(
        CertEvent("expires", describe_certificate(c), c.not_after, c.sha256) for c in rotating_certs
    )
    undated = frozenset(c.der for c in rotating_certs)
    outlived = [
        c
        for c in rotating_certs
        if seen is not None and c.not_before <= seen <= c.not_after and c.not_after < at
    ]
    renewed = tuple(e for e, c in zip(rotating, rotating_certs, strict=True) if c in outlived)
    start = verifier.verify(
        chain, profile, at=at, hostname=hostname, undated=frozenset(c.der for c in outlived)
    )
    # Judged by their dates only where dates are judged: a device without a synced clock
    # never fails them on the calendar, so there is nothing to refresh or date. Only those
    # on the path the device builds: a spare certificate sent beside it (an expired R3
    # beside R11) fails nothing, so it dates nothing (the gate said "until" R3's expiry).
    built = {s.sha256 for s in start.path}
    judged = [c for c in kinds if c.sha256 in built] if built else kinds
    undated_events = tuple(
        CertEvent("expires", describe_certificate(c), c.not_after, c.sha256)
        for c in judged
        if not renews and profile.clock == "synced" and c.not_after < until
    )
    undated_end = (
        min((c.not_after for c in judged), default=None)
        if not renews and profile.clock == "synced"
        else None
    )

    if profile.clock != "synced":
        if profile.clock == "unset":
            note = (
                "This device compares dates against a clock stuck at 1970-01-01: the "
                "verdict does not depend on the calendar."
            )
        elif start.ok:
            note = (
                "This device does not check dates, so no date can break it: it keeps "
                "working until the server changes its chain (e.g. drops a cross-sign or "
                "moves to a new root) — check the CA's roadmap (--roadmap)."
            )
        else:
            note = "This device does not check dates: no date changes this verdict."
        return Forecast(start, until, (), note, rotating, renewed, undated_events, undated_end)

    # Instants where some relevant certificate enters or leaves its window.
    nodes = chain_nodes(chain)
    relevant: list[Certificate] = [c for c in chain if c.der not in undated]
    issuer_keys = {n.issuer_key for n in nodes}
    for anchor_node in verifier.index_for(profile).nodes:
        if anchor_node.subject_key in issuer_keys and anchor_node.cert is not None:
            relevant.append(anchor_node.cert)
    events: dict[datetime, list[CertEvent]] = {}
    for c in relevant:
        label = describe_certificate(c)
        if at < c.not_before <= until:
            ev = CertEvent("becomes valid", label, c.not_before, c.sha256)
            events.setdefault(c.not_before, []).append(ev)
        # A certificate valid through 9999-12-31T23:59:59 (RFC 5280's "no expiry")
        # never leaves its window: no instant after it exists.
        gone = shifted(c.not_after, SECOND)
        if gone is not None and at < gone <= until:
            ev = CertEvent("expires", label, c.not_after, c.sha256)
            events.setdefault(gone, []).append(ev)
    baseline = verifier.verify(chain, profile, at=at, undated=undated, hostname=hostname)
    # Compare like with like: the exact verdict at ``at`` may differ from ``baseline``
    # only through rotating certificates, which later instants ignore.
    prev = baseline
    # A rotating certificate sent before it is valid (a leaf issued ahead): the device
    # refuses it until then and accepts it from then; its renewals are the server's.
    early = [c for c in kinds if c.not_before > at]
    born = max((c.not_before for c in early), default=None)
    if born is not None and not start.ok and baseline.ok:
        prev = start
        for c in early:
            if c.not_before == born and born <= until:
                ev = CertEvent("becomes valid", describe_certificate(c), born, c.sha256)
                events.setdefault(born, []).append(ev)
    if len(events) > MAX_FORECAST_INSTANTS:
        raise InputError(
            f"the forecast would judge the chain at {len(events):,} dates (certificates "
            f"entering or leaving their validity), over the {MAX_FORECAST_INSTANTS} it judges",
            hint="a real chain and CA file give a few dozen: do the chain or the CA file "
            "hold many certificates with one name?",
        )
    instants = sorted(events)
    changes: list[Change] = []
    for when in instants:
        v = verifier.verify(chain, profile, at=when, undated=undated, hostname=hostname)
        if v.ok != prev.ok:
            on_path = {s.sha256 for s in (*v.path, *prev.path)}
            evs = [e for e in events[when] if e.sha256 in on_path] or events[when]
            changes.append(Change(when, v, tuple(evs)))
        prev = v

    # An undated chain refused only for a certificate sent ahead, valid only after the
    # horizon (no event flips it): it fails until then only if nothing else fails it,
    # the verdict with those dates ignored passing (as ``baseline`` tells a dated chain).
    ahead_only = (
        not (renews or changes or start.ok)
        and born is not None
        and born > until
        and verifier.verify(
            chain, profile, at=at, undated=frozenset(c.der for c in early), hostname=hostname
        ).ok
    )
    if changes:
        note = ""
    elif start.ok:
        note = (
            f"No certificate on the trust side expires or appears before "
            f"{until.date().isoformat()} in a way that changes the verdict."
        )
    elif born is not None and (prev is start or ahead_only):
        note = (
            f"A certificate the server sends is not valid before {born.date().isoformat()}, "
            f"after {until.date().isoformat()}: the chain fails until then."
        )
    else:
        note = "The chain fails throughout; no date makes it pass."
    return Forecast(
        start, until, tuple(changes), note, rotating, renewed, undated_events, undated_end
    )
