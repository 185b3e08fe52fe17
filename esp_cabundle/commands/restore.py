"""``esp-cabundle restore``: put back what a journaled ``flash`` replaced on a unit."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, cast

import click

from ._interrupt import interruption_lines, stop_on_signals
from .options import (
    baud_option,
    board_option,
    journal_dir_option,
    json_option,
    port_option,
    quiet_option,
    reset_options,
)

if TYPE_CHECKING:
    from ..flash.serial import AfterMode, ResetMode


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
@baud_option
@reset_options
@json_option
@quiet_option
def restore(
    port: str,
    board: str | None,
    journal_dir: Path | None,
    dry_run: bool,
    force: bool,
    baud: int,
    before: str,
    after: str,
    as_json: bool,
    quiet: bool,
) -> None:
    """Undo the newest update 'esp-cabundle flash' journaled for this unit (found by its
    MAC): every sector it wrote gets its saved original content back, so the partition
    is byte for byte what it was. Run it again to undo the update before that.

    Nothing is written when the file system changed since that update (the ranges the
    update left alone no longer hash the same), unless --force, nor when the journal
    entry names partitions the unit's own partition table does not have where it says.
    Ctrl-C or SIGTERM stops at once before the first write, else after the sector being
    written, says what the unit holds, and exits 130; run the same command again to
    finish. 'esp-cabundle journal list' shows what the journal holds. With --board, the
    unit's chip is checked against that board first.

    \b
    Examples:
      esp-cabundle restore --port /dev/ttyUSB0
      esp-cabundle restore --port /dev/ttyUSB0 --dry-run
      esp-cabundle restore --port socket://127.0.0.1:5555 --journal-dir journal/ --json
    """
    from ..boards import load_board
    from ..flash.interrupt import UnitInterrupted
    from ..flash.restore import restore_unit
    from ..ui import echo, emit_json
    from ._unit import unit_progress

    profile = load_board(board) if board is not None else None
    try:
        with stop_on_signals() as cancel, unit_progress(quiet=quiet or as_json) as progress:
            result = restore_unit(
                port,
                board=profile,
                journal_dir=journal_dir,
                dry_run=dry_run,
                force=force,
                baud=baud,
                reset=cast("ResetMode", before),
                after=cast("AfterMode", after),
                progress=progress,
                cancel=cancel,
            )
    except UnitInterrupted as e:
        if as_json:
            emit_json({"port": port, "interrupted": e.interruption.to_json()})
        for line in interruption_lines(e.interruption):
            click.echo(line, err=True)
        click.get_current_context().exit(e.exit_code)
    entry = result.entry
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
                "journal": str(entry.path),
            }
        )
        return
    parts = ", ".join(p.name for p in entry.partitions)
    if result.already_original:
        echo(
            f"{result.mac}: {parts} already hold what they held before the update of "
            f"{entry.when}; nothing written",
            quiet=quiet,
        )
    elif result.dry_run:
        echo(
            f"{result.mac}: would write {result.sectors_written} sector(s) back to {parts}, as "
            f"they were before the update of {entry.when} (board {entry.board})",
            quiet=quiet,
        )
    else:
        echo(
            f"{result.mac}: restored {parts} as they were before the update of {entry.when} "
            f"({result.sectors_written} sector(s) written, each checked by the unit's MD5)",
            quiet=quiet,
        )
