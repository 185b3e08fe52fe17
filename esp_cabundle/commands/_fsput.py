"""``fs put``'s SOURCE: read never past what the image could hold, and a CA file given
where the image goes (the arguments swapped) said with the order that works."""

from __future__ import annotations

import contextlib
import os
import stat
from collections.abc import Callable, Iterator
from pathlib import Path

from ..errors import CertificateError, ImageError, InputError, PrivateKeyError
from ..fileio import read_input
from ..fs.base import FS_NAMES, FsHint
from ..fs.edit import dump_fs_partitions, looks_like_pem
from ..text import printable
from ._fsopts import fs_command

__all__ = ["not_a_ca_at", "read_source", "refuse_swapped"]

# A missing SOURCE with no name near it beside it: what fs put reads from it.
_SOURCE_HINT = (
    "SOURCE is a file on this computer, copied into the image (at DEST, else under its "
    "own name): e.g. esp-cabundle fs put fs.bin ca.pem /ca.pem"
)


def read_source(source: Path, capacity: int, fs_type: str) -> bytes:
    """SOURCE's bytes, never more than the image's whole size: a regular file larger
    than that is refused before a byte of it is read (a 130 MB file for a 256 KiB
    image), a pipe once it has given more."""
    try:
        st = os.stat(source)
    except OSError:
        st = None  # read_input says why (missing, a link leading nowhere ...)
    if st is not None and stat.S_ISREG(st.st_mode) and st.st_size > capacity:
        raise ImageError(
            f"{source} is {st.st_size:,} bytes, more than the whole {FS_NAMES[fs_type]} "
            f"image ({capacity:,} bytes): it cannot fit; nothing written",
            hint=FsHint("put a smaller file, or use a larger partition"),
        )
    return read_input(source, max_bytes=capacity, hint=_SOURCE_HINT)


def refuse_swapped(image: Path, source: Path, dest: str | None, image_bytes: bytes) -> None:
    """``fs put ca.pem dump.bin``: the CA file where the image goes. Say the right order
    (and, for a whole-flash dump, the partition's --offset/--size)."""
    if not looks_like_pem(image_bytes):
        return
    data = read_input(source, hint=_SOURCE_HINT)
    if looks_like_pem(data):
        return
    _, parts = dump_fs_partitions(data)
    where = f" --offset {parts[0].offset:#x} --size {parts[0].size:#x}" if parts else ""
    right = fs_command("put", source, image, *([dest] if dest else []), options=where)
    for p in parts[1:]:
        right += f" (then {printable(p.name)}: --offset {p.offset:#x} --size {p.size:#x})"
    raise InputError(
        f"the arguments look swapped: {image} holds PEM text and {source} does not; "
        "nothing written",
        hint=f"the image comes first: {right}",
    )


@contextlib.contextmanager
def not_a_ca_at(
    target: str, source: Path, ca_paths: set[str], put_to: Callable[[str], str]
) -> Iterator[None]:
    """A SOURCE with no certificate put at the CA path (``fs put img notes.txt
    /ca.pem``): its refusal, said of the whole file (no line), also says that DEST is
    the CA file, checked as one, and where any other file goes. "no certificate found"
    alone read as a fault in the file, not in where it was put."""
    try:
        yield
    except CertificateError as e:
        if isinstance(e, PrivateKeyError) or e.path != str(source) or e.line is not None:
            raise
        other = "/" + source.name
        example = f": {put_to(other)}" if other not in ca_paths else ""
        raise CertificateError(
            e.reason,
            path=e.path,
            hint=f"{target} is the image's CA file: what is put there is checked as a CA "
            f"file (the units trust it); another DEST stores any other file as it is"
            f"{example}",
        ) from e
