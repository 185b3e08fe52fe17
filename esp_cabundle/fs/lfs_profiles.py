"""The littlefs configuration of each ESP32 platform, and telling them apart by the bytes.

The parameters come from each platform's sources (cited per profile). Every profile
writes on-disk version 2.0 into new images by default; :mod:`.lfs_platforms` says
when a named platform version gets 2.1.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from types import MappingProxyType

from ..errors import ImageError
from ..spelling import PYTHON, Spelling, set_to
from ..text import byte_count, suggest
from .base import FsProfile, SizeHint, TooSmallError
from .lfs_platforms import (
    DISK_VERSION_2_0,
    DISK_VERSION_2_1,
    LfsPlatform,
    check_disk_version,
    choose_disk_version,
    resolve_platform,
    version_text,
)
from .lfs_superblock import LFS_NAME_MAX, Superblock

__all__ = [
    "LITTLEFS_PROFILES",
    "LittleFsProfile",
    "check_profile",
    "detect_littlefs_profiles",
    "new_image_geometry",
    "profile_for",
    "resolve_platform_arg",
    "resolve_profile",
]


@dataclass(frozen=True, slots=True)
class LittleFsProfile(FsProfile):
    """The littlefs configuration one platform uses.

    ``disk_version`` applies to new images only: opened images keep theirs. Every
    profile defaults to 2.0, which every littlefs 2.x mounts (see
    :mod:`.lfs_platforms`); a named platform version that reads 2.1 gets 2.1.
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
        return version_text(self.disk_version)


def _profiles(*profiles: LittleFsProfile) -> Mapping[str, LittleFsProfile]:
    return MappingProxyType({p.name: p for p in profiles})


# earlephilhower/mklittlefs (Arduino IDE plugin, PlatformIO tool-mklittlefs):
# read/prog/cache/lookahead 64, block_cycles 16, 't' and 'c' time attributes.
_MKLITTLEFS = LittleFsProfile(
    name="arduino",
    fs_type="littlefs",
    block_size=4096,
    ca_path="/ca.pem",
    description="Arduino-ESP32 LittleFS, images as mklittlefs makes them (read/prog 64)",
    read_size=64,
    prog_size=64,
    cache_size=64,
    lookahead_size=64,
    block_cycles=16,
    name_max=255,
    disk_version=DISK_VERSION_2_0,
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
        description="ESP-IDF esp_littlefs (read/prog 128, cache 512, name max 64)",
        read_size=128,
        prog_size=128,
        cache_size=512,
        lookahead_size=128,
        block_cycles=512,
        name_max=64,
        disk_version=DISK_VERSION_2_0,
        time_attributes=("t",),
    ),
    _MKLITTLEFS,
    replace(
        _MKLITTLEFS,
        name="platformio",
        description="PlatformIO uploadfs, images as tool-mklittlefs makes them (read/prog 64)",
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


def detect_littlefs_profiles(
    sb: Superblock, image_size: int, *, mklittlefs_attrs: bool = False
) -> tuple[tuple[LittleFsProfile, ...], str]:
    """Profiles that could have written this image, most likely first, and why.

    The bytes tell disk version, name_max, block count and per-file time attributes;
    Arduino and PlatformIO use the same tool, so they can never be told apart.

    name_max is what the image's maker set (0 = the maker's compiled ``LFS_NAME_MAX``):
    firmware never sets it (esp_littlefs leaves ``cfg.name_max`` 0, so a unit that
    formats writes 255, Arduino-ESP32's LittleFS included); mklittlefs writes its
    compiled limit, 32 before 4.0.0 (disk 2.0) and 255 from 4.0.0; esp_littlefs' image
    build (``littlefs_create_partition_image``, project_include.cmake) passes
    ``--name-max=CONFIG_LITTLEFS_OBJ_NAME_LEN`` (default 64). That build serves ESP-IDF
    projects and Arduino-ESP32 built as an ESP-IDF component, whose units mount the
    image with the same esp_littlefs: so 64 (or any other limit on 2.1, which no
    mklittlefs writes) is esp-idf first, then arduino.
    """
    p = LITTLEFS_PROFILES
    exact = sb.fs_bytes == image_size
    if mklittlefs_attrs:
        return (p["arduino"], p["platformio"]), (
            "files carry mklittlefs' 'c' time attribute: arduino or platformio "
            "(same tool, same parameters)"
        )
    idf_build = (p["esp-idf"], p["arduino"])
    idf_why = (
        f"name_max {sb.name_max}: made by esp_littlefs' image build (ESP-IDF "
        "CONFIG_LITTLEFS_OBJ_NAME_LEN), for ESP-IDF or Arduino-ESP32 as an ESP-IDF component"
    )
    if sb.name_max == p["esp-idf"].name_max:
        return idf_build, idf_why
    if sb.version == DISK_VERSION_2_0 and exact:
        return (p["mongoose-os"], p["esp-idf"], p["arduino"], p["platformio"]), (
            "disk version 2.0 with the block count of the whole image: Mongoose OS, or "
            "any platform writing 2.0 (esp_littlefs before 1.6, mklittlefs before 4.0)"
        )
    if sb.version == DISK_VERSION_2_0:
        return (p["esp-idf"], p["arduino"], p["platformio"]), (
            "disk version 2.0 but fewer blocks than the image: not Mongoose OS (it needs "
            "them equal); ambiguous between esp-idf, arduino and platformio"
        )
    if sb.name_max == LFS_NAME_MAX:
        return (p["esp-idf"], p["arduino"], p["platformio"]), (
            "disk version 2.1, name_max 255: ambiguous between esp-idf, arduino and platformio"
        )
    return idf_build, idf_why


def check_profile(
    profile: LittleFsProfile, sb: Superblock, image_size: int, spelling: Spelling = PYTHON
) -> None:
    """An explicit profile that the bytes contradict is an error, not a guess (the hints
    name the options as ``spelling`` does)."""
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
            hint=f"the device would refuse this image; {spelling.profile_off}",
        )
    if profile.exact_block_count and sb.fs_bytes != image_size:
        raise ImageError(
            f"profile {name}: the superblock says {sb.block_count} blocks "
            f"({byte_count(sb.fs_bytes)}) but the image is {byte_count(image_size)}; Mongoose OS "
            "requires the block count to equal the partition's",
            hint=f"check {spelling.geometry}, or {spelling.profile_off}",
        )


