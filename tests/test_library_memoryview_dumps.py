"""A dump handed over as a memoryview (a slice of an mmap'd file, without a copy) is
bytes to every call that takes bytes: read_partition_table and update_dump accepted it
at their type check, then failed deep inside with ``'memoryview' object has no
attribute 'startswith'``."""

from __future__ import annotations

from esp_cabundle.boards import load_board
from esp_cabundle.flash.offline import update_dump
from esp_cabundle.partitions import read_partition_table
from tests.support import dumps
from tests.support.gated import X1_PEM, gated


def test_read_partition_table_takes_a_memoryview() -> None:
    flash = dumps.arduino_dump()
    assert read_partition_table(memoryview(flash)) == read_partition_table(flash)
    at = read_partition_table(memoryview(flash), offset=0x8000)
    assert at == read_partition_table(flash, offset=0x8000)


def test_update_dump_takes_a_memoryview() -> None:
    flash = dumps.arduino_dump()
    board = load_board("mdash-arduino")
    ca = gated(X1_PEM, board)
    assert update_dump(memoryview(flash), board, ca).flash == update_dump(flash, board, ca).flash
