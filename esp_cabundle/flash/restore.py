"""Undoing a journaled update: every sector it wrote gets its saved old content back.

The journal is on the computer, and may have been edited or come from another unit's
layout: before anything is written the unit's own partition table is read and every
partition the entry names must be there, a data partition at the same offset and size,
and one the board keeps its file system in (the sectors were already checked to lie
inside it when the entry was read). The
sectors go back in the reverse of the update's (power-safe) order, so each state on
the way is one the update itself passed through; a stop request is obeyed at once
before the first write, between two sectors after it (see :mod:`.interrupt`). Once the
last sector is back the unit is read back whatever is asked, as ``flash`` verifies; with
nothing to write a stop while reading back ends the run, the entry left as it was.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, cast

from ..arguments import check_port
from ..blocks import FlashCache
from ..board_model import check_board
from ..boards import board_file, load_board
from ..certs import load_certificates
from ..errors import EspCabundleError, FlashError, InputError, OutputError
from ..fs.base import FS_NAMES
from ..fs.inplace import mount_region
from ..partitions import DEFAULT_TABLE_OFFSET
from ..spelling import PYTHON, Spelling
from ..text import plural, printable
from .base import JOB, Flash, ProgressCallback, say, step, within
from .changed_files import changed_files, unnamed_note
from .found import PartitionFound, partitions_found
from .interrupt import (
    Cancel,
    GuardedFlash,
    UnitInterrupted,
    keep_in_loader_if_not_whole,
    spoken,
    spoken_with,
    stop_if_requested,
)
from .journal import Journal, JournalEntry
from .serial import open_unit
from .table import read_table
from .writer import (
    EntryState,
    WriteFailed,
    entry_state,
    keep_torn_in_loader,
    refuse_encrypted,
    write_journaled,
)

if TYPE_CHECKING:
    from collections.abc import Callable

    from typing_extensions import Unpack

    from ..boards import Board
    from ..partitions import PartitionTable
    from .serial import Link, UnitInfo

__all__ = [
    "AlreadyRestored",
    "RestoreResult",
    "failed_entry",
    "restore_flash",
    "restore_unit",
]

# The shares of a restore (of JOB): connecting, checking the unit against the journal,
# then writing the old sectors back.
_CONNECT, _CHECK = 15, 30


@dataclass(frozen=True, slots=True)
class RestoreResult:
    """A journaled update undone (or, with ``dry_run``, what undoing it would write);
    ``found``: what each of its partitions held when the restore found it, and the
    sectors it writes back there."""

    port: str
    mac: str
    entry: JournalEntry
    sectors_written: int
    already_original: bool
    dry_run: bool = False
    found: tuple[PartitionFound, ...] = ()
    # Written back and read back, but the entry could not be marked restored (a full
    # disk): a warning, not a failure, as FlashResult's (the next restore settles it).
    journal_error: OutputError | None = None
    # False: nothing was written and the entry left as it was (it may be another unit's)
    marked: bool = True


def _board_of(entry: JournalEntry) -> Board | None:
    """The board the update was made for, when it is one of ours (a board file given
    by path then is not: its name is all the journal keeps)."""

    try:
        return load_board(entry.board)
    except EspCabundleError:
        return None


class AlreadyRestored(InputError):
    """Every update journaled for the unit was already undone (or cancelled before it
    wrote): nothing to do. An InputError for callers of :func:`restore_flash`; the
    ``restore`` command reports it as done (exit 0), so a rerun of a station's script
    passes."""


def _nothing_to_undo(journal: Journal, mac: str, spelling: Spelling) -> InputError:
    """The journal holds no update of the unit to undo: none at all (saved elsewhere?),
    every one already undone or never applied (:class:`AlreadyRestored`), or one set
    aside as stale. The hints name the journal's directory as ``spelling`` does."""
    done = journal.entries(mac)
    if not done:
        return InputError(
            f"the journal in {journal.directory} holds no update of the unit {mac} to undo",
            hint=f"updates are journaled on the computer that ran '{spelling.flash}'; pass "
            f"{spelling.journal_dir} if they were saved elsewhere",
        )
    states = {e.status for e in done}
    # run as printed: the journal read here, not the default one
    listed = spelling.journal_list_in(spelling.quote(os.path.abspath(journal.directory)))
    if states <= {"restored", "cancelled"}:
        undone = {
            frozenset({"restored"}): "already restored",
            frozenset({"cancelled"}): "cancelled before writing",
        }.get(frozenset(states), "already restored or cancelled before writing")
        return AlreadyRestored(
            f"every update journaled for {mac} in {journal.directory} was {undone}; nothing to do",
            hint=f"{listed} shows the entries",
        )
    return InputError(
        f"no update journaled for {mac} in {journal.directory} is left to undo (each was "
        "restored, cancelled before writing, or set aside as stale); nothing written",
        hint=f"nothing to do; {listed} shows the entries (an update "
        f"journaled elsewhere: pass {spelling.journal_dir})",
    )


