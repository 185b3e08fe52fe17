"""What stands at a path, said before anything opens it: a regular file, or a FIFO,
socket, device, directory or looping link that a reader must not open (a FIFO with no
writer hangs it) and a message names as what it is."""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

from ._stdin import named_descriptor
from .errors import InputError
from .spelling import shell_join, shell_word  # here too: quoting a path for a hint

__all__ = [
    "base_dir_of",
    "file_kind",
    "is_found",
    "is_named",
    "name_fault",
    "names_a_directory",
    "refuse_special",
    "shell_join",
    "shell_path",
    "shell_word",
    "with_article",
]


def names_a_directory(value: str) -> bool:
    """True for ``build/``, ``logs/.`` or ``..``: a path whose last part names a
    directory. pathlib drops the trailing ``/`` and ``.``, so ``-o build/`` (no such
    directory yet) would otherwise write a file called ``build``."""
    seps = os.sep + (os.altsep or "")
    last = value.rstrip(seps)
    for sep in seps:
        last = last.rsplit(sep, 1)[-1]
    return value.endswith(tuple(seps)) or last in (".", "..")


def shell_path(path: str | Path) -> str:
    """``path`` as a hint's word that no command takes for an option: ``./--size`` for a
    name starting with a dash (typed after ``--``), where ``-o --size`` was refused.
    Quoted by :func:`shell_word`."""
    name = str(path)
    return shell_word(f"./{name}" if name.startswith("-") else name)


def with_article(noun: str) -> str:
    """``noun`` with its article, for messages whose noun the caller picks ("an image")."""
    return f"{'an' if noun[:1].lower() in 'aeiou' else 'a'} {noun}"


def is_named(path: str | Path, *, directory: bool = True) -> bool:
    """True when something is at ``path`` itself (``os.lstat``), even a symlink leading
    nowhere or in a loop: ``Path.exists`` says False for those, and a reader that asks
    it says "does not exist" where :func:`~.fileio.read_input` would name the real reason.
    ``directory=False``: a directory (or a link to one) does not count."""
    try:
        os.lstat(path)
    except (OSError, ValueError):
        return False
    return directory or not os.path.isdir(path)


def is_found(path: str | Path, *, what: str, hint: str) -> bool:
    """:func:`is_named` (``directory=False``) for a file a command reads without being
    told to (``./ca.pem``, ``./cabundle.yaml``, ``chains/NAME.pem``), refusing a FIFO, a
    socket, a device or a directory there (``what``, ``hint``: the refusal's words)
    before anything opens it. Opening a FIFO with no writer hangs; passing over one, or
    a directory, would silently judge or build from something else than the file the
    user keeps under that name (whose name says what it is meant to be)."""
    if os.path.isdir(path):
        raise InputError(
            f"is a directory, not {with_article(what)}; nothing was read from it",
            path=str(path),
            hint=hint,
        )
    if not is_named(path, directory=False):
        return False
    try:
        mode = os.stat(path).st_mode
    except OSError:  # a link leading nowhere or in a loop: reading it says so
        return True
    if not stat.S_ISREG(mode):
        raise InputError(
            f"is {file_kind(mode)}, not {with_article(what)}; nothing was read from it",
            path=str(path),
            hint=hint,
        )
    return True


def refuse_special(path: str | Path, *, what: str, hint: str) -> None:
    """Refuse anything but a regular file (or nothing) at ``path``, a file a command
    reads and writes without being told to (``cabundle.lock`` beside the config), before
    anything opens it: a FIFO blocks a reader or a writer until another process opens
    its other end (forever), a device or socket would take or give something else than
    the file, a symbolic link that loops leads to no file. Nothing there, or a link
    leading nowhere (writing makes its target), passes."""
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        return
    except OSError as e:
        if e.errno == errno.ELOOP:
            raise InputError(
                f"is a symbolic link that loops ({e.strerror}), not {with_article(what)}; "
                "nothing was read or written",
                path=str(path),
                hint=hint,
            ) from e
        return  # not searchable: reading or writing it says why
    if not stat.S_ISREG(mode):
        raise InputError(
            f"is {file_kind(mode)}, not {with_article(what)}; nothing was read or written",
            path=str(path),
            hint=hint,
        )


_KINDS = (
    (stat.S_ISREG, "a regular file"),
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISLNK, "a symbolic link"),
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISSOCK, "a socket"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
)


def file_kind(mode: int) -> str:
    """What a ``st_mode`` is, as messages say it: "a FIFO (named pipe)", "a socket"."""
    return next((name for test, name in _KINDS if test(mode)), "a special file")


def base_dir_of(path: Path) -> Path:
    """Where a config's (or a board file's) relative paths are read, and a config's lock
    and default ``ca.pem`` written: beside it (its directory as typed) when it is a
    regular file, else the working directory. A config read from a pipe, a FIFO, a
    device or a descriptor (``-c /dev/stdin``, ``-c /dev/null``, ``-c <(...)``'s
    ``/dev/fd/63``) has no "beside": its parent (/dev, /dev/fd, a FIFO's folder) is no
    project's, and a build run as root wrote /dev/ca.pem. The one rule, for every
    reader of a path in a config."""
    if named_descriptor(path) is None:
        try:
            regular = stat.S_ISREG(os.stat(path).st_mode)
        except OSError:  # not there yet (init checks the text it is about to write)
            regular = True
        if regular:
            return path.parent
    return Path(".")


def name_fault(path: str | Path) -> str | None:
    """Why no file can ever have the name ``path``, whatever is on disk: a NUL byte
    (os.stat raises ValueError on one) or a length the OS refuses (ENAMETOOLONG: a part
    over NAME_MAX, 255 bytes on Linux, or the whole over PATH_MAX). A reader says this
    where it would say "no such file", a writer before the work, not once it is done.
    None for a name the OS takes."""
    s = str(path)
    if "\x00" in s:
        return "the name holds a NUL byte, which no file name can"
    longest = max((os.fsencode(part) for part in Path(s).parts), key=len, default=b"")
    if len(longest) > 14:  # POSIX's least NAME_MAX: shorter parts fit everywhere
        limit = _name_max(Path(s))
        if len(longest) > limit:
            return (
                f"a part of the name is {len(longest)} bytes, longer than the {limit} "
                "the OS allows for one"
            )
    try:
        os.lstat(s)
    except OSError as e:
        if e.errno == errno.ENAMETOOLONG:
            return f"the name is {len(os.fsencode(s))} bytes, longer than the OS allows"
    return None


def _name_max(path: Path) -> int:
    """NAME_MAX of the file system the nearest existing directory above ``path`` is on
    (255 where the OS does not say)."""
    for folder in path.absolute().parents:
        try:
            return int(os.pathconf(folder, "PC_NAME_MAX"))
        except (OSError, ValueError):
            continue
    return 255
