"""A block source's bytes fetched on demand and kept: the unit's flash over a slow link.

A serial link moves about 90 KB/s at 921600 baud, and a command round trip costs about
as much as 256 bytes on the wire, so reading a whole partition to change one file is the
slow part of every manual update. The planner and the file-system edits read through a
:class:`FlashCache` instead: only the pages they touch cross the link, once, and erased
ranges cost an MD5 (computed by the unit) instead of their bytes.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Iterator

from .source import SECTOR_SIZE, BlockSource, SourceView, erased_md5

__all__ = ["PAGE", "FlashCache"]

# Fetch granularity: littlefs reads 64/128 bytes at a time, SPIFFS pages are 256 bytes;
# a command round trip costs about as much as 256 bytes on the wire.
PAGE = 256
_PAGES_PER_SECTOR = SECTOR_SIZE // PAGE


class FlashCache(SourceView):
    """A :class:`~.source.BlockSource` fetched on demand, 256 bytes at a time, and kept.

    Every byte handed out was read from the source (or, via :meth:`confirm`, proven
    equal to it by the source's MD5). Sequential misses in one sector double the fetch
    window (256 B, 512 B, ... the rest of the sector), so a metadata log costs a few
    commands, a skip-list pointer one small one. A cache is itself a block source.
    """

    def __init__(self, source: BlockSource) -> None:
        self.source = source
        self._data: dict[int, bytearray] = {}  # sector address -> 4 KiB
        self._have: dict[int, int] = {}  # sector address -> bitmask of known pages
        self._next: dict[int, tuple[int, int]] = {}  # sector -> (page after last fetch, window)
        self.bytes_read = 0
        self.reads = 0
        self.md5s = 0

    # -- what is known -------------------------------------------------------------------
    def known(self, offset: int, length: int) -> bool:
        return all(self._page_known(p) for p in _pages(offset, length))

    def _page_known(self, page: int) -> bool:
        sector = page - page % SECTOR_SIZE
        return bool(self._have.get(sector, 0) >> ((page - sector) // PAGE) & 1)

    def peek(self, offset: int, length: int, fill: Callable[[int], bytes]) -> bytes:
        """Known bytes as they are, unknown 256-byte pages from ``fill(page_address)``."""
        out = bytearray()
        for page in _pages(offset, length):
            lo = max(offset, page) - page
            hi = min(offset + length, page + PAGE) - page
            if self._page_known(page):
                sector = page - page % SECTOR_SIZE
                base = page - sector
                out += self._data[sector][base + lo : base + hi]
            else:
                out += fill(page)[lo:hi]
        return bytes(out)

    def _store(self, offset: int, data: bytes) -> None:
        """Record bytes that are on the flash (whole pages only)."""
        for i in range(0, len(data), PAGE):
            page = offset + i
            sector = page - page % SECTOR_SIZE
            buf = self._data.setdefault(sector, bytearray(b"\xff" * SECTOR_SIZE))
            buf[page - sector : page - sector + PAGE] = data[i : i + PAGE]
            self._have[sector] = self._have.get(sector, 0) | 1 << ((page - sector) // PAGE)

    def confirm(self, offset: int, data: bytes) -> None:
        """Take ``data`` (page-aligned) as the flash content: the unit's MD5 said so."""
        if offset % PAGE or len(data) % PAGE:
            raise ValueError("confirmed ranges must be whole 256-byte pages")
        self._store(offset, data)

    def forget(self, offset: int, length: int) -> None:
        """Drop what is known of a range (it was just written: read it afresh)."""
        for page in _pages(offset, length):
            sector = page - page % SECTOR_SIZE
            if sector in self._have:
                self._have[sector] &= ~(1 << ((page - sector) // PAGE))
            self._next.pop(sector, None)

    # -- fetching --------------------------------------------------------------------------
    def read(self, offset: int, length: int) -> bytes:
        """The flash's bytes, fetching the pages not yet known."""
        if length <= 0:
            return b""
        for start, end in self._missing_runs(offset, length):
            data = self.source.read(start, end - start)
            self.bytes_read += len(data)
            self.reads += 1
            self._store(start, data)
        return self.peek(offset, length, _unreachable)

    def _missing_runs(self, offset: int, length: int) -> list[tuple[int, int]]:
        runs: list[tuple[int, int]] = []
        end = offset + length
        page = offset - offset % PAGE
        limit = min(end, self.source.size)
        while page < limit:
            if self._page_known(page):
                page += PAGE
                continue
            sector = page - page % SECTOR_SIZE
            index = (page - sector) // PAGE
            after, window = self._next.get(sector, (-1, 0))
            window = min(window * 2, _PAGES_PER_SECTOR) if after == index else 1
            stop = index
            # The pages this request needs, then read-ahead up to the window.
            while stop < _PAGES_PER_SECTOR and not self._page_known(sector + stop * PAGE):
                if sector + stop * PAGE >= end and stop - index >= window:
                    break
                stop += 1
            self._next[sector] = (stop, max(window, stop - index))
            run = (sector + index * PAGE, sector + stop * PAGE)
            if runs and runs[-1][1] == run[0]:
                runs[-1] = (runs[-1][0], run[1])
            else:
                runs.append(run)
            page = run[1]
        return runs

    def read_or_blank(self, offset: int, length: int) -> bytes:
        """Like :meth:`read`, but runs of unknown pages the unit's MD5 says are erased
        are not sent.

        Blocks littlefs allocates were usually never written, and a metadata block is
        mostly erased past its log; their old content (kept for the journal) then costs
        an MD5 instead of kilobytes on the wire.
        """
        if offset % PAGE == 0 and length % PAGE == 0:
            for start, end in _page_runs(
                p for p in _pages(offset, length) if not self._page_known(p)
            ):
                if self.md5(start, end - start) == erased_md5(end - start):
                    self.confirm(start, b"\xff" * (end - start))
        return self.read(offset, length)

    def digest(self, offset: int, length: int) -> str:
        """MD5 of a range: computed here when every byte is known (read, or proven by an
        earlier MD5 of the unit), else by the unit."""
        if self.known(offset, length):
            return hashlib.md5(self.peek(offset, length, _unreachable)).hexdigest()
        return self.md5(offset, length)

    def md5(self, offset: int, length: int) -> str:
        """The source's own MD5 of a range (nothing but the digest crosses the link)."""
        self.md5s += 1
        return self.source.md5(offset, length)


def _pages(offset: int, length: int) -> Iterator[int]:
    page = offset - offset % PAGE
    while page < offset + length:
        yield page
        page += PAGE


def _page_runs(pages: Iterable[int]) -> list[tuple[int, int]]:
    runs: list[tuple[int, int]] = []
    for page in pages:
        if runs and runs[-1][1] == page:
            runs[-1] = (runs[-1][0], page + PAGE)
        else:
            runs.append((page, page + PAGE))
    return runs


def _unreachable(page: int) -> bytes:
    raise AssertionError(f"page {page:#x} was fetched but is not known")
