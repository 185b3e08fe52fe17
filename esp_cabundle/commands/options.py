"""Every option more than one command takes, declared once.

Options are module-level decorators that commands apply (pip-tools' ``options.py``);
where commands need a variant (a required ``--board``, several ``--port``), a small
factory makes it from the same declaration (sqlite-utils' ``insert_upsert_options``).
Values are parsed by ParamTypes (esptool's ``ChipType``), so ``256KiB``, ``0x40000``
and ``256K`` are the same size, and a date the same date, in every command (the
types are in :mod:`._option_types`, re-exported here).

Short flags mean one thing everywhere: ``-b`` is ``--baud`` (as in esptool), ``-p``
``--port``, ``-c`` ``--config``, ``-o`` ``--output``, ``-q`` ``--quiet``. The CA flags
(``--bundle``, ``--preset``, ``--root``, the gate's policies) are in :mod:`.ca_source`.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar, cast

import click
from click.core import ParameterSource

from ..dates import now
from ..spelling import CLI_SPELLING
from ._option_types import Date, Mac, Name, Seconds, Size, Whole
from ._paths import FILE_PATH, HOME_FILE_PATH, DirPath, output_path
from ._usage import joined

__all__ = [
    "CLI_SPELLING",
    "DEFAULT_BAUD",
    "FILE_PATH",
    "FS_TYPES",
    "HOME_FILE_PATH",
    "Date",
    "DiskVersion",
    "Mac",
    "Name",
    "Needed",
    "Seconds",
    "Size",
    "Whole",
    "at_option",
    "baud_option",
    "board_option",
    "chosen_board",
    "config_option",
    "config_option_reading",
    "disk_version_option",
    "file_option",
    "fs_type_option",
    "given_options",
    "joined",
    "journal_dir_option",
    "json_option",
    "lfs_version_options",
    "link_options",
    "mtime_option",
    "offset_option",
    "output_path",
    "parse_at",
    "platform_option",
    "port_option",
    "profile_option",
    "quiet_option",
    "required_board",
    "reset_options",
    "seconds_option",
    "size_option",
    "timeout_option",
    "wide_option",
]

F = TypeVar("F", bound=Callable[..., Any])

Decorator = Callable[[F], F]

if TYPE_CHECKING:
    from ..boards import Board
    from ..config import Config
    from ..flash.serial import Link

    _Choice = click.Choice[str]
else:  # click < 8.2 (pyproject allows 8.1) has no generic Choice
    _Choice = click.Choice


def _compose(*options: Callable[[Any], Any]) -> Callable[[F], F]:
    """Several options as one decorator, shown in --help in the order given."""

    def decorate(f: F) -> F:
        for option in reversed(options):
            f = option(f)
        return f

    return decorate


def file_option(*decls: str, help: str, metavar: str = "FILE", **attrs: Any) -> Decorator[Any]:
    """An option naming a file: ``--devices FILE``."""
    return click.option(*decls, type=FILE_PATH, metavar=metavar, help=help, **attrs)


# ---------------------------------------------------------------------------------------
# Reporting and time


def _remember_json(ctx: click.Context, param: click.Parameter, value: bool) -> bool:
    """Note ``--json`` where the CLI's error printer looks (``cli.py``): a command that
    fails under --json still prints one JSON document, its error."""
    if value:
        root = ctx.find_root()
        root.ensure_object(dict)["json"] = True
    return value


json_option = click.option(
    "--json",
    "as_json",
    is_flag=True,
    callback=_remember_json,
    # first, so an error another option's callback raises (--port) is a JSON document too
    is_eager=True,
    help='Print a JSON report on stdout (on failure: {"ok": false, "error": ...}).',
)
quiet_option = click.option("-q", "--quiet", is_flag=True, help="Print nothing but errors.")


def _remember_wide(ctx: click.Context, param: click.Parameter, value: bool) -> None:
    """Note ``--wide`` where :func:`~esp_cabundle.ui.table_width` looks: every table
    the command prints keeps whole rows."""
    if value:
        ctx.find_root().ensure_object(dict)["wide"] = True


wide_option = click.option(
    "--wide",
    is_flag=True,
    expose_value=False,
    callback=_remember_wide,
    help="Keep table rows whole instead of fitting them to the terminal.",
)
at_option = click.option(
    "--at",
    "at",
    type=Date(),
    metavar="DATE",
    help="Judge as of this date (YYYY-MM-DD) instead of today.",
)


def parse_at(value: datetime | None) -> datetime:
    """``--at``'s date, or now."""
    return value if value is not None else now()


def seconds_option(
    flag: str, *, default: float, help: str, minimum: float = 0.1, maximum: float | None = None
) -> Decorator[Any]:
    """A time in seconds, from ``minimum`` up to ``maximum``, its default shown."""
    return click.option(
        flag, type=Seconds(minimum, maximum), default=default, show_default=True, help=help
    )


def timeout_option(what: str, *, maximum: float | None = None) -> Decorator[Any]:
    """``--timeout SECONDS`` (10 by default) for what a command waits on."""
    return seconds_option(
        "--timeout", default=10.0, maximum=maximum, help=f"Seconds to wait for {what}."
    )


