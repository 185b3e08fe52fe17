"""What a technician sees at the bench, for ``flash`` (one unit or a station) and
``restore``: one progress bar per unit for the whole job, then one line per unit.

The line says ``OK`` or ``FAILED``, the port, the MAC, how long it took, and what
changed in root names (``+ISRG Root X2, -DST Root CA X3``); a failure says the one thing
to do next. The rest (partitions, sector addresses in write order, why that order, the
ranges the unit's MD5 proved untouched, notes such as "flagged encrypted but...") is
behind ``--verbose``, and always in ``--json`` and the station log.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..flash.base import JOB, Message, ProgressEvent, Step
from ..flash.found import ca_words, carried, told_apart
from ..flash.interrupt import UnitInterrupted
from ..flash.station import next_step
from ..text import plural
from ..ui import fit_lines
from ._plan_view import already_holds

if TYPE_CHECKING:
    from ..certs import Certificate
    from ..errors import EspCabundleError
    from ..flash.base import ProgressCallback
    from ..flash.found import PartitionFound, Roots
    from ..flash.interrupt import Interruption
    from ..flash.plan import UpdatePlan
    from ..flash.result import FlashResult
    from ..flash.station import UnitOutcome

__all__ = [
    "Line",
    "UnitBars",
    "failure_line",
    "flash_line",
    "found_change",
    "next_step",
    "render_lines",
    "root_names",
    "stopped_line",
]


# ---------------------------------------------------------------------------------------
# One bar per unit


class UnitBars:
    """A progress bar per unit on stderr, each counting the whole job (connecting,
    reading, writing, verifying) against a total known from the start. ``verbose``
    prints what the job says as it goes; warnings are always printed."""

    def __init__(self, ports: Sequence[str], *, shown: bool, verbose: bool) -> None:
        self.verbose = verbose
        self.bars: Any = None
        self.tasks: dict[str, Any] = {}
        if not shown:
            return
        from rich.console import Console
        from rich.progress import BarColumn, TaskProgressColumn, TextColumn
        from rich.progress import Progress as Bars

        width = max(len(p) for p in ports)
        self.bars = Bars(
            TextColumn("{task.fields[port]}"),
            BarColumn(bar_width=24),
            TaskProgressColumn(),
            TextColumn("{task.fields[status]}"),
            console=Console(stderr=True),
        )
        for p in ports:
            self.tasks[p] = self.bars.add_task("", total=JOB, port=p.ljust(width), status="")

    def progress_for(self, port: str) -> ProgressCallback | None:
        if self.bars is None:
            return None
        from rich.markup import escape

        bars, task, verbose = self.bars, self.tasks[port], self.verbose

        def show(event: ProgressEvent) -> None:
            if isinstance(event, Step):
                bars.update(task, completed=event.done, status=escape(event.doing[:50]))
            elif isinstance(event, Message):
                # soft_wrap: a line is never cut at the console's width (80 columns when
                # stderr is a file or a pipe), so a station's captured log keeps each
                # message, its MAC or sector, on one line for grep
                if event.level in ("warning", "error"):
                    bars.console.print(
                        f"{escape(port)}: {event.level}: {escape(event.text)}", soft_wrap=True
                    )
                elif verbose:
                    bars.console.print(
                        f"{escape(port)}: {escape(event.text)}", highlight=False, soft_wrap=True
                    )

        return show

    def finish(self, port: str, word: str) -> None:
        """End a unit's bar with its status word; a job that ended OK (or as a dry run)
        is whole even when it had nothing to do, and shows 100%, never "0% OK"."""
        if self.bars is not None:
            done = {"completed": JOB} if word in ("OK", "DRY RUN") else {}
            self.bars.update(self.tasks[port], status=word, **done)

    @contextmanager
    def shown(self) -> Iterator[UnitBars]:
        if self.bars is None:
            yield self
            return
        with self.bars:
            yield self


# ---------------------------------------------------------------------------------------
# One line per unit


@dataclass(frozen=True, slots=True)
class Line:
    """One unit's result as a technician reads it."""

    status: str  # OK, FAILED, DRY RUN, STOPPED
    port: str
    mac: str
    what: str
    seconds: float


def render_lines(lines: Sequence[Line], *, width: int | None = None) -> list[str]:
    """The lines with their columns aligned (a station's units line up); the free text
    comes last, wrapped to ``width`` (:func:`~esp_cabundle.ui.table_width`) under its
    own column."""
    status = max(len(x.status) for x in lines)
    port = max(len(x.port) for x in lines)
    secs = max(len(f"{x.seconds:.1f}") for x in lines)
    out = []
    for x in lines:
        head = f"{x.status:<{status}}  {x.port:<{port}}  {x.mac:<17}  {x.seconds:>{secs}.1f} s  "
        out.append(fit_lines(head + x.what, width, hang=len(head)))
    return out


