"""Standard input as an input file (``-``), as ``-o -`` is standard output.

Read once, whole and bounded: the bytes are kept with the stream they came from, so a
command that opens its input twice (check reads a ``--bundle`` to sniff it, then loads
it) gets the same bytes again rather than an empty second read. A terminal is refused
before any read: nothing was piped, and waiting on the keyboard would look like a hang.
"""

from __future__ import annotations

import os
import stat
import sys
from collections.abc import Sequence

from .errors import InputError
from .limits import human_size
from .text import plural_noun

__all__ = [
    "DASH_HINT",
    "STDIN",
    "appended_to",
    "empty_input",
    "named_descriptor",
    "names_stdout",
    "output_descriptor",
    "read_only",
    "read_stdin",
    "stdin_named_twice",
]

STDIN = "-"
"""The name that reads standard input where a command takes it (``inspect -``)."""

DASH_HINT = "'-' is read as a file name here; read standard input as /dev/stdin"
"""Said where ``-`` is a file's name (``--chain``, ``--root``, ``fs put``'s source)."""


def empty_input(source: str) -> str:
    """How an input with no bytes is said: "empty file", or for ``-`` "standard input is
    empty" (nothing was piped in, as when the command before the pipe failed), which
    "-: empty file" hid."""
    return "standard input is empty" if source == STDIN else "empty file"


# The stream last read, its bytes, and the cap the read stopped at when it was cut there
# (None: read whole). Standard input is itself one per process; a new stream, as each
# test run of a command has, is read afresh.
_READ: list[tuple[object, bytes, int | None]] = []


def read_stdin(*, what: str, cap: int, error: type[InputError] = InputError) -> bytes:
    """Standard input's bytes, at most ``cap``; ``error`` (naming it ``-``) when it is a
    terminal, closed, or longer than ``cap``."""
    stream = sys.stdin
    if _READ and _READ[0][0] is stream:
        _, data, cut_at = _READ[0]
        # Cut at an earlier reader's cap: a larger cap here would parse a truncated input.
        limit = cap if cut_at is None else min(cap, cut_at)
        return _within(data, what=what, cap=limit, error=error)
    if stream is None or stream.closed:
        raise error(f"standard input is closed: no {what} to read", path=STDIN)
    if stream.isatty():
        raise error(
            f"standard input is a terminal: no {what} was piped in",
            path=STDIN,
            hint=f"pipe the {what} in (cat ca.pem | esp-cabundle ...), or name its file",
        )
    try:
        data = stream.buffer.read(cap + 1)
    except OSError as e:
        raise error(f"cannot read {what} ({e.strerror or e})", path=STDIN) from e
    _READ[:] = [(stream, data, cap if len(data) > cap else None)]
    return _within(data, what=what, cap=cap, error=error)


def _within(data: bytes, *, what: str, cap: int, error: type[InputError]) -> bytes:
    """``data``, unless it is over ``cap`` (read whole, or cut: then ``cap`` is the cap
    the read stopped at, whatever a later reader's)."""
    if len(data) > cap:
        raise error(
            f"{what} is over the {human_size(cap)} limit for {plural_noun(what)} "
            "(reading stopped there: a pipe gives no size)",
            path=STDIN,
            hint="is this the right input? inputs this large are refused without parsing",
        )
    return data


def named_descriptor(path: str | os.PathLike[str]) -> int | None:
    """The file descriptor ``path`` spells itself (``/dev/stdout`` is 1, ``/dev/fd/63``
    from bash's ``>(cmd)`` is 63, ``/proc/self/fd/N`` is N), else None: its chain of
    links is followed up to the ``fd/N`` entry, not through it (that link leads to the
    file the descriptor has open, which a pipe or socket has none of on disk)."""
    here = os.path.abspath(path)
    fd_dirs = {os.path.realpath("/proc/self/fd"), "/dev/fd"}
    for _ in range(8):  # /dev/stdin -> /proc/self/fd/0 is one link; a loop ends here
        head, name = os.path.split(here)
        if name.isdigit() and name.isascii() and os.path.realpath(head) in fd_dirs:
            return int(name)
        try:
            target = os.readlink(here)
        except OSError:  # not a link: a file of its own
            return None
        here = os.path.normpath(os.path.join(head, target))
    return None


def output_descriptor(path: str | os.PathLike[str]) -> int | None:
    """The descriptor an output named ``path`` is written through: 1 for ``-``
    (standard output), else the one ``path`` spells (:func:`named_descriptor`)."""
    return 1 if os.fspath(path) == STDIN else named_descriptor(path)


def read_only(fd: int) -> bool:
    """True when descriptor ``fd`` is open for reading only (``< FILE``, a pipe's read
    end): an output written through it would fail, and only after the others were in
    place. OSError when it is not open; False where its flags cannot be read."""
    try:
        import fcntl  # deferred: only outputs named by a descriptor; POSIX only
    except ImportError:
        return False
    return fcntl.fcntl(fd, fcntl.F_GETFL) & os.O_ACCMODE == os.O_RDONLY


def appended_to(path: str | os.PathLike[str]) -> bool:
    """True when the output ``path`` is a descriptor open for appending (``-o /dev/stdout
    >> all.bin``): written there, every byte its file held stays. False for a name of
    its own, a descriptor not open, or where its flags cannot be read."""
    fd = output_descriptor(path)
    if fd is None:
        return False
    try:
        import fcntl  # deferred: only outputs named by a descriptor; POSIX only

        return bool(fcntl.fcntl(fd, fcntl.F_GETFL) & os.O_APPEND)
    except (ImportError, OSError):
        return False


def names_stdout(path: str | os.PathLike[str]) -> bool:
    """True for an output on standard output: ``-``, or a name of descriptor 1
    (``/dev/stdout``, ``/dev/fd/1``), whose text would be mixed into the output."""
    return output_descriptor(path) == 1


def stdin_named_twice(paths: Sequence[str]) -> tuple[str, str] | None:
    """The first two of ``paths`` that both name standard input (``-``, ``/dev/stdin``,
    ``/proc/self/fd/0``, or fd 0's pipe or device by another path), else None; only
    stat'd, nothing read. Compared as files (st_dev, st_ino), as a pipe read once would be
    empty the second time; a regular file redirected in is only the same input where both
    names are fd 0, so ``inspect ca.pem - < ca.pem`` reads the file twice, harmlessly."""
    try:
        fd0 = os.fstat(0)
    except OSError:  # closed: '-' says so when read; only '-' spellings can repeat
        fd0 = None
    seen: dict[object, str] = {}
    for path in paths:
        if path == STDIN or named_descriptor(path) == 0:
            key: object = STDIN
        elif fd0 is None or stat.S_ISREG(fd0.st_mode):
            continue  # another regular file: not standard input, whatever its inode
        else:
            try:
                st = os.stat(path)
            except OSError:
                continue  # missing: said when read
            if (st.st_dev, st.st_ino) != (fd0.st_dev, fd0.st_ino):
                continue
            key = STDIN
        if key in seen:
            return seen[key], path
        seen[key] = path
    return None
