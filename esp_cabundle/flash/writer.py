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
from .journal import UNFINISHED
from .serial import SerialUnit

if TYPE_CHECKING:
    from ..partitions import PartitionTable
    from .interrupt import Cancel, GuardedFlash
    from .journal import JournalEntry

__all__ = [
    "EntryState",
    "WriteFailed",
    "cut_could_leave",
    "entry_state",
    "keep_torn_in_loader",
    "refuse_encrypted",
    "table_bounds",
    "torn_or_changed",
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
        elif cut.torn is not None and cut.holds != "unknown":
            # the sector in flight is one the file system does not read yet: say so
            self.message = f"{self.message}; {cut.state()}"
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
    """A unit against a journal entry: each sector old, new or neither, the ranges the
    update left alone whose MD5 changed since, and the sectors holding neither that no
    cut could have left so (:func:`cut_could_leave`); either of the last two makes the
    entry stale: the file system changed since."""

    sectors: dict[int, SectorState]
    changed_ranges: tuple[tuple[int, int], ...]
    changed_sectors: tuple[int, ...] = ()
    # The one changed sector of an unfinished entry lies where its cut would be (those
    # before it new, those after it old), only its bits fit no cut: a chip that programs
    # a sector to 0 before erasing it leaves any pattern, so it may be torn after all.
    cut_shaped: bool = False

    @property
    def stale(self) -> bool:
        return bool(self.changed_ranges or self.changed_sectors)

    def count(self, state: SectorState) -> int:
        return sum(1 for s in self.sectors.values() if s == state)

    def changes(self) -> str:
        """What changed, for a refusal: ``sectors 0x291000, 0x292000 (neither ...)``."""
        parts = []
        if self.changed_sectors:
            where = ", ".join(f"{off:#x}" for off in sorted(self.changed_sectors))
            n = len(self.changed_sectors)
            # cut-shaped: flash's refusal (torn_or_changed) says the same of it
            how = (
                "where it was cut: torn by that cut, or changed since"
                if self.cut_shaped
                else "and no cut leaves that"
            )
            parts.append(
                f"{plural(n, 'written sector')} at {where} {'holds' if n == 1 else 'hold'} "
                f"neither what the update found there nor what it wrote, {how}"
            )
        if self.changed_ranges:
            ranges = ", ".join(f"{off:#x}+{n:#x}" for off, n in self.changed_ranges)
            parts.append(f"ranges {ranges} no longer hash as they did")
        return "; ".join(parts)


def _covers(now: bytes, base: bytes) -> bool:
    """Every bit set in ``base`` is set in ``now``."""
    b = int.from_bytes(base, "big")
    return int.from_bytes(now, "big") & b == b


def cut_could_leave(now: bytes, old: bytes, new: bytes) -> bool:
    """``now`` is what a write from ``old`` to ``new`` (or back) cut inside its sector may
    leave. NOR flash erasing only sets bits and programming only clears them from an
    erased (0xFF) sector, so a cut erase leaves a superset of the bits it started from
    and a cut program one of the bits it aims at; anything else was written since."""
    return _covers(now, old) or _covers(now, new)


def entry_state(flash: Flash, entry: JournalEntry) -> EntryState:
    """The unit against ``entry`` (see :class:`EntryState`). A sector holding neither
    old nor new is torn by a cut only when the journal says a write was under way
    (pending: an update; restoring: a restore), it is the only one, and its bits are
    what a cut erase or program leaves; else the file system changed since."""
    states: dict[int, SectorState] = {}
    for s in entry.sectors:
        digest = flash.md5(s.offset, SECTOR_SIZE)
        states[s.offset] = (
            "new" if digest == s.new_md5 else "old" if digest == s.old_md5 else "other"
        )
    neither = [s for s in entry.sectors if states[s.offset] == "other"]
    changed = [s.offset for s in neither]
    if entry.status in UNFINISHED and len(neither) == 1:
        s = neither[0]  # one cut tears one sector; read only then (4 KiB over serial)
        if cut_could_leave(flash.read(s.offset, SECTOR_SIZE), s.old, s.new):
            changed = []
    ranges = tuple(
        (off, n)
        for p in entry.partitions
        for off, n, md5 in p.untouched
        if flash.md5(off, n) != md5
    )
    shaped = entry.status in UNFINISHED and bool(changed) and not ranges and _at_cut(entry, states)
    return EntryState(states, ranges, tuple(changed), cut_shaped=shaped)


def _at_cut(entry: JournalEntry, states: dict[int, SectorState]) -> bool:
    """One sector holds neither, those before it (in the update's order) new and those
    after it old: where one cut, updating or restoring (in reverse), leaves it."""
    order = [states[s.offset] for s in entry.sectors]
    if order.count("other") != 1:
        return False
    at = order.index("other")
    same = [s.old_md5 == s.new_md5 for s in entry.sectors]  # "new" is also old
    return all(st == "new" for st in order[:at]) and all(
        st == "old" or same[at + 1 + i] for i, st in enumerate(order[at + 1 :])
    )


def torn_or_changed(
    port: str, entry: JournalEntry, state: EntryState, earlier: int, spelling: Spelling = PYTHON
) -> FlashError:
    """``flash``'s refusal of a pending update whose one changed sector is where its
    cut was (:attr:`EntryState.cut_shaped`): torn by a chip that programs before
    erasing, or changed since, is not known, so it is neither finished over nor set
    aside as stale for good (nothing would ever undo it): the entry is left pending.
    ``earlier``: sectors this run wrote finishing an older interrupted update."""
    (off,) = state.changed_sectors
    written = (
        f"only the {plural(earlier, 'sector')} finishing an earlier interrupted update written"
        if earlier
        else "nothing written"
    )
    return FlashError(
        f"{port}: the update interrupted on {entry.when} left sector {off:#x}, where it was "
        "cut, holding neither what it found there nor what it wrote, in a pattern a cut "
        "erase or program leaves only on a chip that programs a sector before erasing it: "
        f"torn by that cut, or changed since; {written}, its journal entry left pending",
        hint=f"inspect the unit ({spelling.inspect_for(port)}); if nothing wrote to it since "
        f"the cut, {spelling.restore_for(port)} with {spelling.force} puts back what it held "
        f"before that update, then run {spelling.flash} again",
    )


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
