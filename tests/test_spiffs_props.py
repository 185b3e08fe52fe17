"""Property tests: random file sets and edit sequences round-trip; broken bytes never crash."""

from __future__ import annotations

from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from esp_cabundle.errors import ImageError
from esp_cabundle.fs.spiffs import SpiffsImage, build_spiffs_image

DATA = Path(__file__).resolve().parent / "data" / "spiffs"
BLOCK = 4096
PROFILES = st.sampled_from(["esp-idf", "mongoose-os"])
SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])

names = st.builds(
    lambda d, n: d + n,
    st.sampled_from(["", "certs/", "d/"]),
    # "." and ".." are refused as name parts (see test_hostile_inputs.py)
    st.text("abcdefghijklmnopqrstuvwxyz0123456789._-", min_size=1, max_size=18).filter(
        lambda n: n not in (".", "..")
    ),
)
# mostly small files, sometimes big enough for several object index pages
contents = st.one_of(
    st.binary(max_size=700),
    st.binary(min_size=700, max_size=4000),
    st.builds(
        lambda b, n: ((b or b"\x5a") * n)[:n], st.binary(max_size=8), st.integers(3000, 30000)
    ),
)
# at most ~125 KiB in all: always fits the 256 KiB images built below
file_sets = st.lists(st.tuples(names, contents), max_size=6, unique_by=lambda f: f[0]).filter(
    lambda fs: sum(len(d) for _, d in fs) <= 125_000
)


def listing(img: SpiffsImage) -> dict[str, bytes]:
    return {f.path: img.read(f.path) for f in img.files()}


def erase_count(image: bytes, block: int) -> int:
    return int.from_bytes(image[block * BLOCK + 254 : block * BLOCK + 256], "little")


