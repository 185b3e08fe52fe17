"""LittleFS images for ESP32 platforms, through littlefs-python (the real littlefs C code).

Two littlefs-python defaults destroy device data, so this module never uses them:

* ``LittleFS(mount=True)`` formats the buffer when mounting fails. Images are always
  opened with ``mount=False`` and an explicit ``mount()``; a failure is an
  :class:`ImageError` and the bytes are left as they were.
* Writing to a disk-2.0 image with the default ``disk_version`` upgrades it to 2.1,
  which Mongoose OS (littlefs 2.5) then refuses. The on-disk version is read first and
  passed back when editing, so 2.0 stays 2.0; the block count is taken from the
  superblock and never changed.

The superblock is parsed here (without littlefs) before mounting, to detect the file
system and the platform profile, and to refuse configurations that would trip littlefs'
assertions (which abort the process) instead of returning an error.
"""

from __future__ import annotations

import functools
import struct
import zlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, ClassVar

from ..errors import ImageError
from .base import (
    ERASE_BLOCK,
    FileInfo,
    FileSystemImage,
    FsProfile,
    checked_new_path,
    normalize_path,
)

if TYPE_CHECKING:
    from littlefs import LittleFS

__all__ = [
    "DISK_VERSION_2_0",
    "DISK_VERSION_2_1",
    "LITTLEFS_PROFILES",
    "LittleFsImage",
    "LittleFsProfile",
    "Superblock",
    "build_littlefs_image",
    "detect_littlefs_profiles",
    "find_superblock",
    "is_littlefs",
]

MAGIC = b"littlefs"
DISK_VERSION_2_0 = 0x00020000
DISK_VERSION_2_1 = 0x00020001
# littlefs' own compile-time limit (LFS_NAME_MAX); mounting with it accepts any image,
# after which littlefs enforces the superblock's (possibly smaller) name_max.
LFS_NAME_MAX = 255
# Tag types (lfs.h): the superblock name entry and the inline struct holding its fields.
_TYPE_SUPERBLOCK = 0x0FF
_TYPE_INLINESTRUCT = 0x201
_TYPE_CCRC = 0x500  # a commit's CRC tag (type2; the low type bit flips the valid bit)
_SUPERBLOCK_STRUCT = struct.Struct("<6I")  # version, block_size, block_count, name/file/attr max
# Where block 1 may start when block 0 is unreadable: 4096 first (every ESP32 profile).
_BLOCK_SIZE_GUESSES = (4096, 128, 256, 512, 1024, 2048, 8192, 16384, 32768, 65536)
# lfs.h LittleFSError codes worth a specific message.
_ERR_NOENT, _ERR_EXIST, _ERR_ISDIR, _ERR_NOTDIR = -2, -17, -21, -20
_ERR_NOSPC, _ERR_NAMETOOLONG, _ERR_CORRUPT, _ERR_INVAL, _ERR_NOATTR = -28, -36, -84, -22, -61


@dataclass(frozen=True, slots=True)
class LittleFsProfile(FsProfile):
    """The littlefs configuration one platform uses.

    ``disk_version`` applies to new images only: opened images keep theirs.
    ``time_attributes`` are the littlefs user attributes the platform keeps per file
    (u32 little-endian seconds); they are written only when the image is given a
    timestamp, so builds stay reproducible. ``exact_block_count``: the platform refuses
    an image whose block count differs from its partition's (Mongoose OS).
    """

    read_size: int
    prog_size: int
    cache_size: int
    lookahead_size: int
    block_cycles: int
    name_max: int
    disk_version: int
    time_attributes: tuple[str, ...] = ()
    exact_block_count: bool = False

    def __post_init__(self) -> None:
        # littlefs asserts on these (aborting the process), so refuse them up front.
        bs = self.block_size
        ok = (
            self.fs_type == "littlefs"
            and bs >= 128
            and bs & (bs - 1) == 0
            and self.read_size > 0
            and self.prog_size > 0
            and self.cache_size % self.read_size == 0
            and self.cache_size % self.prog_size == 0
            and bs % self.cache_size == 0
            and self.lookahead_size > 0
            and self.lookahead_size % 8 == 0
            and self.block_cycles != 0
            and 0 < self.name_max <= LFS_NAME_MAX
            and self.disk_version in (DISK_VERSION_2_0, DISK_VERSION_2_1)
        )
        if not ok:
            raise ValueError(f"inconsistent LittleFS profile {self.name!r}")

    @property
    def disk_version_text(self) -> str:
        return _version_text(self.disk_version)


