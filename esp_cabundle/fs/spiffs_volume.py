"""SPIFFS's in-RAM state and its page primitives, over an image in a bytearray.

The state SPIFFS keeps after ``SPIFFS_mount`` (lookup table, free-block and page
counts, the erase-count horizon, the free and search cursors) and the primitives every
operation is built from, re-expressed from pellepl/spiffs ``spiffs_nucleus.c``:
NOR-flash programming, block erase, lookup searches, page allocation, move and delete,
index-page checks and the open-descriptor callback. :mod:`.spiffs_engine` builds the
file operations and garbage collection on top.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass

from .spiffs_layout import (
    FLAG_DELET,
    FLAG_FINAL,
    FLAG_INDEX,
    FLAG_IXDELE,
    FLAG_USED,
    INDEX_HEADER_LEN,
    IX_FLAG,
    OBJ_ID_DELETED,
    OBJ_ID_FREE,
    PAGE_FREE,
    PAGE_HEADER,
    PAGE_HEADER_LEN,
    U16,
    U32,
    Geometry,
)
from .spiffs_spans import SpanIndex

__all__ = ["NotFound", "SpiffsCorrupt", "SpiffsFull", "VolumeState"]


class SpiffsFull(Exception):
    """No room for the edit (SPIFFS_ERR_FULL)."""


class SpiffsCorrupt(Exception):
    """The bytes break a SPIFFS invariant the operation relies on."""


class NotFound(Exception):
    """A lookup search found nothing (SPIFFS_ERR_NOT_FOUND)."""

    pass


@dataclass(slots=True)
class Fd:
    """The open descriptor: what SPIFFS's object-event callback keeps up to date."""

    obj_id: int  # with the index flag, as SPIFFS stores it in the descriptor
    hdr_pix: int
    size: int
    cursor_pix: int = 0  # the last index page the descriptor worked on, and its span
    cursor_ospix: int = 0


@dataclass(frozen=True, slots=True)
class Snapshot:
    pages: dict[int, bytes]  # each page written since, as it was (filled as they are)
    lu: tuple[int, ...]
    counters: tuple[int, ...]
    erased: frozenset[int]
    unerased: int | None


