"""The path types of every option naming a file or directory, so that one check holds
for all of them: never empty (``''`` would be the directory ``.``), never a name that
ends as a directory (``-o build/``: pathlib drops the slash and the command would write
a file called ``build``), ``-`` only where a command can write to standard output."""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path
from typing import Any

import click

from .._stdin import names_stdout, output_descriptor
from ..errors import InputError, OutputError, directory_refused
from ..file_kinds import names_a_directory
from ..fileio import file_kind, refuse_output_under_a_file
from ..ui import stdout_carries_output
from ._usage import replaced_option, typed_words, usage_error

__all__ = [
    "FILE_PATH",
    "DirPath",
    "output_path",
    "refuse_directory",
    "refuse_unsavable",
    "says_text",
]


def refuse_directory(value: Any, param: click.Parameter | None) -> None:
    """A file option or argument, read or written, given a directory: refused in the
    tool's words (exit 2, no usage banner; click's own "File 'out' is a directory."
    came with one), the same for an existing directory named without its slash
    (``-o out``), with a hint naming a file in it. ``param`` None: a path a command
    takes among others (inspect's inputs)."""
    if not (
        isinstance(value, str)
        and value != "-"
        and (names_a_directory(value) or os.path.isdir(value))
    ):
        return
    option = isinstance(param, click.Option) and bool(param.opts)
    usual = _USUAL_FILES.get(param.name or "") if param is not None else None
    raise directory_refused(
        value,
        value,
        flag=param.opts[0] if option and param is not None else None,
        name=param.human_readable_name if param is not None and not option else None,
        file=usual if usual and os.path.isfile(os.path.join(value, usual)) else "FILE",
    )


# The file an option usually names, suggested when a directory given holds it
# (``-c ../proj``: ``-c ../proj/cabundle.yaml``); config.CONFIG_NAME, not imported: the
# config module (and the catalog it brings) loads only for a run that reads one.
_USUAL_FILES = {"config_path": "cabundle.yaml"}


# Names that say a CA file or text (build writes them; .crt and .cer hold PEM or DER):
# an image or a dump written there is taken for one by the next tool, or by the user.
_TEXT_SUFFIXES = {
    ".pem": "PEM text",
    ".crt": "a certificate",
    ".cer": "a certificate",
    ".der": "a DER certificate",
    ".h": "C source",
    ".c": "C source",
    ".hh": "C++ source",
    ".hpp": "C++ source",
    ".hxx": "C++ source",
    ".cc": "C++ source",
    ".cpp": "C++ source",
    ".cxx": "C++ source",
    ".ino": "an Arduino sketch",
    ".json": "JSON text",
}


def says_text(path: Path) -> str | None:
    """What ``path``'s name says it holds when that is a CA file or text (``PEM
    text``), never bytes such as an image; None for any other name."""
    return _TEXT_SUFFIXES.get(path.suffix.lower())


class _OutputPath(click.Path):
    """A file to write: never empty (``-o ''`` names no file), ``-`` only where the
    command can write to standard output, and for ``binary`` bytes (an image, a dump)
    no name that says a CA file or text (``pack -o fs.pem``)."""

    def __init__(self, *, allow_dash: bool, binary: str | None = None) -> None:
        super().__init__(dir_okay=False, path_type=Path, allow_dash=allow_dash, readable=False)
        self.binary = binary

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, str):
            if not value.strip():
                self.fail("an empty path names no file", param, ctx)
            if value == "-" and not self.allow_dash:
                self.fail("'-' (standard output) is not supported here; name a file", param, ctx)
        refuse_directory(value, param)
        if isinstance(value, str) and value != "-":
            refuse_output_under_a_file(Path(value))  # -o ca.pem/x.bin: exit 2, not 3 at the end
        if isinstance(value, str) and self.binary is not None:
            self._refuse_text_name(value, param, ctx)
        converted = super().convert(value, param, ctx)
        if isinstance(converted, Path) and names_stdout(converted):  # -o /dev/stdout: the
            stdout_carries_output()  # output's bytes only there, what else is said to stderr
        return converted

    def _refuse_text_name(
        self, value: str, param: click.Parameter | None, ctx: click.Context | None
    ) -> None:
        """``pack -o x.pem``: an image in a file named as a CA is refused, as build
        refuses a name contradicting its format (no flag overrides it there either);
        the line mended names the file ``.bin``."""
        path = Path(value)
        says = says_text(path)
        if says is None:
            return
        flags = param.opts if isinstance(param, click.Option) else ("-o", "--output")
        fitting = str(path.with_suffix(".bin"))
        words = replaced_option(typed_words(ctx), flags, flags[0], fitting)
        command = ctx.command_path.partition(" ")[2] if ctx is not None else "it"
        raise usage_error(
            f"{flags[0]} {value}: a {path.suffix} name says {says}, but {command} writes "
            f"{self.binary}; nothing written",
            words,
            why="a .bin name",
        )


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

    def __init__(self, *, home: bool = False) -> None:
        super().__init__(dir_okay=False, path_type=Path, readable=False)
        self.home = home

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, str) and not value.strip():
            self.fail("an empty path names no file", param, ctx)
        if self.home:
            value = home_expanded(value)
        refuse_directory(value, param)
        return super().convert(value, param, ctx)


FILE_PATH = _FilePath()
# A file option that takes a quoted ``~`` as --target does (``--chain '~/chains/x.pem'``).
HOME_FILE_PATH = _FilePath(home=True)


def home_expanded(value: Any) -> Any:
    """``value`` with a leading ``~`` or ``~user`` made that home directory, as
    ``--target`` reads one (:func:`~esp_cabundle.file_inputs.expand_user`: the same
    error for a user this system does not know); anything else as it is."""
    if not (isinstance(value, str) and value.startswith("~")):
        return value
    from ..file_inputs import expand_user  # deferred: only a path typed with a quoted ~

    return str(expand_user(value))


def output_path(*, allow_dash: bool = False, binary: str | None = None) -> click.Path:
    """The type of every ``-o``/``--output`` option (and other files a command writes);
    ``binary``: what the command writes there (``a file-system image``), when it is
    bytes no CA or text file name may be given."""
    return _OutputPath(allow_dash=allow_dash, binary=binary)


def refuse_unsavable(path: Path, *, lost: str) -> None:
    """OutputError now, before long work (``read``: minutes per unit), when ``path``
    could not be written at its end: outputs are made beside their target and renamed,
    so the nearest directory of it that exists must take a new file. Nothing is created;
    a descriptor, device or FIFO is written through and passes. ``lost``: what would
    have been lost ("nothing was read"). The write at the end still says its own."""
    if output_descriptor(path) is not None:
        return
    target = Path(os.path.realpath(path))
    try:
        mode = os.stat(target).st_mode
    except OSError:
        mode = 0  # nothing there yet (or not reachable: the folder below says why)
    if stat.S_ISCHR(mode) or stat.S_ISFIFO(mode):
        return
    folder = target.parent
    while not os.path.lexists(folder) and folder != folder.parent:
        folder = folder.parent  # missing directories are made at the end
    if not os.path.isdir(folder):
        kind = file_kind(os.lstat(folder).st_mode)
        raise OutputError(
            f"{path}: cannot be saved: {folder} is {kind}, not a directory; {lost}",
            hint=f"move {folder} away, or write somewhere else",
        )
    if not os.access(folder, os.W_OK | os.X_OK):
        raise OutputError(
            f"{path}: cannot be saved: no new file can be made in {folder} (not writable); {lost}",
            hint="write to a directory where files can be created",
        )
