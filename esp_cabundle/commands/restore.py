"""``esp-cabundle restore``: put back what a journaled ``flash`` replaced on a unit."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING

import click

from ..boards import load_board
from ..errors import EspCabundleError
from ..flash.found import per_partition
from ..flash.interrupt import UnitInterrupted
from ..flash.restore import AlreadyRestored, restore_unit
from ..text import plural
from ..ui import echo, emit_json, table_width
from ._bench import Line, UnitBars, failure_line, found_change, render_lines, stopped_line
from ._interrupt import interruption_lines, stop_on_signals
from .options import (
    board_option,
    journal_dir_option,
    json_option,
    link_options,
    port_option,
    quiet_option,
)

if TYPE_CHECKING:
    from ..flash.serial import Link, UnitInfo


@click.command("restore")
@port_option()
@board_option()
@journal_dir_option
@click.option("--dry-run", is_flag=True, help="Say what would be written back; write nothing.")
@click.option(
    "--force",
    is_flag=True,
    help="Write the saved sectors back even though the file system changed since the update.",
)
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
    port: str,
    board: str | None,
    journal_dir: Path | None,
    dry_run: bool,
    force: bool,
    link: Link,
    verbose: bool,
    as_json: bool,
    quiet: bool,
) -> None:
    """Undo the newest update 'esp-cabundle flash' journaled for this unit (found by its
    MAC): every sector it wrote gets its saved original content back, so the partition
    is byte for byte what it was. Run it again to undo the update before that; once
    every update journaled for the unit is undone it says so and exits 0, writing nothing.

    Nothing is written when the file system changed since that update (the ranges the
    update left alone no longer hash the same), unless --force, nor when the journal
    entry names partitions the unit's own partition table does not have where it says.
    Ctrl-C or SIGTERM stops at once before the first write, else after the sector being
    written, says what the unit holds, and exits 130; run the same command again to
    finish. 'esp-cabundle journal list' shows what the journal holds. With --board, the
    unit's chip is checked against that board first.

    The unit gets one progress bar, then one line: OK or FAILED, the port, the MAC,
    what was put back (the roots by name, + coming back, - going away) and the seconds
    it took; a failure says what to do next.

    \b
    Examples:
      esp-cabundle restore --port /dev/ttyUSB0
      esp-cabundle restore --port /dev/ttyUSB0 --dry-run
      esp-cabundle restore --port socket://127.0.0.1:5555 \\
          --journal-dir journal/ --json
    """

    profile = load_board(board) if board is not None else None
    bars = UnitBars([port], shown=not (quiet or as_json), verbose=verbose)
    t0 = time.monotonic()
    error: EspCabundleError | None = None
    unit: list[UnitInfo] = []  # the unit that answered: a failure still names its MAC
    with stop_on_signals() as cancel, bars.shown():
        try:
            result = restore_unit(
                port,
                board=profile,
                journal_dir=journal_dir,
                dry_run=dry_run,
                force=force,
                progress=bars.progress_for(port),
                cancel=cancel,
                on_connect=unit.append,
                **link,
            )
        except EspCabundleError as e:
            error = e
        stopped = isinstance(error, UnitInterrupted)
        done = error is None or isinstance(error, AlreadyRestored)
        ended = "DRY RUN" if dry_run and error is None else "OK"  # as its line says
        bars.finish(port, ended if done else "STOPPED" if stopped else "FAILED")
    mac = unit[0].mac if unit else "-"
    if isinstance(error, UnitInterrupted):
        _stopped(error, mac, time.monotonic() - t0, as_json=as_json, quiet=quiet)
    if isinstance(error, AlreadyRestored):
        seconds = time.monotonic() - t0
        _nothing_to_do(error, port, mac, seconds, dry_run=dry_run, as_json=as_json, quiet=quiet)
        return
    if error is not None:
        if as_json:
            raise error
        failed = failure_line(port, mac, error, time.monotonic() - t0)
        (line,) = render_lines([failed], width=table_width(err=quiet))
        click.echo(line, err=quiet)
        click.get_current_context().exit(error.exit_code)
    seconds = time.monotonic() - t0
    entry = result.entry
    back = [(p.name, entry.roots_of(p)) for p in entry.partitions]
    if as_json:
        emit_json(
            {
                "port": result.port,
                "mac": result.mac,
                "dry_run": result.dry_run,
                "update": entry.when,
                "board": entry.board,
                "partitions": [p.name for p in entry.partitions],
                "sectors_written": result.sectors_written,
                "already_original": result.already_original,
                "roots_back": [name for name, _ in per_partition(back)],
                "found": [f.to_json(planned=result.dry_run) for f in result.found],
                "journal": str(entry.path),
            }
        )
        return
    parts = ", ".join(p.name for p in entry.partitions)
    # from what each partition held when found, not what the journal says the update did
    change, torn = found_change(result.found)
    roots = (f": {change}" if change else "") + torn
    # one partition (mdash-arduino's spiffs) is "it", Mongoose OS's fs_0 and fs_1 "they"
    one = len(entry.partitions) == 1
    were, holds = ("it was", "holds what it") if one else ("they were", "hold what they")
    if result.already_original:
        status = "OK"
        what = f"{parts} already {holds} held before the update of {entry.when}"
    elif result.dry_run:
        status = "DRY RUN"
        what = (
            f"would write {plural(result.sectors_written, 'sector')} back to {parts}, as {were} "
            f"before the update of {entry.when}{roots}"
        )
    else:
        status = "OK"
        what = f"restored {parts} as {were} before the update of {entry.when}{roots}"
    (line,) = render_lines(
        [Line(status, result.port, result.mac, what, seconds)], width=table_width()
    )
    echo(line, quiet=quiet)
    if verbose:
        echo(f"  board {entry.board}; journal {entry.path}", quiet=quiet)
        for f in result.found:  # what each held when found, and the sectors written back
            echo(f"  {f.describe(planned=result.dry_run)}", quiet=quiet)
            if f.writes:
                order = " ".join(f"{off:#x}" for off in f.writes)
                verb = "to be written" if result.dry_run else "written"
                echo(f"    {verb} back in this order: {order}", quiet=quiet)
        if not result.dry_run and not result.already_original:
            echo(
                f"  {plural(result.sectors_written, 'sector')} written, each checked by the unit's "
                "MD5",
                quiet=quiet,
            )


def _nothing_to_do(
    done: AlreadyRestored,
    port: str,
    mac: str,
    seconds: float,
    *,
    dry_run: bool,
    as_json: bool,
    quiet: bool,
) -> None:
    """Every journaled update of the unit already undone: no failure (exit 0), so a
    station's script may run restore again; nothing was written."""
    if as_json:
        emit_json(
            {
                "port": port,
                "mac": None if mac == "-" else mac,
                "dry_run": dry_run,
                "already_restored": True,
                "sectors_written": 0,
                "message": done.message,
            }
        )
        return
    (line,) = render_lines([Line("OK", port, mac, done.message, seconds)], width=table_width())
    echo(line, quiet=quiet)


def _stopped(
    error: UnitInterrupted, mac: str, seconds: float, *, as_json: bool, quiet: bool
) -> None:
    """A restore stopped on request, said as ``flash`` says it: the STOPPED line (or the
    JSON with ok, exit_code, error and next), what the unit holds on stderr; exit 130."""
    stop = error.interruption
    if as_json:
        emit_json(
            {
                "port": stop.port,
                "ok": False,
                "exit_code": error.exit_code,
                "seconds": round(seconds, 3),
                "error": error.message,
                "next": stop.next_step(),
                "mac": None if mac == "-" else mac,
                "status": "interrupted",
                "interrupted": stop.to_json(),
            }
        )
    else:
        stopped = stopped_line(stop.port, mac, stop, seconds)
        (line,) = render_lines([stopped], width=table_width(err=quiet))
        click.echo(line, err=quiet)
    for text in interruption_lines(stop):
        click.echo(text, err=True)
    click.get_current_context().exit(error.exit_code)
