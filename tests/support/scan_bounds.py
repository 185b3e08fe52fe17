"""The key scan on hostile input, as the scanners' tests bound it: data made of one unit
repeated, and the memory a scan that finds no key holds at its peak."""

from __future__ import annotations

import tracemalloc

from esp_cabundle.keyscan import find_private_key


def fill(unit: bytes, size: int = 1 << 19) -> bytes:
    """``unit`` repeated to exactly ``size`` bytes."""
    return (unit * (size // len(unit) + 1))[:size]


def clean_scan_peak(data: bytes) -> int:
    """Bytes traced at the peak of scanning ``data``, which must hold no key."""
    tracemalloc.start()
    try:
        assert find_private_key(data) is None
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
