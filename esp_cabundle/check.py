"""Will my devices still connect? Targets, their chains, and the check over a horizon.

``cabundle.yaml`` names the servers a fleet talks to (:mod:`.targets`).
:func:`check_items` judges a trust set against chains (saved, captured live, or from a CA
roadmap) and returns a :class:`CheckReport`; :func:`esp_cabundle.gate.gate_ca` judges
the targets with it before any write path writes a CA.
"""

from __future__ import annotations

from collections.abc import Callable, Container, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from .anchors import anchor_certificates, intermediate_notes, intermediates, not_ca_notes
from .board_trust import board_trust
from .catalog import Catalog
from .certs import Certificate
from .chains import (
    DEFAULT_TIMEOUT,
    ServerChain,
    capture_chain,
    load_chain_file,
)
from .dates import as_datetime
from .errors import DeviceError, InputError, VerdictError
from .fileio import is_found
from .fix_hints import undated_advice
from .roadmaps import load_roadmap, roadmap_server
from .spelling import PYTHON, Spelling
from .targets import (
    CHAINS_DIR,
    ChainNotCaptured,
    Target,
    chain_file_name,
    parse_device,
    parse_targets,
    saving_hint,
)
from .text import shown_path, typed_path
from .timeline import Period, Timeline, judge_periods, unissued_note
from .trust_files import (
    DefaultFile,
    default_bundle_path,
    default_file,
    default_trust_set,
    device_trust_set,
    load_trust_set,
    trust_set_from_bytes,
)
from .verify import (
    DEFAULT_DEVICE,
    DeviceProfile,
    TrustSet,
    Verifier,
    parse_device_profile,
)

if TYPE_CHECKING:
    from .boards import Board
    from .firmware import Connection, ConnectionCa

__all__ = [
    "CHAINS_DIR",
    "CheckFailed",
    "CheckItem",
    "CheckReport",
    "DefaultFile",
    "ItemResult",
    "Target",
    "board_server_items",
    "board_trust",
    "chain_file_name",
    "check_items",
    "default_bundle_path",
    "default_file",
    "default_trust_set",
    "device_trust_set",
    "load_trust_set",
    "parse_device",
    "parse_targets",
    "roadmap_items",
    "target_items",
    "trust_set_from_bytes",
]

Progress = Callable[[str], None]


class CheckFailed(VerdictError):
    """One or more targets would not accept the bundle (exit 1). ``report`` is the whole
    verdict (each target's chain and reason, for a library caller to act on), and
    ``violations`` its failures as the CLI prints them."""

    def __init__(
        self,
        message: str,
        *,
        violations: tuple[str, ...],
        hint: str | None = None,
        report: CheckReport | None = None,
    ):
        super().__init__(message, hint=hint)
        self.violations = violations
        self.report = report


# ---------------------------------------------------------------------------------------
# Boards: the firmware's own CA, per version


def board_server_items(
    board: Board,
    device: DeviceProfile,
    *,
    connections: Sequence[tuple[Connection, ConnectionCa]] | None = None,
) -> list[CheckItem]:
    """The chains the board's own servers (or only ``connections``') send over time, where
    the firmware names the kind of server (mdash.net: Let's Encrypt's alternate chain to
    DST Root CA X3)."""
    items = []
    for conn, _ in board.connection_cas() if connections is None else connections:
        if conn.server:
            roadmap, kind = roadmap_server(conn.server)
            for item in roadmap_items(roadmap.name, device, servers=(kind.name,)):
                items.append(replace(item, name=f"{conn.name} ({item.name})"))
    return items


# ---------------------------------------------------------------------------------------
# What to check


@dataclass(frozen=True, slots=True)
class CheckItem:
    """One server to judge, for one device profile: a chain it sends (captured, saved),
    or, for a CA roadmap, the chains it sends over time (``periods``). ``what_if``
    describes a roadmap server; ``effective_from`` is when its first chain is sent."""

    name: str
    chain: ServerChain
    device: DeviceProfile
    what_if: str | None = None
    effective_from: datetime | None = None
    hostname: str | None = None
    periods: tuple[Period, ...] = ()
    renewal_days: int | None = None  # a roadmap server takes a new chain within this
    refresh: str | None = None  # a saved chain: how to save it anew ("refresh it (...)")
    given: bool = False  # a chain file the caller named (check --chain), saved for no target

    @property
    def chain_said(self) -> str:
        """How hints name the chain file, as typed: ``the chain file ca/x.pem`` for one
        the caller named (it is no target's saved chain), else ``the saved chain ...``."""
        what = "the chain file" if self.given else "the saved chain"
        return f"{what} {shown_path(self.chain.source)}"

    def schedule(self) -> tuple[Period, ...]:
        """What the server sends over time (one open period for a captured chain)."""
        return self.periods or (Period(self.chain, start=self.effective_from),)


