"""Flash dumps whose partition table was crafted: overlapping or unaligned partitions, a
wrong MD5 row, no end marker, a partition past the end of the dump. ``inspect`` and
``fs ls`` name the table's fault (``fs ls`` said "neither LittleFS nor SPIFFS found"
of a dump), and nothing counts with a wrong plural."""

from __future__ import annotations

import hashlib
import struct
from pathlib import Path

import pytest
from click.testing import CliRunner

from esp_cabundle.cli import cli
from tests.support import dumps

NVS = ("nvs", 1, 0x02, 0x9000, 0x5000)
SPIFFS = ("spiffs", 1, 0x82, 0x290000, 0x160000)


def _entry(name: str, ptype: int, subtype: int, offset: int, size: int) -> bytes:
    return struct.pack(
        "<2sBBLL16sL", b"\xaa\x50", ptype, subtype, offset, size, name.encode().ljust(16, b"\0"), 0
    )


def _dump(rows: list[tuple[str, int, int, int, int]], *, md5: bytes | None = None) -> bytes:
    body = b"".join(_entry(*r) for r in rows)
    body += b"\xeb\xeb" + b"\xff" * 14 + (md5 if md5 is not None else hashlib.md5(body).digest())
    flash = bytearray(dumps.arduino_dump())
    flash[0x8000:0x8C00] = body.ljust(0xC00, b"\xff")[:0xC00]
    return bytes(flash)


BROKEN = {
    "overlap": (
        _dump([NVS, SPIFFS, ("spiffs2", 1, 0x82, 0x290000, 0x160000)]),
        "partition 'spiffs2' (data/spiffs) at 0x290000, 0x160000 bytes overlaps 'spiffs'",
    ),
    "unaligned": (
        _dump([NVS, ("spiffs", 1, 0x82, 0x290100, 0x160000)]),
        "offset is not aligned to 0x1000",
    ),
    "md5": (_dump([NVS, SPIFFS], md5=bytes(16)), "MD5 mismatch"),
    "no end marker": (
        _dump([(f"p{i}", 1, 0x82, 0x10000 + i * 0x1000, 0x1000) for i in range(95)]),
        "no end-of-table marker within 0xc00 bytes",
    ),
}


@pytest.mark.timeout(60)
@pytest.mark.parametrize("case", sorted(BROKEN))
def test_a_broken_table_is_named_by_inspect_and_fs(
    in_tmp: Path, runner: CliRunner, case: str
) -> None:
    data, words = BROKEN[case]
    (in_tmp / "dump.bin").write_bytes(data)
    for argv in (["inspect", "dump.bin"], ["fs", "ls", "dump.bin"]):
        r = runner.invoke(cli, argv)
        assert r.exit_code == 2 and words in r.output, (argv, r.output)
        assert "Traceback" not in r.output
    r = runner.invoke(cli, ["fs", "ls", "dump.bin"])
    assert "a whole-flash dump whose partition table does not read" in r.output
    assert "--offset and --size" in r.output


@pytest.mark.timeout(60)
@pytest.mark.parametrize("size", [0x1000000, 0xFFFFF000])
def test_a_partition_past_the_end_of_the_dump(in_tmp: Path, runner: CliRunner, size: int) -> None:
    (in_tmp / "dump.bin").write_bytes(_dump([("spiffs", 1, 0x82, 0x290000, size)]))
    r = runner.invoke(cli, ["inspect", "dump.bin"])
    assert r.exit_code == 0, r.output
    assert "partition table: at 0x8000, 1 partition\n" in r.output
    assert "beyond the 0x400000-byte dump (not inspected)" in r.output
    r = runner.invoke(cli, ["fs", "ls", "dump.bin"])
    assert r.exit_code == 2
    assert "its file-system partition ends past the end of the 0x400000-byte file" in r.output
    assert "spiffs (0x290000-" in r.output and "lists no file-system partition" not in r.output
