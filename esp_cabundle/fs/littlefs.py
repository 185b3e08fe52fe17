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

import struct
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, ClassVar

from ..errors import ImageError
from ..sizes import size_words
from ..spelling import PYTHON, Spelling
from ..text import byte_count, printable
from .base import (
    ERASE_BLOCK,
    NO_FILE_HINT,
    NO_ROOM_HINT,
    UNCHANGED_HINT,
    Bytes,
    Erased,
    FileInfo,
    FileSystemImage,
    FsHint,
    NoRoomError,
)
from .lfs_device import (
    ERR_NAMETOOLONG,
    ERR_NOATTR,
    ERR_NOENT,
    ERR_NOSPC,
    LFS_TYPE_DIR,
    MAX_DEPTH,
    BufferStore,
    Device,
    Store,
    StoreBytes,
    close_once,
    lfs_error_code,
    lfs_error_name,
    new_lfs,
    stat_or_none,
    walk,
)
from .lfs_identify import identify_image
from .lfs_platforms import (
    DISK_VERSION_2_0,
    DISK_VERSION_2_1,
    LfsPlatform,
    check_readable,
    version_text,
)
from .lfs_profiles import (
    LITTLEFS_PROFILES,
    LittleFsProfile,
    check_profile,
    detect_littlefs_profiles,
    new_image_geometry,
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


class LittleFsImage(FileSystemImage):
    """A LittleFS image; edits go through littlefs itself.

    The bytes live in a store (:mod:`.lfs_device`): a buffer in memory (:meth:`create`,
    :meth:`open`: the bytes opened, copied on the first edit), or a unit's flash read
    lazily through an overlay (:meth:`mount`). Every edit either completes or leaves the
    bytes exactly as before it (the store is restored and remounted on failure). Bytes
    past the file system's last block (an image larger than ``block_count`` blocks) are
    kept untouched: an opened image's store holds them too, littlefs never addresses
    them.
    """

    fs_type: ClassVar[str] = "littlefs"

    def __init__(
        self,
        *,
        store: Store,
        fs_size: int,
        tail_size: int,
        original: Bytes | memoryview | None,
        profile: LittleFsProfile,
        disk_version: int,
        detection: str,
        candidates: tuple[LittleFsProfile, ...],
        timestamp: int | None = None,
        metadata_max: int = 0,
    ) -> None:
        """Use :meth:`create`, :meth:`open` or :meth:`mount`."""
        self._store = store
        self._device = Device(store, profile.block_size)
        self._fs_size = fs_size
        self._tail_size = tail_size
        self._original = original
        self._profile = profile
        self._disk_version = disk_version
        self._metadata_max = metadata_max
        self.detection = detection
        self.candidates = candidates
        self.timestamp = timestamp
        self._lfs = self._mount()
        with self._io("reading the superblock"):
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
        spelling: Spelling = PYTHON,
    ) -> LittleFsImage:
        """A freshly formatted image of ``size`` bytes (the partition size).

        The on-disk version is ``disk_version`` if given (refused where the platform or
        profile cannot read it), else the ``platform``'s (2.1 only when every reader of
        that platform version reads it), else the profile's (2.0). ``spelling``: how the
        hints name the options (see :mod:`~esp_cabundle.spelling`).
        """
        prof, version, blocks = new_image_geometry(
            size, profile, platform=platform, disk_version=disk_version, spelling=spelling
        )
        from littlefs import LittleFSError

        store = BufferStore.erased(size)  # held once: what it was made as is Erased
        device = Device(store, prof.block_size)
        lfs = new_lfs(
            device,
            prof,
            block_count=blocks,
            name_max=prof.name_max,
            disk_version=version,
        )
        try:
            lfs.format()
        except LittleFSError as e:
            device.check(e)
            raise ImageError(f"littlefs could not format {size} bytes ({e})") from e
        device.check()
        return cls(
            store=store,
            fs_size=size,
            tail_size=0,
            original=Erased(size),
            profile=prof,
            disk_version=version,
            detection=f"profile {prof.name} (new image)",
            candidates=(prof,),
            timestamp=timestamp,
        )

    @classmethod
    def open(
        cls,
        data: bytes | memoryview,
        profile: LittleFsProfile | str | None = None,
        *,
        timestamp: int | None = None,
        platform: LfsPlatform | str | None = None,
        disk_version: int | None = None,
        spelling: Spelling = PYTHON,
    ) -> LittleFsImage:
        """Open existing bytes; never formats. ImageError if they do not mount.

        Version, block count and name_max come from the image. Without ``profile`` it is
        detected where the bytes allow (see :attr:`detection`); with one, bytes that
        contradict it are an error. An image ``platform`` cannot mount, or a
        ``disk_version`` other than the image's (edits never change it), is refused.
        ``spelling`` as for :meth:`create`.

        ``data`` is not copied until the first edit (a 256 MiB image is listed holding
        it once), so it must not change while the image is open.
        """
        plat = resolve_platform_arg(platform, spelling)
        if profile is not None and plat is not None:
            profile_for(profile, plat, spelling)  # the two must agree
        store = BufferStore(data)
        data = store.view()
        found = identify_image(
            store, profile, platform=plat, disk_version=disk_version, spelling=spelling
        )
        sb = found.superblock
        return cls(
            store=store,
            fs_size=sb.fs_bytes,
            tail_size=len(data) - sb.fs_bytes,
            original=data,
            profile=found.profile,
            disk_version=sb.version,
            detection=found.detection,
            candidates=found.candidates,
            timestamp=timestamp,
        )

    @classmethod
    def mount(
        cls,
        store: Store,
        size: int,
        profile: LittleFsProfile | str,
        *,
        platform: LfsPlatform | str | None = None,
        metadata_max: int = 0,
        where: str = "the LittleFS image",
        spelling: Spelling = PYTHON,
    ) -> LittleFsImage:
        """Mount the first ``size`` bytes of ``store`` (a partition of a unit's flash,
        through an overlay) as ``profile``'s platform would; never formats.

        Reads only what the superblock rules and littlefs need. The superblock must
        suit the partition and the profile, and ``platform`` must mount its version
        (ImageError otherwise, naming ``where``; its hints name the options as
        ``spelling`` does). ``metadata_max``: see
        :func:`~.lfs_device.new_lfs`.
        """
        prof = resolve_profile(profile)
        sb = find_superblock(StoreBytes(store, size), block_size=prof.block_size)
        if sb is None:
            raise ImageError("no LittleFS file system (no 'littlefs' magic in block 0 or 1)")
        check_superblock(sb, size)
        check_profile(prof, sb, size, spelling)
        check_readable(sb.version, resolve_platform_arg(platform, spelling), where, spelling)
        return cls(
            store=store,
            fs_size=sb.fs_bytes,
            tail_size=0,
            original=None,
            profile=prof,
            disk_version=sb.version,
            detection=f"profile {prof.name} (given)",
            candidates=(prof,),
            metadata_max=metadata_max,
        )

    def _mount(self) -> LittleFS:
        from littlefs import LittleFSError

        lfs = new_lfs(
            self._device,
            self._profile,
            block_count=self._fs_size // self._profile.block_size,
            disk_version=self._disk_version,  # keeps 2.0 images at 2.0
            metadata_max=self._metadata_max,
        )
        try:
            lfs.mount()
        except LittleFSError as e:
            self._device.check(e)
            raise ImageError(
                f"LittleFS image does not mount (littlefs error {lfs_error_name(e.code)})",
                hint="the image is corrupt or not LittleFS; it was not formatted or changed",
            ) from e
        self._device.check()
        return lfs

    @contextmanager
    def _io(self, what: str) -> Iterator[None]:
        """Around every littlefs call: a failed store access wins over littlefs' answer,
        a littlefs error is an ImageError naming ``what``."""
        from littlefs import LittleFSError

        try:
            yield
        except LittleFSError as e:
            self._device.check(e)
            raise self._corrupt(what, e) from e
        except BaseException as e:
            self._device.check(e)
            raise
        self._device.check()

    # -- FileSystemImage ------------------------------------------------------------

    @property
    def profile(self) -> LittleFsProfile:
        return self._profile

    @property
    def size(self) -> int:
        return self._fs_size + self._tail_size

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
        with self._io("counting the used blocks"):
            return int(self._lfs.used_block_count)

    def free_blocks(self) -> int:
        return self.block_count - self.used_blocks

    def device_space(self) -> tuple[int, int]:
        """Free space in whole blocks, as ``lfs_fs_size`` counts it."""
        return self.size, self.free_blocks() * self.profile.block_size

    def files(self) -> list[FileInfo]:
        with self._io("listing files"):
            return walk(self._lfs, self.block_count)

    def read(self, path: str) -> bytes:
        from littlefs import LittleFSError

        p = self.checked_path(path, new=False)  # littlefs would resolve //, . and ..
        try:
            st = self._lfs.stat(p)
            if st.type == LFS_TYPE_DIR:
                raise ImageError(f"{p} is a directory in the LittleFS image, not a file")
            if st.size > self._fs_size:
                # littlefs-python's read() allocates the stored size up front: a damaged
                # size of 2 GiB took 8 GB of memory and half a minute to be refused.
                raise ImageError(
                    f"{p}: its stored size ({st.size:,} bytes) is more than the whole "
                    f"file system ({self._fs_size:,} bytes): the LittleFS image is corrupt",
                    hint=UNCHANGED_HINT,
                )
            with self._lfs.open(p, "rb") as f:
                data: bytes = f.read()
        except (LittleFSError, FileNotFoundError) as e:
            self._device.check(e)
            if isinstance(e, FileNotFoundError) or e.code == ERR_NOENT:
                raise ImageError(f"no file {p!r} in the LittleFS image", hint=NO_FILE_HINT) from e
            raise self._corrupt(f"reading {p}", e) from e
        self._device.check()
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
                st = stat_or_none(lfs, cur)
                if st is None:
                    lfs.mkdir(cur)
                elif st.type != LFS_TYPE_DIR:
                    raise ImageError(f"cannot write {p}: {cur} is a file in the LittleFS image")
            st = stat_or_none(lfs, p)
            if st is not None and st.type == LFS_TYPE_DIR:
                raise ImageError(f"cannot write {p}: it is a directory in the LittleFS image")
            fh = lfs.open(p, "wb", buffering=0)
            try:
                fh.write(data)
            finally:
                close_once(fh)
            if self.timestamp is not None:
                stamp = struct.pack("<I", self.timestamp & 0xFFFFFFFF)
                for attr in self._profile.time_attributes:
                    lfs.setattr(p, attr, stamp)

        self._edit(f"writing {p} ({byte_count(len(data))})", op)

    def remove(self, path: str) -> None:
        p = self.checked_path(path, new=False)

        def op(lfs: LittleFS) -> None:
            st = stat_or_none(lfs, p)
            if st is None:
                raise ImageError(f"no file {p!r} in the LittleFS image", hint=NO_FILE_HINT)
            if st.type == LFS_TYPE_DIR:
                raise ImageError(f"{p} is a directory in the LittleFS image, not a file")
            lfs.remove(p)

        self._edit(f"removing {p}", op)

    def to_bytes(self) -> bytes:
        return self._store.read(0, self.size)

    def data_view(self) -> memoryview:
        """The bytes, not copied where in memory (a later edit writes a copy of them)."""
        if isinstance(self._store, BufferStore):
            return self._store.view()
        return memoryview(self.to_bytes())

    def reopened(self) -> LittleFsImage:
        return LittleFsImage.open(self.data_view(), self._profile)

    def changed_blocks(self) -> list[int]:
        if self._original is None:
            raise ImageError("an image mounted from a store has no bytes it was opened with")
        store = self._store
        now = store.view(keep=False) if isinstance(store, BufferStore) else self.data_view()
        old = self._original
        # Block by block, each compared as bytes (a memoryview compares item by item).
        return [
            i // ERASE_BLOCK
            for i in range(0, len(now), ERASE_BLOCK)
            if bytes(now[i : i + ERASE_BLOCK]) != old[i : i + ERASE_BLOCK]
        ]

    def possible_profiles(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.candidates)

    def describe(self, files: list[FileInfo] | None = None) -> dict[str, str | int]:
        facts = super().describe()
        facts.update(
            {
                "detection": self.detection,
                "disk version": version_text(self._disk_version),
                "block size": self.block_size,
                "block count": self._block_count,
                "blocks used": self.used_blocks,
                "files": len(self.files() if files is None else files),  # as SPIFFS counts
                "name max": self._name_max,
            }
        )
        if self._tail_size:
            facts["bytes after the file system"] = self._tail_size
        return facts

    def format_facts(self) -> dict[str, str | int]:
        """What an edit must never change: the format the firmware mounts (read without
        walking the file system, unlike :meth:`describe`)."""
        return {
            **super().format_facts(),
            "disk version": version_text(self._disk_version),
            "block size": self.block_size,
            "block count": self._block_count,
            "name max": self._name_max,
        }

    def getattr(self, path: str, attr: str) -> bytes | None:
        """A littlefs user attribute of a file (e.g. ``'t'``), or None if it has none."""
        from littlefs import LittleFSError

        p = self.checked_path(path, new=False)
        try:
            value: bytes = self._lfs.getattr(p, attr)
        except LittleFSError as e:
            self._device.check(e)
            if e.code == ERR_NOATTR:
                return None
            if e.code == ERR_NOENT:
                raise ImageError(f"no file {p!r} in the LittleFS image", hint=NO_FILE_HINT) from e
            raise self._corrupt("reading attributes", e) from e
        self._device.check()
        return value

    # -- helpers ----------------------------------------------------------------------

    def _checked_path(self, path: str) -> str:
        p = self.checked_path(path)
        if p.count("/") - 1 > MAX_DEPTH:
            raise ImageError(
                f"{printable(p[:120])}...: directories nested {p.count('/') - 1} deep; "
                f"images are kept to {MAX_DEPTH} (deeper is read as a loop)",
                hint=FsHint("use a shallower path"),
            )
        for part in p.strip("/").split("/"):
            n = len(part.encode("utf-8", "surrogateescape"))
            if n > self._name_max:
                raise ImageError(
                    f"name {part!r} is {n} bytes; this LittleFS image allows {self._name_max}",
                    hint=FsHint("use a shorter name"),
                )
        return p

    def _edit(self, what: str, op: Any) -> None:
        """Run ``op(lfs)``; on any failure restore the bytes and remount (a failed store
        access is raised as it is: the store cannot be trusted to restore)."""
        from littlefs import LittleFSError

        snapshot = self._store.snapshot()
        try:
            op(self._lfs)
        except (LittleFSError, OSError, ImageError) as e:
            self._device.check(e)
            self._store.restore(snapshot)
            self._lfs = self._mount()
            if isinstance(e, ImageError):
                raise
            code = lfs_error_code(e)
            if code == ERR_NOSPC:
                raise NoRoomError(
                    f"no space left in the LittleFS image {what}: it does not fit",
                    hint=NO_ROOM_HINT,
                ) from e
            if code == ERR_NAMETOOLONG:
                # lfs_file_opencfg turns NOSPC from the new entry's commit into
                # NAMETOOLONG; every name was held to name_max (_checked_path), so here
                # it means the metadata had no room for one more entry
                raise NoRoomError(
                    f"no space left in the LittleFS image {what}: {self._entries() + 1:,} files "
                    f"need more metadata than this {size_words(self.size)} image has",
                    hint=NO_ROOM_HINT,
                ) from e
            raise self._corrupt(what, e) from e
        self._device.check()
        self._store.release(snapshot)

    def _entries(self) -> int:
        """How many files the image holds, said in a no-room message (0 if unlisted)."""
        try:
            return len(self.files())
        except ImageError:  # the count is only said; the no-room error is what matters
            return 0

    def _corrupt(self, what: str, e: BaseException) -> ImageError:
        return ImageError(
            f"LittleFS error while {what}: {lfs_error_name(lfs_error_code(e))}",
            hint="the image is probably corrupt; it was not changed",
        )


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