def _profiles(*profiles: LittleFsProfile) -> Mapping[str, LittleFsProfile]:
    return MappingProxyType({p.name: p for p in profiles})


# earlephilhower/mklittlefs (Arduino IDE plugin, PlatformIO tool-mklittlefs):
# read/prog/cache/lookahead 64, block_cycles 16, 't' and 'c' time attributes.
_MKLITTLEFS = LittleFsProfile(
    name="arduino",
    fs_type="littlefs",
    block_size=4096,
    ca_path="/ca.pem",
    description="Arduino-ESP32 LittleFS, images by mklittlefs (read/prog 64, disk 2.1)",
    read_size=64,
    prog_size=64,
    cache_size=64,
    lookahead_size=64,
    block_cycles=16,
    name_max=255,
    disk_version=DISK_VERSION_2_1,
    time_attributes=("t", "c"),
)

LITTLEFS_PROFILES: Mapping[str, LittleFsProfile] = _profiles(
    # joltwallet/esp_littlefs Kconfig defaults; host images are made with
    # `littlefs-python create --name-max=64 --block-size=4096`; LITTLEFS_USE_MTIME reads 't'.
    LittleFsProfile(
        name="esp-idf",
        fs_type="littlefs",
        block_size=4096,
        ca_path="/ca.pem",
        description="ESP-IDF esp_littlefs (read/prog 128, cache 512, name max 64, disk 2.1)",
        read_size=128,
        prog_size=128,
        cache_size=512,
        lookahead_size=128,
        block_cycles=512,
        name_max=64,
        disk_version=DISK_VERSION_2_1,
        time_attributes=("t",),
    ),
    _MKLITTLEFS,
    replace(
        _MKLITTLEFS,
        name="platformio",
        description="PlatformIO uploadfs, images by tool-mklittlefs (read/prog 64, disk 2.1)",
    ),
    # mongoose-os-libs/vfs-fs-lfs: bundled littlefs 2.5 (disk 2.0 only), opts
    # {"bs":4096,"is":128}, lookahead 64, block_cycles 512; mount requires
    # superblock block_count == partition size / 4096.
    LittleFsProfile(
        name="mongoose-os",
        fs_type="littlefs",
        block_size=4096,
        ca_path="/ca.pem",
        description="Mongoose OS vfs-fs-lfs (littlefs 2.5: disk 2.0, block count = partition)",
        read_size=128,
        prog_size=128,
        cache_size=128,
        lookahead_size=64,
        block_cycles=512,
        name_max=255,
        disk_version=DISK_VERSION_2_0,
        exact_block_count=True,
    ),
)


def _version_text(version: int) -> str:
    return f"{version >> 16}.{version & 0xFFFF}"


@dataclass(frozen=True, slots=True)
class Superblock:
    """The fields of a littlefs superblock as found in block 0 or 1 (``block``)."""

    version: int
    block_size: int
    block_count: int
    name_max: int
    file_max: int
    attr_max: int
    block: int
    revision: int

    @property
    def version_text(self) -> str:
        return _version_text(self.version)

    @property
    def fs_bytes(self) -> int:
        return self.block_size * self.block_count


def _lfs_crc(crc: int, data: bytes) -> int:
    """littlefs' CRC-32: zlib's polynomial, no final inversion."""
    return zlib.crc32(data, crc ^ 0xFFFFFFFF) ^ 0xFFFFFFFF


