"""``esp-cabundle update-dump``."""

from __future__ import annotations

import itertools
import os
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import click

from ..board_fit import board_misfit, boards_for_image
from ..build import LOCK_NAME
from ..clobber import refuse_clobbering
from ..errors import EspCabundleError, ImageNotDumpError
from ..fileio import PRIVATE, read_input, write_atomic
from ..flash.offline import WholeDump
from ..flash.offline import update_dump as run_update
from ..fs import open_image
from ..spelling import BOARD_SPELLING, shell_join
from ..text import plural
from ..ui import echo, emit_json, note, shown_path
from ._fsboard import pack_hint
from ._fsopts import save_flash_hint, with_platform
from ._plan_view import already_holds, change_dict, change_lines
from ._usage import replaced_option, split_option, typed_board_again, typed_words
from .ca_source import CaOptions, announce, ca_options
from .options import (
    FILE_PATH,
    at_option,
    board_option,
    json_option,
    output_path,
    parse_at,
    platform_option,
    quiet_option,
    required_board,
)

if TYPE_CHECKING:
    from ..board_model import Board
    from ..flash.offline import DumpUpdate
    from ..fs import FileSystemImage


@click.command("update-dump")
@click.argument("dump", type=FILE_PATH)
@board_option(required=True)
@platform_option
@ca_options()
@click.option(
    "-o",
    "--output",
    required=True,
    type=output_path(binary="a whole-flash dump"),
    help=(
        "The updated dump to write (written only if every partition updates cleanly, and "
        "not at all when the dump already holds the CA)."
    ),
)
@at_option
@json_option
@quiet_option
def update_dump(
    dump: Path,
    board: str | None,
    platform: str | None,
    ca: CaOptions,
    output: Path,
    at: datetime | None,
    as_json: bool,
    quiet: bool,
) -> None:
    """Replace the CA file in a whole-flash dump, offline: the twin of flashing a unit.

    In every file-system partition the board names (Mongoose OS: fs_0 and fs_1) the CA
    file is replaced; every other file, the file system's format and version, and every
    byte outside those partitions stay as they were. The sectors that differ are listed,
    and the next step: 'flash' does the same on the unit in place (journaled). Writing
    the output back whole (esptool) overwrites whatever changed on the unit since the
    dump was read (NVS, a newer app) with the dump's older bytes. Nothing is written
    when a partition is missing or does not mount (e.g. flash encryption is on).

    The CA (--bundle, --preset, --root or a cabundle.yaml: there is no default) passes
    the same gate as 'build', judged under the board's rules: policies, private keys,
    the config's targets and --target.

    A dump that already holds exactly that CA file is left alone and -o's file is
    neither created nor changed (exit 0): a script that flashes the output checks
    --json's "up_to_date" (true, "output" null) and flashes the dump itself then (safe
    only right after reading it from that unit: a dump older than the unit's current
    flash overwrites its NVS and app).

    \b
    Examples:
      esp-cabundle update-dump dump.bin --board mdash-arduino \\
          --preset mdash -o new.bin
      esp-cabundle update-dump dump.bin --board mongoose-os-esp32 \\
          --bundle ca.pem -o new.bin
      esp-cabundle update-dump dump.bin --board arduino-esp32-littlefs \\
          --platform arduino-2.0.5 --bundle ca.pem -o new.bin
      esp-cabundle update-dump dump.bin --board arduino-esp32-littlefs \\
          --preset letsencrypt -o new.bin --json
    """

    profile = required_board(board, None, command="update-dump")
    profile.file_system(BOARD_SPELLING)
    if platform is not None:
        profile = with_platform(profile, platform)
    refuse_clobbering([("output", output)], [("dump", dump), *ca.input_files(profile)])
    # A dump cut short is refused before the CA is gated, and the gate's line is shown
    # only once the update is known to apply: no line that looks like success comes
    # before an error.
    data = read_input(dump, what="flash dump", devices=False, hint=_no_dump_hint(dump))
    spelling = typed_board_again(BOARD_SPELLING)  # a wrong board's hint: the line typed
    try:
        whole = WholeDump.parse(data, source=str(dump), spelling=spelling)
    except ImageNotDumpError as e:
        e.hint = _image_hint(data, dump, ca, profile)
        raise
    gated = ca.gate(board=profile, at=parse_at(at), command="update-dump")
    result = run_update(whole, profile, gated, spelling=spelling)
    announce(gated, quiet=quiet, as_json=as_json)
    kept = False  # -o already held the updated dump: left untouched
    if not result.plan.up_to_date:  # the same bytes again: nothing to write, nor to rewrite
        kept = not write_atomic(output, result.flash, mode=PRIVATE)  # secrets and all
    step = None if result.plan.up_to_date else _next_step(result.plan.board)
    if as_json:
        doc = _to_dict(result, dump, output)
        emit_json({**doc, "unchanged": kept, "next": step, "gate": gated.to_dict()})
        return
    for line in _render(result, dump, output, kept=kept):
        echo(line, quiet=quiet)
    if step is not None:
        echo(f"next: {step}", quiet=quiet)
    for n in result.plan.notes:
        note(f"note: {n}", quiet=quiet)


