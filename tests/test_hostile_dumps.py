"""Flash dumps whose partition table was crafted: overlapping or unaligned partitions, a
wrong MD5 row, no end marker, a partition past the end of the dump. ``inspect`` and
``fs ls`` name the table's fault (``fs ls`` said "neither LittleFS nor SPIFFS found"
of a dump), and nothing counts with a wrong plural."""

from __future__ import annotations

import hashlib
import struct
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from esp_cabundle.cli import cli
from esp_cabundle.errors import InputError
from esp_cabundle.fs.edit import locate_image, pack_image
from esp_cabundle.spelling import CLI_SPELLING, PYTHON
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
def test_a_partition_past_the_end_of_the_dump(in_tmp: Path, runner: CliRunner) -> None:
    (in_tmp / "dump.bin").write_bytes(_dump([("spiffs", 1, 0x82, 0x290000, 0x1000000)]))
    r = runner.invoke(cli, ["inspect", "dump.bin"])
    assert r.exit_code == 1, r.output  # a finding, as update-dump refuses it (exit 2)
    assert "the dump looks truncated" in r.output
    assert "partition table: at 0x8000, 1 partition\n" in r.output
    assert "beyond the 0x400000-byte dump (not inspected)" in r.output
    r = runner.invoke(cli, ["fs", "ls", "dump.bin"])
    assert r.exit_code == 2
    assert "its file-system partition ends past the end of the 0x400000-byte file" in r.output
    assert "spiffs (0x290000-" in r.output and "lists no file-system partition" not in r.output


@pytest.mark.timeout(60)
def test_a_partition_past_any_flash_is_no_table(in_tmp: Path, runner: CliRunner) -> None:
    """0xfffff000 bytes at 0x290000 ends past 128 MiB, the largest flash an ESP32 has: the
    table is refused as an overlapping one is, by inspect and fs alike, nothing written."""
    (in_tmp / "dump.bin").write_bytes(_dump([("spiffs", 1, 0x82, 0x290000, 0xFFFFF000)]))
    for args in (["inspect", "dump.bin"], ["fs", "ls", "dump.bin"]):
        r = runner.invoke(cli, args)
        assert r.exit_code == 2, r.output
        assert "ends at 0x10028f000, past 128 MiB, the largest flash an ESP32 has" in r.output
        assert "Traceback" not in r.output
    assert sorted(p.name for p in in_tmp.iterdir()) == ["dump.bin"]


def _erase_counts_all_differ(flash: bytes, offset: int, size: int) -> bytes:
    """The SPIFFS partition at ``offset`` with every block's erase count its own (wear on
    a unit spreads them; an image still valid)."""
    from esp_cabundle.fs.spiffs_layout import Geometry, get_spiffs_profile

    geo = Geometry.of(get_spiffs_profile("esp-idf"), size)
    out = bytearray(flash)
    for b in range(geo.block_count):
        at = offset + geo.erase_count_addr(b)
        out[at : at + 2] = (1000 + b).to_bytes(2, "little")
    return bytes(out)


@pytest.mark.timeout(120)
def test_a_spiffs_partition_whose_erase_counts_all_differ_is_read_in_linear_time(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Reading a partition sparsely tried every erase count seen so far as a guess on
    every range: quadratic in blocks. The 1.4 MB partition took 8.7 s instead of 0.7 s,
    a 15 MB one 11 minutes instead of 2 s; the bytes read are the same. Counted here in
    guesses hashed, which no machine's speed changes."""
    from esp_cabundle.blocks import FlashCache
    from esp_cabundle.flash.dump import DumpFile
    from esp_cabundle.fs import spiffs_region
    from esp_cabundle.fs.spiffs_layout import get_spiffs_profile

    size = 0x400000  # 1024 blocks
    flash = bytearray(b"\xff" * 0x500000)
    files = [("/ca.pem", dumps.pem("isrgrootx1.pem")), ("/big.dat", bytes(range(256)) * 400)]
    flash[0x100000 : 0x100000 + size] = pack_image("spiffs", "esp-idf", size, files).data
    flash = bytearray(_erase_counts_all_differ(bytes(flash), 0x100000, size))
    guesses = 0

    class Counting:
        @staticmethod
        def md5(data: bytes) -> Any:
            nonlocal guesses
            guesses += 1
            return hashlib.md5(data)

    monkeypatch.setattr(spiffs_region, "hashlib", Counting)
    cache = FlashCache(DumpFile(bytes(flash)))
    data = spiffs_region.read_spiffs_region(cache, 0x100000, size, get_spiffs_profile("esp-idf"))
    assert data == bytes(flash[0x100000 : 0x100000 + size])
    ranges = 2 * 1024  # each 16-block chunk is halved down to single blocks: 31 ranges
    assert guesses < 12 * ranges, guesses  # a few fixed guesses and the 8 last seen


def test_a_partition_past_the_end_names_a_whole_read_in_the_callers_words() -> None:
    """The library said "(esp-cabundle read --all)" to a script; each spelling now names
    its own way of reading a whole flash."""
    dump = _dump([("spiffs", 1, 0x82, 0x290000, 0x1000000)])
    for spelling in (PYTHON, CLI_SPELLING):
        with pytest.raises(InputError, match="not a file-system image") as e:
            locate_image(dump, source="dump.bin", spelling=spelling)
        assert f"is the dump cut short (read it whole: {spelling.read_all})" in str(e.value.hint)
    assert "esp-cabundle" not in PYTHON.read_all
