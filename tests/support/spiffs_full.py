"""Lived-in, nearly full 1408 KiB SPIFFS partitions whose CA update needs garbage
collection across many blocks: the planner's slow case (tests/test_spiffs_plan_order.py
and benchmarks/bench_spiffs.py)."""

from __future__ import annotations

from pathlib import Path

from esp_cabundle.fs.spiffs import SpiffsImage, build_spiffs_image

ROOTS = sorted((Path(__file__).resolve().parent.parent / "data" / "letsencrypt").glob("*.pem"))
SIZE = 1408 * 1024


def ca(n: int) -> bytes:
    """The first ``n`` roots of tests/data/letsencrypt, one PEM file."""
    return b"".join(p.read_bytes() for p in ROOTS[:n])


def nearly_full(profile: str, old: bytes, files: int, every: int, filler: int) -> bytes:
    """ca.pem holding ``old``, mdash.cfg, ``files`` 100-byte files of which every
    ``every``-th was removed (deleted pages strewn over many blocks), and a big file of
    ``filler`` bytes leaving just too few free pages for a larger CA file."""
    small = [(f"f{i}.bin", bytes([i % 256]) * 100) for i in range(files)]
    big = (bytes(range(251)) * (filler // 251 + 1))[:filler]
    data = build_spiffs_image(
        [("ca.pem", old), ("mdash.cfg", b"x" * 300), *small, ("big.dat", big)],
        size=SIZE,
        profile=profile,
    )
    img = SpiffsImage.open(data, profile)
    for i in range(0, files, every):
        img.remove(f"/f{i}.bin")
    return img.to_bytes()
