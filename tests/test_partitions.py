"""Partition tables: golden binaries from gen_esp32part, CSV rules, validation errors."""

from __future__ import annotations

import hashlib
import itertools
import struct
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from esp_cabundle.errors import PartitionTableError
from esp_cabundle.partitions import (
    DEFAULT_TABLE_OFFSET,
    TABLE_MAX_LENGTH,
    Partition,
    PartitionTable,
    parse_size,
    read_partition_table,
)

DATA = Path(__file__).parent / "data" / "partitions"
GOLDEN = ("arduino-default", "idf-littlefs", "idf-two-ota", "mongoose-os-esp32")


def golden(name: str) -> tuple[str, bytes]:
    return (DATA / f"{name}.csv").read_text(), (DATA / f"{name}.bin").read_bytes()


@pytest.mark.parametrize("name", GOLDEN)
def test_csv_gives_the_golden_binary(name: str) -> None:
    text, binary = golden(name)
    table = PartitionTable.from_csv(text, source=f"{name}.csv")
    assert table.to_binary() == binary
    assert len(binary) == TABLE_MAX_LENGTH


@pytest.mark.parametrize("name", GOLDEN)
def test_binary_round_trip_and_csv_stable(name: str) -> None:
    text, binary = golden(name)
    table = PartitionTable.from_binary(binary)
    assert table == PartitionTable.from_csv(text)
    assert table.md5
    csv1 = table.to_csv()
    again = PartitionTable.from_csv(csv1)
    assert again == table
    assert again.to_binary() == binary
    assert again.to_csv() == csv1


def test_blank_offsets_follow_gen_esp32part_alignment() -> None:
    mos = PartitionTable.from_csv(golden("mongoose-os-esp32")[0])
    assert [(p.name, p.offset, p.size) for p in mos] == [
        ("nvs", 0x9000, 0x4000),
        ("otadata", 0xD000, 0x2000),
        ("app_0", 0x10000, 0x180000),
        ("fs_0", 0x190000, 0x40000),
        ("app_1", 0x1D0000, 0x180000),
        ("fs_1", 0x350000, 0x40000),
    ]
    two = PartitionTable.from_csv(golden("idf-two-ota")[0])
    # first blank offset = table offset + 0x1000; apps jump to the next 64 KiB
    assert two.by_name("nvs") == Partition("nvs", 1, 2, 0x9000, 0x4000)
    assert two.by_name("factory").offset == 0x10000  # type: ignore[union-attr]
    assert two.by_name("ota_1").offset == 0x210000  # type: ignore[union-attr]
    # a data partition after an odd end aligns to 4 KiB only
    t = PartitionTable.from_csv(
        "a, data, nvs, , 0x4800\nb, data, spiffs, , 8K\nc, app, factory, , 64K\n"
    )
    assert [p.offset for p in t] == [0x9000, 0xE000, 0x10000]


def test_table_offset_moves_the_first_partition() -> None:
    t = PartitionTable.from_csv("nvs, data, nvs, , 0x4000\n", offset=0x10000)
    assert t.partitions[0].offset == 0x11000
    assert t.offset == 0x10000


def test_flags_and_lookups() -> None:
    mos = PartitionTable.from_binary(golden("mongoose-os-esp32")[1])
    fs = mos.find("data", "spiffs")
    assert [p.name for p in fs] == ["fs_0", "fs_1"]
    assert all(p.encrypted and not p.readonly for p in fs)
    assert not mos.by_name("nvs").encrypted  # type: ignore[union-attr]
    assert mos.by_name("missing") is None
    assert [p.name for p in mos.find(0, 0x10)] == ["app_0"]
    assert [p.name for p in mos.find("app")] == ["app_0", "app_1"]
    assert mos.at(0x1A0000).name == "fs_0"  # type: ignore[union-attr]
    assert mos.at(0x8000) is None
    t = PartitionTable.from_csv("x, data, 0x99, 0x9000, 4K, readonly:encrypted\n")
    p = t.partitions[0]
    assert (p.subtype, p.readonly, p.encrypted) == (0x99, True, True)
    assert p.to_binary()[-4:] == struct.pack("<L", 3)
    assert PartitionTable.from_binary(t.to_binary()) == t
    lfs = PartitionTable.from_binary(golden("idf-littlefs")[1]).by_name("storage")
    assert lfs is not None and lfs.subtype == 0x83 and lfs.may_hold_fs


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("0x1000", 0x1000),
        ("4096", 4096),
        ("4K", 4096),
        ("4k", 4096),
        ("1M", 1 << 20),
        ("0x10K", 0x4000),
    ],
)
def test_sizes(text: str, value: int) -> None:
    assert parse_size(text) == value


