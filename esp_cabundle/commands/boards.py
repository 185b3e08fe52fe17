"""``esp-cabundle boards``."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from ._common import json_option

if TYPE_CHECKING:
    from ..boards import Board


@click.command()
@click.argument("name", required=False, metavar="[NAME|FILE]")
@json_option
def boards(name: str | None, as_json: bool) -> None:
    """List the board profiles, or show one: where its CA lives (partition, file system,
    path, or C / ESP-IDF bundle output) and how its devices verify servers.

    \b
    Examples:
      esp-cabundle boards
      esp-cabundle boards mongoose-os-esp32
      esp-cabundle boards mdash-arduino --json
      esp-cabundle boards ./my-board.yaml        # check a profile of your own
    """
    from ..boards import list_boards, load_board
    from ..ui import echo, emit_json, format_table

    if name is None:
        all_boards = list_boards()
        if as_json:
            emit_json([b.to_dict() for b in all_boards])
            return
        rows = [
            (b.name, _chips(b.chips), _where(b), f"{b.verify.rules}, clock {b.verify.clock}")
            for b in all_boards
        ]
        echo(format_table(("board", "chips", "CA", "verify"), rows))
        echo("\nShow one with: esp-cabundle boards NAME")
        return
    board = load_board(name)
    if as_json:
        emit_json(board.to_dict())
        return
    echo(render_board(board))


def _chips(chips: tuple[str, ...]) -> str:
    """``esp32/s3/c3``: the family prefix once."""
    return "/".join(c if i == 0 else c.removeprefix("esp32") for i, c in enumerate(chips))


def _where(b: Board) -> str:
    fs = b.filesystem
    if b.output.form == "filesystem" and fs is not None:
        parts = "+".join(fs.partitions) or f"{fs.pick} {'/'.join(fs.subtypes)}"
        return f"{fs.ca_path} on {fs.fs_type} ({fs.profile}) in {parts}"
    if b.output.form == "c":
        return f"C source ({b.output.options.get('name', 's_pem')})"
    from ..formats.idf_bundle import choose_bundle_format

    fmt = choose_bundle_format(
        idf_version=_opt(b, "idf_version"), bundle_format=_opt(b, "bundle_format")
    )
    return f"ESP-IDF bundle {fmt}"


def _opt(b: Board, key: str) -> str | None:
    v = b.output.options.get(key)
    return None if v is None else str(v)


def render_board(b: Board) -> str:
    from ..ui import format_table

    lines = [f"{b.name}: {b.framework}" if b.framework else b.name]
    if b.description:
        import textwrap

        lines.append(
            textwrap.fill(
                b.description,
                88,
                initial_indent="  ",
                subsequent_indent="  ",
                break_on_hyphens=False,
            )
        )
    lines.append(f"  chips: {', '.join(b.chips)}")
    lines.append(
        f"  flash: {b.flash_size // (1 << 20)} MB"
        if b.flash_size % (1 << 20) == 0
        else f"  flash: {b.flash_size:#x} bytes"
    )
    lines.append(f"  partition table at {b.table_offset:#x}")
    lines.append(f"  CA: {_where(b)}")
    fs = b.filesystem
    if fs is not None and fs.config_files:
        lines.append(f"  config files (kept by updates): {', '.join(fs.config_files)}")
    out = f"  output: {b.output.form} (format {b.output.format}"
    if b.output.path:
        out += f", default path {b.output.path}"
    if b.output.options:
        out += ", " + ", ".join(f"{k}={v}" for k, v in b.output.options.items())
    lines.append(out + ")")
    lines.append(f"  verify: rules {b.verify.rules}, clock {b.verify.clock}")
    if b.layout is not None:
        fs_names = {p.name for p in b.fs_partitions(b.layout)} if fs is not None else set()
        rows = [
            (
                p.name,
                p.type_name,
                p.subtype_name,
                f"{p.offset:#x}",
                f"{p.size:#x}",
                ":".join(p.flag_names),
                "<- CA file system" if p.name in fs_names else "",
            )
            for p in b.layout
        ]
        lines.append("  default partition table:")
        lines.append(
            format_table(("name", "type", "subtype", "offset", "size", "flags", ""), rows, indent=4)
        )
    for n in b.notes:
        lines.append(f"  note: {n}")
    lines.append(f"  profile file: {b.source}")
    return "\n".join(lines)
