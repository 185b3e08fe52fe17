"""SPIFFS against the vendors' own images: read them, rebuild them byte for byte, detect them."""

from __future__ import annotations

import hashlib
import struct
from pathlib import Path

import pytest

from esp_cabundle.errors import ImageError, InputError
from esp_cabundle.fs.spiffs import (
    SPIFFS_PROFILES,
    SpiffsImage,
    SpiffsProfile,
    build_spiffs_image,
    get_spiffs_profile,
    probe_spiffs,
)

DATA = Path(__file__).resolve().parent / "data" / "spiffs"

# SHA-256 of the source files, as published with the vectors.
SOURCE_SHA256 = {
    "ca.pem": "0d7e46b24af20521a3e81baf8de702b72c43aa57383cf688df44c5625ab85061",
    "mdash.cfg": "41b1a787b46c8de9582bc47d9a1dd1ea6069f7137a0659fb0f26a18b852c9467",
    "big.dat": "9e9d246c6f2055c51937a541459f32e97a3b9048b1c6794529e0b7865cf77fcf",
    "certs/extra.pem": "d8a34bfb5df6b4a0592b0a9cd6b3b9a9335bd431cb2ac32243ab298cba24cbf2",
    "conf0.json": "ecef62bda7bbc3bc9b96dc47c3a05edf2f2ed151f8bc8bd558e3ea2ebf7108aa",
    "conf9.json": "472dd36e485df95d2d59b4e8f038e1c0740de0f9a94cf35742a09dd4c7a650c1",
}
IDF_ORDER = ["ca.pem", "mdash.cfg", "big.dat", "certs/extra.pem"]
MG_ORDER = ["ca.pem", "conf0.json", "big.dat", "conf9.json"]
VECTORS = {
    "idf-64k.bin": ("esp-idf", IDF_ORDER),
    "idf-arduino-1408k.bin": ("esp-idf", IDF_ORDER),
    "mongoose-256k.bin": ("mongoose-os", MG_ORDER),
}


def vector(name: str) -> bytes:
    return (DATA / name).read_bytes()


def sources(tree: str, order: list[str]) -> list[tuple[str, bytes]]:
    return [(name, (DATA / tree / name).read_bytes()) for name in order]


@pytest.mark.parametrize("name", sorted(VECTORS))
def test_reads_every_file_of_the_vendor_images(name: str) -> None:
    profile, order = VECTORS[name]
    img = SpiffsImage.open(vector(name))
    assert img.profile.name == profile
    assert img.size == len(vector(name))
    assert [f.path for f in img.files()] == sorted("/" + n for n in order)
    for f in img.files():
        data = img.read(f.path)
        assert len(data) == f.size
        assert hashlib.sha256(data).hexdigest() == SOURCE_SHA256[f.path[1:]], f.path
    assert img.changed_blocks() == []  # reading changes nothing


def test_describe_reports_what_esp_spiffs_info_would() -> None:
    facts = SpiffsImage.open(vector("idf-64k.bin")).describe()
    assert facts["profile"] == "esp-idf" and facts["block count"] == 16 and facts["files"] == 4
    # SPIFFS_info: (blocks - 2) * 15 pages + 1 emergency page, 251 bytes each; used = 150 pages
    assert (facts["total bytes"], facts["used bytes"]) == (211 * 251, 150 * 251)


def test_meta_bytes_follow_each_platform() -> None:
    idf = SpiffsImage.open(vector("idf-64k.bin"))
    mg = SpiffsImage.open(vector("mongoose-256k.bin"))
    assert idf.meta("/ca.pem") == b"\0" * 4  # spiffsgen writes zeros
    assert mg.meta("ca.pem") == b"\xff" * 8  # Mongoose OS needs all ones


@pytest.mark.parametrize("name", ["idf-64k.bin", "idf-arduino-1408k.bin"])
def test_rebuilds_spiffsgen_images_byte_for_byte(name: str) -> None:
    image = vector(name)
    built = build_spiffs_image(sources("idf_src", IDF_ORDER), size=len(image), profile="esp-idf")
    assert built == image