def target_items(
    targets: Sequence[Target],
    base_dir: Path,
    *,
    device: DeviceProfile | None = None,
    default_device: DeviceProfile | None = None,
    live: bool = True,
    timeout: float = DEFAULT_TIMEOUT,
    progress: Progress | None = None,
    skip_hint: str | None = None,
    explain_offline: bool = True,
    spelling: Spelling = PYTHON,
    pulled: Container[str] | None = None,
    unreachable: list[ChainNotCaptured] | None = None,
) -> list[CheckItem]:
    """A chain per target: its saved chain if there is one, else captured live.

    ``device`` overrides every target's profile; ``default_device`` applies to targets
    that name none. When a config's target has no saved chain and the capture fails
    (offline), the error says how to save one (``explain_offline``); ``skip_hint`` adds
    the caller's way to go on without it; ``spelling``: how the hints name the options
    (see :mod:`~esp_cabundle.spelling`); ``pulled``: the names of the targets ``chains
    pull`` saves (the config's; None: all): the hint for any other names ``chains show``.
    ``unreachable``: where a failed live capture goes (a :class:`ChainNotCaptured`), its
    target left out, so the other targets are still judged (None: the failure is raised).
    """
    fallback = default_device or parse_device_profile(DEFAULT_DEVICE)
    items = []
    for t in targets:
        path = t.chain_path(base_dir)
        if t.chain is not None:
            # A chain the config names is what the target is judged on: read it, or say
            # why not; never captured live in its place.
            try:
                chain = load_chain_file(path, spelling=spelling)
            except InputError as e:
                message = f"target '{t.name}': {e.message}"
                if t.chain_origin is not None:
                    raise t.chain_origin.error(message, hint=e.hint) from e
                raise InputError(message, hint=e.hint) from e
        elif is_found(
            path,
            what=f"saved chain of target '{t.name}'",
            hint="a target's saved chain is read when present: remove it to capture one live",
        ):
            chain = load_chain_file(path, spelling=spelling)
        elif t.host and live:
            if progress:
                progress(f"capturing the chain of {t.address} ...")
            try:
                chain = capture_chain(t.host, t.port, server_name=t.sni_name, timeout=timeout)
            except DeviceError as e:
                if not explain_offline and unreachable is None:
                    raise
                failed = ChainNotCaptured(e.message, target=t.name, hint=e.hint)
                if explain_offline:
                    # Only chains pull's hint is said once for many (its folder).
                    plain = spelling.cli and not skip_hint and (pulled is None or t.name in pulled)
                    failed = ChainNotCaptured(
                        f"target '{t.name}' has no saved chain ({shown_path(path)}), and "
                        f"capturing it live failed: {e.message}",
                        target=t.name,
                        hint=saving_hint(t, path, skip_hint, pulled, spelling),
                        saved_as=path if plain else None,
                    )
                if unreachable is None:
                    raise failed from e
                unreachable.append(failed)
                continue
        elif t.host:
            raise InputError(
                f"target '{t.name}' has no saved chain ({shown_path(path)})",
                hint=saving_hint(t, path, skip_hint, pulled, spelling),
            )
        else:  # pragma: no cover - a target has a host or a chain (parse_targets)
            raise InputError(f"target '{t.name}' has neither a host nor a saved chain")
        items.append(
            CheckItem(
                t.name,
                chain,
                device or t.device or fallback,
                hostname=t.verify_name(chain),
                refresh=_refresh(t, path, pulled, spelling) if chain.source == str(path) else None,
            )
        )
    return items


def _refresh(t: Target, path: Path, pulled: Container[str] | None, spelling: Spelling) -> str:
    """How to save a target's saved chain anew, as :func:`.targets.saving_hint` says it."""
    if spelling.cli and (pulled is None or t.name in pulled):
        return f"refresh it ({spelling.pulled} anew) and commit it"
    as_typed = Path(typed_path(path))  # a config's target's path is absolute (its base_dir)
    return f"refresh it ({saving_hint(t, as_typed, None, pulled, spelling).split('; ')[0]})"


