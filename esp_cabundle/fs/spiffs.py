"""SPIFFS images: read, build and edit them the way the platforms' own tools and SPIFFS do.

No maintained SPIFFS library exists for Python, so this is the project's own
implementation, proven against images made by ESP-IDF's ``spiffsgen.py`` and Mongoose
OS's ``mkspiffs8`` (tests/data/spiffs):

* :func:`build_spiffs_image` reproduces the platform's image tool byte for byte:
  spiffsgen's sequential packing for ``esp-idf`` (= Arduino-ESP32, PlatformIO), and for
  ``mongoose-os`` a SPIFFS format followed by one create-and-write per file, which is
  what ``mkspiffs8`` runs.
* :class:`SpiffsImage` opens an existing image (detecting the profile from its magic),
  lists and reads files, and edits in place through :mod:`.spiffs_engine`, which follows
  SPIFFS's own write and garbage-collection algorithms so that only the pages SPIFFS
  itself would touch change, and erase counts survive.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import ClassVar

from ..arguments import require_bytes, require_image_path
from ..errors import ImageError
from ..spelling import PYTHON, Spelling
from ..text import byte_count, printable_name
from .base import (
    ERASE_BLOCK,
    NO_FILE_HINT,
    FileInfo,
    FileSystemImage,
    NoRoomError,
    SizeHint,
    TooSmallError,
    checked_new_path,
    normalize_path,
)
from .spiffs_engine import FileRecord, SpiffsCorrupt, SpiffsFull, SpiffsVolume
from .spiffs_layout import (
    INDEX_HEADER_LEN,
    IX_FLAG,
    PAGE_HEADER,
    SPIFFS_PROFILES,
    TYPE_FILE,
    U16,
    U32,
    UNDEFINED_LEN,
    Geometry,
    SpiffsProfile,
    get_spiffs_profile,
)
from .spiffs_probe import MIN_BLOCKS, magic_profiles, probe_spiffs, size_hint, unique_profiles

__all__ = [
    "SPIFFS_PROFILES",
    "SpiffsImage",
    "SpiffsProfile",
    "build_spiffs_image",
    "get_spiffs_profile",
    "probe_spiffs",
]

# Names a missing folder's message lists (then "and N more").
_SHOWN = 5

_MAX_PAGES = 0xFFFF  # u16 page indexes, 0xFFFF meaning "no page"


def _check_size(size: int, profile: SpiffsProfile, spelling: Spelling | None = None) -> Geometry:
    """The geometry of ``size`` bytes, or ImageError; ``spelling`` (how the caller sets
    the size of an image to make) hints the smallest size when it is too small."""
    bs = profile.block_size
    if size <= 0 or size % bs:
        raise ImageError(
            f"SPIFFS image size {byte_count(size)} is not a positive multiple of the "
            f"{bs}-byte block",
            hint="use the partition size from the partition table",
        )
    geo = Geometry.of(profile, size)
    if geo.block_count < MIN_BLOCKS:
        raise TooSmallError(
            f"SPIFFS needs at least {MIN_BLOCKS} blocks; {byte_count(size)} hold {geo.block_count}",
            smallest=MIN_BLOCKS * bs,
            hint=SizeHint(MIN_BLOCKS * bs, spelling) if spelling else None,
        )
    if geo.total_pages > _MAX_PAGES:
        largest = largest_size(profile)
        raise ImageError(
            f"SPIFFS with {profile.page_size}-byte pages addresses at most {_MAX_PAGES} pages; "
            f"{byte_count(size)} is too large",
            hint=SizeHint(largest, spelling or PYTHON, largest=True),
        )
    return geo


def largest_size(profile: SpiffsProfile) -> int:
    """The largest image, in whole blocks, whose pages SPIFFS's u16 indexes address."""
    return _MAX_PAGES * profile.page_size // profile.block_size * profile.block_size


