"""Stopping a flash or a restore on request, at a point where the unit is whole.

The library never installs signal handlers: a caller (the CLI) makes a :class:`Cancel`,
sets it from its SIGINT/SIGTERM/SIGHUP handler and passes it down. What stopping means depends
on how far the run got:

* Before the first write (connecting, reading, planning, journaling) the run stops at
  once: :class:`GuardedFlash` refuses the next read or MD5, so nothing is written.
* Once writing, the writer finishes the sector in flight and stops before the next one
  of the planned (power-safe) order: a unit is never left mid-sector by a request.

Either way :class:`UnitInterrupted` (exit 130) carries an :class:`Interruption`: how many
sectors were written and what every partition then mounts with. That is not guessed:
before the first write the planner's order is replayed in memory, sector by sector, and
each partial state is mounted the way :func:`~esp_cabundle.flash.plan.reread_problems`
reads a unit back (:func:`sector_outcomes`); the journal keeps the answer with each
sector, so a rerun or a restore stopped part-way reads it from there too.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, cast

from ..blocks import SourceView
from ..errors import Interrupted
from ..fs.verify import DOES_NOT_MOUNT
from ..spelling import PYTHON, Spelling
from ..text import plural
from .base import Flash
from .journal import Journal
from .plan import PartitionChange, UpdatePlan, reread_problems

if TYPE_CHECKING:
    from ..blocks import FlashCache
    from .journal import JournalEntry, JournalPartition

__all__ = [
    "Cancel",
    "GuardedFlash",
    "Holds",
    "Interruption",
    "PartitionHolding",
    "UnitInterrupted",
    "holdings",
    "keep_in_loader_if_not_whole",
    "sector_outcomes",
    "stop_if_requested",
]

# What a partition mounts with: the CA file as before the update, the new one, a file
# system that mounts but holds neither (or lost another file), one that does not mount;
# "unknown" for journals written before this was recorded.
Holds = Literal["old", "new", "mixed", "unmountable", "unknown"]
SectorState = Literal["old", "new", "other"]
# Reads are cut into pieces this size so a stop requested while reading waits at most
# for one of them (16 KiB: about 0.35 s at 460800 baud).
_READ_PIECE = 0x4000

# What a stop before the first write of an update says, whatever was known by then.
_UNCHANGED = "the unit is unchanged, holding the CA file it had"


class Cancel:
    """A request to stop, set from outside (a signal handler, another thread), polled by
    the flasher. Setting it never raises anything by itself."""

    def __init__(self) -> None:
        self._event = threading.Event()
        self._lock = threading.Lock()
        self.requests = 0
        self.reason = ""

    def request(self, reason: str = "interrupted") -> int:
        """Ask every run holding this token to stop; returns how many times it was asked."""
        with self._lock:
            self.requests += 1
            if not self.reason:
                self.reason = reason
            self._event.set()
            return self.requests

    @property
    def requested(self) -> bool:
        return self._event.is_set()


@dataclass(frozen=True, slots=True)
class PartitionHolding:
    """One partition when the run stopped: its sectors holding new content, and what it
    mounts with."""

    name: str
    holds: Holds
    new_sectors: int
    sectors: int


@dataclass(frozen=True, slots=True)
class Interruption:
    """Where a run stopped and what the unit then holds."""

    port: str
    what: Literal["update", "finishing", "restore"]
    written: int  # sectors this run wrote before stopping
    total: int  # sectors this run had to write (0: stopped before knowing)
    partitions: tuple[PartitionHolding, ...] = ()
    journal: Path | None = None
    earlier: int = 0  # sectors written first, finishing an earlier interrupted update
    kept_in_loader: bool = False  # not restarted: see :func:`keep_in_loader_if_not_whole`
    # the sector a failure (a link cut) stopped part-way, erased or half written: its
    # partition is mid-update, what it mounts with not known (None: a stop between two)
    torn: int | None = None
    # how the caller's user undoes an update (:meth:`next_step`); set by :func:`spoken`
    spelling: Spelling = field(default=PYTHON, compare=False, repr=False)

    @property
    def holds(self) -> Literal["old", "new", "partial", "broken", "unknown"]:
        """The unit as a whole: its old CA file, the new one, some partitions each
        (every one mounting), or a partition not whole."""
        states = {p.holds for p in self.partitions}
        if not states or states == {"old"}:
            return "old"
        if states == {"new"}:
            return "new"
        if states <= {"old", "new"}:
            return "partial"
        if "unknown" in states and self.torn is None:
            return "unknown"
        return "broken"

    def describe(self) -> str:
        """What happened and what the unit holds, in one sentence."""
        if self.written == 0:
            head = "stopped before anything was written"
            if self.earlier:
                head = (
                    "finished the earlier interrupted update "
                    f"({plural(self.earlier, 'sector')}), then stopped before writing "
                    "anything of this one"
                )
        else:
            head = (
                f"stopped after {self.written} of {plural(self.total, 'sector')} of the "
                f"{_NOUN[self.what]}, at a sector boundary"
            )
        # a failure, not a stop: the sector in flight may be cut (acknowledged, not yet
        # read back: acknowledged data may still be in the stub's buffer)
        if self.torn is not None:
            head = (
                f"stopped after {self.written} of {plural(self.total, 'sector')} of the "
                f"{_NOUN[self.what]}, the next one ({self.torn:#x}) not known to be written whole"
            )
        return f"{head}: {self.state()}"

    def state(self) -> str:
        """What the unit mounts with now, and whether it may boot: :meth:`describe`
        after its head, said alike after a failure that cut a sector (:attr:`torn`)."""
        # this run finished an earlier interrupted update first: "old" is what that left
        finished = self.earlier and self.what == "update"
        if not self.partitions:
            if finished:
                return "the unit holds the CA file of the interrupted update it finished"
            return _UNCHANGED
        holds = self.holds
        if self.what == "restore":
            old, new = "its original (pre-update) CA file", "the CA file of the update"
        elif finished:
            old, new = "the CA file of the interrupted update it finished", "the new CA file"
        else:
            old, new = "its old CA file", "the new CA file"
        if holds == "old":
            tail = f"the unit mounts with {old}"
            touched = self.written or self.torn is not None
            if touched and self.what != "restore":
                tail += " (what was written is not in use yet)"
            elif not touched and self.what == "update":
                # in the words of a stop before any partition was known: one sentence
                tail = f"the unit holds {old}" if finished else _UNCHANGED
        elif holds == "new":
            tail = f"the unit mounts with {new}"
        elif holds == "partial":
            parts = ", ".join(f"{p.name} {_WORD[p.holds]}" for p in self.partitions)
            tail = f"partly applied, every file system mounts ({parts})"
        elif holds == "unknown":
            tail = "what the file system mounts with in this state is not known"
        else:
            torn = (
                f"is mid-update (its sector at {self.torn or 0:#x} not known to be written "
                "whole: it may be erased or half written) and may not mount"
            )
            bad = ", ".join(
                f"'{p.name}' {torn if p.holds == 'unknown' else _WORD[p.holds]}"
                for p in self.partitions
                if p.holds in ("mixed", "unmountable", "unknown")
            )
            tail = f"partly applied and NOT whole: {bad}; do not restart the unit before"
            tail += " finishing"
            if self.kept_in_loader:
                tail += " (it was left in its bootloader, not restarted)"
            if self.torn is not None:
                tail += (
                    ": firmware that formats a file system it cannot mount "
                    "(SPIFFS.begin(true), LittleFS.begin(true)) would wipe every other file"
                )
        return tail

    def partition_words(self) -> str:
        """``fs_0 new, fs_1 old``: what each partition mounts with, when they differ
        (partly applied, or not whole); "" otherwise, where one word says it all."""
        if self.holds not in ("partial", "broken"):
            return ""
        return ", ".join(f"{p.name} {_WORD[p.holds]}" for p in self.partitions)

    def next_step(self) -> str:
        """What to run now, in the words of the caller's user (:attr:`spelling`)."""
        restore = self.spelling.restore_for(self.port)
        # a sector cut part-way: the unit must not boot before the rerun finishes it
        keep = (
            "keep the unit from booting its firmware (connected, in download mode; "
            "reconnected: hold BOOT while powering it) until it is finished: "
            if self.torn is not None and self.holds == "broken"
            else ""
        )
        if self.what == "restore":
            return f"{keep}run {restore} again to finish putting the original back"
        if self.written == 0 and self.holds == "old":
            return f"{self.spelling.again} to update the unit"
        journal = f" from the journal ({self.journal})" if self.journal is not None else ""
        if keep:
            return (
                f"{keep}{self.spelling.again} to finish the update{journal}, or "
                f"{restore} to put the old CA file back"
            )
        return (
            f"{self.spelling.again} to finish the update{journal}; "
            f"{restore} puts the old CA file back"
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "what": self.what,
            "holds": self.holds,
            "sectors_written": self.written,
            "sectors_total": self.total,
            "partitions": [
                {
                    "name": p.name,
                    "holds": p.holds,
                    "new_sectors": p.new_sectors,
                    "sectors": p.sectors,
                }
                for p in self.partitions
            ],
            "journal": str(self.journal) if self.journal is not None else None,
            "description": self.describe(),
            "next": self.next_step(),
        }


