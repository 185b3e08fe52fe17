"""``esp-cabundle flash``: replace the CA file on units in place, one or many at once."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import click

from ..clobber import same_file
from ..errors import InputError, OutputError
from ..flash.flasher import flash_unit
from ..flash.result import FlashResult
from ..flash.station import (
    append_log,
    check_log,
    expand_ports,
    flash_log_record,
    known_result,
    log_format_for,
    log_result,
)
from ..spelling import BOARD_SPELLING
from ._bench import flash_line
from ._plan_view import flash_dict, outcome_detail_lines
from ._station import journals_unmarked, records_lost, report_station, run_station
from ._usage import typed_board_again
from .ca_source import CaOptions, announce, ca_options
from .options import (
    at_option,
    board_option,
    file_option,
    journal_dir_option,
    json_option,
    link_options,
    log_format_option,
    parse_at,
    port_option,
    quiet_option,
    required_board,
)

if TYPE_CHECKING:
    from ..flash.base import ProgressCallback
    from ..flash.interrupt import Cancel
    from ..flash.serial import Link
    from ..flash.station import UnitOutcome


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
@log_format_option
@link_options
@click.option(
    "-v",
    "--verbose",
    is_flag=True,
    help="Also say, per unit, which partitions and sectors (in write order) were written "
    "and why that order, the ranges checked unchanged, and the notes.",
)
@json_option
@quiet_option
def flash(
    ports: tuple[str, ...],
    board: str | None,
    ca: CaOptions,
    at: datetime | None,
    dry_run: bool,
    journal_dir: Path | None,
    log_file: Path | None,
    log_format: str | None,
    link: Link,
    verbose: bool,
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

    Ctrl-C, SIGTERM or SIGHUP stops at once before the first write, else after the
    sector being written; each unit then says what it holds (old CA file, new one, or
    partly applied) and what to run next, the log gets an 'interrupted' record, and the
    exit code is 130.

    Each unit shows one progress bar for the whole job, then one line: OK or FAILED,
    the port, the MAC, the roots added (+) and removed (-) by name, and the seconds it
    took; a failure says what to do next. --verbose adds the partitions, the sectors in
    the order they were written and why, and the notes; --json has everything.

    Several --port options (or a glob) flash units in parallel, a line each and a
    summary; exit 0 when every unit succeeded, else 3 (or, when every unit failed the
    same way, that failure's code). --log appends one record per unit (tool version,
    bundle name and SHA-256, root names, result: updated, up-to-date, resumed,
    interrupted, failed); records it cannot take (a full disk) are named after the
    units' lines, exit 3, and --json's "log" says which. A unit updated and verified
    whose journal entry cannot be marked complete (a full disk) is OK all the same; its
    entry is named after the lines, with the remedy, exit 3, and in --json its
    "journal_error".

    The CA (--bundle, --preset, --root or a cabundle.yaml: there is no default) passes
    the same gate as 'build' once, before any unit is touched, judged under the board's
    rules: policies, private keys, the config's targets and --target. Its one-line
    verdict is printed first.

    \b
    Examples:
      esp-cabundle flash --port /dev/ttyUSB0 --board mdash-arduino \\
          --preset letsencrypt
      esp-cabundle flash -p /dev/ttyUSB0 --board mongoose-os-esp32 \\
          --bundle ca.pem --dry-run
      esp-cabundle flash -p '/dev/ttyUSB*' --board mongoose-os-esp32 \\
          --bundle ca.pem --log station.csv
    """

    profile = required_board(board, None, command="flash")
    profile.file_system(BOARD_SPELLING)
    when = parse_at(at)
    # The station's own inputs first: a glob with no unit behind it, or a log that cannot
    # be appended to, is said before the CA's verdict, and before any unit is touched.
    units = expand_ports(ports)
    fmt = log_format_for(log_file, cast("Any", log_format)) if log_file is not None else None
    if log_file is not None and fmt is not None:
        _refuse_logging_into_inputs(log_file, ca.input_files(profile))
        check_log(log_file, fmt)
    gated = ca.gate(board=profile, at=when, command="flash")
    announce(gated, quiet=quiet, as_json=as_json)
    # several units: a wrong board's line names the unit's port alone (the line typed
    # would rerun every port with that unit's board); made here, as the jobs' threads
    # have no click context to read the line typed from
    spellings = {
        port: typed_board_again(BOARD_SPELLING, port if len(units) > 1 else None) for port in units
    }

    # A record the log could not take (a full disk) loses no unit's report: each unit is
    # still said, and the run ends saying which records the log lacks.
    unlogged: list[tuple[UnitOutcome[FlashResult], OutputError]] = []

    def logged(outcome: UnitOutcome[FlashResult]) -> None:
        if log_file is not None and fmt is not None:
            record = flash_log_record(outcome, profile.name, gated)
            try:
                append_log(log_file, [record], fmt)
            except OutputError as e:
                unlogged.append((outcome, e))

    def job(
        port: str,
        progress: ProgressCallback | None,
        on_connect: Callable[..., None],
        cancel: Cancel,
    ) -> FlashResult:
        return flash_unit(
            port,
            profile,
            gated,
            journal_dir=journal_dir,
            dry_run=dry_run,
            progress=progress,
            on_connect=on_connect,
            cancel=cancel,
            spelling=spellings[port],
            **link,
        )

    outcomes = run_station(
        units, job, line=flash_line, shown=not (quiet or as_json), verbose=verbose, on_done=logged
    )

    def details(o: UnitOutcome[FlashResult]) -> list[str]:
        return outcome_detail_lines(o) if verbose else []

    def document(code: int) -> dict[str, Any]:
        return {
            "ok": code == 0,
            "board": profile.name,
            "dry_run": dry_run,
            "exit_code": code,
            "gate": gated.to_dict(),
            "units": [flash_dict(o) for o in outcomes],
            "log": log_doc,
        }

    # in port order, as the units are reported (they were logged as they ended)
    unlogged.sort(key=lambda pair: units.index(pair[0].port))
    lost = flash_records_lost(unlogged, outcomes) if unlogged else None
    # a unit stopped or failed after finishing an interrupted update carries it too
    said = [(o.port, known_result(o)) for o in outcomes]
    unmarked = journals_unmarked(
        [(port, r.journal_error if r is not None else None) for port, r in said],
        marked="complete",
    )
    # the log's part of --json says the records it lacks only: an entry not marked is a
    # unit's (its journal_error); both are said after the units, one exit 3
    log_doc = (
        {
            "path": str(log_file),
            "format": fmt,
            "error": lost.message if lost is not None else None,
            "hint": lost.hint if lost is not None else None,
            "missing": [o.port for o, _ in unlogged],
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
        line=flash_line,
        details=details,
        json_doc=document if as_json else None,
        quiet=quiet,
        then=then,
    )


def _refuse_logging_into_inputs(log_file: Path, inputs: list[tuple[str, Path]]) -> None:
    """A record appended to the CA file, the config or the board file would corrupt it
    (compared as files: a symlink or hard link to the bundle is the bundle)."""
    for what, path in inputs:
        if same_file(log_file, path):
            raise InputError(
                f"--log {log_file} is the {what} {path} this command reads: a record "
                "appended to it would corrupt it; nothing written, no unit was touched",
                hint="give --log a file of its own (e.g. station.csv)",
            )


# What each unit's own work came to, by its log result, for a run whose log lost records.
_DONE = {
    "updated": "updated and verified",
    "resumed": "finished and verified",
    "up-to-date": "already up to date",
    "dry-run": "dry run, nothing written",
    "interrupted": "stopped on request",
    "failed": "failed",
}


def flash_records_lost(
    unlogged: list[tuple[UnitOutcome[FlashResult], OutputError]],
    outcomes: list[UnitOutcome[FlashResult]],
) -> OutputError:
    """The log's failure (``records_lost``), with what each unlogged unit's work came to
    counted by its log result."""
    done: dict[str, int] = {}
    for o, _ in unlogged:
        result = log_result(o)
        done[result] = done.get(result, 0) + 1
    return records_lost(
        [(o.port, e) for o, e in unlogged],
        len(outcomes),
        done=", ".join(f"{n} {_DONE.get(r, r)}" for r, n in done.items()),
        rerun="running again would log them up-to-date, not as this run did",
    )
