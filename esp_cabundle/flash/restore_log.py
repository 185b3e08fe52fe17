"""A restore's record in the station log ``flash --log`` writes: the same columns and
writer, so a technician's log says ``restored`` for a unit put back, never only the
``updated`` of its flash."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .. import __version__
from ..text import printable
from .base import SECTOR_SIZE
from .found import NO_CA, per_partition
from .interrupt import UnitInterrupted
from .restore import AlreadyRestored, RestoreResult, failed_entry
from .station import next_step

if TYPE_CHECKING:
    from .station import UnitOutcome

__all__ = ["restore_log_record", "restore_log_result"]


def _known(outcome: UnitOutcome[Any]) -> RestoreResult | AlreadyRestored | None:
    """The unit's result, or as far as a stopped restore went (its error carries it)."""
    e = outcome.error
    if isinstance(e, UnitInterrupted) and isinstance(e.result, RestoreResult):
        return e.result
    r = outcome.result
    return r if isinstance(r, (RestoreResult, AlreadyRestored)) else None


def restore_log_result(outcome: UnitOutcome[Any]) -> str:
    """restored (also a unit whose journal had nothing left to undo: it holds what it
    held before), dry-run, interrupted or failed."""
    if isinstance(outcome.error, UnitInterrupted):
        return "interrupted"
    if outcome.error is not None or outcome.result is None:
        return "failed"
    r = outcome.result
    return "dry-run" if isinstance(r, RestoreResult) and r.dry_run else "restored"


def restore_log_record(outcome: UnitOutcome[Any], board: str | None) -> dict[str, Any]:
    """One station-log record (the flash log's columns) for a unit's restore: no bundle
    (nothing from one is written), the roots it held when found and those put back (by
    name and fingerprint, each partition's when they differ), the update undone and a
    journal entry left unmarked (a full disk) in ``notes``."""
    r = _known(outcome)
    done = r if isinstance(r, RestoreResult) else None
    e = outcome.error
    # a failure after the entry was chosen: its board and partitions are known all the same
    entry = done.entry if done is not None else failed_entry(e)
    info = outcome.unit
    error = f"{e.message}; next: {next_step(e, outcome.port)}" if e is not None else ""
    found = per_partition([(f.name, f.listed) for f in done.found]) if done is not None else ()
    result = restore_log_result(outcome)
    back = (
        per_partition(
            [(p.name, NO_CA if p.ca_created else entry.roots_of(p)) for p in entry.partitions]
        )
        if entry is not None and result in ("restored", "dry-run")
        else ()  # stopped or failed part-way: the error says what the unit holds
    )
    notes = []
    if isinstance(r, AlreadyRestored):
        notes.append(printable(r.message))
    if entry is not None:
        undid = "undid" if done is not None else "failed undoing"
        notes.append(printable(f"{undid} the update of {entry.when} (journal {entry.path})"))
    if done is not None and done.journal_error is not None:
        j = done.journal_error
        notes.append(printable(f"journal: {j.message}; next: {j.hint}"))
    written = done.sectors_written if done is not None and not done.dry_run else 0
    return {
        "time": outcome.started.isoformat(timespec="seconds"),
        "tool_version": __version__,
        "port": outcome.port,
        "mac": done.mac if done is not None else (info.mac if info is not None else ""),
        "chip": entry.chip if entry is not None else (info.chip if info is not None else ""),
        "board": board or (entry.board if entry is not None else ""),
        "bundle": "",
        "bundle_sha256": "",
        "partitions": [p.name for p in entry.partitions] if entry is not None else [],
        "roots_before": [name for name, _ in found],
        "roots_after": [name for name, _ in back],
        "ca_before": [fp for _, fp in found],
        "ca_after": [fp for _, fp in back],
        "sectors_written": written,
        "bytes_read": 0,
        "bytes_written": written * SECTOR_SIZE,
        "result": result,
        "error": error,
        "notes": notes,
    }
