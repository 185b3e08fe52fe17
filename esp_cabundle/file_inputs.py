"""Reading a user-named input with clear errors: what it was meant to be, why it could
not be read, a symlink that leads nowhere, a FIFO with no writer yet, a device that
never ends, an archive where certificates were expected."""

from __future__ import annotations

import contextlib
import errno
import itertools
import os
import stat
from pathlib import Path

from ._stdin import DASH_HINT, STDIN, read_stdin
from .errors import InputError
from .fifo import named_fifo, open_fifo
from .file_kinds import file_kind, with_article
from .limits import MAX_FILE_INPUT, check_size, human_size
from .sniff import refuse_archive
from .text import plural_noun, suggest_file

__all__ = ["expand_user", "read_input"]


def read_input(
    path: str | Path,
    *,
    what: str = "file",
    error: type[InputError] = InputError,
    hint: str | None = None,
    max_bytes: int | None = None,
    regular_only: bool = False,
    devices: bool = True,
    certificates: bool = False,
    stdin: bool = False,
) -> bytes:
    """A user-named input's bytes; every failure is ``error`` naming the file and why.

    ``what`` says what the file was meant to be ("chain file", "bundle file"), so the
    message reads "no such chain file" rather than a bare OSError; a symlink that leads
    nowhere, or in a loop, is said to be one. Nothing beyond ``max_bytes`` (default
    :data:`~.limits.MAX_FILE_INPUT`) is read: a larger file is refused, a device or pipe
    that never ends included. ``regular_only``: anything but a regular file is refused
    once opened without blocking (a FIFO with no writer would hang the read).
    ``devices=False`` (dumps and images): a character device is refused before it is
    opened, as /dev/zero never ends, a serial port never answers (and opening one may
    reset the unit on it); a pipe is still read. A named FIFO with no writer yet is
    waited on, saying so on stderr (see :mod:`.fifo`). ``certificates``: it is read
    for the certificates it holds (a CA, bundle or chain file), so an archive is refused
    here, naming its unpacking, before any reader sniffs it (a stored zip's PEM text
    would be read as the CA); the file's kind decides, not how ``what`` words it.
    ``stdin``: ``-`` is standard input, read once (see :mod:`._stdin`), where the caller
    takes it; elsewhere it is a file's name.
    """
    cap = MAX_FILE_INPUT if max_bytes is None else max_bytes
    if stdin and str(path) == STDIN:
        data = read_stdin(what=what, cap=cap, error=error)
        if certificates:
            refuse_archive(data, source=STDIN, error=error)
        return data
    p = Path(path)
    if "\x00" in str(p):  # a "\0" in a config's or board's path: os.stat raises ValueError
        raise error(f"{what} name holds a NUL byte, which no file name can", path=str(p))
    try:
        if not devices and stat.S_ISCHR(os.stat(p).st_mode):
            raise error(
                f"is a character device (a serial port, /dev/zero ...), not {with_article(what)}",
                path=str(p),
                hint="a unit is read with --port PORT (esp-cabundle read --port PORT --all "
                "-o dump.bin saves its flash); another command's output can come through "
                "a pipe",
            )
        flags = os.O_RDONLY | getattr(os, "O_BINARY", 0)
        nonblock = getattr(os, "O_NONBLOCK", 0)
        if not regular_only and named_fifo(p):
            fd, head = open_fifo(p, flags, probe=cap + 1)
        else:
            fd, head = os.open(p, flags | (nonblock if regular_only else 0)), b""
        with os.fdopen(fd, "rb") as f:
            st = os.fstat(f.fileno())
            if regular_only and not stat.S_ISREG(st.st_mode):
                raise error(f"is {file_kind(st.st_mode)}, not a regular {what}", path=str(p))
            check_size(st.st_size, cap, what=what, path=str(p), error=error)
            # A regular file is read at its size (and one byte more, to see it grow):
            # read(n) reserves n bytes first, the cap's 256 MiB for a 1 MiB image.
            want = min(cap, st.st_size) + 1 if stat.S_ISREG(st.st_mode) else cap + 1
            data = head + f.read(want - len(head))  # head: what a FIFO's probe read
            if len(data) == want <= cap:  # it grew since fstat: up to the cap, as a pipe
                data += f.read(cap + 1 - want)
        if len(data) > cap and not stat.S_ISREG(st.st_mode):
            raise error(
                f"{what} is over the {human_size(cap)} limit for {plural_noun(what)} "
                "(reading stopped there: a pipe or device gives no size)",
                path=str(p),
                hint="is this the right file? inputs this large are refused without parsing",
            )
        check_size(len(data), cap, what=what, path=str(p), error=error)
        if certificates:
            refuse_archive(data, source=str(p), error=error)
        return data
    except FileNotFoundError as e:
        if p.is_symlink():
            raise error(
                f"is a symbolic link to '{os.readlink(p)}', which does not exist", path=str(p)
            ) from e
        if str(path) == STDIN:
            # '-' for standard input, as other tools take it: say the name that works,
            # over a caller's hint on making the file (README says this one).
            raise error(f"no such {what}", path=str(p), hint=DASH_HINT) from e
        near = suggest_file(p.name, _beside(p))  # then the name meant, not how to make one
        raise error(f"no such {what}", path=str(p), hint=near or hint) from e
    except IsADirectoryError as e:
        raise error(f"is a directory, expected {with_article(what)}", path=str(p)) from e
    except OSError as e:
        if e.errno == errno.ELOOP:
            raise error(
                f"is a symbolic link that loops ({e.strerror}): no {what} to read", path=str(p)
            ) from e
        raise error(f"cannot read {what} ({e.strerror or e})", path=str(p)) from e


def _beside(p: Path) -> list[str]:
    """The names of the files beside ``p`` (the first 10,000), near which a mistyped
    name is: "no such image" then says which was meant, as an unknown board name does."""
    with contextlib.suppress(OSError), os.scandir(p.parent) as found:
        return [f.name for f in itertools.islice(found, 10_000) if not f.is_dir()]
    return []


def expand_user(text: str | Path, *, error: type[InputError] = InputError) -> Path:
    """``text`` with a leading ``~`` or ``~user`` made that home directory, as a shell
    does; ``error`` (exit 2) for a user this system does not know, or no home directory
    (Path.expanduser raises RuntimeError: a traceback for a typo)."""
    path = Path(text)
    try:
        return path.expanduser()
    except RuntimeError:
        head = str(text).split("/", 1)[0].split(os.sep, 1)[0]
        if head == "~":
            raise error(
                f"no home directory for {text}",
                hint="set HOME, or give the path without '~'",
            ) from None
        raise error(
            f"no user '{head[1:]}' for {text}",
            hint=f"is '{head[1:]}' the user meant? or give the path without '{head}'",
        ) from None
