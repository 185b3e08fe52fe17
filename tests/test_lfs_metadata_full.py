"""A LittleFS image whose metadata has no room for one more file: littlefs answers
NAMETOOLONG (lfs_file_opencfg turns the entry's NOSPC into it), which was said as
"name too long" for a name well within the limit. It is said as no room, naming how
many files the image would hold, and hints a larger size or fewer files; nothing is
written and the image is as it was. Long names fill the metadata in a few dozen files,
so the real littlefs (littlefs-python) gets there fast."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from click.testing import CliRunner

from esp_cabundle.cli import cli
from esp_cabundle.fs.base import NoRoomError
from esp_cabundle.fs.littlefs import LittleFsImage


def _name(i: int) -> str:
    """A 60-byte name: within the esp-idf profile's 64, and metadata-hungry."""
    return f"{i:060d}"


def _full_image(size: int = 8192) -> tuple[LittleFsImage, int]:
    """An image holding as many long-named small files as its metadata takes."""
    img = LittleFsImage.create(size, "esp-idf")
    for i in range(200):
        before = img.to_bytes()
        try:
            img.write("/" + _name(i), b"x\n")
        except NoRoomError:
            assert img.to_bytes() == before  # the refused write changed nothing
            return img, i
    raise AssertionError("200 files fitted an 8K image's metadata")


def test_full_metadata_is_no_room_not_a_long_name() -> None:
    img, held = _full_image()
    before = img.to_bytes()
    with pytest.raises(NoRoomError) as caught:
        img.write("/" + _name(held), b"x\n")
    text = str(caught.value)
    assert "name too long" not in text, text
    assert text.startswith(f"no space left in the LittleFS image writing /{_name(held)} (2 bytes)")
    assert f"{held + 1:,} files need more metadata than this 8K image has" in text, text
    assert "larger partition" in str(caught.value.hint)
    assert img.to_bytes() == before
    assert len(img.files()) == held


def test_pack_from_dir_says_no_room_and_writes_nothing(tmp_path: Path) -> None:
    src = tmp_path / "d"
    src.mkdir()
    for i in range(100):  # more than fit.FIT_FILES: no size search, the plain hint
        (src / _name(i)).write_bytes(b"x\n")
    out = tmp_path / "fs.bin"
    line = ["pack", "--fs", "littlefs", "--profile", "esp-idf", "--size", "32K"]
    r = CliRunner().invoke(
        cli, [*line, "--preset", "default", "--from-dir", str(src), "-o", str(out)]
    )
    assert r.exit_code == 2, r.output
    assert "name too long" not in r.output, r.output
    assert "no space left in the LittleFS image" in r.output, r.output
    assert "files need more metadata than this 32K image has" in r.output, r.output
    assert "use a larger partition (--size), or pack fewer files" in r.output, r.output
    assert not out.exists()


def test_fs_put_into_full_metadata_says_no_room_and_changes_nothing(tmp_path: Path) -> None:
    img, held = _full_image()
    image = tmp_path / "fs.bin"
    image.write_bytes(img.to_bytes())
    digest = hashlib.sha256(image.read_bytes()).hexdigest()
    source = tmp_path / _name(held)
    source.write_bytes(b"x\n")
    r = CliRunner().invoke(cli, ["fs", "put", str(image), str(source)])
    assert r.exit_code != 0, r.output
    assert "name too long" not in r.output, r.output
    assert f"{held + 1:,} files need more metadata than this 8K image has" in r.output, r.output
    assert "the image was not changed" in r.output, r.output
    assert hashlib.sha256(image.read_bytes()).hexdigest() == digest
