"""A SPIFFS partition read from a unit through its MD5s: only the blocks that hold
something cross the link.

Kept apart from :mod:`.spiffs_safe` (which plans edits) so that :func:`.inplace.mount_region`
can read a unit's SPIFFS the same way for every read-back without an import circle.
"""

from __future__ import annotations

import hashlib
from collections import deque

from ..blocks import FlashCache
from ..errors import ImageError
from .spiffs_layout import Geometry, SpiffsProfile

__all__ = ["read_spiffs_region"]

# Reading a partition over a slow link: the first MD5 comparisons cover this many blocks
# (64 KiB) at once.
_CHUNK_BLOCKS = 16
# Erase counts of the blocks read last, tried as guesses for the next ranges ("one seen
# nearby"). Trying every count ever read made each guess cost grow with the partition: a
# 15 MB partition whose blocks all differ in erase count took 11 minutes, not 2 s.
_RECENT_COUNTS = 8


def read_spiffs_region(cache: FlashCache, offset: int, size: int, profile: SpiffsProfile) -> bytes:
    """A SPIFFS partition byte for byte, reading only the blocks that hold something.

    Every block holds a lookup page with the magic, so no range is blank; instead the
    unit's MD5 of a range is compared with what it would hold empty (all 0xFF, or
    formatted: the magic, erase count 0xFFFF as spiffsgen leaves it or 0 as SPIFFS's
    own format writes it, or one seen nearby); a mismatch is halved down to single
    blocks, which are read. Every byte returned was read or is proven by an MD5.
    """
    bs = profile.block_size
    if size % bs or size < 3 * bs:
        raise ImageError(
            f"{size:#x} bytes at {offset:#x} are not a whole number (>= 3) of {bs}-byte "
            "SPIFFS blocks"
        )
    geo = Geometry.of(profile, size)
    fixed: tuple[int | None, ...] = (None, 0xFFFF, 0)  # None: all 0xFF, no magic
    recent: deque[int] = deque(maxlen=_RECENT_COUNTS)
    out = bytearray(size)

    def empty(bix: int, count: int | None) -> bytes:
        block = bytearray(b"\xff" * bs)
        if count is not None:
            if profile.use_magic:
                m = geo.magic_addr(bix) - bix * bs
                block[m : m + 2] = geo.magic(bix).to_bytes(2, "little")
            e = geo.erase_count_addr(bix) - bix * bs
            block[e : e + 2] = count.to_bytes(2, "little")
        return bytes(block)

    def match(a: int, b: int) -> bytes | None:
        digest = cache.md5(offset + a * bs, (b - a) * bs)
        for count in (*fixed, *recent):
            guess = b"".join(empty(bix, count) for bix in range(a, b))
            if hashlib.md5(guess).hexdigest() == digest:
                return guess
        return None

    for chunk in range(0, geo.block_count, _CHUNK_BLOCKS):
        to_read: list[int] = []
        stack = [(chunk, min(chunk + _CHUNK_BLOCKS, geo.block_count))]
        while stack:
            a, b = stack.pop()
            guess = match(a, b)
            if guess is not None:
                out[a * bs : b * bs] = guess
                cache.confirm(offset + a * bs, guess)
            elif b - a == 1:
                to_read.append(a)
            else:
                mid = (a + b) // 2
                stack.extend(((mid, b), (a, mid)))
        for start, end in _runs(sorted(to_read)):
            out[start * bs : end * bs] = cache.read(offset + start * bs, (end - start) * bs)
            for bix in range(start, end):
                e = geo.erase_count_addr(bix)
                count = int.from_bytes(out[e : e + 2], "little")
                if count not in fixed and count not in recent:
                    recent.append(count)
    return bytes(out)


def _runs(blocks: list[int]) -> list[tuple[int, int]]:
    runs: list[tuple[int, int]] = []
    for b in blocks:
        if runs and runs[-1][1] == b:
            runs[-1] = (runs[-1][0], b + 1)
        else:
            runs.append((b, b + 1))
    return runs
