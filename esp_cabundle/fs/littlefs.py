"""LittleFS images for ESP32 platforms, through littlefs-python (the real littlefs C code).

Two littlefs-python defaults destroy device data, so this module never uses them:

* ``LittleFS(mount=True)`` formats the buffer when mounting fails. Images are always
  opened with ``mount=False`` and an explicit ``mount()``; a failure is an
  :class:`ImageError` and the bytes are left as they were.
* Writing to a disk-2.0 image with the default ``disk_version`` upgrades it to 2.1,
  which Mongoose OS (littlefs 2.5) then refuses. The on-disk version is read first and
  passed back when editing, so 2.0 stays 2.0; the block count is taken from the
  superblock and never changed.

The superblock is parsed first without littlefs (:mod:`.lfs_superblock`), the platform
profiles and their detection live in :mod:`.lfs_profiles`, and which on-disk version a
platform version reads in :mod:`.lfs_platforms`.
"""

from __future__ import annotations

import functools
import struct
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any, ClassVar

from ..errors import ImageError
from .base import ERASE_BLOCK, FileInfo, FileSystemImage, checked_new_path, normalize_path
from .lfs_platforms import (
    DISK_VERSION_2_0,
    DISK_VERSION_2_1,
    LfsPlatform,
    check_readable,
    choose_disk_version,
    refuse_version_change,
    version_text,
)
from .lfs_profiles import (
    LITTLEFS_PROFILES,
    LittleFsProfile,
    check_profile,
    detect_littlefs_profiles,
    profile_for,
    resolve_platform_arg,
    resolve_profile,
)
from .lfs_superblock import (
    LFS_NAME_MAX,
    MAGIC,
    Superblock,
    check_superblock,
    find_superblock,
    is_littlefs,
)

if TYPE_CHECKING:
    from littlefs import LittleFS

__all__ = [
    "DISK_VERSION_2_0",
    "DISK_VERSION_2_1",
    "LFS_NAME_MAX",
    "LITTLEFS_PROFILES",
    "MAGIC",
    "LittleFsImage",
    "LittleFsProfile",
    "Superblock",
    "build_littlefs_image",
    "detect_littlefs_profiles",
    "find_superblock",
    "is_littlefs",
]

# lfs.h LittleFSError codes worth a specific message.
_ERR_NOENT, _ERR_EXIST, _ERR_ISDIR, _ERR_NOTDIR = -2, -17, -21, -20
_ERR_NOSPC, _ERR_NAMETOOLONG, _ERR_CORRUPT, _ERR_INVAL, _ERR_NOATTR = -28, -36, -84, -22, -61


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
        cls,
        size: int,
        profile: LittleFsProfile | str | None = None,
        *,
        timestamp: int | None = None,
        platform: LfsPlatform | str | None = None,
        disk_version: int | None = None,
    ) -> LittleFsImage:
        """A freshly formatted image of ``size`` bytes (the partition size).

        The on-disk version is ``disk_version`` if given (refused where the platform or
        profile cannot read it), else the ``platform``'s (2.1 only when every reader of
        that platform version reads it), else the profile's (2.0).
        """
        plat = resolve_platform_arg(platform)
        prof = profile_for(profile, plat)
        version = choose_disk_version(
            prof.disk_version, plat, disk_version, exact_2_0=prof.exact_block_count
        )
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
            disk_version=version,
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
            disk_version=version,
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
        platform: LfsPlatform | str | None = None,
        disk_version: int | None = None,
    ) -> LittleFsImage:
        """Open existing bytes; never formats. ImageError if they do not mount.

        Version, block count and name_max come from the image. Without ``profile`` it is
        detected where the bytes allow (see :attr:`detection`); with one, bytes that
        contradict it are an error. An image ``platform`` cannot mount, or a
        ``disk_version`` other than the image's (edits never change it), is refused.
        """
        plat = resolve_platform_arg(platform)
        if profile is not None and plat is not None:
            profile_for(profile, plat)  # the two must agree
        data = bytes(data)
        sb = find_superblock(data)
        if sb is None:
            raise ImageError(
                "not a LittleFS image: no 'littlefs' magic at offset 8 of block 0 or 1",
                hint="check the file, --offset and --fs",
            )
        check_superblock(sb, len(data))
        given = resolve_profile(profile) if profile is not None else None
        if given is not None:
            check_profile(given, sb, len(data))
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
        check_superblock(sb, len(data))
        check_readable(sb.version, plat, "the LittleFS image")
        refuse_version_change(sb.version, disk_version, "the LittleFS image")
        candidates: tuple[LittleFsProfile, ...]
        if given is not None:
            check_profile(given, sb, len(data))
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
                "disk version": version_text(self._disk_version),
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


def build_littlefs_image(
    files: Mapping[str, bytes] | list[tuple[str, bytes]],
    *,
    size: int,
    profile: LittleFsProfile | str | None = None,
    timestamp: int | None = None,
    platform: LfsPlatform | str | None = None,
    disk_version: int | None = None,
) -> bytes:
    """A new image holding ``files`` written in the given order (reproducible)."""
    img = LittleFsImage.create(
        size, profile, timestamp=timestamp, platform=platform, disk_version=disk_version
    )
    items = files.items() if isinstance(files, Mapping) else files
    for path, data in items:
        img.write(path, data)
    return img.to_bytes()