def roadmap_items(
    name: str, device: DeviceProfile, *, servers: Sequence[str] = ()
) -> list[CheckItem]:
    """A CA's server kinds (or only ``servers``), each with the chains it sends over time."""
    roadmap = load_roadmap(name)
    kinds = [roadmap.server(s) for s in servers] if servers else list(roadmap.servers)
    items = []
    for kind in kinds:
        periods = tuple(Period(s.chain, s.name, s.description, s.start, s.end) for s in kind.steps)
        items.append(
            CheckItem(
                f"{roadmap.name}: {kind.name}",
                periods[0].chain,
                device,
                what_if=kind.description,
                effective_from=periods[0].start,
                periods=periods,
                renewal_days=roadmap.renewal_days,
            )
        )
    return items


# ---------------------------------------------------------------------------------------
# The check


@dataclass(frozen=True, slots=True)
class ItemResult:
    item: CheckItem
    timeline: Timeline

    @property
    def ok(self) -> bool:
        return self.timeline.ok_throughout

    @property
    def renewal_note(self) -> str | None:
        """Why certificates of the chain that expire before the date checked did not fail
        it (:attr:`.timeline.Timeline.renewed`), and how to refresh a saved chain."""
        renewed = self.timeline.renewed
        if not renewed:
            return None
        one = len(renewed) == 1
        names = " and ".join(f"'{e.label}' ({e.date.date().isoformat()})" for e in renewed)
        text = (
            f"{names}, sent by the server, expire{'s' if one else ''} before the date "
            "checked: a server renews its certificate and issuing intermediate before they "
            f"expire, so {'its dates are' if one else 'their dates are'} not judged (renewed "
            "by the server, not forecast)"
        )
        if self.item.refresh:
            it = "it" if one else "them"
            # As typed: a config's target's chain path is absolute (its base_dir).
            text += f"; {self.item.chain_said} still holds {it}: "
            text += self.item.refresh
        return text + "."

    @property
    def undated_note(self) -> str | None:
        """Why certificates of a chain with no capture date that expire before the date
        checked, or within the horizon, were judged by their dates
        (:attr:`.timeline.Timeline.undated`), and the line that dates it, or how to
        refresh it (:func:`.fix_hints.undated_advice`)."""
        advice = undated_advice(self)
        if advice is None:
            return None
        undated = self.timeline.undated
        names = " and ".join(f"'{e.label}' ({e.date.date().isoformat()})" for e in undated)
        verb = "expires" if len(undated) == 1 else "expire"
        tl = self.timeline
        if all(e.date < tl.start.at for e in undated):
            return f"{names}, sent by the server, {verb} before the date checked: {advice}."
        by = tl.until.date().isoformat()
        return f"{names}, sent by the server, {verb} within the horizon (by {by}): {advice}."

    @property
    def chain_notes(self) -> tuple[str, ...]:
        """The renewal and undated notes there are: what every view of the verdict says
        after its explanation (text, HTML report, the write gate's notes)."""
        notes = (self.renewal_note, self.undated_note, unissued_note(self.timeline))
        return tuple(n for n in notes if n is not None)

    def to_dict(self) -> dict[str, object]:
        chain = self.item.chain
        tl = self.timeline
        since = tl.failing_since
        return {
            "name": self.item.name,
            "ok": self.ok,
            "what_if": self.item.what_if,
            "hostname": self.item.hostname,
            "effective_from": self.item.effective_from.date().isoformat()
            if self.item.effective_from
            else None,
            "source": chain.source,
            "captured_at": chain.captured_at.isoformat() if chain.captured_at else None,
            "chain": [
                {"label": c.label, "issuer": c.issuer_label, "sha256": c.sha256}
                for c in tl.period_at(tl.start.at).chain.certificates
            ],
            "sends": [
                {
                    "chain": p.name,
                    "description": p.description,
                    "from": p.start.date().isoformat() if p.start else None,
                    "until": p.end.date().isoformat() if p.end else None,
                    "certificates": [c.label for c in p.chain.certificates],
                }
                for p in self.item.periods
            ],
            "ok_throughout": tl.ok_throughout,
            "at": tl.start.at.isoformat(),
            "until": tl.until.isoformat(),
            "verdict": tl.start.to_dict(),
            "failing_since": since.to_dict() if since else None,
            "first_failure": self._first_failure(),
            "changes": [
                {
                    "date": f.date.date().isoformat(),
                    "from": f.when.isoformat(),
                    "ok": f.verdict.ok,
                    "events": list(f.causes),
                    "chain_change": f.chain_change,
                    "chain": f.period.name or None,
                    "verdict": f.verdict.to_dict(),
                }
                for f in tl.flips
            ],
            "rotating": [
                {"label": e.label, "expires": e.date.date().isoformat()} for e in tl.rotating
            ],
            "renewed": [
                {"label": e.label, "expires": e.date.date().isoformat()} for e in tl.renewed
            ],
            "renewal_note": self.renewal_note,
            "undated_note": self.undated_note,
            "unissued_note": unissued_note(tl),
            "note": tl.note,
        }

    def _first_failure(self) -> dict[str, str] | None:
        """When a target passing at the date checked starts to fail (as the text's
        "fails from then on" line): ``date`` the day of the event (a certificate's
        not-after date), ``from`` the first instant refused (mbedTLS refuses once now is
        past not-after: 23:59:59 expiring means refused from the next midnight)."""
        tl = self.timeline
        first = tl.first_failure
        if first is not None:
            why = "; ".join(first.causes) or "the verdict changes"
            return {
                "date": first.date.date().isoformat(),
                "from": first.when.isoformat(),
                "why": why,
            }
        if tl.sent_from is not None and not tl.start.ok:  # refused from its first day
            period = tl.period_at(tl.sent_from)
            why = f"servers start sending {period.name or period.chain.source}"
            return {
                "date": tl.sent_from.date().isoformat(),
                "from": tl.sent_from.isoformat(),
                "why": why,
            }
        return None


