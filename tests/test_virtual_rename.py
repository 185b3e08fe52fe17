"""FS.Rename on a virtual unit renames in place, as the firmware does: it copied the file
and removed the original, so on a nearly full SPIFFS a rename failed for want of room a
real unit never needs. Mongoose OS's FS.Rename (rpc-service-fs ``mgos_service_fs.c``)
calls ``rename()``; on SPIFFS (vfs-fs-spiffs ``mgos_vfs_fs_spiffs_rename``) that removes
an existing target, then ``SPIFFS_rename`` rewrites only the object's index header
(pellepl/spiffs ``spiffs_hydrogen.c``); on LittleFS it is ``lfs_rename``. mDash
(``rpc_fs_rename``) removes the target, then ESP-IDF's ``SPIFFS_rename``."""

from __future__ import annotations

import json
from typing import Any

import pytest

from esp_cabundle.errors import ImageError
from esp_cabundle.fs import create_image, open_image
from esp_cabundle.fs.base import FileInfo, FileSystemImage
from esp_cabundle.fs.spiffs import SpiffsImage
from esp_cabundle.fs.verify import Expected, mount_problems
from esp_cabundle.virtual.rpc import MdashUnit, MongooseUnit, SimUnit
from tests.support.spiffs_full import ca, nearly_full

# (profile, small files, every n-th removed, filler): nearly full 1408 KiB images (as
# tests/test_spiffs_plan_order.py's), a few dozen pages free; big.dat, the filler, is
# larger than the free and reclaimable space together
FULL = [
    ("esp-idf", 1500, 6, 538560),
    ("mongoose-os", 1500, 6, 538560),
]


def call(unit: SimUnit, method: str, **params: Any) -> dict[str, Any]:
    frame = {"id": 1, "method": method, unit.shape: params}
    answer: dict[str, Any] = json.loads(unit.handle(json.dumps(frame).encode()) or b"null")
    return answer


def small(fs_type: str) -> FileSystemImage:
    """A Mongoose OS image of 64 KiB holding ``/a`` and ``/b``."""
    img = create_image(fs_type, "mongoose-os", 64 * 1024)
    img.write("/a", b"one")
    img.write("/b", b"two")
    return open_image(img.to_bytes())


def held(image_bytes: bytes) -> dict[str, bytes]:
    img = open_image(image_bytes)
    return {f.path: img.read(f.path) for f in img.files()}


def mounts_as(data: bytes, profile: str, files: dict[str, bytes], target: str) -> list[str]:
    """What differs when ``data`` is mounted with ``profile`` (the planners' check)."""
    others = {p: d for p, d in files.items() if p != target}
    expected = Expected(
        path=target,
        allowed=(files[target],),
        others=[FileInfo(p, len(d)) for p, d in others.items()],
        contents=others.__getitem__,
        what="the renamed file",
    )
    return mount_problems(lambda: SpiffsImage.open(data, profile), expected)


@pytest.fixture(scope="module", params=FULL, ids=lambda c: f"{c[0]}-{c[1]}files")
def full(request: pytest.FixtureRequest) -> tuple[str, bytes]:
    profile, files, every, filler = request.param
    return profile, nearly_full(profile, ca(8), files, every, filler)


@pytest.mark.parametrize("kind", [MongooseUnit, MdashUnit])
def test_a_large_file_is_renamed_in_place_on_a_nearly_full_spiffs(
    full: tuple[str, bytes], kind: type[SimUnit]
) -> None:
    profile, before = full
    img = SpiffsImage.open(before, profile)
    big = img.read("/big.dat")
    assert len(big) > img.device_space()[1]  # no copy could fit, even after a GC
    assert img.free_blocks() >= 2  # SPIFFS's reserve, which any new page needs
    unit = kind("u1", img)
    answer = call(unit, "FS.Rename", src="big.dat", dst="renamed.dat")
    assert "error" not in answer, answer
    after = unit.image_bytes()
    files = held(before)
    files["/renamed.dat"] = files.pop("/big.dat")
    assert held(after) == files
    assert mounts_as(after, profile, files, "/renamed.dat") == []
    # SPIFFS_rename rewrites one page, the index header, into a free page and marks the
    # old one deleted: two pages and their lookup entries, not a byte of data moved
    ps = img.profile.page_size
    changed = [i for i in range(0, len(before), ps) if before[i : i + ps] != after[i : i + ps]]
    assert 2 <= len(changed) <= 4, changed


