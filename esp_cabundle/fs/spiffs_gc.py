"""SPIFFS's garbage collector, kept apart from the file operations that call it.

Re-expressed from pellepl/spiffs 0.3.7 ``spiffs_gc.c`` (read for understanding): when a
write finds too few free pages, a victim block is chosen by SPIFFS's own score, its live
pages are moved out with their indexes fixed, and the block is erased. Its choices must
match the device's byte for byte, because the firmware mounts what we leave behind.
"""

from __future__ import annotations

import heapq

from .spiffs_layout import (
    FLAG_DELET,
    IX_FLAG,
    OBJ_ID_DELETED,
    OBJ_ID_FREE,
    PAGE_FREE,
    U16,
    Geometry,
)
from .spiffs_volume import NotFound, SpiffsCorrupt, SpiffsFull, VolumeState

# SPIFFS_GC_HEUR_W_DELET / _USED / _ERASE_AGE: the same defaults in ESP-IDF and Mongoose OS.
_GC_W_DELETED = 5
_GC_W_USED = -1
_GC_W_ERASE_AGE = 50


class SpiffsGc(VolumeState):
    """The collector as a base of :class:`.spiffs_engine.SpiffsVolume`: it needs only the
    volume state and page primitives, not the file operations."""

    def __init__(self, buf: bytearray, geo: Geometry) -> None:
        super().__init__(buf, geo)
        self._victims: _Victims | None = None

    def _gc_check(self, length: int) -> None:
        """spiffs_gc_check: make room for ``length`` bytes, cleaning blocks if needed."""
        g = self.g
        dl = g.data_len
        mongoose = g.profile.gc_flavour == "mongoose"
        free_pages = self._free_pages()
        enough_blocks = self.free_blocks >= 3 if mongoose else self.free_blocks > 3
        if enough_blocks and length < free_pages * dl:
            return
        needed = -(-length // dl)
        if needed > free_pages + self.stats_deleted:
            raise SpiffsFull(f"needs {needed} pages, {free_pages + self.stats_deleted} reclaimable")
        tries = 0
        while True:
            prev_free = free_pages
            crammed = free_pages <= (g.pages_per_block if mongoose else 0)
            victim = self._gc_find_candidate(crammed)
            self.cleaning = True
            try:
                self._gc_clean(victim)
            finally:
                self.cleaning = False
            self._gc_erase_page_stats(victim)
            self._erase_block(victim)
            self.gc_runs += 1
            free_pages = self._free_pages()
            if prev_free <= 0 and prev_free == free_pages:
                break  # crammed and no progress: SPIFFS gives up early to spare wear
            tries += 1
            if not (
                tries < g.profile.gc_max_runs
                and (self.free_blocks <= 2 or length > free_pages * dl)
            ):
                break
        if length > self._free_pages() * dl:
            raise SpiffsFull(f"needs {needed} pages after garbage collection")

    def _gc_find_candidate(self, crammed: bool) -> int:
        """spiffs_gc_find_candidate: the first block with the best score.

        Scores come from counts kept per block (see :class:`_Victims`): scanning every
        block's lookup entries for each 256-byte append made big writes into nearly
        full large images quadratic.
        """
        if self._victims is None:
            self._victims = _Victims(self)
        return self._victims.best(self, crammed)

    def _gc_erase_page_stats(self, bix: int) -> None:
        epb = self.g.entries_per_block
        block = self.lu[bix * epb : (bix + 1) * epb]
        deleted = block.count(OBJ_ID_DELETED)
        self.stats_allocated -= epb - block.count(OBJ_ID_FREE) - deleted
        self.stats_deleted -= deleted

    def _gc_clean(self, bix: int) -> None:
        """spiffs_gc_clean: move every live page out of ``bix``, fixing the indexes.

        Data pages go first, one object index at a time (each index page is rewritten
        once with all its moved entries), then the remaining index pages are moved.
        """
        g = self.g
        epb = g.entries_per_block
        base = bix * epb
        if self.free_cursor[0] == bix:  # cannot take free pages from the block being cleaned
            self.free_cursor = ((bix + 1) % g.block_count, 0)
        state = "find"
        cur = 0
        stored = 0
        gc_oid = gc_ospix = gc_objix_pix = gc_data_pix = 0
        work = bytearray()
        rounds = 0
        while state != "done":
            rounds += 1
            if rounds > 4 * epb + 8:
                raise SpiffsCorrupt(f"garbage collection of block {bix} does not converge")
            found = False
            e = cur
            while e < epb:
                entry = base + e
                oid = self.lu[entry]
                pix = g.pix(entry)
                if state == "find":
                    if oid not in (OBJ_ID_FREE, OBJ_ID_DELETED) and not oid & IX_FLAG:
                        found = True
                        gc_oid, gc_data_pix = oid, pix
                        e += 1
                        break
                elif state == "move_data":
                    if oid == gc_oid:
                        _, spix, flags = self._header(pix)
                        if g.objix_spix(spix) == gc_ospix:
                            if flags & FLAG_DELET:
                                new = self._page_move(None, oid, pix)
                            else:
                                self._page_delete(pix)  # deleted in its header only
                                new = PAGE_FREE
                            U16.pack_into(work, g.table_offset(spix), new)
                elif oid not in (OBJ_ID_FREE, OBJ_ID_DELETED) and oid & IX_FLAG:  # move_ix
                    _, spix, flags = self._header(pix)
                    if flags & FLAG_DELET:
                        new = self._page_move(None, oid, pix)
                        self._object_event(oid, spix, new, 0, deleted=False)
                    else:
                        self._page_delete(pix)
                        self._object_event(oid, spix, pix, 0, deleted=True)
                e += 1
            cur = e
            if state == "find":
                if not found:
                    state, cur = "move_ix", 0
                    continue
                stored, cur, state = cur, 0, "move_data"
                _, spix, _ = self._header(gc_data_pix)
                gc_ospix = g.objix_spix(spix)
                try:
                    gc_objix_pix = self._find_id_and_span(gc_oid | IX_FLAG, gc_ospix)
                except NotFound:
                    # an orphan data page (no index refers to it): SPIFFS just deletes it
                    self._page_delete(gc_data_pix)
                    cur, state = stored, "find"
                    continue
                work = self._page(gc_objix_pix)
                self._validate_objix(work, gc_oid | IX_FLAG, gc_ospix, gc_objix_pix)
            elif state == "move_data":
                state, cur = "find", stored
                if gc_ospix == 0:
                    self._update_index_hdr(gc_oid | IX_FLAG, gc_objix_pix, work)
                else:
                    new = self._page_move(work, gc_oid | IX_FLAG, gc_objix_pix)
                    self._object_event(gc_oid, gc_ospix, new, 0, deleted=False)
            else:
                state = "done"


# The erase-age bonus of a block whose erase count is not below the volume's maximum:
# its age is 0xFFFF - (count - max) where the others' is max - count.
_WRAP_BONUS = _GC_W_ERASE_AGE * OBJ_ID_FREE


class _Victims:
    """spiffs_gc_find_candidate's scores, kept per block between collections.

    A block's score is ``5*deleted - used + 50*age`` (deleted and used counted up to its
    first free lookup entry, as SPIFFS counts them). With ``M`` the volume's maximum
    erase count, ``age`` is ``M - count`` or, for a count at or above ``M``,
    ``0xFFFF - (count - M)``: so the score is ``50*M + key`` with ``key = 5*deleted -
    used - 50*count`` (plus ``50*0xFFFF`` for the second kind), and the order of blocks
    within each kind does not depend on ``M``. Heaps of keys per kind (and of ``5*deleted
    - used`` for a crammed volume, whose score has no age; and of the Mongoose OS blocks
    without deleted pages, which all score the same) give the best block in log time.
    Entries are invalidated lazily by a per-block stamp; only blocks the volume marked
    changed, and those whose kind changed with ``M``, are counted again. Ties go to the
    lowest block, as in SPIFFS's scan.
    """

    def __init__(self, vol: VolumeState) -> None:
        g = vol.g
        self.epb = g.entries_per_block
        self.mongoose = g.profile.gc_flavour == "mongoose"
        self.flat = g.pages_per_block * _GC_W_USED  # Mongoose: a block with nothing to free
        n = g.block_count
        self.stamp = [0] * n
        self.count = [0] * n  # erase count as last read
        self.by_count: dict[int, set[int]] = {}
        self.plain: list[tuple[int, int, int]] = []  # (-(5d - u), block, stamp)
        self.low: list[tuple[int, int, int]] = []  # (-key, block, stamp): count < M
        self.high: list[tuple[int, int, int]] = []  # count >= M
        self.flats: list[tuple[int, int]] = []  # (block, stamp)
        self.max_seen = vol.max_erase_count

    def _rescan_all(self, vol: VolumeState) -> None:
        self.plain, self.low, self.high, self.flats = [], [], [], []
        self.by_count = {}
        for b in range(len(self.stamp)):
            self._rescan(vol, b, heap=False)
        for h in (self.plain, self.low, self.high):
            heapq.heapify(h)
        heapq.heapify(self.flats)

    def _rescan(self, vol: VolumeState, b: int, *, heap: bool = True) -> None:
        """Count block ``b`` again and file it under a fresh stamp (``heap``: in heap
        order; a full rescan appends and heapifies once)."""
        epb = self.epb
        block = vol.lu[b * epb : (b + 1) * epb]
        if OBJ_ID_FREE in block:  # SPIFFS stops counting at a block's first free entry
            block = block[: block.index(OBJ_ID_FREE)]
        deleted = block.count(OBJ_ID_DELETED)
        used = len(block) - deleted
        old = self.count[b]
        ec = vol._u16(vol.g.erase_count_addr(b))
        if b in self.by_count.get(old, ()):
            self.by_count[old].discard(b)
        self.by_count.setdefault(ec, set()).add(b)
        self.count[b] = ec
        self.stamp[b] = s = self.stamp[b] + 1
        if self.mongoose and deleted == 0:
            if heap:
                heapq.heappush(self.flats, (b, s))
            else:
                self.flats.append((b, s))
            return
        base = deleted * _GC_W_DELETED + used * _GC_W_USED
        key = base - _GC_W_ERASE_AGE * ec
        aged = self.high if ec >= vol.max_erase_count else self.low
        for h, entry in ((self.plain, (-base, b, s)), (aged, (-key, b, s))):
            if heap:
                heapq.heappush(h, entry)
            else:
                h.append(entry)

    def _refresh(self, vol: VolumeState) -> None:
        m = vol.max_erase_count
        n = len(self.stamp)
        heaped = len(self.plain) + len(self.low) + len(self.high) + len(self.flats)
        if vol.lu_reset or not self.max_seen <= m <= self.max_seen + n or heaped > 6 * n:
            vol.lu_reset = False
            vol.lu_dirty.clear()
            self._rescan_all(vol)
        else:
            # blocks whose count was at or above the old maximum and is now below it
            moved = {b for c in range(self.max_seen, m) for b in self.by_count.get(c, ())}
            for b in vol.lu_dirty | moved:
                self._rescan(vol, b)
            vol.lu_dirty.clear()
        self.max_seen = m

    def _top(self, heap: list[tuple[int, int, int]]) -> tuple[int, int] | None:
        """(score part, block) of the heap's best live entry, dropping stale ones."""
        stamp = self.stamp
        while heap and stamp[heap[0][1]] != heap[0][2]:
            heapq.heappop(heap)
        return (-heap[0][0], heap[0][1]) if heap else None

    def best(self, vol: VolumeState, crammed: bool) -> int:
        self._refresh(vol)
        found: list[tuple[int, int]] = []  # (score, -block)
        stamp = self.stamp
        while self.flats and stamp[self.flats[0][0]] != self.flats[0][1]:
            heapq.heappop(self.flats)
        if self.flats:
            found.append((self.flat, -self.flats[0][0]))
        if crammed:
            top = self._top(self.plain)
            if top is not None:
                found.append((top[0], -top[1]))
        else:
            age = _GC_W_ERASE_AGE * vol.max_erase_count
            for heap, bonus in ((self.low, 0), (self.high, _WRAP_BONUS)):
                top = self._top(heap)
                if top is not None:
                    found.append((top[0] + age + bonus, -top[1]))
        return -max(found)[1]
