"""How a CA update reads, for every command that plans one: ``flash`` (a unit, a
station), ``restore`` and ``update-dump`` render the same
:class:`~esp_cabundle.flash.plan.PartitionChange` values with these functions, in text
and as JSON."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..flash.found import carried
from ..flash.interrupt import UnitInterrupted
from ..flash.result import FlashResult
from ..flash.station import known_result, log_result, next_step
from ..text import plural

if TYPE_CHECKING:
    from collections.abc import Sequence

    from ..certs import Certificate
    from ..errors import OutputError
    from ..flash.interrupt import Interruption
    from ..flash.plan import PartitionChange, RootChange
    from ..flash.station import UnitOutcome

__all__ = [
    "already_holds",
    "change_dict",
    "change_lines",
    "flash_detail_lines",
    "flash_dict",
    "journal_error_dict",
    "roots_lines",
    "unit_dict",
]

# What the CA file is said to undergo, by the state of the run.
_VERB = {
    "dry run": "would be ",
    "updated": "was ",
    "interrupted": "was being ",
    "not written": "was to be ",  # stopped before its first sector: nothing was replaced
    "planned": "",
}


def already_holds(certs: Sequence[Certificate]) -> str:
    """What a unit or dump that needs no update holds, said alike by every command,
    counted as what they are (``the 8 roots``, ``the 9 CAs (8 roots, 1 intermediate)``):
    a file holding intermediates too read as "the 9 roots"."""
    from ..anchors import count_anchors  # deferred: only for a unit already up to date

    return f"already holds the {count_anchors(certs)}"


def roots_lines(roots: RootChange) -> list[str]:
    """One line per root added or removed, then how many were kept."""
    lines = [f"  + {c.label} ({c.sha256[:16]})" for c in roots.added]
    lines += [f"  - {c.label} ({c.sha256[:16]})" for c in roots.removed]
    if roots.old_unreadable:
        lines.append("  (the old CA file holds no readable certificate)")
    if roots.kept:
        from ..anchors import count_anchors  # deferred: as already_holds'

        before = {c.sha256 for c in roots.before}
        kept = list({c.sha256: c for c in roots.after if c.sha256 in before}.values())
        lines.append(f"  = {count_anchors(kept)} kept")  # intermediates too, said so
    return lines


def change_lines(change: PartitionChange, status: str = "planned") -> list[str]:
    """A partition's change in full: what happens to the CA file, roots, sectors in
    write order, why that order."""
    p = change.partition
    head = f"{p.name} ({p.offset:#x}, {change.fs_type} {change.profile}"
    version = dict(change.facts).get("disk version")
    head += f", disk {version})" if version else ")"
    if change.skipped:
        return [f"{head}: skipped, {change.skipped}"]
    if change.up_to_date:
        return [f"{head}: {change.ca_path} already holds this CA file"]
    action = "replaced" if change.old_ca is not None else "created"
    kept = f"; kept {plural(len(change.files), 'other file')}" if change.files else ""
    lines = [f"{head}: {change.ca_path} {_VERB.get(status, 'is ')}{action}{kept}"]
    lines += roots_lines(change.roots)
    sectors = " ".join(f"{w.offset:#x}" for w in change.writes)
    kib = len(change.writes) * 4
    lines.append(f"  {plural(len(change.writes), 'sector')}, {kib} KiB, in this order: {sectors}")
    lines.append(f"  order: {change.order}")
    return lines


def change_dict(change: PartitionChange) -> dict[str, Any]:
    """A partition's change for ``--json``."""
    return {
        "name": change.partition.name,
        "offset": change.partition.offset,
        "size": change.partition.size,
        "file_system": change.fs_type,
        "profile": change.profile,
        "facts": dict(change.facts),
        "ca_path": change.ca_path,
        "action": change.action,
        "skipped": change.skipped,
        "roots_added": [{"label": x.label, "sha256": x.sha256} for x in change.roots.added],
        "roots_removed": [{"label": x.label, "sha256": x.sha256} for x in change.roots.removed],
        "sectors": [w.offset for w in change.writes],
        "bytes": len(change.writes) * 4096,
        "power_safe": change.power_safe,
        "order": change.order,
        "unsafe_cuts": change.unsafe_cuts,
        "warning": change.cut_warning,
        "kept_files": [f.path for f in change.files],
        "bytes_read": change.bytes_read,
    }


def _own_written(stop: Interruption) -> bool:
    """This run's own update wrote (or a cut tore) a sector before the stop."""
    return stop.what == "update" and (stop.written > 0 or stop.torn is not None)


