"""The campaign: put one CA file on every unit a fleet link reaches, verified, recorded.

Written once over :class:`~.transport.Transport` and :class:`~.files.UnitFiles`. For
each unit, holding its ledger lease:

1. ``Sys.GetInfo`` (firmware version; an unreachable unit is recorded ``offline``; one
   that reports another board's firmware is recorded ``failed``, not written);
2. read the CA file; identical to the new one -> ``up-to-date``; a unit whose reported
   free space cannot hold the new file (:func:`~.room.room_for`) is ``failed``, unwritten;
3. ``writing``: staged, read back, renamed onto the CA path (:mod:`.campaign_write`);
4. ``verified``; with ``reboot``: ``rebooted``, then ``reconnected`` (ditto).

Over a link that cannot list its units as on or off (an MQTT broker), a pass first
asks every unit step 1's call at once: the silent ones cost one timeout together, and
a broker lost stops the pass, the units not begun left as they were (:meth:`_Run.probed`).

A unit whose firmware does not read the file (mDash 1.2.16: a built-in CA) is recorded
``unused`` with the reason and left as it is: the file would not protect it. A unit that
fails is tried again by a watching run on later passes, each wait twice the last (from
``poll`` up to an hour, or ``poll`` when longer), except a unit refused for running
another board's firmware: waiting cannot change that, so it is refused once a run.

A run killed at any point leaves each unit holding the old or the new file whole (the
live file only changes by rename) and the ledger consistent; the next run reads the
unit again and finishes. What a campaign takes and reports is in :mod:`.campaign_types`
(re-exported here).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone

from ..dates import as_utc
from ..errors import EspCabundleError, UnitRpcError, UnitUnreachable
from ..redact import redact
from ..text import byte_count
from .campaign_arguments import check_campaign_arguments
from .campaign_types import CampaignOptions, CampaignReport, PushFile, UnitEvent, sha256_hex
from .campaign_write import UnitWriter
from .files import INFO_METHOD, UnitFiles
from .ledger import FINAL_STATES, LeaseLost, Ledger, UnitRow
from .ledger_meta import (
    DARK_KEY,
    JUDGED_KEY,
    NOTHING_JUDGED,
    ROADMAP_KEY,
    ROADMAP_WHY_KEY,
    go_dark_value,
    roadmap_value,
)
from .ledger_schema import PROGRESS
from .refusals import out_of_space
from .room import room_for
from .rpc import RpcChannel
from .transport import LinkLost, SilentChannel, Transport, UnitRef, silent_units

__all__ = [
    "CampaignOptions",
    "CampaignReport",
    "PushFile",
    "UnitEvent",
    "out_of_space",
    "run_campaign",
    "sha256_hex",
]

log = logging.getLogger(__name__)

# States a run picks a unit up from (done states only to reboot a verified unit).
_WORK_STATES = frozenset({"pending", "offline", "writing", "rebooted", "failed"})
_RETRY_CAP = 3600.0  # the longest wait before a failed unit is tried again (or ``poll``)


def _now_utc() -> datetime:
    return datetime.now(timezone.utc)


@dataclass
class _Run:
    transports: Sequence[Transport]
    push: PushFile
    ledger: Ledger
    options: CampaignOptions
    progress: Callable[[UnitEvent], None] | None
    stop: threading.Event
    deadline: datetime | None = None
    failing_since: datetime | None = None
    roadmap: tuple[datetime, str] | None = None  # beside failing_since: roadmap_for's
    notes: list[str] = field(default_factory=list)
    _deadlines: dict[str, datetime | None] = field(default_factory=dict)
    _failures: dict[str, int] = field(default_factory=dict)
    _retry_at: dict[str, float] = field(default_factory=dict)
    # Units refused for what waiting cannot change (firmware of another board): tried
    # once a run, then left "failed" with that refusal, not asked again each pass.
    _settled: set[str] = field(default_factory=set)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    # The link (an MQTT broker) lost during this pass: the pass stops there, units not
    # yet begun are left as they were, with no attempt counted (a unit mid-update was
    # already charged its attempt; its state stays).
    lost: LinkLost | None = None
    writer: UnitWriter = field(init=False)  # steps 3 and 4: the write, the reboot
    # Units listed whose older release's row a running campaign leases (masked URL):
    # this run's ids, waited for as a unit held elsewhere (:meth:`.Ledger.retake_held`).
    held: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.writer = UnitWriter(self.push, self.ledger, self.options, self.stop, self.emit)

    def emit(
        self, unit: str, state: str, text: str = "", *, final: bool = False, passed: bool = False
    ) -> None:
        if self.progress is not None:
            self.progress(UnitEvent(unit, state, text, final, passed))

    # -- listing ------------------------------------------------------------------------

    def listing(self) -> list[tuple[Transport, UnitRef]]:
        """Every unit the transports reach, once. A unit reached at an address keeps
        the ledger row of the device id it reported there before."""
        out: list[tuple[Transport, UnitRef]] = []
        seen: dict[str, str] = {}
        held = self.ledger.retake_held()  # a lease ended since: masked now, taken up
        for t in self.transports:
            for ref in t.units():
                address = ref.address
                if held and (ref.id in held or address in held):
                    # an older release's row for it, leased: that run's (bind said); not
                    # enrolled masked (a second row), waited for as a unit held elsewhere
                    key = ref.id if ref.id in held else str(address)
                    if key not in self.held:
                        self.held.append(key)
                    continue
                if address is not None:
                    if ref.id == address:
                        known = self.ledger.known_at(address)
                        ref = UnitRef(known, ref.online, address) if known else ref
                    elif not self.ledger.adopt(ref.id, address):
                        continue  # another process holds the row kept under the address
                if ref.id in seen:
                    self.note(f"unit {ref.id} is listed by {seen[ref.id]} and {t.name}: once")
                    continue
                seen[ref.id] = t.name
                out.append((t, ref))
            for text in t.notes():
                self.note(text)
        return out

    def note(self, text: str) -> None:
        if text not in self.notes:
            self.notes.append(text)

    def wanted(self, row: UnitRow) -> bool:
        if row.id in self._settled:
            return False  # a watch neither retries it nor waits for it
        if row.state == "verified":
            return self.options.reboot
        return row.state not in FINAL_STATES

    # -- one pass -----------------------------------------------------------------------

    def run_pass(self, listing: list[tuple[Transport, UnitRef]]) -> None:
        by_id = {ref.id: (t, ref) for t, ref in listing}
        rows = {r.id: r for r in self.ledger.rows(list(by_id))}
        queue: deque[tuple[Transport, UnitRef]] = deque()
        clock = time.monotonic()
        for uid, (t, ref) in by_id.items():
            row = rows.get(uid)
            if row is None or not self.wanted(row) or self._retry_at.get(uid, 0.0) > clock:
                if row is not None:
                    self.emit(uid, row.state, final=True, passed=True)
                continue
            if ref.online is False:
                if self.ledger.mark_offline(uid, f"{t.name} lists the unit as offline"):
                    self.emit(uid, "offline", "listed offline", final=True)
                continue
            queue.append((t, ref))
        self.lost = None
        queue = self.probed(queue)
        lock = threading.Lock()
        failed: list[BaseException] = []

        def worker() -> None:
            try:
                while not self.stop.is_set() and not failed and self.lost is None:
                    with lock:
                        if not queue:
                            return
                        t, ref = queue.popleft()
                    state = self.work_on(t, ref)
                    self.schedule(ref.id, failed=state == "failed")
            except BaseException as e:  # the ledger failing (a damaged page): end the pass
                failed.append(e)

        n = max(1, min(self.options.concurrency, len(queue)))
        threads = [threading.Thread(target=worker, daemon=True) for _ in range(n)]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        if failed:
            raise failed[0]

    def probed(self, queue: deque[tuple[Transport, UnitRef]]) -> deque[tuple[Transport, UnitRef]]:
        """The units of ``queue`` that answer: a transport that cannot list its units as
        on or off (MQTT) asks all of them the first call at once, and the silent ones
        are recorded as a first call unanswered would be (attempt, state, error), here,
        in one timeout in all, instead of one timeout each, ``concurrency`` at a time.
        The link lost meanwhile, or ``stop`` set (a Ctrl-C ends the wait): nothing
        recorded, none left to work on."""
        if self.stop.is_set():
            return deque()
        try:
            silent = silent_units(queue, INFO_METHOD, timeout=self.options.timeout, stop=self.stop)
        except LinkLost as e:
            self.lost = e
            return deque()
        if self.stop.is_set():
            return deque()
        for t, ref in queue:
            gone = silent.get((t.name, ref.id))
            if gone is not None and not self.stop.is_set():
                state = self.work_on(t, ref, SilentChannel(ref.id, gone))
                self.schedule(ref.id, failed=state == "failed")
        return deque((t, ref) for t, ref in queue if (t.name, ref.id) not in silent)

    def schedule(self, uid: str, *, failed: bool) -> None:
        """A failed unit waits before its next try: ``poll``, then twice as long each
        time, up to an hour (or ``poll`` when that is longer)."""
        with self._lock:
            if not failed:
                self._failures.pop(uid, None)
                self._retry_at.pop(uid, None)
                return
            n = self._failures.get(uid, 0) + 1
            self._failures[uid] = n
            poll = self.options.poll
            wait = min(poll * 2 ** (n - 1), max(poll, _RETRY_CAP))
            # just under the wait: the pass that comes after ``wait`` seconds takes it
            self._retry_at[uid] = time.monotonic() + wait * 0.9

    def work_on(
        self, transport: Transport, ref: UnitRef, channel: RpcChannel | None = None
    ) -> str | None:
        """Update one unit, holding its lease; ``channel``: the one to use instead of
        the transport's (a unit silent in the pass's probe)."""
        uid = ref.id
        states = _WORK_STATES | ({"verified"} if self.options.reboot else set())
        row = self.ledger.claim(uid, states)
        if row is None:
            return None  # done meanwhile, or another process holds it
        state = row.state
        try:
            channel = channel or transport.channel(uid, ref.address)
            try:
                files = UnitFiles(
                    channel,
                    frame_budget=transport.frame_budget,
                    timeout=self.options.timeout,
                    spelling=self.options.spelling,
                )
                state = self.update(files, row)
            finally:
                channel.close()
        except LeaseLost:
            log.warning("unit %s: lease lost to another process; left to it", uid)
            return None
        except LinkLost as e:  # not the unit's doing: its state stays, the pass stops
            with self._lock:
                self.lost = self.lost or e
            now = self.ledger.row(uid)
            state = now.state if now is not None else row.state
            self.safe_record(uid, error=e.message)
            self.emit(uid, state, e.message, final=True)
            return None
        except UnitUnreachable as e:
            state = row.state if row.state in ("writing", "rebooted") else "offline"
            state = self.current_state(uid, state)
            self.safe_record(uid, state=state, error=e.message)
            self.emit(uid, state, e.message, final=True)
        except EspCabundleError as e:
            state = "failed"
            text = e.message + (f" (hint: {e.hint})" if e.hint else "")
            self.safe_record(uid, state=state, error=text)
            self.emit(uid, state, e.message, final=True)
        except Exception as e:  # a bug must not kill the worker or leave the row silent
            log.exception("unit %s: unexpected error", uid)
            state = "failed"
            text = redact(f"internal error: {type(e).__name__}: {e}")[:300]
            self.safe_record(uid, state=state, error=text)
            self.emit(uid, state, text, final=True)
        finally:
            try:
                self.ledger.release(uid)
            except Exception:  # pragma: no cover - the ledger's own failure is reported
                log.exception("unit %s: could not release the lease", uid)
        return state

    def current_state(self, uid: str, fallback: str) -> str:
        """A unit that went away after ``writing`` began stays ``writing``."""
        row = self.ledger.row(uid)
        if row is not None and row.state in ("writing", "rebooted"):
            return row.state
        return fallback

    def safe_record(self, uid: str, **kw: object) -> None:
        try:
            self.ledger.record(uid, **kw)  # type: ignore[arg-type]
        except LeaseLost:
            log.warning("unit %s: lease lost before recording %s", uid, kw.get("state"))

    # -- one unit -----------------------------------------------------------------------

    def update(self, files: UnitFiles, row: UnitRow) -> str:
        uid, push = row.id, self.push
        self.ledger.record(uid, attempt=True)
        info = files.info()
        self.ledger.record(uid, fw_version=info.fw_version, seen=True)
        ref = UnitRef(uid, address=row.address, via=row.transport)
        wrong = push.wrong_board(ref, info, self.options)
        if wrong is not None:
            with self._lock:
                self._settled.add(uid)
            raise wrong  # recorded "failed", with the board that fits in the hint
        unused = push.not_read_by(info)
        if unused is not None:
            self.ledger.record(uid, state="unused", note=unused, clear_error=True)
            self.emit(uid, "unused", unused, final=True)
            return "unused"
        self.emit(uid, row.state, "reading the CA file")
        current = files.get(push.name)
        if current is not None and current != push.data:
            self.note_old_ca(current)
        if current == push.data:
            ours = row.state in ("writing", "verified", "rebooted")
            if row.state == "writing":
                self.writer.forget_temp(files)
            state = "verified" if ours else "up-to-date"
            old = None if ours else push.sha256
            self.ledger.record(
                uid, state=state, old_sha256=old, new_sha256=push.sha256, clear_error=True,
                clear_note=True,
            )  # fmt: skip
        else:
            staged = self.writer.staged_copy(files, row.state, current)
            fits, room = room_for(
                push, current, info.fs_free, in_place=self.options.in_place, size=info.fs_size
            )
            old_sha = sha256_hex(current) if current is not None else "none"
            if fits is False and not staged:  # it would fail: the unit is left as it is
                # the file it keeps, read: status tells when that unit goes dark
                self.ledger.record(uid, old_sha256=old_sha)
                raise UnitRpcError(
                    f"unit {uid}: out of space on the unit: {room}; not written",
                    hint=self.writer.room_hint(current, info.fs_free),
                )
            self.ledger.record(
                uid, state="writing", old_sha256=old_sha, new_sha256=push.sha256,
                clear_error=True, clear_note=True,
            )  # fmt: skip
            self.emit(uid, "writing", byte_count(len(push.data)))  # the bar: "writing 13,470 bytes"
            try:
                how = self.writer.write_verified(files, current, staged=staged)
            except UnitRpcError as e:
                raise self.writer.after_failed_write(files, e, current, info.fs_free) from None
            state = "verified"
            self.ledger.record(uid, state=state, note=how)
            if how is not None:
                self.emit(uid, state, how)
        if state == "verified" and self.options.reboot:
            return self.writer.reboot(files, info)
        self.emit(uid, state, final=True)
        return state

    # -- the deadline -------------------------------------------------------------------

    def note_old_ca(self, old: bytes) -> None:
        if self.options.deadline_for is None:
            return
        key = sha256_hex(old)
        with self._lock:
            if key in self._deadlines:
                return
            self._deadlines[key] = None
        when = self.options.deadline_for(old)
        failing = when is not None and when <= _now_utc()
        ask = self.options.roadmap_for if failing else None
        roadmap = roadmap_value(ask(old)) if ask is not None else None  # before any write
        self.record_date(key, old, when)
        with self._lock:
            self._deadlines[key] = when
            if when is None:
                return
            if failing:  # already failing: says nothing of when the watch ends
                if self.failing_since is None or when < self.failing_since:
                    self.failing_since = when
                    self.record_failing(when, roadmap)
            elif self.deadline is None or when < self.deadline:
                self.deadline = when
                self.ledger.set_meta("deadline", ledger_instant(when))

    def record_failing(self, when: datetime, roadmap: tuple[datetime, str] | None) -> None:
        """Keep ``failing_since`` and the roadmap's date beside it, in one transaction
        (a crash between them left one file's date beside another's): the earliest
        file's, or none (an earlier file's left beside this one's date would be another
        chain's)."""
        self.roadmap = roadmap
        facts = {"failing_since": ledger_instant(when)}
        if roadmap is None:
            self.ledger.set_metas(facts, delete=(ROADMAP_KEY, ROADMAP_WHY_KEY))
        else:
            facts[ROADMAP_KEY] = ledger_instant(roadmap[0])
            facts[ROADMAP_WHY_KEY] = roadmap[1]
            self.ledger.set_metas(facts)

    def record_date(self, sha256: str, data: bytes, when: datetime | None) -> None:
        """Keep the date a CA file goes dark, for ``push status``'s per-unit dates."""
        if self.options.go_dark_for is not None:
            value = go_dark_value(self.options.go_dark_for(data))
        elif when is not None:
            value = ledger_instant(when)
        else:
            return  # never, or not judged: unknown
        self.ledger.set_meta(DARK_KEY + sha256, value)


