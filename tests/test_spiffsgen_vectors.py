"""`pack --fs spiffs --profile esp-idf` against images ESP-IDF's spiffsgen.py made itself
(v4.4 to v5.5, tests/data/spiffs/spiffsgen/README.md), and the one deliberate difference:
empty files, whose spiffsgen form SPIFFS on the device cannot write to."""

from __future__ import annotations

import gzip
import re
import struct
from pathlib import Path

import pytest

from esp_cabundle.errors import ImageError
from esp_cabundle.fs.edit import pack_image
from esp_cabundle.fs.spiffs import SpiffsImage, build_spiffs_image

DATA = Path(__file__).resolve().parent / "data" / "spiffs"
CASES = sorted(p.name for p in (DATA / "spiffsgen").iterdir() if p.is_dir())
HELLO = b"hello world data\n"


def case_files(case: str) -> list[tuple[str, bytes]]:
    folder = DATA / "spiffsgen" / case
    order = (folder / "order.txt").read_text().split()
    return [(path, (folder / "src" / path[1:]).read_bytes()) for path in order]


def spiffsgen_image(case: str) -> bytes:
    return gzip.decompress((DATA / "spiffsgen" / case / "spiffsgen.bin.gz").read_bytes())


def empty_size_fields(image: bytes, files: list[tuple[str, bytes]]) -> set[int]:
    """Offsets of the 4 size bytes in the index header of every empty file."""
    empty = {p.encode() for p, data in files if not data}
    out: set[int] = set()
    for page in range(0, len(image), 256):
        obj_id, span, flags = struct.unpack_from("<HHB", image, page)
        name = image[page + 13 : page + 45].split(b"\0", 1)[0]
        if obj_id & 0x8000 and obj_id != 0xFFFF and span == 0 and flags == 0xF8 and name in empty:
            out.update(range(page + 8, page + 12))
    assert len(out) == 4 * len(empty)
    return out


def test_the_vectors_cover_what_the_issue_names() -> None:
    assert len(CASES) >= 12
    sizes = {len(spiffsgen_image(c)) for c in CASES}
    assert {0x10000, 0x20000, 0x40000, 0x100000, 0x160000, 0x200000, 0x300000} <= sizes
    pages = [-(-len(d) // 251) for c in CASES for _, d in case_files(c)]
    assert max(pages) > 2 * 103 and any(p == 103 for p in pages)  # several index pages
    assert any(not d for c in CASES for _, d in case_files(c))  # empty files


def test_readme_counts_the_vectors_as_they_are() -> None:
    """README: "tested against images spiffsgen made for 15 file sets, 64 KiB to 3 MiB"."""
    readme = " ".join((DATA.parents[2] / "README.md").read_text().split())
    m = re.search(r"spiffsgen made for (\d+) file sets, (\d+) KiB to (\d+) MiB", readme)
    assert m, "README no longer says how many spiffsgen vectors there are"
    sizes = [len(spiffsgen_image(c)) for c in CASES]
    assert (len(CASES), min(sizes), max(sizes)) == (
        int(m[1]),
        int(m[2]) * 1024,
        int(m[3]) * 1024 * 1024,
    )


@pytest.mark.parametrize("case", CASES)
def test_pack_writes_what_spiffsgen_writes(case: str) -> None:
    files = case_files(case)
    expected = spiffsgen_image(case)
    packed = pack_image("spiffs", "esp-idf", len(expected), files)
    assert packed.data == build_spiffs_image(files, size=len(expected), profile="esp-idf")
    diffs = {i for i in range(len(expected)) if packed.data[i] != expected[i]}
    assert diffs == empty_size_fields(expected, files)
    for i in diffs:  # spiffsgen: size 0; pack: SPIFFS's undefined length
        assert (expected[i], packed.data[i]) == (0x00, 0xFF)
    # freshly packed: no deleted page, object ids 1, 2, 3, ... in the given order
    image = SpiffsImage.open(packed.data)
    assert image.describe()["deleted pages"] == 0
    ids = []
    for page in range(0, len(expected), 256):
        obj_id, span, flags = struct.unpack_from("<HHB", packed.data, page)
        if obj_id & 0x8000 and obj_id != 0xFFFF and span == 0 and flags == 0xF8:
            ids.append(obj_id & 0x7FFF)
    assert ids == list(range(1, len(files) + 1))
    assert {f.path: image.read(f.path) for f in image.files()} == dict(files)


def test_what_spiffsgen_cannot_fit_is_refused() -> None:
    (name, data), *_ = case_files("full-64k")  # the largest file spiffsgen fits
    assert len(data) == 59487
    build_spiffs_image([(name, data)], size=0x10000, profile="esp-idf")
    with pytest.raises(ImageError, match="do not fit in a 65,536-byte SPIFFS image"):
        pack_image("spiffs", "esp-idf", 0x10000, [(name, data + b"x")])


def test_spiffs_on_the_device_loses_writes_to_spiffsgens_empty_file() -> None:
    """SPIFFS's own C code wrote both images (tests/data/spiffs/README.md): the same
    fopen("w") + fwrite of 17 bytes into /empty.txt, reported successful both times."""
    from_spiffsgen = gzip.decompress((DATA / "real" / "empty-spiffsgen-put.bin.gz").read_bytes())
    lost = SpiffsImage.open(from_spiffsgen)
    assert lost.read("/empty.txt") == b""  # the write is gone
    before = SpiffsImage.open(spiffsgen_image("three-files-1408k")).describe()["used bytes"]
    assert lost.describe()["used bytes"] > before  # its data page was spent
    from_pack = gzip.decompress((DATA / "real" / "empty-pack-put.bin.gz").read_bytes())
    assert SpiffsImage.open(from_pack).read("/empty.txt") == HELLO


def test_our_edit_of_a_packed_empty_file_matches_spiffs() -> None:
    """The real SPIFFS result above started from exactly pack's bytes: our engine,
    doing the same write on pack's image, gives SPIFFS's bytes."""
    files = case_files("three-files-1408k")
    image = SpiffsImage.open(pack_image("spiffs", "esp-idf", 0x160000, files).data)
    image.write("/empty.txt", HELLO)
    real = gzip.decompress((DATA / "real" / "empty-pack-put.bin.gz").read_bytes())
    assert image.to_bytes() == real
