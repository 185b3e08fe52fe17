"""Flashing a unit in place: replace only the CA file, journal first, verify after.

:func:`flash_unit` connects to a unit on a serial port and runs :func:`flash_ca`, which
works on any :class:`~esp_cabundle.flash.base.Flash` (a dump too, for tests):

1. Any update of this unit the journal holds as unfinished is finished first (the
   sectors not yet holding their new content are written), dropped when nothing had
   been written, or set aside as stale when the file system changed since.
2. The update is planned reading only what the file system needs
   (:func:`~esp_cabundle.flash.update.plan_unit_update`); already up to date, or
   ``dry_run``: nothing is written.
3. The unit's MD5 of every range the update leaves alone is taken, and the journal entry
   (old and new content of every sector to write) is saved. Only then is anything
   written, sector by sector in the planned (power-safe) order; nothing outside the
   target partitions, ever.
4. Verification: the unit's MD5 of every written sector against the plan, of every
   untouched range against its value before; then the file system is mounted again from
   what the unit was thus proven to hold (no byte crosses the link twice) and the CA
   file and the other files compared. A mismatch is a :class:`FlashError` naming the
   sectors.

:func:`restore_unit` writes a journaled update's old sectors back.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from ..errors import DeviceError, FlashError, InputError
from .base import SECTOR_SIZE, Flash, Message, ProgressCallback
from .journal import Journal, JournalEntry, JournalPartition, JournalSector, new_entry_id
from .update import FlashCache, PartitionChange, UnitPlan, plan_unit_update, read_table_pages

if TYPE_CHECKING:
    from ..boards import Board
    from ..certs import Certificate
    from .serial import AfterMode, ResetMode, UnitInfo

__all__ = [
    "FlashResult",
    "RestoreResult",
    "Resumed",
    "RootChange",
    "SectorState",
    "ca_diff",
    "flash_ca",
    "flash_unit",
    "restore_flash",
    "restore_unit",
]

FlashStatus = Literal["updated", "up to date", "dry run", "resume pending"]


# ---------------------------------------------------------------------------------------
# Results


@dataclass(frozen=True, slots=True)
class RootChange:
    """Roots a CA file gains and loses, by SHA-256 fingerprint."""

    added: tuple[Certificate, ...]
    removed: tuple[Certificate, ...]
    kept: int
    old_unreadable: bool = False


def _certs(data: bytes | None) -> tuple[tuple[Certificate, ...], bool]:
    from ..certs import load_certificates
    from ..errors import CertificateError

    if not data:
        return (), False
    try:
        return load_certificates(data, source="CA file"), False
    except CertificateError:
        return (), True


def ca_diff(old: bytes | None, new: bytes) -> RootChange:
    """What replacing ``old`` (None: no CA file yet) by ``new`` changes, root by root."""
    before, unreadable = _certs(old)
    after, _ = _certs(new)
    old_fp = {c.sha256 for c in before}
    new_fp = {c.sha256 for c in after}
    return RootChange(
        added=tuple(c for c in after if c.sha256 not in old_fp),
        removed=tuple(c for c in before if c.sha256 not in new_fp),
        kept=len(old_fp & new_fp),
        old_unreadable=unreadable,
    )


def fingerprints(data: bytes | None) -> tuple[str, ...]:
    """SHA-256 fingerprints of the certificates in a CA file (empty if none parse)."""
    return tuple(c.sha256 for c in _certs(data)[0])


@dataclass(frozen=True, slots=True)
class Resumed:
    """What became of an interrupted update found in the journal."""

    entry: JournalEntry
    action: Literal["finished", "dropped", "stale", "would finish"]
    sectors_written: int = 0


@dataclass(frozen=True, slots=True)
class FlashResult:
    """One unit's update. ``sectors_written`` includes sectors of finished earlier runs."""

    port: str
    mac: str
    chip: str
    board: str
    status: FlashStatus
    plan: UnitPlan | None
    resumed: tuple[Resumed, ...] = ()
    sectors_written: int = 0
    bytes_read: int = 0
    bytes_written: int = 0
    journal: JournalEntry | None = None
    unit: UnitInfo | None = None

    @property
    def partitions(self) -> tuple[str, ...]:
        return tuple(c.partition.name for c in self.plan.changes) if self.plan else ()

    @property
    def ca_before(self) -> tuple[str, ...]:
        """Fingerprints of the CA file as found (first partition that has one)."""
        if self.plan is None:
            return ()
        for c in self.plan.changes:
            if not c.skipped:
                return fingerprints(c.old_ca)
        return ()

    @property
    def ca_after(self) -> tuple[str, ...]:
        if self.plan is None:
            return ()
        if self.status in ("updated", "up to date"):
            return fingerprints(self.plan.ca_bytes)
        return self.ca_before


