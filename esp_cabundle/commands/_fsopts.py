"""Options shared by ``pack`` and ``fs``: sizes and offsets as firmware people write them."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

if TYPE_CHECKING:
    from ..boards import Board

F = TypeVar("F", bound=Callable[..., Any])

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


def _disk_version_callback(ctx: click.Context, param: click.Parameter, value: Any) -> int | None:
    if value is None:
        return None
    from ..fs.lfs_platforms import parse_disk_version

    return parse_disk_version(str(value))


def lfs_version_options(f: F) -> F:
    """``--platform`` and ``--disk-version``: which LittleFS on-disk version to write."""
    f = click.option(
        "--disk-version",
        "disk_version",
        type=click.Choice(["2.0", "2.1"]),
        callback=_disk_version_callback,
        help="LittleFS: write this on-disk version (a new image only; an existing image "
        "keeps its own, and asking for another is refused).",
    )(f)
    return click.option(
        "--platform",
        metavar="PLATFORM",
        help="LittleFS: the platform version the units run (arduino-2.0.17, "
        "esp_littlefs-1.5.5, platformio-6.8.0, mongoose-os): new images get 2.1 only if "
        "all its readers mount 2.1; an image it cannot mount is refused.",
    )(f)


def with_platform(board: Board, platform: str) -> Board:
    """``board`` with its LittleFS ``platform`` replaced; it must agree with the board."""
    from dataclasses import replace

    from ..errors import InputError
    from ..fs.lfs_platforms import resolve_platform

    fs = board.filesystem
    assert fs is not None
    if fs.fs_type != "littlefs":
        raise InputError(
            f"--platform applies to LittleFS; board {board.name} uses {fs.fs_type}",
            hint="omit --platform",
        )
    plat = resolve_platform(platform)
    if plat.profile != fs.profile:
        raise InputError(
            f"platform {plat.spec} uses the {plat.profile} LittleFS profile; board "
            f"{board.name} uses {fs.profile}",
            hint="pick the board of that platform (esp-cabundle boards)",
        )
    return replace(board, filesystem=replace(fs, platform=plat.spec))