def test_negative_size_means_up_to_address() -> None:
    t = PartitionTable.from_csv("nvs, data, nvs, 0x9000, -0x10000\n")
    assert t.partitions[0].size == 0x7000


def test_numeric_types_and_empty_data_subtype() -> None:
    t = PartitionTable.from_csv("a, 0x40, 0x01, 0x9000, 4K\nb, data, , , 4K\n")
    assert (t.partitions[0].type, t.partitions[0].subtype) == (0x40, 1)
    assert t.partitions[1].subtype == 0x06  # "undefined", as gen_esp32part
    # unknown types survive the CSV round trip as numbers
    assert PartitionTable.from_csv(t.to_csv()) == t


def test_no_md5_table() -> None:
    t = PartitionTable.from_csv("nvs, data, nvs, , 16K\n", md5=False)
    b = t.to_binary()
    assert b[32:64] == b"\xff" * 32
    back = PartitionTable.from_binary(b)
    assert not back.md5 and back == t


# --- errors ------------------------------------------------------------------------------

CSV_ERRORS = [
    ("nvs, data, nvs, 0x8000, 0x4000\n", "overlaps the partition table"),
    ("a, data, nvs, 0x9000, 0x4000\nb, data, phy, 0xa000, 0x1000\n", "overlaps 'a'"),
    ("a, data, nvs, 0x9800, 0x1000\n", "not aligned to 0x1000"),
    ("a, app, factory, 0x18000, 0x10000\n", "not aligned to 0x10000"),
    ("a, blob, nvs, , 4K\n", "unknown partition type 'blob'"),
    ("a, data, nvss, , 4K\n", "unknown subtype 'nvss'"),
    ("a, app, , , 64K\n", "needs a subtype"),
    ("a, data, nvs, , \n", "has no size"),
    ("a, data, nvs, , 12Q\n", "size '12Q': 'Q' is no unit here"),
    ("a, data, nvs, , 4K, secret\n", "unknown flag 'secret'"),
    ("a, data, nvs, , 4K\na, data, phy, , 4K\n", "two partitions are named 'a'"),
    ("averyveryverylongname, data, nvs, , 4K\n", "at most 16 fit"),
    ("a, data, nvs, , $SIZE\n", "$VARIABLE"),
    ("a, data, ota, , 4K\n", "must be 0x2000"),
    ("a, data, ota, , 8K\nb, data, ota, , 8K\n", "more than one otadata"),
    ("# only a comment\n", "no partitions"),
    ("a, data, nvs, , 4K, , extra\n", "too many fields"),
]


@pytest.mark.parametrize(("text", "message"), CSV_ERRORS)
def test_csv_errors_name_file_line_and_entry(text: str, message: str) -> None:
    with pytest.raises(PartitionTableError) as e:
        PartitionTable.from_csv(text, source="p.csv")
    assert message in str(e.value)
    assert str(e.value).startswith("p.csv")


def test_csv_error_has_line_number() -> None:
    with pytest.raises(PartitionTableError, match=r"^p\.csv:3: .*unknown subtype 'nvx'"):
        PartitionTable.from_csv("# hdr\nnvs, data, nvs, , 4K\nb, data, nvx, , 4K\n", source="p.csv")


def test_beyond_flash_size_names_the_partition() -> None:
    text = golden("arduino-default")[0]
    PartitionTable.from_csv(text, flash_size=4 << 20)
    with pytest.raises(PartitionTableError, match=r"'app1'.*beyond the 2 MiB flash"):
        PartitionTable.from_csv(text, flash_size=2 << 20)
    t = PartitionTable.from_csv(text)
    with pytest.raises(PartitionTableError, match="'spiffs'"):
        t.check_fits(0x300000)


def _rehash(entries: bytes) -> bytes:
    data = entries + b"\xeb\xeb" + b"\xff" * 14 + hashlib.md5(entries).digest()
    return data + b"\xff" * (TABLE_MAX_LENGTH - len(data))


