"""Which files given to pack beside a gated CA (``pack --from-dir``, an image output's
``from_dir``) may go into the image: one at the CA path, or where the board's firmware
reads its CA, would be trusted by the units in place of, or beside, the gated bundle."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import TYPE_CHECKING

from ..errors import InputError
from ..spelling import Spelling
from ..text import shown_path
from .base import normalize_path

if TYPE_CHECKING:
    from ..gate import GatedCA

__all__ = ["ca_files"]


def ca_files(
    ca: GatedCA,
    target: str,
    files: Sequence[tuple[str, bytes]],
    read_path: str | None,
    spelling: Spelling,
    from_dir: str | None = None,
) -> tuple[list[tuple[str, bytes]], tuple[str, ...]]:
    """``files`` without one at the CA path that holds the gated bundle's own bytes (a
    directory holding the ``ca.pem`` build wrote), and a note saying so. Refused: any
    other file there (it would replace the gated CA), and, when the CA was moved off
    ``read_path`` (where the board's firmware reads it), any file at ``read_path``: the
    units would trust it (judged by no gate, or a copy the next CA update leaves
    behind). Nothing is made then. ``from_dir``: the directory the files came from, as
    the user named it, so a hint names the file to remove or rewrite."""
    read = normalize_path(read_path) if read_path is not None else target
    kept: list[tuple[str, bytes]] = []
    notes: list[str] = []
    for path, data in files:
        p = normalize_path(path)
        host = shown_path(os.path.join(from_dir, p.lstrip("/"))) if from_dir else None
        if p == read != target:
            raise _where_the_board_reads(p, target, data == ca.pem, host, spelling)
        if p != target:
            kept.append((path, data))
        elif data == ca.pem:
            notes.append(f"{p} of the directory: the bundle's own bytes, packed there; left out")
        else:
            raise InputError(
                f"a file to pack, {p}, would replace the bundle at {target}; nothing written",
                hint=f"{_stale_hint(p, host, spelling)}; the gated bundle goes to {target}, "
                "and the units trust what it holds",
            )
    return kept, tuple(notes)


def _where_the_board_reads(
    p: str, target: str, bundle: bool, host: str | None, spelling: Spelling
) -> InputError:
    """A file at the path the board's firmware reads, the CA moved elsewhere: junk would
    be trusted unjudged; a copy of the bundle would be two CA files, the one the units
    read left behind by the next CA update (it rewrites ``target``)."""
    where = f"a file to pack, {p}, is where the board's firmware reads its CA, and the bundle "
    hint = f"drop {spelling.ca_path}: the gated bundle then goes to {p}, where the units read it"
    if not bundle:
        return InputError(
            f"{where}goes to {target}: the units would trust {p}, which no gate judged; "
            "nothing written",
            hint=hint,
        )
    copy = f" ({host})" if host else ""
    return InputError(
        f"{where}goes to {target}: {p}{copy} holds the gated bundle's bytes, so a copy of "
        f"the bundle would stay at {p} beside {target}, and the units would go on trusting "
        f"it after a CA update rewrites {target} alone; nothing written",
        hint=f"{hint} (the copy is then left out)",
    )


def _stale_hint(p: str, host: str | None, spelling: Spelling) -> str:
    """Remove the file, or have it written again as the gated bundle: a ``ca.pem`` an
    earlier build wrote before the config's CA changed holds other bytes."""
    if host is None:
        return f"remove {p} from the files"
    if not spelling.cli:  # an image output of cabundle.yaml: its build's outputs not packed
        return (
            f"remove {host}, or make it one of the config's outputs ({spelling.pem}): "
            "build then writes the gated bundle there and leaves it out of the image"
        )
    return (
        f"remove {host}, or, if a build wrote it (before the CA changed: it holds other "
        "bytes than the gated bundle), run 'esp-cabundle build' to write it again"
    )
