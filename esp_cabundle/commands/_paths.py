"""The path types of every option naming a file or directory, so that one check holds
for all of them: never empty (``''`` would be the directory ``.``), never a name that
ends as a directory (``-o build/``: pathlib drops the slash and the command would write
a file called ``build``), ``-`` only where a command can write to standard output."""

from __future__ import annotations

import errno
import os
import shlex
import stat
from pathlib import Path
from typing import Any

import click

from ..errors import InputError
from ..fileio import file_kind

__all__ = ["FILE_PATH", "DirPath", "output_path", "refuse_directory"]


def _names_a_directory(value: str) -> bool:
    """True for ``build/``, ``logs/.`` or ``..``: a path whose last part names a
    directory. pathlib drops the trailing ``/`` and ``.``, so ``-o build/`` (no such
    directory yet) would otherwise write a file called ``build``."""
    seps = os.sep + (os.altsep or "")
    last = value.rstrip(seps)
    for sep in seps:
        last = last.rsplit(sep, 1)[-1]
    return value.endswith(tuple(seps)) or last in (".", "..")


def refuse_directory(value: Any, param: click.Parameter | None) -> None:
    """A file option or argument, read or written, given a directory: refused in the
    tool's words (exit 2, no usage banner; click's own "File 'out' is a directory."
    came with one), the same for an existing directory named without its slash
    (``-o out``), with a hint naming a file in it. ``param`` None: a path a command
    takes among others (inspect's inputs)."""
    if not (
        isinstance(value, str)
        and value != "-"
        and (_names_a_directory(value) or os.path.isdir(value))
    ):
        return
    example = shlex.quote(os.path.join(value, "FILE"))
    if isinstance(param, click.Option) and param.opts:
        hint = f"name a file with {param.opts[0]}, e.g. {param.opts[0]} {example}"
    elif param is not None:
        hint = f"name the {param.human_readable_name} file itself, e.g. {example}"
    else:
        hint = f"name the file itself, e.g. {example}"
    raise InputError(
        "names a directory, not a file; nothing was read or written", path=value, hint=hint
    )


class _OutputPath(click.Path):
    """A file to write: never empty (``-o ''`` names no file), ``-`` only where the
    command can write to standard output."""

    def __init__(self, *, allow_dash: bool) -> None:
        super().__init__(dir_okay=False, path_type=Path, allow_dash=allow_dash, readable=False)

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, str):
            if not value.strip():
                self.fail("an empty path names no file", param, ctx)
            if value == "-" and not self.allow_dash:
                self.fail("'-' (standard output) is not supported here; name a file", param, ctx)
        refuse_directory(value, param)
        return super().convert(value, param, ctx)


class DirPath(click.Path):
    """A directory a command keeps its state in (``what``: its name in errors): never
    empty (``''`` would be ``.``). Anything but a directory there, or one that cannot be
    read, is refused in the tool's own words, as its readers say them, exit 2 (click's
    "Directory 'x' is a file." came with a usage banner); a missing one is made when
    first written."""

    def __init__(self, what: str) -> None:
        super().__init__(path_type=Path, readable=False)
        self.what = what

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, str) and not value.strip():
            self.fail("an empty path names no directory", param, ctx)
        path = super().convert(value, param, ctx)
        _refuse_unusable_directory(os.fsdecode(path), self.what, param)
        return path


def _refuse_unusable_directory(path: str, what: str, param: click.Parameter | None) -> None:
    """InputError unless ``path`` is a readable directory, or nothing (not yet made)."""
    flag = param.opts[0] if param is not None and param.opts else "the option"
    hint = f"name a directory (it is made when first needed) with {flag}, or leave it out"
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        return
    except OSError as e:  # a file where a directory of the path should be, a loop
        raise InputError(
            f"cannot read the {what} ({e.strerror or e})", path=str(path), hint=hint
        ) from e
    if not stat.S_ISDIR(mode):
        raise InputError(
            f"is {file_kind(mode)}, not a {what}; nothing was read or written",
            path=str(path),
            hint=hint,
        )
    if not os.access(path, os.R_OK | os.X_OK):
        raise InputError(
            f"cannot read the {what} ({os.strerror(errno.EACCES)})", path=str(path), hint=hint
        )


class _FilePath(click.Path):
    """A file a command reads or keeps: never empty (``''`` would be the directory
    ``.``); its other errors are the tool's own, when it is opened (``readable=False``:
    click's "File 'x' is not readable." came with a usage banner, where the tool's
    readers say "cannot read ... (Permission denied)", exit 2)."""

    def __init__(self) -> None:
        super().__init__(dir_okay=False, path_type=Path, readable=False)

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, str) and not value.strip():
            self.fail("an empty path names no file", param, ctx)
        refuse_directory(value, param)
        return super().convert(value, param, ctx)


FILE_PATH = _FilePath()


def output_path(*, allow_dash: bool = False) -> click.Path:
    """The type of every ``-o``/``--output`` option (and other files a command writes)."""
    return _OutputPath(allow_dash=allow_dash)