def root_names(added: Roots, removed: Roots) -> str:
    """``+ISRG Root X2, -DST Root CA X3``: roots (name, SHA-256) by name, added first; a
    name two of them share gets each one's SHA-256 prefix (``+E5 (1a2b3c4d), +E5
    (5e6f7a8b)``): two certificates named alike read as one root said twice."""
    words = told_apart((*added, *removed))
    return ", ".join(
        [f"+{w}" for w in words[: len(added)]] + [f"-{w}" for w in words[len(added) :]]
    )


def roots_change(changes: Iterable[tuple[Roots, Roots]]) -> str:
    """:func:`root_names` of CA files changed from one root list to another, each root
    (name, SHA-256) named once over them all (every partition a run wrote)."""
    added: dict[str, str] = {}
    removed: dict[str, str] = {}
    for before, after in changes:
        old = {fp: name for name, fp in before}
        new = {fp: name for name, fp in after}
        added.update((fp, name) for fp, name in new.items() if fp not in old)
        removed.update((fp, name) for fp, name in old.items() if fp not in new)
    return root_names(
        tuple((n, fp) for fp, n in added.items()), tuple((n, fp) for fp, n in removed.items())
    )


def found_change(
    found: Sequence[PartitionFound], goal: Roots | None = None, *, planned: bool = False
) -> tuple[str, str]:
    """What a run that finished (or undid) a journaled update changed, from what each
    partition it wrote held when found to ``goal`` (restoring: each one's roots from
    before the update): ``+R10, -DST Root CA X3``; and, in brackets, each partition
    whose roots were not known, saying what is and how many sectors were written there
    (``(fs_0 torn by a cut: held ...; 1 of 3 sectors written)``; ``planned``: to be
    written). When no partition's roots were known, finishing an update says its change
    against the journal's roots from before it (``... against the journal's roots before
    the update``): never a bare "up to date" after sectors were written. A restore says
    none (it ends as before the update, which its line says)."""
    wrote = [f for f in found if f.todo]
    change = roots_change(
        (f.roots, f.before if goal is None else goal) for f in wrote if f.roots is not None
    )
    unknown = [f for f in wrote if f.roots is None]
    if not change and unknown and len(unknown) == len(wrote) and not wrote[0].restoring:
        journal = roots_change((f.before, f.after if goal is None else goal) for f in unknown)
        if journal:
            change = f"{journal} against the journal's roots before the update"
    verb = "to be written" if planned else "written"
    said = "; ".join(
        f"{f.name} {f.not_known()}; {f.todo} of {plural(f.sectors, 'sector')} {verb}"
        for f in unknown
    )
    return change, f" ({said})" if said else ""


def plan_roots(plan: UpdatePlan | None) -> tuple[list[Certificate], list[Certificate]]:
    """The roots an update adds and removes, over every partition it changes."""
    added: dict[str, Certificate] = {}
    removed: dict[str, Certificate] = {}
    for c in plan.changes if plan is not None else ():
        if c.skipped or c.up_to_date:
            continue
        added.update((x.sha256, x) for x in c.roots.added)
        removed.update((x.sha256, x) for x in c.roots.removed)
    return list(added.values()), list(removed.values())


def created_note(plan: UpdatePlan | None, *, dry_run: bool = False) -> str:
    """``; fs_0: /ca.pem created (none before)``: each partition that had no CA file, said
    on the line, not only under --verbose (its roots would read as replaced)."""
    verb = "would be created" if dry_run else "created"
    return "".join(
        f"; {c.partition.name}: {c.ca_path} {verb} (none before)"
        for c in (plan.changes if plan is not None else ())
        if c.writes and c.old_ca is None and not c.skipped
    )


def removed_note(found: Sequence[PartitionFound], *, dry_run: bool = False) -> str:
    """``; fs_0: CA file removed (none before the update)``: a restore that puts back a
    partition without a CA file says so, not only the roots it takes away."""
    verb = "would be removed" if dry_run else "removed"
    return "".join(
        f"; {f.name}: CA file {verb} (none before the update)"
        for f in found
        if f.created and f.todo
    )


