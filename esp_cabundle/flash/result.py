"""What a flash of one unit came to (:class:`FlashResult`), as
:func:`~esp_cabundle.flash.flasher.flash_ca` returns it and a stop or a failure part-way
carries it: the roots the unit held before and holds after, said from the plan, the
journal, or what an interruption left."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Literal

from ..blocks import SECTOR_SIZE
from .found import NO_CA, Resumed, Roots, named, per_partition, roots_after_stop

if TYPE_CHECKING:
    from ..certs import Certificate
    from ..errors import OutputError
    from .interrupt import Interruption
    from .journal import JournalEntry
    from .plan import UpdatePlan
    from .serial import UnitInfo

__all__ = ["FlashResult", "FlashStatus"]

FlashStatus = Literal["updated", "up to date", "dry run", "resume pending", "interrupted"]


@dataclass(frozen=True, slots=True)
class FlashResult:
    """One unit's update. ``sectors_written`` includes sectors of finished earlier runs."""

    port: str
    mac: str
    chip: str
    board: str
    status: FlashStatus
    plan: UpdatePlan | None
    resumed: tuple[Resumed, ...] = ()
    sectors_written: int = 0
    bytes_read: int = 0
    bytes_written: int = 0
    journal: JournalEntry | None = None
    unit: UnitInfo | None = None
    interruption: Interruption | None = None
    # the roots read before a stop while planning (no plan then)
    roots_read: tuple[Certificate, ...] = ()
    # Updated and verified (or an interrupted update finished, each sector checked), but
    # the journal entry could not be marked complete (a full disk): it still says
    # pending, which the next flash or restore settles. A warning, not a failure: the
    # unit holds what it was written.
    journal_error: OutputError | None = None

    @property
    def partitions(self) -> tuple[str, ...]:
        """The partitions this run's update changes; stopped or failed while finishing
        an interrupted update (no plan yet), that update's."""
        if self.plan is not None:
            return tuple(c.partition.name for c in self.plan.changes)
        return tuple(p.name for p in self.journal.partitions) if self.journal else ()

    @property
    def ca_before(self) -> tuple[str, ...]:
        """Fingerprints of the CA file as found; when the partitions differ, each
        prefixed with its partition (``fs_0:``), and one whose roots are not known (a
        sector torn by a cut) listed as ``fs_0:torn``."""
        return tuple(fp for _, fp in self._roots(before=True))

    @property
    def ca_after(self) -> tuple[str, ...]:
        """Fingerprints of the CA file the unit holds now; partly applied, each prefixed
        with its partition (``fs_0:``); empty when not known."""
        return tuple(fp for _, fp in self._roots(before=False))

    @property
    def roots_before(self) -> tuple[str, ...]:
        """The roots of the CA file as found, by name (as :attr:`ca_before`; a partition
        whose roots are not known says what is: ``fs_0: torn by a cut: held ...``)."""
        return tuple(name for name, _ in self._roots(before=True))

    @property
    def roots_after(self) -> tuple[str, ...]:
        return tuple(name for name, _ in self._roots(before=False))

    def _found(self) -> Roots:
        """(name, fingerprint) of the roots the unit held when this run started: for an
        interrupted update this run finished (or was finishing), what each partition then
        held as far as the journal tells (:meth:`Resumed.roots_found`), else those the
        plan read, else the journal's or those read before a stop."""
        for r in self.resumed:
            if r.action in ("finished", "would finish", "stopped") and r.entry.roots_before:
                return r.roots_found()
        if self.plan is not None:
            return self._planned()
        if self.journal is not None:
            return self.journal.roots_before
        return named(self.roots_read)

    def _planned(self, partition: str | None = None) -> Roots:
        """The roots each partition (or only ``partition``) held when this update was
        planned, after any interrupted one was finished."""
        changes = self.plan.changes if self.plan is not None else ()
        return per_partition(
            [
                (c.partition.name, named(c.roots.before) if c.old_ca is not None else NO_CA)
                for c in changes
                if not c.skipped and partition in (None, c.partition.name)
            ]
        )

    def _settled(self) -> Roots:
        """The roots the unit held when this run's own update began: as planned; not
        planned yet, as found, every partition of an interrupted update this run
        finished holding that update's CA."""
        if self.plan is not None:
            return self._planned()
        per: dict[str, Roots] = {}
        for r in self.resumed:
            if not per and r.found:
                per = {f.name: f.listed for f in r.found}
            if r.action == "finished":
                per.update((p.name, r.entry.roots_after) for p in r.entry.partitions)
        return per_partition(list(per.items())) if per else self._found()

    def _roots(self, *, before: bool) -> Roots:
        if before:
            return self._found()
        stop = self.interruption
        if stop is not None and stop.what == "finishing":
            stopped = [r for r in self.resumed if r.action == "stopped"]
            return roots_after_stop(stopped[0], stop) if stopped else ()
        if self.plan is not None:
            new = named(self.plan.ca.certificates)
        else:
            new = self.journal.roots_after if self.journal is not None else ()
        holds = stop.holds if stop is not None else None
        if self.status in ("updated", "up to date") or holds == "new":
            return new
        if stop is not None and holds == "partial":  # every partition mounts, each its own
            return per_partition(
                [
                    (p.name, new if p.holds == "new" else self._planned(p.name))
                    for p in stop.partitions
                ]
            )
        if holds not in (None, "old"):
            return ()  # a partition not whole, or not known: the interruption says which
        return self._settled()

    def finishing_stopped(
        self, stop: Interruption, written: int, resumed: Sequence[Resumed]
    ) -> FlashResult:
        """This run stopped (on request, or cut by a failure: a lost link) while finishing
        an interrupted update, after ``written`` of its sectors: what was found and written
        so far, which the log and the report keep, the entry being finished named as the
        one to finish (as ``stop``'s next step names it)."""
        done = sum(r.sectors_written for r in resumed if r.action in ("finished", "stopped"))
        stopped = [r.entry for r in resumed if r.action == "stopped"]
        return replace(
            self,
            status="interrupted",
            resumed=tuple(resumed),
            sectors_written=done,
            bytes_written=done * SECTOR_SIZE,
            journal=stopped[-1] if stopped else self.journal,
            interruption=replace(stop, earlier=done - written),
        )

    @property
    def log_result(self) -> str:
        """The station log's word: updated, up-to-date, resumed (an interrupted update
        finished, whatever was written after it), interrupted, dry-run."""
        finished = any(r.action == "finished" for r in self.resumed)
        if self.status in ("updated", "up to date") and finished:
            return "resumed"
        if self.status in ("dry run", "resume pending"):
            return "dry-run"
        return self.status.replace(" ", "-")