def _parse_block(data: bytes, block: int, offset: int) -> Superblock | None:
    """The superblock fields as of the last valid commit of one block of the pair.

    A compacted block starts with the ``littlefs`` name tag (the probe Mongoose OS and
    mklittlefs use); the inline struct holding the fields may come anywhere after it and
    be rewritten by later commits (a version upgrade), so the whole log is walked,
    trusting only commits whose CRC matches, as littlefs does when it fetches.
    """
    end = len(data)
    if end < offset + 20 or data[offset + 8 : offset + 16] != MAGIC:
        return None
    (revision,) = struct.unpack_from("<I", data, offset)
    limit = end - offset  # the block size is known once the first struct is read
    crc = _lfs_crc(0xFFFFFFFF, data[offset : offset + 4])
    ptag = 0xFFFFFFFF
    off = 4
    pending: tuple[int, ...] | None = None
    found: tuple[int, ...] | None = None
    first = True
    while off + 4 <= limit:
        raw = data[offset + off : offset + off + 4]
        tag = int.from_bytes(raw, "big") ^ ptag
        if tag & 0x80000000:  # erased or not yet programmed: end of the log
            break
        size = tag & 0x3FF
        dsize = 0 if size == 0x3FF else size
        if off + 4 + dsize > limit:
            break
        kind = (tag >> 20) & 0x7FF
        tag_id = (tag >> 10) & 0x3FF
        if first and (kind != _TYPE_SUPERBLOCK or tag_id != 0 or size != 8):
            return None
        first = False
        crc = _lfs_crc(crc, raw)
        ptag = tag
        payload = data[offset + off + 4 : offset + off + 4 + dsize]
        if kind & 0x780 == _TYPE_CCRC:
            if dsize < 4 or int.from_bytes(payload[:4], "little") != crc:
                break
            ptag ^= (kind & 1) << 31  # the commit says which valid bit the next one uses
            found = pending
            crc = 0xFFFFFFFF
        else:
            crc = _lfs_crc(crc, payload)
            if kind == _TYPE_INLINESTRUCT and tag_id == 0 and dsize >= _SUPERBLOCK_STRUCT.size:
                pending = _SUPERBLOCK_STRUCT.unpack_from(payload)
                block_size = pending[1]
                if 0 < block_size < limit:
                    limit = block_size
        off += 4 + dsize
    if found is None:
        return None
    version, block_size, block_count, name_max, file_max, attr_max = found
    return Superblock(
        version, block_size, block_count, name_max, file_max, attr_max, block, revision
    )


def is_littlefs(data: bytes) -> bool:
    """True when block 0 or 1 carries the ``littlefs`` magic at offset 8."""
    if data[8:16] == MAGIC:
        return True
    return any(data[bs + 8 : bs + 16] == MAGIC for bs in _BLOCK_SIZE_GUESSES)


def find_superblock(data: bytes) -> Superblock | None:
    """The newest readable superblock entry of blocks 0/1, or None without the magic.

    Raises :class:`ImageError` when the magic is there but no entry is readable.
    """
    candidates: list[Superblock] = []
    first = _parse_block(data, 0, 0)
    if first is not None:
        candidates.append(first)
    sizes = (first.block_size,) if first is not None else _BLOCK_SIZE_GUESSES
    for bs in sizes:
        if 0 < bs <= len(data):
            second = _parse_block(data, 1, bs)
            if second is not None and second.block_size == bs:
                candidates.append(second)
                break
    if not candidates:
        if is_littlefs(data):
            raise ImageError(
                "LittleFS image: the superblock after the 'littlefs' magic is unreadable",
                hint="the image is corrupt; nothing was changed",
            )
        return None
    # littlefs picks the block of the pair with the newer revision (sequence comparison).
    newest = candidates[0]
    for c in candidates[1:]:
        if ((c.revision - newest.revision) & 0xFFFFFFFF) - (1 << 31) < 0:
            newest = c
    return newest


