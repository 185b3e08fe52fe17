"""Editing SPIFFS images in place the way SPIFFS on the device does."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from esp_cabundle.errors import ImageError
from esp_cabundle.fs.spiffs import SpiffsImage, build_spiffs_image

DATA = Path(__file__).resolve().parent / "data"
VECTORS = ["idf-64k.bin", "idf-arduino-1408k.bin", "mongoose-256k.bin"]
BLOCK = 4096
NEW_CA = (DATA / "letsencrypt" / "isrgrootx1.pem").read_bytes() + (
    DATA / "letsencrypt" / "isrg-root-x2.pem"
).read_bytes()


def vector(name: str) -> bytes:
    return (DATA / "spiffs" / name).read_bytes()


def erase_counts(image: bytes) -> list[int]:
    return [struct.unpack_from("<H", image, b + 254)[0] for b in range(0, len(image), BLOCK)]


def only_bits_cleared(old: bytes, new: bytes, blocks: list[int]) -> bool:
    """NOR flash: outside erased blocks, programming can only turn 1 bits into 0."""
    for b in blocks:
        o = int.from_bytes(old[b * BLOCK : (b + 1) * BLOCK], "little")
        n = int.from_bytes(new[b * BLOCK : (b + 1) * BLOCK], "little")
        if n & ~o:
            return False
    return True


def contents(img: SpiffsImage) -> dict[str, bytes]:
    return {f.path: img.read(f.path) for f in img.files()}


@pytest.mark.parametrize("name", VECTORS)
@pytest.mark.parametrize("ca", [NEW_CA, b"short", NEW_CA * 3], ids=["2roots", "tiny", "6roots"])
def test_replacing_ca_pem_keeps_everything_else(name: str, ca: bytes) -> None:
    """One SPIFFS_write of the whole file (chunk=0): only bits cleared, nothing erased."""
    original = vector(name)
    img = SpiffsImage.open(original)
    before = contents(img)
    img.write("/ca.pem", ca, chunk=0)
    out = img.to_bytes()
    assert len(out) == len(original)
    reopened = SpiffsImage.open(out)
    assert reopened.profile == img.profile
    after = contents(reopened)
    assert after.pop("/ca.pem") == ca
    before.pop("/ca.pem")
    assert after == before  # every other file byte-identical
    assert erase_counts(out) == erase_counts(original)  # no block erased
    assert img.erased_blocks() == []
    touched = img.changed_blocks()
    assert 0 < len(touched) <= 6, touched
    assert only_bits_cleared(original, out, touched)
    # the replaced file keeps its meta bytes (ESP-IDF mtime / Mongoose file_meta)
    assert reopened.meta("/ca.pem") == SpiffsImage.open(original).meta("/ca.pem")


@pytest.mark.parametrize("name", VECTORS)
def test_the_3929_byte_ca_pem_rewritten_touches_four_sectors(name: str) -> None:
    original = vector(name)
    img = SpiffsImage.open(original)
    ca = img.read("/ca.pem")
    img.write("ca.pem", ca, chunk=0)  # same content, new pages: SPIFFS never rewrites in place
    assert len(img.changed_blocks()) == 4
    assert img.read("/ca.pem") == ca
    # as the firmware writes it (256-byte appends): each append after the first moves
    # the index header to a new page, which takes one more block
    device = SpiffsImage.open(original)
    device.write("ca.pem", ca)
    assert len(device.changed_blocks()) == 5
    assert device.read("/ca.pem") == ca and contents(device) == contents(img)


def test_replaced_pages_are_marked_deleted_in_lookup_and_header() -> None:
    original = vector("idf-64k.bin")
    img = SpiffsImage.open(original)
    img.write("/ca.pem", b"new")
    out = img.to_bytes()
    lookup0 = struct.unpack_from("<15H", out, 0)
    assert lookup0 == (0,) * 15  # ca.pem's header and 14 data pages: deleted
    for page in range(1, 16):
        flags = out[page * 256 + 4]
        assert flags & 0x80 == 0 and flags & 0x01 == 0  # DELET and USED cleared
    # the new header went to the first free page, block 10
    assert struct.unpack_from("<H", out, 10 * BLOCK)[0] == 0x8001  # same object id
    assert SpiffsImage.open(out).describe()["deleted pages"] == 17


def test_a_new_file_gets_a_fresh_object_id_like_spiffs() -> None:
    small = SpiffsImage.open(vector("idf-64k.bin"))
    small.write("/wifi.cfg", b"ssid x\n")
    lu = struct.unpack_from("<H", small.to_bytes(), 10 * BLOCK)[0]
    assert lu == 0x8005  # bitmap search: first unused id
    big = SpiffsImage.open(vector("idf-arduino-1408k.bin"))
    big.write("/wifi.cfg", b"ssid x\n")
    lu = struct.unpack_from("<H", big.to_bytes(), 10 * BLOCK)[0]
    assert lu == 0x8000 | 11  # 2640 possible ids: SPIFFS compacts them in buckets of 10
    assert big.meta("/wifi.cfg") == b"\0" * 4  # the profile's meta fill


def test_mongoose_names_are_stored_without_slash() -> None:
    img = SpiffsImage.open(vector("mongoose-256k.bin"))
    img.write("/conf1.json", b"{}")
    out = img.to_bytes()
    assert b"conf1.json\0" in out and b"/conf1.json" not in out
    assert SpiffsImage.open(out).read("conf1.json") == b"{}"
    assert SpiffsImage.open(out).meta("/conf1.json") == b"\xff" * 8


def test_remove_deletes_every_page_of_a_multi_index_file() -> None:
    img = SpiffsImage.open(vector("idf-64k.bin"))
    img.remove("/big.dat")
    out = img.to_bytes()
    again = SpiffsImage.open(out)
    assert [f.path for f in again.files()] == ["/ca.pem", "/certs/extra.pem", "/mdash.cfg"]
    assert again.describe()["deleted pages"] == 122  # 120 data + 2 index pages
    assert only_bits_cleared(vector("idf-64k.bin"), out, list(range(16)))


def test_files_larger_than_two_index_pages_round_trip() -> None:
    img = SpiffsImage.create(256 * 1024, "mongoose-os")
    big = bytes(range(256)) * 300  # 76800 bytes: 306 data pages, 3 index pages
    img.write("/blob", big)
    img.write("/blob", big[::-1])
    img.write("/small", b"s")
    img.remove("/blob")
    img.write("/blob", big)
    again = SpiffsImage.open(img.to_bytes())
    assert again.read("/blob") == big and again.read("/small") == b"s"


def test_garbage_collection_reclaims_blocks_like_spiffs() -> None:
    """Rewrite ca.pem on the 64 KiB image until SPIFFS's GC has to run: it moves live
    pages out of the best-scoring block, erases it and writes its erase count."""
    original = vector("idf-64k.bin")
    img = SpiffsImage.open(original)
    keep = {p: b for p, b in contents(img).items() if p != "/ca.pem"}
    rounds = 0
    while img.gc_runs < 3:
        rounds += 1
        assert rounds < 40
        payload = NEW_CA * (1 + rounds % 3)
        img.write("/ca.pem", payload)
        again = SpiffsImage.open(img.to_bytes())
        assert again.read("/ca.pem") == payload
        assert {p: again.read(p) for p in keep} == keep
    out = img.to_bytes()
    erased = img.erased_blocks()
    assert erased
    counts = erase_counts(out)
    for b in erased:
        assert counts[b] != 0xFFFF  # the erase count SPIFFS writes after erasing
    untouched = [b for b in range(16) if b not in erased]
    assert only_bits_cleared(original, out, untouched)
    assert all(counts[b] == 0xFFFF for b in untouched)


def test_gc_moves_live_pages_of_other_files_intact() -> None:
    """Fill a small volume, delete every other file, then write a large one: GC must
    clean blocks that still hold live pages of the files that stay."""
    for profile in ("esp-idf", "mongoose-os"):
        files = [(f"/f{i:02d}", bytes([i]) * (600 + 97 * i)) for i in range(24)]
        img = SpiffsImage.open(build_spiffs_image(files, size=64 * 1024, profile=profile))
        for path, _ in files[::2]:
            img.remove(path)
        img.write("/big", b"B" * 12000)  # Mongoose OS stops after 5 GC runs
        assert img.gc_runs > 0, profile
        again = SpiffsImage.open(img.to_bytes())
        assert again.read("/big") == b"B" * 12000
        for path, data in files[1::2]:
            assert again.read(path) == data, (profile, path)
        assert sorted(f.path for f in again.files()) == sorted(
            ["/big"] + [p for p, _ in files[1::2]]
        )


def test_empty_files_from_spiffsgen_can_be_rewritten() -> None:
    """spiffsgen stores an empty file with size 0 where SPIFFS would leave 0xFFFFFFFF;
    writing into such a header in place would keep size 0, so the header moves."""
    data = build_spiffs_image([("/empty", b""), ("/x", b"x")], size=64 * 1024, profile="esp-idf")
    img = SpiffsImage.open(data)
    assert img.read("/empty") == b""
    img.write("/empty", b"now with data")
    assert SpiffsImage.open(img.to_bytes()).read("/empty") == b"now with data"
    img.write("/x", b"")
    assert SpiffsImage.open(img.to_bytes()).read("/x") == b""


# -- every error leaves the image unchanged ---------------------------------------------------


@pytest.mark.parametrize("name", VECTORS)
def test_a_file_larger_than_the_free_space_changes_nothing(name: str) -> None:
    original = vector(name)
    img = SpiffsImage.open(original)
    with pytest.raises(ImageError, match="no room in the SPIFFS image"):
        img.write("/ca.pem", b"x" * len(original))
    assert img.to_bytes() == original
    assert img.changed_blocks() == []
    assert img.read("/ca.pem") == SpiffsImage.open(original).read("/ca.pem")
    img.write("/ca.pem", b"still editable")  # state restored, not just the bytes
    assert SpiffsImage.open(img.to_bytes()).read("/ca.pem") == b"still editable"


def test_full_after_truncating_restores_the_old_file() -> None:
    """SPIFFS itself would leave the file truncated; we roll the whole edit back."""
    files = [("/a", b"a" * 20000), ("/b", b"b" * 20000)]
    original = build_spiffs_image(files, size=64 * 1024, profile="esp-idf")
    img = SpiffsImage.open(original)
    with pytest.raises(ImageError, match="no room"):
        img.write("/a", b"A" * 45000)
    assert img.to_bytes() == original
    assert img.read("/a") == b"a" * 20000


@pytest.mark.parametrize(
    ("profile", "name", "limit"),
    [("esp-idf", "/" + "n" * 31, 31), ("mongoose-os", "m" * 48, 47)],
)
def test_names_longer_than_the_profile_allows(profile: str, name: str, limit: int) -> None:
    img = SpiffsImage.create(64 * 1024, profile)
    before = img.to_bytes()
    with pytest.raises(ImageError, match=f"allows at most {limit}"):
        img.write(name, b"x")
    assert img.to_bytes() == before
    with pytest.raises(ImageError, match=f"allows at most {limit}"):
        build_spiffs_image([(name, b"x")], size=64 * 1024, profile=profile)
    img.write(name[:-1], b"x")  # one byte shorter fits
    assert img.read(name[:-1]) == b"x"


def test_bad_names_are_refused() -> None:
    img = SpiffsImage.create(64 * 1024)
    before = img.to_bytes()
    for bad in ("/", "", "a\0b"):
        with pytest.raises(ImageError):
            img.write(bad, b"x")
    assert img.to_bytes() == before


def test_a_free_page_that_is_not_erased_is_refused() -> None:
    """SPIFFS would program the new file over it (NOR: an AND) and store garbage."""
    damaged = bytearray(vector("idf-64k.bin"))
    damaged[10 * BLOCK + 256 + 40] = 0x00  # inside the first free page, block 10
    img = SpiffsImage.open(bytes(damaged))  # reading is fine: no file uses that page
    with pytest.raises(ImageError, match="free in the lookup table but not erased"):
        img.write("/ca.pem", NEW_CA)
    assert img.to_bytes() == bytes(damaged)


def test_removing_a_missing_file_changes_nothing() -> None:
    original = vector("mongoose-256k.bin")
    img = SpiffsImage.open(original)
    with pytest.raises(ImageError, match="no file '/nope' in the SPIFFS image"):
        img.remove("/nope")
    with pytest.raises(ImageError, match="no file '/nope'"):
        img.read("nope")
    assert img.to_bytes() == original


def test_a_folder_name_says_spiffs_keeps_none_and_names_the_files_under_it() -> None:
    """'fs rm IMAGE /cfg' (or /cfg/) on an image listing /cfg/a.json found "no file" and
    only the general hint: SPIFFS keeps no folders, so the files are named whole."""
    files = [("/cfg/a.json", b"{}"), ("/cfg/b.txt", b"x"), ("/cfgx", b"y")]
    files += [(f"/cfg/n{i}", b"z") for i in range(5)]
    original = build_spiffs_image(files, size=64 * 1024, profile="esp-idf")
    img = SpiffsImage.open(original)
    for name in ("/cfg", "/cfg/"):
        with pytest.raises(ImageError) as e:
            img.remove(name)
        text = str(e.value)
        assert f"no file '{name}'" in text and "SPIFFS keeps no folders" in text, text
        assert "7 files named under /cfg/" in text and "/cfg/a.json, /cfg/b.txt" in text, text
        assert "and 2 more" in text and "/cfgx" not in text, text
    with pytest.raises(ImageError) as e:
        img.read("/cf")  # no file under it: the message as before
    assert "folders" not in str(e.value)
    assert img.to_bytes() == original


def test_build_refuses_duplicates_and_overflow() -> None:
    with pytest.raises(ImageError, match="duplicate file '/a'"):
        build_spiffs_image([("a", b"1"), ("/a", b"2")], size=64 * 1024, profile="esp-idf")
    for profile in ("esp-idf", "mongoose-os"):
        with pytest.raises(ImageError, match=r"do(es)? not fit"):
            build_spiffs_image([("/big", b"x" * 70000)], size=64 * 1024, profile=profile)


def test_create_gives_the_platform_tools_empty_image() -> None:
    idf = SpiffsImage.create(64 * 1024)
    assert idf.files() == [] and idf.profile.name == "esp-idf"
    raw = idf.to_bytes()
    assert erase_counts(raw) == [0xFFFF] * 16  # spiffsgen never writes erase counts
    mg = SpiffsImage.create(64 * 1024, "mongoose-os").to_bytes()
    assert erase_counts(mg) == [0] * 16  # SPIFFS_format writes 0 everywhere
    assert SpiffsImage.open(mg).profile.name == "mongoose-os"
    idf.write("/ca.pem", NEW_CA)
    assert SpiffsImage.open(idf.to_bytes()).read("/ca.pem") == NEW_CA