def resolve_platform_arg(
    platform: LfsPlatform | str | None, spelling: Spelling = PYTHON
) -> LfsPlatform | None:
    """A platform named by its text resolved (a version never released is refused, its
    hint in ``spelling``); one already resolved as it is."""
    return resolve_platform(platform, spelling) if isinstance(platform, str) else platform


def profile_for(
    profile: LittleFsProfile | str | None,
    platform: LfsPlatform | None,
    spelling: Spelling = PYTHON,
) -> LittleFsProfile:
    """The profile to write with: the given one, else the platform's; they must agree."""
    if profile is None:
        if platform is None:
            raise ImageError("a LittleFS image needs a profile or a platform")
        return LITTLEFS_PROFILES[platform.profile]
    prof = resolve_profile(profile)
    if platform is not None and platform.profile != prof.name:
        raise ImageError(
            f"platform {platform.spec} uses the {platform.profile} profile, not {prof.name}",
            hint=f"give {set_to(spelling.profile, platform.profile)}, or omit {spelling.profile}",
        )
    return prof


def resolve_profile(profile: LittleFsProfile | str) -> LittleFsProfile:
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
            hint=suggest(profile, LITTLEFS_PROFILES, "profiles: " + ", ".join(LITTLEFS_PROFILES)),
        ) from None


def new_image_geometry(
    size: int,
    profile: LittleFsProfile | str | None = None,
    *,
    platform: LfsPlatform | str | None = None,
    disk_version: int | None = None,
    spelling: Spelling = PYTHON,
) -> tuple[LittleFsProfile, int, int]:
    """The profile, on-disk version and block count of a new image of ``size`` bytes,
    or the ImageError that refuses it, without making anything (so a command can say
    it before any other work); ``spelling`` as for :func:`check_profile`."""
    check_disk_version(disk_version, spelling)  # before any other complaint
    plat = resolve_platform_arg(platform, spelling)
    prof = profile_for(profile, plat, spelling)
    version = choose_disk_version(
        prof.disk_version,
        plat,
        disk_version,
        exact_2_0=prof.exact_block_count,
        spelling=spelling,
    )
    if size <= 0 or size % prof.block_size:
        raise ImageError(
            f"LittleFS image size {byte_count(size)} is not a positive multiple of the "
            f"{prof.block_size}-byte block",
            hint="give the partition size, e.g. 256K or 0x40000",
        )
    blocks = size // prof.block_size
    if blocks < 2:
        raise TooSmallError(
            f"LittleFS needs at least 2 blocks; {byte_count(size)} is {blocks}",
            smallest=2 * prof.block_size,
            hint=SizeHint(2 * prof.block_size, spelling),
        )
    return prof, version, blocks