def _entry(kind: int, subtype: int, offset: int, size: int, name: bytes, flags: int = 0) -> bytes:
    """One 32-byte table entry as ESP-IDF's gen_esp32part.py packs it."""
    return struct.pack("<2sBBLL16sL", b"\xaa\x50", kind, subtype, offset, size, name, flags)


def _with_entry(entries: bytes, index: int, entry: bytes) -> bytes:
    """The table with entry ``index`` replaced, its MD5 made right again."""
    return _rehash(entries[: 0x20 * index] + entry + entries[0x20 * (index + 1) :])


@pytest.mark.parametrize(
    ("offset", "size"), [(0xFFFFF000, 0xFFFFF000), (0x1000000, 0x7001000), (0x8000000, 0x1000)]
)
def test_a_partition_past_any_esp32_flash_is_refused(offset: int, size: int) -> None:
    """A table entry ending past 128 MiB (no ESP32 flash is larger) is no layout: it is
    refused naming the entry and the limit, as an overlap is, not read as a cut dump."""
    entries = golden("arduino-default")[1][: 6 * 0x20]
    fine = _entry(1, 0x82, 0x7000000, 0x1000000, b"last")  # ends exactly at 128 MiB
    assert len(PartitionTable.from_binary(_rehash(entries + fine))) == 7
    data = _rehash(entries + _entry(1, 0x82, offset, size, b"huge"))
    with pytest.raises(
        PartitionTableError,
        match=rf"'huge' \(data/spiffs\) at {offset:#x}, {size:#x} bytes ends at "
        rf"{offset + size:#x}, past 128 MiB, the largest flash an ESP32 has",
    ):
        PartitionTable.from_binary(data)
    csv = f"nvs, data, nvs, 0x9000, 0x5000\nhuge, data, spiffs, {offset:#x}, {size:#x}\n"
    with pytest.raises(PartitionTableError, match=r"'huge' .* past 128 MiB"):
        PartitionTable.from_csv(csv)


def test_binary_errors() -> None:
    binary = golden("arduino-default")[1]
    with pytest.raises(PartitionTableError, match=r"no partition table at 0x8000 .*found ff ff"):
        PartitionTable.from_binary(b"\xff" * TABLE_MAX_LENGTH)
    corrupt = bytearray(binary)
    corrupt[0x28] ^= 1  # a bit of app0's size
    with pytest.raises(PartitionTableError, match="MD5 mismatch"):
        PartitionTable.from_binary(bytes(corrupt))
    bad_magic = bytearray(binary)
    bad_magic[0x40:0x42] = b"\xaa\x51"
    with pytest.raises(PartitionTableError, match=r"entry 2 at 0x8040: starts aa 51"):
        PartitionTable.from_binary(bytes(bad_magic))
    no_end = binary[:0xE0] + b"\x00" * (TABLE_MAX_LENGTH - 0xE0)
    with pytest.raises(PartitionTableError):
        PartitionTable.from_binary(no_end)
    entries = binary[:0xC0]
    # overlapping and misaligned entries with a valid MD5: refused with the entry's name
    overlap = _with_entry(entries, 1, _entry(1, 0, 0xA000, 0x2000, b"otadata"))
    with pytest.raises(PartitionTableError, match=r"'otadata'.*overlaps 'nvs'"):
        PartitionTable.from_binary(overlap)
    misaligned = _with_entry(entries, 2, _entry(0, 0x10, 0x18000, 0x140000, b"app0"))
    with pytest.raises(PartitionTableError, match=r"'app0'.*not aligned to 0x10000"):
        PartitionTable.from_binary(misaligned)


def test_unknown_flag_bits_are_kept() -> None:
    entry = _entry(1, 2, 0x9000, 0x4000, b"nvs", 0x101)
    t = PartitionTable.from_binary(_rehash(entry))
    assert t.partitions[0].encrypted and t.partitions[0].extra_flags == 0x100
    assert t.to_binary() == _rehash(entry)


# --- dumps -------------------------------------------------------------------------------