_CONFIG_HELP = "Config file: roots, policies, targets (default: ./cabundle.yaml if present)."


def config_option_reading(what: str) -> Decorator[Any]:
    """``-c/--config`` for a command reading only part of the config (inspect: the
    saved chains beside it): the one help text, and ``what`` it reads."""
    return file_option("-c", "--config", "config_path", help=f"{_CONFIG_HELP} {what}")


config_option = file_option("-c", "--config", "config_path", help=_CONFIG_HELP)


# ---------------------------------------------------------------------------------------
# Boards and units

_BOARD_HELP = (
    "Board profile: a name from 'esp-cabundle boards' (NAME@VERSION: that firmware "
    "version) or a board YAML file."
)


def board_option(*, required: bool = False, generic: bool = False) -> Decorator[Any]:
    """``--board NAME[@VERSION]|FILE``; ``generic``: ``none`` names no board (a generic
    ca.pem). ``required`` only says so in the help: :func:`required_board` refuses its
    absence, saying why a board is needed (click's own error would not)."""
    return click.option(
        "--board",
        cls=Needed if required else click.Option,
        type=Name("board"),
        metavar="NAME[@VERSION]|FILE",
        help=_BOARD_HELP
        + (" 'none': no board, a generic ca.pem." if generic else "")
        + (" Required: it says where the CA file lives." if required else ""),
    )


class Needed(click.Option):
    """An option the command refuses to run without, in its own words (why it is
    needed), where click's ``required`` would not say why (a missing one's hint,
    :mod:`._missing`, adds it from the command's example, with all else it needs)."""


def chosen_board(board: str | None, config: Config | None) -> Board | None:
    """``--board``, else the config's ``board:`` (``init --board`` writes it): every
    command that judges or writes a CA for units takes the board this one way, so
    ``build``, ``pack`` and ``check`` never disagree about the same cabundle.yaml."""
    if board:
        from ..boards import load_board  # deferred: only commands given a board read boards

        return load_board(board)
    return config.board if config is not None else None


def required_board(
    board: str | None, config: Callable[[], Config | None] | None, *, command: str
) -> Board:
    """:func:`chosen_board` for a command that writes the CA into units or dumps, where
    no board is no answer: a usage error that says why one is needed, the same for each.
    ``config`` (read only when ``--board`` is absent) is None for the commands that take
    no ``board:`` from cabundle.yaml (README: flash and update-dump want it named)."""
    chosen = chosen_board(board, None if board or config is None else config())
    if chosen is None:
        why = "it says where the CA file lives"
        reason = (
            f"(or board: in cabundle.yaml): {why}"
            if config is not None
            else f"{why}, and {command} does not read the board: key of cabundle.yaml"
        )
        ctx = click.get_current_context(silent=True)
        param = next((p for p in ctx.command.params if p.name == "board"), None) if ctx else None
        if param is None:
            raise click.UsageError(f"--board is required{joined(reason)}")
        # Said as a missing option is (cli.py): with an example of the command with it.
        raise click.MissingParameter(reason, ctx=ctx, param=param)
    return chosen


_PORT_HELP = "Serial port of the unit, or a socket:// or rfc2217:// URL."


def port_option(
    *, required: bool = True, multiple: bool = False, doing: str = "updated"
) -> Decorator[Any]:
    """``-p/--port PORT``; ``multiple``: repeatable, and globs name several units (each
    ``doing`` in parallel, as its help says)."""
    if multiple:
        return click.option(
            "-p",
            "--port",
            "ports",
            type=Name("port"),
            multiple=True,
            required=required,
            metavar="PORT",
            help=_PORT_HELP + " Repeat it, or give a glob (/dev/ttyUSB*), for several units, "
            f"{doing} in parallel.",
        )
    return click.option(
        "-p",
        "--port",
        type=Name("port"),
        multiple=True,  # so that a second --port is refused, not silently taken instead
        required=required,
        metavar="PORT",
        help=_PORT_HELP,
        callback=_one_port,
    )


def _one_port(ctx: click.Context, param: click.Parameter, value: tuple[str, ...]) -> str | None:
    """The one unit's port: a repeated --port, a glob matching several ports or a URL
    holding glob characters is refused (exit 2) before anything is opened."""
    from ..flash.station import one_port  # deferred: the flash package is heavy

    return one_port(value, command=ctx.info_name or "this command") if value else None


# esptool's CLI default; 115200 for the sync, then the stub switches to this.
DEFAULT_BAUD = 460800

baud_option = click.option(
    "-b",
    "--baud",
    type=Whole(
        9600,
        what="a baud rate: a whole number of bits per second, 9600 or more (e.g. 115200, "
        "460800, 921600)",
    ),
    default=DEFAULT_BAUD,
    show_default=True,
    help="Baud rate after connecting (the sync runs at 115200).",
)

