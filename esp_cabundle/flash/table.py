"""A unit's partition table, read through the same cache as everything else.

Over a serial link the table costs one or two 256-byte pages (it is read up to its end
marker, not as a whole sector). A dump held in memory, whose table may sit elsewhere, is
searched by :func:`esp_cabundle.partitions.read_partition_table` instead.
"""

from __future__ import annotations

from ..blocks import PAGE, BlockSource, FlashCache
from ..errors import PartitionTableError
from ..partitions import (
    DEFAULT_TABLE_OFFSET,
    ENTRY_SIZE,
    TABLE_MAX_LENGTH,
    TABLE_SECTOR,
    PartitionTable,
)
from ..spelling import PYTHON, Spelling

__all__ = ["read_table"]

# Where the first app of ESP-IDF's layouts starts: a moved table sits below it.
_FIRST_APP = 0x10000


def read_table(
    source: BlockSource,
    *,
    offset: int = DEFAULT_TABLE_OFFSET,
    check_size: bool = True,
    spelling: Spelling = PYTHON,
) -> PartitionTable:
    """The partition table at ``offset``, read 256 bytes at a time up to its end marker
    (a table of a few partitions costs one page over a serial link, not the sector).

    With ``check_size`` every partition must fit in the source. PartitionTableError when
    there is none or it is bad, its hint in ``spelling``'s words.
    """
    cache = source if isinstance(source, FlashCache) else FlashCache(source)
    end = b"\xff" * ENTRY_SIZE
    data = b""
    while len(data) < TABLE_MAX_LENGTH and offset + len(data) < cache.size:
        data += cache.read(offset + len(data), PAGE)
        if data[:2] != b"\xaa\x50":
            break
        entries = (data[i : i + ENTRY_SIZE] for i in range(0, len(data), ENTRY_SIZE))
        if end in entries:
            break
    try:
        return PartitionTable.from_binary(
            data,
            offset=offset,
            flash_size=cache.size if check_size else None,
            source=f"{cache.name}: partition table",
            spelling=spelling,
        )
    except PartitionTableError as e:
        moved = _table_elsewhere(cache, offset) if data[:2] != b"\xaa\x50" else None
        if moved is None:
            raise
        # "say where" is no help when the unit can tell: one page per sector, on failure
        raise PartitionTableError(
            f"{e.message}; the flash holds one at {moved:#x}",
            hint=f"the firmware moved it (CONFIG_PARTITION_TABLE_OFFSET={moved:#x}): say "
            f"where: {spelling.table_offset_at(moved)}",
        ) from e


def _table_elsewhere(cache: FlashCache, offset: int) -> int | None:
    """Where below the first app (0x10000) a whole, valid partition table sits instead
    of at ``offset`` (CONFIG_PARTITION_TABLE_OFFSET moved), or None."""
    for at in range(TABLE_SECTOR, _FIRST_APP, TABLE_SECTOR):
        if at == offset or at >= cache.size or cache.read(at, 2) != b"\xaa\x50":
            continue
        try:
            read_table(cache, offset=at, check_size=False)
        except PartitionTableError:
            continue
        return at
    return None