_NOUN = {"update": "update", "finishing": "interrupted update", "restore": "restore"}
_WORD: dict[str, str] = {
    "old": "old",
    "new": "new",
    "mixed": "mounts with neither CA file",
    "unmountable": "does not mount",
    "unknown": "unknown",
}


def keep_in_loader_if_not_whole(unit: Any, e: UnitInterrupted) -> UnitInterrupted:
    """A unit stopped in a state whose file system does not mount (or is not known)
    must not boot into it: firmware that formats a file system it cannot mount
    (``SPIFFS.begin(true)``, ``LittleFS.begin(true)``) would wipe every other file. So
    the port is closed without the usual hard reset; the message says so."""
    if e.interruption.holds not in ("broken", "unknown") or getattr(unit, "after", None) is None:
        return e
    unit.after = "no-reset"
    kept = replace(e.interruption, kept_in_loader=True)
    result = e.result
    if result is not None and getattr(result, "interruption", None) is not None:
        result = replace(result, interruption=kept)
    return UnitInterrupted(kept, result)


class UnitInterrupted(Interrupted):
    """A run stopped on request; ``interruption`` says what the unit holds. ``result`` is
    the run's report so far (a FlashResult or RestoreResult) when there is one."""

    def __init__(self, interruption: Interruption, result: Any = None) -> None:
        super().__init__(
            f"{interruption.port}: {interruption.describe()}", hint=interruption.next_step()
        )
        self.interruption = interruption
        self.result = result

    def spelt(self, spelling: Spelling) -> UnitInterrupted:
        """This stop, its next step (the hint, the report's) named as ``spelling`` does."""
        said = replace(self.interruption, spelling=spelling)
        result = self.result
        if result is not None and getattr(result, "interruption", None) is not None:
            result = replace(result, interruption=said)
        return UnitInterrupted(said, result)