def _refusal(
    entry: JournalEntry, table: PartitionTable, board: Board | None, spelling: Spelling
) -> str | None:
    """Why the entry must not be written to this unit: its partitions are not the
    table's, or not the ones the board keeps its file system in."""

    mismatch = entry.table_mismatch(table)
    if mismatch is not None or board is None or board.filesystem is None:
        return mismatch
    try:
        targets = {p.name for p in board.fs_partitions(table, spelling)}
    except EspCabundleError as e:
        # its message alone: str(e) carries its hint on a line of its own
        return (
            f"board {board.name} finds no file-system partition in the unit's table ({e.message})"
        )
    stray = [p.name for p in entry.partitions if p.name not in targets]
    if stray:
        return (
            f"it writes partition '{stray[0]}', which board {board.name} keeps no file "
            f"system in (it uses {', '.join(sorted(targets))})"
        )
    return None


def _check_asked_board(port: str, entry: JournalEntry, board: Board, spelling: Spelling) -> None:
    """Refuse (InputError, nothing written) a --board whose file system is not the one the
    update wrote: the saved sectors would go back all the same, but the run (its line,
    --json, --log) would record the unit as a board it does not run."""
    fs = board.filesystem
    wrong = [p for p in entry.partitions if fs is not None and p.fs_type != fs.fs_type]
    if not wrong:
        return
    p = wrong[0]
    kept = FS_NAMES.get(fs.fs_type, fs.fs_type) if fs is not None else ""
    raise InputError(
        f"{port}: refusing the journaled update of {entry.when}: it wrote "
        f"{FS_NAMES.get(p.fs_type, p.fs_type)} in partition '{p.name}' for board "
        f"{entry.board}, but board {board.name} keeps {kept} there; nothing written",
        hint=f"is this the right --board? the update was made for {entry.board}: "
        f"{spelling.board_again_for(entry.board)}, or without it (the journal's is taken)",
    )


def _restored_problems(flash: Flash, entry: JournalEntry, board: Board | None) -> list[str]:
    """What differs, per partition, between the unit read back and the journal's old CA
    (empty: each mounts with it). Without a board of ours nothing says how to mount it,
    and the unit's MD5 of every written sector is all there is to check."""

    fs = board.filesystem if board is not None else None
    if fs is None:
        return []
    cache = FlashCache(flash)
    problems = []
    for p in entry.partitions:
        before = entry.roots_of(p)  # the slots of a unit may have held different CA files
        try:
            image = mount_region(cache, p.offset, p.size, fs_type=p.fs_type, profile=fs.profile)
            data = image.read(fs.ca_path) if image.exists(fs.ca_path) else b""
            certs = load_certificates(data, source="CA file") if data else ()
        except UnitInterrupted:
            raise  # a stop requested while reading: says nothing of what the unit holds
        except EspCabundleError as e:
            problems.append(f"{p.name} does not read back ({e.message})")
            continue
        if before and {c.sha256 for c in certs} != {fp for _, fp in before}:
            names = ", ".join(printable(c.label) for c in certs) or "no root"
            old = ", ".join(name for name, _ in before)
            problems.append(f"{p.name} holds {names}, not the old {old}")
    return problems


def _holds_its_update(entry: JournalEntry, state: EntryState) -> bool:
    """The unit holds some of what ``entry`` wrote (a sector new, or torn by its cut)."""
    return any(
        state.sectors[s.offset] == "other" or (state.sectors[s.offset] == "new" and s.new != s.old)
        for s in entry.sectors
    )