def only_bits_cleared(old: bytes, new: bytes, skip: set[int]) -> bool:
    for b in range(len(old) // BLOCK):
        if b in skip:
            continue
        o = int.from_bytes(old[b * BLOCK : (b + 1) * BLOCK], "little")
        n = int.from_bytes(new[b * BLOCK : (b + 1) * BLOCK], "little")
        if n & ~o:
            return False
    return True


@SETTINGS
@given(profile=PROFILES, files=file_sets)
def test_built_images_read_back_exactly(profile: str, files: list[tuple[str, bytes]]) -> None:
    size = 256 * 1024
    image = build_spiffs_image(files, size=size, profile=profile)
    img = SpiffsImage.open(image)
    assert img.profile.name == profile
    assert listing(img) == {"/" + n: d for n, d in files}
    assert build_spiffs_image(files, size=size, profile=profile) == image  # deterministic


# medium-sized rewrites of few names: deleted pages pile up and GC has to run
edit_names = st.sampled_from(["ca.pem", "conf0.json", "certs/a.pem", "log", "d/x"]) | names
edit_contents = st.one_of(contents, st.binary(min_size=2000, max_size=9000))
ops = st.lists(
    st.one_of(
        st.tuples(st.just("write"), edit_names, edit_contents),
        st.tuples(st.just("remove"), edit_names, st.just(b"")),
    ),
    min_size=1,
    max_size=16,
)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(profile=PROFILES, files=file_sets, edits=ops)
def test_random_edit_sequences_keep_every_other_file(
    profile: str, files: list[tuple[str, bytes]], edits: list[tuple[str, str, bytes]]
) -> None:
    """A small (48 KiB) volume so that edits run out of room and GC runs often. Each edit
    either succeeds and changes only its file, or fails and changes no byte at all; blocks
    GC did not erase only ever have bits cleared (NOR flash)."""
    size = 48 * 1024
    try:
        image = build_spiffs_image(files, size=size, profile=profile)
    except ImageError:
        files = files[:2]
        image = build_spiffs_image([(n, d[:2000]) for n, d in files], size=size, profile=profile)
    img = SpiffsImage.open(image)
    model = listing(img)
    for op, name, data in edits:
        path = "/" + name
        before = img.to_bytes()
        try:
            if op == "write":
                img.write(name, data)
                model[path] = data
            else:
                img.remove(path)
                del model[path]
        except ImageError:
            assert img.to_bytes() == before
            assert (op == "remove" and path not in model) or op == "write"
        else:
            after = img.to_bytes()
            # a block GC erases gets a new erase count (SPIFFS's counter only grows)
            erased = {
                b for b in range(size // BLOCK) if erase_count(before, b) != erase_count(after, b)
            }
            assert erased <= set(img.erased_blocks())
            assert only_bits_cleared(before, after, erased)
        assert listing(img) == model
    again = SpiffsImage.open(img.to_bytes())
    assert again.profile.name == profile
    assert listing(again) == model


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    profile=PROFILES,
    storm=st.lists(
        st.tuples(st.sampled_from(["a", "b", "c"]), st.integers(500, 7000)), min_size=8, max_size=20
    ),
)
def test_rewrite_storms_force_garbage_collection(
    profile: str, storm: list[tuple[str, int]]
) -> None:
    """Rewrites on a 32 KiB volume holding a file that must survive: GC runs in nearly
    every example, moving the survivor's pages around, and nothing is ever lost."""
    keep = bytes(range(256)) * 12
    img = SpiffsImage.open(build_spiffs_image([("keep", keep)], size=32 * 1024, profile=profile))
    model = {"/keep": keep}
    for i, (name, n) in enumerate(storm):
        data = bytes([i]) * n
        before = img.to_bytes()
        try:
            img.write(name, data)
            model["/" + name] = data
        except ImageError:
            assert img.to_bytes() == before
        assert listing(SpiffsImage.open(img.to_bytes())) == model
    assert img.read("/keep") == keep


VECTORS = {name: (DATA / name).read_bytes() for name in ("idf-64k.bin", "mongoose-256k.bin")}


def _interesting_offsets(size: int) -> st.SearchStrategy[int]:
    # lookup tables, page headers and index headers are where damage matters most
    pages = size // 256
    return st.one_of(
        st.integers(0, size - 1),
        st.builds(
            lambda b, o: b * BLOCK + o, st.integers(0, size // BLOCK - 1), st.integers(0, 255)
        ),
        st.builds(lambda p, o: p * 256 + o, st.integers(0, pages - 1), st.integers(0, 80)),
    )


@st.composite
def damaged(draw: st.DrawFn) -> bytes:
    name = draw(st.sampled_from(sorted(VECTORS)))
    data = bytearray(VECTORS[name])
    for offset in draw(st.lists(_interesting_offsets(len(data)), min_size=1, max_size=6)):
        data[offset] = draw(
            st.sampled_from([0x00, 0xFF, data[offset] ^ 0x80, draw(st.integers(0, 255))])
        )
    if draw(st.booleans()):
        cut = draw(st.sampled_from([BLOCK, 5 * BLOCK, len(data) // 2, len(data) - BLOCK]))
        data = data[: cut + draw(st.sampled_from([0, 0, 1, 255]))]
    return bytes(data)


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=damaged())
def test_damaged_images_give_image_error_or_a_consistent_read(data: bytes) -> None:
    try:
        img = SpiffsImage.open(data)
    except ImageError:
        return
    files = listing(img)  # reading every listed file works
    again = SpiffsImage.open(img.to_bytes())
    assert listing(again) == files
    before = img.to_bytes()
    try:
        img.write("/ca.pem", b"replacement\n" * 40)
    except ImageError:
        assert img.to_bytes() == before
        return
    after = SpiffsImage.open(img.to_bytes())
    assert after.read("/ca.pem") == b"replacement\n" * 40
    for path, content in files.items():
        if path != "/ca.pem":
            assert after.read(path) == content


@settings(max_examples=60, deadline=None)
@given(data=st.binary(min_size=0, max_size=3 * BLOCK), blocks=st.integers(0, 20))
def test_random_bytes_are_never_mistaken_for_spiffs(data: bytes, blocks: int) -> None:
    raw = (data * (1 + blocks * BLOCK // max(1, len(data))))[: blocks * BLOCK] if data else data
    try:
        img = SpiffsImage.open(raw)
    except ImageError:
        return
    listing(img)  # vanishingly unlikely; if it mounts, it must read consistently