@dataclass(frozen=True, slots=True)
class CheckReport:
    """Every item's verdict (and forecast, with a horizon) for one trust set."""

    trust: TrustSet
    at: datetime
    until: datetime | None
    results: tuple[ItemResult, ...]
    notes: tuple[str, ...] = field(default=())

    @property
    def ok(self) -> bool:
        return all(r.ok for r in self.results)

    def anchors(self, catalog: Catalog) -> tuple[Certificate, ...]:
        """The trust set's CAs the tool can tell apart (:mod:`.anchors`): an ESP-IDF
        bundle entry the tool ships no certificate for is left out (counted a root)."""
        return tuple(c for c in anchor_certificates(self.trust.anchors, catalog) if c)

    @property
    def failures(self) -> tuple[ItemResult, ...]:
        return tuple(r for r in self.results if not r.ok)

    def failure_lines(self) -> tuple[str, ...]:
        lines = []
        for r in self.failures:
            tl = r.timeline
            if not tl.start.ok:
                # The line leads with the error code (so the reasons do not name it
                # again), and when it began failing is a sentence, not parentheses
                # around parentheses.
                code = tl.start.error_text
                why = tl.start.reasons
                since = tl.failing_since
                when = f" {since.describe(sentence=True)}" if since else ""
                lines.append(f"{r.item.name}: {code}: {why}{when}")
            elif tl.first_failure is not None:
                lines.append(f"{r.item.name}: {tl.first_failure.describe()}")
        return tuple(lines)

    def to_dict(self) -> dict[str, object]:
        catalog = Catalog.load()
        cas = self.anchors(catalog)
        # The text's warnings too: a count alone does not say when units go dark.
        warnings = intermediate_notes(cas, catalog, key_only=self.trust.stored_bundle)
        warnings += not_ca_notes(cas)
        return {
            "ok": self.ok,
            "trust": {
                "source": self.trust.source,
                "roots": len(self.trust),  # every CA, as before: see "intermediates"
                "intermediates": len(intermediates(cas)),
                "intermediate_warnings": list(warnings),
            },
            "at": self.at.isoformat(),
            "until": self.until.isoformat() if self.until else None,
            "results": [r.to_dict() for r in self.results],
            "notes": list(self.notes),
        }