def _encode_name(path: str, profile: SpiffsProfile) -> bytes:
    """The on-disk name for an API path, or ImageError naming the limit."""
    stored = profile.stored_name(checked_new_path(path, "SPIFFS"))
    if not stored.strip("/"):
        raise ImageError(f"empty SPIFFS file name {path!r}")
    name = stored.encode("utf-8", "surrogateescape")
    if b"\0" in name:
        raise ImageError(f"SPIFFS file name {path!r} contains a NUL byte")
    if len(name) > profile.max_name_bytes:
        raise ImageError(
            f"SPIFFS file name {stored!r} is {byte_count(len(name))}; profile {profile.name} "
            f"allows at most {profile.max_name_bytes}",
            hint="SPIFFS stores the whole path as one name"
            + (" (including its leading '/')" if profile.name_prefix else ""),
        )
    return name


def _api_path(name: bytes) -> str:
    return normalize_path(name.decode("utf-8", "surrogateescape"))


# -- building --------------------------------------------------------------------------


def build_spiffs_image(
    files: Sequence[tuple[str, bytes]], *, size: int, profile: SpiffsProfile | str
) -> bytes:
    """A fresh image holding ``files`` in the given order, as the platform's tool makes it.

    ``esp-idf``: the bytes spiffsgen.py (ESP-IDF v4.4 to v5.5) writes for the same files
    in the same order, except an empty file's size: 0xFFFFFFFF as SPIFFS itself writes
    it, where spiffsgen's 0 makes the device lose every later write to that file.
    ``mongoose-os``: what mkspiffs8 writes (SPIFFS format, then one create/write per file),
    except the few header padding bytes SPIFFS leaves uninitialised (kept erased here).
    ImageError for a bad size, a name too long, a duplicate name or files that do not fit.
    """
    prof = get_spiffs_profile(profile)
    geo = _check_size(size, prof, PYTHON)
    named: list[tuple[bytes, bytes]] = []
    seen: dict[bytes, str] = {}
    for path, data in files:
        name = _encode_name(path, prof)
        if name in seen:
            raise ImageError(
                f"duplicate file {normalize_path(path)!r} (also given as {seen[name]!r})"
            )
        seen[name] = path
        if len(data) >= 0xFFFFFFFF:
            raise ImageError(f"{path!r} is too large for SPIFFS")
        named.append((name, bytes(data)))
    if prof.builder == "spiffsgen":
        return _spiffsgen(named, geo)
    return _mkspiffs(named, geo)


def _mkspiffs(files: list[tuple[bytes, bytes]], geo: Geometry) -> bytes:
    prof = geo.profile
    vol = SpiffsVolume(bytearray(b"\xff" * geo.block_count * geo.block_size), geo)
    vol.format()
    meta = bytes([prof.meta_fill]) * prof.meta_len
    for name, data in files:
        try:
            vol.create_file(name, data, meta)
        except SpiffsFull as e:
            raise NoRoomError(
                f"{_api_path(name)!r} ({byte_count(len(data))}) does not fit in a "
                f"{geo.block_count * geo.block_size:,}-byte SPIFFS image: {e}",
                hint="use a larger partition or fewer files",
            ) from e
    return bytes(vol.buf)


