"""Reading what matters off a unit's flash: its partition table, a partition, everything.

These work on any :class:`~esp_cabundle.flash.base.Flash`, so a dump file and a unit
give the same answers. Serial links are slow (about 90 KB/s at 921600 baud) and flash is
mostly erased, so :func:`read_skipping_blank` first asks the unit for the MD5 of each
range and reads only the ranges whose MD5 is not that of erased flash: the result is
byte-identical to a full read (the unit hashed its own bytes), often in a fraction of
the time.

``inspect --port`` (:func:`inspect_port`) builds an image of the whole flash from the
regions the flash-dump inspector looks at (bootloader header, partition table, every
partition it examines) and hands it to that same inspector, so a unit and its dump are
reported alike. ``read --port`` is :func:`read_port`.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..blocks import erased_md5
from ..errors import EspCabundleError, PartitionTableError
from ..limits import human_size
from ..partitions import (
    DEFAULT_TABLE_OFFSET,
    TABLE_SECTOR,
    Partition,
    PartitionTable,
)
from ..spelling import PYTHON, Spelling
from ..text import suggest
from .base import Flash, Progress, ProgressCallback, ProgressEvent
from .offline import beyond_message, cut_partitions, inspect_dump, truncated_message
from .serial import open_unit
from .table import read_table

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from ..boards import Board
    from ..inspect import Report
    from .serial import Link, UnitInfo

__all__ = [
    "BeforeRead",
    "ReadResult",
    "inspect_flash",
    "inspect_port",
    "read_partition",
    "read_port",
    "read_skipping_blank",
    "unit_image",
]

# read_port's before_read(unit, length, md5): the range about to be read, and its MD5
BeforeRead = Callable[["UnitInfo", int, Callable[[], str]], None]

# One MD5 per 64 KiB: a round trip costs milliseconds over USB serial (more with FTDI
# latency timers), reading 64 KiB at 921600 baud most of a second.
_CHUNK = 0x10000
# The bootloader header sits at 0x1000 (ESP32, ESP32-S2) or 0x0 (newer chips).
_BOOT_REGION = 0x2000


def read_partition(flash: Flash, table: PartitionTable, name: str) -> tuple[Partition, bytes]:
    """A partition's bytes, by name (PartitionTableError naming the ones there are)."""
    p = _named(flash, table, name)
    return p, read_skipping_blank(flash, p.offset, p.size)


def _named(flash: Flash, table: PartitionTable, name: str) -> Partition:
    p = table.by_name(name)
    if p is None:
        names = ", ".join(q.name for q in table) or "none"
        raise PartitionTableError(
            f"{flash.name}: no partition named '{name}' (the table has {names})",
            hint=suggest(name, (q.name for q in table)),
        )
    return p


def _blank_runs(flash: Flash, offset: int, length: int) -> list[tuple[int, int, bool]]:
    """(start, size, blank) runs covering the range, judged by the unit's MD5 per chunk."""
    runs: list[tuple[int, int, bool]] = []
    pos, end = offset, offset + length
    while pos < end:
        size = min(_CHUNK - pos % _CHUNK, end - pos)
        blank = flash.md5(pos, size) == erased_md5(size)
        if runs and runs[-1][2] == blank:
            runs[-1] = (runs[-1][0], runs[-1][1] + size, blank)
        else:
            runs.append((pos, size, blank))
        pos += size
    return runs


def read_skipping_blank(flash: Flash, offset: int, length: int) -> bytes:
    """The range's bytes, reading only what the unit's MD5 says is not erased.

    Progress is reported as one ``read`` of the whole range.
    """
    outer = flash.progress
    done = 0

    def relay(event: ProgressEvent) -> None:
        if outer is None:
            return
        if isinstance(event, Progress) and event.operation == "read":
            outer(Progress("read", offset, done + event.done, length))
        else:
            outer(event)

    out = bytearray()
    if outer is not None:
        outer(Progress("read", offset, 0, length))
    try:
        runs = _blank_runs(flash, offset, length)
        flash.progress = relay
        for start, size, blank in runs:
            out += b"\xff" * size if blank else flash.read(start, size)
            done += size
            if blank and outer is not None:
                outer(Progress("read", offset, done, length))
    finally:
        flash.progress = outer
    return bytes(out)


