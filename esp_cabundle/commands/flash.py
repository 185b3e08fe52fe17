"""``esp-cabundle flash``: replace the CA file on units in place, one or many at once."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import click

from ._interrupt import interruption_lines, stop_on_signals
from .ca_source import CaOptions, ca_options
from .options import (
    at_option,
    baud_option,
    board_option,
    file_option,
    journal_dir_option,
    json_option,
    parse_at,
    port_option,
    quiet_option,
    reset_options,
)

if TYPE_CHECKING:
    from ..flash.base import ProgressCallback
    from ..flash.flasher import FlashResult
    from ..flash.interrupt import UnitInterrupted
    from ..flash.serial import AfterMode, ResetMode
    from ..flash.station import UnitOutcome
    from ..flash.update import PartitionChange


@click.command("flash")
@port_option(multiple=True)
@board_option(required=True)
@ca_options()
@at_option
@click.option("--dry-run", is_flag=True, help="Read only; print what would change.")
@journal_dir_option
@file_option(
    "--log",
    "log_file",
    help="Append one record per unit (time, port, MAC, chip, fingerprints, result).",
)
@click.option(
    "--log-format",
    type=click.Choice(["csv", "jsonl"]),
    help="Log format (default: csv for *.csv, JSON lines otherwise).",
)
@baud_option
@reset_options
@json_option
@quiet_option
def flash(
    ports: tuple[str, ...],
    board: str,
    ca: CaOptions,
    at: datetime | None,
    dry_run: bool,
    journal_dir: Path | None,
    log_file: Path | None,
    log_format: str | None,
    baud: int,
    before: str,
    after: str,
    as_json: bool,
    quiet: bool,
) -> None:
    """Replace the CA file on units in place: only the sectors that change are written,
    every other file and the file system's format stay as they were.

    The partition table is read from the unit, the board's file-system partition(s)
    (Mongoose OS: fs_0 and fs_1) are opened reading only what the file system needs, and
    the new CA file is written in a power-safe order after the old and new content of
    every sector is saved in the journal. Every write is checked by the unit's MD5 and
    the file system is read back. An interrupted update is finished by running the same
    command again; 'esp-cabundle restore' puts the original back.

    Ctrl-C or SIGTERM stops at once before the first write, else after the sector being
    written; each unit then says what it holds (old CA file, new one, or partly applied)
    and what to run next, the log gets an 'interrupted' record, and the exit code is 130.

    Several --port options (or a glob) flash units in parallel with one progress line
    each and a summary; exit 0 when every unit succeeded, else 3 (or, when every unit
    failed the same way, that failure's code).

    The CA (--bundle, --preset, --root or a cabundle.yaml: there is no default) passes
    the same gate as 'build' once, before any unit is touched, judged under the board's
    rules: policies, private keys, the config's targets and --target. Its one-line
    verdict is printed first.

    \b
    Examples:
      esp-cabundle flash --port /dev/ttyUSB0 --board mdash-arduino --preset letsencrypt
      esp-cabundle flash -p /dev/ttyUSB0 --board mongoose-os-esp32 --bundle ca.pem --dry-run
      esp-cabundle flash -p '/dev/ttyUSB*' --board mongoose-os-esp32 --bundle ca.pem \\
          --log station.csv
    """
    from ..boards import load_board
    from ..errors import InputError, Interrupted
    from ..flash.flasher import flash_unit
    from ..flash.interrupt import UnitInterrupted
    from ..flash.station import (
        append_log,
        expand_ports,
        flash_log_record,
        log_format_for,
        run_parallel,
        station_exit_code,
    )
    from ..ui import emit_json
    from .ca_source import announce

    profile = load_board(board)
    if profile.filesystem is None:
        raise InputError(
            f"board {profile.name} keeps its CA in {profile.output.form} form, not in a file "
            "system: there is no CA file on the unit to replace",
            hint="rebuild the firmware with 'esp-cabundle build' output instead",
        )
    gated = ca.gate(board=profile, at=parse_at(at), command="flash")
    announce(gated, quiet=quiet, as_json=as_json)
    units = expand_ports(ports)
    fmt = log_format_for(log_file, cast("Any", log_format)) if log_file is not None else None

    display = _Display(units, quiet=quiet or as_json)

    def done(outcome: UnitOutcome[FlashResult]) -> None:
        r = outcome.result
        status: str = r.status if r is not None else "FAILED"
        if isinstance(outcome.error, Interrupted):
            status = "INTERRUPTED"
        display.finish(outcome.port, status)
        if log_file is not None and fmt is not None:
            append_log(log_file, [flash_log_record(outcome, profile.name)], fmt)

    with stop_on_signals() as cancel:

        def job(
            port: str, progress: ProgressCallback | None, on_connect: Callable[..., None]
        ) -> Any:
            return flash_unit(
                port,
                profile,
                gated,
                journal_dir=journal_dir,
                dry_run=dry_run,
                baud=baud,
                reset=cast("ResetMode", before),
                after=cast("AfterMode", after),
                progress=progress,
                on_connect=on_connect,
                cancel=cancel,
            )

        with display.shown():
            outcomes = run_parallel(units, job, progress_for=display.progress_for, on_done=done)
    code = station_exit_code(outcomes)
    for o in outcomes:  # every unit stopped on request says so, whatever the output mode
        if isinstance(o.error, UnitInterrupted):
            for line in interruption_lines(o.error.interruption):
                click.echo(line, err=True)
    if as_json:
        emit_json(
            {
                "board": profile.name,
                "dry_run": dry_run,
                "exit_code": code,
                "gate": gated.to_dict(),
                "units": [_outcome_dict(o) for o in outcomes],
            }
        )
    elif len(outcomes) == 1 and isinstance(outcomes[0].error, UnitInterrupted):
        _render_interrupted(outcomes[0].error, quiet=quiet)
    elif len(outcomes) == 1 and outcomes[0].error is not None:
        raise outcomes[0].error
    else:
        _render(outcomes, quiet=quiet)
    if code:
        click.get_current_context().exit(code)


# ---------------------------------------------------------------------------------------
# Progress: one line per unit


class _Display:
    """A rich progress line per unit on stderr: what it is doing, and how far."""

    def __init__(self, ports: list[str], *, quiet: bool) -> None:
        self.quiet = quiet
        self.bars: Any = None
        self.tasks: dict[str, Any] = {}
        if quiet:
            return
        from rich.console import Console
        from rich.progress import BarColumn, DownloadColumn, TextColumn
        from rich.progress import Progress as Bars

        width = max(len(p) for p in ports)
        self.bars = Bars(
            TextColumn("{task.fields[port]}"),
            BarColumn(bar_width=24),
            DownloadColumn(binary_units=True),
            TextColumn("{task.fields[status]}"),
            console=Console(stderr=True),
        )
        for p in ports:
            self.tasks[p] = self.bars.add_task("", total=None, port=p.ljust(width), status="")

    def progress_for(self, port: str) -> ProgressCallback | None:
        if self.bars is None:
            return None
        from rich.markup import escape

        from ..flash.base import Message, Progress, ProgressEvent

        bars, task = self.bars, self.tasks[port]

        def show(event: ProgressEvent) -> None:
            if isinstance(event, Message):
                if event.level in ("warning", "error"):
                    bars.console.print(f"{escape(port)}: {event.level}: {escape(event.text)}")
                else:
                    bars.update(task, status=escape(event.text[:60]))
            elif isinstance(event, Progress) and event.total:
                bars.update(
                    task,
                    total=event.total,
                    completed=event.done,
                    status=f"{event.operation} {event.address:#x}",
                )

        return show

    def finish(self, port: str, text: str) -> None:
        if self.bars is not None:
            from rich.markup import escape

            self.bars.update(self.tasks[port], status=escape(text))

    @contextmanager
    def shown(self) -> Iterator[_Display]:
        if self.bars is None:
            yield self
            return
        with self.bars:
            yield self


# ---------------------------------------------------------------------------------------
# Rendering


def _roots_lines(change: PartitionChange) -> list[str]:
    from ..flash.flasher import ca_diff

    diff = ca_diff(change.old_ca, change.new_ca)
    lines = [f"  + {c.label} ({c.sha256[:16]})" for c in diff.added]
    lines += [f"  - {c.label} ({c.sha256[:16]})" for c in diff.removed]
    if diff.old_unreadable:
        lines.append("  (the old CA file holds no readable certificate)")
    if diff.kept:
        lines.append(f"  = {diff.kept} root(s) kept")
    return lines


def _change_lines(change: PartitionChange, status: str) -> list[str]:
    p = change.partition
    head = f"{p.name} ({p.offset:#x}, {change.fs_type} {change.profile}"
    version = dict(change.facts).get("disk version")
    head += f", disk {version})" if version else ")"
    if change.skipped:
        return [f"{head}: skipped, {change.skipped}"]
    if change.up_to_date:
        return [f"{head}: {change.ca_path} already holds this CA file"]
    verb = {"dry run": "would be", "updated": "was", "interrupted": "was being"}.get(status, "is")
    action = "replaced" if change.old_ca is not None else "created"
    lines = [f"{head}: {change.ca_path} {verb} {action}"]
    lines += _roots_lines(change)
    sectors = " ".join(f"{w.offset:#x}" for w in change.writes)
    kib = len(change.writes) * 4
    lines.append(f"  {len(change.writes)} sector(s), {kib} KiB, in this order: {sectors}")
    lines.append(f"  order: {change.order}")
    if change.files:
        lines.append(f"  kept {len(change.files)} other file(s) as they were")
    return lines


def _unit_lines(result: FlashResult) -> list[str]:
    lines = [f"{result.port}: {result.chip} MAC {result.mac}, board {result.board}"]
    for r in result.resumed:
        if r.action == "finished":
            lines.append(
                f"finished the update interrupted on {r.entry.when} ({r.sectors_written} "
                "sector(s) written)"
            )
        elif r.action == "would finish":
            lines.append(
                f"an update interrupted on {r.entry.when} would be finished first "
                f"({r.sectors_written} sector(s) to write); run without --dry-run"
            )
        elif r.action == "stale":
            lines.append(
                f"an update interrupted on {r.entry.when} no longer matches the unit; left alone"
            )
    plan = result.plan
    if plan is not None:
        for change in plan.changes:
            lines += _change_lines(change, result.status)
        lines += [f"note: {n}" for n in plan.notes]
    if result.status == "up to date":
        lines.append("Already up to date: nothing written.")
    elif result.status == "dry run":
        lines.append("Dry run: nothing written.")
    elif result.status == "updated":
        journal = f"; journal {result.journal.path}" if result.journal is not None else ""
        lines.append(
            f"Updated and verified: {result.sectors_written} sector(s) written, file system "
            f"read back{journal}"
        )
    return lines


def _render_interrupted(error: UnitInterrupted, *, quiet: bool) -> None:
    """One unit stopped on request: what it was doing (its plan, if there was one)."""
    from ..flash.flasher import FlashResult
    from ..ui import echo

    if isinstance(error.result, FlashResult):
        for line in _unit_lines(error.result):
            echo(line, quiet=quiet)


def _render(outcomes: list[UnitOutcome[FlashResult]], *, quiet: bool) -> None:
    from ..flash.interrupt import UnitInterrupted
    from ..ui import echo, format_table, warn

    for o in outcomes:
        if o.result is not None and len(outcomes) == 1:
            for line in _unit_lines(o.result):
                echo(line, quiet=quiet)
    if len(outcomes) == 1:
        return
    rows: list[tuple[str, ...]] = []
    for o in outcomes:
        r = o.result
        if r is not None:
            rows.append((o.port, r.mac, r.status, str(r.sectors_written), f"{o.seconds:.1f}s", ""))
        elif isinstance(o.error, UnitInterrupted):
            i = o.error.interruption
            mac = o.unit.mac if o.unit is not None else "-"
            rows.append(
                (o.port, mac, "INTERRUPTED", str(i.written), f"{o.seconds:.1f}s", i.describe())
            )
        else:
            mac = o.unit.mac if o.unit is not None else "-"
            error = o.error.message if o.error is not None else ""
            rows.append((o.port, mac, "FAILED", "-", f"{o.seconds:.1f}s", error))
            if quiet:
                warn(f"{o.port}: {error}")
    ok = sum(1 for o in outcomes if o.ok)
    stopped = sum(1 for o in outcomes if isinstance(o.error, UnitInterrupted))
    echo(format_table(("port", "MAC", "result", "sectors", "time", "error"), rows), quiet=quiet)
    tail = f"; {stopped} interrupted" if stopped else ""
    echo(f"{ok} of {len(outcomes)} unit(s) succeeded{tail}.", quiet=quiet)


def _outcome_dict(o: UnitOutcome[FlashResult]) -> dict[str, Any]:
    from ..flash.flasher import FlashResult
    from ..flash.interrupt import UnitInterrupted

    r = o.result
    stopped = o.error.interruption if isinstance(o.error, UnitInterrupted) else None
    if isinstance(o.error, UnitInterrupted) and isinstance(o.error.result, FlashResult):
        r = o.error.result
    out: dict[str, Any] = {
        "port": o.port,
        "ok": o.ok,
        "exit_code": o.exit_code,
        "seconds": round(o.seconds, 3),
        "error": o.error.message if o.error is not None else None,
        "mac": r.mac if r is not None else (o.unit.mac if o.unit is not None else None),
        "chip": r.chip if r is not None else (o.unit.chip if o.unit is not None else None),
    }
    if stopped is not None:
        out["status"] = "interrupted"
        out["interrupted"] = stopped.to_json()
    if r is None:
        return out
    out.update(
        {
            "status": r.status,
            "sectors_written": r.sectors_written,
            "bytes_read": r.bytes_read,
            "bytes_written": r.bytes_written,
            "ca_before": list(r.ca_before),
            "ca_after": list(r.ca_after),
            "journal": str(r.journal.path) if r.journal is not None else None,
            "resumed": [
                {
                    "created": x.entry.created.isoformat(),
                    "action": x.action,
                    "sectors": x.sectors_written,
                }
                for x in r.resumed
            ],
            "partitions": [_change_dict(c) for c in r.plan.changes] if r.plan else [],
            "notes": list(r.plan.notes) if r.plan else [],
        }
    )
    return out


def _change_dict(c: PartitionChange) -> dict[str, Any]:
    from ..flash.flasher import ca_diff

    diff = ca_diff(c.old_ca, c.new_ca)
    return {
        "name": c.partition.name,
        "offset": c.partition.offset,
        "size": c.partition.size,
        "file_system": c.fs_type,
        "profile": c.profile,
        "facts": dict(c.facts),
        "ca_path": c.ca_path,
        "action": c.action,
        "skipped": c.skipped,
        "roots_added": [{"label": x.label, "sha256": x.sha256} for x in diff.added],
        "roots_removed": [{"label": x.label, "sha256": x.sha256} for x in diff.removed],
        "sectors": [w.offset for w in c.writes],
        "bytes": len(c.writes) * 4096,
        "power_safe": c.power_safe,
        "kept_files": [f.path for f in c.files],
        "bytes_read": c.bytes_read,
    }