def flash_line(outcome: UnitOutcome[FlashResult]) -> Line:
    """A flashed unit in one line."""

    error = outcome.error
    mac = outcome.unit.mac if outcome.unit is not None else "-"
    if isinstance(error, UnitInterrupted):
        return stopped_line(outcome.port, mac, error.interruption, outcome.seconds)
    r = outcome.result
    if r is None:
        assert error is not None
        return failure_line(outcome.port, mac, error, outcome.seconds)
    added, removed = plan_roots(r.plan)
    changed = root_names(
        tuple((c.label, c.sha256) for c in added), tuple((c.label, c.sha256) for c in removed)
    )
    created = created_note(r.plan, dry_run=r.status == "dry run")
    changed = changed + created if changed else created.removeprefix("; ")
    finished = [x for x in r.resumed if x.action == "finished"]
    # from what the first interrupted update found to what the last one finished left
    brought, torn = ("", "")
    if finished:
        brought, torn = found_change(finished[0].found, finished[-1].entry.roots_after)
    other = _other_ca(r)
    if r.status == "updated":
        what = changed or "updated (the same roots, another file)"
        if other:
            what = (
                f"finished the interrupted update of another CA ({other}){torn}, then wrote {what}"
            )
        elif finished:
            what = f"finished the interrupted update{torn}, then {what}"
    elif r.status == "up to date":
        held = r.plan.ca.certificates if r.plan is not None else ()
        what = f"up to date: {already_holds(held)}"
        if finished:
            what = f"finished the interrupted update: {brought or what}{torn}"
    elif r.status == "resume pending":
        pending = _PENDING
        if other:
            pending = (
                f"an interrupted update of another CA ({other}) would be finished first, then "
                f"this one written; run without --dry-run"
            )
        return Line("DRY RUN", r.port, r.mac, pending, outcome.seconds)
    else:  # dry run
        return Line("DRY RUN", r.port, r.mac, f"would change: {changed}", outcome.seconds)
    what += unmarked_note(r.journal_error, "complete")
    return Line("OK", r.port, r.mac, what, outcome.seconds)


def unmarked_note(error: EspCabundleError | None, marked: str) -> str:
    """What an OK unit's line adds when its journal entry could not be marked
    (``marked``: complete, restored); said in full once the units are reported."""
    return f"; its journal entry could not be marked {marked}" if error is not None else ""


_PENDING = "an interrupted update would be finished first; run without --dry-run"


def _other_ca(r: FlashResult) -> str:
    """Both CAs, when an interrupted update this run finished (or would) carried another
    CA than the one it flashes: ``SHA-256 ..., 3 roots: ...; this one SHA-256 ...``."""
    for x in r.resumed:
        if x.action in ("finished", "would finish") and x.other_ca:
            old = carried(x.entry)
            return f"{old}; this one {ca_words(*x.this_ca)}"
    return ""


# Why a unit NOT whole must not boot (Interruption.state says it at length).
NOT_WHOLE_WARNING = (
    "firmware formatting a file system it cannot mount (SPIFFS.begin(true)) "
    "would wipe every other file"
)
# What a stopped unit holds, in the words of the job stopped (Interruption.holds).
_HOLDS = {
    "old": "unchanged: holds its old CA file",
    "new": "holds the new CA file",
    "partial": "partly updated, every file system mounts",
    "broken": "NOT whole: do not restart it",
    "unknown": "in an unknown state",
}
_RESTORE_HOLDS = {
    **_HOLDS,
    "old": "back to its original CA file",
    "new": "unchanged: holds the CA file of the update",
    "partial": "partly restored, every file system mounts",
}


def stopped_line(port: str, mac: str, stop: Interruption, seconds: float) -> Line:
    """A unit stopped on request (``flash`` or ``restore``): what it holds now, and the
    one thing to do next."""
    holds = (_RESTORE_HOLDS if stop.what == "restore" else _HOLDS)[stop.holds]
    if stop.what == "restore" and not stop.written and stop.holds == "old":
        # Nothing written back (before the plan: no partition to call "old"): the unit
        # holds what it held before this run, not its original CA file.
        holds = "unchanged: nothing was written back"
    elif stop.earlier and stop.what == "update" and stop.holds == "old":
        holds = "finished the interrupted update first: holds its CA file"
    elif stop.written and holds.startswith("unchanged: "):
        # Sectors were written, though not in use yet: the CA file is as it was, the
        # flash is not, and the journal knows which sectors.
        holds = (
            f"{holds.removeprefix('unchanged: ')} ({stop.written} of "
            f"{plural(stop.total, 'sector')} written, not in use yet)"
        )
    parts = stop.partition_words()  # the line is the one place a stop is said
    if parts:
        holds = f"{holds} ({parts})"
    if stop.kept_in_loader:  # not reset: still in download mode, its firmware not run
        holds += ", left in its bootloader"
    if stop.holds == "broken":  # why "do not restart it": the rest of the describe()
        holds += f"; {NOT_WHOLE_WARNING}"
    return Line("STOPPED", port, mac, f"{holds}; next: {stop.next_step()}", seconds)


def failure_line(port: str, mac: str, error: EspCabundleError, seconds: float) -> Line:
    """A unit that failed: what went wrong, and the one thing to do next."""
    message = error.message.removeprefix(f"{port}: ")
    return Line("FAILED", port, mac, f"{message}; next: {next_step(error, port)}", seconds)
