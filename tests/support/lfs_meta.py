"""Rewriting LittleFS metadata in place, with valid CRCs, to make images whose
structure lies (a file size, a pointer) while every commit still checks out; the
damage littlefs itself cannot see, so what the tool does with it is what is tested.

Layout (littlefs SPEC.md): a metadata block is a revision count, then commits; each
tag is big-endian and XORed with the previous one (the first with 0xffffffff), and
a commit ends in a CRC tag whose CRC-32 (init 0xffffffff, no final XOR) covers the
commit from its first byte (the block's, for the first commit)."""

from __future__ import annotations

import random
import struct
import zlib
from dataclasses import dataclass, field
from typing import Any

TYPE_CTZSTRUCT = 0x202


@dataclass
class Commit:
    start: int
    crc_at: int  # offset of the CRC tag
    tags: list[tuple[int, int, int, int]] = field(default_factory=list)  # off, type, id, size


def commits(block: bytes | bytearray) -> list[Commit]:
    """The commits of one metadata block that check out, in order."""
    off, ptag, start = 4, 0xFFFFFFFF, 0
    out: list[Commit] = []
    tags: list[tuple[int, int, int, int]] = []
    while off + 4 <= len(block):
        tag = struct.unpack_from(">I", block, off)[0] ^ ptag
        if tag & 0x80000000:
            break
        kind, tid, size = (tag >> 20) & 0x7FF, (tag >> 10) & 0x3FF, tag & 0x3FF
        size = 0 if size == 0x3FF else size
        if kind & 0x700 == 0x500:  # CRC
            stored = struct.unpack_from("<I", block, off + 4)[0]
            if stored != zlib.crc32(bytes(block[start : off + 4])) ^ 0xFFFFFFFF:
                break
            out.append(Commit(start, off, tags))
            tags, ptag = [], tag ^ ((kind & 1) << 31)
            off = start = off + 4 + size
            continue
        tags.append((off, kind, tid, size))
        ptag, off = tag, off + 4 + size
    return out


def recrc(block: bytearray, found: list[Commit]) -> None:
    for c in found:
        crc = zlib.crc32(bytes(block[c.start : c.crc_at + 4])) ^ 0xFFFFFFFF
        struct.pack_into("<I", block, c.crc_at + 4, crc)


def with_file_sizes(image: bytes, size: int, block_size: int = 4096) -> bytes:
    """``image`` with every CTZ (non-inline) file's stored size in the root pair set to
    ``size``, CRCs made valid again."""
    out = bytearray(image)
    hits = 0
    for b in (0, 1):
        block = bytearray(out[b * block_size : (b + 1) * block_size])
        found = commits(block)
        for c in found:
            for off, kind, _tid, _size in c.tags:
                if kind == TYPE_CTZSTRUCT:
                    struct.pack_into("<I", block, off + 8, size)
                    hits += 1
        recrc(block, found)
        out[b * block_size : (b + 1) * block_size] = block
    assert hits, "no CTZ file in the root pair"
    return bytes(out)


TYPE_DIRSTRUCT = 0x200
TYPE_TAIL = 0x600  # SPEC.md: LFS_TYPE_TAIL, 0x600 soft and 0x601 hard


def with_dirs_at(image: bytes, pair: tuple[int, int], block_size: int = 4096) -> bytes:
    """``image`` with every directory entry in the root pair pointing at metadata pair
    ``pair`` ((0, 1): the root itself, a directory that contains itself)."""
    out = bytearray(image)
    hits = 0
    for b in (0, 1):
        block = bytearray(out[b * block_size : (b + 1) * block_size])
        found = commits(block)
        for c in found:
            for off, kind, _tid, _size in c.tags:
                if kind == TYPE_DIRSTRUCT:
                    struct.pack_into("<II", block, off + 4, *pair)
                    hits += 1
        recrc(block, found)
        out[b * block_size : (b + 1) * block_size] = block
    assert hits, "no directory in the root pair"
    return bytes(out)