def ledger_instant(when: datetime) -> str:
    """The one form the ledger's row check reads back (UTC, +00:00): a library caller's
    date of another zone, or naive (UTC), is converted rather than kept as given."""
    return as_utc(when).isoformat()


def run_campaign(
    transports: Sequence[Transport],
    push: PushFile,
    ledger: Ledger,
    options: CampaignOptions,
    *,
    progress: Callable[[UnitEvent], None] | None = None,
    stop: threading.Event | None = None,
    on_listing: Callable[[int], None] | None = None,
    on_skipped: Callable[[LinkLost], None] | None = None,
) -> CampaignReport:
    """Push ``push`` to every unit the transports list, recording each in ``ledger``.

    One pass without ``options.watch``; with it, passes every ``options.poll`` seconds
    (units listed anew each time) until every unit is done, ``options.until`` passes,
    or the forecast deadline of the units' old CA file passes. ``on_skipped``: a watch's
    pass skipped, its listing finding the link lost (no unit called, so no progress
    event says it); the next ``on_listing`` finds it back.
    """
    # a library caller's types, before the ledger is bound (its CA and board written)
    callbacks = {"progress": progress, "on_listing": on_listing, "on_skipped": on_skipped}
    transports = check_campaign_arguments(transports, push, ledger, options, callbacks, stop)
    run = _Run(transports, push, ledger, options, progress, stop or threading.Event())
    meta = ledger.bind(ca_sha256=push.sha256, board=push.board, ca_path=push.name)
    for line in ledger.masking.said(ledger.path):  # the file changed: the report says so
        run.note(line)
    if meta.get("deadline"):
        known = datetime.fromisoformat(meta["deadline"])
        run.deadline = known if known > _now_utc() else None
        if known <= _now_utc():
            run.failing_since = known  # it passed while no run was watching
    if meta.get("failing_since"):
        run.failing_since = datetime.fromisoformat(meta["failing_since"])
        if meta.get(ROADMAP_KEY) and meta.get(ROADMAP_WHY_KEY):
            run.roadmap = datetime.fromisoformat(meta[ROADMAP_KEY]), meta[ROADMAP_WHY_KEY]
    passes = 0
    ids: list[str] = []
    listed: set[str] = set()  # ids', for a test per unit that does not read the whole list
    ended: datetime | None = None
    while True:
        try:
            listing = run.listing()
        except LinkLost as e:  # the link gone since the last listing (mDash's API)
            if not passes:
                raise  # nothing listed in this run: its first listing's failure, exit 3
            run.lost = e  # a watch's pass skipped: the units are left as they are
            if on_skipped is not None:
                on_skipped(e)
            if run.stop.wait(_outage_wait(options, run)):
                break
            end = options.until or run.deadline
            if end is not None and _now_utc() >= end:
                ended = end
                break
            continue
        ledger.enroll((ref.id, ref.transport(t.name), ref.address) for t, ref in listing)
        if not passes and (options.go_dark_for or options.deadline_for) is not None:
            # The file updated units hold: its date too (once the rows read whole).
            when = None if options.deadline_for is None else options.deadline_for(push.data)
            run.record_date(push.sha256, push.data, when)
        against = options.judged_against
        if against == NOTHING_JUDGED and meta.get(JUDGED_KEY) not in (None, NOTHING_JUDGED):
            # A run judging nothing keeps the servers an earlier run named: the dates it
            # kept (and failing_since) were judged against them, and stay.
            against = None
        if not passes and against is not None:  # as the dates: rows read
            ledger.set_meta(JUDGED_KEY, against)
        for uid in [ref.id for _, ref in listing] + run.held:
            if uid not in listed:
                listed.add(uid)
                ids.append(uid)
        if on_listing is not None:
            on_listing(len(ids))
        run.run_pass(listing)
        passes += 1
        if run.lost is not None and not options.watch:
            break  # the broker is gone: the next run takes the units left
        # Units another process is working on: its outcome is this run's outcome too.
        # So are those whose older release's row it leases: masked once it lets go.
        while (ledger.held_elsewhere(ids) or listed & ledger.retake_held()) and not run.stop.wait(
            0.2
        ):
            pass
        rows = [r for r in ledger.rows(ids)]
        if not options.watch or run.stop.is_set() or all(not run.wanted(r) for r in rows):
            break
        end = options.until or run.deadline
        if end is not None and _now_utc() >= end:
            ended = end
            break
        wait = options.poll
        if end is not None:
            wait = min(wait, max(0.0, (end - _now_utc()).total_seconds()))
        if run.stop.wait(wait):
            break
    report = CampaignReport(
        _report_rows(ledger, ids),
        options.reboot,
        run.deadline,
        passes,
        run.stop.is_set(),
        run.failing_since,
        tuple(run.notes),
        ended,
        (run.lost.link, run.lost.at) if run.lost is not None else None,
        run.roadmap,
    )
    if report.stopped and report.rows and report.ok:
        # The stop came once every unit was done: it left nothing undone, so the run is
        # done (exit 0), as a late Ctrl-C is for flash; "Interrupted: 0 units not done"
        # and exit 130 said otherwise. No unit listed: the stop may have cut the listing.
        report = replace(report, stopped=False)
    return report


def _outage_wait(options: CampaignOptions, run: _Run) -> float:
    """A watch's wait after a pass its link's loss skipped: ``poll``, not past its end."""
    end = options.until or run.deadline
    if end is None:
        return options.poll
    return min(options.poll, max(0.0, (end - _now_utc()).total_seconds()))


def _report_rows(ledger: Ledger, ids: list[str]) -> tuple[UnitRow, ...]:
    """The rows of ``ids`` as outputs show them (no stored URL's query values). A unit
    still held by the campaign leasing its older release's row (a run stopped while
    waiting for it) is there too, as that row, the least far on of several, says."""
    found = {r.id: r.shown() for r in ledger.rows(ids)}
    missing = set(ids) - set(found)
    if missing:
        for r in ledger.rows():
            shown = r.shown()
            had = found.get(shown.id)
            if shown.id in missing and (had is None or _ahead(had, shown)):
                found[shown.id] = replace(
                    shown, note="left to the running campaign that leases its row"
                )
    return tuple(found[i] for i in ids if i in found)


def _ahead(a: UnitRow, b: UnitRow) -> bool:
    return PROGRESS.get(a.state, -1) > PROGRESS.get(b.state, -1)
