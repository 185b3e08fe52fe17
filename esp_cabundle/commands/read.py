"""``esp-cabundle read``: save a partition or the whole flash of a unit."""

from __future__ import annotations

import hashlib
import os
import stat
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import click

from .._stdin import appended_to
from ..errors import InputError
from ..fileio import PRIVATE, already_holds, mode_kept, write_atomic
from ..flash.reading import read_port
from ..partitions import DEFAULT_TABLE_OFFSET
from ..text import printable
from ..ui import echo, emit_json, shown_path
from ._paths import refuse_unsavable
from ._unit import unit_progress
from ._usage import split_option, typed_words, usage_error, with_option
from .options import (
    CLI_SPELLING,
    Name,
    Size,
    json_option,
    link_options,
    output_path,
    port_option,
    quiet_option,
)

if TYPE_CHECKING:
    from ..flash.serial import Link, UnitInfo


@click.command("read")
@port_option()
@click.option(
    "--partition",
    type=Name("partition"),
    metavar="NAME",
    help="Read this partition (by its table name).",
)
@click.option("--all", "whole", is_flag=True, help="Read the whole flash.")
@click.option(
    "-o",
    "--output",
    required=True,
    type=output_path(binary="a unit's raw flash bytes"),
    help="File to write (replaced atomically, only after a complete read).",
)
@click.option(
    "--force",
    is_flag=True,
    help="Replace an -o file that holds other bytes (by default it is kept: it may be "
    "another unit's backup).",
)
@click.option(
    "--table-offset",
    type=Size(name="offset", align=0x1000),
    default=f"{DEFAULT_TABLE_OFFSET:#x}",
    show_default=True,
    metavar="OFFSET",
    help="Where the partition table is (CONFIG_PARTITION_TABLE_OFFSET).",
)
@link_options
@json_option
@quiet_option
def read(
    port: str,
    partition: str | None,
    whole: bool,
    output: Path,
    force: bool,
    table_offset: int,
    link: Link,
    as_json: bool,
    quiet: bool,
) -> None:
    """Read a partition or the whole flash of a unit into a file: a backup, or a dump for
    ``update-dump`` and ``inspect``. Erased ranges are found with the unit's MD5 and not
    transferred; the file is byte-identical to a full read. An -o file that holds other
    bytes (another unit's backup, an image) is kept, exit 2, unless --force: said
    before the read, as is a directory that cannot take the file. Appended to
    (-o /dev/stdout >> backups.bin), it keeps them: the read is added after.

    \b
    Examples:
      esp-cabundle read --port /dev/ttyUSB0 --partition spiffs -o spiffs.bin
      esp-cabundle read --port /dev/ttyUSB0 --all -o dump.bin
      esp-cabundle read --port socket://127.0.0.1:5555 --partition fs_0 \\
          -o fs_0.bin -q
    """
    if (partition is None) == (not whole):
        # The line as typed, mended: its port, not a placeholder (flash's hint does so).
        words = typed_words()
        if whole:
            words, _ = split_option(words, ("--all",), takes_value=False)
        if whole:
            raise usage_error(
                "say what to read: --partition NAME or --all (not both)",
                words,
                why="or --all without --partition",
            )
        # Said offline: opening the unit to name its partitions would reboot a running
        # device for a usage error (and wait out an unreachable port's connect attempts).
        listing = f"{CLI_SPELLING.inspect_for(port)} --no-apps lists the unit's partitions"
        if table_offset != DEFAULT_TABLE_OFFSET:  # inspect reads it where --board says
            listing += (
                " (inspect has no --table-offset: it reads the table at "
                f"{DEFAULT_TABLE_OFFSET:#x}, or where its --board NAME puts it; yours is "
                f"at {table_offset:#x})"
            )
        raise usage_error(
            "say what to read: --partition NAME or --all (not both)",
            with_option(words, "--partition", "NAME"),
            why=f"{listing}; or --all for the whole flash",
        )
    # Whatever would keep the read from being saved is said before it (minutes per unit
    # on a serial link), and nothing is created for it; the save at the end checks again.
    refuse_unsavable(output, lost="nothing was read")
    # Appended to (-o /dev/stdout >> backups.bin), the file keeps every byte it held:
    # nothing to guard. A '>' the shell opened is empty already; '<>' writes over it.
    keep = not (force or appended_to(output))
    seen: list[_Seen] = []

    def before_read(unit: UnitInfo, length: int, md5: Callable[[], str]) -> None:
        if keep:
            seen.extend(_other_bytes_early(output, length, md5, mac=unit.mac))

    with unit_progress(quiet=quiet or as_json) as progress:
        result = read_port(
            port,
            partition=partition,
            table_offset=table_offset,
            progress=progress,
            spelling=CLI_SPELLING,
            before_read=before_read,
            **link,
        )
    known = seen[0] if seen else None
    written = _save(output, result.data, mac=result.unit.mac, force=not keep, seen=known)
    unit = result.unit
    what = (
        f"partition '{result.partition.name}' ({result.offset:#x}, {len(result.data):#x} bytes)"
        if result.partition is not None
        else f"the whole flash ({len(result.data):#x} bytes)"
    )
    if as_json:
        emit_json(
            {
                "port": port,
                "chip": unit.chip,
                "description": unit.description,
                "mac": unit.mac,
                "flash_size": unit.flash_size,
                "partition": result.partition.name if result.partition is not None else None,
                "offset": result.offset,
                "size": len(result.data),
                "md5": result.md5,
                "output": str(output),
                "unchanged": not written,
            }
        )
    else:
        into = shown_path(output)
        if not written:  # as build and pack say it: make sees no new file
            into += " (unchanged: it already held these bytes; not rewritten)"
        echo(
            printable(f"Read {what} from {unit.description}, MAC {unit.mac} into ") + into,
            quiet=quiet,
        )
        echo(f"MD5 {result.md5}", quiet=quiet)