# update-dump's options that 'fs put' takes as they are: the board (its CA path and rules),
# its platform, and the gate's (not --at, --allow, --no-check: see _not_carried); and
# those that say what CA 'build' makes.
_PUT_OPTIONS = (
    ("--board",),
    ("--platform",),
    ("-c", "--config"),
    ("--service-until",),
    ("--max-bytes",),
    ("--target",),
)
_BUILD_OPTIONS = (("--preset",), ("--root",), ("--exclude",), *_PUT_OPTIONS[2:])


def _image_hint(data: bytes, dump: Path, ca: CaOptions, board: Board) -> str:
    """For an image given as the dump (opened once here): the 'fs put' that edits it
    (:func:`_put_hint`), under the shipped board it is for where ``board`` is another
    file system's (a Mongoose OS LittleFS image under mdash-arduino: that put refuses
    ``board``); where ``board``'s platform cannot mount its LittleFS on-disk version,
    which that put refuses as well, the 'pack' that makes one it can."""
    try:
        image: FileSystemImage | None = open_image(data)
    except EspCabundleError:  # not an image either: the put says why
        image = None
    misfit = board_misfit(board, image) if image is not None else None
    read = "or give a unit's whole flash (esp-cabundle read --port PORT --all -o dump.bin)"
    if misfit is not None and misfit[0] == "platform":
        return f"{misfit[1]}: {pack_hint(board)}; {read}"
    fitting = None
    if image is not None and misfit is not None and misfit[0] == "fs":
        fitting = next(iter(boards_for_image(image)), None)
    fs = (fitting or board).filesystem
    return _put_hint(dump, ca, fs.ca_path if fs else None, board=fitting, read=read)


def _put_hint(
    dump: Path, ca: CaOptions, ca_path: str | None, *, board: Board | None, read: str
) -> str:
    """For an image given as the dump: the 'fs put' that edits it, with the --board,
    --platform and gate options typed (the hint named the image and 'ca.pem' alone, so
    the board's CA path and rules were lost), but those :func:`_not_carried`; a CA named
    by --preset/--root is built first, as 'fs put' takes a CA file, into a name not taken
    here (the hint's build wrote ca.pem over one already there), and without a lock if
    one is here. ``board``:
    the board named instead of the one typed; ``read``: the other way, said last."""
    words = typed_words()
    if board is not None:  # the board the image is for, not the one typed
        words = replaced_option(words, ["--board"], "--board", board.name)
    kept = [w for flags in _PUT_OPTIONS for w in split_option(words, flags, takes_value=True)[1]]
    source = str(ca.bundle_file) if ca.bundle_file is not None else _untaken("ca", ".pem")
    dest = [] if ca_path in (None, "/" + Path(source).name) else [ca_path]
    put = f"esp-cabundle {shell_join(['fs', 'put', str(dump), source, *dest, *kept])}"
    if ca.bundle_file is not None:
        gate = _not_carried(words, "fs put gates")
        return f"edit the CA file in the image itself: {put}{gate}; {read}"
    made = [w for flags in _BUILD_OPTIONS for w in split_option(words, flags, takes_value=True)[1]]
    lock = ["--no-lock"] if os.path.exists(LOCK_NAME) else []  # a project's pins stay
    build = f"esp-cabundle {shell_join(['build', *made, *lock, '-o', source])}"
    gate = _not_carried(words, "build and fs put gate")
    return f"edit the CA file in the image itself: {build}, then {put}{gate}; {read}"


