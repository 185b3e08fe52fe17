"""A mounted SPIFFS volume that edits its bytes exactly as SPIFFS on the device would.

Why an emulation and not a rebuild: a unit's file system holds files we must not lose
(Wi-Fi credentials, keys, ``mdash.cfg``) and has its own history (erase counts, deleted
pages, object ids). So edits follow SPIFFS 0.3.7's own algorithms (pellepl/spiffs
``spiffs_nucleus.c`` / ``spiffs_gc.c`` / ``spiffs_hydrogen.c``, read for understanding
and re-expressed here): new pages go to the first free lookup entry after the free
cursor, replaced pages are marked deleted in the lookup table and in their page header,
and when space runs short the garbage collector picks a victim block by SPIFFS's score,
moves its live pages out, erases it and writes its erase count and magic. Writes use NOR
semantics (bits only go from 1 to 0) outside erased blocks, so everything but the pages
SPIFFS itself would touch stays byte-identical.

Open-file state is reduced to the one descriptor an edit uses; SPIFFS's caches change
timing, not bytes, and are left out. All failures raise :class:`SpiffsFull` or
:class:`SpiffsCorrupt`; the caller rolls back with :meth:`SpiffsVolume.snapshot`.
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
    TYPE_FILE,
    U16,
    U32,
    UNDEFINED_LEN,
    Geometry,
)

__all__ = ["FileRecord", "SpiffsCorrupt", "SpiffsFull", "SpiffsVolume"]

# SPIFFS_GC_HEUR_W_DELET / _USED / _ERASE_AGE: the same defaults in ESP-IDF and Mongoose OS.
_GC_W_DELETED = 5
_GC_W_USED = -1
_GC_W_ERASE_AGE = 50


class SpiffsFull(Exception):
    """No room for the edit (SPIFFS_ERR_FULL)."""


class SpiffsCorrupt(Exception):
    """The bytes break a SPIFFS invariant the operation relies on."""


class _NotFound(Exception):
    pass


@dataclass(frozen=True, slots=True)
class FileRecord:
    """A live file as SPIFFS's readdir/open would find it."""

    name: bytes  # as stored, without the NUL
    obj_id: int  # without the index flag
    hdr_pix: int
    size: int
    obj_type: int
    meta: bytes
    data_pixes: tuple[int, ...]
    index_pixes: tuple[int, ...]  # header first


@dataclass(slots=True)
class _Fd:
    """The open descriptor: what SPIFFS's object-event callback keeps up to date."""

    obj_id: int  # with the index flag, as SPIFFS stores it in the descriptor
    hdr_pix: int
    size: int
    cursor_pix: int = 0  # the last index page the descriptor worked on, and its span
    cursor_ospix: int = 0


@dataclass(frozen=True, slots=True)
class _Snapshot:
    buf: bytes
    lu: tuple[int, ...]
    counters: tuple[int, ...]
    erased: frozenset[int]
    unerased: int | None