@contextmanager
def spoken(spelling: Spelling) -> Iterator[None]:
    """A stop raised inside names its next step as ``spelling`` does: the interruptions
    are made deep down (a read, a write, a request before connecting), the caller's
    words known only to the function the caller called."""
    try:
        yield
    except UnitInterrupted as e:
        raise e.spelt(spelling) from None


@contextmanager
def spoken_with(spelling: Spelling, journal: Journal | None) -> Iterator[Journal]:
    """:func:`spoken`, yielding the journal (given, else the default one) told the same
    words: flash_ca and restore_flash say everything, a stop's next step and the journal's
    hints, as their caller's user does."""
    with spoken(spelling):
        yield (journal or Journal()).spelt(spelling)


def stop_if_requested(
    cancel: Cancel | None, port: str, what: Literal["update", "restore"] = "update"
) -> None:
    """Raise :class:`UnitInterrupted` (nothing written) if a stop was requested."""
    if cancel is not None and cancel.requested:
        raise UnitInterrupted(Interruption(port, what, 0, 0))


# ---------------------------------------------------------------------------------------
# Reads that stop at once


class GuardedFlash(SourceView, Flash):
    """``flash`` whose reads and MD5s raise :class:`UnitInterrupted` once a stop is
    requested, until :meth:`start_writing`. From then on nothing here stops anything:
    reads serve verification, and only the writer decides, between sectors."""

    def __init__(
        self, flash: Flash, cancel: Cancel, *, what: Literal["update", "restore"] = "update"
    ) -> None:
        self.source: Flash = flash
        self.cancel = cancel
        self.what: Literal["update", "restore"] = what
        self._writing = False

    @contextmanager
    def writing(self) -> Iterator[None]:
        """While sectors are written and checked: reads and MD5s never stop here."""
        self._writing = True
        try:
            yield
        finally:
            self._writing = False

    def check(self) -> None:
        """Raise if a stop was requested and no write is under way."""
        if self.cancel.requested and not self._writing:
            raise UnitInterrupted(Interruption(self.name, self.what, 0, 0))

    def read(self, offset: int, length: int) -> bytes:
        out = bytearray()
        while len(out) < length:
            self.check()
            n = min(_READ_PIECE, length - len(out))
            out += self.source.read(offset + len(out), n)
        return bytes(out)

    def md5(self, offset: int, length: int) -> str:
        self.check()
        return self.source.md5(offset, length)

    def erase(self, offset: int, length: int) -> None:
        self.source.erase(offset, length)

    def write(self, offset: int, data: bytes) -> None:
        self.source.write(offset, data)


