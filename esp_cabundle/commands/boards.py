"""``esp-cabundle boards``."""

from __future__ import annotations

import textwrap
from typing import TYPE_CHECKING

import click

from ..boards import list_boards, load_board
from ..errors import InputError
from ..firmware import ca_set_info, load_firmware
from ..formats.idf_bundle import choose_bundle_format
from ..ui import Column, echo, emit_json, format_table, table_width, wrap_width
from .options import json_option, wide_option

if TYPE_CHECKING:
    from ..boards import Board


# The board's name (what --board and 'boards show' take) stays whole; the rest is cut,
# and chips, then verify, left out on a narrow terminal ('boards show' has it all).
_BOARD_COLUMNS = (
    "board",
    Column("chips", cut=True, least=14, hide=2),
    Column("CA", cut=True, least=20),
    Column("verify", cut=True, least=19, hide=1),
    Column("firmware versions", cut=True),
)


@click.command()
@click.argument("args", nargs=-1, metavar="[show] [NAME[@VERSION]|FILE]")
@json_option
@wide_option
def boards(args: tuple[str, ...], as_json: bool) -> None:
    """List the board profiles and their firmware versions, or show one: where its CA
    lives (partition, file system, path, or C / ESP-IDF bundle output), how its devices
    verify servers and, for a firmware version, what each connection trusts.

    \b
    Examples:
      esp-cabundle boards
      esp-cabundle boards mongoose-os-esp32
      esp-cabundle boards show mdash@1.2.16   # its built-in ISRG Root X1
      esp-cabundle boards mdash-arduino@1.2.13 --json
      esp-cabundle boards ./my-board.yaml     # check a profile of your own
    """
    words = list(args)
    if words and words[0] == "show":
        words.pop(0)
        if not words:
            raise InputError("boards show needs a board name", hint="esp-cabundle boards show NAME")
    if len(words) > 1:
        raise InputError(
            f"one board at a time, got {len(words)}: {' '.join(words)}",
            hint="esp-cabundle boards show NAME[@VERSION]",
        )
    name = words[0] if words else None
    if name is None:
        all_boards = list_boards()
        if as_json:
            emit_json({"boards": [b.to_dict() for b in all_boards]})
            return
        rows = [
            (
                b.name,
                _chips(b.chips),
                _where(b),
                f"{b.verify.rules}, clock {b.verify.clock}",
                _versions(b),
            )
            for b in all_boards
        ]
        echo(format_table(_BOARD_COLUMNS, rows, width=table_width()))
        echo("\nShow one with: esp-cabundle boards show NAME[@VERSION]")
        return
    board = load_board(name)
    if as_json:
        emit_json(board.to_dict())
        return
    echo(render_board(board, width=wrap_width(88)))


def _versions(b: Board) -> str:
    if b.firmware is None:
        return ""

    fw = load_firmware(b.firmware.name)
    return f"{fw.title} {b.firmware.versions.replace('..', '-')} (default {b.firmware.default})"


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

    fmt = choose_bundle_format(
        idf_version=_opt(b, "idf_version"), bundle_format=_opt(b, "bundle_format")
    )
    return f"ESP-IDF bundle {fmt}"


def _opt(b: Board, key: str) -> str | None:
    v = b.output.options.get(key)
    return None if v is None else str(v)


def render_board(b: Board, *, width: int = 88) -> str:
    """``boards show``: prose wrapped at ``width`` (the terminal's, when narrower)."""
    lines = [f"{b.full_name}: {b.framework}" if b.framework else b.full_name]
    if b.description:
        lines.append(
            textwrap.fill(
                b.description,
                width,
                initial_indent="  ",
                subsequent_indent="  ",
                break_long_words=False,
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
    lines.extend(_render_firmware(b, width))
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
    return "\n".join(out for line in lines for out in _wrapped(line, width))


def _wrapped(line: str, width: int) -> list[str]:
    """``line`` wrapped at ``width``, what follows indented under its text; a path or
    another long word is never broken, and a table (several lines) is left as it is."""
    if "\n" in line or len(line) <= width:
        return [line]
    indent = " " * (len(line) - len(line.lstrip(" ")) + 2)
    return textwrap.wrap(
        line, width, subsequent_indent=indent, break_long_words=False, break_on_hyphens=False
    )


def _render_firmware(b: Board, width: int) -> list[str]:
    """The firmware version and what each of its connections trusts."""
    if b.firmware is None or b.release is None:
        return []

    fw = load_firmware(b.firmware.name)
    release = b.release
    which = "" if b.version_given else f" (the default; {b.name}@VERSION names another)"
    lines = [f"  firmware: {fw.title} {b.version}{which}"]
    lines.append(f"    versions of this board: {b.firmware.versions}")
    if release.version != b.version or release.date or release.source:
        dated = f", {release.date.date().isoformat()}" if release.date else ""
        lines.append(f"    release {release.version}{dated}: {release.source}")
    wrap = textwrap.TextWrapper(
        width,
        initial_indent="      ",
        subsequent_indent="      ",
        break_long_words=False,  # a path or roadmap name copied whole
        break_on_hyphens=False,
    )
    for conn, ca in b.connection_cas():
        ca_set = ca_set_info(ca.ca_set)
        host = f" ({conn.host})" if conn.host and conn.host != conn.name else ""
        lines.append(f"    connection {conn.name}{host} trusts:")
        lines.extend(wrap.wrap(ca.describe(ca_set)))
        if ca.how:
            lines.extend(wrap.wrap(ca.how))
        if ca.hostname is not None:
            lines.extend(
                wrap.wrap(f"sets the server name to check: {'yes' if ca.hostname else 'no'}")
            )
        if conn.server:
            lines.extend(wrap.wrap(f"its server sends: roadmap {conn.server}"))
        lines.extend(wrap.wrap(f"source of the CA: {ca_set.provenance}"))
    return lines
