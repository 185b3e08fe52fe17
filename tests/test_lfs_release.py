"""A LittleFS image gives back littlefs' caches: malloc'd at mount, freed only at
unmount, never by the Python objects' end. A loop opening and reading images grew
native memory without end (~0.6 MB per 600 opens)."""

from __future__ import annotations

import gc

import pytest
from support.lfs_meta import count_mounts

from esp_cabundle.errors import ImageError
from esp_cabundle.fs import open_image
from esp_cabundle.fs.base import NoRoomError
from esp_cabundle.fs.edit import pack_image
from esp_cabundle.fs.inspect import inspect_image

DATA = pack_image("littlefs", "esp-idf", 64 * 1024, [("/ca.pem", b"x")]).data


def test_a_closed_image_is_unmounted_and_reads_no_more(monkeypatch: pytest.MonkeyPatch) -> None:
    balance = count_mounts(monkeypatch)
    with open_image(DATA) as image:
        assert image.read("/ca.pem") == b"x"
    assert balance.count(1) == 2 and sum(balance) == 0  # the probe's mount, and the image's
    with pytest.raises(ImageError, match="closed"):  # not a read of freed caches
        image.read("/ca.pem")
    assert image.to_bytes() == DATA  # its bytes are still there
    image.close()  # twice: nothing
    assert sum(balance) == 0


def test_an_image_dropped_unclosed_is_unmounted(monkeypatch: pytest.MonkeyPatch) -> None:
    balance = count_mounts(monkeypatch)
    for _ in range(3):  # a loop opening and reading images, none closed
        assert open_image(DATA).read("/ca.pem") == b"x"
    gc.collect()
    assert balance.count(1) == 6 and sum(balance) == 0


def test_a_failed_edit_unmounts_the_mount_it_replaces(monkeypatch: pytest.MonkeyPatch) -> None:
    """The store is restored and remounted after a failed edit; the old mount's caches
    were kept until then."""
    balance = count_mounts(monkeypatch)
    with open_image(DATA) as image:
        with pytest.raises(NoRoomError):
            image.write("/big", bytes(1 << 20))
        assert balance[-2:] == [-1, 1]  # the old mount freed, then the remount
        image.write("/ca.pem", b"y")  # edits go on on the remount
        data = image.to_bytes()
        with image.reopened() as check:  # the edit, verified on a fresh mount
            assert check.read("/ca.pem") == b"y"
    assert open_image(data).read("/ca.pem") == b"y"
    gc.collect()
    assert sum(balance) == 0


def test_inspect_unmounts_the_image_it_read(monkeypatch: pytest.MonkeyPatch) -> None:
    balance = count_mounts(monkeypatch)
    report = inspect_image(DATA, "fs.bin")
    assert report is not None and any(k == "file /ca.pem" for k, _ in report.facts)
    assert balance and sum(balance) == 0  # no collection needed: it was closed