def _check_superblock(sb: Superblock, size: int) -> None:
    """Refuse superblocks littlefs cannot mount, or would mount past the image's end."""
    where = f"LittleFS superblock (block {sb.block})"
    if sb.version >> 16 != 2 or sb.version & 0xFFFF > 1:
        raise ImageError(
            f"{where}: on-disk version {sb.version_text} is not supported (2.0 and 2.1 are)",
            hint="the image may be corrupt or made by a newer littlefs; nothing was changed",
        )
    if sb.block_size != ERASE_BLOCK:
        raise ImageError(
            f"{where}: block size {sb.block_size}; every ESP32 platform uses {ERASE_BLOCK}",
            hint="the image is corrupt or not made for an ESP32; nothing was changed",
        )
    if sb.block_count < 2:
        raise ImageError(f"{where}: block count {sb.block_count} is not usable")
    if sb.fs_bytes > size:
        raise ImageError(
            f"{where}: {sb.block_count} blocks of {sb.block_size} bytes = {sb.fs_bytes} bytes, "
            f"but the image is only {size} bytes",
            hint="the image is truncated (or --size too small); nothing was changed",
        )
    if sb.name_max > LFS_NAME_MAX or sb.name_max == 0:
        raise ImageError(f"{where}: name_max {sb.name_max} is not valid")


def detect_littlefs_profiles(
    sb: Superblock, image_size: int, *, mklittlefs_attrs: bool = False
) -> tuple[tuple[LittleFsProfile, ...], str]:
    """Profiles that could have written this image, most likely first, and why.

    The bytes tell disk version, name_max, block count and per-file time attributes;
    Arduino and PlatformIO use the same tool, so they can never be told apart.
    """
    p = LITTLEFS_PROFILES
    exact = sb.fs_bytes == image_size
    if sb.version == DISK_VERSION_2_0:
        if exact:
            return (p["mongoose-os"],), (
                "disk version 2.0 with the block count of the whole image: Mongoose OS "
                "(littlefs before 2.6 in older esp_littlefs or mklittlefs also wrote 2.0)"
            )
        return (p["esp-idf"], p["arduino"], p["platformio"]), (
            "disk version 2.0 but fewer blocks than the image: not Mongoose OS (it needs "
            "them equal); ambiguous between esp-idf, arduino and platformio"
        )
    if mklittlefs_attrs:
        return (p["arduino"], p["platformio"]), (
            "files carry mklittlefs' 'c' time attribute: arduino or platformio "
            "(same tool, same parameters)"
        )
    if sb.name_max == p["esp-idf"].name_max:
        return (p["esp-idf"],), "name_max 64: made by esp_littlefs' image build"
    if sb.name_max == LFS_NAME_MAX:
        return (p["esp-idf"], p["arduino"], p["platformio"]), (
            "disk version 2.1, name_max 255: ambiguous between esp-idf, arduino and platformio"
        )
    return (p["arduino"], p["platformio"]), (
        f"name_max {sb.name_max}: a mklittlefs build (arduino or platformio)"
    )


def _check_profile(profile: LittleFsProfile, sb: Superblock, image_size: int) -> None:
    """An explicit profile that the bytes contradict is an error, not a guess."""
    name = profile.name
    if sb.block_size != profile.block_size:
        raise ImageError(
            f"profile {name} uses {profile.block_size}-byte blocks, the image "
            f"{sb.block_size}-byte blocks"
        )
    if profile.exact_block_count and sb.version != DISK_VERSION_2_0:
        raise ImageError(
            f"profile {name}: the image has on-disk version {sb.version_text}, and Mongoose OS "
            "(littlefs 2.5) only mounts 2.0",
            hint="the device would refuse this image; omit --profile to open it as it is",
        )
    if profile.exact_block_count and sb.fs_bytes != image_size:
        raise ImageError(
            f"profile {name}: the superblock says {sb.block_count} blocks "
            f"({sb.fs_bytes} bytes) but the image is {image_size} bytes; Mongoose OS "
            "requires the block count to equal the partition's",
            hint="check --size/--offset, or omit --profile",
        )


def _lfs_error_code(e: BaseException) -> int | None:
    code = getattr(e, "code", None)
    if isinstance(code, int):
        return code
    cause = e.__cause__ or e.__context__
    return _lfs_error_code(cause) if cause is not None else None


def _lfs_error_name(code: int | None) -> str:
    from littlefs import LittleFSError

    if code is None:
        return "unknown error"
    try:
        return f"{code} {LittleFSError.Error(code).name}"
    except ValueError:
        return str(code)


