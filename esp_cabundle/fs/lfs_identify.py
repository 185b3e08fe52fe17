"""What the bytes of an existing LittleFS image are, before it is mounted for real.

:meth:`~.littlefs.LittleFsImage.open` asks here: the superblock (checked against the
bytes, then re-read through littlefs for the authoritative on-disk version), whether the
platform reads that version, and which profile wrote it (given, or detected).
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import ImageError
from ..spelling import Spelling
from .lfs_device import BufferStore, StoreBytes, probe_lfs
from .lfs_platforms import LfsPlatform, check_disk_version, check_readable, refuse_version_change
from .lfs_profiles import (
    LITTLEFS_PROFILES,
    LittleFsProfile,
    check_profile,
    detect_littlefs_profiles,
    resolve_profile,
)
from .lfs_superblock import Superblock, check_superblock, find_superblock

__all__ = ["Identity", "identify_image"]


@dataclass(frozen=True, slots=True)
class Identity:
    """An image's checked superblock and the profile it is opened as."""

    superblock: Superblock
    profile: LittleFsProfile
    candidates: tuple[LittleFsProfile, ...]
    detection: str


def identify_image(
    store: BufferStore,
    profile: LittleFsProfile | str | None,
    *,
    platform: LfsPlatform | None,
    disk_version: int | None,
    spelling: Spelling,
) -> Identity:
    """Read and check the superblock of the bytes in ``store``; never writes (nor copies).

    ImageError if they are not LittleFS, contradict ``profile``, are a version
    ``platform`` cannot mount, or differ from a given ``disk_version``.
    """
    check_disk_version(disk_version, spelling)
    data = store.view()
    size = len(data)
    sb = find_superblock(StoreBytes(store, size))
    if sb is None:
        raise ImageError(
            "not a LittleFS image: no 'littlefs' magic at offset 8 of block 0 or 1",
            hint=f"check the file, {spelling.offset} and {spelling.fs_type}",
        )
    check_superblock(sb, size)
    given = resolve_profile(profile) if profile is not None else None
    if given is not None:
        check_profile(given, sb, size, spelling)
    # Mount once with the newest disk version (accepts 2.0 and 2.1, writes nothing)
    # to read the authoritative on-disk version, then mount for real with it.
    probe_profile = given or LITTLEFS_PROFILES["esp-idf"]
    stat, mk_attrs = probe_lfs(data[: sb.fs_bytes], probe_profile)
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
    check_superblock(sb, size)
    check_readable(sb.version, platform, "the LittleFS image", spelling)
    refuse_version_change(sb.version, disk_version, "the LittleFS image", spelling)
    if given is not None:
        check_profile(given, sb, size, spelling)
        return Identity(sb, given, (given,), f"profile {given.name} (given)")
    candidates, why = detect_littlefs_profiles(sb, size, mklittlefs_attrs=mk_attrs)
    chosen = candidates[0]
    if len(candidates) > 1:  # "profile X detected" beside "the bytes do not tell" misled
        return Identity(sb, chosen, candidates, f"{why}; read as profile {chosen.name}")
    return Identity(sb, chosen, candidates, f"profile {chosen.name} detected: {why}")
