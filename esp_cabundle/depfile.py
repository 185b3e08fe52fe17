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

__all__ = ["render_depfile"]


def _escape(path: Path) -> str:
    """A path as GNU make and Ninja read it in a rule: ``$`` doubled, space and ``#``
    escaped. A newline cannot be written in a rule at all."""
    text = os.path.abspath(path)
    if "\n" in text or "\r" in text:
        raise InputError(
            "a line break in a file name cannot be written to a dependency file",
            path=text,
            hint="rename the file, or build without --depfile",
        )
    return text.replace("$", "$$").replace("#", "\\#").replace(" ", "\\ ")


def render_depfile(targets: Iterable[Path], inputs: Iterable[Path]) -> bytes:
    """``targets: inputs`` with one input per line; inputs that are also targets (an
    existing output compared before it is rewritten) and repeats are left out, so the
    rule never depends on itself."""
    tgts = list(dict.fromkeys(os.path.abspath(t) for t in targets))
    deps = [p for p in dict.fromkeys(os.path.abspath(i) for i in inputs) if p not in set(tgts)]
    head = " ".join(_escape(Path(t)) for t in tgts) + ":"
    lines = [head, *(f"  {_escape(Path(p))}" for p in deps)]
    return (" \\\n".join(lines) + "\n").encode()