# ---------------------------------------------------------------------------------------
# Unit state against a journal entry

SectorState = Literal["old", "new", "other"]


@dataclass(frozen=True, slots=True)
class _EntryState:
    sectors: dict[int, SectorState]
    changed_ranges: tuple[tuple[int, int], ...]  # untouched ranges whose MD5 changed

    @property
    def stale(self) -> bool:
        return bool(self.changed_ranges)

    def count(self, state: SectorState) -> int:
        return sum(1 for s in self.sectors.values() if s == state)


def _entry_state(flash: Flash, entry: JournalEntry) -> _EntryState:
    states: dict[int, SectorState] = {}
    for s in entry.sectors:
        digest = flash.md5(s.offset, SECTOR_SIZE)
        states[s.offset] = (
            "new" if digest == s.new_md5 else "old" if digest == s.old_md5 else "other"
        )
    changed = tuple(
        (off, n)
        for p in entry.partitions
        for off, n, md5 in p.untouched
        if flash.md5(off, n) != md5
    )
    return _EntryState(states, changed)


def _runs(writes: list[tuple[int, bytes]]) -> list[tuple[int, bytes]]:
    """Consecutive writes to adjacent sectors merged (the order is kept)."""
    runs: list[tuple[int, bytes]] = []
    for off, data in writes:
        if runs and runs[-1][0] + len(runs[-1][1]) == off:
            runs[-1] = (runs[-1][0], runs[-1][1] + data)
        else:
            runs.append((off, data))
    return runs


def _write_sectors(
    flash: Flash,
    writes: list[tuple[int, bytes]],
    *,
    bounds: list[tuple[int, int]],
    progress: ProgressCallback | None,
    what: str,
    resume_hint: str,
) -> int:
    """Write whole sectors in order, each inside one of ``bounds``; the unit's MD5 of
    each run must match. Returns the bytes written."""
    for off, data in writes:
        if (
            len(data) != SECTOR_SIZE
            or off % SECTOR_SIZE
            or not any(lo <= off and off + SECTOR_SIZE <= hi for lo, hi in bounds)
        ):
            raise FlashError(
                f"{flash.name}: refusing to write {len(data):#x} bytes at {off:#x}, outside the "
                "target partitions; nothing more written",
                hint="this is a bug in esp-cabundle; please report it",
            )
    done = 0
    total = len(writes)
    written = 0
    for off, data in _runs(writes):
        if progress is not None:
            progress(Message("info", f"{what}: {len(data) // SECTOR_SIZE} sector(s) at {off:#x}"))
        try:
            flash.write(off, data)
        except DeviceError as e:
            raise FlashError(
                f"{e.message}; {what} stopped after {done} of {total} sector(s)",
                hint=resume_hint,
            ) from e
        done += len(data) // SECTOR_SIZE
        written += len(data)
    # a sector may be written twice (SPIFFS: new pages first, old ones deleted later):
    # what it must hold now is its last write
    final = dict(writes)
    bad = [
        off
        for off, data in sorted(final.items())
        if flash.md5(off, SECTOR_SIZE) != hashlib.md5(data).hexdigest()
    ]
    if bad:
        raise FlashError(
            f"{flash.name}: sector(s) {', '.join(f'{b:#x}' for b in bad)} do not read back as "
            f"written ({what})",
            hint=resume_hint,
        )
    return written


