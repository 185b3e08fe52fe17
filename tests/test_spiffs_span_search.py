"""SPIFFS's search for an object index page (spiffs_obj_lu_find_id_and_span) goes
through a kept (id, span) index instead of reading the header of every page of the
object's id from the cursor (most of the seconds a 12 MB write into a 15 MiB image took
to be refused). It must answer as the walk did, for every search: the same page and the
same cursor left behind, so the images written and the writes refused stay the same.
Speed: benchmarks/bench_spiffs.py."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator

import pytest
from support.spiffs_gc_cases import CASES, Case, payload, replay

from esp_cabundle.errors import ImageError
from esp_cabundle.fs.spiffs import SpiffsImage
from esp_cabundle.fs.spiffs_engine import SpiffsVolume
from esp_cabundle.fs.spiffs_layout import (
    FLAG_DELET,
    FLAG_FINAL,
    FLAG_IXDELE,
    FLAG_USED,
    IX_FLAG,
    OBJ_ID_DELETED,
    OBJ_ID_FREE,
    U16,
    Geometry,
    get_spiffs_profile,
)
from esp_cabundle.fs.spiffs_volume import NotFound, SpiffsCorrupt, SpiffsFull, VolumeState

FAST = VolumeState._find_id_and_span


def walk_search(vol: VolumeState, oid: int, spix: int) -> int:
    """The search as it was (esp_cabundle/fs/spiffs_volume.py before the span index):
    the lookup entries holding ``oid`` from the cursor round, each page's header read,
    the first live page of the span taken. The reference the index must agree with."""
    g = vol.g
    for entry in vol._entries_with(oid, vol.cursor):
        pix = g.pix(entry)
        ph_id, ph_spix, flags = vol._header(pix)
        if (
            ph_id == oid
            and ph_spix == spix
            and flags & (FLAG_FINAL | FLAG_DELET | FLAG_USED) == FLAG_DELET
            and not (oid & IX_FLAG and not flags & FLAG_IXDELE and ph_spix == 0)
        ):
            vol.cursor = entry
            return pix
    raise NotFound


def answer(
    search: Callable[[VolumeState, int, int], int], vol: VolumeState, oid: int, spix: int
) -> tuple[int | None, int]:
    """(page or None for NotFound, cursor after) of one search."""
    try:
        pix: int | None = search(vol, oid, spix)
    except NotFound:
        pix = None
    return pix, vol.cursor


@pytest.fixture
def checked(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[int | None]]:
    """Every search answered by both: the walk first (from the same cursor), then the
    index, which must agree; yields the answers."""
    answers: list[int | None] = []

    def both(vol: VolumeState, oid: int, spix: int) -> int:
        cursor = vol.cursor
        want = answer(walk_search, vol, oid, spix)
        vol.cursor = cursor
        got = answer(FAST, vol, oid, spix)
        assert got == want, (oid, spix, cursor)
        answers.append(got[0])
        if got[0] is None:
            raise NotFound
        return got[0]

    monkeypatch.setattr(VolumeState, "_find_id_and_span", both)
    yield answers


def run(writes: list[tuple[int, str, int]]) -> list[tuple[str, str, int]]:
    """Each write's (image digest, outcome or refusal, collections) on a fresh image."""
    results = []
    for size, profile, n in writes:
        img = SpiffsImage.create(size, profile)
        try:
            img.write("/big.bin", payload(3, n))
            outcome = "ok"
        except ImageError as e:
            outcome = str(e)
        results.append((hashlib.sha256(img.to_bytes()).hexdigest(), outcome, img.gc_runs))
    return results


# Writes into empty images of each profile that collect garbage over and over, some
# fitting and some refused only after collecting (the shape of the 15 MiB figures).
WRITES = [
    (2 << 20, "esp-idf", 1_200_000),
    (2 << 20, "esp-idf", 1_600_000),
    (1 << 20, "arduino", 700_000),
    (1 << 20, "arduino", 820_000),
    (1 << 20, "mongoose-os", 760_000),
    (1 << 20, "mongoose-os", 900_000),
]


def test_big_writes_end_as_with_the_walk(
    monkeypatch: pytest.MonkeyPatch, checked: list[int | None]
) -> None:
    with_index = run(WRITES)
    assert len(checked) > 1000
    assert {r[1] == "ok" for r in with_index} == {True, False}
    monkeypatch.setattr(VolumeState, "_find_id_and_span", walk_search)
    assert run(WRITES) == with_index


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_nearly_full_images_search_as_the_walk(
    case: Case, monkeypatch: pytest.MonkeyPatch, checked: list[int | None]
) -> None:
    """The garbage-collection cases (erase counts, holes, every chunk size): each search
    agrees, and the images and refusals match a run with the walk alone."""
    with_index = replay(case)
    assert checked
    monkeypatch.setattr(VolumeState, "_find_id_and_span", walk_search)
    assert replay(case) == with_index


