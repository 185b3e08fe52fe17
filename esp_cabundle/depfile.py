"""A Make-syntax dependency file (``build --depfile``): which files a build read.

CMake, Ninja and make take this format (``outputs: inputs``) to rebuild, or configure
again, when an input changes. cabundle.yaml alone is not enough: the saved chains of its
targets, root files, a board file, ``from_dir``'s files and the Mozilla store (certifi)
change what a build writes or whether it passes.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from .errors import InputError

__all__ = ["MAX_DEPFILE", "is_depfile", "render_depfile"]

# Past this, a file is not one this module wrote (a build reads a few hundred files).
MAX_DEPFILE = 1 << 20


def _escape(path: Path) -> str:
    """A path as GNU make and Ninja read it in a rule: ``$`` doubled, space and ``#``
    escaped. A newline cannot be written in a rule at all."""
    text = os.fspath(path)
    if "\n" in text or "\r" in text:
        raise InputError(
            "a line break in a file name cannot be written to a dependency file",
            path=text,
            hint="rename the file, or build without --depfile",
        )
    return text.replace("$", "$$").replace("#", "\\#").replace(" ", "\\ ")


def _make_name(path: Path, base: str | None) -> Path:
    """``path`` as a Makefile in ``base`` (where the build ran) names it: a config
    found by searching, or given as an absolute path, makes its outputs and root files
    absolute (``/home/me/mk/data/ca.pem``), and make would never match that to its
    ``data/ca.pem`` rule. So a path below ``base`` is written relative to it, any other
    absolute path stays absolute, and a relative one stays as given; all normalised
    (``sub/../ca.pem`` is ``ca.pem``), as make compares names, not files."""
    text = os.path.normpath(path)
    if base is None or not os.path.isabs(text):
        return Path(text)
    # As typed, then with symlinks resolved: the working directory is the resolved one
    # (os.getcwd), a config given through a symlinked directory is not.
    for name, at in ((text, base), (os.path.realpath(text), os.path.realpath(base))):
        try:
            below = os.path.relpath(name, at)
        except ValueError:  # on another drive (Windows): never below
            continue
        if below != os.pardir and not below.startswith(os.pardir + os.sep):
            return Path(below)
    return Path(text)


def _unique(paths: Iterable[Path], base: str | None) -> dict[str, Path]:
    """Each file once, under the name it was first given, keyed by where it is."""
    out: dict[str, Path] = {}
    for p in paths:
        out.setdefault(os.path.abspath(p), _make_name(Path(p), base))
    return out


def _working_dir() -> str | None:
    """The directory the build runs in; None when it was removed under it."""
    try:
        return os.getcwd()
    except OSError:
        return None


def render_depfile(targets: Iterable[Path], inputs: Iterable[Path]) -> bytes:
    """``targets: inputs`` with one input per line; inputs that are also targets (an
    existing output compared before it is rewritten) and repeats (the same file by two
    names) are left out, so the rule never depends on itself. Names are as make, run
    where the build ran, would write them (see :func:`_make_name`).

    Then an empty rule for each input, as ``gcc -MP`` adds: an input renamed or removed
    (with the config edited to match) is then a target make knows how to make, not
    "No rule to make target"; the outputs are rebuilt since it is newer than them."""
    base = _working_dir()
    tgts, deps = _unique(targets, base), _unique(inputs, base)
    head = " ".join(_escape(t) for t in tgts.values()) + ":"
    kept = [_escape(p) for key, p in deps.items() if key not in tgts]
    lines = [head, *(f"  {name}" for name in kept)]
    phony = "".join(f"\n{name}:\n" for name in kept)
    # A name that is not UTF-8 is written as its bytes, as make and Ninja open files.
    return os.fsencode(" \\\n".join(lines) + "\n" + phony)


def is_depfile(data: bytes) -> bool:
    """Whether ``data`` reads as :func:`render_depfile` writes: a ``targets:`` line, then
    only indented inputs, then an empty rule for each of them (none in files written
    before they were added). An earlier run's dependency file in a ``from_dir`` is left
    out of the image as the outputs are; a file of the user's at that path is not one."""
    text = os.fsdecode(data)
    rule, blank, rest = text.partition("\n\n")
    lines = (rule + "\n" if blank else rule).split(" \\\n")
    head, *deps = (line.removesuffix("\n") for line in lines)
    if not data.endswith(b"\n") or not head.endswith(":") or "\n" in head:
        return False
    if not all(line.startswith("  ") and "\n" not in line for line in deps):
        return False
    empty = [f"{line[2:]}:" for line in deps]
    return not rest or rest.removesuffix("\n").split("\n\n") == empty
