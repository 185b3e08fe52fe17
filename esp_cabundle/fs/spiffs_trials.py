"""A cheap proof that a state one block away from a broken one is broken too.

The planner's ordering of a garbage-collected update (:func:`.spiffs_safe._greedy`)
tries each remaining block write on the state so far and keeps the first whose result
mounts with every file intact. Mounting a 1408 KiB SPIFFS partition and reading its
files costs milliseconds, and on a nearly full partition, where the collector moved
pages across many blocks, most trials fail, round after round: quadratic in the number
of blocks (108 s for one plan).

Most of those failures share a cause that one block cannot mend: a file whose index
header lies outside the trial's block and whose pages no longer add up
(:meth:`.SpiffsVolume._file_at` raises). Such a header is listed in the trial state as
well (its lookup entry and page header are in its own block), and SPIFFS's scan would
fail on it again when the same check, re-run with the trial's block and the live index
pages it holds, still fails; so would it on a header the trial's block itself holds.
:class:`BrokenFiles` re-runs only those checks; a trial it clears is mounted in full as
before, so the plan is the same, byte for byte.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable

from .spiffs_engine import FileRecord, SpiffsCorrupt, SpiffsVolume
from .spiffs_layout import IX_FLAG, Geometry

__all__ = ["BrokenFiles"]

Key = tuple[int, int]


class BrokenFiles:
    """The files of the ordering's state so far that do not read, and whether one
    block's new content leaves one of them broken.

    Which headers are suspects only decides what is tried cheaply: a trial is refused
    only when a check re-run on the trial's own bytes fails, so a suspect missed costs a
    full mount, never a different pick.
    """

    def __init__(self, state: bytes, geo: Geometry) -> None:
        vol = SpiffsVolume(bytearray(state), geo)
        self.vol = vol
        self.ppb = geo.pages_per_block
        self.suspects: set[int] = set()
        self.records: dict[int, FileRecord] = {}  # header page -> the file it reads as
        self.readers: dict[int, set[int]] = {}  # block -> headers of the files it holds
        self.of_oid: dict[int, set[int]] = {}  # id with the index flag -> their headers
        self.usable = True
        try:
            vol.mount()
        except SpiffsCorrupt:
            self.usable = False  # every trial is mounted in full: nothing is proven here
            return
        self.blocks = [vol.index_pages(b) for b in range(geo.block_count)]
        self.where: dict[Key, list[int]] = {}
        for entries in self.blocks:
            for key, pix in entries:
                self.where.setdefault(key, []).append(pix)
        self.live = {key: pixes[0] for key, pixes in self.where.items()}
        self.ambiguous = {key for key, pixes in self.where.items() if len(pixes) > 1}
        self._check(pix for key, pixes in self.where.items() if key[1] == 0 for pix in pixes)

    def _read(self, hdr_pix: int, live: dict[Key, int], ambiguous: set[Key]) -> FileRecord | None:
        """The file at ``hdr_pix`` as scan_files reads it; None when that fails."""
        try:
            return self.vol._file_at(hdr_pix, live, ambiguous)
        except SpiffsCorrupt:
            return None

    def _check(self, headers: Iterable[int]) -> None:
        """Read each header again on the state so far: a suspect when it fails."""
        for pix in headers:
            self._forget(pix)
            try:
                rec = self._read(pix, self.live, self.ambiguous)
            except Exception:  # no proof either way: the full mount decides
                continue
            if rec is None:
                self.suspects.add(pix)
            else:
                self.records[pix] = rec
                self.of_oid.setdefault(rec.obj_id | IX_FLAG, set()).add(pix)
                for b in {p // self.ppb for p in (*rec.index_pixes, *rec.data_pixes)}:
                    self.readers.setdefault(b, set()).add(pix)

    def _forget(self, pix: int) -> None:
        self.suspects.discard(pix)
        rec = self.records.pop(pix, None)
        if rec is not None:
            self.of_oid[rec.obj_id | IX_FLAG].discard(pix)
            for b in {p // self.ppb for p in (*rec.index_pixes, *rec.data_pixes)}:
                self.readers[b].discard(pix)

    def _put(self, block: int, content: bytes) -> list[tuple[Key, int]]:
        """Write ``block`` into the volume (bytes and lookup entries, as mount reads
        them); its live index pages."""
        vol = self.vol
        g = vol.g
        bs, epb = g.block_size, g.entries_per_block
        vol.buf[block * bs : (block + 1) * bs] = content
        vol.lu[block * epb : (block + 1) * epb] = struct.unpack_from(
            f"<{epb}H", vol.buf, block * bs
        )
        return vol.index_pages(block)

    def _index_with(
        self, block: int, entries: list[tuple[Key, int]]
    ) -> tuple[dict[Key, int], set[Key], dict[Key, list[int]]]:
        """The live index and its ambiguous keys with ``block`` holding ``entries``, and
        the pages of each key that changed."""
        ppb = self.ppb
        keys = {key for key, _ in self.blocks[block]} | {key for key, _ in entries}
        if not keys:
            return self.live, self.ambiguous, {}
        live, ambiguous = dict(self.live), set(self.ambiguous)
        changed: dict[Key, list[int]] = {}
        for key in keys:
            pixes = sorted(  # lookup order: scan_files keeps the first
                [p for p in self.where.get(key, ()) if p // ppb != block]
                + [p for k, p in entries if k == key]
            )
            changed[key] = pixes
            if pixes:
                live[key] = pixes[0]
            else:
                live.pop(key, None)
            if len(pixes) > 1:
                ambiguous.add(key)
            else:
                ambiguous.discard(key)
        return live, ambiguous, changed

    def still_broken(self, block: int, content: bytes) -> bool:
        """True when the state with ``block`` written as ``content`` has a file that
        fails to read, so it cannot mount: a suspect outside ``block`` (still a header
        there: its lookup entry and page header are in its own block), or a header the
        new content holds, whose :meth:`~.SpiffsVolume._file_at` fails on the trial's
        bytes and index pages. A suspect inside ``block`` proves nothing (the trial may
        have removed it)."""
        if not self.usable:
            return False
        suspects = [pix for pix in self.suspects if pix // self.ppb != block]
        vol = self.vol
        g = vol.g
        bs, epb = g.block_size, g.entries_per_block
        saved = bytes(vol.buf[block * bs : (block + 1) * bs])
        saved_lu = vol.lu[block * epb : (block + 1) * epb]
        try:
            entries = self._put(block, content)
            live, ambiguous, _ = self._index_with(block, entries)
            # the suspects, then the headers the block itself holds in the trial
            suspects += [pix for key, pix in entries if key[1] == 0]
            for pix in suspects:
                try:
                    if self._read(pix, live, ambiguous) is None:
                        return True
                except Exception:  # no proof: the full mount decides
                    continue
            return False
        finally:
            vol.buf[block * bs : (block + 1) * bs] = saved
            vol.lu[block * epb : (block + 1) * epb] = saved_lu

    def advance(self, block: int, content: bytes) -> None:
        """The state so far gains ``block``: re-read the suspects and the files that
        block or its index pages could change."""
        if not self.usable:
            return
        ppb = self.ppb
        entries = self._put(block, content)
        self.live, self.ambiguous, changed = self._index_with(block, entries)
        self.blocks[block] = entries
        for key, pixes in changed.items():
            if pixes:
                self.where[key] = pixes
            else:
                self.where.pop(key, None)
        again = {pix for pix in self.suspects if pix // ppb != block}
        for pix in [*self.suspects, *self.readers.get(block, ())]:
            if pix // ppb == block:  # its header's block was rewritten: read below if kept
                self._forget(pix)
        again |= self.readers.get(block, set())
        for oid in {key[0] for key in changed}:
            again |= self.of_oid.get(oid, set())
        again |= {pix for key, pix in entries if key[1] == 0}
        self._check(sorted(again))