class VolumeState:
    """SPIFFS's in-RAM state (``struct spiffs``) and page primitives."""

    def __init__(self, buf: bytearray, geo: Geometry) -> None:
        self.buf = buf
        self.g = geo
        self.lu: list[int] = []
        self.free_blocks = 0
        self.stats_allocated = 0
        self.stats_deleted = 0
        self.max_erase_count = 0
        # Where the next free-page search starts, as SPIFFS keeps it: (block, entry), the
        # entry may be one past the block's last ("block 4, entry 15" is not "block 5,
        # entry 0" to the garbage collector's check of the block it is cleaning).
        self.free_cursor = (0, 0)
        self.cursor = 0  # linear lookup entry where object searches start
        self.cleaning = False
        self.fd: Fd | None = None
        self.erased: set[int] = set()  # blocks erased since mount (by GC or format)
        self.unerased: int | None = None  # an aborted-erase block SPIFFS's mount would wipe
        self.gc_runs = 0
        # While a snapshot is open: every page written since, as it was before (an undo
        # costs what the edit writes, not a copy of the image).
        self.journal: dict[int, bytes] | None = None
        # Blocks whose lookup entries or erase count changed since the garbage
        # collector last scored them; ``lu_reset``: score every block again.
        self.lu_dirty: set[int] = set()
        self.lu_reset = True
        # Index pages by (id, span) for _find_id_and_span, built on its first search;
        # ``span_dirty``: pages whose lookup entry or header changed since.
        self.spans: SpanIndex | None = None
        self.span_dirty: set[int] = set()

    # -- mount ---------------------------------------------------------------------------
    def mount(self) -> None:
        """SPIFFS_mount: check magics, find the erase-count horizon, count pages."""
        g = self.g
        epb = g.entries_per_block
        lu: list[int] = []
        fmt = f"<{epb}H"
        for b in range(g.block_count):
            lu.extend(struct.unpack_from(fmt, self.buf, b * g.block_size))
        self.lu = lu
        self.lu_reset = True
        self.spans = None
        self.span_dirty.clear()
        self.unerased = None
        if g.profile.use_magic:
            bad = [b for b in range(g.block_count) if self._u16(g.magic_addr(b)) != g.magic(b)]
            if len(bad) > 1:
                raise SpiffsCorrupt(
                    f"{len(bad)} blocks lack the SPIFFS magic (first: block {bad[0]} at "
                    f"offset {g.magic_addr(bad[0]):#x}); a mountable volume has at most one"
                )
            if bad:
                b = bad[0]
                start = b * g.block_size
                if self.buf[start : start + g.block_size].count(0xFF) != g.block_size:
                    raise SpiffsCorrupt(
                        f"block {b} (offset {start:#x}) has no SPIFFS magic and is not erased; "
                        "SPIFFS's mount would erase it and lose its pages"
                    )
                self.unerased = b  # an erase cut short by power loss: finish it on first edit
        lo, hi = OBJ_ID_FREE, 0
        for b in range(g.block_count):
            ec = self._u16(g.erase_count_addr(b))
            if ec != OBJ_ID_FREE:
                lo, hi = min(lo, ec), max(hi, ec)
        if lo == 0 and hi == OBJ_ID_FREE:
            final = 0
        elif hi - lo > OBJ_ID_FREE // 2:
            final = lo + 1
        else:
            final = hi + 1
        self.max_erase_count = final & 0xFFFF
        self.free_blocks = sum(1 for b in range(g.block_count) if lu[b * epb] == OBJ_ID_FREE)
        self.stats_deleted = lu.count(OBJ_ID_DELETED)
        self.stats_allocated = len(lu) - lu.count(OBJ_ID_FREE) - self.stats_deleted
        self.free_cursor = (0, 0)
        self.cursor = 0
        self.cleaning = False
        self.fd = None

    def format(self) -> None:
        """SPIFFS_format: erase every block with erase count 0, then mount."""
        g = self.g
        self.lu = [OBJ_ID_FREE] * g.total_entries
        for b in range(g.block_count):
            self.max_erase_count = 0
            self._erase_block(b)
        self.mount()

    # -- snapshots (the caller's rollback) ------------------------------------------------
    def snapshot(self) -> Snapshot:
        """Start keeping what writes replace, and the counters as they are."""
        self.journal = {}
        return Snapshot(
            self.journal,
            tuple(self.lu),
            (
                self.free_blocks,
                self.stats_allocated,
                self.stats_deleted,
                self.max_erase_count,
                *self.free_cursor,
                self.cursor,
                self.gc_runs,
            ),
            frozenset(self.erased),
            self.unerased,
        )

    def _keep(self, addr: int, n: int) -> None:
        """Before a write of ``n`` bytes at ``addr``: keep the pages it touches as they
        are, once each, for the open snapshot."""
        journal, ps = self.journal, self.g.page_size
        if journal is None or n <= 0:
            return
        for pix in range(addr // ps, (addr + n - 1) // ps + 1):
            if pix not in journal:
                journal[pix] = bytes(self.buf[pix * ps : (pix + 1) * ps])

    def release(self, snap: Snapshot) -> None:
        """Stop keeping what writes replace: the edit stands (or was undone)."""
        if snap.pages is self.journal:
            self.journal = None
        snap.pages.clear()

    def restore(self, snap: Snapshot) -> None:
        ps = self.g.page_size
        for pix, old in snap.pages.items():
            self.buf[pix * ps : (pix + 1) * ps] = old
        self.release(snap)
        self.lu = list(snap.lu)
        self.lu_reset = True
        self.spans = None
        self.span_dirty.clear()
        (
            self.free_blocks,
            self.stats_allocated,
            self.stats_deleted,
            self.max_erase_count,
            free_block,
            free_entry,
            self.cursor,
            self.gc_runs,
        ) = snap.counters
        self.free_cursor = (free_block, free_entry)
        self.erased = set(snap.erased)
        self.unerased = snap.unerased
        self.fd = None
        self.cleaning = False

    # -- low-level flash access -------------------------------------------------------------
    def _u16(self, addr: int) -> int:
        return int(U16.unpack_from(self.buf, addr)[0])

    def _header(self, pix: int) -> tuple[int, int, int]:
        ph_id, spix, flags = PAGE_HEADER.unpack_from(self.buf, pix * self.g.page_size)
        return int(ph_id), int(spix), int(flags)

    def _program(self, addr: int, data: bytes | bytearray, *, exact: bool = False) -> None:
        """NOR programming: only clears bits (an AND with what is there).

        ``exact`` is for SPIFFS's in-place rewrites of a page it believes still erased
        where it matters (an index page it fills in): if the AND cannot give ``data``,
        SPIFFS would silently store something else, so we stop instead.
        """
        n = len(data)
        ps = self.g.page_size
        pix, off = divmod(addr, ps)
        if off < 4:  # a page header's id or span may change
            self.span_dirty.add(pix)
        if off + n > ps:  # (SPIFFS programs within one page; this is only to be sure)
            self.span_dirty.update(range(pix, -(-(addr + n) // ps)))
        if self.journal is not None:
            self._keep(addr, n)
        buf = self.buf
        if n == 1:  # a flags byte (finalize, delete): a third of the calls, kept cheap
            buf[addr] = byte = buf[addr] & data[0]
            if exact and byte != data[0]:
                raise SpiffsCorrupt(f"page at offset {addr:#x} cannot be rewritten in place")
            return
        old = buf[addr : addr + n]
        if old.count(0xFF) == n:
            self.buf[addr : addr + n] = data
            return
        value = int.from_bytes(old, "little") & int.from_bytes(data, "little")
        new = value.to_bytes(n, "little")
        if exact and new != data:
            raise SpiffsCorrupt(f"page at offset {addr:#x} cannot be rewritten in place")
        self.buf[addr : addr + n] = new

    def _set_lu(self, entry: int, obj_id: int) -> None:
        g = self.g
        b, e = divmod(entry, g.entries_per_block)
        self._program(b * g.block_size + 2 * e, U16.pack(obj_id))
        self.lu[entry] &= obj_id
        self.lu_dirty.add(b)
        self.span_dirty.add(b * g.pages_per_block + g.lu_pages + e)

    def poke_lu(self, entry: int, value: int) -> None:
        """Set a lookup entry in RAM only (a planner's reservation or its own rewrite),
        telling the garbage collector's kept counts."""
        self.lu[entry] = value
        self.lu_dirty.add(entry // self.g.entries_per_block)
        self.span_dirty.add(self.g.pix(entry))

    def _erase_block(self, bix: int) -> None:
        g = self.g
        start = bix * g.block_size
        self._keep(start, g.block_size)
        self.buf[start : start + g.block_size] = b"\xff" * g.block_size
        epb = g.entries_per_block
        self.lu[bix * epb : (bix + 1) * epb] = [OBJ_ID_FREE] * epb
        self.lu_dirty.add(bix)
        self.free_blocks += 1
        self._program(g.erase_count_addr(bix), U16.pack(self.max_erase_count))
        if g.profile.use_magic:
            self._program(g.magic_addr(bix), U16.pack(g.magic(bix)))
        self.max_erase_count += 1
        if self.max_erase_count == IX_FLAG:
            self.max_erase_count = 0
        self.erased.add(bix)

    # -- lookup searches ---------------------------------------------------------------------
    def _entries_with(self, value: int, start: int) -> Iterator[int]:
        """Lookup entries holding ``value``, from ``start`` round to just before it."""
        lu = self.lu
        total = len(lu)
        if not total:
            return
        start %= total
        i = start
        while True:
            try:
                i = lu.index(value, i)
            except ValueError:
                break
            yield i
            i += 1
        i = 0
        while True:
            try:
                i = lu.index(value, i, start)
            except ValueError:
                return
            yield i
            i += 1

    def _find_free(self) -> int:
        """spiffs_obj_lu_find_free: a free page, keeping two free blocks in reserve."""
        if not self.cleaning and self.free_blocks < 2:
            self._gc_quick()
            if self.free_blocks < 2:
                raise SpiffsFull("fewer than two free blocks left")
        epb = self.g.entries_per_block
        block, entry = self.free_cursor
        for found in self._entries_with(OBJ_ID_FREE, block * epb + entry):
            b, e = divmod(found, epb)
            self.free_cursor = (b, e + 1)
            if e == 0:
                self.free_blocks -= 1
            ps = self.g.page_size
            start = self.g.pix(found) * ps
            if self.buf[start : start + ps].count(0xFF) != ps:
                # SPIFFS would program over it and store garbage (a page_move cut short
                # by power loss leaves exactly this: the copy written, its entry not).
                raise SpiffsCorrupt(
                    f"page at offset {start:#x} is free in the lookup table but not erased"
                )
            return found
        raise SpiffsFull("no free page")

    def _find_id_and_span(self, oid: int, spix: int) -> int:
        """spiffs_obj_lu_find_id_and_span: a live page of (id, span), from the cursor.

        Index pages (the only ones SPIFFS searches for) are found through the kept
        :class:`.SpanIndex` instead of reading every header of the object's id.
        """
        if oid & IX_FLAG and oid != OBJ_ID_FREE and self.lu:
            if self.spans is None:
                self.spans = SpanIndex(self.lu, self._header, self.g)
            else:
                self.spans.file(self.lu, self.span_dirty)
            self.span_dirty.clear()
            entry = self.spans.find(self.lu, oid, spix, self.cursor)
            if entry is None:
                raise NotFound
            self.cursor = entry
            return self.g.pix(entry)
        g = self.g
        for entry in self._entries_with(oid, self.cursor):
            pix = g.pix(entry)
            ph_id, ph_spix, flags = self._header(pix)
            if (
                ph_id == oid
                and ph_spix == spix
                and flags & (FLAG_FINAL | FLAG_DELET | FLAG_USED) == FLAG_DELET
                and not (oid & IX_FLAG and not flags & FLAG_IXDELE and ph_spix == 0)
            ):
                self.cursor = entry
                return pix
        raise NotFound

    def _find_header_by_name(self, name: bytes) -> int | None:
        g = self.g
        total = len(self.lu)
        for k in range(total):
            entry = (self.cursor + k) % total
            oid = self.lu[entry]
            if oid in (OBJ_ID_FREE, OBJ_ID_DELETED) or not oid & IX_FLAG:
                continue
            pix = g.pix(entry)
            _, spix, flags = self._header(pix)
            if spix != 0 or flags & (FLAG_DELET | FLAG_FINAL | FLAG_IXDELE) != (
                FLAG_DELET | FLAG_IXDELE
            ):
                continue
            base = pix * g.page_size + g.name_offset
            raw = bytes(self.buf[base : base + g.profile.obj_name_len])
            if raw.split(b"\0", 1)[0] == name:
                self.cursor = entry
                return pix
        return None

    def _find_free_obj_id(self) -> int:
        """spiffs_obj_lu_find_free_obj_id: a bitmap of used ids, compacted when too wide."""
        g = self.g
        ps = g.page_size
        max_objects = g.total_entries // 2
        min_id, max_id = 1, max_objects + 1
        if max_id & IX_FLAG:
            max_id = 0xFFFF & ~IX_FLAG
        compaction = 0
        counts = bytearray(ps)
        while True:
            if max_id - min_id <= ps * 8:
                bitmap = bytearray(ps)
                for oid in self.lu:
                    if oid in (OBJ_ID_FREE, OBJ_ID_DELETED):
                        continue
                    d = (oid & ~IX_FLAG) - min_id
                    if 0 <= d >> 3 < ps:
                        bitmap[d >> 3] |= 1 << (d & 7)
                for i, mask in enumerate(bitmap):
                    if mask != 0xFF:
                        for j in range(8):
                            if not mask & (1 << j):
                                return i * 8 + j + min_id
                raise SpiffsFull("no free object id")
            if compaction:
                min_count, min_i = 0xFF, 0
                for i, c in enumerate(counts):
                    if c < min_count:
                        min_count, min_i = c, i
                        if c == 0:
                            break
                if min_count == compaction:
                    raise SpiffsFull("no free object id")
                if min_count == 0:
                    return min_i * compaction + min_id
                min_id += min_i * compaction
                max_id = min_id + compaction
                if max_id - min_id <= ps * 8:
                    continue
            compaction = (max_id - min_id) // ps
            counts = bytearray(ps)
            for entry, oid in enumerate(self.lu):
                if oid in (OBJ_ID_FREE, OBJ_ID_DELETED) or not oid & IX_FLAG:
                    continue
                _, spix, flags = self._header(g.pix(entry))
                if spix != 0 or flags & (FLAG_INDEX | FLAG_FINAL | FLAG_DELET) != FLAG_DELET:
                    continue
                obj_id = oid & ~IX_FLAG
                if min_id <= obj_id <= max_id:
                    ix = (obj_id - min_id) // compaction
                    if ix < ps:  # SPIFFS writes past its work page here; ignore instead
                        counts[ix] = (counts[ix] + 1) & 0xFF

    # -- pages ----------------------------------------------------------------------------
    def _allocate_data(
        self, oid: int, spix: int, flags: int, data: bytes | None, finalize: bool
    ) -> tuple[int, int]:
        """spiffs_page_allocate_data: returns the page and the header flags written."""
        entry = self._find_free()
        pix = self.g.pix(entry)
        self._set_lu(entry, oid)
        self.stats_allocated += 1
        flags &= ~FLAG_USED & 0xFF
        base = pix * self.g.page_size
        self._program(base, PAGE_HEADER.pack(oid, spix, flags))
        if data:
            self._program(base + PAGE_HEADER_LEN, data)
        if finalize and flags & FLAG_FINAL:
            flags &= ~FLAG_FINAL & 0xFF
            self._program(base + 4, bytes([flags]))
        return pix, flags

    def _page_move(self, page: bytearray | None, oid: int, src: int) -> int:
        """spiffs_page_move: copy (or write ``page``) to a free page, delete the source."""
        g = self.g
        ps = g.page_size
        entry = self._find_free()
        dst = g.pix(entry)
        was_final = False
        if page is not None:
            was_final = not page[4] & FLAG_FINAL
            page[4] = (page[4] | FLAG_FINAL) & ~FLAG_USED & 0xFF
            self._program(dst * ps, page)
        else:
            self._program(dst * ps, bytes(self.buf[src * ps : (src + 1) * ps]))
        self._set_lu(entry, oid)
        self.stats_allocated += 1
        if was_final and page is not None:
            page[4] &= ~(FLAG_FINAL | FLAG_USED) & 0xFF
            self._program(dst * ps + 4, bytes([page[4]]))
        self._page_delete(src)
        return dst

    def _page_delete(self, pix: int) -> None:
        self._set_lu(self.g.entry(pix), OBJ_ID_DELETED)
        self.stats_deleted += 1
        self.stats_allocated -= 1
        self._program(pix * self.g.page_size + 4, bytes([~(FLAG_DELET | FLAG_USED) & 0xFF]))

    def _page(self, pix: int) -> bytearray:
        ps = self.g.page_size
        return bytearray(self.buf[pix * ps : (pix + 1) * ps])

    def _validate_objix(self, page: bytes | bytearray, oid: int, spix: int, pix: int) -> None:
        """SPIFFS_VALIDATE_OBJIX, with the page named in the error."""
        _, ph_spix, flags = PAGE_HEADER.unpack_from(page, 0)
        problem = None
        if flags & FLAG_USED:
            problem = "is free"
        elif not flags & FLAG_DELET:
            problem = "is deleted"
        elif flags & FLAG_FINAL:
            problem = "is not finalized"
        elif flags & FLAG_INDEX or not oid & IX_FLAG:
            problem = "is not an index page"
        elif ph_spix != spix:
            problem = f"has span {ph_spix}, expected {spix}"
        if problem:
            raise SpiffsCorrupt(
                f"index page {pix:#x} of object {oid & ~IX_FLAG} {problem} "
                f"(offset {pix * self.g.page_size:#x})"
            )

    def _index_check(self, pix: int, oid: int, spix: int) -> None:
        g = self.g
        if pix == PAGE_FREE or pix >= g.total_pages or g.is_lookup_page(pix):
            raise SpiffsCorrupt(f"object {oid & ~IX_FLAG}: bad index page reference {pix:#x}")
        self._validate_objix(self._page(pix), oid, spix, pix)

    # -- objects ---------------------------------------------------------------------------
    def _object_event(
        self, oid: int, spix: int, new_pix: int, new_size: int, deleted: bool
    ) -> None:
        """spiffs_cb_object_event, for the one descriptor an edit holds open."""
        fd = self.fd
        if fd is None or (fd.obj_id & ~IX_FLAG) != (oid & ~IX_FLAG):
            return
        if spix == 0:
            if deleted:
                self.fd = None
                return
            fd.hdr_pix = new_pix
            if new_size != 0:
                fd.size = new_size
        if fd.cursor_ospix == spix:
            fd.cursor_pix = 0 if deleted else new_pix

    def _open_by_page(self, pix: int) -> Fd:
        oid = self.lu[self.g.entry(pix)]
        page = self._page(pix)
        self._validate_objix(page, oid, 0, pix)
        size = U32.unpack_from(page, INDEX_HEADER_LEN)[0]
        return Fd(obj_id=oid, hdr_pix=pix, size=int(size), cursor_pix=pix)

    def _update_index_hdr(
        self, oid: int, hdr_pix: int, page: bytearray | None, size: int = 0
    ) -> int:
        """spiffs_object_update_index_hdr: rewrite the header (size only) into a new page."""
        oid |= IX_FLAG
        if page is None:
            page = self._page(hdr_pix)
        self._validate_objix(page, oid, 0, hdr_pix)
        if size:
            U32.pack_into(page, INDEX_HEADER_LEN, size)
        new_pix = self._page_move(page, oid, hdr_pix)
        new_size = int(U32.unpack_from(page, INDEX_HEADER_LEN)[0])
        self._object_event(oid, 0, new_pix, new_size, deleted=False)
        return new_pix

    # -- space ------------------------------------------------------------------------
    @property
    def free_pages(self) -> int:
        """Pages free now (not counting deleted pages a garbage collection would free)."""
        return self._free_pages()

    def _free_pages(self) -> int:
        """spiffs_gc_check's ``free_pages``: pages left outside two spare blocks' worth,
        signed. Negative when files reach into the last two blocks, as spiffsgen lets
        them (SPIFFS reckons the same: -30 on its full-64k vector); the sign decides
        SPIFFS's 'crammed' victim choice and early stop, so it must not be clamped."""
        g = self.g
        return g.entries_per_block * (g.block_count - 2) - self.stats_allocated - self.stats_deleted

    def _gc_quick(self) -> None:
        """spiffs_gc_quick(0): erase the first block whose every page is deleted."""
        g = self.g
        epb = g.entries_per_block
        for b in range(g.block_count):
            block = self.lu[b * epb : (b + 1) * epb]
            if block.count(OBJ_ID_DELETED) == epb:
                self.stats_deleted -= epb
                self._erase_block(b)
                return
