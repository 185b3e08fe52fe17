"""Writing files so that a failure never leaves a partial one behind."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable
from pathlib import Path

from .errors import InputError, OutputError

__all__ = ["read_input", "write_all_atomic", "write_atomic"]


def read_input(
    path: str | Path,
    *,
    what: str = "file",
    error: type[InputError] = InputError,
    hint: str | None = None,
    max_bytes: int | None = None,
) -> bytes:
    """A user-named input's bytes; every failure is ``error`` naming the file.

    ``what`` says what the file was meant to be ("chain file", "bundle file"), so the
    message reads "no such chain file" rather than a bare OSError. Nothing beyond
    ``max_bytes`` (default :data:`~.limits.MAX_FILE_INPUT`) is read: a larger file is
    refused, a device or pipe that never ends included.
    """
    from .limits import MAX_FILE_INPUT, check_size

    cap = MAX_FILE_INPUT if max_bytes is None else max_bytes
    p = Path(path)
    try:
        with p.open("rb") as f:
            check_size(os.fstat(f.fileno()).st_size, cap, what=what, path=str(p), error=error)
            data = f.read(cap + 1)
        check_size(len(data), cap, what=what, path=str(p), error=error)
        return data
    except FileNotFoundError as e:
        raise error(f"no such {what}", path=str(p), hint=hint) from e
    except IsADirectoryError as e:
        raise error(f"is a directory, expected a {what}", path=str(p)) from e
    except OSError as e:
        raise error(f"cannot read {what} ({e.strerror or e})", path=str(p)) from e


def write_atomic(path: str | Path, data: bytes) -> None:
    """Write ``data`` to ``path`` via a temporary file in the same directory and a rename."""
    write_all_atomic([(Path(path), data)])


def write_all_atomic(items: Iterable[tuple[Path, bytes]]) -> None:
    """Write several files; if any fails, none of the new files is left in place.

    Every temporary file is written and synced first, then all are renamed, so an error
    while writing leaves the previous files untouched.
    """
    import tempfile  # not at module level: it drags shutil & co. onto build's start-up path

    staged: list[tuple[str, Path]] = []
    try:
        for path, data in items:
            path = Path(path)
            parent = path.parent if str(path.parent) else Path(".")
            try:
                parent.mkdir(parents=True, exist_ok=True)
                fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=parent)
            except OSError as e:
                raise OutputError(f"{path}: cannot write ({e.strerror or e})") from e
            staged.append((tmp, path))
            try:
                with os.fdopen(fd, "wb") as f:
                    f.write(data)
                    f.flush()
                    os.fsync(f.fileno())
            except OSError as e:
                raise OutputError(f"{path}: cannot write ({e.strerror or e})") from e
        for tmp, path in staged:
            try:
                os.chmod(tmp, 0o644)
                os.replace(tmp, path)
            except OSError as e:
                raise OutputError(f"{path}: cannot write ({e.strerror or e})") from e
        staged = []
    finally:
        for tmp, _ in staged:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
