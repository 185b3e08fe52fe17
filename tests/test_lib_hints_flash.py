"""Partition-table, whole-dump and verdict hints in the caller's words: a script reading a
table (``read_partition_table``, ``PartitionTable.from_binary``, a unit's through
``flash_unit``/``restore_unit``) or updating a dump (``update_dump``) is told of
``offset=``, ``load_board`` and ``open_unit``; the CLI keeps its --board FILE,
'read --table-offset' and 'esp-cabundle read --port PORT --all -o dump.bin'."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from esp_cabundle.boards import load_board
from esp_cabundle.certs import Certificate
from esp_cabundle.chains import ServerChain
from esp_cabundle.check import CheckItem, check_items
from esp_cabundle.errors import CertificateError, EspCabundleError, PartitionTableError
from esp_cabundle.flash.dump import DumpFile
from esp_cabundle.flash.offline import WholeDump, update_dump
from esp_cabundle.flash.reading import inspect_flash, inspect_port, read_port, unit_image
from esp_cabundle.flash.table import read_table
from esp_cabundle.inspect import inspect_bytes, inspect_path
from esp_cabundle.partitions import (
    TABLE_MAX_LENGTH,
    Partition,
    PartitionTable,
    read_partition_table,
)
from esp_cabundle.spelling import BOARD_SPELLING, CLI_SPELLING, PYTHON, Spelling
from esp_cabundle.verify import TrustSet, verify_chain
from esp_cabundle.virtual import VirtualESP32
from esp_cabundle.virtual.boards import board_image
from tests.support.gated import X1_PEM, gated
from tests.support.profiles import CLOCK
from tests.support.verify_pki import NOW, mint

FLAGS = ("--board", "--table-offset", "--port", "esp-cabundle ")
NO_TABLE = bytes(0x10000)  # zeros: no partition table anywhere
CLI_MOVED = (
    "if the firmware moved it (CONFIG_PARTITION_TABLE_OFFSET), say where: "
    "'partition_table: {offset: ...}' in a board file given as --board FILE "
    "(flash, restore, inspect), or 'read --table-offset'"
)
PY_MOVED = (
    "if the firmware moved it (CONFIG_PARTITION_TABLE_OFFSET), say where: "
    "read_partition_table(flash, offset=...), or 'partition_table: {offset: ...}' in a "
    "board file given to load_board(PATH)"
)
PY_READ = "unit = open_unit(PORT); unit.read(0, unit.size)"
CLI_READ = "esp-cabundle read --port PORT --all -o dump.bin"


def _hint(e: pytest.ExceptionInfo[EspCabundleError]) -> str:
    """The hint a script gets, checked to name no flag or command."""
    said = f"{e.value.message} hint: {e.value.hint or ''}"
    assert not [f for f in FLAGS if f in said], said
    return e.value.hint or ""


def _dump(board: str = "esp-idf-littlefs") -> bytes:
    return board_image(load_board(board)).flash


def test_no_table_at_the_offset_names_offset_and_load_board() -> None:
    with pytest.raises(PartitionTableError) as e:
        PartitionTable.from_binary(bytes(TABLE_MAX_LENGTH))
    assert _hint(e) == PY_MOVED
    with pytest.raises(PartitionTableError) as e:
        read_partition_table(NO_TABLE, offset=0x8000)
    assert _hint(e) == PY_MOVED
    with pytest.raises(PartitionTableError) as e:
        read_partition_table(NO_TABLE, offset=0x8000, spelling=CLI_SPELLING)
    assert e.value.hint == CLI_MOVED


def test_a_units_table_names_offset_for_a_script() -> None:
    """read_table is what flash_unit and restore_unit read a unit's table with."""
    with pytest.raises(PartitionTableError) as e:
        read_table(DumpFile(NO_TABLE, name="unit"))
    assert _hint(e) == PY_MOVED
    with pytest.raises(PartitionTableError) as e:
        read_table(DumpFile(NO_TABLE, name="unit"), spelling=BOARD_SPELLING)
    assert e.value.hint == CLI_MOVED