def test_rebuilds_mkspiffs8_image_but_for_uninitialised_padding() -> None:
    """mkspiffs8 runs real SPIFFS: format, then create + one write per file. Our engine
    does the same; the only bytes that may differ are the header struct's padding, which
    SPIFFS copies from uninitialised stack memory (page offsets 5-7 and 69)."""
    image = vector("mongoose-256k.bin")
    built = build_spiffs_image(sources("mg_src", MG_ORDER), size=len(image), profile="mongoose-os")
    assert len(built) == len(image)
    diffs = [i for i in range(len(image)) if built[i] != image[i]]
    headers = set()
    for i in diffs:
        page = i // 256
        assert i % 256 in (5, 6, 7, 69), hex(i)
        obj_id, span, _flags = struct.unpack_from("<HHB", image, page * 256)
        assert obj_id & 0x8000 and span == 0, hex(i)  # only object index headers
        assert built[i] == 0xFF
        headers.add(page)
    # five headers were written by SPIFFS (four files and big.dat's moved header)
    assert len(headers) == 5
    assert SpiffsImage.open(built).files() == SpiffsImage.open(image).files()


def test_mkspiffs_emulation_moves_a_multi_index_header_like_spiffs() -> None:
    """big.dat needs two index pages, so SPIFFS rewrites its header into a new page at the
    end of the write and deletes the first one; the vector holds that deleted page."""
    image = vector("mongoose-256k.bin")
    built = build_spiffs_image(sources("mg_src", MG_ORDER), size=len(image), profile="mongoose-os")
    for img in (image, built):
        lookup = struct.unpack_from("<15H", img, 4096)  # block 1
        assert lookup[4] == 0  # the deleted first header of big.dat
        assert SpiffsImage.open(img).describe()["deleted pages"] == 1


@pytest.mark.parametrize("name", sorted(VECTORS))
def test_profile_is_detected_and_a_wrong_one_is_refused(name: str) -> None:
    profile, _ = VECTORS[name]
    data = vector(name)
    assert probe_spiffs(data) is get_spiffs_profile(profile)
    other = "mongoose-os" if profile == "esp-idf" else "esp-idf"
    with pytest.raises(ImageError, match=f"profile {profile}, not {other}"):
        SpiffsImage.open(data, other)
    assert SpiffsImage.open(data, profile).profile.name == profile


def test_profile_aliases_share_the_esp_idf_parameters() -> None:
    """Arduino-ESP32 and PlatformIO write ESP-IDF's on-disk format; only the way their
    firmware hands writes to SPIFFS differs (File.write: 4 KiB pieces)."""
    assert SPIFFS_PROFILES["platformio"] is SPIFFS_PROFILES["arduino"]
    idf, mg = SPIFFS_PROFILES["esp-idf"], SPIFFS_PROFILES["mongoose-os"]
    arduino = SPIFFS_PROFILES["arduino"]
    layout = ("page_size", "block_size", "obj_name_len", "meta_len", "use_magic")
    layout += ("use_magic_len", "aligned_obj_ix_tables", "name_prefix", "meta_fill")
    assert [getattr(arduino, f) for f in layout] == [getattr(idf, f) for f in layout]
    assert (idf.write_chunk, arduino.write_chunk, mg.write_chunk) == (256, 4096, 256)
    assert (idf.page_size, idf.block_size, idf.obj_name_len, idf.meta_len) == (256, 4096, 32, 4)
    assert (idf.use_magic, idf.use_magic_len, idf.aligned_obj_ix_tables) == (True, True, False)
    assert (idf.name_prefix, idf.meta_fill, idf.fs_type) == ("/", 0x00, "spiffs")
    assert (mg.obj_name_len, mg.meta_len, mg.use_magic_len, mg.aligned_obj_ix_tables) == (
        48,
        8,
        False,
        True,
    )
    assert (mg.name_prefix, mg.meta_fill, mg.ca_path) == ("", 0xFF, "/ca.pem")


