"""SPIFFS on-disk layout: platform profiles and the geometry derived from them.

Every number here follows SPIFFS 0.3.7 (``spiffs_nucleus.h``) and ESP-IDF's
``spiffsgen.py``; an image is readable by a device only when page size, block size,
object name length, meta length, index-table alignment and the magic settings all match
what its firmware was built with (research/fs_flash.md §1.5).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, replace
from typing import Literal

from ..errors import InputError
from ..text import suggest
from .base import FsProfile

__all__ = [
    "SPIFFS_PROFILES",
    "Geometry",
    "SpiffsProfile",
    "get_spiffs_profile",
]

# Object ids (u16): the top bit marks index pages in the lookup table; 0xFFFF is a free
# lookup entry, 0x0000 a deleted one (SPIFFS_OBJ_ID_IX_FLAG / _FREE / _DELETED).
IX_FLAG = 0x8000
OBJ_ID_FREE = 0xFFFF
OBJ_ID_DELETED = 0x0000
PAGE_FREE = 0xFFFF  # an unused entry in an object index table

# Page header flags are active low: a cleared bit means "yes" (SPIFFS_PH_FLAG_*).
FLAG_USED = 0x01
FLAG_FINAL = 0x02
FLAG_INDEX = 0x04
FLAG_IXDELE = 0x40
FLAG_DELET = 0x80

UNDEFINED_LEN = 0xFFFFFFFF  # size of an object index header that was never written
TYPE_FILE = 1
MAGIC_BASE = 0x20140529

PAGE_HEADER = struct.Struct("<HHB")  # obj_id, span_ix, flags (packed, 5 bytes)
PAGE_HEADER_LEN = PAGE_HEADER.size
# Object index pages pad the 5-byte header to 8 so the u32 size that follows is aligned.
INDEX_HEADER_LEN = 8
U16 = struct.Struct("<H")
U32 = struct.Struct("<I")


@dataclass(frozen=True, slots=True)
class SpiffsProfile(FsProfile):
    """The SPIFFS build parameters of one platform, plus its naming conventions.

    ``name_prefix`` is how the platform stores names: ESP-IDF's VFS keeps the leading
    ``/`` of ``/spiffs/ca.pem`` after the mount point, Mongoose OS strips it.
    ``meta_fill`` fills the per-file meta bytes of new files: spiffsgen writes zeros,
    Mongoose OS needs 0xFF (its ``file_meta`` treats anything else as a plain size).
    ``builder`` names the vendor tool whose output :func:`build_spiffs_image` reproduces.
    ``gc_flavour`` selects SPIFFS's garbage-collection heuristics: ``upstream``
    (pellepl/spiffs, used by ESP-IDF) or ``mongoose`` (Cesanta's patched copy, which
    never picks a block without deleted pages while one with them exists).
    ``write_chunk`` is how the platform's firmware hands a file write to SPIFFS: one
    ``SPIFFS_write`` per that many bytes, each with its own garbage-collection check
    (0: the whole file in one call). Edits follow it, so the tool accepts exactly the
    writes the device would, and leaves the bytes the device would.
    """

    page_size: int
    obj_name_len: int
    meta_len: int
    use_magic: bool
    use_magic_len: bool
    aligned_obj_ix_tables: bool
    name_prefix: str
    meta_fill: int
    builder: Literal["spiffsgen", "mkspiffs"]
    gc_flavour: Literal["upstream", "mongoose"]
    gc_max_runs: int
    write_chunk: int = 0

    def __post_init__(self) -> None:
        problems = []
        if self.fs_type != "spiffs":
            problems.append(f"fs_type must be 'spiffs', not {self.fs_type!r}")
        ps, bs = self.page_size, self.block_size
        if ps < 64 or ps & (ps - 1):
            problems.append(f"page size {ps} is not a power of two >= 64")
        elif bs % ps or bs < 2 * ps:
            problems.append(f"block size {bs} is not a multiple (>= 2) of page size {ps}")
        elif lookup_pages(ps, bs) != -(-(bs // ps) * 2 // ps):
            problems.append("lookup pages per block differ between SPIFFS and spiffsgen")
        if self.obj_name_len < 2:
            problems.append("object name length must be >= 2 (it includes the NUL)")
        if self.meta_len < 0:
            problems.append("meta length must be >= 0")
        if not 0 <= self.meta_fill <= 0xFF:
            problems.append("meta fill must be a byte")
        if self.name_prefix not in ("/", ""):
            problems.append("name prefix must be '/' or ''")
        if self.gc_max_runs < 1:
            problems.append("gc_max_runs must be >= 1")
        if self.write_chunk and self.write_chunk < ps:
            # smaller writes go through SPIFFS's write cache, which this model leaves out
            problems.append(f"write chunk {self.write_chunk} is below the page size")
        if not problems and _index_header_len(self) + 2 > ps:
            problems.append("the object index header does not fit in a page")
        if not problems and self.use_magic:
            entries = bs // ps - lookup_pages(ps, bs)
            if (entries % (ps // 2)) * 2 > ps - 4:
                problems.append("no room for the magic in the lookup pages")
        if problems:
            raise InputError(f"SPIFFS profile {self.name!r}: " + "; ".join(problems))

    @property
    def max_name_bytes(self) -> int:
        """Longest stored name in bytes (SPIFFS keeps a NUL in ``obj_name_len``)."""
        return self.obj_name_len - 1

    def stored_name(self, path: str) -> str:
        """``/ca.pem`` (a checked path) -> the name as this platform stores it on disk."""
        return self.name_prefix + path.removeprefix("/")


def lookup_pages(page_size: int, block_size: int) -> int:
    """SPIFFS_OBJ_LOOKUP_PAGES: pages at the start of each block holding the lookup table."""
    return max(1, (block_size // page_size) * 2 // page_size)


def _index_header_len(profile: SpiffsProfile) -> int:
    # sizeof(spiffs_page_object_ix_header): 8 + u32 size + u8 type + name + meta, packed,
    # rounded to 2 when SPIFFS_ALIGNED_OBJECT_INDEX_TABLES is set.
    n = INDEX_HEADER_LEN + 4 + 1 + profile.obj_name_len + profile.meta_len
    if profile.aligned_obj_ix_tables:
        n += n & 1
    return n


_ESP_IDF = SpiffsProfile(
    name="esp-idf",
    fs_type="spiffs",
    block_size=4096,
    ca_path="/ca.pem",
    description="ESP-IDF spiffsgen / esp_spiffs defaults (also Arduino-ESP32 and PlatformIO)",
    page_size=256,
    obj_name_len=32,
    meta_len=4,
    use_magic=True,
    use_magic_len=True,
    aligned_obj_ix_tables=False,
    name_prefix="/",
    meta_fill=0x00,
    builder="spiffsgen",
    gc_flavour="upstream",
    gc_max_runs=10,  # CONFIG_SPIFFS_GC_MAX_RUNS default
    # fopen/fwrite through ESP-IDF's VFS: newlib's stdio buffer is 128 bytes
    # (espressif/newlib-esp32 sys/config.h __BUFSIZ__; esp_spiffs.c's fstat leaves
    # st_blksize 0), fvwrite.c passes 128-byte writes to vfs_spiffs_write ->
    # SPIFFS_write, whose write cache (CONFIG_SPIFFS_CACHE_WR, on by default) gathers
    # them into one spiffs_object_append per 256-byte page (spiffs_hydrogen.c).
    write_chunk=256,
)

_MONGOOSE = SpiffsProfile(
    name="mongoose-os",
    fs_type="spiffs",
    block_size=4096,
    ca_path="/ca.pem",
    description="Mongoose OS vfs-fs-spiffs with metadata (mkspiffs8)",
    page_size=256,
    obj_name_len=48,
    meta_len=8,
    use_magic=True,
    use_magic_len=False,
    aligned_obj_ix_tables=True,
    name_prefix="",
    meta_fill=0xFF,
    builder="mkspiffs",
    gc_flavour="mongoose",
    gc_max_runs=5,
    # mos put / FS.Put send 512-byte chunks, each written with fopen("a") + fwrite +
    # fclose (rpc-service-fs) through the same 128-byte newlib buffer and SPIFFS's
    # write cache (pellepl's default SPIFFS_CACHE_WR): 256-byte appends.
    write_chunk=256,
)

# Arduino-ESP32's File.write: VFSFileImpl gives the FILE a 4096-byte buffer when the
# file system reports no st_blksize (SPIFFS: vfs_api.cpp DEFAULT_FILE_BUFFER_SIZE), so
# newlib's fvwrite.c hands SPIFFS_write whole 4096-byte pieces; same on-disk format.
_ARDUINO = replace(
    _ESP_IDF,
    name="arduino",
    description="Arduino-ESP32 SPIFFS.begin() (ESP-IDF parameters; File.write in 4 KiB pieces)",
    write_chunk=4096,
)

# Arduino-ESP32's and PlatformIO's mkspiffs builds use ESP-IDF's parameters exactly
# (igrr/mkspiffs build_all_configs.sh: only -DSPIFFS_OBJ_META_LEN=4 over the defaults).
SPIFFS_PROFILES: dict[str, SpiffsProfile] = {
    "esp-idf": _ESP_IDF,
    "arduino": _ARDUINO,
    "platformio": _ARDUINO,
    "mongoose-os": _MONGOOSE,
}


def get_spiffs_profile(profile: SpiffsProfile | str) -> SpiffsProfile:
    """A profile object, or the registered profile with that name (InputError if unknown)."""
    if isinstance(profile, SpiffsProfile):
        return profile
    try:
        return SPIFFS_PROFILES[profile]
    except KeyError:
        known = ", ".join(sorted(SPIFFS_PROFILES))
        raise InputError(
            f"unknown SPIFFS profile {profile!r}",
            hint=suggest(profile, SPIFFS_PROFILES, f"choose one of: {known}"),
        ) from None


@dataclass(frozen=True, slots=True)
class Geometry:
    """Every derived size of one SPIFFS volume (a profile at a given partition size)."""

    profile: SpiffsProfile
    block_count: int
    page_size: int
    block_size: int
    pages_per_block: int
    lu_pages: int
    entries_per_block: int  # lookup entries = usable pages per block
    data_len: int  # content bytes in a data page
    ix_hdr_len: int  # bytes before the table in an object index header page
    hdr_ix_len: int  # table entries in the index header page
    ix_len: int  # table entries in a further index page
    total_pages: int
    total_entries: int

    @classmethod
    def of(cls, profile: SpiffsProfile, size: int) -> Geometry:
        ps, bs = profile.page_size, profile.block_size
        ppb = bs // ps
        lu = lookup_pages(ps, bs)
        n = size // bs
        hdr = _index_header_len(profile)
        return cls(
            profile=profile,
            block_count=n,
            page_size=ps,
            block_size=bs,
            pages_per_block=ppb,
            lu_pages=lu,
            entries_per_block=ppb - lu,
            data_len=ps - PAGE_HEADER_LEN,
            ix_hdr_len=hdr,
            hdr_ix_len=(ps - hdr) // 2,
            ix_len=(ps - INDEX_HEADER_LEN) // 2,
            total_pages=n * ppb,
            total_entries=n * (ppb - lu),
        )

    # -- addresses ---------------------------------------------------------------------
    def pix(self, entry: int) -> int:
        """Page index of a linear lookup entry (block * entries_per_block + entry)."""
        b, e = divmod(entry, self.entries_per_block)
        return b * self.pages_per_block + self.lu_pages + e

    def entry(self, pix: int) -> int:
        """Linear lookup entry of a (non-lookup) page index."""
        b, p = divmod(pix, self.pages_per_block)
        return b * self.entries_per_block + p - self.lu_pages

    def is_lookup_page(self, pix: int) -> bool:
        return pix % self.pages_per_block < self.lu_pages

    def magic_addr(self, bix: int) -> int:
        return bix * self.block_size + self.lu_pages * self.page_size - 4

    def erase_count_addr(self, bix: int) -> int:
        return bix * self.block_size + self.lu_pages * self.page_size - 2

    def magic(self, bix: int) -> int:
        """SPIFFS_MAGIC(fs, bix) as stored in the block's lookup page."""
        m = MAGIC_BASE ^ self.page_size
        if self.profile.use_magic_len:
            m ^= self.block_count - bix
        return m & 0xFFFF

    # -- object index tables -------------------------------------------------------------
    def objix_spix(self, data_spix: int) -> int:
        """Span index of the index page that lists a data span (SPIFFS_OBJ_IX_ENTRY_SPAN_IX)."""
        if data_spix < self.hdr_ix_len:
            return 0
        return 1 + (data_spix - self.hdr_ix_len) // self.ix_len

    def table_offset(self, data_spix: int) -> int:
        """Byte offset, inside its index page, of the entry for a data span."""
        if data_spix < self.hdr_ix_len:
            return self.ix_hdr_len + 2 * data_spix
        return INDEX_HEADER_LEN + 2 * ((data_spix - self.hdr_ix_len) % self.ix_len)

    @property
    def name_offset(self) -> int:
        return INDEX_HEADER_LEN + 5

    @property
    def meta_offset(self) -> int:
        return self.name_offset + self.profile.obj_name_len