def _own_entry(
    flash: Flash,
    entries: list[JournalEntry],
    table: PartitionTable,
    board: Board | None,
    spelling: Spelling,
) -> tuple[JournalEntry, EntryState | None]:
    """Of several updates journaled for one MAC (newest first), the one this unit holds:
    units sharing a MAC (clones) each have their own, and one written back to another
    unit would give it the other's files (its identity, its settings). The one whose
    written sectors and untouched ranges the unit holds (as the update or a cut of it
    left them) and that holds some of what it wrote; none such, the newest one the
    unit holds as it was before; none at all, the newest (then refused, even forced:
    :func:`_refuse_clone`). FlashError (nothing written) when the unit holds what
    several wrote: which is its own is not known."""
    fits = []
    for e in entries:
        if _refusal(e, table, board or _board_of(e), spelling) is None:
            state = entry_state(flash, e)
            if not state.stale:
                fits.append((e, state))
    holding = [(e, st) for e, st in fits if _holds_its_update(e, st)]
    if len(holding) > 1:
        whens = ", ".join(e.when for e, _ in holding)
        raise FlashError(
            f"{flash.name}: the unit holds what {len(holding)} updates journaled for "
            f"{entries[0].mac} wrote (of {whens}): units sharing that MAC cannot be told "
            "apart, and writing back another unit's saved sectors would give it that "
            "unit's files; nothing written",
            hint=f"restore it with {spelling.journal_dir} naming a journal that holds only "
            "its own update (move the others' entries out of the journal)",
        )
    chosen = holding or fits
    return chosen[0] if chosen else (entries[0], None)


def _history_of(other: JournalEntry, entry: JournalEntry) -> bool:
    """``other``, restored, is this unit's own past beside ``entry``: undone before
    ``entry`` was written, which found the unit as ``other`` found it (flash, restore,
    flash again); or written over what ``entry`` wrote ("run it again"). Either way each
    sector both wrote must agree, so a clone's restored update, whose sectors held that
    clone's own files, is neither."""
    if other.status != "restored":
        return False
    if other.created < entry.created:
        if (other.updated or other.created) > entry.created:
            return False
        found = {s.offset: s.old_md5 for s in entry.sectors}
    else:
        found = {s.offset: s.new_md5 for s in entry.sectors}
    shared = [s for s in other.sectors if s.offset in found]
    return bool(shared) and all(s.old_md5 == found[s.offset] for s in shared)


def _refuse_clone(
    port: str,
    journal: Journal,
    mac: str,
    entry: JournalEntry,
    state: EntryState,
    spelling: Spelling,
) -> None:
    """The unit (changed since ``entry``) holds none of several updates journaled for
    its MAC: which is its own is not known, and writing back another unit's saved
    sectors would give it that unit's files, so not even ``--force`` writes. Counted
    against ``entry``: the others that wrote something (not cancelled or stale, which
    restore never writes) and are not this unit's own history (:func:`_history_of`).
    None when ``entry`` is cut-shaped: the unit holds that update as its cut left it,
    but for the one torn sector, so it is this unit's (flash's hint names --force).
    FlashError (nothing written) when refused; else nothing."""
    if state.cut_shaped:
        return
    wrote = [e for e in journal.entries(mac) if e.status not in ("cancelled", "stale")]
    if not [e for e in wrote if e.id != entry.id and not _history_of(e, entry)]:
        return
    raise FlashError(
        f"{port}: none of the {len(wrote)} updates journaled for {mac} in "
        f"{journal.directory} match this unit: units sharing a MAC (clones) each have "
        "their own, and writing back another unit's saved sectors would give it that "
        "unit's files; nothing written",
        hint=f"if this unit's own update was journaled, restore it with {spelling.journal_dir} "
        "naming a journal that holds only that entry (move the others out); else inspect "
        f"the unit ({spelling.inspect_for(port)}) and flash the CA you want ({spelling.flash})",
    )


def restore_flash(
    flash: Flash,
    *,
    mac: str,
    journal: Journal | None = None,
    dry_run: bool = False,
    force: bool = False,
    progress: ProgressCallback | None = None,
    board: Board | None = None,
    cancel: Cancel | None = None,
    spelling: Spelling = PYTHON,
) -> RestoreResult:
    """Write back the old content of the journaled update this unit holds: of several
    for ``mac`` (clones share one), the one whose written content it holds, else the
    newest (:func:`_own_entry`).

    InputError (nothing written) when the journal holds no update of it, or one whose
    partitions are not the unit's (its table, where ``board``, by default the journaled
    board, keeps it) or not the board's file-system partitions; FlashError (nothing
    written) when the file system changed since that update, unless ``force`` (even
    then with several updates journaled for the MAC, clones': :func:`_refuse_clone`);
    UnitInterrupted when ``cancel`` is requested. An entry that cannot be marked
    restored once the unit read back raises nothing: the result's ``journal_error``
    says what to mend. Hints name the board, the journal and what to run as
    ``spelling`` does: a stop's next step and the journal's too (a ``journal`` given is
    told it).
    """
    chosen: list[JournalEntry] = []
    with spoken_with(spelling, journal) as told:  # in the caller's words, as restore_unit's
        try:
            return _restore_flash(
                flash,
                mac=mac,
                journal=told,
                dry_run=dry_run,
                force=force,
                progress=progress,
                board=board,
                cancel=cancel,
                spelling=spelling,
                chosen=chosen,
            )
        except EspCabundleError as e:
            if chosen and not isinstance(e, UnitInterrupted):  # a stop carries its result
                setattr(e, _ENTRY, chosen[-1])  # pickled in its __dict__
            raise


