"""Helpers of the commands that read and edit images (``pack``, ``fs``, ``update-dump``);
their options are in :mod:`.options`."""

from __future__ import annotations

import shlex
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import click

from ..errors import InputError
from ..fs.lfs_platforms import PlatformVersionError, resolve_platform
from ..spelling import CLI_SPELLING
from ._paths import says_text
from ._usage import example_line, replaced_option, typed_words

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


def checked_platform(ctx: click.Context, value: str | None) -> str | None:
    """``--platform``'s value, or the refusal of a version never released (``arduino-2.017``
    was read as 2.17 and got on-disk 2.1, which the 2.0.x units meant cannot mount); its
    hint is the command line typed with the release meant (or the family alone) in place,
    so it runs when copied. Other problems are left to the command, which knows more."""
    if value is None:
        return None
    try:
        resolve_platform(value, CLI_SPELLING)
    except PlatformVersionError as e:
        words = replaced_option(typed_words(ctx), ["--platform"], "--platform", e.meant or e.family)
        e.hint = e.advice + example_line(words)
        raise
    except InputError:
        return value
    return value


def no_image_hint(image: Path) -> str:
    """Where an image comes from, for one that is not there (``fs ls nofile.bin`` said
    only "no such file-system image"), naming the file the user typed."""
    name = shlex.quote(str(image))
    says = says_text(image)
    if says:  # "pack -o my.pem" is refused: a CA file typed where IMAGE goes
        return (
            f"a {image.suffix} name says {says}, not an image: give the image first "
            "(make one with esp-cabundle pack ... -o fs.bin, or save a unit's with "
            "esp-cabundle read -p PORT --partition NAME -o fs.bin)"
        )
    return (
        f"make it with esp-cabundle pack (... -o {name}), or save a unit's with "
        f"esp-cabundle read -p PORT --partition NAME -o {name}"
    )
