"""A unit's partition table, read through the same cache as everything else.

Over a serial link the table costs one or two 256-byte pages (it is read up to its end
marker, not as a whole sector); a dump's table can be searched for, as dumps of other
layouts put it elsewhere than 0x8000.
"""

from __future__ import annotations

from ..blocks import PAGE, BlockSource, FlashCache
from ..errors import PartitionTableError
from ..partitions import (
    DEFAULT_TABLE_OFFSET,
    ENTRY_SIZE,
    TABLE_MAX_LENGTH,
    PartitionTable,
    find_partition_table,
)

__all__ = ["read_table"]


def read_table(
    source: BlockSource, *, offset: int | None = DEFAULT_TABLE_OFFSET, check_size: bool = True
) -> PartitionTable:
    """The partition table at ``offset``, read 256 bytes at a time up to its end marker
    (a table of a few partitions costs one page over a serial link, not the sector).

    ``offset=None`` searches a dump for it: 0x8000 first, then every 4 KiB offset (this
    reads the whole source). With ``check_size`` every partition must fit in the source.
    PartitionTableError when there is none or it is bad.
    """
    cache = source if isinstance(source, FlashCache) else FlashCache(source)
    dump = offset is None
    at = find_partition_table(cache.read(0, cache.size)) if offset is None else offset
    end = b"\xff" * ENTRY_SIZE
    data = b""
    while len(data) < TABLE_MAX_LENGTH and at + len(data) < cache.size:
        data += cache.read(at + len(data), PAGE)
        if data[:2] != b"\xaa\x50":
            break
        entries = (data[i : i + ENTRY_SIZE] for i in range(0, len(data), ENTRY_SIZE))
        if end in entries:
            break
    try:
        return PartitionTable.from_binary(
            data,
            offset=at,
            flash_size=cache.size if check_size else None,
            source=f"{cache.name}: partition table",
        )
    except PartitionTableError as e:
        if not dump:
            raise
        raise PartitionTableError(
            e.message, hint=e.hint or "is the dump complete? esptool read-flash 0 ALL dump.bin"
        ) from e