def test_without_spiffs_two_free_blocks_a_rename_fails_as_on_the_device() -> None:
    """SPIFFS_rename runs no garbage collection, and spiffs_obj_lu_find_free refuses a
    page when fewer than two blocks are free (SPIFFS_ERR_FULL): the unit answers the
    error and nothing changes."""
    before = nearly_full("arduino", ca(8), 1500, 6, 553696)
    img = SpiffsImage.open(before, "arduino")
    assert img.free_blocks() < 2
    unit = MongooseUnit("u1", img)
    answer = call(unit, "FS.Rename", src="big.dat", dst="renamed.dat")
    assert answer["error"] == {"code": 500, "message": "rename failed"}
    assert unit.image_bytes() == before
    with pytest.raises(ImageError, match="fewer than two free blocks left"):
        img.rename("/big.dat", "/renamed.dat")


def test_mongoose_on_spiffs_removes_an_existing_target_first(full: tuple[str, bytes]) -> None:
    profile, before = full
    unit = MongooseUnit("u1", SpiffsImage.open(before, profile))
    assert call(unit, "FS.Rename", src="big.dat", dst="mdash.cfg")["result"] is None
    files = held(before)
    files["/mdash.cfg"] = files.pop("/big.dat")
    after = unit.image_bytes()
    assert held(after) == files
    assert mounts_as(after, profile, files, "/mdash.cfg") == []


def test_spiffs_rename_itself_refuses_a_name_in_use_and_changes_nothing() -> None:
    img = small("spiffs")
    before = img.to_bytes()
    with pytest.raises(ImageError, match="'/b' exists in the SPIFFS image"):
        img.rename("/a", "/b")
    with pytest.raises(ImageError, match="no file '/c'"):
        img.rename("/c", "/d")
    with pytest.raises(ImageError, match="allows at most"):
        img.rename("/a", "/" + "n" * 80)
    assert img.to_bytes() == before


def test_mongoose_on_spiffs_keeps_its_vfs_quirks() -> None:
    """A rename onto itself is a no-op (even of no file); a missing ``src`` fails only
    after an existing ``dst`` was removed; a name too long fails, changing nothing."""
    img = small("spiffs")
    unit = MongooseUnit("u1", img)
    assert call(unit, "FS.Rename", src="a", dst="a")["result"] is None
    assert call(unit, "FS.Rename", src="zz", dst="zz")["result"] is None
    before = unit.image_bytes()
    failed = {"code": 500, "message": "rename failed"}
    assert call(unit, "FS.Rename", src="a", dst="n" * 80)["error"] == failed
    assert unit.image_bytes() == before
    assert call(unit, "FS.Rename", src="zz", dst="b")["error"] == failed
    assert held(unit.image_bytes()) == {"/a": b"one"}


def test_mdash_removes_dst_first_so_a_rename_onto_itself_loses_the_file() -> None:
    img = small("spiffs")
    unit = MdashUnit("u1", img)
    assert call(unit, "FS.Rename", src="a", dst="b")["result"] is True
    assert held(unit.image_bytes()) == {"/b": b"one"}
    error = call(unit, "FS.Rename", src="b", dst="b")["error"]
    assert error == {"code": 500, "message": "rename(/spiffs/b, /spiffs/b) failed: 2"}
    assert held(unit.image_bytes()) == {}


def test_mongoose_on_littlefs_renames_with_lfs_rename_replacing_the_target() -> None:
    img = small("littlefs")
    unit = MongooseUnit("u1", img)
    assert call(unit, "FS.Rename", src="a", dst="a")["result"] is None
    assert call(unit, "FS.Rename", src="a", dst="b")["result"] is None
    assert held(unit.image_bytes()) == {"/b": b"one"}
    before = unit.image_bytes()
    failed = {"code": 500, "message": "rename failed"}
    assert call(unit, "FS.Rename", src="zz", dst="b")["error"] == failed  # b is kept
    assert call(unit, "FS.Rename", src="b", dst="no/dir/b")["error"] == failed  # NOENT
    assert unit.image_bytes() == before