# ---------------------------------------------------------------------------------------
# Flashing


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _say(progress: ProgressCallback | None, text: str, level: str = "info") -> None:
    if progress is not None:
        progress(Message(level, text))  # type: ignore[arg-type]


def _finish_pending(
    flash: Flash,
    journal: Journal,
    mac: str,
    *,
    dry_run: bool,
    progress: ProgressCallback | None,
) -> list[Resumed]:
    """Finish (or set aside) every unfinished update the journal holds for this unit."""
    out: list[Resumed] = []
    for entry in journal.pending(mac):
        state = _entry_state(flash, entry)
        if state.stale:
            if not dry_run:
                journal.set_status(entry, "stale")
            _say(
                progress,
                f"an interrupted update from {entry.when} no longer matches the unit (its "
                "file system changed since); left alone",
                "warning",
            )
            out.append(Resumed(entry, "stale"))
            continue
        todo = [(s.offset, s.new) for s in entry.sectors if state.sectors[s.offset] != "new"]
        if state.count("old") == len(entry.sectors):
            if not dry_run:
                journal.set_status(entry, "cancelled")
            out.append(Resumed(entry, "dropped"))
            continue
        if dry_run:
            out.append(Resumed(entry, "would finish", len(todo)))
            continue
        _say(
            progress,
            f"finishing the update interrupted on {entry.when}: {len(todo)} sector(s) to write",
        )
        bounds = [(p.offset, p.offset + p.size) for p in entry.partitions]
        _write_sectors(
            flash,
            todo,
            bounds=bounds,
            progress=progress,
            what="finishing the interrupted update",
            resume_hint="reconnect and run the same command again: it finishes from the journal",
        )
        journal.set_status(entry, "complete")
        out.append(Resumed(entry, "finished", len(todo)))
    return out


def flash_ca(
    flash: Flash,
    board: Board,
    ca_bytes: bytes,
    *,
    mac: str,
    chip: str = "",
    journal: Journal | None = None,
    dry_run: bool = False,
    progress: ProgressCallback | None = None,
    unit: UnitInfo | None = None,
) -> FlashResult:
    """Replace the CA file on ``flash`` (the unit identified by ``mac``); see the module.

    Raises PartitionTableError/ImageError/InputError before any write (missing
    partition, no file system, does not fit, unusable CA file), OutputError when the
    journal cannot be saved (nothing written), FlashError when a write is interrupted
    (run again to finish) or does not verify (the sectors are named).
    """
    journal = journal or Journal()
    resumed = _finish_pending(flash, journal, mac, dry_run=dry_run, progress=progress)
    earlier = sum(r.sectors_written for r in resumed if r.action == "finished")
    result = FlashResult(
        port=flash.name,
        mac=mac,
        chip=chip,
        board=board.name,
        status="resume pending",
        plan=None,
        resumed=tuple(resumed),
        sectors_written=earlier,
        bytes_written=earlier * SECTOR_SIZE,
        unit=unit,
    )
    if any(r.action == "would finish" for r in resumed):
        return result

    cache = FlashCache(flash)
    table = read_table_pages(cache, board.table_offset)
    plan = plan_unit_update(cache, table, board, ca_bytes, progress=progress)
    result = replace(result, status="up to date", plan=plan, bytes_read=cache.bytes_read)
    if plan.up_to_date:
        return result
    if dry_run:
        return replace(result, status="dry run")

    plan.check_bounds()
    _say(progress, "hashing the ranges the update leaves alone")
    entry = JournalEntry(
        id=new_entry_id(),
        created=_now(),
        mac=mac,
        chip=chip,
        port=flash.name,
        board=board.name,
        ca_sha256=hashlib.sha256(ca_bytes).hexdigest(),
        partitions=tuple(_journal_partition(cache, c) for c in plan.changes if c.writes),
    )
    entry = journal.record(entry)
    writes = [(w.offset, w.new) for w in plan.writes]
    bounds = [(c.partition.offset, c.partition.end) for c in plan.changes]
    written = _write_sectors(
        flash,
        writes,
        bounds=bounds,
        progress=progress,
        what="update",
        resume_hint=f"reconnect and run the same command again: it finishes the update from "
        f"the journal ({entry.path}); 'esp-cabundle restore' puts the original back",
    )
    _say(progress, "verifying")
    _verify_after(flash, cache, plan, entry)
    entry = journal.set_status(entry, "complete")
    return replace(
        result,
        status="updated",
        sectors_written=earlier + len(writes),
        bytes_read=cache.bytes_read,
        bytes_written=earlier * SECTOR_SIZE + written,
        journal=entry,
    )


