"""Writing journaled sectors to a unit: one at a time, in the planned order, each checked
by the unit's MD5 before the next, stopping between two when asked.

Shared by :mod:`.flasher` (an update, or finishing an interrupted one) and
:mod:`.restore` (the old content written back, in reverse order).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from ..errors import DeviceError, FlashError
from ..spelling import PYTHON, Spelling
from ..text import plural
from .base import SECTOR_SIZE, Flash, ProgressCallback, say, step
from .interrupt import Interruption, SectorState, UnitInterrupted, holdings
from .serial import SerialUnit

if TYPE_CHECKING:
    from ..partitions import PartitionTable
    from .interrupt import Cancel, GuardedFlash
    from .journal import JournalEntry

__all__ = [
    "EntryState",
    "WriteFailed",
    "entry_state",
    "keep_torn_in_loader",
    "refuse_encrypted",
    "table_bounds",
    "write_journaled",
    "write_sectors",
]


class WriteFailed(FlashError):
    """Writing stopped part-way on a failure (a link lost, a sector not reading back):
    ``written`` sectors of the run were written and checked before. ``result`` is the
    run's report so far, set by the flasher, so a station log keeps what is known."""

    def __init__(self, message: str, *, written: int, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.written = written
        self.result: object = None
        # where it stopped and what the unit holds, the sector in flight torn (:func:`torn`)
        self.interruption: Interruption | None = None

    def torn(self, cut: Interruption) -> WriteFailed:
        """This failure, knowing ``cut``: when it leaves a partition not whole, it says
        so in the words a stop gives (:meth:`Interruption.state`), and its next step is
        the stop's (keep the unit from booting until the rerun finishes it)."""
        self.interruption = cut
        if cut.holds == "broken":
            self.message = f"{self.message}; {cut.state()}"
            self.hint = cut.next_step()
        return self


def keep_torn_in_loader(unit: object, e: WriteFailed) -> None:
    """A unit a failure left not whole is closed without the hard reset, as a stop is
    (:func:`~.interrupt.keep_in_loader_if_not_whole`): its firmware must not boot into
    a file system it cannot mount (the link may still be up: a sector not read back)."""
    cut = e.interruption
    if cut is not None and cut.holds == "broken" and getattr(unit, "after", None) is not None:
        unit.after = "no-reset"  # type: ignore[attr-defined]


@dataclass(frozen=True, slots=True)
class EntryState:
    """A unit against a journal entry: each sector old, new or neither, and the ranges
    the update left alone whose MD5 changed since (then the entry is stale)."""

    sectors: dict[int, SectorState]
    changed_ranges: tuple[tuple[int, int], ...]

    @property
    def stale(self) -> bool:
        return bool(self.changed_ranges)

    def count(self, state: SectorState) -> int:
        return sum(1 for s in self.sectors.values() if s == state)


def entry_state(flash: Flash, entry: JournalEntry) -> EntryState:
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
    return EntryState(states, changed)


def table_bounds(entry: JournalEntry, table: PartitionTable) -> list[tuple[int, int]]:
    """The unit's own partitions an entry may write (its table, not the journal, says
    where they are; :meth:`JournalEntry.table_mismatch` has checked they agree)."""
    out = []
    for p in entry.partitions:
        t = table.by_name(p.name)
        if t is not None:
            out.append((t.offset, t.end))
    return out


def write_sectors(
    flash: Flash,
    writes: list[tuple[int, bytes]],
    *,
    bounds: list[tuple[int, int]],
    cancel: Cancel | None,
    progress: ProgressCallback | None,
    what: str,
    resume_hint: str,
) -> int:
    """Write whole sectors in order, each inside one of ``bounds`` and checked by the
    unit's MD5 before the next is started. Returns how many were written: all of them,
    or fewer when ``cancel`` was requested (the check comes before each sector, never
    inside one)."""
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
    total = len(writes)
    for done, (off, data) in enumerate(writes):
        if cancel is not None and cancel.requested:
            return done
        step(progress, f"{what}: sector {done + 1} of {total}", done, total)
        say(progress, f"{what}: sector {off:#x} ({done + 1} of {total})")
        try:
            flash.write(off, data)
            digest = flash.md5(off, SECTOR_SIZE)
        except DeviceError as e:
            raise WriteFailed(
                f"{e.message}; {what} stopped after {done} of {plural(total, 'sector')}",
                written=done,
                hint=resume_hint,
            ) from e
        if digest != hashlib.md5(data).hexdigest():
            raise WriteFailed(
                f"{flash.name}: the write at {off:#x} does not read back as written ({what} "
                f"stopped after {done} of {plural(total, 'sector')})",
                written=done,
                hint=resume_hint,
            )
    step(progress, what, total, total)
    return total


def write_journaled(
    flash: GuardedFlash,
    entry: JournalEntry,
    table: PartitionTable,
    state: EntryState,
    *,
    restoring: bool,
    progress: ProgressCallback | None,
    what: str,
    resume_hint: str,
    spelling: Spelling = PYTHON,
) -> int:
    """Bring the entry's sectors that are not yet so to their new content (finishing an
    interrupted update) or, ``restoring``, their old one in reverse order. Returns the
    sectors written; UnitInterrupted when ``flash.cancel`` stopped it (before the first
    sector too), with what each partition then holds; WriteFailed saying it too, the
    sector in flight torn, its next step in ``spelling``'s words."""
    goal: SectorState = "old" if restoring else "new"
    order = reversed(entry.sectors) if restoring else iter(entry.sectors)
    todo = [
        (s.offset, s.old if restoring else s.new) for s in order if state.sectors[s.offset] != goal
    ]
    kind: Literal["finishing", "restore"] = "restore" if restoring else "finishing"

    def stopped(done: int, torn: int | None) -> Interruption:
        states = dict(state.sectors)
        states.update((off, goal) for off, _ in todo[:done])
        if torn is not None:
            states[torn] = "other"
        found = holdings(entry, states)
        return Interruption(
            flash.name, kind, done, len(todo), found, entry.path, torn=torn, spelling=spelling
        )

    with flash.writing():
        try:
            done = write_sectors(
                flash,
                todo,
                bounds=table_bounds(entry, table),
                cancel=flash.cancel,
                progress=progress,
                what=what,
                resume_hint=resume_hint,
            )
        except WriteFailed as e:
            at = todo[e.written][0] if e.written < len(todo) else None
            e.torn(stopped(e.written, at))
            raise
    if done < len(todo):
        raise UnitInterrupted(stopped(done, None))
    return done


def refuse_encrypted(unit: object, port: str) -> None:

    if isinstance(unit, SerialUnit) and unit.security().flash_encryption:
        raise DeviceError(
            f"{port}: flash encryption is on (the chip's eFuses say so): its flash holds "
            "ciphertext, which cannot be edited over serial; nothing written",
            hint="update the CA file through the firmware instead (OTA, or 'mos put' on "
            "Mongoose OS)",
        )
