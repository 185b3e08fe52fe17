"""The campaign: put one CA file on every unit a fleet link reaches, verified, recorded.

Written once over :class:`~.transport.Transport` and :class:`~.files.UnitFiles`. For
each unit, holding its ledger lease:

1. ``Sys.GetInfo`` (firmware version; an unreachable unit is recorded ``offline``);
2. read the CA file; identical to the new one -> ``up-to-date``;
3. ``writing``: put the file to ``<ca>.new`` in frames that fit, read it back and
   compare SHA-256, then ``FS.Rename`` it onto the CA path (LittleFS replaces
   atomically; SPIFFS removes then renames); a unit without ``FS.Rename`` gets the CA
   path written directly (one frame when it fits). The CA path is read back and
   compared; a mismatch is retried once at once while the unit is connected;
4. ``verified``; with ``reboot``: ``Sys.Reboot``, ``rebooted``, then wait until the
   unit answers again from a new boot and still holds the file: ``reconnected``.

A run killed at any point leaves each unit holding the old or the new file whole (the
live file only changes by rename) and the ledger consistent; the next run reads the
unit again and finishes.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING

from ..errors import EspCabundleError, InputError, UnitRpcError, UnitUnreachable
from ..gate import GatedCA
from .files import UnitFiles, UnitInfo, device_name
from .ledger import DONE_STATES, LeaseLost, Ledger, UnitRow
from .rpc import is_unknown_method
from .transport import Transport, UnitRef

if TYPE_CHECKING:
    from ..boards import Board

__all__ = [
    "CampaignOptions",
    "CampaignReport",
    "PushFile",
    "SurveyRow",
    "UnitEvent",
    "run_campaign",
    "survey",
]

log = logging.getLogger(__name__)

# States a run picks a unit up from (done states only to reboot a verified unit).
_WORK_STATES = frozenset({"pending", "offline", "writing", "rebooted", "failed"})
_REBOOT_POLL = 1.0


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass(frozen=True, slots=True)
class PushFile:
    """The CA file a campaign puts on the units: a :class:`~esp_cabundle.gate.GatedCA`
    gated for the units' board, never raw bytes. It goes to the board's CA path (named as
    the RPC services take it, e.g. ``ca.pem``), staged first at ``<name>.new``."""

    ca: GatedCA
    name: str = field(init=False)
    board: str = field(init=False)

    def __post_init__(self) -> None:
        if not isinstance(self.ca, GatedCA):
            raise TypeError("a PushFile carries a GatedCA (esp_cabundle.gate.gate_ca), not bytes")
        board = self.ca.board
        if board is None or board.filesystem is None:
            judged = f"board {board.name}, which has no CA file" if board else "no board"
            raise InputError(
                f"the CA was gated for {judged}: there is no file on the units to replace",
                hint="gate it for the board of the units (gate_ca(..., board=...))",
            )
        object.__setattr__(self, "name", device_name(board.filesystem.ca_path))
        object.__setattr__(self, "board", board.name)

    @classmethod
    def for_board(cls, ca: GatedCA, board: Board) -> PushFile:
        """The push of ``ca`` to units of ``board``; InputError when it was gated for
        another board (its rules did not judge it)."""
        ca.for_board(board)
        return cls(ca)

    @property
    def data(self) -> bytes:
        """The bytes each unit's CA file will hold."""
        return self.ca.pem

    @property
    def sha256(self) -> str:
        return self.ca.sha256

    @property
    def temp_name(self) -> str:
        return self.name + ".new"


@dataclass(frozen=True, slots=True)
class CampaignOptions:
    concurrency: int = 8
    timeout: float = 10.0
    reboot: bool = False
    reconnect_timeout: float = 120.0
    watch: bool = False
    until: datetime | None = None  # watch no later than this (UTC wall clock)
    poll: float = 60.0
    # Given an old CA file found on a unit, the date it stops working (the forecast of
    # the units' connection), or None: a watch without ``until`` ends there.
    deadline_for: Callable[[bytes], datetime | None] | None = None


