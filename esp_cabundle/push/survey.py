"""A dry run: read every unit's CA file and say what a push would do; write nothing."""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from ..certs import load_certificates
from ..dates import as_utc, now
from ..errors import EspCabundleError, UnitUnreachable
from ..text import byte_count
from .campaign_types import CampaignOptions, PushFile, UnitEvent, sha256_hex
from .files import INFO_METHOD, UnitFiles
from .ledger_meta import NONE_FOUND, UNKNOWN, go_dark_value, roadmap_value
from .room import room_for
from .transport import LinkLost, SilentChannel, Transport, UnitRef, silent_units

__all__ = [
    "WOULD_FINISH",
    "SurveyRow",
    "describe_roots",
    "list_roots",
    "room_for",
    "survey",
    "unsure",
]

# The states after which a real run would leave nothing to do ("unused": the firmware
# does not read the file, which no run changes; see CampaignReport.ok).
WOULD_FINISH = frozenset({"up-to-date", "would-write", "unused"})
Roadmap = tuple[datetime, str] | None  # roadmap_for's answer: check's roadmap date, kinds


@dataclass(frozen=True, slots=True)
class SurveyRow:
    """What a dry run found on one unit (nothing written anywhere)."""

    id: str
    transport: str
    state: str  # "up-to-date", "would-write", "unused", "offline", "failed"
    fw_version: str | None = None
    old_sha256: str | None = None
    error: str | None = None
    current: str | None = None  # the roots of the unit's current file, by name
    note: str | None = None  # why a unit is "unused"
    # Whether the file would fit (a would-write unit): "fits (...)", "may not fit (...)",
    # "unknown: ..."; a unit it would not fit is "failed" and says so in ``error``.
    room: str | None = None
    # Every root of the unit's current file, (label, SHA-256), for scripts: ``current``
    # is for reading ("... and 1 more"). None: not read, or no certificate readable.
    current_roots: tuple[tuple[str, str], ...] | None = None
    # The day the unit's current file stops accepting the campaign's servers, as a
    # push records it (``push status``'s goes_dark): a dry run is read to learn when
    # the fleet goes dark before anything is written. "unknown": not read or judged.
    goes_dark: str = UNKNOWN
    # Beside a past ``goes_dark``: check's roadmap date and kinds for that file
    # (``roadmap_for``), which the text's table shows as a push's paragraph says it;
    # not in --json, whose campaign facts carry the one a push keeps.
    roadmap: Roadmap = None

    def to_dict(self) -> dict[str, object]:
        out = {k: getattr(self, k) for k in self.__slots__ if k != "roadmap"}
        if self.current_roots is not None:
            out["current_roots"] = [{"label": n, "sha256": f} for n, f in self.current_roots]
        return out


def describe_roots(data: bytes | None, *, most: int = 3) -> str:
    """A unit's CA file by the roots it holds: ``DST Root CA X3 only``, ``ISRG Root X1,
    ISRG Root X2 and 1 more``, ``no CA file``, or why it cannot be read."""
    return _described(data, list_roots(data), most)


def _described(data: bytes | None, listed: tuple[tuple[str, str], ...] | None, most: int) -> str:
    """:func:`describe_roots` from the file's :func:`list_roots` (read once)."""
    if data is None:
        return "no CA file"
    if listed is None:
        return f"no certificate readable ({byte_count(len(data))})"
    labels = list(dict.fromkeys(label for label, _ in listed))
    if len(labels) == 1:
        return f"{labels[0]} only"
    shown = ", ".join(labels[:most])
    return shown if len(labels) <= most else f"{shown} and {len(labels) - most} more"


def _said(e: EspCabundleError) -> str:
    """A refusal as a dry run's table and ``--json`` show it: the hint too."""
    return e.message + (f" (hint: {e.hint})" if e.hint else "")


def list_roots(data: bytes | None) -> tuple[tuple[str, str], ...] | None:
    """Every root of a unit's CA file, (label, SHA-256), once each in file order: () for
    no file, None when no certificate is readable (``current`` says why)."""
    if data is None:
        return ()
    try:
        certs = load_certificates(data, source="the unit's CA file")
    except EspCabundleError:
        return None
    return tuple(dict.fromkeys((c.label, c.sha256) for c in certs))


def _goes_dark(options: CampaignOptions, data: bytes | None) -> tuple[str, Roadmap]:
    """A file's go-dark date as a push keeps it for the unit holding it (the campaign's
    ``record_date``): ``go_dark_for``'s, else ``deadline_for``'s date; no file: unknown;
    and, beside a past one, ``roadmap_for``'s date (as ``note_old_ca`` asks it)."""
    if data is None:
        return UNKNOWN, None
    if options.go_dark_for is not None:
        dark = go_dark_value(options.go_dark_for(data))
    else:
        when = options.deadline_for(data) if options.deadline_for is not None else None
        dark = UNKNOWN if when is None else as_utc(when).isoformat()
    past = dark not in (UNKNOWN, NONE_FOUND) and datetime.fromisoformat(dark) <= now()
    ask = options.roadmap_for if past else None
    return dark, roadmap_value(ask(data)) if ask is not None else None


