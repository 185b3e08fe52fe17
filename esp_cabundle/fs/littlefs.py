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

from collections.abc import Mapping
from typing import ClassVar

from ..errors import ImageError
from ..spelling import PYTHON, Spelling
from .base import ERASE_BLOCK, Bytes, Erased, FileInfo
from .lfs_device import BufferStore, Device, Store, StoreBytes, new_lfs, walk
from .lfs_files import LittleFsFiles
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


class LittleFsImage(LittleFsFiles):
    """A LittleFS image; edits go through littlefs itself.

    The bytes live in a store (:mod:`.lfs_device`): a buffer in memory (:meth:`create`,
    :meth:`open`: the bytes opened, copied on the first edit), or a unit's flash read
    lazily through an overlay (:meth:`mount`). Every edit either completes or leaves the
    bytes exactly as before it (the store is restored and remounted on failure). Bytes
    past the file system's last block (an image larger than ``block_count`` blocks) are
    kept untouched: an opened image's store holds them too, littlefs never addresses
    them. Mounting, reading and editing files: :class:`~.lfs_files.LittleFsFiles`.
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
        self._attach()
        try:
            with self._io("reading the superblock"):
                stat = self._lfs.fs_stat()
        except BaseException:
            self.close()
            raise
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

    def empty_dirs(self) -> list[str]:
        return self.listing()[1]

    def listing(self) -> tuple[list[FileInfo], list[str]]:
        empty: list[str] = []
        with self._io("listing files"):
            files = walk(self._lfs, self.block_count, empty)
        return files, sorted(empty)

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
