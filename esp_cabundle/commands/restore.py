"""``esp-cabundle restore``: put back what a journaled ``flash`` replaced, on one unit or
many at once."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import click

from ..boards import load_board
from ..errors import InputError, OutputError
from ..flash.found import NO_CA, per_partition
from ..flash.interrupt import UnitInterrupted
from ..flash.journal import Journal
from ..flash.restore import AlreadyRestored, RestoreResult, restore_unit
from ..flash.restore_log import restore_log_record
from ..flash.station import append_log, check_log, expand_ports, log_format_for
from ..spelling import BOARD_SPELLING
from ..text import plural
from ._bench import Line, failure_line, found_change, removed_note, stopped_line, unmarked_note
from ._plan_view import journal_error_dict, unit_dict
from ._station import journals_unmarked, records_lost, report_station, run_station
from .options import (
    board_option,
    file_option,
    journal_dir_option,
    json_option,
    link_options,
    log_format_option,
    port_option,
    quiet_option,
)

if TYPE_CHECKING:
    from collections.abc import Callable

    from ..flash.base import ProgressCallback
    from ..flash.interrupt import Cancel
    from ..flash.serial import Link, UnitInfo
    from ..flash.station import UnitOutcome

# What a unit's job gives: the update undone (or what undoing it would write), or the
# unit's every journaled update already undone, which is no failure.
Undone = RestoreResult | AlreadyRestored


@click.command("restore")
@port_option(multiple=True, doing="restored")
@board_option()
@journal_dir_option
@click.option("--dry-run", is_flag=True, help="Say what would be written back; write nothing.")
@click.option(
    "--force",
    is_flag=True,
    help="Write the saved sectors back even though the file system changed since the update.",
)
@file_option(
    "--log",
    "log_file",
    help="Append one 'restored' record per unit to a station log 'flash --log' writes.",
)
@log_format_option
@link_options
@click.option(
    "-v",
    "--verbose",
    is_flag=True,
    help="Also say which partitions and sectors were written back, and the journal entry.",
)
@json_option
@quiet_option
def restore(
    ports: tuple[str, ...],
    board: str | None,
    journal_dir: Path | None,
    dry_run: bool,
    force: bool,
    log_file: Path | None,
    log_format: str | None,
    link: Link,
    verbose: bool,
    as_json: bool,
    quiet: bool,
) -> None:
    """Undo the update 'esp-cabundle flash' journaled for each unit (found by its MAC)
    whose written content the unit holds: of several entries for a MAC (clones share
    one), that one, else the newest. Every sector it wrote gets its saved original
    content back, so the partition is byte for byte what it was. Run it again to undo
    the update before that; once every update journaled for the unit is undone it says
    so and exits 0, writing nothing.

    Nothing is written when the file system changed since that update (the ranges the
    update left alone no longer hash the same, or a sector it wrote holds neither its
    old nor its new content and no cut of a write under way leaves that), unless
    --force, nor when the unit holds what several updates journaled for its MAC wrote
    (clones: each unit gets back the update it holds), nor when the journal
    entry names partitions the unit's own partition table does not have where it says.
    Not even --force writes over a changed file system when another update journaled
    for its MAC may be the unit's own instead (one not undone, or one undone on another
    unit: clones sharing a MAC would get each other's files); --journal-dir naming a
    journal that holds only the unit's own entry restores it.
    Ctrl-C, SIGTERM or SIGHUP stops at once before the first write, else after the
    sector being written, says what the unit holds, and exits 130; run the same command
    again to finish. 'esp-cabundle journal list' shows what the journal holds. With --board, the
    unit's chip is checked against that board first, and an update that wrote another
    file system than that board's is refused.

    Each unit gets one progress bar, then one line: OK or FAILED, the port, the MAC,
    what was put back (the roots by name, + coming back, - going away) and the seconds
    it took; a failure says what to do next.

    Several --port options (or a glob) restore units in parallel, as 'flash' updates
    them: a line each and a summary; one unit's failure does not stop the others; exit
    0 when every unit succeeded, 130 when Ctrl-C stopped any, else 3 (or, when every
    unit failed the same way, that failure's code). Two ports answering with the same
    MAC share its journal entries: the second is refused, nothing written to it.
    --json gives a document with every unit, as 'flash --json' does. --log appends
    one record per unit to a station log 'flash --log' writes (the same columns, no
    bundle): result restored, dry-run, interrupted or failed, the roots the unit held
    and those put back, the update undone in its notes. A unit restored
    and read back whose journal entry cannot be marked restored (a full disk) is OK all
    the same; its entry is named after the lines, with the remedy, exit 3, and in --json
    its "journal_error".

    \b
    Examples:
      esp-cabundle restore --port /dev/ttyUSB0
      esp-cabundle restore --port /dev/ttyUSB0 --dry-run
      esp-cabundle restore -p '/dev/ttyUSB*' --journal-dir journal/
      esp-cabundle restore --port socket://127.0.0.1:5555 \\
          --port socket://127.0.0.1:5556 --journal-dir journal/ --json
    """

    profile = load_board(board) if board is not None else None
    units = expand_ports(ports)
    fmt = log_format_for(log_file, cast("Any", log_format)) if log_file is not None else None
    if log_file is not None and fmt is not None:
        check_log(log_file, fmt)  # before any unit is touched, as flash's
    Journal(journal_dir).refuse_unusable()  # $ESP_CABUNDLE_JOURNAL naming a file, too
    unlogged: list[tuple[str, OutputError]] = []

    def logged(outcome: UnitOutcome[Undone]) -> None:
        if log_file is not None and fmt is not None:
            record = restore_log_record(outcome, profile.name if profile is not None else None)
            try:
                append_log(log_file, [record], fmt)
            except OutputError as e:  # said after the units: their work is done
                unlogged.append((outcome.port, e))

    answered: dict[str, str] = {}  # MAC -> the port it first answered on, this run
    lock = threading.Lock()

    def job(
        port: str,
        progress: ProgressCallback | None,
        on_connect: Callable[[UnitInfo], None],
        cancel: Cancel,
    ) -> Undone:
        def connected(info: UnitInfo) -> None:
            on_connect(info)
            with lock:
                first = answered.setdefault(info.mac, port)
            if first != port:
                raise _same_mac(port, first, info.mac)

        try:
            return restore_unit(
                port,
                board=profile,
                journal_dir=journal_dir,
                dry_run=dry_run,
                force=force,
                progress=progress,
                cancel=cancel,
                on_connect=connected,
                spelling=BOARD_SPELLING,
                **link,
            )
        except AlreadyRestored as done:
            return done

    outcomes = run_station(
        units,
        job,
        line=restore_line,
        shown=not (quiet or as_json),
        verbose=verbose,
        on_done=logged,
    )

    def details(o: UnitOutcome[Undone]) -> list[str]:
        return restore_details(o.result) if verbose and isinstance(o.result, RestoreResult) else []

    def document(code: int) -> dict[str, Any]:
        docs = [restore_dict(o, dry_run=dry_run) for o in outcomes]
        # Without --board, the board the units' updates were made for, when they share
        # one: it said null beside units that each named theirs.
        boards = {d["board"] for d in docs if d.get("board")}
        board = profile.name if profile is not None else boards.pop() if len(boards) == 1 else None
        return {
            "ok": code == 0,
            "board": board,
            "dry_run": dry_run,
            "exit_code": code,
            "units": docs,
            "log": log_doc,
        }

    unlogged.sort(key=lambda pair: units.index(pair[0]))
    lost = records_lost(unlogged, len(outcomes)) if unlogged else None
    unmarked = journals_unmarked([(o.port, _unmarked(o)) for o in outcomes], marked="restored")
    log_doc = (
        {
            "path": str(log_file),
            "format": fmt,
            "error": lost.message if lost is not None else None,
            "hint": lost.hint if lost is not None else None,
            "missing": [port for port, _ in unlogged],
        }
        if log_file is not None
        else None
    )
    then = lost or unmarked
    if lost is not None and unmarked is not None:
        then = OutputError(
            f"{lost.message}; and {unmarked.message}", hint=f"{lost.hint}; {unmarked.hint}"
        )

    report_station(
        outcomes,
        line=restore_line,
        details=details,
        json_doc=document if as_json else None,
        quiet=quiet,
        then=then,
    )


def _unmarked(o: UnitOutcome[Undone]) -> OutputError | None:
    """A unit's entry not marked (restored, or set back when stopped before its first
    sector: a full disk), else None."""
    r = o.result
    if isinstance(o.error, UnitInterrupted) and isinstance(o.error.result, RestoreResult):
        r = o.error.result
    return r.journal_error if isinstance(r, RestoreResult) else None


def _same_mac(port: str, first: str, mac: str) -> InputError:
    """A unit answering with the MAC of another port of the run: both would undo the
    same journal entry, one with the other's saved sectors; refused before writing."""
    return InputError(
        f"{port}: answered with the MAC {mac}, as {first} did in this run: the journal "
        "keeps updates per MAC, so these units cannot be told apart; nothing written here",
        hint=f"restore this unit in a run of its own, once {first} is done (virtual units: "
        "give each its own --mac)",
    )