def _refuse_undated_expiry(
    trust: TrustSet, items: Sequence[CheckItem], spelling: Spelling, built_from: str | None
) -> None:
    """A device that checks dates against a CA list (mbedTLS rules) refuses an expired
    root; an ESP-IDF bundle holds no dates, so whether its roots expire cannot be
    judged, and a check that cannot judge does not pass (as ``inspect --fail-within``
    refuses it). An ESP-IDF device's own rules never date a bundle root: judged.
    ``built_from``: how to check the roots the bundle is built from (default: the
    ca.pem beside it)."""
    if trust.has_dates:
        return
    dated = [i for i in items if i.device.rules == "mbedtls" and i.device.checks_dates]
    if dated:
        devices = sorted({i.device.name for i in dated})
        raise VerdictError(
            f"expiry cannot be judged: {trust.source or 'the trust set'} keeps names and "
            f"keys only, no dates, and {', '.join(devices)} "
            f"{'checks' if len(devices) == 1 else 'check'} the roots' dates",
            violations=tuple(f"{i.name} ({i.device.name})" for i in dated),
            hint=f"{built_from or _CA_PEM_LINE.format(spelling.bundle_for('ca.pem'))}; a "
            "device verifying with the bundle itself is "
            f"{spelling.device_for('idf-bundle')} (or idf-bundle-clock)",
        )


_CA_PEM_LINE = "check the ca.pem it was built from ({})"


def _day_or_instant(when: datetime, other: datetime) -> str:
    """The day, or the instant when ``other`` falls on the same day: ``--until
    2026-12-02`` run that afternoon read "--until 2026-12-02 is before 2026-12-02"."""
    if when.date() != other.date():
        return when.date().isoformat()
    return when.strftime("%Y-%m-%d %H:%M:%S UTC")


def check_items(
    trust: TrustSet,
    items: Sequence[CheckItem],
    *,
    at: datetime,
    until: datetime | None = None,
    notes: Sequence[str] = (),
    spelling: Spelling = PYTHON,
    now: datetime | None = None,
    built_from: str | None = None,
) -> CheckReport:
    """Judge every item at ``at`` and, with ``until``, find each date a verdict flips:
    a certificate date, or the server switching chains. A chain that already fails at
    ``at`` is dated back to when it began failing.

    A roadmap server that sends its first chain only after ``at`` is judged from then;
    with a horizon, one that starts after it is left out (and named in the notes).
    Naive datetimes are UTC; ``spelling``: how the messages name the options (see
    :mod:`~esp_cabundle.spelling`). A captured or saved chain was sent when it was
    captured: at a later ``at``, its leaf and issuing intermediates that expired in
    between count as renewed by the server (README). A chain with no capture date (a
    hand-written file without its ``# captured:`` line) was sent at ``now`` if given;
    by default that is not known, so its dates are judged as they are
    (:attr:`ItemResult.undated_note` says so).
    ``built_from``: what to do instead when an ESP-IDF bundle's undated roots cannot be
    judged by a dating device (default: check the ca.pem it was built from; the CLI
    gives a project a runnable line).
    """
    at = as_datetime(at)
    now = as_datetime(now) if now is not None else None
    until = as_datetime(until) if until is not None else None
    if until is not None and until < at:
        raise InputError(
            f"{spelling.until.format(_day_or_instant(until, at))} is before the date checked, "
            f"{_day_or_instant(at, until)}",
            hint="the horizon must end after the date checked (a date is its midnight, UTC)",
        )

    _refuse_undated_expiry(trust, items, spelling, built_from)
    verifier = Verifier(trust, spelling=spelling)
    results = []
    out_notes = [*trust.notes, *notes]
    later = []
    for item in items:
        first = item.schedule()[0].start
        if item.periods and until is not None and first is not None and first > until:
            later.append(f"{item.name} (from {first.date().isoformat()})")
            continue
        timeline = judge_periods(
            trust,
            item.schedule(),
            item.device,
            at=at,
            until=until,
            hostname=item.hostname,
            verifier=verifier,
            now=now,
        )
        results.append(ItemResult(item, timeline))
    if later:
        out_notes.append(f"not judged, sent only after the horizon: {', '.join(later)}")
    if not trust.has_dates and any(i.device.rules == "mbedtls" for i in items):
        out_notes.append(
            "the trust set is an ESP-IDF bundle (names and keys, no dates): under mbedtls "
            "rules its roots never expire; an ESP-IDF device uses "
            + spelling.device_for("idf-bundle")
        )
    return CheckReport(trust, at, until, tuple(results), tuple(out_notes))