def unit_image(
    flash: Flash,
    *,
    table_offset: int = DEFAULT_TABLE_OFFSET,
    apps: bool = True,
    spelling: Spelling = PYTHON,
) -> tuple[bytes, PartitionTable, tuple[Partition, ...]]:
    """A whole-flash image holding what the flash-dump inspector looks at, 0xFF elsewhere.

    Read: the bootloader header region, the partition table sector, every partition
    except otadata and phy (the inspector skips those), and app partitions only with
    ``apps``. Returns the image, the table and the app partitions left unread.
    ``spelling``: how a bad table's hint names the table offset (:mod:`~esp_cabundle.spelling`).
    """
    # A table listing partitions past the flash is shown, not refused: the report says
    # so (:func:`inspect_flash`), and those partitions are not read.
    table = read_table(flash, offset=table_offset, check_size=False, spelling=spelling)
    image = bytearray(b"\xff" * flash.size)
    regions = [(0, _BOOT_REGION), (table_offset, TABLE_SECTOR)]
    skipped: list[Partition] = []
    for p in table:
        if (p.is_data and p.subtype_name in ("ota", "phy")) or p.end > flash.size:
            continue
        if p.is_app and not apps:
            skipped.append(p)
            continue
        regions.append((p.offset, p.size))
    for start, size in regions:
        image[start : start + size] = read_skipping_blank(flash, start, size)
    return bytes(image), table, tuple(skipped)


def inspect_flash(
    flash: Flash,
    *,
    table_offset: int = DEFAULT_TABLE_OFFSET,
    apps: bool = True,
    source: str | None = None,
    spelling: Spelling = PYTHON,
    encryption: bool | None = None,
    board: Board | None = None,
) -> tuple[Report, PartitionTable]:
    """What :func:`~esp_cabundle.flash.offline.inspect_dump` says about this flash, and
    the partition table it was read by; ``spelling`` as for :func:`unit_image`;
    ``encryption``: the eFuses' flash encryption, which judges what does not mount;
    ``board``: the board named, whose profile reads its file systems."""

    src = source or flash.name
    image, table, skipped = unit_image(
        flash, table_offset=table_offset, apps=apps, spelling=spelling
    )
    report = inspect_dump(image, src, spelling, encryption=encryption, board=board)
    if report is None:  # cannot happen once read_table succeeded; keep the error clear
        raise PartitionTableError(f"{src}: no partition table found at {table_offset:#x}")
    past = cut_partitions(table, flash.size)
    if past:
        report = _past_flash(report, past, flash.size, src)
    if skipped:
        unread = {f"{src}:{p.name}" for p in skipped}
        children = tuple(
            dataclasses.replace(c, notes=("not read from the unit (--no-apps)",))
            if c.source in unread
            else c
            for c in report.children
        )
        report = dataclasses.replace(report, children=children)
    return report, table


def _past_flash(report: Report, past: list[Partition], size: int, src: str) -> Report:
    """``report`` of a unit whose partition table lists ``past`` beyond its ``size``-byte
    flash, in a unit's words: the dump inspector calls such a dump truncated, but the
    unit's flash is whole and its table was made for a larger one (another board's, or
    another flash size). It stays a problem (exit 1), as ``flash`` refuses the table."""
    dump_words = {f"{beyond_message(p, size)} (not inspected)" for p in past}
    notes = tuple(n for n in report.notes if n not in dump_words) + tuple(
        f"partition '{p.name}' ends at {p.end:#x}, beyond the unit's {human_size(size)} "
        "flash (not read)"
        for p in past
    )
    more = f" (and {len(past) - 1} more after it)" if len(past) > 1 else ""
    problem = (
        f"{src}: partition '{past[0].name}' ends at {past[0].end:#x}, beyond the unit's "
        f"{human_size(size)} flash{more}: its partition table was made for a larger flash "
        "than the chip has"
    )
    cut = truncated_message(src, past, size)
    problems = tuple(problem if p == cut else p for p in report.problems)
    return dataclasses.replace(report, notes=notes, problems=problems)


@dataclass(frozen=True, slots=True)
class ReadResult:
    """Bytes read off a unit: a partition, or the whole flash (``partition`` None)."""

    unit: UnitInfo
    offset: int
    data: bytes
    partition: Partition | None = None

    @property
    def md5(self) -> str:
        return hashlib.md5(self.data).hexdigest()