# update-dump's options that 'flash' takes as they are: the board and the CA's (not
# --platform: flash reads the unit's file system; nor those of _not_carried).
_FLASH_OPTIONS = (
    ("--board",),
    ("--bundle",),
    ("--preset",),
    ("--root",),
    ("--exclude",),
    ("-c", "--config"),
    ("--service-until",),
    ("--max-bytes",),
    ("--target",),
)
_NOT_CARRIED = (("--at", True), ("--allow", True), ("--no-check", False))


def _not_carried(words: list[str], who: str) -> str:  # who: "flash gates"
    """What a printed line says of the typed options that re-date or weaken the gate
    (--at, --allow, --no-check), which no printed line takes: a rehearsal as of another
    day, or past a policy, would print a line that writes, today, a CA the gate would
    refuse. "" when none was typed."""
    left = [f for f, value in _NOT_CARRIED if split_option(words, [f], takes_value=value)[1]]
    return f" (without {' '.join(left)}: {who} the CA as of today, in full)" if left else ""


def _next_step(board: Board) -> str:
    """How the updated dump gets onto the unit it was read from (the result named the
    sectors and stopped there): 'flash' with the same board and CA, which writes only
    those sectors in place, journaled, judged by today's full gate. Not esptool writing
    the file back: its --diff-with rewrites the whole image once the unit changed since
    the dump was read (NVS, otadata, a newer app), the stale dump over it."""
    words = typed_words()
    kept = [w for flags in _FLASH_OPTIONS for w in split_option(words, flags, takes_value=True)[1]]
    if "--board" not in kept and not any(w.startswith("--board=") for w in kept):
        kept = ["--board", board.name, *kept]  # a library call: no words typed
    flash = f"esp-cabundle {shell_join(['flash', '--port', 'PORT', *kept])}"
    return (
        f"{flash} does the same on the unit in place (only the changed sectors, journaled, "
        f"restorable){_not_carried(words, 'flash gates')}"
    )


def _untaken(stem: str, suffix: str) -> str:
    """``ca.pem``, else the first of ``ca-2.pem``, ``ca-3.pem``... no file here has."""
    names = (f"{stem}{'' if n == 1 else f'-{n}'}{suffix}" for n in itertools.count(1))
    return next(n for n in names if not os.path.lexists(n))


def _to_dict(result: DumpUpdate, dump: Path, output: Path) -> dict[str, object]:
    plan = result.plan
    return {
        "input": str(dump),
        "output": None if plan.up_to_date else str(output),
        "up_to_date": plan.up_to_date,
        "board": plan.board.name,
        "partition_table": plan.table.offset,
        "ca_bytes": len(plan.ca_bytes),
        "partitions": [change_dict(c) for c in plan.changes],
        "changed_sectors": list(plan.sectors),
        "notes": list(plan.notes),
    }


def _render(result: DumpUpdate, dump: Path, output: Path, *, kept: bool) -> list[str]:
    plan = result.plan
    lines = [line for c in plan.changes for line in change_lines(c)]
    if plan.up_to_date:
        lines.append(
            f"Up to date: {dump} {already_holds(plan.ca.certificates)}; nothing written "
            f"({shown_path(output)} neither created nor changed)"
        )
    else:
        verb = "unchanged: " if kept else "Wrote "
        already = "already the updated dump; " if kept else ""
        changed = plural(len(plan.sectors), "sector")
        lines.append(f"{verb}{shown_path(output)} ({already}changed: {changed} of 4 KiB)")
    return lines


def _no_dump_hint(dump: Path) -> str | None:
    """Where a flash dump comes from, for one that is not there (as inspect says it);
    None for '-', whose own hint says standard input is /dev/stdin."""
    if str(dump) == "-":
        return None
    return f"{save_flash_hint(dump)}, then update that copy"
