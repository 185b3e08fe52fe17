"""Progress on stderr for the commands that talk to units (rich, loaded only when a bar
is drawn): a bar per read or write of a unit, and a bar over a push campaign's units."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from ..flash.base import Message, Progress, ProgressEvent
from ..text import printable
from ..ui import stderr_is_tty

if TYPE_CHECKING:
    from ..flash.base import ProgressCallback
    from ..push.campaign import UnitEvent


@contextmanager
def unit_progress(*, quiet: bool) -> Iterator[ProgressCallback]:
    """A progress callback drawing one bar per read/write on stderr (nothing if quiet).

    esptool's own lines are kept out of sight (they go to the debug log); its warnings
    and errors are shown.
    """
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
                console.print(f"{event.level}: {escape(printable(event.text))}")
            return
        if isinstance(event, Progress) and event.total:
            key = (event.operation, event.address, event.total)
            if not tasks:
                bars.start()
            if key not in tasks:
                label = f"{event.operation.capitalize():<6} {event.address:#010x}"
                tasks[key] = bars.add_task(label, total=event.total)
            bars.update(tasks[key], completed=event.done)

    # Started at the first bar, so an error before any transfer (no port, no sync) is
    # not preceded by the blank line an empty live display leaves behind.
    try:
        yield show
    finally:
        if tasks:
            bars.stop()


class UnitsBar:
    """A progress bar over units on stderr (nothing when quiet)."""

    def __init__(self, bars: Any) -> None:
        self.bars = bars
        self.task = bars.add_task("units", total=None, status="") if bars is not None else None
        self.finished: set[str] = set()
        self._lock = threading.Lock()

    def total(self, n: int) -> None:
        if self.bars is not None and self.task is not None:
            self.bars.update(self.task, total=n)

    def event(self, ev: UnitEvent) -> None:
        if self.bars is None or self.task is None:
            return
        from rich.markup import escape

        with self._lock:
            if ev.final and ev.unit not in self.finished:
                self.finished.add(ev.unit)
                self.bars.update(self.task, completed=len(self.finished))
            # Escaped as the tables below it are: a device id or reply from the server
            # may hold an escape sequence, which the live line drew raw.
            line = f"{ev.unit}: {ev.state} {ev.text.removeprefix(f'unit {ev.unit}: ')}".rstrip()
            self.bars.update(self.task, status=escape(printable(line)[:60]))


@contextmanager
def units_progress(*, quiet: bool) -> Iterator[UnitsBar]:
    """One bar over a push campaign's units, with the latest unit's state; none when
    stderr is no terminal (a watch logs lines there instead: :class:`._push_until.WatchLog`)."""
    if quiet or not stderr_is_tty():
        yield UnitsBar(None)
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, TextColumn
    from rich.progress import Progress as Bars

    bars = Bars(
        TextColumn("units"),
        BarColumn(bar_width=30),
        MofNCompleteColumn(),
        TextColumn("{task.fields[status]}"),
        console=Console(stderr=True),
    )
    bar = UnitsBar(bars)
    if bar.task is not None:
        bars.update(bar.task, status="listing units ...")
    with bars:
        yield bar