# The attribute of a failed restore's error naming the entry it was undoing.
_ENTRY = "restoring_entry"


def failed_entry(error: BaseException | None) -> JournalEntry | None:
    """The journal entry a restore had chosen when ``error`` ended it (None: none yet),
    so a failed unit's log record still names its board and partitions."""
    return cast("JournalEntry | None", getattr(error, _ENTRY, None))


def _restore_flash(
    flash: Flash,
    *,
    mac: str,
    journal: Journal,
    dry_run: bool,
    force: bool,
    progress: ProgressCallback | None,
    board: Board | None,
    cancel: Cancel | None,
    spelling: Spelling,
    chosen: list[JournalEntry],
) -> RestoreResult:
    """:func:`restore_flash`; the entry undone is put in ``chosen`` once it is known."""
    entries = journal.undoable(mac)
    if not entries:
        raise _nothing_to_undo(journal, mac, spelling)

    guarded = GuardedFlash(flash, cancel or Cancel(), what="restore")
    entry, asked = entries[0], board
    board = board or _board_of(entry)
    offset = board.table_offset if board is not None else DEFAULT_TABLE_OFFSET
    step(progress, "reading the partition table", _CONNECT, JOB)
    table = read_table(guarded, offset=offset, spelling=spelling)
    step(progress, "checking what the unit holds", _CONNECT + 5, JOB)
    known: EntryState | None = None
    if len(entries) > 1:
        entry, known = _own_entry(guarded, entries, table, asked, spelling)
        board = asked or _board_of(entry)
    chosen.append(entry)
    if asked is not None:
        _check_asked_board(flash.name, entry, asked, spelling)
    mismatch = _refusal(entry, table, board, spelling)
    if mismatch is not None:
        # The entry fits the unit and only the --board asked does not: the entry is
        # good, and moving it out of the journal would lose the only way back.
        asked_only = asked is not None and entry.table_mismatch(table) is None
        raise InputError(
            f"{flash.name}: refusing the journaled update of {entry.when}: {mismatch}; "
            "nothing written",
            path=str(entry.path),
            hint=f"is this the right --board? the update was made for {entry.board}: "
            f"{spelling.board_again_for(entry.board)}, or without it (the journal's is taken)"
            if asked_only
            else "this entry is not from this unit's layout (or was edited); move it out of "
            "the journal",
        )
    state = known or entry_state(guarded, entry)
    if state.stale:
        _refuse_clone(flash.name, journal, mac, entry, state, spelling)
    if state.stale and not force:
        files = changed_files(guarded, entry, state, board)
        named = f"; files changed since: {', '.join(files)}" if files else ""
        named += unnamed_note(flash.name, entry, state, board, spelling)
        lost = f" (losing the change to {', '.join(files)})" if files else ""
        raise FlashError(
            f"{flash.name}: the file system changed since the update of {entry.when} "
            f"({state.changes()}{named}); writing the saved sectors back would undo that "
            "change or corrupt it; nothing written",
            hint="if a later update of this unit was journaled elsewhere "
            f"{spelling.other_journal}; {spelling.force} only as a last resort: it writes the "
            f"saved sectors over what the file system holds now{lost}, which may leave it "
            "unchanged or corrupt it",
        )
    todo = len(entry.sectors) - state.count("old")
    found = partitions_found(
        entry, state.sectors, restoring=True, changed=frozenset(state.changed_sectors)
    )
    # Nothing to write: the entry is marked restored only when a restore of it was under
    # way; a complete (or pending) one may be another unit's sharing this MAC, which
    # still holds that update (identical clones hold the same before it).
    marks = bool(todo) or entry.status == "restoring"
    result = RestoreResult(flash.name, mac, entry, todo, not todo, dry_run, found, marked=marks)
    if dry_run:
        step(progress, "done", JOB, JOB)
        return result
    if todo:
        say(progress, f"restoring {plural(todo, 'sector')} saved on {entry.when}")
        before = entry.status
        # from here a stop leaves the unit part-way back: the journal must not say complete
        entry = journal.set_status(
            entry, "restoring", unit="nothing was written back yet: the unit is unchanged"
        )
        try:
            write_journaled(
                guarded,
                entry,
                table,
                state,
                restoring=True,
                progress=within(progress, _CHECK, JOB),
                what="restore",
                resume_hint=f"reconnect and run {spelling.restore_for(flash.name)} again",
                spelling=spelling,
            )
        except UnitInterrupted as e:
            unmarked = None
            if not e.interruption.written:  # stopped before its first sector
                try:
                    entry = journal.set_status(
                        entry, before, unit="nothing was written back: the unit is unchanged"
                    )
                except OutputError as err:  # said beside the stop, which is reported
                    unmarked = err
            partial = RestoreResult(
                flash.name,
                mac,
                entry,
                e.interruption.written,
                False,
                found=found,
                journal_error=unmarked,
            )
            raise UnitInterrupted(e.interruption, partial) from None
    # Every sector back (each checked by the unit's MD5): as for a flash whose last sector
    # was written, the read-back completes and a stop now is no failure. Nothing written:
    # a stop while reading back ends the run here, the entry left as it is.
    with guarded.writing() if todo else contextlib.nullcontext():
        problems = _restored_problems(guarded, entry, board)
    if problems:
        found_wrong = (
            f"wrote {plural(todo, 'sector')} back (each checked by the unit's MD5), but the "
            f"unit does not hold what it held before the update of {entry.when}: "
            f"{'; '.join(problems)}"
        )
        journal.set_status(entry, "stale", unit=found_wrong)
        raise FlashError(
            f"{flash.name}: {found_wrong}; the journal entry is marked stale",
            hint="the file system changed since that update, so its saved sectors no longer "
            f"undo it: inspect the unit ({spelling.inspect_for(flash.name)}) and flash "
            f"the CA you want ({spelling.flash})",
        )
    if not marks:
        step(progress, "done", JOB, JOB)
        return result
    try:
        journal.set_status(
            entry,
            "restored",
            unit=f"the unit holds its CA file from before the update of {entry.when} again: "
            "it was restored and read back",
        )
    except OutputError as e:  # the unit is restored and read back all the same
        result = replace(result, journal_error=e)
    step(progress, "done", JOB, JOB)
    return result


