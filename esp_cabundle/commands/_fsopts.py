"""Helpers of the commands that read and edit images (``pack``, ``fs``, ``update-dump``);
their options are in :mod:`.options`."""

from __future__ import annotations

import shlex
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import InputError
from ..fs.lfs_platforms import resolve_platform

if TYPE_CHECKING:
    from ..boards import Board


def with_platform(board: Board, platform: str) -> Board:
    """``board`` with its LittleFS ``platform`` replaced; it must agree with the board."""
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


def no_image_hint(image: Path) -> str:
    """Where an image comes from, for one that is not there (``fs ls nofile.bin`` said
    only "no such file-system image"), naming the file the user typed."""
    name = shlex.quote(str(image))
    return (
        f"make it with esp-cabundle pack (... -o {name}), or save a unit's with "
        f"esp-cabundle read -p PORT --partition NAME -o {name}"
    )