@dataclass(frozen=True, slots=True)
class UnitEvent:
    """Progress: a unit changed state (``final`` when this run is through with it)."""

    unit: str
    state: str
    text: str = ""
    final: bool = False


@dataclass(frozen=True, slots=True)
class CampaignReport:
    rows: tuple[UnitRow, ...]  # the units listed in this run, in listing order
    reboot: bool
    deadline: datetime | None
    passes: int
    stopped: bool = False  # interrupted

    def is_done(self, row: UnitRow) -> bool:
        return row.state in ("up-to-date", "reconnected") or (
            row.state == "verified" and not self.reboot
        )

    @property
    def ok(self) -> bool:
        return all(self.is_done(r) for r in self.rows)

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for r in self.rows:
            out[r.state] = out.get(r.state, 0) + 1
        return out


class _Mismatch(UnitRpcError):
    """The file read back is not the file written."""


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
    _deadlines: dict[str, datetime | None] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def emit(self, unit: str, state: str, text: str = "", *, final: bool = False) -> None:
        if self.progress is not None:
            self.progress(UnitEvent(unit, state, text, final))

    # -- listing ------------------------------------------------------------------------

    def listing(self) -> list[tuple[Transport, UnitRef]]:
        out: list[tuple[Transport, UnitRef]] = []
        seen: set[str] = set()
        for t in self.transports:
            for ref in t.units():
                if ref.id not in seen:
                    seen.add(ref.id)
                    out.append((t, ref))
        return out

    def wanted(self, row: UnitRow) -> bool:
        if row.state == "verified":
            return self.options.reboot
        return row.state not in DONE_STATES

    # -- one pass -----------------------------------------------------------------------

    def run_pass(self, listing: list[tuple[Transport, UnitRef]], skip: set[str]) -> None:
        by_id = {ref.id: (t, ref) for t, ref in listing}
        rows = {r.id: r for r in self.ledger.rows(list(by_id))}
        queue: deque[tuple[Transport, str]] = deque()
        for uid, (t, ref) in by_id.items():
            row = rows.get(uid)
            if row is None or not self.wanted(row) or uid in skip:
                if row is not None:
                    self.emit(uid, row.state, final=True)
                continue
            if ref.online is False:
                if self.ledger.mark_offline(uid, f"{t.name} lists the unit as offline"):
                    self.emit(uid, "offline", "listed offline", final=True)
                continue
            queue.append((t, uid))
        lock = threading.Lock()

        def worker() -> None:
            while not self.stop.is_set():
                with lock:
                    if not queue:
                        return
                    t, uid = queue.popleft()
                state = self.work_on(t, uid)
                if state == "failed":
                    skip.add(uid)  # not again in this run; a later run tries again

        n = max(1, min(self.options.concurrency, len(queue)))
        threads = [threading.Thread(target=worker, daemon=True) for _ in range(n)]
        for th in threads:
            th.start()
        for th in threads:
            th.join()

    def work_on(self, transport: Transport, uid: str) -> str | None:
        states = _WORK_STATES | ({"verified"} if self.options.reboot else set())
        row = self.ledger.claim(uid, states)
        if row is None:
            return None  # done meanwhile, or another process holds it
        state = row.state
        try:
            channel = transport.channel(uid)
            try:
                files = UnitFiles(
                    channel, frame_budget=transport.frame_budget, timeout=self.options.timeout
                )
                state = self.update(files, row)
            finally:
                channel.close()
        except LeaseLost:
            log.warning("unit %s: lease lost to another process; left to it", uid)
            return None
        except UnitUnreachable as e:
            state = row.state if row.state in ("writing", "rebooted") else "offline"
            state = self.current_state(uid, state)
            self.safe_record(uid, state=state, error=e.message)
            self.emit(uid, state, e.message, final=True)
        except EspCabundleError as e:
            state = "failed"
            self.safe_record(uid, state=state, error=e.message)
            self.emit(uid, state, e.message, final=True)
        except Exception as e:  # a bug must not kill the worker or leave the row silent
            log.exception("unit %s: unexpected error", uid)
            state = "failed"
            text = f"internal error: {type(e).__name__}: {e}"[:300]
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
        self.emit(uid, row.state, "reading the CA file")
        current = files.get(push.name)
        if current is not None and current != push.data:
            self.note_old_ca(current)
        if current == push.data:
            ours = row.state in ("writing", "verified", "rebooted")
            if row.state == "writing":
                self.forget_temp(files)
            state = "verified" if ours else "up-to-date"
            old = None if ours else push.sha256
            self.ledger.record(
                uid, state=state, old_sha256=old, new_sha256=push.sha256, clear_error=True
            )
        else:
            old_sha = sha256_hex(current) if current is not None else "none"
            self.ledger.record(
                uid, state="writing", old_sha256=old_sha, new_sha256=push.sha256, clear_error=True
            )
            self.emit(uid, "writing", f"writing {len(push.data)} bytes")
            self.write_verified(files)
            state = "verified"
            self.ledger.record(uid, state=state)
        if state == "verified" and self.options.reboot:
            return self.reboot(files, info)
        self.emit(uid, state, final=True)
        return state

    def write_verified(self, files: UnitFiles) -> None:
        """Stage, read back, rename (then check the renamed file's size and tail); a
        unit that turns out to have no ``FS.Rename`` is written in place and read back
        whole. Every firmware examined has ``FS.Rename``, so it is tried first."""
        push = self.push
        use_rename = True
        tries = 0
        while True:
            tries += 1
            if use_rename:
                files.put(push.temp_name, push.data)
                if files.get(push.temp_name) == push.data:
                    self.ledger.renew(files.unit_id)
                    try:
                        files.rename(push.temp_name, push.name)
                    except UnitRpcError as e:
                        if not is_unknown_method(e):
                            raise
                        use_rename = False  # no FS.Rename: write in place
                        self.forget_temp(files)
                        tries -= 1
                        continue
                    if files.ends_with(push.name, push.data):
                        return
            else:
                files.put(push.name, push.data)
                if files.get(push.name) == push.data:
                    return
            if tries >= 2:
                raise _Mismatch(
                    f"unit {files.unit_id}: the file read back differs from the file written, "
                    "twice",
                    hint="the unit's file system may be failing; update it on the bench",
                )
            log.info("unit %s: read-back mismatch; writing again", files.unit_id)
            self.ledger.renew(files.unit_id)

    def forget_temp(self, files: UnitFiles) -> None:
        with contextlib.suppress(UnitRpcError):  # absent: nothing to tidy
            files.remove(self.push.temp_name)

    def reboot(self, files: UnitFiles, before: UnitInfo) -> str:
        uid = files.unit_id
        self.emit(uid, "rebooted", "rebooting")
        started = time.monotonic()
        with contextlib.suppress(UnitUnreachable):  # gone at once: rebooting
            files.reboot()
        self.ledger.record(uid, state="rebooted")
        gone = False
        while True:
            if self.stop.is_set():
                raise UnitUnreachable(f"unit {uid}: interrupted while waiting for it to reconnect")
            time.sleep(_REBOOT_POLL)
            elapsed = time.monotonic() - started
            try:
                info = files.info()
            except UnitUnreachable:
                gone = True
                if elapsed > self.options.reconnect_timeout:
                    raise UnitUnreachable(
                        f"unit {uid}: did not reconnect within "
                        f"{self.options.reconnect_timeout:g} s of the reboot"
                    ) from None
                self.ledger.renew(uid)
                continue
            new_boot = (
                info.uptime is not None
                and before.uptime is not None
                and info.uptime < before.uptime + elapsed - 1
            )
            if gone or new_boot:
                break
            if elapsed > self.options.reconnect_timeout:
                raise UnitUnreachable(f"unit {uid}: answered but never rebooted")
        if files.get(self.push.name) != self.push.data:
            raise _Mismatch(f"unit {uid}: after the reboot the CA file is not the one written")
        self.ledger.record(uid, state="reconnected", fw_version=info.fw_version, seen=True)
        self.emit(uid, "reconnected", final=True)
        return "reconnected"

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
        with self._lock:
            self._deadlines[key] = when
            if when is not None and (self.deadline is None or when < self.deadline):
                self.deadline = when
                self.ledger.set_meta("deadline", when.isoformat())


