"""Options and the progress display shared by the commands that talk to units."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, TypeVar

import click

if TYPE_CHECKING:
    from ..flash.base import ProgressCallback
    from ..inspect import Report

F = TypeVar("F", bound=Callable[..., Any])

# esptool's CLI default; 115200 for the sync, then the stub switches to this.
DEFAULT_BAUD = 460800


def baud_option(f: F) -> F:
    """``-b/--baud``."""
    return _baud(f, "-b", "--baud")


def long_baud_option(f: F) -> F:
    """``--baud`` only, for commands where ``-b`` would clash with ``--board`` elsewhere."""
    return _baud(f, "--baud")


def _baud(f: F, *decls: str) -> F:
    return click.option(
        *decls,
        type=click.IntRange(min=9600),
        default=DEFAULT_BAUD,
        show_default=True,
        help="Baud rate after connecting (the sync runs at 115200).",
    )(f)


def reset_options(f: F) -> F:
    f = click.option(
        "--after",
        type=click.Choice(["hard-reset", "no-reset"]),
        default="hard-reset",
        show_default=True,
        help="What to do when done: restart the firmware, or stay in the loader.",
    )(f)
    return click.option(
        "--before",
        type=click.Choice(["default-reset", "usb-reset", "no-reset"]),
        default="default-reset",
        show_default=True,
        help="How to put the unit in download mode (over socket:// always no-reset).",
    )(f)


def parse_offset(value: str, *, what: str) -> int:
    from ..errors import InputError

    try:
        n = int(value, 0)
    except ValueError as e:
        raise InputError(f"{what}: not a number: {value!r} (use 0x8000 or 32768)") from e
    if n < 0 or n % 0x1000:
        raise InputError(f"{what}: {value} is not a multiple of 4 KiB (0x1000)")
    return n


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


def port_inspect_options(f: F) -> F:
    """``inspect --port PORT [--board B] [--no-apps] [--baud N]``."""
    f = baud_option(f)
    f = click.option(
        "--no-apps",
        is_flag=True,
        help="With --port: skip app partitions (faster; certificates compiled into the "
        "firmware are then not reported).",
    )(f)
    f = click.option(
        "--board",
        metavar="NAME",
        help="With --port: the unit's board profile (its chip must match; its table offset "
        "is used).",
    )(f)
    return click.option(
        "-p",
        "--port",
        metavar="PORT",
        help="Inspect a unit on this serial port (or socket://, rfc2217:// URL) as a dump.",
    )(f)


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


def journal_dir_option(f: F) -> F:
    """``--journal-dir DIR``: where ``flash`` journals updates (``restore``, ``journal``)."""
    from pathlib import Path

    return click.option(
        "--journal-dir",
        type=click.Path(file_okay=False, path_type=Path),
        metavar="DIR",
        help="The journal of updates, for resuming and 'restore' (default: "
        "$ESP_CABUNDLE_JOURNAL, else $XDG_STATE_HOME/esp-cabundle/journal or "
        "~/.local/state/esp-cabundle/journal).",
    )(f)
