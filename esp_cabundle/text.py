"""Wording shared by the library's messages and the commands' output."""

from __future__ import annotations

__all__ = ["plural"]


def plural(n: int, noun: str, nouns: str | None = None) -> str:
    """``1 root``, ``2 roots``: a count with its noun agreeing (never ``root(s)``)."""
    return f"{n} {noun if n == 1 else (nouns or noun + 's')}"