def _spiffsgen(files: list[tuple[bytes, bytes]], geo: Geometry) -> bytes:
    """spiffsgen.py's algorithm: pages are filled strictly in order, block after block.

    Each file is an index header page then its data pages; a further index page is
    started where the current one's table is full, a new block where the current one is
    full. Lookup entries and magics follow SPIFFS; erase counts are left erased (0xFFFF)
    and the meta bytes zero, as spiffsgen leaves them.
    """
    prof = geo.profile
    ps, bs, epb = geo.page_size, geo.block_size, geo.entries_per_block
    img = bytearray(b"\xff" * geo.block_count * bs)
    block, used = -1, epb  # "full" before the first block

    def open_block() -> None:
        nonlocal block, used
        block, used = block + 1, 0
        if block >= geo.block_count:
            raise NoRoomError(
                f"the files do not fit in a {geo.block_count * bs:,}-byte SPIFFS image",
                hint="use a larger partition or fewer files",
            )

    def take(oid: int) -> int:
        nonlocal used
        U16.pack_into(img, block * bs + 2 * used, oid)
        pix = block * geo.pages_per_block + geo.lu_pages + used
        used += 1
        return pix

    zeros = bytes(geo.ix_hdr_len - geo.meta_offset)  # meta and alignment pad
    for obj_id, (name, data) in enumerate(files, start=1):
        oid = obj_id | IX_FLAG
        if used == epb:
            open_block()
        base = take(oid) * ps
        PAGE_HEADER.pack_into(img, base, oid, 0, 0xF8)  # used, final, index
        # spiffsgen writes size 0 for an empty file; SPIFFS on the device then skips the
        # truncate of fopen("w") and ANDs every later size into that 0, so whatever the
        # firmware writes to the file is lost (shown with SPIFFS's own C code, see
        # tests/data/spiffs/README.md). SPIFFS's own "no data yet" size keeps it usable.
        U32.pack_into(img, base + INDEX_HEADER_LEN, len(data) or UNDEFINED_LEN)
        img[base + INDEX_HEADER_LEN + 4] = TYPE_FILE
        n = prof.obj_name_len
        img[base + geo.name_offset : base + geo.name_offset + n] = name.ljust(n, b"\0")
        img[base + geo.meta_offset : base + geo.ix_hdr_len] = zeros
        table, slots, ix_span = base + geo.ix_hdr_len, geo.hdr_ix_len, 0
        for spix, start in enumerate(range(0, len(data), geo.data_len)):
            if used == epb:
                open_block()
            if slots == 0:  # index table full: a further index page (block has room)
                ix_span += 1
                ix = take(oid) * ps
                PAGE_HEADER.pack_into(img, ix, oid, ix_span, 0xF8)
                table, slots = ix + INDEX_HEADER_LEN, geo.ix_len
                if used == epb:
                    open_block()
            pix = take(obj_id)
            PAGE_HEADER.pack_into(img, pix * ps, obj_id, spix, 0xFC)  # used, final, data
            chunk = data[start : start + geo.data_len]
            img[pix * ps + 5 : pix * ps + 5 + len(chunk)] = chunk
            U16.pack_into(img, table, pix)
            table, slots = table + 2, slots - 1
    if prof.use_magic:
        for b in range(geo.block_count):
            U16.pack_into(img, geo.magic_addr(b), geo.magic(b))
    return bytes(img)


# -- the image ----------------------------------------------------------------------------


