"""Round trips through the common image API, for every profile of both file systems.

Random file sets are packed and read back; random edit sequences are applied to an
in-memory model and to the image, and after every step the image re-opened from its
bytes must hold exactly the model's files (so every untouched file is byte-identical).
A failed edit (no space) must leave the bytes exactly as they were.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from esp_cabundle.errors import ImageError
from esp_cabundle.fs import FS_PROFILES, create_image, get_profile, open_image
from esp_cabundle.fs.edit import pack_image
from esp_cabundle.fs.inplace import mount_region
from esp_cabundle.images import ImageSpec, image_spec

ALL_PROFILES = [(fs, name) for fs in ("littlefs", "spiffs") for name in FS_PROFILES[fs]]
SIZE = 128 * 1024
NO_SPACE = re.compile(r"no space|no room|full", re.IGNORECASE)
EDIT_SIZE = 64 * 1024  # small enough that some edit sequences run out of space

SETTINGS = settings(
    max_examples=20,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

names = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789_-.", min_size=1, max_size=12).filter(
    lambda s: s not in (".", "..")
)
contents = st.one_of(
    st.binary(max_size=300),  # inline in LittleFS metadata, a page or two in SPIFFS
    st.binary(min_size=3000, max_size=9000),  # spans blocks / many pages
)
file_sets = st.dictionaries(names, contents, max_size=6)
ops = st.lists(
    st.one_of(
        st.tuples(st.just("put"), names, contents),
        st.tuples(st.just("rm"), st.integers(min_value=0, max_value=20), st.just(b"")),
    ),
    min_size=1,
    max_size=8,
)


def assert_holds(raw: bytes, fs_type: str, profile: str, model: dict[str, bytes]) -> None:
    img = open_image(raw, fs_type=fs_type, profile=profile)
    assert {f.path: f.size for f in img.files()} == {p: len(d) for p, d in model.items()}
    for path, data in model.items():
        assert img.read(path) == data


@pytest.mark.parametrize(("fs_type", "profile"), ALL_PROFILES)
@SETTINGS
@given(files=file_sets)
def test_pack_round_trip(fs_type: str, profile: str, files: dict[str, bytes]) -> None:
    items = [("/" + n, d) for n, d in sorted(files.items())]
    packed = pack_image(fs_type, profile, SIZE, items)
    assert len(packed.data) == SIZE
    assert pack_image(fs_type, profile, SIZE, items).data == packed.data  # reproducible
    assert_holds(packed.data, fs_type, profile, dict(items))
    detected = open_image(packed.data)
    assert detected.fs_type == fs_type


@pytest.mark.parametrize(("fs_type", "profile"), ALL_PROFILES)
@SETTINGS
@given(initial=file_sets, steps=ops)
def test_edit_sequences(
    fs_type: str, profile: str, initial: dict[str, bytes], steps: list[tuple[str, object, bytes]]
) -> None:
    items = [("/" + n, d) for n, d in sorted(initial.items())]
    raw = pack_image(fs_type, profile, EDIT_SIZE, items).data
    model = dict(items)
    img = open_image(raw, fs_type=fs_type, profile=profile)
    for action, target, data in steps:
        before = img.to_bytes()
        if action == "put":
            path = "/" + str(target)
            try:
                img.write(path, data)
            except ImageError as e:
                assert NO_SPACE.search(str(e)), str(e)
                assert img.to_bytes() == before
                continue
            model[path] = data
        else:
            if not model:
                with pytest.raises(ImageError):
                    img.remove("/not-there")
                assert img.to_bytes() == before
                continue
            path = sorted(model)[int(str(target)) % len(model)]
            img.remove(path)
            del model[path]
        assert_holds(img.to_bytes(), fs_type, profile, model)
    changed = img.changed_blocks()
    now = img.to_bytes()
    for b in range(EDIT_SIZE // 4096):
        same = now[b * 4096 : (b + 1) * 4096] == raw[b * 4096 : (b + 1) * 4096]
        assert same == (b not in changed)


nested = st.dictionaries(
    st.lists(names, min_size=1, max_size=3).map(lambda parts: "/" + "/".join(parts)),
    contents,
    max_size=5,
)


@pytest.mark.parametrize("profile", list(FS_PROFILES["littlefs"]))
@SETTINGS
@given(files=nested)
def test_littlefs_directories(profile: str, files: dict[str, bytes]) -> None:
    img = create_image("littlefs", profile, SIZE)
    model: dict[str, bytes] = {}
    for path, data in files.items():
        try:
            img.write(path, data)
        except ImageError as e:  # a/b after a as a file, or a after a/b as a dir
            assert "is a file" in str(e) or "directory" in str(e)
            continue
        model[path] = data
    assert_holds(img.to_bytes(), "littlefs", profile, model)


@pytest.mark.parametrize(("fs_type", "profile"), ALL_PROFILES)
def test_full_image_refuses_and_keeps_bytes(fs_type: str, profile: str) -> None:
    img = create_image(fs_type, profile, EDIT_SIZE)
    blob = bytes(range(256)) * 40  # 10 KiB
    written = 0
    with pytest.raises(ImageError) as err:
        for i in range(20):
            before = img.to_bytes()
            img.write(f"/f{i}", blob)
            written += 1
    assert NO_SPACE.search(str(err.value)), str(err.value)
    assert img.to_bytes() == before
    assert written >= 2
    model = {f"/f{i}": blob for i in range(written)}
    assert_holds(img.to_bytes(), fs_type, profile, model)


class _Erased:
    """Flash that reads as erased: a region for :func:`mount_region`."""

    def read(self, offset: int, length: int) -> bytes:
        return b"\xff" * length


@pytest.mark.parametrize(
    "call",
    [
        lambda: open_image(b"\xff" * 4096, fs_type="fat"),
        lambda: create_image("fat", "esp-idf", 4096),
        lambda: get_profile("fat", "esp-idf"),
        # the image an output or pack asks for, and a unit's partition mounted: each said
        # its own way (an InputError "one of ...", an ImageError with no hint)
        lambda: ImageSpec("fat", "esp-idf", 4096),
        lambda: image_spec(fs_type="fat", profile="esp-idf", size=4096),
        lambda: mount_region(_Erased(), 0, 4096, fs_type="fat", profile="esp-idf"),
    ],
    ids=["open", "create", "profile", "spec", "image_spec", "mount"],
)
def test_an_unknown_file_system_is_named_with_the_known_ones(call: Any) -> None:
    with pytest.raises(ImageError, match="unknown file system 'fat'") as e:
        call()
    assert e.value.hint == "file systems: littlefs, spiffs"
