"""SPIFFS garbage collection's victim search keeps per-block counts instead of scoring
every block's lookup entries for every write (a 12 MB file into a 15 MiB image took
over a minute to be refused): it must pick exactly the blocks the plain search picked,
so the images the tool accepts and the bytes it leaves stay the same.
Speed: benchmarks/bench_spiffs.py."""

from __future__ import annotations

import pytest
from support.spiffs_gc_cases import CASES, Case, payload, replay

from esp_cabundle.errors import ImageError
from esp_cabundle.fs.spiffs import SpiffsImage
from esp_cabundle.fs.spiffs_gc import SpiffsGc
from esp_cabundle.fs.spiffs_layout import OBJ_ID_DELETED, OBJ_ID_FREE
from esp_cabundle.fs.spiffs_volume import VolumeState

# Computed with the plain search (esp_cabundle/fs/spiffs_gc.py before per-block counts,
# commit a3792a4): final image sha256, each write "+" done or "-" refused, and the
# garbage collections run. The search's choices decide every one of them.
OLD_RESULTS = {
    "idf-128k-storm": (
        "b024f19c5e7ceaf0fb823c4ddc854f779962850258a8a53146c00e67fb523e8a",
        "+++++--+",
        401,
    ),
    "idf-256k-aged": (
        "29d6281b6fdd49c4fe69d039588074baea78631804222248966f93fb425b76dc",
        "++++-+-",
        291,
    ),
    "idf-256k-wrap": (
        "164cd07e2309025c266ac9e1605843f5eda1eacbb5e6218f32a0c1fc28299e0e",
        "++++-+-",
        299,
    ),
    "idf-256k-above-max": (
        "06178eaa26665af69f98379fafd48f3bdde4d939b606b22c3f662191b1459f6e",
        "++++-+",
        294,
    ),
    "arduino-256k-4k-pieces": (
        "ace8d338faa98a45a8c276ccc634a144a55e4a2a041fb8469e11dac17eb21c9e",
        "+-+--",
        263,
    ),
    "idf-128k-one-call": (
        "1559a53fb46f821718d82bfff82ddb9a0c84fe7ac486fadf040d72a50f84f953",
        "++---",
        10,
    ),
    "mongoose-256k-storm": (
        "2662424f6c4eaa045f20930494c00bd696c793bcd3d5996962a90e1a5ce7aaf8",
        "++++++",
        446,
    ),
    "mongoose-256k-one-call": (
        "60212b3a19616f01df43fd155377ab8bbec1f9942b94266a6d323d92c63eeaec",
        "++-+--",
        7,
    ),
    "mongoose-128k-holes": (
        "e5bf62030599d733c11abd9a8db6b298bc88921fbeee53f66979ab81bff30c73",
        "++---+",
        20,
    ),
    "idf-128k-holes": (
        "29888f058eea44ab72c71a8130bd9d794c591cfc31e675c98ca6d1e824b7114f",
        "++-+-+",
        35,
    ),
}


def plain_search(vol: SpiffsGc, crammed: bool) -> int:
    """The search as it was (spiffs_gc_find_candidate scoring every block), the
    reference the kept counts must agree with."""
    g = vol.g
    epb = g.entries_per_block
    best, best_score = 0, None
    for b in range(g.block_count):
        deleted = used = 0
        for oid in vol.lu[b * epb : (b + 1) * epb]:
            if oid == OBJ_ID_FREE:
                break
            if oid == OBJ_ID_DELETED:
                deleted += 1
            else:
                used += 1
        ec = vol._u16(g.erase_count_addr(b))
        if vol.max_erase_count > ec:
            age = vol.max_erase_count - ec
        else:
            age = (OBJ_ID_FREE - (ec - vol.max_erase_count)) & 0xFFFF
        score = deleted * 5 - used + (0 if crammed else age * 50)
        if g.profile.gc_flavour == "mongoose" and deleted == 0:
            score = -g.pages_per_block
        if best_score is None or score > best_score:
            best, best_score = b, score
    return best


def outcome(case: Case) -> tuple[str, str, int]:
    digest, outcomes, gc_runs = replay(case)
    return digest, "".join("+" if o == "ok" else "-" for o in outcomes), gc_runs


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_nearly_full_images_end_as_with_the_plain_search(case: Case) -> None:
    assert outcome(case) == OLD_RESULTS[case.name]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_every_victim_is_the_plain_search_s(case: Case, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each time, not only in the end: the kept counts agree with a full rescan."""
    fast = SpiffsGc._gc_find_candidate
    calls = []

    def checked(vol: SpiffsGc, crammed: bool) -> int:
        victim = fast(vol, crammed)
        assert victim == plain_search(vol, crammed)
        calls.append(victim)
        return victim

    monkeypatch.setattr(SpiffsGc, "_gc_find_candidate", checked)
    assert outcome(case) == OLD_RESULTS[case.name]
    assert calls


def test_a_12_mb_file_into_a_15_mib_image_is_refused_in_bounded_time() -> None:
    """The write the plain search took over a minute to refuse (each 256-byte append
    scored all 3840 blocks once per collection); the answer is the one it gave, and
    the image is unchanged (speed: benchmarks/bench_spiffs.py)."""
    img = SpiffsImage.create(15 << 20, "esp-idf")
    before = img.to_bytes()
    with pytest.raises(ImageError, match=r"needs 3 pages after garbage collection"):
        img.write("/big.bin", payload(1, 12_000_000))
    assert img.to_bytes() == before


def test_a_collection_counts_only_the_blocks_that_changed(monkeypatch: pytest.MonkeyPatch) -> None:
    """The work, not the time: a block's erase count is read when its score must be
    worked out again, which for a collection is a few blocks, not all 512 of a 2 MiB
    image (the plain search read every one each time)."""
    reads = searches = 0
    u16 = VolumeState._u16
    fast = SpiffsGc._gc_find_candidate

    def counted_u16(vol: VolumeState, addr: int) -> int:
        nonlocal reads
        reads += 1
        return u16(vol, addr)

    def counted_search(vol: SpiffsGc, crammed: bool) -> int:
        nonlocal searches
        searches += 1
        return fast(vol, crammed)

    img = SpiffsImage.create(2 << 20, "esp-idf")
    monkeypatch.setattr(VolumeState, "_u16", counted_u16)
    monkeypatch.setattr(SpiffsGc, "_gc_find_candidate", counted_search)
    with pytest.raises(ImageError, match=r"needs 3 pages after garbage collection"):
        img.write("/big.bin", payload(2, 1_600_000))
    assert searches > 500
    assert reads < 512 + 20 * searches  # one full count, then the changed blocks