def test_find_partition_table_in_a_dump() -> None:
    binary = golden("arduino-default")[1]
    flash = bytearray(b"\xff" * 0x400000)
    flash[0x8000 : 0x8000 + len(binary)] = binary
    assert read_partition_table(bytes(flash), check_size=False).offset == DEFAULT_TABLE_OFFSET
    t = read_partition_table(bytes(flash))
    assert t.by_name("spiffs") == Partition("spiffs", 1, 0x82, 0x290000, 0x160000)
    # a table moved to 0xa000 (CONFIG_PARTITION_TABLE_OFFSET) is found by scanning
    moved = PartitionTable.from_csv("nvs, data, nvs, , 16K\n", offset=0xA000).to_binary()
    flash2 = bytearray(b"\xff" * 0x100000)
    flash2[0xA000 : 0xA000 + len(moved)] = moved
    assert read_partition_table(bytes(flash2), check_size=False).offset == 0xA000
    assert read_partition_table(bytes(flash2)).partitions[0].offset == 0xB000


def test_find_partition_table_errors() -> None:
    with pytest.raises(PartitionTableError, match="no partition table"):
        read_partition_table(b"\xff" * 0x20000, check_size=False)
    broken = bytearray(b"\xff" * 0x20000)
    broken[0x8000:0x8002] = b"\xaa\x50"
    with pytest.raises(PartitionTableError, match="no valid partition table"):
        read_partition_table(bytes(broken), check_size=False)
    # a dump that stops before the last partition ends
    binary = golden("arduino-default")[1]
    short = bytearray(b"\xff" * 0x200000)
    short[0x8000 : 0x8000 + len(binary)] = binary
    with pytest.raises(PartitionTableError, match=r"'app1'.*beyond the 2 MiB flash"):
        read_partition_table(bytes(short))
    assert len(read_partition_table(bytes(short), check_size=False)) == 6


# --- fuzz --------------------------------------------------------------------------------

Form = TypeVar("Form", bytes, str)


def _accepted_tables_round_trip(
    parse: Callable[[Form], PartitionTable], write: Callable[[PartitionTable], Form], data: Form
) -> None:
    """Fuzzed input may be refused, with a PartitionTableError and nothing else; a table
    that is accepted must read back equal once written out."""
    try:
        t = parse(data)
    except PartitionTableError:
        return
    assert parse(write(t)) == t


@settings(max_examples=300, deadline=None)
@given(st.binary(min_size=0, max_size=TABLE_MAX_LENGTH))
def test_fuzzed_binary_never_crashes(data: bytes) -> None:
    _accepted_tables_round_trip(PartitionTable.from_binary, PartitionTable.to_binary, data)


@settings(max_examples=200, deadline=None)
@given(st.integers(min_value=0, max_value=0xBFF), st.integers(min_value=0, max_value=255))
def test_single_byte_corruption_is_caught_or_harmless(pos: int, value: int) -> None:
    binary = bytearray(golden("mongoose-os-esp32")[1])
    binary[pos] = value
    try:
        t = PartitionTable.from_binary(bytes(binary))
    except PartitionTableError:
        return
    # Only bytes after the end marker, or no change at all, leave a valid table.
    assert t == PartitionTable.from_binary(golden("mongoose-os-esp32")[1])


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=300))
def test_fuzzed_csv_never_crashes(text: str) -> None:
    _accepted_tables_round_trip(PartitionTable.from_csv, PartitionTable.to_csv, text)


names = st.text(alphabet="abcdefghijklmnopqrstuvwxyz_0123456789", min_size=1, max_size=16)


@settings(max_examples=100, deadline=None)
@given(
    st.lists(
        st.tuples(
            names,
            st.sampled_from(
                [("data", "nvs"), ("data", "spiffs"), ("app", "ota_0"), ("data", "0x40")]
            ),
            st.integers(min_value=1, max_value=64).map(lambda n: n * 0x1000),
            st.booleans(),
        ),
        min_size=1,
        max_size=20,
        unique_by=lambda r: r[0],
    )
)
def test_generated_tables_round_trip(rows: list[tuple[str, tuple[str, str], int, bool]]) -> None:
    csv = "".join(
        f"{n}, {t}, {s}, , {size:#x}, {'encrypted' if enc else ''}\n"
        for n, (t, s), size, enc in rows
    )
    table = PartitionTable.from_csv(csv)
    assert PartitionTable.from_binary(table.to_binary()) == table
    assert PartitionTable.from_csv(table.to_csv()) == table
    ends = sorted((p.offset, p.end) for p in table)
    assert all(a[1] <= b[0] for a, b in itertools.pairwise(ends))
