"""Whether a whole-flash dump's length can be a flash's, and whether it is two dumps.

A flash comes in the sizes esptool knows (:data:`~esp_cabundle.boards.FLASH_SIZES`:
powers of two, 256 KiB to 128 MiB), so ``read-flash 0 ALL`` gives one of them. Any
other length is a dump with bytes added or lost (a copy cut short past the last
partition, a file appended): ``update-dump`` and ``virtual-unit --dump`` refuse it,
``inspect`` fails on it (tryout report: a 4 MiB + 100-byte file was taken for a flash).
``read -o /dev/stdout >> backups.bin`` makes a file of two dumps, whose size may well be
a flash's: :func:`appended_note` says what it looks like (``inspect``), and
:func:`appended_message` refuses it (``update-dump``, ``virtual-unit --dump``): no flash
holds its own partition table again a flash size in, so none is refused for it.
"""

from __future__ import annotations

from ..boards import FLASH_SIZES
from ..partitions import TABLE_MAX_LENGTH
from ..spelling import Spelling
from ..text import byte_count

__all__ = ["appended_message", "appended_note", "exact_size", "size_message", "size_problem"]


def exact_size(n: int) -> str:
    """``0x400000 bytes (4096 KiB)``; every byte said when not whole KiB:
    ``0x400064 bytes (4096 KiB + 100 bytes)``."""
    kib, rest = divmod(n, 1024)
    tail = f" + {byte_count(rest)}" if rest else ""
    return f"{n:#x} bytes ({kib} KiB{tail})" if kib else f"{n:#x} bytes ({byte_count(n)})"


def size_problem(n: int) -> str | None:
    """What is wrong with an ``n``-byte whole-flash dump's length; None for a flash size."""
    if n in FLASH_SIZES:
        return None
    below = max((s for s in FLASH_SIZES if s < n), default=0)
    above = min((s for s in FLASH_SIZES if s > n), default=0)
    if below and (not above or n - below <= above - n):  # said from the nearer size
        what = f"{byte_count(n - below)} more than a {below >> 10} KiB flash"
    else:
        what = f"{byte_count(above - n)} less than a {above >> 10} KiB flash"
    return (
        f"{exact_size(n)} is {what}: a whole-flash dump is "
        f"{min(FLASH_SIZES) >> 10} KiB to {max(FLASH_SIZES) >> 20} MiB, a power of two; "
        "the file has bytes added or lost"
    )


def size_message(n: int, spelling: Spelling) -> tuple[str, str] | None:
    """(message, hint) refusing an ``n``-byte dump, or None when ``n`` is a flash size."""
    problem = size_problem(n)
    if problem is None:
        return None
    return problem, (
        f"read the whole flash again ({spelling.read_all}, or esptool read-flash 0 ALL "
        "dump.bin); a file of several dumps appended is split at the flash size"
    )


def appended_note(data: bytes, table_offset: int) -> str | None:
    """A note when ``data`` looks like two dumps appended (``cat dump.bin dump.bin``,
    ``>> backups.bin``): two identical halves, or the partition table found again at a
    flash size into the file. None otherwise."""
    n = len(data)
    half = n // 2
    if n % 2 == 0 and half in FLASH_SIZES and data[:half] == data[half:]:
        return (
            f"its two halves are identical, {exact_size(half)} each: it looks like two "
            f"dumps appended; the first {half:#x} bytes are one whole dump"
        )
    table = data[table_offset : table_offset + TABLE_MAX_LENGTH]
    for size in sorted(FLASH_SIZES):
        if size >= n:
            break
        if data[size + table_offset : size + table_offset + TABLE_MAX_LENGTH] == table:
            return (
                f"the same partition table starts again at {size + table_offset:#x} "
                f"({size:#x} bytes in): it looks like two dumps appended; the first "
                f"{size:#x} bytes are one whole dump"
            )
    return None


def appended_message(data: bytes, table_offset: int, spelling: Spelling) -> tuple[str, str] | None:
    """(message, hint) refusing ``data`` that looks like two dumps appended (an 8 MiB
    ``cat dump.bin dump.bin`` is a flash's size), or None. ESP-IDF keeps one partition
    table, at ``table_offset``; the same 3 KiB again a flash size in (or two identical
    halves) is a second dump, not a bigger flash, so a whole 8 MiB read is never refused."""
    note = appended_note(data, table_offset)
    if note is None:
        return None
    return f"{exact_size(len(data))}: {note}", (
        f"read the whole flash once again ({spelling.read_all}, or esptool read-flash 0 ALL "
        "dump.bin), or give the first whole dump alone"
    )