def _make_context(buffer: bytearray) -> Any:
    """A littlefs-python context over ``buffer`` without per-call debug formatting."""
    from littlefs import UserContext

    class _Context(UserContext):
        def read(self, cfg: Any, block: int, off: int, size: int) -> bytearray:
            start = block * cfg.block_size + off
            return self.buffer[start : start + size]

        def prog(self, cfg: Any, block: int, off: int, data: bytes) -> int:
            start = block * cfg.block_size + off
            self.buffer[start : start + len(data)] = data
            return 0

        def erase(self, cfg: Any, block: int) -> int:
            start = block * cfg.block_size
            self.buffer[start : start + cfg.block_size] = b"\xff" * cfg.block_size
            return 0

    return _Context(buffer=buffer)


def _new_lfs(
    buffer: bytearray,
    profile: LittleFsProfile,
    *,
    block_count: int,
    name_max: int = LFS_NAME_MAX,
    disk_version: int = 0,
) -> LittleFS:
    from littlefs import LittleFS

    return LittleFS(
        **_name_encoding(),
        context=_make_context(buffer),
        mount=False,  # never True: littlefs-python formats when that mount fails
        block_size=profile.block_size,
        block_count=block_count,
        read_size=profile.read_size,
        prog_size=profile.prog_size,
        cache_size=profile.cache_size,
        lookahead_size=profile.lookahead_size,
        block_cycles=profile.block_cycles,
        name_max=name_max,
        disk_version=disk_version,  # 0 = the newest littlefs-python knows (2.1)
    )


# littlefs stores names as opaque bytes. Names are read and written as UTF-8 with
# surrogate escapes, so a name that is not UTF-8 lists (shown as \xNN), reads and is
# removed like any other instead of failing the whole listing.
_NAME_CODEC = "esp-cabundle-fsname"


def _fsname_codec(name: str) -> Any:
    import codecs

    if name != _NAME_CODEC.replace("-", "_"):
        return None
    return codecs.CodecInfo(
        name=_NAME_CODEC,
        encode=lambda text, errors="strict": codecs.utf_8_encode(text, "surrogateescape"),
        decode=lambda data, errors="strict": codecs.utf_8_decode(data, "surrogateescape", True),
    )


@functools.cache
def _name_encoding() -> dict[str, str]:
    """``filename_encoding=`` for littlefs-python releases that take it (older ones
    decode names as ASCII; their UnicodeError is reported as an ImageError)."""
    import codecs
    import inspect

    from littlefs import LittleFS

    if "filename_encoding" not in inspect.signature(LittleFS.__init__).parameters:
        return {}
    codecs.register(_fsname_codec)
    return {"filename_encoding": _NAME_CODEC}


