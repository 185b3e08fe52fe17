"""Options shared by ``pack`` and ``fs``: sizes and offsets as firmware people write them."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import click

_SIZE_RE = re.compile(r"^\s*(0x[0-9a-f]+|\d+)\s*(k|kb|kib|m|mb|mib)?\s*$", re.IGNORECASE)
_UNITS = {"k": 1024, "kb": 1024, "kib": 1024, "m": 1 << 20, "mb": 1 << 20, "mib": 1 << 20}


def parse_size(text: str) -> int:
    """``262144``, ``0x40000``, ``256K``, ``1408K``, ``4M`` -> bytes (K and M are binary,
    as in partition tables)."""
    m = _SIZE_RE.match(text)
    if not m:
        raise ValueError(text)
    number, unit = m.groups()
    value = int(number, 16) if number.lower().startswith("0x") else int(number)
    return value * _UNITS[unit.lower()] if unit else value


def size_callback(ctx: click.Context, param: click.Parameter, value: Any) -> int | None:
    """click callback turning a SIZE option into bytes (None stays None)."""
    if value is None or isinstance(value, int):
        return value
    try:
        return parse_size(str(value))
    except ValueError:
        raise click.BadParameter(
            f"{value!r} is not a size (examples: 262144, 0x40000, 256K, 4M)"
        ) from None


def read_input(path: Path) -> bytes:
    """An input file's bytes, with the tool's errors rather than a traceback."""
    from ..fileio import read_input as _read

    return _read(path)
