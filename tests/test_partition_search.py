"""Finding the partition table in a flash dump: bytes.find for the magic, a structural
check before a full parse, and a bound on full parses. A dump whose every sector held a
table-looking sector took about a minute for 256 MiB; the answer for any dump with
fewer than _MAX_PARSES such sectors is the one the plain search gave.
Speed: benchmarks/bench_parsers.py."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from esp_cabundle import partitions
from esp_cabundle.errors import PartitionTableError
from esp_cabundle.partitions import (
    DEFAULT_TABLE_OFFSET,
    ENTRY_SIZE,
    TABLE_MAX_LENGTH,
    TABLE_SECTOR,
    PartitionTable,
    read_partition_table,
)

MAGIC = b"\xaa\x50"


def plain_search(flash: bytes, preferred: int) -> PartitionTable:
    """The search as it was (every 4 KiB offset starting aa 50 parsed in full): the
    reference for the answers, errors included."""
    if not flash:
        raise PartitionTableError("empty file, not a flash dump (no partition table)")
    candidates = [preferred] + [
        o for o in range(0, len(flash) - ENTRY_SIZE + 1, TABLE_SECTOR) if o != preferred
    ]
    first_error: PartitionTableError | None = None
    for off in candidates:
        if flash[off : off + 2] != MAGIC:
            continue
        try:
            return PartitionTable.from_binary(flash[off : off + TABLE_MAX_LENGTH], offset=off)
        except PartitionTableError as e:
            first_error = first_error or e
    if first_error is not None:
        raise PartitionTableError(
            f"no valid partition table in the {len(flash):#x}-byte image: {first_error.message}",
            hint=first_error.hint,
        )
    raise PartitionTableError(
        f"no partition table in the {len(flash):#x}-byte image (no 4 KiB sector starts aa 50)",
        hint="is this a whole-flash dump (esptool read-flash 0 ALL)?",
    )


def entry(i: int, offset: int, size: int = 0x1000) -> bytes:
    name = f"p{i}".encode().ljust(16, b"\0")
    return struct.pack("<2sBBLL16sL", MAGIC, 1, 0x82, offset, size, name, 0)


def overlapping() -> bytes:
    """Well formed (entries, end marker), refused by validation: every entry overlaps."""
    return b"".join(entry(i, 0x100000) for i in range(95)).ljust(TABLE_SECTOR, b"\xff")


def sector(kind: str, at: int) -> bytes:
    if kind == "table":
        table = PartitionTable.from_csv("nvs, data, nvs, , 16K\n", offset=at)
        return table.to_binary().ljust(TABLE_SECTOR, b"\xff")
    if kind == "overlapping":
        return overlapping()
    if kind == "bad md5":
        body = entry(0, at + 0x1000) + b"\xeb\xeb" + b"\xff" * 14 + b"\0" * 16
        return body.ljust(TABLE_SECTOR, b"\xff")
    if kind == "no end":
        return b"".join(entry(i, 0x100000 + i * 0x1000) for i in range(128))
    if kind == "magic, then ff":
        return MAGIC.ljust(TABLE_SECTOR, b"\xff")
    if kind == "magic, then zeros":
        return MAGIC.ljust(TABLE_SECTOR, b"\0")
    if kind == "unaligned magic":
        return (b"\xff" * 100 + MAGIC).ljust(TABLE_SECTOR, b"\xff")
    return b"\xff" * TABLE_SECTOR


KINDS = [
    "table",
    "overlapping",
    "bad md5",
    "no end",
    "magic, then ff",
    "magic, then zeros",
    "unaligned magic",
    "erased",
]


def answer(search: object, flash: bytes) -> object:
    try:
        table = search(flash, DEFAULT_TABLE_OFFSET)  # type: ignore[operator]
    except PartitionTableError as e:
        return ("refused", e.message, e.hint)
    return ("found", table.offset, table.partitions)


@settings(max_examples=300, deadline=None)
@given(
    kinds=st.lists(st.sampled_from(KINDS), min_size=1, max_size=24),
    cut=st.integers(0, TABLE_SECTOR),
)
def test_the_answer_is_the_plain_search_s(kinds: list[str], cut: int) -> None:
    """Dumps of table-like, broken and real sectors (the last one cut anywhere): the
    same table found, or the same error, as parsing every aa 50 sector."""
    flash = b"".join(sector(k, i * TABLE_SECTOR) for i, k in enumerate(kinds))
    flash = flash[: len(flash) - cut] if cut < len(flash) else flash
    assert answer(partitions._search_table, flash) == answer(plain_search, flash)


def test_a_dump_of_table_like_sectors_is_searched_in_bounded_work(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """16 MiB of sectors that each pass the structural check but fail validation: the
    plain search parsed all 4096 of them (a 256 MiB dump: a minute); now at most
    _MAX_PARSES, and the error says the search stopped and how to name the offset."""
    parses = 0
    parse = PartitionTable.from_binary.__func__  # type: ignore[attr-defined]

    def counted(cls: type[PartitionTable], data: bytes, **kw: object) -> PartitionTable:
        nonlocal parses
        parses += 1
        return parse(cls, data, **kw)  # type: ignore[no-any-return]

    monkeypatch.setattr(PartitionTable, "from_binary", classmethod(counted))
    flash = overlapping() * 4096
    with pytest.raises(PartitionTableError) as e:
        read_partition_table(flash, check_size=False)
    assert parses == partitions._MAX_PARSES
    stop = partitions._MAX_PARSES * TABLE_SECTOR  # 0x8000 first, then the others from 0
    assert e.value.message.startswith("no valid partition table in the 0x1000000-byte image")
    assert "overlaps" in e.value.message
    assert f"{partitions._MAX_PARSES - 1} more sectors" in e.value.message
    assert f"the search stops at {stop:#x}" in e.value.message
    assert e.value.hint and "offset=" in e.value.hint


def test_a_moved_table_behind_table_like_sectors_is_found_up_to_the_bound() -> None:
    """The bound counts well-formed sectors that fail, not sectors: a table after
    _MAX_PARSES - 1 of them is found; after _MAX_PARSES, the dump needs its offset."""
    n = partitions._MAX_PARSES
    at = n * TABLE_SECTOR
    found = b"".join([overlapping()] * (n - 1) + [b"\xff" * TABLE_SECTOR, sector("table", at)])
    assert read_partition_table(found, check_size=False).offset == at
    # erased and unaligned sectors around cost nothing towards the bound
    spaced = b"".join([overlapping(), sector("unaligned magic", 0), sector("erased", 0)] * (n - 1))
    spaced += sector("table", len(spaced))
    assert read_partition_table(spaced, check_size=False).offset == len(spaced) - TABLE_SECTOR
    beyond = b"".join([overlapping()] * (n + 1) + [sector("table", (n + 1) * TABLE_SECTOR)])
    with pytest.raises(PartitionTableError, match="the search stops at"):
        read_partition_table(beyond, check_size=False)
    assert read_partition_table(beyond, offset=(n + 1) * TABLE_SECTOR, check_size=False)