class SpiffsVolume:
    """SPIFFS's in-RAM state (``struct spiffs``) over an image held in a bytearray."""

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
        self.fd: _Fd | None = None
        self.erased: set[int] = set()  # blocks erased since mount (by GC or format)
        self.unerased: int | None = None  # an aborted-erase block SPIFFS's mount would wipe
        self.gc_runs = 0

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
    def snapshot(self) -> _Snapshot:
        return _Snapshot(
            bytes(self.buf),
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

    def restore(self, snap: _Snapshot) -> None:
        self.buf[:] = snap.buf
        self.lu = list(snap.lu)
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

    # -- reading ------------------------------------------------------------------------
    def scan_files(self) -> list[FileRecord]:
        """Every live file, validated page by page, in lookup order.

        Stricter than SPIFFS's readdir (which trusts lookup entries): a header, index or
        data page whose lookup entry, id, span or flags disagree makes the file corrupt,
        so nothing edits an image whose state SPIFFS itself would misread.
        """
        g = self.g
        ps = g.page_size
        buf = self.buf
        live_index: dict[tuple[int, int], int] = {}
        ambiguous: set[tuple[int, int]] = set()
        headers: list[int] = []
        for entry, oid in enumerate(self.lu):
            if oid in (OBJ_ID_FREE, OBJ_ID_DELETED) or not oid & IX_FLAG:
                continue
            pix = g.pix(entry)
            ph_id, spix, flags = PAGE_HEADER.unpack_from(buf, pix * ps)
            live = flags & (FLAG_USED | FLAG_DELET | FLAG_FINAL | FLAG_INDEX) == FLAG_DELET
            if ph_id != oid or not live:
                continue
            if spix == 0 and not flags & FLAG_IXDELE:
                continue  # removal under way: SPIFFS no longer lists it
            key = (oid, spix)
            if key in live_index:
                ambiguous.add(key)
            else:
                live_index[key] = pix
            if spix == 0:
                headers.append(pix)
        files: list[FileRecord] = []
        names: dict[bytes, int] = {}
        for pix in headers:
            rec = self._file_at(pix, live_index, ambiguous)
            if rec.name in names:
                raise SpiffsCorrupt(
                    f"two files named {rec.name.decode('utf-8', 'replace')!r} "
                    f"(objects {names[rec.name]} and {rec.obj_id})"
                )
            names[rec.name] = rec.obj_id
            files.append(rec)
        return files

    def _file_at(
        self, hdr_pix: int, live_index: dict[tuple[int, int], int], ambiguous: set[tuple[int, int]]
    ) -> FileRecord:
        g = self.g
        ps = g.page_size
        buf = self.buf
        base = hdr_pix * ps
        oid = self.lu[g.entry(hdr_pix)]
        obj_id = oid & ~IX_FLAG
        where = f"object {obj_id} (index header at offset {base:#x})"
        if (oid, 0) in ambiguous:
            raise SpiffsCorrupt(f"{where}: more than one live index header")
        size = U32.unpack_from(buf, base + INDEX_HEADER_LEN)[0]
        obj_type = buf[base + INDEX_HEADER_LEN + 4]
        raw = bytes(buf[base + g.name_offset : base + g.name_offset + g.profile.obj_name_len])
        nul = raw.find(b"\0")
        if nul < 0:
            raise SpiffsCorrupt(f"{where}: name is not NUL-terminated")
        if nul == 0:
            raise SpiffsCorrupt(f"{where}: empty name")
        name = raw[:nul]
        meta = bytes(buf[base + g.meta_offset : base + g.meta_offset + g.profile.meta_len])
        if size == UNDEFINED_LEN:
            size = 0
        if size > g.total_entries * g.data_len:
            raise SpiffsCorrupt(f"{where}: size {size} exceeds the volume")
        n_data = -(-size // g.data_len)
        data: list[int] = []
        index = [hdr_pix]
        ix_pix = hdr_pix
        cur_ospix = 0
        for spix in range(n_data):
            ospix = g.objix_spix(spix)
            if ospix != cur_ospix:
                key = (oid, ospix)
                if key in ambiguous or key not in live_index:
                    state = "ambiguous" if key in ambiguous else "missing"
                    raise SpiffsCorrupt(f"{where}: index page span {ospix} {state}")
                ix_pix = live_index[key]
                index.append(ix_pix)
                cur_ospix = ospix
            dpix = U16.unpack_from(buf, ix_pix * ps + g.table_offset(spix))[0]
            problem = self._data_page_problem(dpix, obj_id, spix)
            if problem:
                raise SpiffsCorrupt(f"{where}: data span {spix}: {problem}")
            data.append(dpix)
        return FileRecord(name, obj_id, hdr_pix, size, obj_type, meta, tuple(data), tuple(index))

    def _data_page_problem(self, pix: int, obj_id: int, spix: int) -> str | None:
        g = self.g
        if pix >= g.total_pages or g.is_lookup_page(pix):
            return f"index refers to page {pix:#x}, which is not a data page"
        if self.lu[g.entry(pix)] != obj_id:
            return f"lookup entry of page {pix:#x} does not name the object"
        ph_id, ph_spix, flags = PAGE_HEADER.unpack_from(self.buf, pix * g.page_size)
        if ph_id != obj_id or ph_spix != spix:
            return f"page {pix:#x} belongs to object {ph_id} span {ph_spix}"
        if flags & (FLAG_USED | FLAG_DELET | FLAG_FINAL | FLAG_INDEX) != FLAG_DELET | FLAG_INDEX:
            return f"page {pix:#x} has flags {flags:#04x} (not a live, final data page)"
        return None

    def read_file(self, rec: FileRecord) -> bytes:
        g = self.g
        ps, dl = g.page_size, g.data_len
        parts = []
        left = rec.size
        for pix in rec.data_pixes:
            start = pix * ps + PAGE_HEADER_LEN
            n = min(left, dl)
            parts.append(bytes(self.buf[start : start + n]))
            left -= n
        return b"".join(parts)

    # -- file operations (SPIFFS_open/write/close/remove) ---------------------------------
    def create_file(self, name: bytes, data: bytes, meta: bytes, chunk: int | None = None) -> int:
        """SPIFFS_open(name, CREAT|TRUNC|RDWR) on a new name, SPIFFS_write (once, or per
        ``chunk`` bytes), close. Returns the page of the new object's index header."""
        self._remedy()
        self._find_header_by_name(name)  # not found: SPIFFS then creates the object
        obj_id = self._find_free_obj_id()
        pix = self._object_create(obj_id, name, meta)
        self.fd = fd = self._open_by_page(pix)
        try:
            self._write_chunks(fd, data, chunk)
        finally:
            self.fd = None
        return fd.hdr_pix

    def rewrite_file(self, name: bytes, data: bytes, chunk: int | None = None) -> None:
        """SPIFFS_open(name, CREAT|TRUNC|RDWR) on an existing file, SPIFFS_write (once,
        or per ``chunk`` bytes), close."""
        self._remedy()
        pix = self._find_header_by_name(name)
        if pix is None:
            raise SpiffsCorrupt(f"no file named {name!r}")
        self.fd = self._open_by_page(pix)
        try:
            if self.fd.size == 0:
                # spiffsgen stores empty files with size 0 where SPIFFS leaves 0xFFFFFFFF;
                # SPIFFS would skip the truncate and then AND the new size into that 0,
                # losing the data. Reset the header the way truncate does instead.
                self._reset_header(self.fd)
            self._truncate(self.fd, remove_full=False)
            self._write_chunks(self.fd, data, chunk)
        finally:
            self.fd = None

    def remove_file(self, name: bytes) -> None:
        """SPIFFS_remove: mark the header as being deleted, then delete every page."""
        self._remedy()
        pix = self._find_header_by_name(name)
        if pix is None:
            raise SpiffsCorrupt(f"no file named {name!r}")
        self.remove_object(pix)

    def remove_object(self, pix: int) -> None:
        """SPIFFS_fremove of the object whose index header is page ``pix``."""
        self._remedy()
        self.fd = self._open_by_page(pix)
        try:
            self._truncate(self.fd, remove_full=True)
        finally:
            self.fd = None

    def _remedy(self) -> None:
        # SPIFFS's mount erases one block whose erase was interrupted; we defer that to the
        # first edit so that merely opening an image changes nothing.
        if self.unerased is not None:
            b, self.unerased = self.unerased, None
            self.free_blocks -= 1  # _erase_block counts it again
            self._erase_block(b)

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
        old = self.buf[addr : addr + n]
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

    def _erase_block(self, bix: int) -> None:
        g = self.g
        start = bix * g.block_size
        self.buf[start : start + g.block_size] = b"\xff" * g.block_size
        epb = g.entries_per_block
        self.lu[bix * epb : (bix + 1) * epb] = [OBJ_ID_FREE] * epb
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
        """spiffs_obj_lu_find_id_and_span: a live page of (id, span), from the cursor."""
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
        raise _NotFound

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

    def _object_create(self, obj_id: int, name: bytes, meta: bytes) -> int:
        g = self.g
        self._gc_check(g.data_len)
        oid = obj_id | IX_FLAG
        entry = self._find_free()
        self._set_lu(entry, oid)
        self.stats_allocated += 1
        pix = g.pix(entry)
        # The struct's alignment padding is uninitialised stack memory in SPIFFS; leaving
        # it erased (0xFF) is what spiffsgen does and what NOR keeps cheapest.
        hdr = bytearray(b"\xff" * g.ix_hdr_len)
        flags = 0xFF & ~(FLAG_FINAL | FLAG_INDEX | FLAG_USED)
        PAGE_HEADER.pack_into(hdr, 0, oid, 0, flags)
        U32.pack_into(hdr, INDEX_HEADER_LEN, UNDEFINED_LEN)
        hdr[INDEX_HEADER_LEN + 4] = TYPE_FILE
        n = g.profile.obj_name_len
        hdr[g.name_offset : g.name_offset + n] = name[: n - 1].ljust(n, b"\0")
        hdr[g.meta_offset : g.meta_offset + g.profile.meta_len] = meta
        self._program(pix * g.page_size, hdr)
        return pix

    def _open_by_page(self, pix: int) -> _Fd:
        oid = self.lu[self.g.entry(pix)]
        page = self._page(pix)
        self._validate_objix(page, oid, 0, pix)
        size = U32.unpack_from(page, INDEX_HEADER_LEN)[0]
        return _Fd(obj_id=oid, hdr_pix=pix, size=int(size), cursor_pix=pix)

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

    def _truncate(self, fd: _Fd, *, remove_full: bool) -> None:
        """spiffs_object_truncate to length 0: delete from the end, then fix the header."""
        g = self.g
        ps = g.page_size
        if fd.size in (UNDEFINED_LEN, 0) and not remove_full:
            return
        if not remove_full:
            self._gc_check(g.data_len * 2)
        oid = fd.obj_id
        data_oid = oid & ~IX_FLAG
        objix_pix = fd.hdr_pix
        size = 0 if fd.size == UNDEFINED_LEN else fd.size
        data_spix = (size - 1) // g.data_len if size > 0 else 0
        cur_size = size
        if remove_full:
            flags = ~(FLAG_USED | FLAG_INDEX | FLAG_FINAL | FLAG_IXDELE) & 0xFF
            self._program(fd.hdr_pix * ps + 4, bytes([flags]))
        prev_ospix: int | None = None
        cur_ospix = 0
        work = bytearray()
        while cur_size > 0:
            cur_ospix = g.objix_spix(data_spix)
            if cur_ospix != prev_ospix:
                if prev_ospix is not None:
                    self._index_check(objix_pix, oid, prev_ospix)
                    self._page_delete(objix_pix)
                    if prev_ospix > 0 and not remove_full:
                        self._update_index_hdr(oid, fd.hdr_pix, None, cur_size)
                    fd.size = cur_size
                if cur_ospix == 0:
                    objix_pix = fd.hdr_pix
                else:
                    try:
                        objix_pix = self._find_id_and_span(oid, cur_ospix)
                    except _NotFound:
                        raise SpiffsCorrupt(
                            f"object {data_oid}: index page span {cur_ospix} not found"
                        ) from None
                work = self._page(objix_pix)
                self._validate_objix(work, oid, cur_ospix, objix_pix)
                prev_ospix = cur_ospix
            off = g.table_offset(data_spix)
            data_pix = U16.unpack_from(work, off)[0]
            U16.pack_into(work, off, PAGE_FREE)
            if data_pix != PAGE_FREE:
                problem = self._data_problem_spiffs(data_pix, data_spix)
                if problem == "ok":
                    self._page_delete(data_pix)
                elif problem != "deleted":
                    raise SpiffsCorrupt(f"object {data_oid}: data span {data_spix}: {problem}")
            if cur_size % g.data_len == 0:
                cur_size -= g.data_len
            else:
                cur_size -= cur_size % g.data_len
            fd.size = cur_size
            data_spix -= 1
        # The loop always ends in the header's span when truncating to zero.
        if remove_full:
            self._index_check(objix_pix, oid, 0)
            self._page_delete(objix_pix)
            self._object_event(oid, 0, objix_pix, 0, deleted=True)
        else:
            self._reset_header(fd, work or None)
        fd.size = 0

    def _reset_header(self, fd: _Fd, work: bytearray | None = None) -> None:
        """Move the header to a new page with an empty table and an undefined size."""
        g = self.g
        if work is None:
            work = self._page(fd.hdr_pix)
        work[g.ix_hdr_len :] = b"\xff" * (g.page_size - g.ix_hdr_len)
        self._update_index_hdr(fd.obj_id, fd.hdr_pix, work, UNDEFINED_LEN)

    def _data_problem_spiffs(self, pix: int, spix: int) -> str:
        """spiffs_page_data_check as truncate uses it: "ok", "deleted", or the problem."""
        g = self.g
        if pix == PAGE_FREE:
            return "deleted"
        if pix >= g.total_pages or g.is_lookup_page(pix):
            return f"bad data page reference {pix:#x}"
        _, ph_spix, flags = self._header(pix)
        if flags & FLAG_USED:
            return f"data page {pix:#x} is free"
        if not flags & FLAG_DELET:
            return "deleted"
        if flags & FLAG_FINAL:
            return f"data page {pix:#x} is not finalized"
        if not flags & FLAG_INDEX:
            return f"data page {pix:#x} is an index page"
        if ph_spix != spix:
            return f"data page {pix:#x} has span {ph_spix}"
        return "ok"

    def _write_chunks(self, fd: _Fd, data: bytes, chunk: int | None) -> None:
        """The SPIFFS_write calls the firmware makes for one file write: one call, or one
        per ``chunk`` bytes (each its own garbage-collection check), appended in order."""
        step = chunk or len(data) or 1
        for off in range(0, len(data), step):
            self._append(fd, off, data[off : off + step])

    def _append(self, fd: _Fd, offset: int, data: bytes) -> None:
        """spiffs_object_append: data pages from ``offset`` (filling a partly written
        last page in place), index pages created or loaded as spans change, the header's
        size written in place when the object was empty, else the header moved."""
        g = self.g
        ps, dl = g.page_size, g.data_len
        length = len(data)
        if offset > fd.size:
            offset = fd.size
        self._gc_check(length + dl)  # an extra page of data worth for meta
        oid = fd.obj_id
        data_oid = oid & ~IX_FLAG
        cur_objix_pix = fd.hdr_pix
        prev_ospix: int | None = None
        cur_ospix = 0
        work = bytearray()
        data_spix, page_offs = divmod(offset, dl)
        written = 0
        while written < length:
            cur_ospix = g.objix_spix(data_spix)
            if cur_ospix != prev_ospix:
                if written > 0:
                    assert prev_ospix is not None  # for mypy: set on the first pass
                    if prev_ospix == 0:
                        U32.pack_into(work, INDEX_HEADER_LEN, offset + written)
                        if offset == 0:  # an empty object: its header page is still writable
                            self._index_check(cur_objix_pix, oid, 0)
                            self._program(cur_objix_pix * ps, work, exact=True)
                        else:
                            self._update_index_hdr(oid, fd.hdr_pix, work, offset + written)
                    else:
                        self._index_check(cur_objix_pix, oid, prev_ospix)
                        self._program(cur_objix_pix * ps, work, exact=True)
                        self._object_event(oid, prev_ospix, cur_objix_pix, 0, deleted=False)
                        self._update_index_hdr(oid, fd.hdr_pix, None, offset + written)
                    fd.size = offset + written
                if cur_ospix == 0:
                    work = self._page(cur_objix_pix)
                    self._validate_objix(work, oid, 0, cur_objix_pix)
                else:
                    size_ospix = g.objix_spix(((fd.size - 1) & 0xFFFFFFFF) // dl)
                    if written > 0 or cur_ospix > size_ospix:
                        flags = 0xFF & ~(FLAG_FINAL | FLAG_INDEX)
                        cur_objix_pix, flags = self._allocate_data(
                            oid, cur_ospix, flags, None, finalize=True
                        )
                        work = bytearray(b"\xff" * ps)
                        PAGE_HEADER.pack_into(work, 0, oid, cur_ospix, flags)
                        self._object_event(oid, cur_ospix, cur_objix_pix, 0, deleted=False)
                    else:
                        if fd.cursor_ospix == cur_ospix:
                            cur_objix_pix = fd.cursor_pix
                        else:
                            try:
                                cur_objix_pix = self._find_id_and_span(oid, cur_ospix)
                            except _NotFound:
                                raise SpiffsCorrupt(
                                    f"object {data_oid}: index page span {cur_ospix} not found"
                                ) from None
                        work = self._page(cur_objix_pix)
                        self._validate_objix(work, oid, cur_ospix, cur_objix_pix)
                    fd.cursor_pix, fd.cursor_ospix = cur_objix_pix, cur_ospix
                    fd.size = offset + written
                prev_ospix = cur_ospix
            n = min(length - written, dl - page_offs)
            chunk = data[written : written + n]
            if page_offs == 0:
                pix, _ = self._allocate_data(
                    data_oid, data_spix, 0xFF & ~FLAG_FINAL, chunk, finalize=True
                )
            else:  # fill the free tail of the last data page in place
                pix = U16.unpack_from(work, g.table_offset(data_spix))[0]
                problem = self._data_problem_spiffs(pix, data_spix)
                if problem != "ok":
                    raise SpiffsCorrupt(f"object {data_oid}: data span {data_spix}: {problem}")
                self._program(pix * ps + PAGE_HEADER_LEN + page_offs, chunk)
            U16.pack_into(work, g.table_offset(data_spix), pix)
            if cur_ospix == 0:
                U32.pack_into(work, INDEX_HEADER_LEN, offset + written)
            page_offs = 0
            data_spix += 1
            written += n
        fd.size = offset + written
        fd.cursor_pix, fd.cursor_ospix = cur_objix_pix, cur_ospix
        if cur_ospix != 0:
            self._index_check(cur_objix_pix, oid, cur_ospix)
            self._program(cur_objix_pix * ps, work, exact=True)
            self._object_event(oid, cur_ospix, cur_objix_pix, 0, deleted=False)
            self._update_index_hdr(oid, fd.hdr_pix, None, offset + written)
        elif offset == 0:
            U32.pack_into(work, INDEX_HEADER_LEN, written)
            self._index_check(cur_objix_pix, oid, 0)
            self._program(cur_objix_pix * ps, work, exact=True)
            self._object_event(oid, 0, cur_objix_pix, written, deleted=False)
        else:
            self._update_index_hdr(oid, fd.hdr_pix, work, offset + written)

    # -- garbage collection -----------------------------------------------------------------
    def _free_pages(self) -> int:
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
                except _NotFound:
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
