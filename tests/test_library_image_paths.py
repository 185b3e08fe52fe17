"""An image's methods (``read``, ``write``, ``remove``, ``rename``, ``exists``) given a
``Path`` or bytes for the file's name failed deep inside (``Path.replace() takes 2
positional arguments``, ``a bytes-like object is required``), and ``write`` given text
for the data failed in ``bytes(data)`` (an int there made that many NUL bytes). A path
in an image is the name the firmware opens (``/ca.pem``), a str, not a path on this
computer: each is now an ArgumentTypeError whose hint is the call to make, and the image
is left as it was."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path, PurePosixPath

import pytest

from esp_cabundle.errors import ArgumentTypeError
from esp_cabundle.fs import FileSystemImage, create_image

IMAGES = {
    "spiffs": lambda: create_image("spiffs", "esp-idf", 0x20000),
    "littlefs": lambda: create_image("littlefs", "esp-idf", 0x20000, disk_version=0x00020000),
}

Call = Callable[[FileSystemImage], object]

CASES: list[tuple[Call, str, str]] = [
    (
        lambda im: im.read(Path("/ca.pem")),  # type: ignore[arg-type]
        "image.read takes the file's path in the image as str, not PosixPath",
        "give it as str: image.read('/ca.pem')",
    ),
    (
        lambda im: im.read(b"/ca.pem"),  # type: ignore[arg-type]
        "image.read takes the file's path in the image as str, not bytes b'/ca.pem'",
        "give it as str: image.read('/ca.pem')",
    ),
    (
        lambda im: im.write(PurePosixPath("/new.pem"), b"x"),  # type: ignore[arg-type]
        "image.write takes the file's path in the image as str, not PurePosixPath",
        "give it as str: image.write('/new.pem', data)",
    ),
    (
        lambda im: im.write("/new.pem", "-----BEGIN CERTIFICATE-----"),  # type: ignore[arg-type]
        "image.write takes bytes, not str",
        "encode the text first: image.write('/new.pem', text.encode())",
    ),
    (
        lambda im: im.write("/new.pem", 5),  # type: ignore[arg-type]
        "image.write takes bytes, not int",
        "give image.write the bytes",
    ),
    (
        lambda im: im.remove(Path("/ca.pem")),  # type: ignore[arg-type]
        "image.remove takes the file's path in the image as str, not PosixPath",
        "give it as str: image.remove('/ca.pem')",
    ),
    (
        lambda im: im.rename(Path("/ca.pem"), "/old.pem"),  # type: ignore[arg-type]
        "image.rename takes the file's path in the image as str, not PosixPath",
        "give it as str: image.rename('/ca.pem', dst)",
    ),
    (
        lambda im: im.rename("/ca.pem", b"/old.pem"),  # type: ignore[arg-type]
        "image.rename takes the file's path in the image as str, not bytes",
        "give it as str: image.rename(src, '/old.pem')",
    ),
    (
        lambda im: im.exists(None),  # type: ignore[arg-type]
        "image.exists takes the file's path in the image as str, not NoneType",
        "give it as str: image.exists('/ca.pem')",
    ),
]


@pytest.mark.parametrize("fs_type", sorted(IMAGES))
@pytest.mark.parametrize(("call", "message", "hint"), CASES)
def test_a_path_or_data_of_the_wrong_type_is_refused_and_the_image_kept(
    fs_type: str, call: Call, message: str, hint: str
) -> None:
    image = IMAGES[fs_type]()
    image.write("/ca.pem", b"CA")
    before = image.to_bytes()
    with pytest.raises(ArgumentTypeError, match=message) as e:
        call(image)
    assert e.value.hint == hint
    assert e.value.exit_code == 2
    assert image.to_bytes() == before
    assert image.read("/ca.pem") == b"CA"


@pytest.mark.parametrize("fs_type", sorted(IMAGES))
def test_str_paths_and_bytes_like_data_still_work(fs_type: str) -> None:
    image = IMAGES[fs_type]()
    image.write("ca.pem", memoryview(b"CA"))
    image.write("/other.pem", bytearray(b"other"))
    assert image.exists("/ca.pem")
    image.rename("/other.pem", "/old.pem")
    image.remove("/ca.pem")
    assert [(f.path, f.size) for f in image.files()] == [("/old.pem", 5)]
    assert image.read("old.pem") == b"other"
