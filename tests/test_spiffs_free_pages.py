"""The engine's free-page figure is SPIFFS's own, negative ones included.

``spiffs_gc_check`` reckons free pages as ``(block_count - 2)`` blocks' worth of pages
less every allocated and deleted one: SPIFFS keeps two blocks spare, spiffsgen.py does
not, so on a full image the figure is below zero (and ``SPIFFS_info``'s used above its
total). The expected figures were printed by SPIFFS itself, pellepl/spiffs 0b2e129 in
ESP-IDF's configuration (``tests/support/spiffs_c/harness.c``), on the same images and
writes: counters after mount, the inputs of every ``spiffs_gc_check`` call, and the
SHA-256 of the image SPIFFS left.
"""

from __future__ import annotations

import gzip
import hashlib
from pathlib import Path

import pytest

from esp_cabundle.fs.base import NoRoomError
from esp_cabundle.fs.spiffs import SpiffsImage
from esp_cabundle.fs.spiffs_gc import SpiffsGc
from esp_cabundle.fs.spiffs_volume import VolumeState
from tests.support.spiffs_full import ca, nearly_full

SPIFFSGEN = Path(__file__).resolve().parent / "data" / "spiffs" / "spiffsgen"
Checks = list[str]


def full_64k() -> bytes:
    """spiffsgen's largest file in 64 KiB: all 16 blocks hold pages, none is free."""
    return gzip.decompress((SPIFFSGEN / "full-64k" / "spiffsgen.bin.gz").read_bytes())


@pytest.fixture(scope="module")
def arduino_full() -> bytes:
    data = nearly_full("arduino", ca(8), 1500, 6, 553696)
    # the image SPIFFS was given
    assert hashlib.sha256(data).hexdigest().startswith("d4796447001db6d7")
    return data


@pytest.fixture(scope="module")
def idf_full() -> bytes:
    data = nearly_full("esp-idf", ca(18), 1500, 6, 538560)
    assert hashlib.sha256(data).hexdigest().startswith("0eeedf1a44f7d36b")
    return data


def mounted(img: SpiffsImage) -> tuple[int, ...]:
    """(SPIFFS_info total, used, stats_p_allocated, stats_p_deleted, free_blocks, free)"""
    vol = img._vol
    total, used = img.spiffs_info()
    return total, used, vol.stats_allocated, vol.stats_deleted, vol.free_blocks, vol.free_pages


def checks_of(monkeypatch: pytest.MonkeyPatch) -> Checks:
    """Each spiffs_gc_check call's inputs, in the harness's words."""
    seen: Checks = []
    real = SpiffsGc._gc_check

    def spy(self: SpiffsGc, length: int) -> None:
        seen.append(
            f"free={self._free_pages()} alloc={self.stats_allocated} "
            f"deleted={self.stats_deleted} free_blocks={self.free_blocks} len={length}"
        )
        real(self, length)

    monkeypatch.setattr(SpiffsGc, "_gc_check", spy)
    return seen


def test_counters_after_mount_are_spiffs_own(arduino_full: bytes, idf_full: bytes) -> None:
    cases = [
        (full_64k(), "esp-idf", (52961, 60240, 240, 0, 0, -30)),
        (arduino_full, "arduino", (1318001, 1197019, 4769, 500, 0, -19)),
        (idf_full, "esp-idf", (1318001, 1196768, 4768, 500, 0, -18)),
    ]
    for data, profile, spiffs in cases:
        assert mounted(SpiffsImage.open(data, profile)) == spiffs


def test_a_ca_write_sees_spiffs_figures_at_every_gc_check(
    arduino_full: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Arduino's 4 KiB writes: the truncation's check starts at -19, as in SPIFFS."""
    seen = checks_of(monkeypatch)
    img = SpiffsImage.open(arduino_full, "arduino")
    img.write("/ca.pem", ca(18))
    assert seen == [
        "free=-19 alloc=4769 deleted=500 free_blocks=0 len=502",
        "free=16 alloc=4728 deleted=506 free_blocks=3 len=4347",
        "free=14 alloc=4745 deleted=491 free_blocks=2 len=4347",
        "free=12 alloc=4761 deleted=477 free_blocks=2 len=4347",
        "free=7 alloc=4777 deleted=466 free_blocks=2 len=4347",
        "free=1 alloc=4794 deleted=455 free_blocks=2 len=4347",
        "free=4 alloc=4810 deleted=436 free_blocks=2 len=4347",
        "free=3 alloc=4826 deleted=421 free_blocks=2 len=595",
    ]
    assert mounted(img) == (1318001, 1211828, 4828, 410, 2, 12) and img.gc_runs == 27
    digest = hashlib.sha256(img.to_bytes()).hexdigest()
    assert digest == "0367b13e738bf189b580f495dd9cbd8c4750b23d8fc53732710789640eafec75"


def test_esp_idf_256_byte_writes_match_spiffs_from_minus_18(
    idf_full: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen = checks_of(monkeypatch)
    img = SpiffsImage.open(idf_full, "esp-idf")
    img.write("/ca.pem", ca(8))
    # SPIFFS's 42 lines, joined with newlines, hashed
    assert len(seen) == 42 and seen[0] == "free=-18 alloc=4768 deleted=500 free_blocks=0 len=502"
    joined = hashlib.sha256("\n".join(seen).encode()).hexdigest()
    assert joined == "fd6a04cc0596322c5de380883b01ed3881e9b491657b097ba2765258f8ce012c"
    assert mounted(img) == (1318001, 1181959, 4709, 509, 4, 32) and img.gc_runs == 17
    digest = hashlib.sha256(img.to_bytes()).hexdigest()
    assert digest == "b21acbd38a0e96238d9bdd72dac5b90f9ceb5902a4aa1828068c89b56812a34c"


def test_the_sign_decides_so_clamping_it_would_refuse_what_spiffs_writes(
    arduino_full: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With the figure held at 0, the first collection 'makes no progress' (0 to 0) and
    the write stops where SPIFFS, going -19, -15, ... 13, carried on and succeeded."""
    real = VolumeState._free_pages
    monkeypatch.setattr(VolumeState, "_free_pages", lambda self: max(0, real(self)))
    with pytest.raises(NoRoomError):
        SpiffsImage.open(arduino_full, "arduino").write("/ca.pem", ca(18))


def test_a_full_spiffsgen_image_refuses_writes_as_spiffs_does(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """SPIFFS: SPIFFS_open fails with SPIFFS_ERR_FULL (its truncation's check: 2 pages
    needed, -30 free, 0 deleted) and the image is unchanged; so here, and the message
    says why without a negative page count."""
    data = full_64k()
    seen = checks_of(monkeypatch)
    img = SpiffsImage.open(data, "esp-idf")
    with pytest.raises(NoRoomError):
        img.write("/x.bin", ca(1)[:1000])
    assert seen == ["free=-30 alloc=240 deleted=0 free_blocks=0 len=502"]
    with pytest.raises(NoRoomError) as e:
        img.write("/ca.pem", ca(1)[:1000])
    assert "the image has none free: its files already use 30 pages of the two blocks" in str(
        e.value
    )
    assert "-" not in str(e.value).split("no room", 1)[1]
    assert img.to_bytes() == data