def read_port(
    port: str,
    *,
    partition: str | None = None,
    table_offset: int = DEFAULT_TABLE_OFFSET,
    progress: ProgressCallback | None = None,
    spelling: Spelling = PYTHON,
    before_read: BeforeRead | None = None,
    **link: Unpack[Link],
) -> ReadResult:
    """Read one partition (by name) or, with ``partition=None``, the whole flash;
    ``link``: how to reach the unit (see :func:`.serial.open_unit`); ``spelling`` as
    for :func:`unit_image`. ``before_read(unit, length, md5)`` hears the range once it
    is known and before it is read (minutes on a serial link): a caller refuses there
    what it would refuse of the bytes at the end; ``md5()`` asks the unit for the
    range's MD5 (seconds)."""

    with open_unit(port, progress=progress, **link) as unit:
        p = None
        if partition is not None:
            table = read_table(unit, offset=table_offset, spelling=spelling)
            p = _named(unit, table, partition)
        offset, length = (p.offset, p.size) if p is not None else (0, unit.size)
        if before_read is not None:
            before_read(unit.info, length, lambda: unit.md5(offset, length))
        return ReadResult(unit.info, offset, read_skipping_blank(unit, offset, length), p)


def inspect_port(
    port: str,
    *,
    board: Board | None = None,
    apps: bool = True,
    table_offset: int | None = None,
    progress: ProgressCallback | None = None,
    spelling: Spelling = PYTHON,
    **link: Unpack[Link],
) -> Report:
    """Connect, check the chip against ``board``, and report as ``inspect`` does a dump,
    of kind ``unit``; ``spelling`` as for :func:`unit_image`.

    The report's facts start with what only a live unit can tell: chip, MAC, flash size
    and whether flash encryption is on (then the reads are ciphertext, and a note says so).
    """

    offset = table_offset if table_offset is not None else _board_offset(board)
    chips = board.chips if board is not None else None
    with open_unit(port, expected_chip=chips, progress=progress, **link) as unit:
        info = unit.info
        security = unit.security()
        report, table = inspect_flash(
            unit,
            table_offset=offset,
            apps=apps,
            source=port,
            spelling=spelling,
            encryption=security.flash_encryption,
            board=board,
        )
    missing = _board_mismatch(table, board)
    facts: list[tuple[str, str]] = [
        ("unit", f"{info.description}, MAC {info.mac}"),
        ("flash", f"{info.flash_size >> 20} MB (JEDEC id {info.flash_id:#08x})"),
        ("flash encryption (eFuse)", "on" if security.flash_encryption else "off"),
        ("secure boot (eFuse)", "on" if security.secure_boot else "off"),
    ]
    notes = list(report.notes)
    if security.flash_encryption:
        notes.insert(
            0,
            "flash encryption is on: these reads are ciphertext, so file systems cannot "
            "be opened from them",
        )
    if board is not None:
        facts.append(("board", board.name))
        if missing is not None:
            notes.append(missing)
        if board.flash_size != info.flash_size:
            notes.append(
                f"the unit has {info.flash_size >> 20} MB of flash; board {board.name} "
                f"expects {board.flash_size >> 20} MB"
            )
    # A live unit, not a file: JSON consumers told "flash dump" looked for one on disk.
    return dataclasses.replace(
        report,
        kind="unit",
        facts=(*facts, *report.facts),
        notes=tuple(notes),
        machine=(("mac", info.mac), ("flash_size", info.flash_size)),
    )


def _board_mismatch(table: PartitionTable, board: Board | None) -> str | None:
    """Why ``board`` does not fit the unit's partition table (its file-system
    partitions missing: flash would refuse it), None when it does."""
    if board is None or board.filesystem is None:
        return None
    try:
        board.fs_partitions(table)
    except EspCabundleError as e:
        return (
            f"board {board.name} does not fit this unit: {e.message}; 'flash --board "
            f"{board.name}' would refuse it (esp-cabundle boards lists the others)"
        )
    return None


def _board_offset(board: Board | None) -> int:
    return board.table_offset if board is not None else DEFAULT_TABLE_OFFSET