def test_a_table_cut_short_names_a_whole_flash_read() -> None:
    entry = Partition("nvs", 1, 2, 0x9000, 0x6000).to_binary()
    with pytest.raises(PartitionTableError) as e:
        PartitionTable.from_binary(entry[:20])
    assert _hint(e) == f"the file was truncated: read the whole flash again ({PY_READ})"
    with pytest.raises(PartitionTableError) as e:
        PartitionTable.from_binary(entry[:20], spelling=CLI_SPELLING)
    assert e.value.hint == f"the file was truncated: read the whole flash again ({CLI_READ})"


def test_an_empty_dump_names_a_whole_flash_read() -> None:
    with pytest.raises(PartitionTableError) as e:
        read_partition_table(b"")
    assert _hint(e) == f"a whole-flash dump: {PY_READ}"
    with pytest.raises(PartitionTableError) as e:
        read_partition_table(b"", spelling=CLI_SPELLING)
    assert e.value.hint == f"a whole-flash dump: {CLI_READ}"


def test_a_search_that_gives_up_names_offset() -> None:
    """Every sector holds a well-formed table whose partitions overlap: the search stops
    after _MAX_PARSES of them and asks where the table is."""
    a = Partition("a", 1, 2, 0x9000, 0x2000).to_binary()
    b = Partition("b", 1, 2, 0xA000, 0x2000).to_binary()
    sector = (a + b + b"\xff" * 32).ljust(0x1000, b"\xff")
    flash = sector * 0x100
    with pytest.raises(PartitionTableError) as e:
        read_partition_table(flash, check_size=False)
    assert "the search stops at" in e.value.message
    assert _hint(e) == f"say where the table is: {PYTHON.table_offset}"
    with pytest.raises(PartitionTableError) as e:
        read_partition_table(flash, check_size=False, spelling=CLI_SPELLING)
    assert e.value.hint == f"say where the table is: {CLI_SPELLING.table_offset}"
    assert "'read --table-offset'" in e.value.hint


def test_update_dump_of_a_truncated_dump_names_a_whole_flash_read() -> None:
    flash = _dump()
    table = read_partition_table(flash)
    cut = flash[: max(p.end for p in table) - 0x1000]
    board = load_board("esp-idf-littlefs")
    with pytest.raises(PartitionTableError) as e:  # the dump is refused, whatever the CA
        update_dump(cut, board, gated(X1_PEM, board, check_targets=False))
    said = _hint(e)
    assert said == (
        f"read the whole flash again ({PY_READ}, or esptool read-flash 0 ALL dump.bin), "
        "then update that dump"
    )
    with pytest.raises(PartitionTableError) as e:
        WholeDump.parse(cut, spelling=BOARD_SPELLING)
    assert e.value.hint == (
        f"read the whole flash again ({CLI_READ}, or esptool read-flash 0 ALL dump.bin), "
        "then update that dump"
    )


def test_a_dump_whose_table_fails_its_md5_names_a_whole_flash_read() -> None:
    """The MD5 fault carries no hint of its own: WholeDump.parse asks whether the dump
    is complete, with the read that makes one."""
    flash = bytearray(_dump())
    md5_at = 0x8000 + 32 * len(read_partition_table(bytes(flash)))
    flash[md5_at + 20] ^= 0xFF
    with pytest.raises(PartitionTableError) as e:
        WholeDump.parse(bytes(flash))
    assert "MD5 mismatch" in e.value.message
    assert _hint(e) == f"is the dump complete? {PY_READ}"
    with pytest.raises(PartitionTableError) as e:
        WholeDump.parse(bytes(flash), spelling=BOARD_SPELLING)
    assert e.value.hint == f"is the dump complete? {CLI_READ}"


def _unnamed() -> tuple[TrustSet, list[Certificate]]:
    root = mint("Spelling Root")
    leaf = mint("localhost", root, ca=False)
    return TrustSet.from_certificates([root.c]), [leaf.c]


