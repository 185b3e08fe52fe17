"""One lazy pattern getter (_patterns.lazy_re) for sizes.py and the keyscan readers."""

from __future__ import annotations

import re

from esp_cabundle import sizes
from esp_cabundle._patterns import lazy_re


def test_size_patterns_share_keyscans_lazy_getter() -> None:
    """str patterns and flags too; compiled on first use, and once."""
    get = lazy_re(r"k(i?b)?$", re.IGNORECASE)
    assert get() is get() and get().search("256KiB")
    assert sizes._suffix() is sizes._suffix() and sizes._suffix().search("4 MiB")