def _volume_with_twins() -> tuple[SpiffsVolume, list[tuple[int, int]]]:
    """A volume where some (id, span) pairs have two pages a search could take, and
    others a page that fails one of SPIFFS's checks: a copy of each index page put in a
    free page, each copy spoiled in one way or kept intact."""
    img = SpiffsImage.create(256 * 1024, "esp-idf")
    img.write("/a.bin", payload(1, 60_000))
    img.write("/b.bin", payload(2, 40_000))
    buf = bytearray(img.to_bytes())
    geo = Geometry.of(get_spiffs_profile("esp-idf"), len(buf))
    vol = SpiffsVolume(buf, geo)
    vol.mount()
    ps = geo.page_size
    ix = [e for e, oid in enumerate(vol.lu) if oid & IX_FLAG and oid != OBJ_ID_FREE]
    free = [e for e, oid in enumerate(vol.lu) if oid == OBJ_ID_FREE][::-7]
    spoil = [
        lambda page: None,  # an intact twin
        lambda page: page.__setitem__(4, page[4] | FLAG_FINAL),  # not finalized
        lambda page: page.__setitem__(4, page[4] & ~FLAG_DELET),  # deleted in its header
        lambda page: U16.pack_into(page, 0, 0x8123),  # another id in its header
        lambda page: page.__setitem__(4, page[4] | FLAG_IXDELE),  # a header being deleted
    ]
    for k, (src, dst) in enumerate(zip(ix, free, strict=False)):
        page = bytearray(buf[geo.pix(src) * ps : (geo.pix(src) + 1) * ps])
        spoil[k % len(spoil)](page)
        buf[geo.pix(dst) * ps : (geo.pix(dst) + 1) * ps] = page
        b, i = divmod(dst, geo.entries_per_block)
        U16.pack_into(buf, b * geo.block_size + 2 * i, vol.lu[src])
    vol.mount()
    keys = sorted({(vol.lu[e], vol._header(geo.pix(e))[1]) for e in ix})
    return vol, [*keys, (keys[0][0], 999), (0x8777, 0)]


def test_twins_and_spoiled_copies_are_found_as_the_walk_finds_them() -> None:
    """From every cursor position, every (id, span): the first passing page from the
    cursor, as SPIFFS's walk takes it (a damaged image can hold two)."""
    vol, keys = _volume_with_twins()
    total = len(vol.lu)
    twins = 0
    for oid, spix in keys:
        seen = set()
        for cursor in range(0, total + 3, 5):
            vol.cursor = cursor
            want = answer(walk_search, vol, oid, spix)
            vol.cursor = cursor
            assert answer(FAST, vol, oid, spix) == want, (oid, spix, cursor)
            seen.add(want[0])
        twins += len(seen - {None}) > 1
    assert twins >= 2  # the cursor decided between two pages for some spans


def test_the_index_follows_pages_moved_deleted_and_erased(checked: list[int | None]) -> None:
    """Edits between searches on the damaged volume (rewrites that delete index pages
    and collect garbage, moving and erasing them): every search still agrees."""
    vol, _ = _volume_with_twins()
    outcomes = []
    for n in (90_000, 120_000, 70_000, 150_000, 100_000):
        try:
            vol.rewrite_file(b"/a.bin", payload(n, n), chunk=256)
            outcomes.append("ok")
        except (SpiffsFull, SpiffsCorrupt) as e:
            outcomes.append(type(e).__name__)
    assert vol.gc_runs > 50 and len(checked) > 20
    assert "ok" in outcomes


def test_a_search_reads_only_the_pages_that_can_match(monkeypatch: pytest.MonkeyPatch) -> None:
    """The work, not the time: the walk read the header of every page of the object's
    id between the cursor and the one it wanted; the index reads the candidates for
    the span, and each index page written since the last search once."""
    reads = searches = 0
    header = VolumeState._header
    counting = False

    def counted_header(vol: VolumeState, pix: int) -> tuple[int, int, int]:
        nonlocal reads
        reads += counting
        return header(vol, pix)

    def counted_search(vol: VolumeState, oid: int, spix: int) -> int:
        nonlocal searches, counting
        searches += 1
        counting = True
        try:
            return FAST(vol, oid, spix)
        finally:
            counting = False

    monkeypatch.setattr(VolumeState, "_header", counted_header)
    monkeypatch.setattr(VolumeState, "_find_id_and_span", counted_search)
    img = SpiffsImage.create(2 << 20, "esp-idf")
    with pytest.raises(ImageError, match=r"needs 3 pages after garbage collection"):
        img.write("/big.bin", payload(2, 1_600_000))
    assert searches > 500
    # the walk read 12 headers a search here (30246), about 100 in a 15 MiB image; the
    # index reads the one candidate and each index page moved since (one or two)
    assert reads < 4 * searches


def test_deleted_and_free_ids_are_searched_by_walking() -> None:
    """SPIFFS never searches for them, but the walk's answer stands if asked."""
    vol, _ = _volume_with_twins()
    for oid in (OBJ_ID_FREE, OBJ_ID_DELETED, 0x0123):
        vol.cursor = 17
        want = answer(walk_search, vol, oid, 0)
        vol.cursor = 17
        assert answer(FAST, vol, oid, 0) == want