def test_a_verdict_without_a_hostname_names_the_parameter() -> None:
    """The explanation of a verdict whose name was not judged says how to give one:
    hostname= to verify_chain / a Verifier, --hostname on the CLI's check."""
    trust, certs = _unnamed()
    v = verify_chain(trust, certs, CLOCK, at=NOW)
    assert v.ok and v.name_status == "not-judged"
    assert "no hostname was given (hostname=, a target's host" in v.explanation
    assert "--hostname" not in v.explanation
    v = verify_chain(trust, certs, CLOCK, at=NOW, spelling=CLI_SPELLING)
    assert "no hostname was given (--hostname, a target's host" in v.explanation
    chain = ServerChain(tuple(certs), source="api.pem")
    item = CheckItem("api", chain, CLOCK)
    for spelling, said in ((PYTHON, "(hostname=,"), (CLI_SPELLING, "(--hostname,")):
        (r,) = check_items(trust, [item], at=NOW, spelling=spelling).results
        assert said in r.timeline.start.explanation


# ---------------------------------------------------------------------------------------
# inspect_bytes / inspect_path: a dump they cannot read names the script's calls


BOOT_IMAGE_NO_TABLE = bytes([0xE9]) + bytes(range(256)) * 64  # a boot header, then no table
FS_HINT = "give the file-system partition's offset and size (from the firmware's partitions.csv): "


def test_a_dump_without_a_table_names_open_image_for_a_script(tmp_path: Path) -> None:
    with pytest.raises(CertificateError, match="a flash dump") as e:
        inspect_bytes(BOOT_IMAGE_NO_TABLE, source="dump.bin")
    assert _hint(e) == FS_HINT + "open_image(data[0x290000:0x290000 + 0x160000]).files()"
    cli = FS_HINT + "esp-cabundle fs ls dump.bin --offset 0x290000 --size 1408K"
    with pytest.raises(CertificateError) as e:
        inspect_bytes(BOOT_IMAGE_NO_TABLE, source="dump.bin", spelling=CLI_SPELLING)
    assert e.value.hint == cli
    path = tmp_path / "dump.bin"
    path.write_bytes(BOOT_IMAGE_NO_TABLE)
    with pytest.raises(CertificateError) as e:
        inspect_path(path)
    assert _hint(e).endswith("open_image(data[0x290000:0x290000 + 0x160000]).files()")
    with pytest.raises(CertificateError) as e:
        inspect_path(path, spelling=CLI_SPELLING)
    assert e.value.hint == cli.replace(" dump.bin ", f" {path} ")


def test_a_dump_whose_table_search_gives_up_names_offset_for_a_script() -> None:
    """A table at 0x8000 that does not read: inspect_dump says why, in the caller's words
    (it named the CLI's 'read --table-offset' to a script)."""
    a = Partition("a", 1, 2, 0x9000, 0x2000).to_binary()
    b = Partition("b", 1, 2, 0xA000, 0x2000).to_binary()
    flash = (a + b + b"\xff" * 32).ljust(0x1000, b"\xff") * 0x100
    with pytest.raises(PartitionTableError) as e:
        inspect_bytes(flash, source="dump.bin")
    assert _hint(e) == f"say where the table is: {PYTHON.table_offset}"
    with pytest.raises(PartitionTableError) as e:
        inspect_bytes(flash, source="dump.bin", spelling=CLI_SPELLING)
    assert e.value.hint == f"say where the table is: {CLI_SPELLING.table_offset}"


def test_reading_a_unit_names_offset_in_its_callers_words(
    virtual_esp32: Callable[..., VirtualESP32],
) -> None:
    """unit_image, inspect_flash, read_port and inspect_port are the library's: a unit
    with no table found tells a script of read_partition_table(offset=...); inspect and
    read pass CLI_SPELLING and keep their words (they hard-coded them for everyone)."""
    blank = DumpFile(NO_TABLE, name="unit")
    unit = virtual_esp32("esp32")  # erased flash: no table at 0x8000
    calls: list[Callable[[Spelling], object]] = [
        lambda sp: unit_image(blank, spelling=sp),
        lambda sp: inspect_flash(blank, spelling=sp),
        lambda sp: read_port(unit.url, partition="spiffs", spelling=sp),
        lambda sp: inspect_port(unit.url, spelling=sp),
    ]
    for call in calls:
        with pytest.raises(PartitionTableError) as e:
            call(PYTHON)
        assert PY_MOVED in _hint(e)
        with pytest.raises(PartitionTableError) as e:
            call(CLI_SPELLING)
        assert CLI_MOVED in (e.value.hint or "")
    with pytest.raises(PartitionTableError) as e:
        unit_image(blank)  # the default: a script's words
    assert _hint(e) == PY_MOVED
