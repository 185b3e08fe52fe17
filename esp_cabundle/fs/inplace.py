"""Replacing one file in a file system that lives in a partition of a unit's flash (or of
a dump), planned in memory before anything is written.

The partition is read through a :class:`~esp_cabundle.blocks.FlashCache` (only what the
file system needs crosses a serial link) and edited in an
:class:`~esp_cabundle.blocks.Overlay`, which yields the sectors to write in the order
that keeps every cut state mountable. :class:`PartitionEdit` is what both file systems
share; :mod:`.lfs_safe` and :mod:`.spiffs_safe` know how each one is made cut-safe.
:func:`mount_region` opens the file system as its firmware would, for the verifiers
(:mod:`.verify`) and for reading a unit back after writing.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass

from ..blocks import SECTOR_SIZE, FlashCache, Overlay, SectorWrite
from ..blocks.overlay import Reader
from . import check_fs_type
from .base import FileInfo, FileSystemImage, normalize_path
from .littlefs import LittleFsImage
from .spiffs import SpiffsImage, get_spiffs_profile
from .spiffs_region import read_spiffs_region

__all__ = ["FileReplacement", "PartitionEdit", "mount_region"]


@dataclass(frozen=True, slots=True)
class FileReplacement:
    """The sectors that replace the file, in the order to write them.

    ``power_safe``: a cut between or inside any of the writes leaves a file system that
    mounts with the old or the new file whole and every other file intact. Otherwise
    ``order`` says what a cut can leave (the journal is then the safeguard), and
    ``unsafe_cuts`` counts the points between two writes where a cut may leave a file
    system that does not mount (a nearly full SPIFFS whose garbage collection moves
    pages between blocks): the user is warned before the first write.
    """

    writes: tuple[SectorWrite, ...]
    power_safe: bool
    order: str
    unsafe_cuts: int = 0


NOTHING_TO_WRITE = FileReplacement((), True, "nothing to write")


class PartitionEdit(ABC):
    """A partition's file system, opened through a cache: its files and format as found,
    and the plan to replace one file."""

    def __init__(self, cache: FlashCache, offset: int, size: int, image: FileSystemImage) -> None:
        self.cache = cache
        self.offset = offset
        self.size = size
        self.image = image
        self.files = tuple(image.files())
        self.facts = image.format_facts()

    def read(self, path: str) -> bytes | None:
        """A file's content as found (None: there is none)."""
        p = normalize_path(path)
        return self.image.read(p) if any(f.path == p for f in self.files) else None

    def others(self, path: str) -> tuple[FileInfo, ...]:
        """Every file but ``path``."""
        p = normalize_path(path)
        return tuple(f for f in self.files if f.path != p)

    @abstractmethod
    def replace(self, path: str, content: bytes) -> FileReplacement:
        """Plan writing ``content`` to ``path``; ImageError when it cannot be written."""

    def _writes(
        self, overlay: Overlay, role: Callable[[int, bytes, str], str]
    ) -> tuple[SectorWrite, ...]:
        """The overlay's sectors that differ from the unit, in the overlay's order, each
        with the unit's current content (an erased one costs an MD5, not its bytes)."""
        out = []
        for rel, new, why in overlay.written():
            address = self.offset + rel
            old = self.cache.read_or_blank(address, SECTOR_SIZE)
            if old != new:
                out.append(SectorWrite(address, old, new, role(rel, new, why)))
        return tuple(out)


def mount_region(
    reader: Reader, offset: int, size: int, *, fs_type: str, profile: str
) -> FileSystemImage:
    """The file system in ``size`` bytes of ``reader`` from ``offset`` on, mounted as the
    ``profile``'s firmware would: LittleFS reads only what littlefs reads, SPIFFS the
    whole region, but from a unit (a :class:`FlashCache`) only the blocks its MD5s say
    hold something (a restore's read-back of a 1.4 MB partition is then a few sectors,
    not the partition). ImageError when it does not mount; never formats."""
    check_fs_type(fs_type)  # as open_image says it
    if fs_type == "littlefs":
        return LittleFsImage.mount(Overlay(reader, offset=offset, size=size), size, profile)
    if isinstance(reader, FlashCache):  # spiffs
        data = read_spiffs_region(reader, offset, size, get_spiffs_profile(profile))
        return SpiffsImage.open(data, profile)
    return SpiffsImage.open(reader.read(offset, size), profile)