reset_options = _compose(
    click.option(
        "--before",
        type=click.Choice(["default-reset", "usb-reset", "no-reset"]),
        default="default-reset",
        show_default=True,
        help="How to put the unit in download mode (over socket:// always no-reset).",
    ),
    click.option(
        "--after",
        type=click.Choice(["hard-reset", "no-reset"]),
        default="hard-reset",
        show_default=True,
        help="What to do when done: restart the firmware, or stay in the loader.",
    ),
)


def given_options(ctx: click.Context, *names: str) -> list[str]:
    """The options among ``names`` (parameter names) the user set, as --help shows them
    (``-b/--baud``): an option that only means something with another one is refused
    when given without it, never silently ignored; defaults do not count."""
    flags = {p.name: "/".join(p.opts) for p in ctx.command.params}
    return [
        flags[n]
        for n in names
        if ctx.get_parameter_source(n) not in (None, ParameterSource.DEFAULT)
    ]


def link_options(f: Callable[..., Any]) -> Callable[..., Any]:
    """--baud, --before and --after, handed to the command as one ``link``
    (:class:`~esp_cabundle.flash.serial.Link`) that it passes on to the unit's function."""

    @functools.wraps(f)
    def command(*args: Any, baud: int, before: str, after: str, **kwargs: Any) -> Any:
        link = {"baud": baud, "reset": before, "after": after}
        return f(*args, link=cast("Link", link), **kwargs)

    return baud_option(reset_options(command))


# flash's and restore's station log: one format option, one default rule.
log_format_option = click.option(
    "--log-format",
    type=click.Choice(["csv", "jsonl"]),
    help="Log format (default: csv for *.csv, JSON lines otherwise).",
)

journal_dir_option = click.option(
    "--journal-dir",
    type=DirPath("journal directory"),
    metavar="DIR",
    help="The journal of updates, for resuming and 'restore' (default: "
    "$ESP_CABUNDLE_JOURNAL, else $XDG_STATE_HOME/esp-cabundle/journal or "
    "~/.local/state/esp-cabundle/journal).",
)


# ---------------------------------------------------------------------------------------
# File-system images

FS_TYPES = ("littlefs", "spiffs")


def fs_type_option(*, required: bool, default: str = "detect") -> Decorator[Any]:
    """``--fs littlefs|spiffs``: what to make (``required``), or what to expect
    (``default`` says what happens without it)."""
    return click.option(
        "--fs",
        "fs_type",
        type=click.Choice(FS_TYPES),
        required=required,
        help="File system of the image" + ("." if required else f" (default: {default})."),
    )


def profile_option(*, detect: bool) -> Decorator[Any]:
    """``--profile NAME``: the platform's file-system parameters."""
    return click.option(
        "--profile",
        metavar="NAME",
        help="Platform profile, littlefs or spiffs: esp-idf|arduino|platformio|mongoose-os ("
        + ("default: detect from the bytes" if detect else "LittleFS: default the --platform's")
        + ").",
    )


def size_option(
    *, required: bool, default: str = "the rest of the file (LittleFS: its superblock's)"
) -> Decorator[Any]:
    """``--size SIZE``: the partition's size; optional where the bytes (or a board) tell it."""
    return click.option(
        "--size",
        type=Size(),
        required=required,
        metavar="SIZE",
        help="Partition size (256K, 0x40000, 1408K)"
        + ("." if required else f"; default: {default}."),
    )


offset_option = click.option(
    "--offset",
    type=Size(name="offset"),
    default="0",
    metavar="OFFSET",
    help="Where the partition starts in a flash dump (e.g. 0x290000).",
)


def _check_platform(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """A never-released platform version refused before anything is read or written."""
    # deferred: _fsopts imports the fs package (~80 ms); only a command given --platform
    # needs it
    from ._fsopts import checked_platform

    return checked_platform(ctx, value)


platform_option = click.option(
    "--platform",
    metavar="PLATFORM",
    callback=_check_platform,
    help="LittleFS: the platform version the units run (arduino-2.0.17, esp_littlefs-1.5.5, "
    "platformio-6.8.0, mongoose-os; a board names its own): a new image gets on-disk "
    "version 2.1 only if all its readers mount 2.1; an image it cannot mount is refused.",
)


class DiskVersion(_Choice):
    """``2.0`` or ``2.1``: a LittleFS on-disk version as littlefs numbers it
    (``LFS_DISK_VERSION``, lfs.h: major in the upper 16 bits, minor in the lower)."""

    name = "disk-version"

    def __init__(self) -> None:
        super().__init__(["2.0", "2.1"])

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, int):
            return value
        major, minor = str(super().convert(value, param, ctx)).split(".")
        return int(major) << 16 | int(minor)


disk_version_option = click.option(
    "--disk-version",
    "disk_version",
    type=DiskVersion(),
    help="LittleFS: write this on-disk version (a new image only; an existing image "
    "keeps its own, and asking for another is refused).",
)

lfs_version_options = _compose(platform_option, disk_version_option)

mtime_option = click.option(
    "--mtime",
    type=Whole(0, 0xFFFFFFFF, what="a time: whole seconds since 1970-01-01 UTC"),
    metavar="EPOCH",
    help="LittleFS: set the file's time attributes ('t', mklittlefs' 'c') to EPOCH where "
    "the profile keeps them.",
)
