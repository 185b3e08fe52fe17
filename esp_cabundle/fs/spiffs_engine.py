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

Open-file state is reduced to the one descriptor an edit uses. SPIFFS's read cache
changes timing, not bytes, and is left out; its write cache is what turns the
firmware's small stdio writes into page-sized appends, which the profile's
``write_chunk`` stands for. The state and page primitives live in :mod:`.spiffs_volume`,
the garbage collector in :mod:`.spiffs_gc`. All failures raise :class:`SpiffsFull` or
:class:`SpiffsCorrupt`; the caller rolls back with :meth:`SpiffsVolume.snapshot`.
"""

from __future__ import annotations

from dataclasses import dataclass

from .spiffs_gc import SpiffsGc
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
)
from .spiffs_volume import Fd, NotFound, SpiffsCorrupt, SpiffsFull

__all__ = ["FileRecord", "SpiffsCorrupt", "SpiffsFull", "SpiffsVolume"]


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


class SpiffsVolume(SpiffsGc):
    """A mounted volume: SPIFFS's file operations (garbage collection is in :mod:`.spiffs_gc`)."""

    # -- reading ------------------------------------------------------------------------
    def scan_files(self) -> list[FileRecord]:
        """Every live file, validated page by page, in lookup order.

        Stricter than SPIFFS's readdir (which trusts lookup entries): a header, index or
        data page whose lookup entry, id, span or flags disagree makes the file corrupt,
        so nothing edits an image whose state SPIFFS itself would misread.
        """
        live_index: dict[tuple[int, int], int] = {}
        ambiguous: set[tuple[int, int]] = set()
        headers: list[int] = []
        for b in range(self.g.block_count):
            for key, pix in self.index_pages(b):
                if key in live_index:
                    ambiguous.add(key)
                else:
                    live_index[key] = pix
                if key[1] == 0:
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

    def index_pages(self, block: int) -> list[tuple[tuple[int, int], int]]:
        """The live index pages of one block as :meth:`scan_files` counts them, in lookup
        order: ((id with the index flag, span), page). Only that block's bytes and lookup
        entries decide them (the planner's trials re-count one block, not the volume)."""
        g = self.g
        ps = g.page_size
        buf = self.buf
        epb = g.entries_per_block
        out: list[tuple[tuple[int, int], int]] = []
        for entry in range(block * epb, (block + 1) * epb):
            oid = self.lu[entry]
            if oid in (OBJ_ID_FREE, OBJ_ID_DELETED) or not oid & IX_FLAG:
                continue
            pix = g.pix(entry)
            ph_id, spix, flags = PAGE_HEADER.unpack_from(buf, pix * ps)
            live = flags & (FLAG_USED | FLAG_DELET | FLAG_FINAL | FLAG_INDEX) == FLAG_DELET
            if ph_id != oid or not live:
                continue
            if spix == 0 and not flags & FLAG_IXDELE:
                continue  # removal under way: SPIFFS no longer lists it
            out.append(((oid, spix), pix))
        return out

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

    def rename_file(self, old: bytes, new: bytes) -> None:
        """SPIFFS_rename (pellepl/spiffs ``spiffs_hydrogen.c``): find ``old``'s index
        header, refuse a ``new`` name already in use (SPIFFS_ERR_CONFLICTING_NAME), then
        ``spiffs_object_update_index_hdr`` with the new name: the header page alone is
        rewritten (``strncpy`` of the name) into one free page and the old one deleted.
        No data page is copied and no garbage collection is run, so a rename needs one
        free page, not room for the file."""
        self._remedy()
        pix = self._find_header_by_name(old)
        if pix is None:
            raise SpiffsCorrupt(f"no file named {old!r}")
        if self._find_header_by_name(new) is not None:
            raise SpiffsCorrupt(f"a file named {new!r} exists")  # CONFLICTING_NAME
        g = self.g
        self.fd = fd = self._open_by_page(pix)
        try:
            page = self._page(pix)
            n = g.profile.obj_name_len
            page[g.name_offset : g.name_offset + n] = new[: n - 1].ljust(n, b"\0")
            self._update_index_hdr(fd.obj_id, pix, page)
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

    def _truncate(self, fd: Fd, *, remove_full: bool) -> None:
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
                objix_pix, work = self._load_index(
                    oid, cur_ospix, fd.hdr_pix if cur_ospix == 0 else None
                )
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

    def _load_index(self, oid: int, ospix: int, pix: int | None) -> tuple[int, bytearray]:
        """An object index page (found by id and span unless ``pix`` is known), checked."""
        if pix is None:
            try:
                pix = self._find_id_and_span(oid, ospix)
            except NotFound:
                raise SpiffsCorrupt(
                    f"object {oid & ~IX_FLAG}: index page span {ospix} not found"
                ) from None
        work = self._page(pix)
        self._validate_objix(work, oid, ospix, pix)
        return pix, work

    def _reset_header(self, fd: Fd, work: bytearray | None = None) -> None:
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

    def _write_chunks(self, fd: Fd, data: bytes, chunk: int | None) -> None:
        """The SPIFFS_write calls the firmware makes for one file write: one call, or one
        per ``chunk`` bytes (each its own garbage-collection check), appended in order."""
        step = chunk or len(data) or 1
        for off in range(0, len(data), step):
            self._append(fd, off, data[off : off + step])

    def _append(self, fd: Fd, offset: int, data: bytes) -> None:
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
                        cursor = fd.cursor_pix if fd.cursor_ospix == cur_ospix else None
                        cur_objix_pix, work = self._load_index(oid, cur_ospix, cursor)
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
