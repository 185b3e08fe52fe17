"""The littlefs superblock, read without littlefs (no import, no C assertions).

Used to tell LittleFS from other bytes, to size a partition inside a dump, to detect the
platform profile, and to refuse superblocks littlefs would assert on (aborting the
process) or mount past the image's end, before littlefs ever sees them.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass

from ..errors import ImageError
from ..text import byte_count
from .base import ERASE_BLOCK, Bytes, HintContext, is_littlefs
from .base import LFS_BLOCK_SIZE_GUESSES as _BLOCK_SIZE_GUESSES
from .base import LFS_MAGIC as MAGIC
from .lfs_platforms import version_text

__all__ = [
    "LFS_NAME_MAX",
    "MAGIC",
    "Bytes",
    "PastTheEnd",
    "Superblock",
    "check_superblock",
    "find_superblock",
    "is_littlefs",
]

# littlefs' own compile-time limit (LFS_NAME_MAX); mounting with it accepts any image,
# after which littlefs enforces the superblock's (possibly smaller) name_max.
LFS_NAME_MAX = 255
# Tag types (lfs.h): the superblock name entry and the inline struct holding its fields.
_TYPE_SUPERBLOCK = 0x0FF
_TYPE_INLINESTRUCT = 0x201
_TYPE_CCRC = 0x500  # a commit's CRC tag (type2; the low type bit flips the valid bit)
_SUPERBLOCK_STRUCT = struct.Struct("<6I")  # version, block_size, block_count, name/file/attr max


@dataclass(frozen=True, slots=True)
class Superblock:
    """The fields of a littlefs superblock as found in block 0 or 1 (``block``)."""

    version: int
    block_size: int
    block_count: int
    name_max: int
    file_max: int
    attr_max: int
    block: int
    revision: int

    @property
    def version_text(self) -> str:
        return version_text(self.version)

    @property
    def fs_bytes(self) -> int:
        return self.block_size * self.block_count


def _lfs_crc(crc: int, data: bytes) -> int:
    """littlefs' CRC-32: zlib's polynomial, no final inversion."""
    return zlib.crc32(data, crc ^ 0xFFFFFFFF) ^ 0xFFFFFFFF


@dataclass(frozen=True, slots=True)
class _Block:
    """One block of the superblock pair as littlefs fetches it: whether any commit in it
    checks out (littlefs then reads this block, never the other) and the superblock as
    of its last valid commit (None: littlefs finds none there)."""

    committed: bool
    superblock: Superblock | None


_NOT_READ = _Block(False, None)


def _parse_block(data: Bytes, block: int, offset: int, block_size: int | None = None) -> _Block:
    """The superblock fields as of the last valid commit of one block of the pair.

    A compacted block starts with the ``littlefs`` name tag (the probe Mongoose OS and
    mklittlefs use); the inline struct holding the fields may come anywhere after it and
    be rewritten by later commits (a version upgrade), so the whole log is walked,
    trusting only commits whose CRC matches, as littlefs does when it fetches. A later
    commit that renames, deletes or moves entry 0 (never done by littlefs) leaves no
    superblock here. ``block_size`` bounds the log; without it the struct's does.
    """
    end = len(data)
    if end < offset + 20:
        return _NOT_READ
    revision = _revision(data, offset)
    limit = block_size if block_size is not None else end - offset
    limit = min(limit, end - offset)
    crc = _lfs_crc(0xFFFFFFFF, data[offset : offset + 4])
    ptag = 0xFFFFFFFF
    off = 4
    named = data[offset + 8 : offset + 16] == MAGIC  # the first tag checked below
    pending: tuple[int, ...] | None = None
    found: tuple[int, ...] | None = None
    committed = False
    first = True
    while off + 4 <= limit:
        raw = data[offset + off : offset + off + 4]
        tag = int.from_bytes(raw, "big") ^ ptag
        if tag & 0x80000000:  # erased or not yet programmed: end of the log
            break
        size = tag & 0x3FF
        dsize = 0 if size == 0x3FF else size
        if off + 4 + dsize > limit:
            break
        kind = (tag >> 20) & 0x7FF
        tag_id = (tag >> 10) & 0x3FF
        if first and (kind != _TYPE_SUPERBLOCK or tag_id != 0 or size != 8):
            named = False
        first = False
        crc = _lfs_crc(crc, raw)
        ptag = tag
        payload = data[offset + off + 4 : offset + off + 4 + dsize]
        if kind & 0x780 == _TYPE_CCRC:
            if dsize < 4 or int.from_bytes(payload[:4], "little") != crc:
                break
            ptag ^= (kind & 1) << 31  # the commit says which valid bit the next one uses
            committed = True
            found = pending if named else None
            crc = 0xFFFFFFFF
        else:
            crc = _lfs_crc(crc, payload)
            if tag_id == 0 and (
                (kind == _TYPE_SUPERBLOCK and payload != MAGIC) or kind & 0x700 == 0x400
            ):
                named = False  # entry 0 renamed, or a splice (create/delete) moved it
            if kind == _TYPE_INLINESTRUCT and tag_id == 0 and dsize >= _SUPERBLOCK_STRUCT.size:
                pending = _SUPERBLOCK_STRUCT.unpack_from(payload)
                block_size = pending[1]
                if 0 < block_size < limit:
                    limit = block_size
        off += 4 + dsize
    if found is None:
        return _Block(committed, None)
    version, block_size, block_count, name_max, file_max, attr_max = found
    return _Block(
        committed,
        Superblock(version, block_size, block_count, name_max, file_max, attr_max, block, revision),
    )


def _revision(data: Bytes, offset: int) -> int:
    return int.from_bytes(data[offset : offset + 4], "little")


def _newer(a: int, b: int) -> bool:
    """littlefs' ``lfs_scmp(a, b) > 0``: revision ``a`` is after ``b`` (they wrap)."""
    return 0 < (a - b) & 0xFFFFFFFF < 1 << 31