class SpiffsImage(FileSystemImage):
    """An editable SPIFFS image; see the module docstring for how edits are made."""

    fs_type: ClassVar[str] = "spiffs"

    def __init__(self, volume: SpiffsVolume, original: bytes | memoryview) -> None:
        """Use :meth:`open` or :meth:`create`."""
        self._vol = volume
        self._original = original
        self._files: dict[str, FileRecord] = {}
        self._shared = False  # the buffer was handed out (data_view): copy before editing
        self._refresh()

    # -- construction --------------------------------------------------------------------
    @classmethod
    def check_new(
        cls, size: int, profile: SpiffsProfile | str = "esp-idf", *, spelling: Spelling = PYTHON
    ) -> None:
        """:meth:`create`'s ImageError for a bad size, without making anything;
        ``spelling``: how the caller sets the size (the hint of one too small)."""
        _check_size(size, get_spiffs_profile(profile), spelling)

    @classmethod
    def create(cls, size: int, profile: SpiffsProfile | str = "esp-idf") -> SpiffsImage:
        """An empty image as the platform's tool makes it (see :func:`build_spiffs_image`)."""
        prof = get_spiffs_profile(profile)
        return cls.open(build_spiffs_image([], size=size, profile=prof), prof)

    @classmethod
    def open(
        cls, data: bytes | bytearray | memoryview, profile: SpiffsProfile | str | None = None
    ) -> SpiffsImage:
        """Mount ``data``; the profile is detected unless given (a mismatch is an error).

        Raises ImageError quickly for bytes that are not SPIFFS, so callers can probe.
        ``data`` is copied once, to edit; it is kept as the bytes opened with (for
        :meth:`changed_blocks`), so it must not change while the image is open.
        """
        raw = data if isinstance(data, bytes) else memoryview(data).toreadonly()
        wanted = get_spiffs_profile(profile) if profile is not None else None
        if wanted is not None:
            _check_size(len(raw), wanted)
        elif len(raw) % ERASE_BLOCK or len(raw) < MIN_BLOCKS * ERASE_BLOCK:
            raise ImageError(
                f"not a SPIFFS image: {byte_count(len(raw))} is not a whole number (>= "
                f"{MIN_BLOCKS}) of {ERASE_BLOCK}-byte blocks",
                hint=size_hint(raw) or "pass the whole partition",
            )
        candidates = magic_profiles(raw)
        if wanted is not None:
            if wanted.use_magic and wanted not in candidates:
                if candidates:
                    raise ImageError(
                        f"this is a SPIFFS image of profile {candidates[0].name}, "
                        f"not {wanted.name}",
                        hint=f"open it with profile {candidates[0].name} (or let it be detected)",
                    )
                raise ImageError(
                    f"not a SPIFFS image of profile {wanted.name}: its blocks lack that "
                    "profile's magic",
                    hint=size_hint(raw) or "check the partition offset and size",
                )
            candidates = [wanted]
        elif not candidates:
            names = ", ".join(p.name for p in unique_profiles())
            raise ImageError(
                f"not a SPIFFS image: no block carries the magic of any known profile ({names})",
                hint=size_hint(raw) or "check the partition offset and size",
            )
        # Profiles sharing a magic scheme differ in their index-header layout (name and
        # meta lengths): the first whose headers all parse is the image's.
        first_error: ImageError | None = None
        for prof in candidates:
            vol = SpiffsVolume(bytearray(raw), _check_size(len(raw), prof))
            try:
                vol.mount()
                return cls(vol, raw)
            except SpiffsCorrupt as e:
                err = ImageError(f"corrupt SPIFFS image ({prof.name}): {e}")
                err.__cause__ = e
                first_error = first_error or err
            except ImageError as e:
                first_error = first_error or e
        assert first_error is not None  # candidates is never empty here
        raise first_error

    def _refresh(self) -> None:
        try:
            records = self._vol.scan_files()
        except SpiffsCorrupt as e:
            raise ImageError(f"corrupt SPIFFS image ({self.profile.name}): {e}") from e
        files: dict[str, FileRecord] = {}
        for rec in records:
            path = _api_path(rec.name)
            if path in files:
                raise ImageError(
                    f"corrupt SPIFFS image: names {files[path].name!r} and {rec.name!r} "
                    f"both map to {path!r}"
                )
            files[path] = rec
        self._files = files

    # -- FileSystemImage -------------------------------------------------------------------
    @property
    def profile(self) -> SpiffsProfile:
        return self._vol.g.profile

    @property
    def size(self) -> int:
        return len(self._vol.buf)

    def files(self) -> list[FileInfo]:
        return [FileInfo(p, r.size) for p, r in sorted(self._files.items())]

    def read(self, path: str) -> bytes:
        require_image_path(path, "image.read")
        return self._vol.read_file(self._record(path))

    def write(self, path: str, data: bytes, *, chunk: int | None = None) -> None:
        """Create or replace a file as the platform's firmware does: ``fopen(path, "w")``
        then ``SPIFFS_write`` per ``chunk`` bytes (default: the profile's
        ``write_chunk``; 0 for one call), garbage collection checked before each.

        A replaced file keeps its object id and meta bytes; new files get the profile's
        meta fill. ImageError, with the image unchanged, if the device could not write it.
        """
        require_image_path(path, "image.write", after=", data")
        require_bytes(data, "image.write", text=True, args=f"{path!r}, ")
        step = self.profile.write_chunk if chunk is None else chunk
        if step and step < self.profile.page_size:
            raise ImageError(f"write chunk {step} is below the {self.profile.page_size}-byte page")
        name = _encode_name(path, self.profile)
        data = bytes(data)
        if len(data) >= 0xFFFFFFFF:
            raise ImageError(f"{path!r} is too large for SPIFFS")
        existing = self._files.get(_api_path(name))
        target = existing.name if existing is not None else name
        meta = bytes([self.profile.meta_fill]) * self.profile.meta_len

        def edit() -> None:
            if existing is not None:
                self._vol.rewrite_file(target, data, step or None)
            else:
                self._vol.create_file(target, data, meta, step or None)

        what = f"writing {normalize_path(path)!r} ({byte_count(len(data))})"
        # A file more than the image could ever hold is told in whole-file terms; the
        # engine would fail on one of the device's chunks, whose page count means little.
        dl = self._vol.g.data_len
        need = -(-len(data) // dl)
        room = self._vol.free_pages + self._vol.stats_deleted
        room += -(-existing.size // dl) if existing is not None else 0
        if need > room:
            # below zero when the other files already reach into SPIFFS's two spare
            # blocks (spiffsgen fills them): SPIFFS refuses any write then, as we do
            has = (
                f"has {room:,} free or reclaimable"
                if room >= 0
                else f"has none free: its files already use {-room:,} pages of the two "
                "blocks SPIFFS keeps in reserve"
            )
            raise NoRoomError(
                f"{what}: no room in the SPIFFS image (it needs {need:,} data pages, the image "
                f"{has})",
                hint="remove files or use a larger partition",
            )
        self._edit(edit, what)

    def remove(self, path: str) -> None:
        require_image_path(path, "image.remove")
        rec = self._record(path)
        self._edit(lambda: self._vol.remove_file(rec.name), f"removing {normalize_path(path)!r}")

    def rename(self, src: str, dst: str) -> None:
        """SPIFFS_rename: only the index header is rewritten, with the new name, into one
        free page; an existing ``dst`` is refused (SPIFFS_ERR_CONFLICTING_NAME)."""
        require_image_path(src, "image.rename", after=", dst")
        require_image_path(dst, "image.rename", before="src, ")
        rec, name = self._record(src), _encode_name(dst, self.profile)
        what = f"renaming {normalize_path(src)!r} to {normalize_path(dst)!r}"
        if _api_path(name) in self._files:
            raise ImageError(f"{what}: {normalize_path(dst)!r} exists in the SPIFFS image")
        self._edit(lambda: self._vol.rename_file(rec.name, name), what)

    def to_bytes(self) -> bytes:
        return bytes(self._vol.buf)

    def data_view(self) -> memoryview:
        self._shared = True  # the next edit writes a copy: the view keeps these bytes
        return memoryview(self._vol.buf).toreadonly()

    def free_blocks(self) -> int:
        """Blocks whose pages are all free: SPIFFS's own count (``free_blocks``)."""
        return self._vol.free_blocks

    def device_space(self) -> tuple[int, int]:
        """``SPIFFS_info``'s ``total`` and ``total - used`` (vfs-fs-spiffs's answer)."""
        total, used = self.spiffs_info()
        return total, total - used

    def reopened(self) -> SpiffsImage:
        return SpiffsImage.open(self.data_view(), self.profile)

    def changed_blocks(self) -> list[int]:
        buf, orig = self._vol.buf, self._original
        return [
            i // ERASE_BLOCK
            for i in range(0, len(orig), ERASE_BLOCK)
            if buf[i : i + ERASE_BLOCK] != bytes(orig[i : i + ERASE_BLOCK])
        ]

    def describe(self, files: list[FileInfo] | None = None) -> dict[str, str | int]:
        """Geometry and usage; ``total``/``used`` are what ``esp_spiffs_info()`` reports
        on the device (SPIFFS_info: two spare blocks excluded, deleted pages not used)."""
        g = self._vol.g
        vol = self._vol
        total, used = self.spiffs_info()
        return {
            "file system": "spiffs",
            "profile": self.profile.name,
            "page size": g.page_size,
            "block size": g.block_size,
            "block count": g.block_count,  # LittleFS's key (was "blocks")
            "files": len(self._files),
            "total bytes": total,
            "used bytes": used,
            "deleted pages": vol.stats_deleted,
        }

    def spiffs_info(self) -> tuple[int, int]:
        """``SPIFFS_info(fs, &total, &used)`` (spiffs_hydrogen.c): total is the data pages
        of all blocks but two spares, plus the emergency page; used the pages allocated
        (deleted ones not counted), both in data bytes (a page less its header). What
        Mongoose OS reports as ``fs_size`` and, as ``total - used``, ``fs_free``."""
        g, vol = self._vol.g, self._vol
        total = (g.entries_per_block * (g.block_count - 2) + 1) * g.data_len
        return total, vol.stats_allocated * g.data_len

    def format_facts(self) -> dict[str, str | int]:
        g = self._vol.g
        return {
            **super().format_facts(),
            "page size": g.page_size,
            "block size": g.block_size,
            "block count": g.block_count,  # LittleFS's key (was "blocks")
        }

    # -- extras ------------------------------------------------------------------------------
    def erased_blocks(self) -> list[int]:
        """Blocks SPIFFS's garbage collection erased since opening (all others only had
        bits cleared, so a flasher may program them without losing anything)."""
        return sorted(self._vol.erased)

    @property
    def gc_runs(self) -> int:
        """How many blocks garbage collection has cleaned since opening."""
        return self._vol.gc_runs

    def meta(self, path: str) -> bytes:
        """A file's raw meta bytes (ESP-IDF: mtime; Mongoose OS: file_meta)."""
        return self._record(path).meta

    def checked_path(self, path: str, *, new: bool = True) -> str:
        """As for any image, except that a file the image holds is found by its name
        exactly as listed, whatever its parts: SPIFFS keeps names verbatim, and firmware
        may have made '/a/../b' or '//b' (fopen of "/spiffs//b"). Refusing them made
        inspect, update-dump and flash fail on the whole image. New names are checked."""
        if not new and path in self._files:
            return path
        folder = path.endswith("/") and path.strip("/") and "//" not in path  # 'rm IMAGE /cfg/'
        if not new and folder and self._named_under(path):
            raise ImageError(
                f"no file {path!r} in the SPIFFS image{self._named_under(path)}",
                hint=NO_FILE_HINT,
            )
        return super().checked_path(path, new=new)

    # -- helpers -------------------------------------------------------------------------------
    def _record(self, path: str) -> FileRecord:
        p = self.checked_path(path, new=False)
        try:
            return self._files[p]
        except KeyError:
            raise ImageError(
                f"no file {p!r} in the SPIFFS image{self._named_under(p)}", hint=NO_FILE_HINT
            ) from None

    def _named_under(self, path: str) -> str:
        """What a missing name that is a folder elsewhere stands for here: SPIFFS keeps no
        folders, only names with slashes in them ('/cfg/a.json'), so 'fs rm IMAGE /cfg'
        found nothing while the listing shows /cfg/... files; the names are said."""
        prefix = path.rstrip("/") + "/"
        under = sorted(p for p in self._files if p.startswith(prefix))
        if not under:
            return ""
        shown = ", ".join(printable_name(p) for p in under[:_SHOWN])
        more = f" and {len(under) - _SHOWN} more" if len(under) > _SHOWN else ""
        return (
            f" (SPIFFS keeps no folders: {len(under)} file{'s' * (len(under) != 1)} named "
            f"under {printable_name(prefix)}, each by its whole name: {shown}{more})"
        )

    def _edit(self, op: Callable[[], None], what: str) -> None:
        """Run one SPIFFS operation; on any failure put every byte and counter back."""
        if self._shared:
            self._vol.buf = bytearray(self._vol.buf)
            self._shared = False
        snap = self._vol.snapshot()
        try:
            op()
            self._refresh()
            self._vol.release(snap)
        except SpiffsFull as e:
            self._vol.restore(snap)
            self._refresh()
            raise NoRoomError(
                f"{what}: no room in the SPIFFS image ({e})",
                hint="remove files or use a larger partition",
            ) from e
        except SpiffsCorrupt as e:
            self._vol.restore(snap)
            self._refresh()
            raise ImageError(f"{what}: corrupt SPIFFS image ({e})") from e
        except ImageError:
            self._vol.restore(snap)
            self._refresh()
            raise