def _journal_partition(cache: FlashCache, c: PartitionChange) -> JournalPartition:
    p = c.partition
    return JournalPartition(
        name=p.name,
        offset=p.offset,
        size=p.size,
        fs_type=c.fs_type,
        sectors=tuple(JournalSector(w.offset, w.old, w.new) for w in c.writes),
        untouched=tuple((off, n, cache.digest(off, n)) for off, n in c.untouched()),
    )


def _verify_after(flash: Flash, cache: FlashCache, plan: UnitPlan, entry: JournalEntry) -> None:
    """Untouched ranges hash as before, then the file system is read back.

    Read back from what the unit holds, without moving it over the link again: every
    written sector as the unit's MD5 proved it (in :func:`_write_sectors`), every other
    byte as read before and proven unchanged by the unit's MD5 of its range.
    """
    from .update import reread_problems

    moved = [
        (off, n)
        for p in entry.partitions
        for off, n, md5 in p.untouched
        if flash.md5(off, n) != md5
    ]
    if moved:
        raise FlashError(
            f"{flash.name}: bytes outside the written sectors changed: "
            + ", ".join(f"{off:#x}+{n:#x}" for off, n in moved),
            hint="something else wrote to the flash during the update; inspect the unit "
            "(esp-cabundle inspect --port) before doing anything else",
        )
    for c in plan.changes:
        if not c.writes:
            continue
        for w in c.writes:  # what the unit's MD5 of each written sector proved it holds
            cache.confirm(w.offset, w.new)
        problems = reread_problems(cache, c)
        if problems:
            raise FlashError(
                f"{flash.name}: partition '{c.partition.name}' read back from the unit does not "
                f"hold what was planned ({'; '.join(problems)}); written sectors: "
                + ", ".join(f"{s:#x}" for s in c.sectors),
                hint="run 'esp-cabundle restore --port PORT' to put the original back",
            )


def flash_unit(
    port: str,
    board: Board,
    ca_bytes: bytes,
    *,
    journal_dir: Path | str | None = None,
    dry_run: bool = False,
    baud: int | None = None,
    reset: ResetMode = "default-reset",
    after: AfterMode = "hard-reset",
    connect_attempts: int | None = None,
    progress: ProgressCallback | None = None,
    on_connect: Callable[[UnitInfo], None] | None = None,
) -> FlashResult:
    """Connect to the unit on ``port`` and replace its CA file (see :func:`flash_ca`).

    Refuses (DeviceError, nothing written) a unit whose chip is not one of the board's,
    or whose flash encryption is on (read from its eFuses: the flash then holds
    ciphertext that cannot be edited over serial). ``on_connect`` hears which unit
    answered (a station logs its MAC even when a later step fails).
    """
    from .plan import check_ca_for_board
    from .serial import DEFAULT_BAUD, open_unit

    if board.filesystem is None:
        raise InputError(
            f"board {board.name} keeps its CA in {board.output.form} form, not in a file system: "
            "there is no CA file on the unit to replace",
            hint="rebuild the firmware with 'esp-cabundle build' output instead",
        )
    check_ca_for_board(ca_bytes, board)
    with open_unit(
        port,
        baud=baud or DEFAULT_BAUD,
        reset=reset,
        after=after,
        expected_chip=board.chips,
        connect_attempts=connect_attempts,
        progress=progress,
    ) as unit:
        if on_connect is not None:
            on_connect(unit.info)
        _refuse_encrypted(unit, port)
        return flash_ca(
            unit,
            board,
            ca_bytes,
            mac=unit.info.mac,
            chip=unit.info.chip,
            journal=Journal(journal_dir),
            dry_run=dry_run,
            progress=progress,
            unit=unit.info,
        )


