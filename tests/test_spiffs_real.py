"""Edits, garbage collection included, match what SPIFFS itself writes, byte for byte.

The expected images in tests/data/spiffs/real were written by SPIFFS 0.3.7 running the
same sequences (see that folder's README). Only one deliberate difference is masked:
for new files we write the profile's meta fill (ESP-IDF: zeros, as spiffsgen does)
where bare SPIFFS leaves 0xFF.
"""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from esp_cabundle.fs.spiffs import SpiffsImage, build_spiffs_image

DATA = Path(__file__).resolve().parent / "data" / "spiffs"


def payload(k: int, n: int) -> bytes:
    return bytes((k * 31 + i * 7) % 251 for i in range(n))


PUTS_64K = [("put", "/ca.pem", n) for n in (3000, 5000, 8000, 2500, 7000, 6000, 9000, 4000)]
STORM = [
    ("put", n, s)
    for n, s in (
        ("a", 2000), ("b", 3000), ("c", 1500), ("a", 4000), ("b", 500),
        ("c", 3500), ("a", 250), ("b", 4200), ("c", 251), ("a", 3000),
    )
]  # fmt: skip
SCENARIOS = {
    "idf-64k-rewrites": (
        "esp-idf",
        ("vector", "idf-64k.bin"),
        [*PUTS_64K, ("rm", "/mdash.cfg", 0), ("put", "/wifi.cfg", 300), ("put", "/ca.pem", 3929)],
    ),
    "mongoose-32k-storm": (
        "mongoose-os",
        ("build", 32 * 1024, [("keep", 3072), ("a", 1000)]),
        [*STORM, ("rm", "b", 0), ("put", "c", 5000), ("put", "d", 2600)],
    ),
    # the free cursor one entry past a block's end must not count as the next block
    "idf-32k-cursor": (
        "esp-idf",
        ("build", 32 * 1024, [("f0", 2303), ("f1", 1819), ("f2", 2199)]),
        [
            ("put", "/d", 252),
            ("put", "/a", 500),
            ("put", "/c", 2184),
            ("put", "/a", 4135),
            ("put", "/d", 3394),
            ("put", "/a", 251),
        ],
    ),
}


def base_image(profile: str, base: tuple) -> bytes:  # type: ignore[type-arg]
    if base[0] == "vector":
        return (DATA / base[1]).read_bytes()
    files = [(n, payload(100 + i, s)) for i, (n, s) in enumerate(base[2])]
    return build_spiffs_image(files, size=base[1], profile=profile)


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_edit_sequences_write_what_spiffs_writes(name: str) -> None:
    profile, base, ops = SCENARIOS[name]
    img = SpiffsImage.open(base_image(profile, base))
    for k, (op, path, n) in enumerate(ops):
        if op == "put":
            img.write(path, payload(k, n), chunk=0)  # one SPIFFS_write, as SPIFFS ran them
        else:
            img.remove(path)
    assert img.gc_runs > 0  # every scenario needs garbage collection
    expected = gzip.decompress((DATA / "real" / f"{name}.bin.gz").read_bytes())
    mine = img.to_bytes()
    assert len(mine) == len(expected)
    meta = range(45, 49) if profile == "esp-idf" else range(0)  # index header meta bytes
    diffs = [i for i in range(len(mine)) if mine[i] != expected[i]]
    assert all(i % 256 in meta and mine[i] == 0 and expected[i] == 0xFF for i in diffs)
    assert SpiffsImage.open(expected).files() == SpiffsImage.open(mine).files()
