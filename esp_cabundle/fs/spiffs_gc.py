"""SPIFFS's garbage collector, kept apart from the file operations that call it.

Re-expressed from pellepl/spiffs 0.3.7 ``spiffs_gc.c`` (read for understanding): when a
write finds too few free pages, a victim block is chosen by SPIFFS's own score, its live
pages are moved out with their indexes fixed, and the block is erased. Its choices must
match the device's byte for byte, because the firmware mounts what we leave behind.
"""

from __future__ import annotations

from .spiffs_layout import FLAG_DELET, IX_FLAG, OBJ_ID_DELETED, OBJ_ID_FREE, PAGE_FREE, U16
from .spiffs_volume import NotFound, SpiffsCorrupt, SpiffsFull, VolumeState

# SPIFFS_GC_HEUR_W_DELET / _USED / _ERASE_AGE: the same defaults in ESP-IDF and Mongoose OS.
_GC_W_DELETED = 5
_GC_W_USED = -1
_GC_W_ERASE_AGE = 50


class SpiffsGc(VolumeState):
    """The collector as a base of :class:`.spiffs_engine.SpiffsVolume`: it needs only the
    volume state and page primitives, not the file operations."""

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
        """spiffs_gc_find_candidate: the first block with the best score."""
        g = self.g
        epb = g.entries_per_block
        best, best_score = 0, None
        for b in range(g.block_count):
            deleted = used = 0
            for oid in self.lu[b * epb : (b + 1) * epb]:
                if oid == OBJ_ID_FREE:
                    break  # SPIFFS fills blocks in order: the rest is free too
                if oid == OBJ_ID_DELETED:
                    deleted += 1
                else:
                    used += 1
            ec = self._u16(g.erase_count_addr(b))
            if self.max_erase_count > ec:
                age = self.max_erase_count - ec
            else:
                age = (OBJ_ID_FREE - (ec - self.max_erase_count)) & 0xFFFF
            score = deleted * _GC_W_DELETED + used * _GC_W_USED
            score += 0 if crammed else age * _GC_W_ERASE_AGE
            if g.profile.gc_flavour == "mongoose" and deleted == 0:
                score = g.pages_per_block * _GC_W_USED  # cleaning it frees nothing
            if best_score is None or score > best_score:
                best, best_score = b, score
        return best

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