def _refuse_encrypted(unit: object, port: str) -> None:
    from .serial import SerialUnit

    if isinstance(unit, SerialUnit) and unit.security().flash_encryption:
        raise DeviceError(
            f"{port}: flash encryption is on (the chip's eFuses say so): its flash holds "
            "ciphertext, which cannot be edited over serial; nothing written",
            hint="update the CA file through the firmware instead (OTA, or 'mos put' on "
            "Mongoose OS)",
        )


# ---------------------------------------------------------------------------------------
# Restore


@dataclass(frozen=True, slots=True)
class RestoreResult:
    """A journaled update undone (or, with ``dry_run``, what undoing it would write)."""

    port: str
    mac: str
    entry: JournalEntry
    sectors_written: int
    already_original: bool
    dry_run: bool = False


def restore_flash(
    flash: Flash,
    *,
    mac: str,
    journal: Journal | None = None,
    dry_run: bool = False,
    force: bool = False,
    progress: ProgressCallback | None = None,
) -> RestoreResult:
    """Write back the old content of the newest journaled update of this unit.

    InputError when the journal holds no update of it; FlashError (nothing written) when
    the file system changed since that update, unless ``force``.
    """
    journal = journal or Journal()
    entry = journal.restorable(mac)
    if entry is None:
        raise InputError(
            f"the journal in {journal.directory} holds no update of the unit {mac} to undo",
            hint="updates are journaled on the computer that ran 'esp-cabundle flash'; pass "
            "--journal-dir if they were saved elsewhere",
        )
    state = _entry_state(flash, entry)
    if state.stale and not force:
        raise FlashError(
            f"{flash.name}: the file system changed since the update of {entry.when} (ranges "
            + ", ".join(f"{off:#x}+{n:#x}" for off, n in state.changed_ranges)
            + " no longer hash as they did); writing the saved sectors back would corrupt it; "
            "nothing written",
            hint="--force writes them anyway",
        )
    todo = [(s.offset, s.old) for s in reversed(entry.sectors) if state.sectors[s.offset] != "old"]
    result = RestoreResult(flash.name, mac, entry, len(todo), not todo, dry_run)
    if dry_run:
        return result
    if todo:
        bounds = [(p.offset, p.offset + p.size) for p in entry.partitions]
        _say(progress, f"restoring {len(todo)} sector(s) saved on {entry.when}")
        _write_sectors(
            flash,
            todo,
            bounds=bounds,
            progress=progress,
            what="restore",
            resume_hint="reconnect and run 'esp-cabundle restore' again",
        )
    journal.set_status(entry, "restored")
    return result


def restore_unit(
    port: str,
    *,
    board: Board | None = None,
    journal_dir: Path | str | None = None,
    dry_run: bool = False,
    force: bool = False,
    baud: int | None = None,
    reset: ResetMode = "default-reset",
    after: AfterMode = "hard-reset",
    connect_attempts: int | None = None,
    progress: ProgressCallback | None = None,
) -> RestoreResult:
    """Connect and undo the newest journaled update of the unit (found by its MAC)."""
    from .serial import DEFAULT_BAUD, open_unit

    with open_unit(
        port,
        baud=baud or DEFAULT_BAUD,
        reset=reset,
        after=after,
        expected_chip=board.chips if board is not None else None,
        connect_attempts=connect_attempts,
        progress=progress,
    ) as unit:
        _refuse_encrypted(unit, port)
        return restore_flash(
            unit,
            mac=unit.info.mac,
            journal=Journal(journal_dir),
            dry_run=dry_run,
            force=force,
            progress=progress,
        )
