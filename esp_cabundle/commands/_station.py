"""A job run on many units at once, seen at the bench alike by ``flash`` and ``restore``:
a bar per unit, Ctrl-C asking every unit to stop at a safe point, then a line per unit
(or the JSON), a summary for a station, and the exit code of the whole run."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

import click

from ..errors import EspCabundleError, Interrupted, OutputError
from ..flash.interrupt import UnitInterrupted
from ..flash.station import run_parallel, shared_macs, station_exit_code
from ..text import plural
from ..ui import echo, emit_json, table_width
from ._bench import UnitBars, render_lines
from ._interrupt import stop_on_signals

if TYPE_CHECKING:
    from ..flash.base import ProgressCallback
    from ..flash.interrupt import Cancel
    from ..flash.serial import UnitInfo
    from ..flash.station import UnitOutcome
    from ._bench import Line

__all__ = ["journals_unmarked", "report_station", "run_station"]

R = TypeVar("R")
# job(port, progress, on_connect, cancel): one unit's whole job
Job = Callable[
    [str, "ProgressCallback | None", "Callable[[UnitInfo], None]", "Cancel"],
    R,
]


def run_station(
    ports: Sequence[str],
    job: Job[R],
    *,
    line: Callable[[UnitOutcome[R]], Line],
    shown: bool,
    verbose: bool,
    on_done: Callable[[UnitOutcome[R]], None] | None = None,
) -> list[UnitOutcome[R]]:
    """``job`` on every port in parallel, each unit with its bar, ended by the status
    word of its ``line``; SIGINT, SIGTERM and SIGHUP ask every unit to stop (see
    :func:`._interrupt.stop_on_signals`). ``on_done`` hears each unit as it ends."""

    bars = UnitBars(ports, shown=shown, verbose=verbose)

    def done(outcome: UnitOutcome[R]) -> None:
        bars.finish(outcome.port, line(outcome).status)
        if on_done is not None:
            on_done(outcome)

    with stop_on_signals() as cancel, bars.shown():
        return run_parallel(
            ports,
            lambda port, progress, on_connect: job(port, progress, on_connect, cancel),
            progress_for=bars.progress_for,
            on_done=done,
        )


def report_station(
    outcomes: Sequence[UnitOutcome[R]],
    *,
    line: Callable[[UnitOutcome[R]], Line],
    details: Callable[[UnitOutcome[R]], list[str]] | None,
    json_doc: Callable[[int], dict[str, Any]] | None,
    quiet: bool,
    then: EspCabundleError | None = None,
) -> None:
    """Say how the run went, and exit with its code (:func:`station_exit_code`).

    On stderr whatever the output mode: MACs that answered on two ports. Then the document
    ``json_doc(exit_code)``, or a line per unit (with ``quiet`` only the units that did
    not succeed, on stderr), each followed by its ``details``, and a summary when there
    are several units. A unit stopped on request is said once: its STOPPED line (what
    it holds, what to run next), or its ``interrupted`` in the document; a block of
    "PORT: interrupted: ..." lines before them said it all twice.

    ``then``: a failure of the run's own once every unit was done (a station log that
    could not take their records), raised after the report so it is said last; its exit
    code is the run's, unless a unit was stopped on request (130 stays)."""

    code = station_exit_code(outcomes)
    if then is not None:
        if code == Interrupted.exit_code:
            then.exit_code = code
        code = then.exit_code
    for text in shared_macs(outcomes):
        click.echo(text, err=True)
    if json_doc is not None:
        emit_json(json_doc(code))
    else:
        lines = render_lines([line(o) for o in outcomes], width=table_width(err=quiet))
        for o, text in zip(outcomes, lines, strict=True):
            if quiet and o.ok:
                continue
            click.echo(text, err=quiet)
            for detail in details(o) if details is not None else ():
                echo(f"  {detail}")
        if len(outcomes) > 1:
            ok = sum(1 for o in outcomes if o.ok)
            stopped = sum(1 for o in outcomes if isinstance(o.error, UnitInterrupted))
            tail = f"; {stopped} interrupted" if stopped else ""
            echo(
                f"{ok} of {plural(len(outcomes), 'unit')} succeeded{tail}.", quiet=quiet, wrap=True
            )
    if then is not None:
        raise then
    if code:
        click.get_current_context().exit(code)


def journals_unmarked(
    said: Sequence[tuple[str, OutputError | None]], *, marked: str
) -> OutputError | None:
    """Units whose work is done but whose journal entry could not be marked ``marked``
    (a full disk): said once the units are reported (``report_station``'s ``then``),
    as a log that lost records is: the first one's words (its entry, the errno's
    remedy), the others by port. ``said``: each unit's port and such an error, in port
    order; None when every entry was marked."""
    unmarked = [(port, e) for port, e in said if e is not None]
    if not unmarked:
        return None
    port, first = unmarked[0]
    others = [p for p, _ in unmarked[1:]]
    also = (
        f"; the entries of {', '.join(others)} could not be marked {marked} either"
        if others
        else ""
    )
    return OutputError(f"{port}: {first.message}{also}", hint=first.hint)


def records_lost(
    unlogged: Sequence[tuple[str, OutputError]],
    units: int,
    *,
    done: str = "",
    rerun: str = "",
) -> OutputError:
    """A log's failure, said once the units are reported (``report_station``'s ``then``):
    the first error's words, which units' records it lacks (``unlogged``: port and error,
    in port order) and that their own work is done, as reported. ``done`` names what
    that work came to; ``rerun`` says what running again would log instead."""
    first = unlogged[0][1]
    ports = ", ".join(port for port, _ in unlogged)
    whose = (
        "the record of 1 unit is"
        if len(unlogged) == 1
        else f"the records of {len(unlogged)} units are"
    )
    theirs = "the unit's" if units == 1 else "the units'"
    came_to = f" ({done})" if done else ""
    again = f": {rerun}" if rerun else ""
    return OutputError(
        f"{first.message}: {whose} missing from it ({ports}); {theirs} own work is done, "
        f"as reported above{came_to}",
        hint=f"{first.hint}; copy what the missing records would say from the lines above "
        f"(or --json){again}",
    )