class LittleFsImage(FileSystemImage):
    """A LittleFS image in memory; edits go through littlefs itself.

    Every edit either completes or leaves the bytes exactly as before it (the buffer is
    restored and remounted on failure). Bytes past the file system's last block (an
    image larger than ``block_count`` blocks) are kept untouched.
    """

    fs_type: ClassVar[str] = "littlefs"

    def __init__(
        self,
        *,
        buffer: bytearray,
        tail: bytes,
        original: bytes,
        profile: LittleFsProfile,
        disk_version: int,
        detection: str,
        candidates: tuple[LittleFsProfile, ...],
        timestamp: int | None = None,
    ) -> None:
        """Use :meth:`create` or :meth:`open`."""
        self._buf = buffer
        self._tail = tail
        self._original = original
        self._profile = profile
        self._disk_version = disk_version
        self.detection = detection
        self.candidates = candidates
        self.timestamp = timestamp
        self._lfs = self._mount()
        stat = self._lfs.fs_stat()
        self._block_count: int = stat.block_count
        self._name_max: int = stat.name_max

    # -- construction -------------------------------------------------------------

    @classmethod
    def create(
        cls, size: int, profile: LittleFsProfile | str, *, timestamp: int | None = None
    ) -> LittleFsImage:
        """A freshly formatted image of ``size`` bytes (the partition size)."""
        prof = _resolve_profile(profile)
        if size <= 0 or size % prof.block_size:
            raise ImageError(
                f"LittleFS image size {size} is not a positive multiple of the "
                f"{prof.block_size}-byte block",
                hint="give the partition size, e.g. 256K or 0x40000",
            )
        blocks = size // prof.block_size
        if blocks < 2:
            raise ImageError(f"LittleFS needs at least 2 blocks; {size} bytes is {blocks}")
        from littlefs import LittleFSError

        buf = bytearray(b"\xff" * size)
        lfs = _new_lfs(
            buf,
            prof,
            block_count=blocks,
            name_max=prof.name_max,
            disk_version=prof.disk_version,
        )
        try:
            lfs.format()
        except LittleFSError as e:
            raise ImageError(f"littlefs could not format {size} bytes ({e})") from e
        return cls(
            buffer=buf,
            tail=b"",
            original=bytes(buf),
            profile=prof,
            disk_version=prof.disk_version,
            detection=f"profile {prof.name} (new image)",
            candidates=(prof,),
            timestamp=timestamp,
        )

    @classmethod
    def open(
        cls,
        data: bytes,
        profile: LittleFsProfile | str | None = None,
        *,
        timestamp: int | None = None,
    ) -> LittleFsImage:
        """Open existing bytes; never formats. ImageError if they do not mount.

        Version, block count and name_max come from the image. Without ``profile`` it is
        detected where the bytes allow (see :attr:`detection`); with one, bytes that
        contradict it are an error.
        """
        data = bytes(data)
        sb = find_superblock(data)
        if sb is None:
            raise ImageError(
                "not a LittleFS image: no 'littlefs' magic at offset 8 of block 0 or 1",
                hint="check the file, --offset and --fs",
            )
        _check_superblock(sb, len(data))
        given = _resolve_profile(profile) if profile is not None else None
        if given is not None:
            _check_profile(given, sb, len(data))
        # Mount once with the newest disk version (accepts 2.0 and 2.1, writes nothing)
        # to read the authoritative on-disk version, then mount for real with it.
        probe_profile = given or LITTLEFS_PROFILES["esp-idf"]
        stat, mk_attrs = _probe(data[: sb.fs_bytes], probe_profile)
        sb = Superblock(
            stat.disk_version,
            stat.block_size,
            stat.block_count,
            stat.name_max,
            stat.file_max,
            stat.attr_max,
            sb.block,
            sb.revision,
        )
        _check_superblock(sb, len(data))
        candidates: tuple[LittleFsProfile, ...]
        if given is not None:
            _check_profile(given, sb, len(data))
            chosen, candidates = given, (given,)
            detection = f"profile {given.name} (given)"
        else:
            candidates, why = detect_littlefs_profiles(sb, len(data), mklittlefs_attrs=mk_attrs)
            chosen = candidates[0]
            detection = f"profile {chosen.name} detected: {why}"
        return cls(
            buffer=bytearray(data[: sb.fs_bytes]),
            tail=data[sb.fs_bytes :],
            original=data,
            profile=chosen,
            disk_version=sb.version,
            detection=detection,
            candidates=candidates,
            timestamp=timestamp,
        )

    def _mount(self) -> LittleFS:
        from littlefs import LittleFSError

        lfs = _new_lfs(
            self._buf,
            self._profile,
            block_count=0,  # from the superblock
            name_max=LFS_NAME_MAX,
            disk_version=self._disk_version,  # keeps 2.0 images at 2.0
        )
        try:
            lfs.mount()
        except LittleFSError as e:
            raise ImageError(
                f"LittleFS image does not mount (littlefs error {_lfs_error_name(e.code)})",
                hint="the image is corrupt or not LittleFS; it was not formatted or changed",
            ) from e
        return lfs

    # -- FileSystemImage ------------------------------------------------------------

    @property
    def profile(self) -> LittleFsProfile:
        return self._profile

    @property
    def size(self) -> int:
        return len(self._buf) + len(self._tail)

    @property
    def disk_version(self) -> int:
        return self._disk_version

    @property
    def block_count(self) -> int:
        return self._block_count

    @property
    def block_size(self) -> int:
        return self._profile.block_size

    @property
    def name_max(self) -> int:
        return self._name_max

    @property
    def used_blocks(self) -> int:
        from littlefs import LittleFSError

        try:
            return int(self._lfs.used_block_count)
        except LittleFSError as e:  # a block cycle or bad pointer found while counting
            raise self._corrupt("counting the used blocks", e) from e

    def files(self) -> list[FileInfo]:
        return sorted(self._walk(), key=lambda f: f.path)

    def _walk(self) -> Iterator[FileInfo]:
        from littlefs import LittleFSError

        stack = ["/"]
        seen: set[str] = set()
        try:
            while stack:
                d = stack.pop()
                if d in seen:  # a corrupt tree could loop
                    raise ImageError(f"LittleFS directory {d} appears twice: the image is corrupt")
                seen.add(d)
                for st in self._lfs.scandir(d):
                    path = d.rstrip("/") + "/" + st.name
                    if st.type == 2:  # LFS_TYPE_DIR
                        stack.append(path)
                    else:
                        yield FileInfo(path, st.size)
        except LittleFSError as e:
            raise self._corrupt("listing files", e) from e
        except UnicodeError as e:
            raise ImageError(f"a file name in the LittleFS image cannot be decoded ({e})") from e

    def read(self, path: str) -> bytes:
        from littlefs import LittleFSError

        p = normalize_path(path)
        try:
            st = self._lfs.stat(p)
            if st.type == 2:
                raise ImageError(f"{p} is a directory in the LittleFS image, not a file")
            with self._lfs.open(p, "rb") as f:
                data: bytes = f.read()
        except LittleFSError as e:
            if e.code == _ERR_NOENT:
                raise ImageError(f"no file {p} in the LittleFS image") from e
            raise self._corrupt(f"reading {p}", e) from e
        except FileNotFoundError as e:
            raise ImageError(f"no file {p} in the LittleFS image") from e
        if len(data) != st.size:
            raise ImageError(
                f"{p}: read {len(data)} bytes of {st.size}: the LittleFS image is corrupt"
            )
        return data

    def write(self, path: str, data: bytes) -> None:
        p = self._checked_path(path)
        data = bytes(data)

        def op(lfs: LittleFS) -> None:
            parts = p.strip("/").split("/")
            cur = ""
            for part in parts[:-1]:
                cur += "/" + part
                st = _stat_or_none(lfs, cur)
                if st is None:
                    lfs.mkdir(cur)
                elif st.type != 2:
                    raise ImageError(f"cannot write {p}: {cur} is a file in the LittleFS image")
            st = _stat_or_none(lfs, p)
            if st is not None and st.type == 2:
                raise ImageError(f"cannot write {p}: it is a directory in the LittleFS image")
            fh = lfs.open(p, "wb", buffering=0)
            try:
                fh.write(data)
            finally:
                fh.close()
            if self.timestamp is not None:
                stamp = struct.pack("<I", self.timestamp & 0xFFFFFFFF)
                for attr in self._profile.time_attributes:
                    lfs.setattr(p, attr, stamp)

        self._edit(f"writing {p} ({len(data)} bytes)", op)

    def remove(self, path: str) -> None:
        p = normalize_path(path)

        def op(lfs: LittleFS) -> None:
            st = _stat_or_none(lfs, p)
            if st is None:
                raise ImageError(f"no file {p} in the LittleFS image")
            if st.type == 2:
                raise ImageError(f"{p} is a directory in the LittleFS image, not a file")
            lfs.remove(p)

        self._edit(f"removing {p}", op)

    def to_bytes(self) -> bytes:
        return bytes(self._buf) + self._tail

    def changed_blocks(self) -> list[int]:
        now = self.to_bytes()
        old = self._original
        return [
            i // ERASE_BLOCK
            for i in range(0, len(now), ERASE_BLOCK)
            if now[i : i + ERASE_BLOCK] != old[i : i + ERASE_BLOCK]
        ]

    def describe(self) -> dict[str, str]:
        facts = super().describe()
        facts.update(
            {
                "detection": self.detection,
                "disk version": _version_text(self._disk_version),
                "block size": str(self.block_size),
                "block count": str(self._block_count),
                "blocks used": str(self.used_blocks),
                "name max": str(self._name_max),
            }
        )
        if self._tail:
            facts["bytes after the file system"] = str(len(self._tail))
        return facts

    def getattr(self, path: str, attr: str) -> bytes | None:
        """A littlefs user attribute of a file (e.g. ``'t'``), or None if it has none."""
        from littlefs import LittleFSError

        try:
            value: bytes = self._lfs.getattr(normalize_path(path), attr)
        except LittleFSError as e:
            if e.code == _ERR_NOATTR:
                return None
            if e.code == _ERR_NOENT:
                raise ImageError(f"no file {normalize_path(path)} in the LittleFS image") from e
            raise self._corrupt("reading attributes", e) from e
        return value

    # -- helpers ----------------------------------------------------------------------

    def _checked_path(self, path: str) -> str:
        p = checked_new_path(path, "LittleFS")
        for part in p.strip("/").split("/"):
            n = len(part.encode("utf-8", "surrogateescape"))
            if n > self._name_max:
                raise ImageError(
                    f"name {part!r} is {n} bytes; this LittleFS image allows {self._name_max}",
                    hint="use a shorter name; the image was not changed",
                )
        return p

    def _edit(self, what: str, op: Any) -> None:
        """Run ``op(lfs)``; on any failure restore the bytes and remount."""
        from littlefs import LittleFSError

        snapshot = bytes(self._buf)
        try:
            op(self._lfs)
        except (LittleFSError, OSError, ImageError) as e:
            self._buf[:] = snapshot
            self._lfs = self._mount()
            if isinstance(e, ImageError):
                raise
            code = _lfs_error_code(e)
            if code == _ERR_NOSPC:
                raise ImageError(
                    f"no space left in the LittleFS image {what}",
                    hint="the image was not changed; free space by removing files, or use "
                    "a larger partition",
                ) from e
            if code == _ERR_NAMETOOLONG:
                raise ImageError(f"name too long {what} (image allows {self._name_max})") from e
            raise self._corrupt(what, e) from e

    def _corrupt(self, what: str, e: BaseException) -> ImageError:
        return ImageError(
            f"LittleFS error while {what}: {_lfs_error_name(_lfs_error_code(e))}",
            hint="the image is probably corrupt; it was not changed",
        )


