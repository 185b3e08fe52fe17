"""The block-source protocol and what erased flash looks like (see the package)."""

from __future__ import annotations

import hashlib
from functools import lru_cache
from typing import Protocol

__all__ = ["ERASED", "SECTOR_SIZE", "BlockSource", "SourceView", "erased_md5", "is_erased"]

# ESP32 SPI NOR flash erase unit (esptool ESPLoader.FLASH_SECTOR_SIZE).
SECTOR_SIZE = 0x1000
# What erased NOR flash reads as.
ERASED = 0xFF


class BlockSource(Protocol):
    """A flash's bytes: read any range, and an MD5 of a range computed where they are.

    A unit answers :meth:`md5` itself (only the digest crosses the link); a dump hashes
    its own bytes.
    """

    @property
    def name(self) -> str:
        """Where the bytes are, for messages: the port or the file name."""
        ...

    @property
    def size(self) -> int:
        """How many bytes there are (the flash size, or the dump's length)."""
        ...

    def read(self, offset: int, length: int) -> bytes:
        """``length`` bytes from ``offset``."""
        ...

    def md5(self, offset: int, length: int) -> str:
        """Lower-case hex MD5 of a range."""
        ...


class SourceView:
    """Stands in front of ``source`` (a cache, a guard): what it reads is the source's
    bytes, so where they are and how many are the source's too."""

    source: BlockSource

    @property
    def name(self) -> str:
        return self.source.name

    @property
    def size(self) -> int:
        return self.source.size


def is_erased(data: bytes | bytearray) -> bool:
    """Every byte 0xFF: erased flash, or never written."""
    return data.count(ERASED) == len(data)


@lru_cache(maxsize=64)
def erased_md5(length: int) -> str:
    """The MD5 an erased range of ``length`` bytes hashes to (what a unit's MD5 of an
    erased range answers)."""
    return hashlib.md5(bytes([ERASED]) * length).hexdigest()
