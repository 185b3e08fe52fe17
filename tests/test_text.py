"""Wording helpers: counts agree with their nouns."""

from __future__ import annotations

from esp_cabundle.text import plural


def test_plural() -> None:
    assert plural(1, "root") == "1 root"
    assert [plural(n, "root") for n in (0, 2)] == ["0 roots", "2 roots"]
    assert plural(2, "policy", "policies") == "2 policies"