def survey(
    transports: Sequence[Transport],
    push: PushFile,
    options: CampaignOptions,
    *,
    progress: Callable[[UnitEvent], None] | None = None,
    stop: threading.Event | None = None,
) -> list[SurveyRow]:
    """Read every unit's CA file and say what a push would do; writes nothing. ``stop``
    set (a Ctrl-C), as in a pass: the probe's wait ends at once, no unit is called
    silent for it, and no unit is begun: the rows of the units surveyed by then."""
    listing = [(t, ref) for t in transports for ref in t.units()]
    out: dict[str, SurveyRow] = {}
    queue = deque(listing)
    lock, judging = threading.Lock(), threading.Lock()
    darks: dict[str, tuple[str, Roadmap]] = {}  # a file's SHA-256 -> its go-dark date

    try:  # a broker lists no units: the silent ones found at once, not a timeout each
        silent = silent_units(
            [u for u in listing if u[1].online is not False],
            INFO_METHOD,
            timeout=options.timeout,
            stop=stop,
        )
    except LinkLost:
        silent = {}  # each unit's call says the link is down, as it always did

    def one(t: Transport, ref: UnitRef) -> SurveyRow:
        via = ref.transport(t.name)
        if ref.online is False:
            return SurveyRow(ref.id, via, "offline", error=f"{t.name} lists it offline")
        gone = silent.get((t.name, ref.id))
        channel = t.channel(ref.id, ref.address) if gone is None else SilentChannel(ref.id, gone)
        try:
            files = UnitFiles(
                channel,
                frame_budget=t.frame_budget,
                timeout=options.timeout,
                spelling=options.spelling,
            )
            info = files.info()
            wrong = push.wrong_board(replace(ref, via=via), info, options)
            if wrong is not None:
                return SurveyRow(ref.id, via, "failed", info.fw_version, error=_said(wrong))
            unused = push.not_read_by(info)
            if unused is not None:
                return SurveyRow(ref.id, via, "unused", info.fw_version, note=unused)
            current = files.get(push.name)
            # no CA file, but the copy a failed rename kept: the push renames it
            staged = not current and files.holds(push.temp_name, push.data)
        except UnitUnreachable as e:
            return SurveyRow(ref.id, via, "offline", error=e.message)
        except EspCabundleError as e:
            return SurveyRow(ref.id, via, "failed", error=e.message)
        finally:
            channel.close()
        old = sha256_hex(current) if current is not None else "none"
        try:
            with judging:  # each file judged once, not by every worker that meets it
                dark, road = darks.get(old) or darks.setdefault(old, _goes_dark(options, current))
        except EspCabundleError as e:  # a library caller's go_dark_for gave no date
            return SurveyRow(ref.id, via, "failed", info.fw_version, old, error=_said(e))
        listed = list_roots(current)
        roots = _described(current, listed, 3)
        if current == push.data:
            return SurveyRow(
                ref.id, via, "up-to-date", info.fw_version, old, current=roots,
                current_roots=listed, goes_dark=dark, roadmap=road,
            )  # fmt: skip
        fits, room = room_for(
            push, current, info.fs_free, in_place=options.in_place, size=info.fs_size
        )
        if staged:
            fits, room = (
                True,
                (
                    f"fits ({push.temp_name}, left by an earlier run, holds this file: renamed "
                    f"onto {push.name} as it is, no second copy written)"
                ),
            )
        if fits is False:
            return SurveyRow(
                ref.id, via, "failed", info.fw_version, old, error=f"would fail: {room}",
                current=roots, current_roots=listed, room=room, goes_dark=dark, roadmap=road,
            )  # fmt: skip
        return SurveyRow(
            ref.id,
            via,
            "would-write",
            info.fw_version,
            old,
            current=roots,
            current_roots=listed,
            room=room,
            goes_dark=dark,
            roadmap=road,
        )

    def worker() -> None:
        while True:
            with lock:
                if not queue or (stop is not None and stop.is_set()):
                    return
                t, ref = queue.popleft()
            row = one(t, ref)
            with lock:
                out.setdefault(ref.id, row)
            if progress is not None:
                progress(UnitEvent(ref.id, row.state, row.error or "", final=True))

    n = max(1, min(options.concurrency, len(listing)))
    threads = [threading.Thread(target=worker, daemon=True) for _ in range(n)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    seen: set[str] = set()
    rows = []
    for _, ref in listing:
        if ref.id in out and ref.id not in seen:
            seen.add(ref.id)
            rows.append(out[ref.id])
    return rows


def unsure(rows: Sequence[SurveyRow]) -> list[SurveyRow]:
    """The would-write units a dry run cannot promise: whether the file fits is not
    known (the unit does not report its free space, or it is tight). A verdict that a
    push would finish every unit holds only for the others."""
    return [r for r in rows if r.state == "would-write" and not (r.room or "").startswith("fits")]