def run_campaign(
    transports: Sequence[Transport],
    push: PushFile,
    ledger: Ledger,
    options: CampaignOptions,
    *,
    progress: Callable[[UnitEvent], None] | None = None,
    stop: threading.Event | None = None,
    on_listing: Callable[[int], None] | None = None,
) -> CampaignReport:
    """Push ``push`` to every unit the transports list, recording each in ``ledger``.

    One pass without ``options.watch``; with it, passes every ``options.poll`` seconds
    (units listed anew each time) until every unit is done, ``options.until`` passes,
    or the forecast deadline of the units' old CA file passes.
    """
    run = _Run(transports, push, ledger, options, progress, stop or threading.Event())
    ledger.bind(ca_sha256=push.sha256, board=push.board, ca_path=push.name)
    known = ledger.meta().get("deadline")
    if known:
        run.deadline = datetime.fromisoformat(known)
    skip: set[str] = set()
    passes = 0
    ids: list[str] = []
    while True:
        listing = run.listing()
        ledger.enroll((ref.id, t.name) for t, ref in listing)
        for _, ref in listing:
            if ref.id not in ids:
                ids.append(ref.id)
        if on_listing is not None:
            on_listing(len(ids))
        run.run_pass(listing, skip)
        passes += 1
        # Units another process is working on: its outcome is this run's outcome too.
        while ledger.held_elsewhere(ids) and not run.stop.wait(0.2):
            pass
        rows = ledger.rows(ids)
        if not options.watch or run.stop.is_set() or all(not run.wanted(r) for r in rows):
            break
        end = options.until or run.deadline
        if end is not None and _now_utc() >= end:
            break
        wait = options.poll
        if end is not None:
            wait = min(wait, max(0.0, (end - _now_utc()).total_seconds()))
        if run.stop.wait(wait):
            break
    return CampaignReport(
        tuple(ledger.rows(ids)), options.reboot, run.deadline, passes, run.stop.is_set()
    )