def restore_unit(
    port: str,
    *,
    board: Board | None = None,
    journal_dir: Path | str | None = None,
    dry_run: bool = False,
    force: bool = False,
    progress: ProgressCallback | None = None,
    cancel: Cancel | None = None,
    on_connect: Callable[[UnitInfo], None] | None = None,
    spelling: Spelling = PYTHON,
    **link: Unpack[Link],
) -> RestoreResult:
    """Connect and undo the journaled update the unit holds (found by its MAC; of several,
    as :func:`restore_flash` picks);
    ``on_connect`` hears which unit answered (a failure later still names its MAC);
    ``link``: how to reach the unit (see :func:`.serial.open_unit`); ``spelling``: as for
    :func:`restore_flash`."""

    check_port(port, "restore_unit")  # open_unit's would name open_unit, after "connecting"
    check_board(board, "restore_unit")  # a board's name failed deep: no attribute 'source'
    # every rerun line said names this journal (and a board file)
    spelling = spelling.located(journal_dir, board_file(board) if board is not None else "")
    with spoken(spelling):  # a stop's next step, in the caller's words
        stop_if_requested(cancel, port, "restore")
        step(progress, "connecting", 0, JOB)
        with open_unit(
            port,
            expected_chip=board.chips if board is not None else None,
            progress=progress,
            stop=lambda: stop_if_requested(cancel, port, "restore"),
            **link,
        ) as unit:
            if on_connect is not None:
                on_connect(unit.info)
            stop_if_requested(cancel, port, "restore")
            refuse_encrypted(unit, port)
            try:
                return restore_flash(
                    unit,
                    mac=unit.info.mac,
                    journal=Journal(journal_dir),  # restore_flash gives it the spelling
                    dry_run=dry_run,
                    force=force,
                    progress=progress,
                    board=board,
                    cancel=cancel,
                    spelling=spelling,
                )
            except UnitInterrupted as e:
                raise keep_in_loader_if_not_whole(unit, e) from None
            except WriteFailed as e:
                keep_torn_in_loader(unit, e)
                raise
