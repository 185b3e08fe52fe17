"""Crafted nearly-full SPIFFS images whose writes run garbage collection many times: the
cases tests/test_spiffs_gc_speed.py replays to prove that a faster victim search picks
the same blocks and leaves the same bytes as the old one.

Each case is an image plus a sequence of writes; :func:`replay` runs them and returns
what a test compares: a digest of the final image and, per write, "ok" or the refusal.
The images cover what the victim score depends on: erase counts below, equal to and
above the volume's maximum (and 0xFFFF, "never erased"), a maximum that wraps past
0x7FFF during the writes, a free lookup entry in front of used ones (SPIFFS stops
counting a block at its first free entry), blocks with no deleted pages (Mongoose OS
scores them apart), and all three write-chunk sizes the profiles use.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass

from esp_cabundle.errors import ImageError
from esp_cabundle.fs.spiffs import SpiffsImage, build_spiffs_image
from esp_cabundle.fs.spiffs_layout import OBJ_ID_DELETED, U16, Geometry, get_spiffs_profile


def payload(k: int, n: int) -> bytes:
    """``n`` bytes of pattern ``k`` (it repeats every 251 bytes: built from one period)."""
    period = bytes((k * 31 + i * 7) % 251 for i in range(251))
    return (period * (n // 251 + 1))[:n]


@dataclass(frozen=True)
class Case:
    name: str
    profile: str
    size: int
    files: tuple[tuple[str, int], ...]  # built with the platform's tool: name, length
    writes: tuple[tuple[str, int, int | None], ...]  # name, length, chunk (None: profile's)
    craft: Callable[[bytearray, Geometry], None] | None = None


def _erase_counts(values: Callable[[int], int]) -> Callable[[bytearray, Geometry], None]:
    """Set every block's erase count to ``values(block)`` (what a lived-in unit has)."""

    def craft(buf: bytearray, g: Geometry) -> None:
        for b in range(g.block_count):
            U16.pack_into(buf, g.erase_count_addr(b), values(b) & 0xFFFF)

    return craft


def _free_holes(buf: bytearray, g: Geometry) -> None:
    """Turn a deleted entry between live ones into a free one with an erased page, in
    every block that has one: blocks whose first free entry is not their last."""
    epb = g.entries_per_block
    made = 0
    for b in range(g.block_count):
        base = b * g.block_size
        entries = [U16.unpack_from(buf, base + 2 * e)[0] for e in range(epb)]
        for e in range(1, epb - 1):
            if entries[e] == OBJ_ID_DELETED and entries[e + 1] not in (0, 0xFFFF):
                U16.pack_into(buf, base + 2 * e, 0xFFFF)
                pix = g.pix(b * epb + e)
                buf[pix * g.page_size : (pix + 1) * g.page_size] = b"\xff" * g.page_size
                made += 1
                break
    assert made, "no deleted entry between live ones to turn into a hole"


def _storm(names: str, sizes: tuple[int, ...], chunk: int | None = None) -> tuple:
    return tuple((f"/{names[i % len(names)]}", n, chunk) for i, n in enumerate(sizes))


