"""What a missing CA file's error suggests: the command that builds one there, or, for a
program source the user meant to read, where its path was looked for."""

from __future__ import annotations

import os
from pathlib import Path

from ._patterns import lazy_re
from .file_kinds import shell_path

__all__ = ["missing_ca_hint", "names_source"]


def missing_ca_hint(path: str | Path) -> str:
    """A missing CA file's hint (when no name beside it is near): the command that
    builds one there, as every other missing input's hint says how to get it. A source
    file's name (``src/mDash.c``, a library's file to read) is not one the user means to
    generate: its hint says where the path was looked for instead."""
    p = Path(path)
    if names_source(p) and not _CA_WORDS & _words(p.stem):
        return _not_found_here(p)
    return f"build one: esp-cabundle build --preset default -o {shell_path(path)}"


# Names of program source (C, C++, Arduino sketches): firmware that embeds its CA
# certificates there is read, not written; build's own C output is named for what it
# holds (ca_pem.h, root_certs.h), which _CA_WORDS tells apart.
_SOURCE_SUFFIXES = frozenset({".c", ".h", ".cc", ".cpp", ".cxx", ".hh", ".hpp", ".ino"})
_CA_WORDS = frozenset({"ca", "cas", "cert", "certs", "root", "roots", "bundle", "trust", "x509"})


def names_source(path: Path) -> bool:
    """True for a program source's name (``mDash.c``, ``main.cpp``, ``sketch.ino``)."""
    return path.suffix.lower() in _SOURCE_SUFFIXES


_NON_WORD = lazy_re(r"[^a-z0-9]+")


def _words(stem: str) -> set[str]:
    """The lower-case words of a file name (``root_ca-certs``: root, ca, certs)."""
    return set(_NON_WORD().split(stem.lower())) - {""}


def _not_found_here(p: Path) -> str:
    """Where a relative path was looked for (the working directory), and which part of
    it is missing, for a file the user meant to read rather than make."""
    here = Path.cwd()
    if p.is_absolute():
        where = (
            f"{p.parent} has no file {p.name}"
            if os.path.isdir(p.parent)
            else (f"there is no directory {p.parent}")
        )
        return f"{where}; give the path of the file to read"
    folder = "" if p.parent == Path(".") else f"{p.parent}{os.sep}"
    if folder and not os.path.isdir(here / p.parent):
        return (
            f"a relative path is read from the working directory ({here}), which has no "
            f"{folder}; give the file's path from here, or an absolute one"
        )
    there = f"and {folder} has" if folder else "which has"
    return (
        f"a relative path is read from the working directory ({here}), {there} no "
        f"{p.name}; give the path of the file to read"
    )