def test_unknown_or_inconsistent_profiles_are_input_errors() -> None:
    with pytest.raises(InputError, match="unknown SPIFFS profile 'esp32'"):
        get_spiffs_profile("esp32")
    base = SPIFFS_PROFILES["esp-idf"]
    fields = {f: getattr(base, f) for f in base.__dataclass_fields__}
    with pytest.raises(InputError, match="page size 100"):
        SpiffsProfile(**{**fields, "page_size": 100})
    with pytest.raises(InputError, match="does not fit in a page"):
        SpiffsProfile(**{**fields, "obj_name_len": 250})
    with pytest.raises(InputError, match="fs_type"):
        SpiffsProfile(**{**fields, "fs_type": "littlefs"})


@pytest.mark.parametrize(
    "data",
    [
        b"\xff" * 65536,  # erased flash
        b"\0" * 65536,
        bytes(range(256)) * 256,
        b"littlefs" * 8192,
    ],
    ids=["erased", "zeros", "pattern", "text"],
)
def test_non_spiffs_bytes_are_refused_fast(data: bytes) -> None:
    assert probe_spiffs(data) is None
    with pytest.raises(ImageError, match="not a SPIFFS image"):
        SpiffsImage.open(data)


def test_a_slice_of_the_wrong_size_gets_a_hint() -> None:
    data = vector("idf-arduino-1408k.bin")[: 64 * 1024]
    with pytest.raises(ImageError) as err:
        SpiffsImage.open(data)
    assert "1,441,792-byte SPIFFS" in str(err.value)
    with pytest.raises(ImageError, match="not a SPIFFS image of profile esp-idf"):
        SpiffsImage.open(data, "esp-idf")


def test_odd_sizes_are_refused() -> None:
    with pytest.raises(ImageError, match="not a SPIFFS image"):
        SpiffsImage.open(vector("idf-64k.bin")[:-1])
    with pytest.raises(ImageError, match="multiple of the 4096-byte block"):
        SpiffsImage.create(5000)
    with pytest.raises(ImageError, match="at least 3 blocks"):
        SpiffsImage.create(8192)


def test_profiles_sharing_a_magic_are_told_apart_by_their_header_layout(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    base = SPIFFS_PROFILES["esp-idf"]
    fields = {f: getattr(base, f) for f in base.__dataclass_fields__}
    long_names = SpiffsProfile(**{**fields, "name": "long-names", "obj_name_len": 64})
    monkeypatch.setitem(SPIFFS_PROFILES, "long-names", long_names)
    data = build_spiffs_image([("/ca.pem", b"x" * 3000)], size=64 * 1024, profile=long_names)
    img = SpiffsImage.open(data)  # esp-idf is tried first, its layout does not parse
    assert img.profile is long_names
    assert img.read("/ca.pem") == b"x" * 3000
    assert SpiffsImage.open(vector("idf-64k.bin")).profile is base


def test_an_explicit_profile_reports_a_bad_size_first() -> None:
    with pytest.raises(ImageError, match="size 5,000 bytes is not a positive multiple"):
        SpiffsImage.open(b"\xff" * 5000, "mongoose-os")


def test_one_block_left_erased_by_a_power_cut_still_mounts() -> None:
    """SPIFFS tolerates one block whose erase was cut short (no magic, all 0xFF) and
    finishes the erase at mount; we defer that until the first edit."""
    data = bytearray(vector("idf-64k.bin"))
    data[12 * 4096 : 13 * 4096] = b"\xff" * 4096
    img = SpiffsImage.open(bytes(data))
    assert img.changed_blocks() == []
    assert len(img.files()) == 4
    img.write("/new.txt", b"x")
    assert 12 in img.erased_blocks()
    assert struct.unpack_from("<H", img.to_bytes(), 12 * 4096 + 252)[0] != 0xFFFF  # magic back
    again = SpiffsImage.open(img.to_bytes())
    assert again.read("/new.txt") == b"x"


def test_a_block_without_magic_holding_data_is_refused() -> None:
    data = bytearray(vector("idf-64k.bin"))
    data[2 * 4096 + 252 : 2 * 4096 + 254] = b"\0\0"
    with pytest.raises(ImageError, match=r"block 2 .* no SPIFFS magic and is not erased"):
        SpiffsImage.open(bytes(data))
