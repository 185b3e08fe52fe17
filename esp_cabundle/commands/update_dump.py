"""``esp-cabundle update-dump``."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import click

from ..text import plural
from .ca_source import CaOptions, ca_options
from .options import (
    FILE_PATH,
    at_option,
    board_option,
    json_option,
    output_path,
    parse_at,
    platform_option,
    quiet_option,
)

if TYPE_CHECKING:
    from ..flash.offline import DumpUpdate


@click.command("update-dump")
@click.argument("dump", type=FILE_PATH)
@board_option(required=True)
@platform_option
@ca_options()
@click.option(
    "-o",
    "--output",
    required=True,
    type=output_path(),
    help="The updated dump to write (written only if every partition updates cleanly).",
)
@at_option
@json_option
@quiet_option
def update_dump(
    dump: Path,
    board: str,
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
    byte outside those partitions stay as they were. The sectors that differ are listed
    (write them back with esptool, or flash the whole file). Nothing is written when a
    partition is missing or does not mount (e.g. flash encryption is on).

    The CA (--bundle, --preset, --root or a cabundle.yaml: there is no default) passes
    the same gate as 'build', judged under the board's rules: policies, private keys,
    the config's targets and --target.

    \b
    Examples:
      esp-cabundle update-dump dump.bin --board mdash-arduino --preset mdash -o new.bin
      esp-cabundle update-dump dump.bin --board mongoose-os-esp32 --bundle ca.pem -o new.bin
      esp-cabundle update-dump dump.bin --board arduino-esp32-littlefs \\
          --platform arduino-2.0.5 --bundle ca.pem -o new.bin
      esp-cabundle update-dump dump.bin --board arduino-esp32-littlefs --preset letsencrypt \\
          -o new.bin --json
    """
    from ..boards import load_board
    from ..errors import InputError
    from ..fileio import write_atomic
    from ..flash.offline import update_dump as run_update
    from ..ui import echo, emit_json, note
    from ._fsopts import read_input, with_platform
    from .ca_source import announce

    profile = load_board(board)
    if profile.filesystem is None:
        raise InputError(
            f"board {profile.name} keeps its CA in {profile.output.form} form, not in a file "
            "system: there is nothing to update in a dump",
            hint="rebuild the firmware with 'esp-cabundle build' output instead",
        )
    if platform is not None:
        profile = with_platform(profile, platform)
    flash = read_input(dump)
    gated = ca.gate(board=profile, at=parse_at(at), command="update-dump")
    announce(gated, quiet=quiet, as_json=as_json)
    result = run_update(flash, profile, gated, source=str(dump))
    write_atomic(output, result.flash)
    if as_json:
        emit_json({**_to_dict(result, dump, output), "gate": gated.to_dict()})
        return
    for line in _render(result, output):
        echo(line, quiet=quiet)
    for n in result.plan.notes:
        note(f"note: {n}", quiet=quiet)


def _to_dict(result: DumpUpdate, dump: Path, output: Path) -> dict[str, object]:
    plan = result.plan
    return {
        "input": str(dump),
        "output": str(output),
        "board": plan.board.name,
        "partition_table": plan.table.offset,
        "ca_bytes": len(plan.ca_bytes),
        "partitions": [
            {
                "name": u.partition.name,
                "offset": u.partition.offset,
                "size": u.partition.size,
                "file_system": u.fs_type,
                "profile": u.profile,
                "ca_path": u.ca_path,
                "action": "skipped" if u.skipped else ("replaced" if u.old_ca else "created"),
                "skipped": u.skipped,
                "kept_files": list(u.kept_files),
                "changed_sectors": list(u.changed_sectors),
                "sectors": u.sector_count,
            }
            for u in plan.updates
        ],
        "changed_sectors": list(plan.changed_sectors),
        "notes": list(plan.notes),
    }


def _render(result: DumpUpdate, output: Path) -> list[str]:
    plan = result.plan
    lines = []
    for u in plan.updates:
        p = u.partition
        if u.skipped:
            lines.append(f"{p.name} ({p.offset:#x}): skipped, {u.skipped}")
            continue
        verb = "replaced" if u.old_ca else "created"
        kept = f"; kept {plural(len(u.kept_files), 'other file')}" if u.kept_files else ""
        lines.append(
            f"{p.name} ({p.offset:#x}, {u.fs_type} {u.profile}): {u.ca_path} {verb}{kept}; "
            f"{len(u.changed_sectors)} of {u.sector_count} sectors differ"
        )
        if u.changed_sectors:
            lines.append("  " + " ".join(f"{s:#x}" for s in u.changed_sectors))
    total = len(plan.changed_sectors)
    lines.append(f"Wrote {output} (changed: {plural(total, 'sector')} of 4 KiB)")
    return lines