def restore_line(o: UnitOutcome[Undone]) -> Line:
    """A unit's restore in one line: what was put back, from what each partition held
    when found (not what the journal says the update did)."""

    mac = o.unit.mac if o.unit is not None else "-"
    if isinstance(o.error, UnitInterrupted):
        return stopped_line(o.port, mac, o.error.interruption, o.seconds)
    r = o.result
    if r is None:
        assert o.error is not None
        return failure_line(o.port, mac, o.error, o.seconds)
    if isinstance(r, AlreadyRestored):  # every update undone: no failure (exit 0)
        return Line("OK", o.port, mac, r.message, o.seconds)
    entry = r.entry
    parts = ", ".join(p.name for p in entry.partitions)
    change, torn = found_change(r.found, planned=r.dry_run)
    roots = (f": {change}" if change else "") + torn + removed_note(r.found, dry_run=r.dry_run)
    # one partition (mdash-arduino's spiffs) is "it", Mongoose OS's fs_0 and fs_1 "they"
    one = len(entry.partitions) == 1
    were, holds = ("it was", "holds what it") if one else ("they were", "hold what they")
    if r.already_original:
        what = f"{parts} already {holds} held before the update of {entry.when}"
        if not r.marked:  # nothing written: the entry may be another unit's (a clone's)
            what += (
                f"; its journal entry is left {entry.status}, as a unit sharing this MAC "
                "may hold that update"
            )
        return Line(
            "OK", r.port, r.mac, what + unmarked_note(r.journal_error, "restored"), o.seconds
        )
    if r.dry_run:
        what = (
            f"would write {plural(r.sectors_written, 'sector')} back to {parts}, as {were} "
            f"before the update of {entry.when}{roots}"
        )
        return Line("DRY RUN", r.port, r.mac, what, o.seconds)
    what = f"restored {parts} as {were} before the update of {entry.when}{roots}"
    what += unmarked_note(r.journal_error, "restored")
    return Line("OK", r.port, r.mac, what, o.seconds)


