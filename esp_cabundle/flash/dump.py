"""A flash dump file behind the :class:`~esp_cabundle.flash.base.Flash` interface.

The offline twin of a unit: ``inspect dump.bin`` and ``update-dump`` run the same code
as their ``--port`` forms. The dump is held in memory; erases and writes change that
copy, and :meth:`DumpFile.save` writes it out atomically, so a failed update never leaves
a half-written image (and never touches the original unless asked to).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from ..errors import InputError
from ..fileio import read_input, write_atomic
from .base import SECTOR_SIZE, Flash, Progress, ProgressCallback

__all__ = ["DumpFile"]


class DumpFile(Flash):
    """A whole-flash image (``esptool read-flash 0 ALL``) as a :class:`Flash`."""

    def __init__(
        self, data: bytes, *, name: str = "flash dump", progress: ProgressCallback | None = None
    ) -> None:
        self._data = bytearray(data)
        self._name = name
        self.progress = progress
        self.modified = False

    @classmethod
    def open(cls, path: str | Path, *, progress: ProgressCallback | None = None) -> DumpFile:
        """Load a dump file; InputError if it cannot be read."""
        p = Path(path)
        data = read_input(p, what="flash dump")
        if not data:
            raise InputError("empty file, not a flash dump", path=str(p))
        return cls(data, name=str(p), progress=progress)

    @property
    def name(self) -> str:
        return self._name

    @property
    def size(self) -> int:
        return len(self._data)

    @property
    def data(self) -> bytes:
        """The current content (with any erases and writes applied)."""
        return bytes(self._data)

    def read(self, offset: int, length: int) -> bytes:
        self._check_range(offset, length, sectors=False, what="read")
        self._emit(Progress("read", offset, length, length))
        return bytes(self._data[offset : offset + length])

    def erase(self, offset: int, length: int) -> None:
        self._check_range(offset, length, sectors=True, what="erase")
        self._data[offset : offset + length] = b"\xff" * length
        self.modified = True
        self._emit(Progress("erase", offset, length, length))

    def write(self, offset: int, data: bytes) -> None:
        self._check_range(offset, len(data), sectors=True, what="write")
        self._data[offset : offset + len(data)] = data
        self.modified = True
        self._emit(Progress("write", offset, len(data), len(data)))

    def md5(self, offset: int, length: int) -> str:
        self._check_range(offset, length, sectors=False, what="MD5")
        return hashlib.md5(self._data[offset : offset + length]).hexdigest()

    def save(self, path: str | Path) -> None:
        """Write the current content to ``path`` atomically (OutputError on failure)."""
        write_atomic(path, bytes(self._data))

    def changed_sectors(self, original: bytes) -> list[int]:
        """Addresses of the 4 KiB sectors that differ from ``original``."""
        n = max(len(original), len(self._data))
        a = bytes(self._data).ljust(n, b"\xff")
        b = bytes(original).ljust(n, b"\xff")
        return [
            off
            for off in range(0, n, SECTOR_SIZE)
            if a[off : off + SECTOR_SIZE] != b[off : off + SECTOR_SIZE]
        ]