def _stat_or_none(lfs: LittleFS, path: str) -> Any:
    from littlefs import LittleFSError

    try:
        return lfs.stat(path)
    except LittleFSError as e:
        if e.code == _ERR_NOENT:
            return None
        raise
    except FileNotFoundError:
        return None


def _probe(fs_bytes: bytes, profile: LittleFsProfile) -> tuple[Any, bool]:
    """Mount a throw-away copy accepting any 2.x version: (fs_stat, has 'c' attributes)."""
    from littlefs import LittleFSError

    lfs = _new_lfs(bytearray(fs_bytes), profile, block_count=0, name_max=LFS_NAME_MAX)
    try:
        lfs.mount()
        stat = lfs.fs_stat()
        has_c = False
        for st in lfs.scandir("/"):
            if st.type != 2:
                try:
                    lfs.getattr("/" + st.name, "c")
                    has_c = True
                except LittleFSError:
                    pass
                break
    except LittleFSError as e:
        raise ImageError(
            f"LittleFS image does not mount (littlefs error {_lfs_error_name(e.code)})",
            hint="the image is corrupt or not LittleFS; it was not formatted or changed",
        ) from e
    return stat, has_c


def _resolve_profile(profile: LittleFsProfile | str) -> LittleFsProfile:
    if isinstance(profile, LittleFsProfile):
        return profile
    if isinstance(profile, FsProfile):
        raise ImageError(
            f"profile {profile.name} is a {profile.fs_type} profile, not a LittleFS one"
        )
    try:
        return LITTLEFS_PROFILES[profile]
    except KeyError:
        raise ImageError(
            f"unknown LittleFS profile {profile!r}",
            hint="profiles: " + ", ".join(LITTLEFS_PROFILES),
        ) from None


def build_littlefs_image(
    files: Mapping[str, bytes] | list[tuple[str, bytes]],
    *,
    size: int,
    profile: LittleFsProfile | str,
    timestamp: int | None = None,
) -> bytes:
    """A new image holding ``files`` written in the given order (reproducible)."""
    img = LittleFsImage.create(size, profile, timestamp=timestamp)
    items = files.items() if isinstance(files, Mapping) else files
    for path, data in items:
        img.write(path, data)
    return img.to_bytes()