def restore_details(r: RestoreResult) -> list[str]:
    """--verbose: the journal entry, what each partition held when found, and the
    sectors written back in their order."""

    entry = r.entry
    out = [f"board {entry.board}; journal {entry.path}"]
    for f in r.found:
        out.append(f.describe(planned=r.dry_run))
        if f.writes:
            order = " ".join(f"{off:#x}" for off in f.writes)
            verb = "to be written" if r.dry_run else "written"
            out.append(f"  {verb} back in this order: {order}")
    if not r.dry_run and not r.already_original:
        out.append(f"{plural(r.sectors_written, 'sector')} written, each checked by the unit's MD5")
    return out


def restore_dict(o: UnitOutcome[Undone], *, dry_run: bool) -> dict[str, Any]:
    """A unit's restore for ``--json``: what every station unit says (:func:`unit_dict`),
    then what was (or would be) put back, or that nothing was left to undo; the same
    keys whatever the outcome, null (or empty) where not known, as ``flash --json``."""

    out = unit_dict(o)
    r = o.result
    if isinstance(o.error, UnitInterrupted) and isinstance(o.error.result, RestoreResult):
        r = o.error.result  # as far as it went (sectors written back...), as flash's
    gone = r if isinstance(r, AlreadyRestored) else None
    done = r if isinstance(r, RestoreResult) else None
    entry = done.entry if done is not None else None
    back = (
        [(p.name, NO_CA if p.ca_created else entry.roots_of(p)) for p in entry.partitions]
        if entry is not None
        else []
    )
    if gone is not None:
        out["status"] = "already restored"
    elif done is not None and o.error is None:
        out["status"] = (
            "dry run"
            if done.dry_run
            else "already original"
            if done.already_original
            else "restored"
        )
    elif o.error is not None and not isinstance(o.error, UnitInterrupted):
        out["status"] = "failed"
    out.update(
        {
            "dry_run": dry_run,
            "already_restored": gone is not None if r is not None else None,
            "message": gone.message if gone is not None else None,
            "update": entry.when if entry is not None else None,
            "board": entry.board if entry is not None else None,
            "partitions": [p.name for p in entry.partitions] if entry is not None else [],
            # a dry run writes none (its plan: each partition's sectors_to_write)
            "sectors_written": done.sectors_written if done is not None and not dry_run else 0,
            "already_original": done.already_original if done is not None else None,
            "roots_back": [name for name, _ in per_partition(back)],
            "found": [f.to_json(dry_run=dry_run) for f in done.found] if done is not None else [],
            "journal": str(entry.path) if entry is not None else None,
            "journal_error": journal_error_dict(done.journal_error if done is not None else None),
        }
    )
    return out