def find_superblock(data: Bytes, *, block_size: int | None = None) -> Superblock | None:
    """The superblock of blocks 0/1 that littlefs mounts, or None without the magic.

    As littlefs does, the block of the pair with the newer revision (block 0 when they
    are equal) is read first, and the other only when no commit of that one checks out,
    so a lazily read ``data`` (a unit's flash) costs what littlefs itself would read.
    When the newer block holds valid commits but no superblock, littlefs finds none
    (and, told no block count, divides by zero: the process dies of SIGFPE), so an older
    superblock in the other block is never taken. ``block_size`` (a profile's) says
    where block 1 is; without it block 0 says, or common sizes are tried.
    Raises :class:`ImageError` when the magic is there but littlefs would find no
    superblock.
    """
    first: Superblock | None = None
    if block_size is None:
        first = _parse_block(data, 0, 0).superblock
        sizes = (first.block_size,) if first is not None else _BLOCK_SIZE_GUESSES
    else:
        sizes = (block_size,)

    def read(block: int, bs: int) -> _Block:
        if block == 0 and first is not None:
            return _Block(True, first)
        return _parse_block(data, block, block * bs, bs)

    shadowed: int | None = None  # the newer block: valid commits, no superblock
    for bs in sizes:
        if not 0 < bs <= len(data):
            continue
        newer, older = (1, 0) if _newer(_revision(data, bs), _revision(data, 0)) else (0, 1)
        got = read(newer, bs)
        if got.committed and got.superblock is None:
            # littlefs reads no further than a block whose commits check out
            if shadowed is None and read(older, bs).superblock is not None:
                shadowed = newer
            continue
        for block in (newer, older):
            sb = (got if block == newer else read(block, bs)).superblock
            if sb is not None and (block == 0 or sb.block_size == bs):
                return sb
    if shadowed is not None:
        raise ImageError(
            f"LittleFS image does not mount: block {shadowed}, the newer of the superblock "
            f"pair, holds no superblock (littlefs reads it, not the older block {1 - shadowed})",
            hint="the image is corrupt; nothing was changed",
        )
    if is_littlefs(data):
        raise ImageError(
            "LittleFS image: the superblock after the 'littlefs' magic is unreadable",
            hint="the image is corrupt; nothing was changed",
        )
    return None


@dataclass(frozen=True, slots=True)
class PastTheEnd:
    """The hint for a superblock whose blocks end past the bytes given: an image file cut
    short, or, read from a partition (:data:`~.base.IN_PARTITION`), a partition table
    that shrank the partition under a file system that may well be whole: rewriting
    it with a fresh image, as for a damaged one, would lose its files."""

    def text(self, context: object = None) -> str:
        if isinstance(context, HintContext) and context.partition:
            return (
                "the partition is smaller than the file system in it: the partition table "
                "does not match it (edited, or another layout's) and its files are likely "
                "whole: give the unit back the table its file system was made with (a "
                "fresh image would lose the files)"
            )
        return "the image is truncated (or --size too small); nothing was changed"


def check_superblock(sb: Superblock, size: int) -> None:
    """Refuse superblocks littlefs cannot mount, or would mount past the image's end."""
    where = f"LittleFS superblock (block {sb.block})"
    if sb.version >> 16 != 2 or sb.version & 0xFFFF > 1:
        raise ImageError(
            f"{where}: on-disk version {sb.version_text} is not supported (2.0 and 2.1 are)",
            hint="the image may be corrupt or made by a newer littlefs; nothing was changed",
        )
    if sb.block_size != ERASE_BLOCK:
        raise ImageError(
            f"{where}: block size {sb.block_size}; every ESP32 platform uses {ERASE_BLOCK}",
            hint="the image is corrupt or not made for an ESP32; nothing was changed",
        )
    if sb.block_count < 2:
        raise ImageError(f"{where}: block count {sb.block_count} is not usable")
    if sb.fs_bytes > size:
        raise ImageError(
            f"{where}: {sb.block_count} blocks of {byte_count(sb.block_size)} = "
            f"{byte_count(sb.fs_bytes)}, "
            f"but the image is only {byte_count(size)}",
            hint=PastTheEnd(),
        )
    if sb.name_max > LFS_NAME_MAX or sb.name_max == 0:
        raise ImageError(f"{where}: name_max {sb.name_max} is not valid")