def flash_detail_lines(result: FlashResult) -> list[str]:
    """A flashed unit in full (``flash --verbose``): the unit, any interrupted update
    finished first, every partition's change, the notes, the ranges the unit's MD5
    proved untouched, and how it ended."""
    lines = [f"{result.chip} MAC {result.mac}, board {result.board}"]
    for r in result.resumed:
        other = f"; it carried another CA ({carried(r.entry)})" if r.other_ca else ""
        if r.action == "finished":
            lines.append(
                f"finished the update interrupted on {r.entry.when} "
                f"({plural(r.sectors_written, 'sector')} written){other}"
            )
        elif r.action == "stopped":
            lines.append(
                f"stopped while finishing the update interrupted on {r.entry.when} "
                f"({r.sectors_written} of {plural(sum(f.todo for f in r.found), 'sector')} "
                f"written){other}"
            )
        elif r.action == "would finish":
            lines.append(
                f"an update interrupted on {r.entry.when} would be finished first "
                f"({plural(r.sectors_written, 'sector')} to write){other}; run without --dry-run"
            )
        elif r.action == "stale":
            lines.append(
                f"an update interrupted on {r.entry.when} no longer matches the unit; left alone"
            )
        # every partition of that update: what it held when found, and what was written
        planned = r.action != "finished"
        lines += [f"  {f.describe(planned=planned)}" for f in r.found]
    plan = result.plan
    if plan is not None:
        status: str = result.status
        stop = result.interruption
        if status == "interrupted" and stop is not None and not _own_written(stop):
            status = "not written"
        for change in plan.changes:
            lines += change_lines(change, status)
        lines += [f"note: {n}" for n in plan.notes]
    if result.journal is not None:
        for p in result.journal.partitions:
            ranges = ", ".join(f"{off:#x}+{n:#x}" for off, n, _ in p.untouched)
            lines.append(f"{p.name}: the unit's MD5 of the ranges left alone, before: {ranges}")
    if result.status == "up to date" and any(r.action == "finished" for r in result.resumed):
        # the sectors above were written: only this run's own update had nothing left
        lines.append("Up to date once the interrupted update was finished: nothing more written.")
    elif result.status == "up to date":
        lines.append("Already up to date: nothing written.")
    elif result.status == "dry run":
        lines.append("Dry run: nothing written.")
    elif result.status == "updated":
        journal = f"; journal {result.journal.path}" if result.journal is not None else ""
        lines.append(
            f"Updated and verified: {plural(result.sectors_written, 'sector')} written, file "
            f"system read back{journal}"
        )
    return lines


def unit_dict(o: UnitOutcome[Any]) -> dict[str, Any]:
    """What ``--json`` says of every unit of a station, whatever its job (``flash``,
    ``restore``): the port, ok, exit code, seconds, the error and the next step, the unit
    that answered, and what a unit stopped on request holds. Every key is there whatever
    the outcome (null when not known): the job's own keys follow suit."""

    out: dict[str, Any] = {
        "port": o.port,
        "ok": o.ok,
        "exit_code": o.exit_code,
        "seconds": round(o.seconds, 3),
        "error": o.error.message if o.error is not None else None,
        "next": next_step(o.error, o.port) if o.error is not None else None,
        "mac": o.unit.mac if o.unit is not None else None,
        "chip": o.unit.chip if o.unit is not None else None,
        "status": None,
        "interrupted": None,
    }
    if isinstance(o.error, UnitInterrupted):
        out["status"] = "interrupted"
        out["interrupted"] = o.error.interruption.to_json()
    return out


def journal_error_dict(e: OutputError | None) -> dict[str, str | None] | None:
    """A unit's work done, its journal entry not marked (complete, restored: a full
    disk), for ``--json``: said as the "log" is, {error, hint}; None when it was."""
    return {"error": e.message, "hint": e.hint} if e is not None else None


def outcome_detail_lines(o: UnitOutcome[FlashResult]) -> list[str]:
    """:func:`flash_detail_lines` of what is known of a unit's flash (a run stopped or
    failed part-way carries its result in its error); none when nothing is known."""
    r = known_result(o)
    return flash_detail_lines(r) if r is not None else []


def flash_dict(o: UnitOutcome[FlashResult]) -> dict[str, Any]:
    """A flashed unit for ``--json``: everything the line and the details say, with the
    same keys whatever the outcome (null or empty where not known, as a unit that
    failed before it answered), and ``result`` in the station log's words."""

    r = known_result(o)
    out = unit_dict(o)
    if r is not None:
        out.update({"mac": r.mac, "chip": r.chip})  # known to the run, even before on_connect
    # interrupted or failed as its log record says, an Interrupted before the unit too
    status: str = r.status if o.error is None and r is not None else log_result(o)
    untouched = {
        p.name: [{"offset": off, "length": n, "md5": md5} for off, n, md5 in p.untouched]
        for p in (r.journal.partitions if r is not None and r.journal is not None else ())
    }
    plan = r.plan if r is not None else None
    out.update(
        {
            "status": status,
            "result": log_result(o),
            "sectors_written": r.sectors_written if r is not None else 0,
            "bytes_read": r.bytes_read if r is not None else 0,
            "bytes_written": r.bytes_written if r is not None else 0,
            "ca_before": list(r.ca_before) if r is not None else [],
            "ca_after": list(r.ca_after) if r is not None else [],
            "roots_before": list(r.roots_before) if r is not None else [],
            "roots_after": list(r.roots_after) if r is not None else [],
            "journal": str(r.journal.path) if r is not None and r.journal is not None else None,
            "journal_error": journal_error_dict(r.journal_error if r is not None else None),
            "resumed": [
                {
                    "created": x.entry.created.isoformat(),
                    "action": x.action,
                    "sectors": x.sectors_written,
                    "ca_sha256": x.entry.ca_sha256,
                    "other_ca": x.other_ca,
                    "found": [
                        f.to_json(
                            planned=x.action != "finished", dry_run=x.action == "would finish"
                        )
                        for f in x.found
                    ],
                }
                for x in (r.resumed if r is not None else ())
            ],
            "partitions": [
                {**change_dict(c), "untouched": untouched.get(c.partition.name, [])}
                for c in (plan.changes if plan is not None else ())
            ],
            "notes": list(plan.notes) if plan is not None else [],
        }
    )
    return out
