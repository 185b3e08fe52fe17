"""Whether an output would replace an input or another output, compared as files (the
same path, a symlink, a hard link), checked before anything is written. Apart from
:mod:`.fileio`, which reads and writes."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable
from pathlib import Path

from ._stdin import STDIN, appended_to, output_descriptor
from .errors import InputError

__all__ = ["refuse_clobbering", "same_file"]


def same_file(a: str | Path, b: str | Path) -> bool:
    """True when ``a`` and ``b`` are one existing file: the same path, a symlink to it,
    or a hard link (``os.stat``'s st_dev and st_ino agree)."""
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


Key = str | tuple[int, int]


def _written_over(path: Path) -> Key | None:
    """The file writing ``path`` by its name would replace: an existing file as its
    st_dev/st_ino (however it is named: symlinks followed, as the writer follows them,
    hard links too), one to be made as its canonical path; None when nothing is
    replaced: a character device or a FIFO (written through)."""
    real = os.path.realpath(path)
    try:
        st = os.stat(real)
    except OSError:
        return real
    if stat.S_ISCHR(st.st_mode) or stat.S_ISFIFO(st.st_mode):
        return None
    return st.st_dev, st.st_ino


def _written_into(fd: int) -> Key | None:
    """The regular file descriptor ``fd`` leads to (``-o -`` or ``-o /dev/stdout`` with
    ``> ca.pem``), as st_dev/st_ino: written through in place, whatever spelling named
    it; None for a pipe, socket or terminal, or a descriptor not open (the writer says
    so)."""
    try:
        st = os.fstat(fd)
    except OSError:
        return None
    return (st.st_dev, st.st_ino) if stat.S_ISREG(st.st_mode) else None


def _spelled(fd: int) -> str:
    return "standard output" if fd == 1 else f"file descriptor {fd}"


def refuse_clobbering(
    outputs: Iterable[tuple[str, Path]], inputs: Iterable[tuple[str, Path]] = ()
) -> None:
    """Raise :class:`InputError` before anything is written when an output would replace
    a file the command reads, or another output: ``(what, path)`` pairs, compared as
    files, not names (symlinks and hard links too: ``build -o cabundle.lock``, an output
    ``path: cabundle.yaml``, ``check --report ca.pem`` reading ``ca.pem``). An output
    on a descriptor (``-``, ``/dev/stdout``, ``/dev/fd/N``) is judged by the file it has
    open (``> ca.pem`` emptied an input before the command started, ``>>`` would mix the
    output into it); several such outputs are written one after another through one
    descriptor, or through descriptors opened for appending (``>> all.pem``); through two
    opened apart (``> all.pem 3> all.pem``), each at its own offset, the second would be
    written over the first, and is refused."""
    taken: dict[Key, str] = {}  # inputs, and outputs written by name
    through: dict[Key, tuple[str, int, bool]] = {}  # by descriptor: (what, fd, appended)
    for what, path in inputs:
        # '-' as an input is standard input where a command reads it, read whole first
        key = None if str(path) == STDIN else _written_over(path)
        if key is not None:
            taken.setdefault(key, f"{what} {path}")
    for what, path in outputs:
        fd = output_descriptor(path)
        if fd is not None:
            key = _written_into(fd)
            if key is None:
                continue
            if key in taken:
                raise InputError(
                    f"the {what} {path} would be written into the {taken[key]}, which "
                    f"{_spelled(fd)} leads to; nothing written",
                    hint=f"send {_spelled(fd)} to another file (a '>' there empties the "
                    "file before the command starts), or give the output another path",
                )
            appended = appended_to(path)
            if key in through:
                other, other_fd, other_appended = through[key]
                if fd != other_fd and not (appended and other_appended):
                    raise InputError(
                        f"the {what} {path} would be written over the {other}: "
                        f"{_spelled(fd)} and {_spelled(other_fd)} lead to one file, "
                        "each opened at its own start; nothing written",
                        hint="send them to two files, or open that file for appending "
                        "on both ('>>')",
                    )
                continue
            through[key] = (f"{what} {path} ({_spelled(fd)})", fd, appended)
            continue
        key = _written_over(path)
        if key is None:
            continue
        if key in taken or key in through:
            raise InputError(
                f"the {what} {path} would replace the "
                f"{taken[key] if key in taken else through[key][0]}; "
                "nothing written",
                hint="give the output another path",
            )
        taken[key] = f"{what} {path}"
