"""Sizes in messages are grouped by thousands ("6,054 bytes"), as everywhere else."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from esp_cabundle.commands._virtual_rpc import _change
from esp_cabundle.errors import EspCabundleError
from esp_cabundle.fs.spiffs import SpiffsImage
from esp_cabundle.text import byte_count


def test_byte_count() -> None:
    assert [byte_count(n) for n in (0, 1, 999, 6054, 1400000)] == [
        "0 bytes",
        "1 byte",
        "999 bytes",
        "6,054 bytes",
        "1,400,000 bytes",
    ]


def test_virtual_unit_change_and_fs_put_group_their_sizes() -> None:
    unit: Any = SimpleNamespace(calls_total=3, calls_dropped=0, calls=[], invalid_frames=0)
    assert "/ca.pem changed: 6,054 bytes, SHA-256" in _change("/ca.pem", b"", b"x" * 6054, unit)
    image = SpiffsImage.create(64 * 1024)
    with pytest.raises(EspCabundleError, match=r"'/b\.bin' \(1,400,000 bytes\)"):
        image.write("/b.bin", b"x" * 1_400_000)
