"""Seeded fuzzing of SPIFFS metadata, field by field, within a fixed budget.

Byte mutations (tests/test_fuzz_inputs.py, tests/test_fs_fuzz.py) mostly break a magic
or a name; this sets the fields SPIFFS trusts (lookup entries, page headers' object id,
span and flags, index-table entries, file sizes, erase counts, names) to values that
keep the image mountable but lie: ids of other objects, pages outside the partition,
sizes near 2**32, two files with one name. Every call (mount, list, read each file,
replace the CA file as the firmware would, remove a file, and the sparse read a unit's
partition goes through) must end in a result or an exit-2 error within the limit.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

import pytest
from support.fuzzing import timed

from esp_cabundle.blocks import FlashCache
from esp_cabundle.errors import EspCabundleError
from esp_cabundle.flash.dump import DumpFile
from esp_cabundle.fs import open_image
from esp_cabundle.fs.edit import pack_image
from esp_cabundle.fs.spiffs_layout import INDEX_HEADER_LEN, Geometry, get_spiffs_profile
from esp_cabundle.fs.spiffs_region import read_spiffs_region

CALL_LIMIT_S = 10.0
SIZE = 64 * 1024


def _seed(profile: str) -> bytes:
    """A lived-in image: several files, one replaced (deleted pages), one removed."""
    files = [("/ca.pem", b"-----BEGIN CERTIFICATE-----\n" * 40), ("/cfg", b"name value\n")]
    files += [(f"/f{i}", bytes([i]) * (300 * i + 1)) for i in range(1, 5)]
    img = open_image(pack_image("spiffs", profile, SIZE, files).data)
    img.write("/cfg", b"name other value\n" * 20)
    img.remove("/f2")
    return img.to_bytes()


def _fields(geo: Geometry, data: bytes) -> list[tuple[int, int]]:
    """(offset, width) of every field SPIFFS reads: lookup entries and erase counts,
    and each used page's header, size, name bytes and index-table entries."""
    out: list[tuple[int, int]] = []
    ps, bs = geo.page_size, geo.block_size
    for b in range(geo.block_count):
        out += [(b * bs + 2 * e, 2) for e in range(geo.entries_per_block)]
        out.append((geo.erase_count_addr(b), 2))
    for pix in range(geo.total_pages):
        if geo.is_lookup_page(pix) or data[pix * ps + 4] == 0xFF:
            continue  # a free page: nothing reads it
        base = pix * ps
        out += [(base, 2), (base + 2, 2), (base + 4, 1)]
        if not data[base + 4] & 0x04:  # an index page: size, name and its table
            out += [(base + INDEX_HEADER_LEN, 4), (base + geo.name_offset, 1)]
            out += [(base + off, 2) for off in range(geo.ix_hdr_len, ps, 2)][:8]
    return out


def _values(width: int, geo: Geometry, data: bytes, at: int, rnd: random.Random) -> int:
    top = (1 << (8 * width)) - 1
    near = int.from_bytes(data[at : at + width], "little")
    return rnd.choice(
        [0, top, top - 1, 0x8000 & top, near ^ 0x8000 & top, (near + 1) & top,
         (near - 1) & top, geo.total_pages & top, (geo.total_pages - 1) & top,
         rnd.randrange(top + 1), 0x8001 & top, 0x8003 & top, 2, 3]
    )  # fmt: skip


def _variants(seed: bytes, profile: str, count: int, rnd: random.Random) -> list[bytes]:
    geo = Geometry.of(get_spiffs_profile(profile), SIZE)
    fields = _fields(geo, seed)
    out = []
    for _ in range(count):
        data = bytearray(seed)
        for at, width in rnd.sample(fields, rnd.choice((1, 1, 2, 3, 6))):
            data[at : at + width] = _values(width, geo, seed, at, rnd).to_bytes(width, "little")
        if rnd.random() < 0.1:  # a second file of the same name
            first = data.find(b"/f1\0")
            if first >= 0:
                data[first : first + 4] = b"/f3\0"
        out.append(bytes(data))
    return out


def _check(kind: str, fn: Callable[[], Any]) -> None:
    _result, error, seconds = timed(fn)
    assert seconds < CALL_LIMIT_S, f"{kind}: one call took {seconds:.1f} s"
    if error is not None and not (isinstance(error, EspCabundleError) and error.exit_code == 2):
        raise AssertionError(f"{kind}: {type(error).__name__}: {error!r}") from error


def _use(data: bytes, profile: str) -> None:
    img = open_image(data)
    for f in img.files():
        img.read(f.path)
    img.write("/ca.pem", b"-----BEGIN CERTIFICATE-----\nnew\n" * 30)
    img.remove(img.files()[-1].path)
    open_image(img.to_bytes())


def _sparse(data: bytes, profile: str) -> bytes:
    flash = b"\xff" * 0x10000 + data
    cache = FlashCache(DumpFile(flash))
    return read_spiffs_region(cache, 0x10000, len(data), get_spiffs_profile(profile))


@pytest.mark.timeout(240)
@pytest.mark.parametrize("profile", ["esp-idf", "mongoose-os"])
def test_fuzz_spiffs_fields(profile: str) -> None:
    rnd = random.Random(f"spiffs-fields-{profile}")
    seed = _seed(profile)
    for data in [seed, *_variants(seed, profile, 1000, rnd)]:
        _check(profile, lambda data=data: _use(data, profile))  # type: ignore[misc]
        assert _sparse(data, profile) == data
