"""A view of an image's bytes (``data_view``) and a mount of them (``reopened``) share
the image's memory, not copied; an edit of the image afterwards must not change what
they show (it writes a copy), or a saved result or a read-back proof would read bytes
changing under it."""

from __future__ import annotations

from pathlib import Path

import pytest

from esp_cabundle.fs import FileSystemImage, create_image, open_image

PEM = (Path(__file__).parent / "data" / "letsencrypt" / "isrgrootx1.pem").read_bytes()


def _image(fs_type: str) -> FileSystemImage:
    img = create_image(fs_type, "esp-idf", 256 << 10)
    img.write("/ca.pem", PEM)
    return img


@pytest.mark.parametrize("fs_type", ["littlefs", "spiffs"])
@pytest.mark.parametrize("edit", ["write", "remove"])
def test_a_reopened_image_and_a_view_keep_their_bytes_when_the_image_is_edited_after(
    fs_type: str, edit: str
) -> None:
    img = _image(fs_type)
    before = img.to_bytes()
    view = img.data_view()
    check = img.reopened()
    assert [f.path for f in check.files()] == ["/ca.pem"]
    if edit == "write":
        img.write("/x.pem", PEM[:700])
    else:
        img.remove("/ca.pem")
    assert img.to_bytes() != before  # the edit happened, in the image
    assert bytes(view) == before  # ... not in the bytes handed out before it
    assert [f.path for f in check.files()] == ["/ca.pem"]
    assert check.read("/ca.pem") == PEM
    assert [f.path for f in open_image(img.to_bytes()).files()] == (
        ["/ca.pem", "/x.pem"] if edit == "write" else []
    )


@pytest.mark.parametrize("fs_type", ["littlefs", "spiffs"])
def test_an_edit_after_a_view_reports_the_blocks_it_changed(fs_type: str) -> None:
    """The copy an edit after a view writes is still compared with the opened bytes."""
    original = _image(fs_type).to_bytes()
    opened = open_image(original)
    opened.data_view()
    opened.write("/x.pem", PEM[:700])
    after = opened.to_bytes()
    differ = [
        i // 4096
        for i in range(0, len(after), 4096)
        if after[i : i + 4096] != original[i : i + 4096]
    ]
    assert differ and opened.changed_blocks() == differ
    edited = open_image(after)
    assert edited.read("/x.pem") == PEM[:700] and edited.read("/ca.pem") == PEM