@dataclass(frozen=True, slots=True)
class _Seen:
    """The file at -o before the read, found to hold what the unit's MD5 said of the
    range: known by its identity, so the save need not read it again."""

    ident: tuple[int, int, int, int]
    md5: str
    mode: int


def _ident(st: os.stat_result) -> tuple[int, int, int, int]:
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)


def _other_bytes_early(
    output: Path, length: int, unit_md5: Callable[[], str], *, mac: str
) -> list[_Seen]:
    """Before the read: InputError when ``output`` is a file that holds other bytes than
    the ``length`` about to be read, by its size, else by the unit's MD5 of the range
    (seconds, not the read's minutes); the file as seen when it holds the same ones.
    Nothing there, empty, a device or FIFO: nothing to keep ([])."""
    try:
        st = output.stat()
    except OSError:
        return []
    if not stat.S_ISREG(st.st_mode) or st.st_size == 0:
        return []
    if st.st_size != length:
        raise _other_bytes(output, st.st_size, mac=mac, lost="nothing was read")
    digest = hashlib.md5()
    try:
        fd = os.open(output, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
        with os.fdopen(fd, "rb") as f:
            opened = os.fstat(f.fileno())
            while chunk := f.read(1 << 20):
                digest.update(chunk)
    except OSError:  # unreadable: not known to be the same, so not replaced
        raise _other_bytes(output, st.st_size, mac=mac, lost="nothing was read") from None
    if digest.hexdigest() != unit_md5():
        raise _other_bytes(output, st.st_size, mac=mac, lost="nothing was read")
    return [_Seen(_ident(opened), digest.hexdigest(), opened.st_mode)]


def _save(output: Path, data: bytes, *, mac: str, force: bool, seen: _Seen | None) -> bool:
    """Write the unit's bytes to ``output`` (PRIVATE: a unit's flash holds its Wi-Fi
    password too); False when it already held them, left as it was. Without ``force``,
    a file holding other bytes is kept (:func:`_keep_other_bytes`); the same backup read
    again is compared once, not again by ``write_atomic``: before the read when it was
    ``seen`` then and is the same file still, else here."""
    if not force:
        if seen is not None and _same_file_still(output, seen):
            if hashlib.md5(data).hexdigest() != seen.md5:  # the unit changed meanwhile
                raise _other_bytes(output, len(data), mac=mac, lost="this read was not saved")
            if mode_kept(seen.mode, PRIVATE):
                return False
            return write_atomic(output, data, mode=PRIVATE)  # narrowed; not read again
        if already_holds(output, data, mode=PRIVATE):
            return False
        _keep_other_bytes(output, data, mac=mac)
    return write_atomic(output, data, mode=PRIVATE)


def _same_file_still(output: Path, seen: _Seen) -> bool:
    try:
        return _ident(output.stat()) == seen.ident
    except OSError:
        return False


def _keep_other_bytes(output: Path, data: bytes, *, mac: str) -> None:
    """InputError when ``output`` is a file holding other bytes: a backup (of another
    unit, or of this one before an update) replaced by the next read is a unit that can
    no longer be put back. An empty file, the same bytes, a device or FIFO go ahead."""
    try:
        st = output.stat()
    except OSError:
        return  # nothing there (or nothing reachable): write_atomic says what is wrong
    if not stat.S_ISREG(st.st_mode) or st.st_size == 0:
        return
    try:
        same = st.st_size == len(data) and output.read_bytes() == data
    except OSError:
        same = False  # unreadable: not known to be the same, so not replaced
    if same:
        return
    raise _other_bytes(output, st.st_size, mac=mac, lost="this read was not saved")


def _other_bytes(output: Path, size: int, *, mac: str, lost: str) -> InputError:
    return InputError(
        f"{printable(str(output))} already holds other bytes ({size:,}): not replaced, "
        f"so the backup it may be (another unit's, or this one's before an update) is kept; "
        f"{lost}",
        hint=f"give another -o (one file per unit: -o dump-{mac.replace(':', '')}.bin), or "
        "add --force to replace it",
    )
