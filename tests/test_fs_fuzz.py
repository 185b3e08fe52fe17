"""Corrupted and truncated images: a clear ImageError or a working image, never a crash.

littlefs asserts abort the whole process, so a crash here would kill the test run; the
superblock checks in fs/littlefs.py exist to keep such bytes away from littlefs.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from esp_cabundle.errors import ImageError
from esp_cabundle.fs import open_image
from esp_cabundle.fs.edit import pack_image

DATA = Path(__file__).parent / "data"


def _bases() -> dict[str, bytes]:
    bases = {
        "lfs-mongoose-vector": (DATA / "littlefs" / "mongoose-lfs20-256k.bin").read_bytes(),
        "lfs-esp-idf": pack_image(
            "littlefs",
            "esp-idf",
            64 * 1024,
            [("/ca.pem", b"A" * 5000), ("/d/x.txt", b"hello"), ("/s", b"tiny")],
        ).data,
        "lfs-arduino": pack_image(
            "littlefs", "arduino", 64 * 1024, [("/ca.pem", b"B" * 3000)], timestamp=7
        ).data,
    }
    for name in ("idf-64k.bin", "mongoose-256k.bin"):
        path = DATA / "spiffs" / name
        if path.exists():
            bases["spiffs-" + name] = path.read_bytes()
    return bases


BASES = _bases()
SETTINGS = settings(
    max_examples=100,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def exercise(data: bytes) -> None:
    """Everything a user can do with an image; ImageError is the only allowed failure."""
    frozen = bytes(data)
    try:
        img = open_image(data)
        for f in img.files():
            img.read(f.path)
        img.write("/ca.pem", b"-----BEGIN CERTIFICATE-----\n" * 100)
        img.remove("/ca.pem")
        open_image(img.to_bytes())
    except ImageError as e:
        assert str(e)  # a message, not an empty error
    assert bytes(data) == frozen


def _metadata_range(base: bytes) -> int:
    return min(len(base), 2 * 4096)


@pytest.mark.parametrize("base", sorted(BASES))
@SETTINGS
@given(st.data())
def test_byte_corruption(base: str, data: st.DataObject) -> None:
    raw = bytearray(BASES[base])
    hot = data.draw(st.booleans(), label="metadata only")
    limit = _metadata_range(raw) if hot else len(raw)
    for _ in range(data.draw(st.integers(1, 24), label="flips")):
        pos = data.draw(st.integers(0, limit - 1))
        raw[pos] = data.draw(st.integers(0, 255))
    exercise(bytes(raw))


@pytest.mark.parametrize("base", sorted(BASES))
@SETTINGS
@given(cut=st.integers(min_value=0, max_value=300 * 1024), aligned=st.booleans())
def test_truncation(base: str, cut: int, aligned: bool) -> None:
    raw = BASES[base]
    cut = cut % len(raw)
    if aligned:
        cut -= cut % 4096
    exercise(raw[:cut])


@pytest.mark.parametrize("base", sorted(BASES))
@SETTINGS
@given(st.data())
def test_block_overwrite(base: str, data: st.DataObject) -> None:
    raw = bytearray(BASES[base])
    block = data.draw(st.integers(0, len(raw) // 4096 - 1), label="block")
    fill = data.draw(
        st.one_of(st.just(b"\xff"), st.just(b"\x00"), st.binary(min_size=1, max_size=64))
    )
    raw[block * 4096 : (block + 1) * 4096] = (fill * 4096)[:4096]
    exercise(bytes(raw))


@given(st.binary(max_size=20000))
@SETTINGS
def test_random_bytes(blob: bytes) -> None:
    exercise(blob)
