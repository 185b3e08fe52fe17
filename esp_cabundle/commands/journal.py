"""``esp-cabundle journal list|prune``: what the local journal of updates holds, and
deleting old entries (they hold whole sectors of units' file systems, secrets included)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from ..flash.journal import Journal, prune
from ..text import plural, printable
from ..ui import Column, echo, emit_json, format_table, table_width, warn
from ._age import Age, age_text
from .options import Mac, journal_dir_option, json_option, quiet_option, wide_option

if TYPE_CHECKING:
    from ..flash.journal import JournalEntry


def _mac_option(f: Any) -> Any:
    """Any common spelling of a MAC, as the journal writes it; anything else is refused,
    not taken as matching nothing."""
    return click.option(
        "--mac",
        type=Mac(),
        metavar="MAC",
        help="Only this unit's updates (24:0a:c4:..., dashes or no separators too).",
    )(f)


@click.group("journal")
def journal() -> None:
    """List or prune the journal 'esp-cabundle flash' keeps of every update.

    Each entry holds the old and new content of every sector an update wrote: whole
    sectors of the unit's file system, so also what other files held there (Wi-Fi
    passwords, device tokens in mdash.cfg). Entries are kept until pruned: 'restore'
    needs them to undo an update, 'flash' to finish an interrupted one. Folders are
    0700 and files 0600; their content is never printed.

    \b
    Examples:
      esp-cabundle journal list
      esp-cabundle journal list --mac 24:0a:c4:12:34:56 --json
      esp-cabundle journal prune --older-than 30d --dry-run
      esp-cabundle journal prune --older-than 30d
    """


def _entry_dict(e: JournalEntry) -> dict[str, Any]:
    return {
        "id": e.id,
        "mac": e.mac,
        "created": e.created.isoformat(),
        "updated": (e.updated or e.created).isoformat(),
        "status": e.status,
        "board": e.board,
        "chip": e.chip,
        "port": e.port,
        "partitions": [p.name for p in e.partitions],
        "sectors": len(e.sectors),
        "path": str(e.path),
    }


# When, which unit (its MAC) and board stay whole; on a narrow terminal the entry's file
# name (never cut: a name to find in the folder), then sectors and partitions, go.
_ENTRY_COLUMNS = (
    "created (UTC)",
    "MAC",
    "board",
    "status",
    Column("partitions", cut=True, hide=1),
    Column("sectors", hide=2),
    Column("file", hide=3),
)


@journal.command("list", short_help="Every journaled update: when, unit, board, status, sectors.")
@journal_dir_option
@_mac_option
@json_option
@wide_option
@quiet_option
def list_entries(journal_dir: Path | None, mac: str | None, as_json: bool, quiet: bool) -> None:
    """Every journaled update, oldest first: when, which unit, board, status (pending:
    interrupted, finish it with 'flash'; complete: 'restore' can undo it; restoring: a
    restore was interrupted, run 'restore' again; restored, cancelled, stale),
    partitions and sectors. Never the sectors' content.

    \b
    Examples:
      esp-cabundle journal list
      esp-cabundle journal list --journal-dir journal/ --json
    """
    j = Journal(journal_dir)
    j.refuse_unusable()  # $ESP_CABUNDLE_JOURNAL naming a file: no empty journal
    entries, problems = j.scan()
    if mac is not None:
        entries = [e for e in entries if e.mac.lower() == mac.lower()]
    if as_json:
        emit_json(
            {
                "journal": str(j.directory),
                "entries": [_entry_dict(e) for e in entries],
                "unreadable": [p.message for p in problems],
            }
        )
        return
    for p in problems:
        warn(str(p))
    unreadable = plural(len(problems), "unreadable entry", "unreadable entries")
    unread = f" ({unreadable}, warned of above)" if problems else ""
    if not entries:
        echo(f"{printable(str(j.directory))}: no journaled update{unread}", quiet=quiet)
        return
    rows = [
        (
            e.created.strftime("%Y-%m-%d %H:%M"),
            e.mac,
            e.board,
            e.status,
            " ".join(p.name for p in e.partitions),
            str(len(e.sectors)),
            e.path.name if e.path else "",
        )
        for e in entries
    ]
    echo(f"{printable(str(j.directory))}:", quiet=quiet)
    echo(format_table(_ENTRY_COLUMNS, rows, indent=2, width=table_width()), quiet=quiet)
    units = len({e.mac for e in entries})
    pending = sum(1 for e in entries if e.status == "pending")
    restoring = sum(1 for e in entries if e.status == "restoring")
    tail = f"; {pending} unfinished (run the same 'flash' again, or 'restore')" if pending else ""
    if restoring:
        tail += f"; {plural(restoring, 'restore')} interrupted (run 'restore' again)"
    if problems:
        tail += f"; {unreadable}, warned of above"
    echo(f"{plural(len(entries), 'update')} of {plural(units, 'unit')}{tail}.", quiet=quiet)


@journal.command("prune")
@click.option(
    "--older-than",
    "older_than",
    type=Age(),
    required=True,
    metavar="AGE",
    help="Delete entries last changed longer ago than this (30d, 12h, 2w, 90min).",
)
@click.option(
    "--unfinished",
    is_flag=True,
    help="Delete unfinished (interrupted) updates too: then neither a rerun nor 'restore' "
    "can repair those units from the journal.",
)
@click.option("--dry-run", is_flag=True, help="Say what would be deleted; delete nothing.")
@journal_dir_option
@_mac_option
@json_option
@quiet_option
def prune_entries(
    older_than: timedelta,
    unfinished: bool,
    dry_run: bool,
    journal_dir: Path | None,
    mac: str | None,
    as_json: bool,
    quiet: bool,
) -> None:
    """Delete journal entries older than AGE. An update older than that can no longer be
    undone by 'restore'; unfinished ones are kept unless --unfinished.

    \b
    Examples:
      esp-cabundle journal prune --older-than 30d
      esp-cabundle journal prune --older-than 2w --mac 24:0a:c4:12:34:56 --dry-run
    """
    j = Journal(journal_dir)
    j.refuse_unusable()  # $ESP_CABUNDLE_JOURNAL naming a file: no empty journal
    done = prune(j, older_than=older_than, mac=mac, unfinished=unfinished, dry_run=dry_run)
    if as_json:
        emit_json(
            {
                "journal": str(j.directory),
                "dry_run": done.dry_run,
                "removed": [_entry_dict(e) for e in done.removed],
                "kept_unfinished": [_entry_dict(e) for e in done.kept_unfinished],
                "kept_recent": done.kept_recent,
                "unreadable": [p.message for p in done.problems],
            }
        )
        return
    for p in done.problems:
        warn(f"{p} (left alone)")
    verb = "would delete" if dry_run else "deleted"
    echo(
        f"{printable(str(j.directory))}: {verb} {plural(len(done.removed), 'entry', 'entries')} "
        f"older than {age_text(older_than)}; kept {done.kept_recent} newer.",
        quiet=quiet,
    )
    for e in done.kept_unfinished:
        todo = (
            "finish undoing it with 'restore'"
            if e.status == "restoring"
            else "finish it with the same 'flash' command or undo it with 'restore'"
        )
        warn(
            f"kept the unfinished update of {e.mac} from {e.when} ({e.path}): {todo}; "
            "--unfinished deletes it"
        )
