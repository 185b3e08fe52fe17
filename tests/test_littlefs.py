"""LittleFS through littlefs-python: the Mongoose OS vector, versions kept, nothing formatted."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import pytest

from esp_cabundle.errors import ImageError
from esp_cabundle.fs.littlefs import (
    DISK_VERSION_2_0,
    DISK_VERSION_2_1,
    LITTLEFS_PROFILES,
    LittleFsImage,
    build_littlefs_image,
    find_superblock,
)

DATA = Path(__file__).parent / "data" / "littlefs"
VECTOR = DATA / "mongoose-lfs20-256k.bin"
SRC = DATA / "src"
NEW_CA = (Path(__file__).parent / "data" / "letsencrypt" / "isrg-root-x2.pem").read_bytes()


@pytest.fixture(scope="module")
def vector() -> bytes:
    return VECTOR.read_bytes()


def expected_files() -> dict[str, bytes]:
    files = {"/" + p.name: p.read_bytes() for p in SRC.iterdir()}
    files["/log.txt"] = b"boot\n" * 12
    return files


def lfs_default_image(files: dict[str, bytes], blocks: int = 32) -> bytes:
    """An image made by littlefs-python with its defaults (disk version 2.1)."""
    from littlefs import LittleFS

    fs = LittleFS(block_size=4096, block_count=blocks, mount=False)
    fs.format()
    fs.mount()
    for name, data in files.items():
        with fs.open(name, "wb") as f:
            f.write(data)
    fs.unmount()
    return bytes(fs.context.buffer)


def test_mongoose_vector_lists_exactly_its_files(vector: bytes) -> None:
    img = LittleFsImage.open(vector)
    expected = expected_files()
    assert [f.path for f in img.files()] == sorted(expected)
    for f in img.files():
        assert f.size == len(expected[f.path])
        assert img.read(f.path) == expected[f.path]


def test_mongoose_vector_detected(vector: bytes) -> None:
    img = LittleFsImage.open(vector)
    assert img.profile.name == "mongoose-os"
    assert img.disk_version == DISK_VERSION_2_0
    assert img.block_count == 64
    assert img.describe()["disk version"] == "2.0"
    assert "mongoose-os" in img.detection


@pytest.mark.parametrize("profile", [None, "mongoose-os"])
def test_replace_ca_keeps_version_count_and_other_files(vector: bytes, profile: str | None) -> None:
    img = LittleFsImage.open(vector, profile)
    img.write("/ca.pem", NEW_CA)
    touched = img.changed_blocks()
    assert 0 < len(touched) <= 4
    out = img.to_bytes()
    assert len(out) == len(vector)
    again = LittleFsImage.open(out)
    assert again.disk_version == DISK_VERSION_2_0
    assert again.block_count == 64
    assert again.read("/ca.pem") == NEW_CA
    expected = expected_files()
    for name, data in expected.items():
        if name != "/ca.pem":
            assert again.read(name) == data
    assert [f.path for f in again.files()] == sorted(expected)
    # only the touched blocks differ
    for i in range(len(out) // 4096):
        same = out[i * 4096 : (i + 1) * 4096] == vector[i * 4096 : (i + 1) * 4096]
        assert same == (i not in touched)


def test_superblock_parsed_without_littlefs(vector: bytes) -> None:
    sb = find_superblock(vector)
    assert sb is not None
    assert (sb.version, sb.block_size, sb.block_count, sb.name_max) == (0x20000, 4096, 64, 255)
    assert find_superblock(b"\xff" * 8192) is None


def test_default_littlefs_python_image_stays_2_1() -> None:
    raw = lfs_default_image({"/ca.pem": b"old", "/keep.bin": bytes(range(256)) * 20})
    img = LittleFsImage.open(raw)
    assert img.disk_version == DISK_VERSION_2_1
    img.write("/ca.pem", NEW_CA)
    again = LittleFsImage.open(img.to_bytes())
    assert again.disk_version == DISK_VERSION_2_1
    assert again.block_count == 32
    assert again.read("/keep.bin") == bytes(range(256)) * 20


def test_editing_2_0_with_littlefs_python_defaults_would_upgrade(vector: bytes) -> None:
    """The pitfall this module exists to avoid is real with the installed littlefs-python."""
    from littlefs import LittleFS, UserContext

    buf = bytearray(vector)
    fs = LittleFS(context=UserContext(buffer=buf), block_size=4096, block_count=0, mount=False)
    fs.mount()
    with fs.open("/ca.pem", "wb") as f:
        f.write(NEW_CA)
    assert fs.fs_stat().disk_version == DISK_VERSION_2_1
    assert LittleFsImage.open(bytes(buf)).disk_version == DISK_VERSION_2_1
    # ...while ours keeps 2.0 (see above)


def patch_superblock(vector: bytes, field: int, value: int) -> bytes:
    """Set one u32 of the superblock struct in blocks 0 and 1 and re-seal their first
    commit's CRC, so only littlefs' own checks can object."""
    buf = bytearray(vector)
    for block in (0, 1):
        base = block * 4096
        struct.pack_into("<I", buf, base + 20 + 4 * field, value)
        # first commit: rev, superblock name tag, inline struct, then the CRC tag at 44
        crc = zlib.crc32(bytes(buf[base : base + 48])) ^ 0xFFFFFFFF
        struct.pack_into("<I", buf, base + 48, crc)
    return bytes(buf)


def test_bad_image_is_never_formatted(vector: bytes) -> None:
    # attr_max 5000 > littlefs' 1022: littlefs refuses to mount it
    buf = bytearray(patch_superblock(vector, 5, 5000))
    before = bytes(buf)
    with pytest.raises(ImageError, match="does not mount") as err:
        LittleFsImage.open(buf)
    assert "not formatted" in str(err.value)
    assert bytes(buf) == before
    # The same bytes under littlefs-python's default mount=True would be wiped:
    from littlefs import LittleFS, UserContext

    wiped = bytearray(before)
    fs = LittleFS(context=UserContext(buffer=wiped), block_size=4096, block_count=64)
    assert fs.listdir("/") == []
    assert bytes(wiped) != before


def test_corrupt_superblock_commit(vector: bytes) -> None:
    buf = bytearray(vector)
    for block in (0, 1):
        buf[block * 4096 + 30] ^= 0x01  # inside the struct: the commit CRC no longer matches
    with pytest.raises(ImageError, match=r"superblock .* unreadable"):
        LittleFsImage.open(bytes(buf))


@pytest.mark.parametrize(
    ("data", "match"),
    [
        (b"\xff" * 65536, "no 'littlefs' magic"),
        (bytes(range(256)) * 256, "no 'littlefs' magic"),
        (b"", "no 'littlefs' magic"),
    ],
)
def test_not_littlefs(data: bytes, match: str) -> None:
    with pytest.raises(ImageError, match=match):
        LittleFsImage.open(data)


def test_truncated_image(vector: bytes) -> None:
    with pytest.raises(ImageError, match="truncated"):
        LittleFsImage.open(vector[: 40 * 4096])
    with pytest.raises(ImageError):
        LittleFsImage.open(vector[:30])


def test_unreadable_superblock_entry(vector: bytes) -> None:
    buf = bytearray(vector)
    for block in (0, 1):
        buf[block * 4096 + 4] ^= 0x55  # the tag before the magic
    with pytest.raises(ImageError, match="superblock"):
        LittleFsImage.open(bytes(buf))


def test_unsupported_version_and_block_size(vector: bytes) -> None:
    with pytest.raises(ImageError, match=r"version 3\.0"):
        LittleFsImage.open(patch_superblock(vector, 0, 0x30000))
    with pytest.raises(ImageError, match=r"version 2\.2"):
        LittleFsImage.open(patch_superblock(vector, 0, 0x20002))
    with pytest.raises(ImageError, match="block size 8192"):
        LittleFsImage.open(patch_superblock(vector, 1, 8192))
    with pytest.raises(ImageError, match="truncated"):
        LittleFsImage.open(patch_superblock(vector, 2, 1 << 20))
    with pytest.raises(ImageError, match="name_max 300"):
        LittleFsImage.open(patch_superblock(vector, 3, 300))


def test_explicit_profile_contradicting_bytes(vector: bytes) -> None:
    v21 = build_littlefs_image(
        {"/ca.pem": b"x"}, size=64 * 1024, profile="esp-idf", disk_version=DISK_VERSION_2_1
    )
    with pytest.raises(ImageError, match=r"2\.1.*Mongoose OS"):
        LittleFsImage.open(v21, "mongoose-os")
    padded = vector + b"\xff" * 65536
    with pytest.raises(ImageError, match="block count"):
        LittleFsImage.open(padded, "mongoose-os")
    with pytest.raises(ImageError, match="unknown LittleFS profile"):
        LittleFsImage.open(vector, "nope")


def test_larger_image_keeps_tail_and_is_not_mongoose(vector: bytes) -> None:
    tail = bytes(range(256)) * 256
    img = LittleFsImage.open(vector + tail)
    assert img.profile.name != "mongoose-os"
    assert len(img.candidates) > 1  # ambiguous, and says so
    assert "ambiguous" in img.detection
    img.write("/ca.pem", NEW_CA)
    out = img.to_bytes()
    assert out[len(vector) :] == tail
    assert LittleFsImage.open(out).block_count == 64


def test_failed_write_leaves_image_unchanged(vector: bytes) -> None:
    img = LittleFsImage.open(vector)
    with pytest.raises(ImageError, match="no space"):
        img.write("/huge.bin", b"\x00" * (300 * 1024))
    assert img.to_bytes() == vector
    assert img.changed_blocks() == []
    img.write("/ca.pem", NEW_CA)  # still usable after the rollback
    assert img.read("/ca.pem") == NEW_CA


def test_names_and_paths() -> None:
    img = LittleFsImage.create(64 * 1024, "esp-idf")
    before = img.to_bytes()
    with pytest.raises(ImageError, match="allows 64"):
        img.write("/" + "n" * 65, b"x")
    for bad in ("/", "/a//b", "/a/../b", "/."):
        with pytest.raises(ImageError, match="invalid file name"):
            img.write(bad, b"x")
    assert img.to_bytes() == before
    img.write("certs/extra.pem", b"pem")
    assert img.read("/certs/extra.pem") == b"pem"
    with pytest.raises(ImageError, match="is a file"):
        img.write("/certs/extra.pem/x", b"x")
    with pytest.raises(ImageError, match="directory"):
        img.write("/certs", b"x")
    with pytest.raises(ImageError, match="directory"):
        img.read("/certs")
    with pytest.raises(ImageError, match="directory"):
        img.remove("/certs")
    with pytest.raises(ImageError, match="no file '/missing'"):
        img.read("missing")
    with pytest.raises(ImageError, match="no file '/missing'"):
        img.remove("/missing")
    img.remove("/certs/extra.pem")
    assert img.files() == []


@pytest.mark.parametrize("size", [0, 4095, 4096, 10000])
def test_create_bad_sizes(size: int) -> None:
    with pytest.raises(ImageError):
        LittleFsImage.create(size, "esp-idf")


@pytest.mark.parametrize("name", sorted(LITTLEFS_PROFILES))
def test_create_every_profile(name: str) -> None:
    profile = LITTLEFS_PROFILES[name]
    raw = build_littlefs_image(
        [("/ca.pem", NEW_CA), ("/data/a.json", b"{}")], size=128 * 1024, profile=name
    )
    assert raw == build_littlefs_image(
        [("/ca.pem", NEW_CA), ("/data/a.json", b"{}")], size=128 * 1024, profile=name
    )  # reproducible
    img = LittleFsImage.open(raw)
    assert img.disk_version == profile.disk_version
    assert img.block_count == 32
    assert img.name_max == profile.name_max
    assert profile in img.candidates
    assert img.read("/data/a.json") == b"{}"
    assert LittleFsImage.open(raw, name).profile == profile


def test_time_attributes() -> None:
    stamp = 1_700_000_000
    for name in ("arduino", "platformio"):
        img = LittleFsImage.create(64 * 1024, name, timestamp=stamp)
        img.write("/ca.pem", NEW_CA)
        again = LittleFsImage.open(img.to_bytes())
        assert again.getattr("/ca.pem", "t") == struct.pack("<I", stamp)
        assert again.getattr("/ca.pem", "c") == struct.pack("<I", stamp)
        assert again.profile.name in ("arduino", "platformio")
    untimed = LittleFsImage.create(64 * 1024, "arduino")
    untimed.write("/ca.pem", NEW_CA)
    assert untimed.getattr("/ca.pem", "t") is None
    mg = LittleFsImage.create(64 * 1024, "mongoose-os", timestamp=stamp)
    mg.write("/ca.pem", NEW_CA)
    assert mg.getattr("/ca.pem", "t") is None


def test_cheap_imports_do_not_load_littlefs() -> None:
    """--help, build and inspect of a PEM must not pay for littlefs-python."""
    import subprocess
    import sys

    code = (
        "import sys, esp_cabundle.fs, esp_cabundle.fs.littlefs, esp_cabundle.commands.pack, "
        "esp_cabundle.commands.fs, esp_cabundle.fs.inspect\n"
        "from esp_cabundle.fs import detect_fs_type\n"
        "detect_fs_type(b'-----BEGIN CERTIFICATE-----' * 200)\n"
        "assert 'littlefs' not in sys.modules, 'littlefs imported'\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