CASES = (
    Case(
        "idf-128k-storm",
        "esp-idf",
        128 * 1024,
        (("keep", 9000), ("a", 30000), ("b", 20000)),
        _storm("abab", (41000, 25000, 52000, 18000, 60000, 33000, 70000, 12000)),
    ),
    Case(
        "idf-256k-aged",
        "esp-idf",
        256 * 1024,
        (("keep", 20000), ("a", 60000), ("b", 40000)),
        _storm("ab", (62000, 45000, 80000, 70000, 95000, 60000, 110000)),
        _erase_counts(lambda b: (b * 37) % 11 + (900 if b % 5 == 0 else 0)),
    ),
    Case(
        "idf-256k-wrap",
        "esp-idf",
        256 * 1024,
        (("keep", 20000), ("a", 60000), ("b", 40000)),
        _storm("ab", (62000, 45000, 80000, 70000, 95000, 60000, 110000)),
        # the maximum starts at 0x7FF0 and wraps to 0 as garbage collection erases
        _erase_counts(lambda b: 0x7FE0 + b % 16 if b != 7 else 0xFFFF),
    ),
    Case(
        "idf-256k-above-max",
        "esp-idf",
        256 * 1024,
        (("keep", 20000), ("a", 60000), ("b", 40000)),
        _storm("ab", (62000, 45000, 80000, 70000, 95000, 60000)),
        # counts more than half the range apart: SPIFFS takes the low one as the maximum
        _erase_counts(lambda b: 40000 + b if b % 3 == 0 else 3 + b % 4),
    ),
    Case(
        "arduino-256k-4k-pieces",
        "arduino",
        256 * 1024,
        (("keep", 15000), ("a", 100000), ("b", 50000)),
        _storm("ab", (100000, 90000, 120000, 60000, 125000)),
    ),
    Case(
        "idf-128k-one-call",
        "esp-idf",
        128 * 1024,
        (("keep", 9000), ("a", 40000), ("b", 20000)),
        _storm("ab", (45000, 30000, 50000, 40000, 60000), chunk=0),
    ),
    Case(
        "mongoose-256k-storm",
        "mongoose-os",
        256 * 1024,
        (("keep", 26800), ("conf0.json", 3000), ("log.txt", 4000), ("a", 60000)),
        _storm("a", (90000, 120000, 80000, 140000, 100000, 150000)),
        _erase_counts(lambda b: (b * 13) % 7),
    ),
    Case(
        "mongoose-256k-one-call",
        "mongoose-os",
        256 * 1024,
        (("keep", 26800), ("conf0.json", 3000), ("a", 60000), ("b", 30000)),
        _storm("abab", (70000, 40000, 90000, 20000, 100000, 50000), chunk=0),
        _erase_counts(lambda b: b % 9),
    ),
    Case(
        "mongoose-128k-holes",
        "mongoose-os",
        128 * 1024,
        (("keep", 10000), ("a", 20000), ("b", 20000)),
        (("/a", 24000, None), ("/b", 30000, None), *_storm("ab", (60000, 30000, 45000, 20000), 0)),
        _free_holes,
    ),
    Case(
        "idf-128k-holes",
        "esp-idf",
        128 * 1024,
        (("keep", 9000), ("a", 20000), ("b", 20000)),
        (("/a", 24000, None), ("/b", 30000, None), *_storm("ab", (60000, 30000, 52000, 20000), 0)),
        _free_holes,
    ),
)


def _stored(name: str, profile: str) -> str:
    return get_spiffs_profile(profile).stored_name("/" + name).lstrip("/")


def replay(case: Case) -> tuple[str, tuple[str, ...], int]:
    """The final image's sha256, each write's outcome, and the garbage collections run.

    Crafting happens between writes that make deleted pages (the first two when the
    case crafts), so that there is something to craft over."""
    files = [(_stored(n, case.profile), payload(i, size)) for i, (n, size) in enumerate(case.files)]
    image = build_spiffs_image(files, size=case.size, profile=case.profile)
    img = SpiffsImage.open(image)
    outcomes: list[str] = []
    gc_runs = 0
    writes = list(case.writes)
    if case.craft is not None:
        for name, n, chunk in writes[:2]:
            img.write(name, payload(n, n), chunk=chunk)
            outcomes.append("ok")
        buf = bytearray(img.to_bytes())
        case.craft(buf, Geometry.of(get_spiffs_profile(case.profile), case.size))
        gc_runs += img.gc_runs
        img = SpiffsImage.open(bytes(buf))
        writes = writes[2:]
    for name, n, chunk in writes:
        try:
            img.write(name, payload(n, n), chunk=chunk)
            outcomes.append("ok")
        except ImageError as e:
            outcomes.append(str(e).splitlines()[0])
    return hashlib.sha256(img.to_bytes()).hexdigest(), tuple(outcomes), gc_runs + img.gc_runs
