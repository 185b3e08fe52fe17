"""Flashing a unit in place: replace only the CA file, journal first, verify after.

:func:`flash_unit` connects to a unit on a serial port and runs :func:`flash_ca`, which
works on any :class:`~esp_cabundle.flash.base.Flash` (a dump too, for tests):

1. Any update of this unit the journal holds as unfinished is finished first (the
   sectors not yet holding their new content are written), dropped when nothing had
   been written, or set aside as stale when the file system changed since or the
   entry does not match the unit's partition table; one whose only change is the
   sector where it was cut, in bits no cut of ours leaves, is refused and left
   pending (:func:`~.writer.torn_or_changed`).
2. The update is planned reading only what the file system needs
   (:func:`~esp_cabundle.flash.plan.plan_ca_update`); already up to date, or ``dry_run``:
   nothing is written.
3. The unit's MD5 of every range the update leaves alone is taken, and the journal entry
   (old and new content of every sector to write, and what the partition mounts with
   after each) is saved. Only then is anything written, sector by sector in the
   planned (power-safe) order, each checked by the unit's MD5 before the next; nothing
   outside the target partitions, ever. A stop request (:mod:`.interrupt`) is obeyed
   at once before this point, between two sectors after it.
4. Verification: the unit's MD5 of every untouched range against its value before; then
   the file system is mounted again from what the unit was thus proven to hold (no byte
   crosses the link twice) and the CA file and the other files compared. A mismatch is
   a :class:`FlashError` naming the sectors.

:func:`~esp_cabundle.flash.restore.restore_unit` writes a journaled update's old sectors
back.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING

from ..arguments import check_port
from ..blocks import SECTOR_SIZE, FlashCache
from ..boards import board_file
from ..ca_arguments import check_ca_for_board
from ..errors import FlashError, OutputError
from ..spelling import PYTHON, Spelling
from ..text import plural
from .base import JOB, Flash, ProgressCallback, say, step, within
from .damaged import TornFileSystem, stale_torn_error
from .found import (
    Resumed,
    ca_words,
    carried,
    kinds,
    named,
    partitions_found,
)
from .interrupt import (
    Cancel,
    GuardedFlash,
    Holds,
    Interruption,
    SectorState,
    UnitInterrupted,
    holdings,
    keep_in_loader_if_not_whole,
    sector_outcomes,
    spoken,
    spoken_with,
    stop_if_requested,
)
from .journal import (
    Journal,
    JournalEntry,
    JournalPartition,
    JournalSector,
    Status,
    new_entry_id,
)
from .plan import PartitionChange, RootChange, UpdatePlan, plan_ca_update
from .readback import verify_after
from .result import FlashResult
from .serial import open_unit
from .table import read_table
from .writer import (
    WriteFailed,
    entry_state,
    keep_torn_in_loader,
    refuse_encrypted,
    torn_or_changed,
    write_journaled,
    write_sectors,
)

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from ..boards import Board
    from ..certs import Certificate
    from ..gate import GatedCA
    from ..partitions import PartitionTable
    from .serial import Link, UnitInfo

__all__ = ["FlashResult", "Resumed", "ca_words", "flash_ca", "flash_unit"]


# The shares of a flash job (of JOB): connecting, finishing an interrupted update,
# reading and planning, working out each sector's outcome and journaling, writing,
# verifying. Rough shares of the time each takes over a serial link.
_CONNECT, _PENDING, _PLAN, _JOURNAL, _WRITE, _VERIFY = 15, 20, 50, 60, 92, JOB
# What the unit holds, said when its journal entry cannot be marked (a full disk).
_NONE_WRITTEN = "no sector of that update was written: the unit holds what it held before it"
_UPDATED = "the unit holds the new CA file: it was updated and verified"


# ---------------------------------------------------------------------------------------
# Flashing


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _unrecorded(e: OutputError, earlier: int, unfinished: OutputError | None) -> OutputError:
    """A new entry that cannot be saved (a full disk): this run's CA is not written; but
    an earlier interrupted update finished first did write the unit, which journal's
    "nothing written to the unit" would deny, and that entry's marking may have failed
    too."""
    if not earlier and unfinished is None:
        return e
    message = e.message
    if earlier:
        message = message.replace(
            "nothing written to the unit",
            f"this run's CA not written; the earlier interrupted update was finished "
            f"({plural(earlier, 'sector')} written), so the unit holds that update's CA",
        )
    if unfinished is not None:
        message += f"; and {unfinished.message}"
    return OutputError(message, hint=e.hint)


def _finish_pending(
    flash: GuardedFlash,
    table: PartitionTable,
    journal: Journal,
    mac: str,
    *,
    ca: GatedCA,
    dry_run: bool,
    progress: ProgressCallback | None,
    out: list[Resumed],
    unmarked: list[OutputError],
    spelling: Spelling,
) -> None:
    """Finish, set aside or (nothing of it written) delete every unfinished update the
    journal holds for this unit, each said in ``out`` as it is dealt with (one stopped
    part-way too, on request or by a failure such as a lost link, as "stopped").

    One that carried another CA than ``ca`` is finished all the same (and said so):
    every state on the way is then one an update passed through and journaled, so
    ``restore`` undoes this run, then that one, each landing on a whole unit. One
    finished whose entry cannot be marked complete (a full disk) is finished all the
    same; so is one that cannot be marked stale or deleted: every such error is put
    in ``unmarked`` as it comes, for the result's ``journal_error`` (a list, not a return
    value, so a stop later in this loop does not lose them).
    """
    this_ca = (ca.sha256, named(ca.certificates), kinds(ca.certificates))

    def mark(entry: JournalEntry, status: Status, unit: str) -> None:
        # Not raised: an entry that cannot be marked (a full disk) still says pending,
        # and the next flash or restore looks at it against the unit again (then stale
        # or untouched again, as now). Raising would call a whole unit FAILED, say
        # "nothing written" after an update finished here wrote sectors, and drop that
        # update from the report. So it is said beside the unit's result, as an entry
        # finished and not marked complete is.
        try:
            journal.set_status(entry, status, unit=unit)
        except OutputError as e:
            unmarked.append(e)

    for entry in journal.pending(mac):
        mismatch = entry.table_mismatch(table)
        state = entry_state(flash, entry) if mismatch is None else None
        if state is not None and state.cut_shaped:
            earlier = sum(r.sectors_written for r in out if r.action == "finished")
            raise torn_or_changed(flash.name, entry, state, earlier, spelling)
        if state is None or state.stale:
            why = f"{mismatch}" if mismatch is not None else "its file system changed since"
            if not dry_run:
                mark(
                    entry,
                    "stale",
                    f"that update no longer matches the unit ({why}): none of "
                    "it was written by this run, it is left alone",
                )
            say(
                progress,
                f"an interrupted update from {entry.when} no longer matches the unit ({why}); "
                "left alone",
                "warning",
            )
            out.append(Resumed(entry, "stale"))
            continue
        todo = state.count("old") + state.count("other")
        if state.count("old") == len(entry.sectors):
            # Nothing of it was written (the host stopped between its record and its
            # first sector): deleted, as the entry of a unit stopped before its first
            # write is; restore skips such an entry anyway, it has nothing to undo.
            if not dry_run:
                try:
                    journal.remove(entry)
                except OutputError as e:
                    unmarked.append(_undeleted(e))
            out.append(Resumed(entry, "dropped"))
            continue
        found = Resumed(
            entry, "would finish", todo, partitions_found(entry, state.sectors), this_ca
        )
        if found.other_ca:
            say(
                progress,
                f"the update interrupted on {entry.when} carried another CA "
                f"({carried(entry)}) than this one "
                f"({ca_words(*this_ca)}): it is finished first, then this one written",
                "warning",
            )
        if dry_run:
            out.append(found)
            continue
        say(
            progress,
            f"finishing the update interrupted on {entry.when}: {plural(todo, 'sector')} to write",
        )
        try:
            write_journaled(
                flash,
                entry,
                table,
                state,
                restoring=False,
                progress=progress,
                what="finishing the interrupted update",
                resume_hint=f"reconnect and {spelling.again}: it finishes from the journal",
                spelling=spelling,
            )
        except (UnitInterrupted, WriteFailed) as e:
            # stopped on request or cut by a failure: what was written of it is kept
            written = e.written if isinstance(e, WriteFailed) else e.interruption.written
            out.append(replace(found, action="stopped", sectors_written=written))
            raise
        mark(  # the unit is whole all the same: on to this run's CA
            entry,
            "complete",
            f"the unit holds the CA file of the update interrupted on {entry.when}: "
            "it was finished, every sector checked by the unit's MD5",
        )
        out.append(replace(found, action="finished"))


def flash_ca(
    flash: Flash,
    board: Board,
    ca: GatedCA,
    *,
    mac: str,
    chip: str = "",
    journal: Journal | None = None,
    dry_run: bool = False,
    progress: ProgressCallback | None = None,
    unit: UnitInfo | None = None,
    cancel: Cancel | None = None,
    spelling: Spelling = PYTHON,
) -> FlashResult:
    """Replace the CA file on ``flash`` (the unit identified by ``mac``); see the module.

    ``ca`` passed the gate for ``board`` and is not judged again. Raises
    PartitionTableError/ImageError/InputError before any write (missing partition, no
    file system, does not fit, a CA gated for another board), OutputError when the
    journal cannot be saved (nothing written), FlashError when a write is interrupted
    (run again to finish) or does not verify (the sectors are named), UnitInterrupted
    when ``cancel`` is requested: at once before the first write, else between two
    sectors (its ``result`` is this FlashResult with status "interrupted"). An entry
    that cannot be marked complete once the unit verified raises nothing: the unit is
    updated, and the result's ``journal_error`` says what to mend. The hints
    name the board, the options and what to run as ``spelling`` does (a stop's next step
    and the journal's too: a ``journal`` given is told it).
    """
    with spoken_with(spelling, journal) as journal:  # in the caller's words, as flash_unit's
        ca.for_board(board)  # a CA gated for another board: refused before anything is written
        guarded = GuardedFlash(flash, cancel or Cancel())
        table = read_table(guarded, offset=board.table_offset, spelling=spelling)
        step(progress, "reading the partition table", _CONNECT, JOB)
        resumed: list[Resumed] = []
        unmarked: list[OutputError] = []
        try:
            _finish_pending(
                guarded,
                table,
                journal,
                mac,
                ca=ca,
                dry_run=dry_run,
                progress=within(progress, _CONNECT, _PENDING),
                out=resumed,
                unmarked=unmarked,
                spelling=spelling,
            )
        except (UnitInterrupted, WriteFailed) as e:
            # what was found and written so far: the log and the report keep it; a failure
            # (a lost link) is reported as the stop is, as failed
            assert e.interruption is not None  # write_journaled says where a failure cut
            written = e.written if isinstance(e, WriteFailed) else e.interruption.written
            stopped = FlashResult(
                flash.name,
                mac,
                chip,
                board.name,
                "interrupted",
                None,
                unit=unit,
                journal_error=_joined(unmarked),  # an entry marked before the stop
            ).finishing_stopped(e.interruption, written, resumed)
            assert stopped.interruption is not None
            if isinstance(e, WriteFailed):
                e.interruption, e.result = stopped.interruption, stopped
                raise
            raise UnitInterrupted(stopped.interruption, stopped) from None
        unfinished = _joined(unmarked)
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
            journal_error=unfinished,
        )
        if any(r.action == "would finish" for r in resumed):
            step(progress, "done", JOB, JOB)
            return result

        cache = FlashCache(guarded)
        seen: list[RootChange] = []  # the CA files read, should a stop come while planning
        try:
            planning = within(progress, _PENDING, _PLAN)
            plan = plan_ca_update(
                cache, table, board, ca, progress=planning, seen=seen, spelling=spelling
            )
            result = replace(result, status="up to date", plan=plan, bytes_read=cache.bytes_read)
            if plan.up_to_date or dry_run:
                step(progress, "done", JOB, JOB)
                return result if plan.up_to_date else replace(result, status="dry run")
            plan.check_bounds()
            step(progress, "working out what the unit holds after each sector", _PLAN, JOB)
            say(progress, "working out what the unit holds after each sector")
            after = sector_outcomes(cache, plan)
            step(
                progress, "hashing the ranges the update leaves alone", (_PLAN + _JOURNAL) // 2, JOB
            )
            say(progress, "hashing the ranges the update leaves alone")
            entry = JournalEntry(
                id=new_entry_id(),
                created=_now(),
                mac=mac,
                chip=chip,
                port=flash.name,
                board=board.name,
                ca_sha256=ca.sha256,
                partitions=tuple(
                    _journal_partition(cache, c, after) for c in plan.changes if c.writes
                ),
                roots_before=named(_roots_before(plan)),
                roots_after=named(ca.certificates),
                kinds_after=kinds(ca.certificates),
            )
            guarded.check()
        except UnitInterrupted as e:
            i = replace(e.interruption, earlier=earlier)
            if result.plan is None and seen:
                result = replace(result, roots_read=seen[0].before)
            raise UnitInterrupted(i, _interrupted(result, i)) from None
        except FlashError as e:
            # Before the journal and the first write: say so, the unit is as it was.
            if "nothing was written" not in e.message:
                e.message += "; nothing was written, the unit is unchanged"
            if isinstance(e, TornFileSystem):  # its entry here set aside: say so
                raise stale_torn_error(e, table, journal, mac, board.name, spelling) from None
            raise
        try:
            entry = journal.record(entry)
        except OutputError as e:
            raise _unrecorded(e, earlier, unfinished) from e
        writes = [(w.offset, w.new) for w in plan.writes]

        def stopped_at(done: int, torn: bool) -> FlashResult:
            """The report of an update stopped after ``done`` sectors (the next one ``torn``
            when a failure cut it)."""
            states: dict[int, SectorState] = {
                off: "new" if i < done else "other" if i == done and torn else "old"
                for i, (off, _) in enumerate(writes)
            }
            stop = Interruption(
                flash.name,
                "update",
                done,
                len(writes),
                holdings(entry, states),
                entry.path if done or torn else None,
                earlier=earlier,
                torn=writes[done][0] if torn and done < len(writes) else None,
                spelling=spelling,
            )
            partial = replace(
                result,
                sectors_written=earlier + done,
                bytes_read=cache.bytes_read,
                bytes_written=(earlier + done) * SECTOR_SIZE,
                journal=entry,
            )
            return _interrupted(partial, stop)

        with guarded.writing():
            try:
                done = write_sectors(
                    guarded,
                    writes,
                    bounds=[(c.partition.offset, c.partition.end) for c in plan.changes],
                    cancel=guarded.cancel,
                    progress=within(progress, _JOURNAL, _WRITE),
                    what="update",
                    resume_hint=f"reconnect and {spelling.again}: it finishes the "
                    f"update from the journal ({entry.path}); "
                    f"{spelling.restore_for(flash.name)} puts the original back",
                )
            except WriteFailed as e:
                e.result = stopped_at(e.written, torn=True)
                assert e.result.interruption is not None
                e.torn(e.result.interruption)
                raise
            if done < len(writes):
                removed = False
                if done == 0:
                    # Nothing of this update was written: its entry is deleted, as a unit
                    # stopped before the entry was saved has none, so every unit stopped
                    # before its first write leaves nothing to undo in the journal.
                    # Guarded as every mark after a write is: an earlier update finished
                    # first wrote the unit, and the stop and that update must be reported.
                    try:
                        journal.remove(entry)
                        removed = True
                    except OutputError as e:
                        unmarked.append(_undeleted(e))
                        result = replace(result, journal_error=_joined(unmarked))
                partial = stopped_at(done, torn=False)
                if removed:  # --json and --verbose name no deleted file
                    partial = replace(partial, journal=None)
                assert partial.interruption is not None
                raise UnitInterrupted(partial.interruption, partial)
            step(progress, "verifying", _WRITE, JOB)
            say(progress, "verifying")
            verify_after(guarded, cache, plan, entry, spelling)
        try:
            entry = journal.set_status(entry, "complete", unit=_UPDATED)
        except OutputError as e:  # the unit is updated and verified all the same
            unmarked.append(e)
        step(progress, "done", JOB, JOB)
        return replace(
            result,
            status="updated",
            sectors_written=earlier + len(writes),
            bytes_read=cache.bytes_read,
            bytes_written=(earlier + len(writes)) * SECTOR_SIZE,
            journal=entry,
            journal_error=_joined(unmarked),
        )


def _roots_before(plan: UpdatePlan) -> tuple[Certificate, ...]:
    """The roots the unit's CA file held before the update (its first changed partition)."""
    for c in plan.changes:
        if c.writes:
            return c.roots.before
    return ()


def _undeleted(e: OutputError) -> OutputError:
    """The entry of an update stopped before its first sector could not be deleted: it
    stays pending, which the next run drops (the unit holds none of it)."""
    return OutputError(
        f"{e.message}; {_NONE_WRITTEN}",
        hint="delete the entry, or leave it: the next flash or restore of the unit drops it",
    )


def _joined(unmarked: list[OutputError]) -> OutputError | None:
    """The entries of a unit not marked (those finished or set aside first, then this
    run's), in order: each said, each remedy once (all are in one directory; an entry not
    deleted has its own)."""
    if not unmarked:
        return None
    message = "; and ".join(e.message for e in unmarked)
    hints = dict.fromkeys(e.hint for e in unmarked if e.hint)
    return OutputError(message, hint="; ".join(hints) or None)


def _interrupted(result: FlashResult, interruption: Interruption) -> FlashResult:
    return replace(result, status="interrupted", interruption=interruption)


def _journal_partition(
    cache: FlashCache, c: PartitionChange, after: dict[int, Holds]
) -> JournalPartition:
    p = c.partition
    return JournalPartition(
        name=p.name,
        offset=p.offset,
        size=p.size,
        fs_type=c.fs_type,
        sectors=tuple(JournalSector(w.offset, w.old, w.new, after[w.offset]) for w in c.writes),
        untouched=tuple((off, n, cache.digest(off, n)) for off, n in c.untouched()),
        roots_before=named(c.roots.before),
        ca_created=c.old_ca is None,
    )


def flash_unit(
    port: str,
    board: Board,
    ca: GatedCA,
    *,
    journal_dir: Path | str | None = None,
    dry_run: bool = False,
    progress: ProgressCallback | None = None,
    on_connect: Callable[[UnitInfo], None] | None = None,
    cancel: Cancel | None = None,
    spelling: Spelling = PYTHON,
    **link: Unpack[Link],
) -> FlashResult:
    """Connect to the unit on ``port`` and replace its CA file with ``ca``, gated for
    ``board`` (see :func:`flash_ca`, as ``spelling``).

    Refuses (DeviceError, nothing written) a unit whose chip is not one of the board's,
    or whose flash encryption is on (read from its eFuses: the flash then holds
    ciphertext that cannot be edited over serial). ``on_connect`` hears which unit
    answered (a station logs its MAC even when a later step fails). ``cancel``: see
    :mod:`.interrupt` (a request while connecting stops at esptool's next attempt).
    ``link``: how to reach the unit (see :func:`.serial.open_unit`). Before writing, the
    sectors it replaces are saved in a journal under ``journal_dir`` (None:
    ``$ESP_CABUNDLE_JOURNAL``, else ``$XDG_STATE_HOME/esp-cabundle/journal``, else
    ``~/.local/state/esp-cabundle/journal``), which :func:`restore_unit` reads.
    """

    check_port(port, "flash_unit", after=", board, ca")  # open_unit's would name open_unit
    check_ca_for_board(ca, board, "flash_unit")
    board.file_system(spelling)
    ca.for_board(board)  # a CA gated for another board fails before connecting
    # every rerun and restore line said names this journal (and a board file)
    spelling = spelling.located(journal_dir, board_file(board))
    with spoken(spelling):  # a stop's next step, in the caller's words
        stop_if_requested(cancel, port)
        step(progress, "connecting", 0, JOB)
        with open_unit(
            port,
            expected_chip=board.chips,
            progress=progress,
            stop=lambda: stop_if_requested(cancel, port),
            **link,
        ) as unit:
            if on_connect is not None:
                on_connect(unit.info)
            stop_if_requested(cancel, port)
            refuse_encrypted(unit, port)
            try:
                return flash_ca(
                    unit,
                    board,
                    ca,
                    mac=unit.info.mac,
                    chip=unit.info.chip,
                    journal=Journal(journal_dir),
                    dry_run=dry_run,
                    progress=progress,
                    unit=unit.info,
                    cancel=cancel,
                    spelling=spelling,
                )
            except UnitInterrupted as e:
                raise keep_in_loader_if_not_whole(unit, e) from None
            except WriteFailed as e:
                keep_torn_in_loader(unit, e)
                raise
            except TornFileSystem:
                unit.after = "no-reset"  # not booted: its firmware would format the partition
                raise