# ---------------------------------------------------------------------------------------
# What a partition mounts with, sector by sector


def _mounts_with(cache: FlashCache, change: PartitionChange, written: Mapping[int, bytes]) -> Holds:
    after = list(written.items())
    if not reread_problems(cache, change, written=after):
        return "new"
    # "old": the CA file as found (None: there was none), every other file as it was
    problems = reread_problems(cache, change, written=after, old=True)
    if not problems:
        return "old"
    if any(p.startswith(DOES_NOT_MOUNT) for p in problems):
        return "unmountable"
    return "mixed"


def sector_outcomes(cache: FlashCache, plan: UpdatePlan) -> dict[int, Holds]:
    """For every planned sector: what its partition mounts with once it and the sectors
    before it (in the plan's order) are written. Computed in memory before any write."""
    out: dict[int, Holds] = {}
    for change in plan.changes:
        written: dict[int, bytes] = {}
        for w in change.writes:
            written[w.offset] = w.new
            out[w.offset] = _mounts_with(cache, change, written)
    return out


def holdings(
    entry: JournalEntry, states: Mapping[int, SectorState]
) -> tuple[PartitionHolding, ...]:
    """What each partition of ``entry`` mounts with, its sectors being in ``states``.

    Known only when the sectors holding new content are a prefix of the plan's order (as
    every stop between sectors leaves them, forwards or, for a restore, backwards): then
    it is what was recorded for the last of them.
    """
    out = []
    for p in entry.partitions:
        seq = [states.get(s.offset, "other") for s in p.sectors]
        k = 0
        while k < len(seq) and seq[k] == "new":
            k += 1
        new = sum(1 for s in seq if s == "new")
        holds: Holds
        if _torn_leaves_alone(p, seq, k):
            # LittleFS writes its new data blocks before the commit that points at them:
            # one the old metadata does not use is torn to no effect
            holds = "old"
        elif any(s != "old" for s in seq[k:]):
            holds = "unknown"
        elif k == 0:
            holds = "old"
        else:
            holds = cast("Holds", p.sectors[k - 1].after or "unknown")
        out.append(PartitionHolding(p.name, holds, new, len(seq)))
    return tuple(out)


def _torn_leaves_alone(p: JournalPartition, seq: list[SectorState], k: int) -> bool:
    """Whether the one sector of ``p`` that is neither old nor new, the next in the
    plan's order (``k``: a cut in flight), leaves it mounting with the old CA file: a
    LittleFS block written before the metadata commit that uses it (the partition holds
    "old" before it and with it written whole). LittleFS reads a block only through
    metadata, whose pairs are committed with a CRC, so whatever a cut left in a block
    the old metadata does not use is not read; SPIFFS scans every page, and is known
    only at sector boundaries."""
    if p.fs_type != "littlefs" or k >= len(seq) or seq[k] != "other":
        return False
    if any(s != "old" for s in seq[k + 1 :]):
        return False
    before = p.sectors[k - 1].after if k else "old"
    return before == "old" and p.sectors[k].after == "old"