def with_tails_at(
    image: bytes, pair: tuple[int, int], blocks: list[int], block_size: int = 4096
) -> bytes:
    """``image`` with every tail tag (soft: the next directory; hard: the rest of this
    one) in ``blocks`` pointing at metadata pair ``pair``: the threaded list of pairs
    loops when ``pair`` is one already on it."""
    out = bytearray(image)
    hits = 0
    for b in blocks:
        block = bytearray(out[b * block_size : (b + 1) * block_size])
        found = commits(block)
        for c in found:
            for off, kind, _tid, _size in c.tags:
                if kind & 0x700 == TYPE_TAIL:
                    struct.pack_into("<II", block, off + 4, *pair)
                    hits += 1
        recrc(block, found)
        out[b * block_size : (b + 1) * block_size] = block
    assert hits, f"no tail in blocks {blocks}"
    return bytes(out)


def newer_superblock_unnamed(image: bytes, block_size: int = 4096) -> bytes:
    """``image`` with the ``littlefs`` name of the newer superblock block (the one
    littlefs reads) broken, its CRC made valid again; the older block keeps its
    superblock. littlefs finds no superblock, and mounted with no block count divides
    by zero (SIGFPE)."""
    revs = [struct.unpack_from("<I", image, b * block_size)[0] for b in (0, 1)]
    newer = 1 if 0 < (revs[1] - revs[0]) & 0xFFFFFFFF < 1 << 31 else 0
    out = bytearray(image)
    block = bytearray(out[newer * block_size : (newer + 1) * block_size])
    found = commits(block)
    assert block[8:16] == b"littlefs" and found
    block[8:16] = b"litt\0\0\0\x80"
    recrc(block, found)
    out[newer * block_size : (newer + 1) * block_size] = block
    return bytes(out)


def metadata_blocks(image: bytes, block_size: int = 4096) -> list[int]:
    """The blocks holding at least one commit that checks out."""
    return [
        b
        for b in range(len(image) // block_size)
        if commits(image[b * block_size : (b + 1) * block_size])
    ]


_WORDS = (0, 1, 2, 3, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFE, 0xFFFFFFFF)


def mutate_commits(
    image: bytes, rng: random.Random, metas: list[int], block_size: int = 4096
) -> bytes:
    """``image`` with one to three words or bytes of a metadata block's tag payloads
    set to values littlefs trusts (block numbers around the end, its own, sizes near
    2**31), every CRC made valid again: the structure lies, each commit checks out."""
    nblocks = len(image) // block_size
    b = rng.choice(metas)
    block = bytearray(image[b * block_size : (b + 1) * block_size])
    found = commits(block)
    tags = [t for c in found for t in c.tags if t[3] > 0]
    if not tags:
        return image
    near = (nblocks - 1, nblocks, nblocks + 1, b, b ^ 1, rng.randrange(nblocks))
    for _ in range(rng.randint(1, 3)):
        off, _kind, _tid, size = rng.choice(tags)
        data = off + 4
        if size >= 4 and rng.random() < 0.8:
            k = rng.randrange(size // 4)
            struct.pack_into("<I", block, data + 4 * k, rng.choice(_WORDS + near))
        else:
            block[data + rng.randrange(size)] = rng.choice(
                (0, 0x2F, 0xFF, 0x80, rng.randrange(256))
            )
    recrc(block, found)
    out = bytearray(image)
    out[b * block_size : (b + 1) * block_size] = block
    return bytes(out)


def count_mounts(monkeypatch: Any) -> list[int]:
    """+1 a mount, -1 an unmount of littlefs-python's own LittleFS, as they happen (images
    earlier tests dropped are collected first: their unmounts are not counted here)."""
    import gc

    from littlefs import LittleFS

    gc.collect()
    balance: list[int] = []
    mount, unmount = LittleFS.mount, LittleFS.unmount

    def counted_mount(self: LittleFS) -> int:
        rc = mount(self)
        balance.append(1)
        return rc

    def counted_unmount(self: LittleFS) -> int:
        balance.append(-1)
        return unmount(self)

    monkeypatch.setattr(LittleFS, "mount", counted_mount)
    monkeypatch.setattr(LittleFS, "unmount", counted_unmount)
    return balance
