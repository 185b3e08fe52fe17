"""The progress display of the commands that talk to units, and ``inspect --port``."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..flash.base import ProgressCallback
    from ..inspect import Report


@contextmanager
def unit_progress(*, quiet: bool) -> Iterator[ProgressCallback]:
    """A progress callback drawing one bar per read/write on stderr (nothing if quiet).

    esptool's own lines are kept out of sight (they go to the debug log); its warnings
    and errors are shown.
    """
    from ..flash.base import Message, Progress, ProgressEvent

    if quiet:
        yield lambda event: None
        return
    from rich.console import Console
    from rich.markup import escape
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        TextColumn,
        TimeRemainingColumn,
        TransferSpeedColumn,
    )
    from rich.progress import Progress as Bars

    console = Console(stderr=True)
    bars = Bars(
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(binary_units=True),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        console=console,
    )
    tasks: dict[tuple[str, int, int], Any] = {}

    def show(event: ProgressEvent) -> None:
        if isinstance(event, Message):
            if event.level in ("warning", "error"):
                console.print(f"{event.level}: {escape(event.text)}")
            return
        if isinstance(event, Progress) and event.total:
            key = (event.operation, event.address, event.total)
            if key not in tasks:
                label = f"{event.operation.capitalize():<6} {event.address:#010x}"
                tasks[key] = bars.add_task(label, total=event.total)
            bars.update(tasks[key], completed=event.done)

    with bars:
        yield show


def inspect_port_report(
    port: str | None, *, board: str | None, no_apps: bool, baud: int, quiet: bool
) -> Report | None:
    """The report for ``inspect --port`` (None without --port; --board needs --port)."""
    from ..errors import InputError

    if port is None:
        if board is not None or no_apps:
            raise InputError("--board and --no-apps go with --port (a unit to read)")
        return None
    from ..boards import load_board
    from ..flash.reading import inspect_port

    profile = load_board(board) if board is not None else None
    with unit_progress(quiet=quiet) as progress:
        return inspect_port(port, board=profile, apps=not no_apps, baud=baud, progress=progress)
