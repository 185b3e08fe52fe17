"""Whether an output would replace an input or another output, compared as files (the
same path, a symlink, a hard link), checked before anything is written. Apart from
:mod:`.fileio`, which reads and writes."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable
from pathlib import Path

from .errors import InputError

__all__ = ["refuse_clobbering", "same_file"]


def same_file(a: str | Path, b: str | Path) -> bool:
    """True when ``a`` and ``b`` are one existing file: the same path, a symlink to it,
    or a hard link (``os.stat``'s st_dev and st_ino agree)."""
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def _written_over(path: Path) -> str | tuple[int, int] | None:
    """The file writing ``path`` would replace: an existing file as its st_dev/st_ino
    (however it is named: symlinks followed, as the writer follows them, hard links
    too), one to be made as its canonical path; None when nothing is replaced:
    standard output, a character device or a FIFO (written through)."""
    if str(path) == "-":
        return None
    real = os.path.realpath(path)
    try:
        st = os.stat(real)
    except OSError:
        return real
    if stat.S_ISCHR(st.st_mode) or stat.S_ISFIFO(st.st_mode):
        return None
    return st.st_dev, st.st_ino


def refuse_clobbering(
    outputs: Iterable[tuple[str, Path]], inputs: Iterable[tuple[str, Path]] = ()
) -> None:
    """Raise :class:`InputError` before anything is written when an output would replace
    a file the command reads, or another output: ``(what, path)`` pairs, compared as
    files, not names (symlinks and hard links too: ``build -o cabundle.lock``, an output
    ``path: cabundle.yaml``, ``check --report ca.pem`` reading ``ca.pem``)."""
    taken: dict[str | tuple[int, int], str] = {}
    for what, path in inputs:
        key = _written_over(path)
        if key is not None:
            taken.setdefault(key, f"{what} {path}")
    for what, path in outputs:
        key = _written_over(path)
        if key is None:
            continue
        if key in taken:
            raise InputError(
                f"the {what} {path} would replace the {taken[key]}; nothing written",
                hint="give the output another path",
            )
        taken[key] = f"{what} {path}"