@dataclass(frozen=True, slots=True)
class SurveyRow:
    """What a dry run found on one unit (nothing written anywhere)."""

    id: str
    transport: str
    state: str  # "up-to-date", "would-write", "offline", "failed"
    fw_version: str | None = None
    old_sha256: str | None = None
    error: str | None = None


def survey(
    transports: Sequence[Transport],
    push: PushFile,
    options: CampaignOptions,
    *,
    progress: Callable[[UnitEvent], None] | None = None,
) -> list[SurveyRow]:
    """Read every unit's CA file and say what a push would do; writes nothing."""
    listing = [(t, ref) for t in transports for ref in t.units()]
    out: dict[str, SurveyRow] = {}
    queue = deque(listing)
    lock = threading.Lock()

    def one(t: Transport, ref: UnitRef) -> SurveyRow:
        if ref.online is False:
            return SurveyRow(ref.id, t.name, "offline", error=f"{t.name} lists it offline")
        channel = t.channel(ref.id)
        try:
            files = UnitFiles(channel, frame_budget=t.frame_budget, timeout=options.timeout)
            info = files.info()
            current = files.get(push.name)
        except UnitUnreachable as e:
            return SurveyRow(ref.id, t.name, "offline", error=e.message)
        except EspCabundleError as e:
            return SurveyRow(ref.id, t.name, "failed", error=e.message)
        finally:
            channel.close()
        state = "up-to-date" if current == push.data else "would-write"
        old = sha256_hex(current) if current is not None else "none"
        return SurveyRow(ref.id, t.name, state, info.fw_version, old)

    def worker() -> None:
        while True:
            with lock:
                if not queue:
                    return
                t, ref = queue.popleft()
            row = one(t, ref)
            with lock:
                out[ref.id] = row
            if progress is not None:
                progress(UnitEvent(ref.id, row.state, row.error or "", final=True))

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(options.concurrency)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    return [out[ref.id] for _, ref in listing if ref.id in out]
