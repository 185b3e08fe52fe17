"""File-system images (SPIFFS, LittleFS) behind one interface; see :mod:`.base`.

:func:`open_image` tells the two apart from the bytes, :func:`create_image` makes an
empty one, :data:`FS_PROFILES` names every platform's parameters. Each file system's
modules (its profile table, its engine, and littlefs-python) are imported only when
that file system is named or found: a SPIFFS pack never loads LittleFS's, and the
reverse (about 7 ms of start-up each).
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from ..arguments import require_bytes
from ..errors import ImageError
from ..spelling import PYTHON, Spelling, set_to
from ..text import suggest
from .base import ERASE_BLOCK, FileInfo, FileSystemImage, FsProfile, is_littlefs, normalize_path

__all__ = [
    "ERASE_BLOCK",
    "FS_PROFILES",
    "FS_TYPES",
    "FileInfo",
    "FileSystemImage",
    "FsProfile",
    "check_fs_type",
    "check_new_image",
    "create_image",
    "detect_fs_type",
    "get_profile",
    "normalize_path",
    "open_image",
    "profiles_of",
]

FS_TYPES = ("littlefs", "spiffs")


def _unknown_fs(fs_type: str) -> ImageError:
    return ImageError(
        f"unknown file system {fs_type!r}", hint="file systems: " + ", ".join(FS_TYPES)
    )


def check_fs_type(fs_type: str) -> None:
    """Refuse a file system esp-cabundle does not make, before asking for its profile:
    the one check (and message) of :func:`open_image`, ``image_spec`` and ``ImageSpec``."""
    if fs_type not in FS_TYPES:
        raise _unknown_fs(fs_type)


def profiles_of(fs_type: str) -> Mapping[str, FsProfile]:
    """Every profile of ``fs_type`` by name, its table imported on first use."""
    if fs_type == "littlefs":
        from .lfs_profiles import LITTLEFS_PROFILES  # deferred: see the module docstring

        return LITTLEFS_PROFILES
    if fs_type == "spiffs":
        from .spiffs_layout import SPIFFS_PROFILES  # deferred: as above

        return SPIFFS_PROFILES
    raise _unknown_fs(fs_type)


def __getattr__(name: str) -> Mapping[str, Mapping[str, FsProfile]]:
    """``FS_PROFILES``: both tables, for callers that list every platform."""
    if name == "FS_PROFILES":
        return MappingProxyType({t: profiles_of(t) for t in FS_TYPES})
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def get_profile(fs_type: str, name: str) -> FsProfile:
    """The named profile of ``fs_type``; ImageError listing the known ones otherwise."""
    profiles = profiles_of(fs_type)
    try:
        return profiles[name]
    except KeyError:
        listed = "profiles: " + ", ".join(profiles)
        if name in FS_TYPES:  # --profile spiffs: a file system, not one of its profiles
            hint = f"{name} is a file system, not a profile; the {fs_type} {listed}"
        else:
            hint = suggest(name, profiles, listed) or listed
        raise ImageError(f"unknown {fs_type} profile {name!r}", hint=hint) from None


def _image_class(fs_type: str) -> type[FileSystemImage]:
    """The image class of ``fs_type``, imported on first use: profiles and detection
    are all a build that names an image format needs (the two engines cost ~25 ms)."""
    if fs_type == "littlefs":
        from .littlefs import LittleFsImage  # deferred: see above

        return LittleFsImage
    if fs_type == "spiffs":
        from .spiffs import SpiffsImage  # deferred: see above

        return SpiffsImage
    raise _unknown_fs(fs_type)


def detect_fs_type(data: bytes) -> str | None:
    """``"littlefs"`` or ``"spiffs"`` from the bytes alone, or None when neither.

    LittleFS: the ``littlefs`` magic at offset 8 of block 0 or 1. SPIFFS: its own
    probe (lookup pages with the profile's magic).
    """
    if is_littlefs(data):
        return "littlefs"
    from .spiffs import probe_spiffs  # deferred: as _image_class

    if probe_spiffs(data) is not None:
        return "spiffs"
    return None


def open_image(
    data: bytes,
    *,
    fs_type: str | None = None,
    profile: FsProfile | str | None = None,
    platform: str | None = None,
    disk_version: int | None = None,
    spelling: Spelling = PYTHON,
) -> FileSystemImage:
    """Open an existing image, detecting the file system (and profile) from its bytes
    (bytes only: read a file with ``Path(...).read_bytes()``; a path is an
    ArgumentTypeError).

    An explicit ``fs_type`` or ``profile`` that the bytes contradict is an ImageError;
    nothing is ever formatted. ``platform`` and ``disk_version`` (LittleFS only) refuse
    an image the platform cannot mount or whose on-disk version differs. ``spelling``:
    how the hints name the options (see :mod:`~esp_cabundle.spelling`). ``disk_version``
    is 0x00020000 (2.0) or 0x00020001 (2.1), littlefs's own numbers.
    """
    require_bytes(data, "open_image")
    if disk_version is not None:  # a bad one said first
        from .lfs_platforms import check_disk_version  # deferred: LittleFS's modules on demand

        check_disk_version(disk_version, spelling)
    if isinstance(profile, FsProfile):
        if fs_type is not None and fs_type != profile.fs_type:
            raise ImageError(f"profile {profile.name} is for {profile.fs_type}, not {fs_type}")
        fs_type = profile.fs_type
    if fs_type is not None:
        check_fs_type(fs_type)
    if not data:
        raise ImageError("empty image: no file system in 0 bytes")
    detected = detect_fs_type(data)
    if detected is None:
        if data[0] in (0x00, 0xFF) and data.count(data[0]) == len(data):  # erased, or zeroed
            raise ImageError(
                f"no file system: all {len(data)} bytes are 0x{data[0]:02X} (erased or never "
                "written)",
                hint=f"make one with {spelling.pack}, or check {spelling.offset}",
            )
        from .spiffs_probe import cut_short_words  # deferred: as _image_class

        named = profile.name if isinstance(profile, FsProfile) else profile
        cut = cut_short_words(data, named) if fs_type in (None, "spiffs") else None
        if cut is not None:  # part of a SPIFFS (a file or --size cut short): said first
            raise ImageError(cut[0], hint=cut[1])
        if fs_type is None:
            raise ImageError(
                "neither LittleFS (no 'littlefs' magic at offset 8 of block 0 or 1) nor "
                "SPIFFS (no block with the magic of a SPIFFS profile) found",
                hint=_spiffs_hint(data)
                or f"check the file and {spelling.offset}; a partition must start at the file "
                "system",
            )
        detected = fs_type  # let that file system say precisely what is wrong
    elif fs_type is not None and fs_type != detected:
        raise ImageError(
            f"the bytes are a {detected} image, not {fs_type}",
            hint=f"omit {spelling.fs_type}, or give {set_to(spelling.fs_type, detected)}",
        )
    prof: FsProfile | None = None
    if isinstance(profile, str):
        prof = get_profile(detected, profile)
    elif profile is not None:
        prof = profile
    cls = _image_class(detected)
    _littlefs_only(detected, platform, disk_version, spelling)
    lfs_options = {"platform": platform, "disk_version": disk_version, "spelling": spelling}
    extra = lfs_options if detected == "littlefs" else {}
    image = cls.open(data, prof, **extra)  # type: ignore[attr-defined]
    assert isinstance(image, FileSystemImage)
    return image


def _spiffs_hint(data: bytes) -> str | None:
    """SPIFFS's own advice (e.g. the partition size its magic implies), if any."""
    try:
        _image_class("spiffs").open(data)  # type: ignore[attr-defined]
    except ImageError as e:
        return e.hint
    return None


def _littlefs_only(
    fs_type: str, platform: str | None, disk_version: int | None, spelling: Spelling
) -> None:
    """Refuse LittleFS's options for another file system, and a ``disk_version`` littlefs
    does not know (its ``lfs_init`` would abort the interpreter) before anything else."""
    if disk_version is not None:
        from .lfs_platforms import check_disk_version  # deferred: LittleFS's modules on demand

        check_disk_version(disk_version, spelling)
    if fs_type != "littlefs" and (platform is not None or disk_version is not None):
        what = spelling.platform if platform is not None else spelling.disk_version
        raise ImageError(
            f"{what} applies to LittleFS images, not {fs_type}",
            hint=f"omit {what} for {fs_type}",
        )


def check_new_image(
    fs_type: str,
    profile: FsProfile | str,
    size: int,
    *,
    platform: str | None = None,
    disk_version: int | None = None,
    spelling: Spelling = PYTHON,
) -> None:
    """What :func:`create_image` would refuse (a profile of another file system, a size
    no whole number of blocks, an on-disk version the platform cannot read), raised
    without making the image: a command says it before judging or building anything.
    ``spelling`` as for :func:`open_image`."""
    prof = get_profile(fs_type, profile) if isinstance(profile, str) else profile
    if prof.fs_type != fs_type:
        raise ImageError(f"profile {prof.name} is for {prof.fs_type}, not {fs_type}")
    _littlefs_only(fs_type, platform, disk_version, spelling)
    if fs_type == "littlefs":
        from .lfs_profiles import LittleFsProfile, new_image_geometry  # deferred: as above

        assert isinstance(prof, LittleFsProfile)
        new_image_geometry(
            size, prof, platform=platform, disk_version=disk_version, spelling=spelling
        )
    else:
        _image_class(fs_type).check_new(  # type: ignore[attr-defined]
            size, prof, spelling=spelling
        )


def create_image(
    fs_type: str,
    profile: FsProfile | str,
    size: int,
    *,
    platform: str | None = None,
    disk_version: int | None = None,
    spelling: Spelling = PYTHON,
) -> FileSystemImage:
    """A new, empty image of ``size`` bytes for ``profile`` of ``fs_type``; LittleFS
    takes the on-disk version from ``disk_version`` (0x00020000 for 2.0, 0x00020001 for
    2.1; another value is an ImageError) or ``platform`` (see :mod:`.lfs_platforms`);
    ``spelling`` as for :func:`open_image`."""
    prof = get_profile(fs_type, profile) if isinstance(profile, str) else profile
    if prof.fs_type != fs_type:
        raise ImageError(f"profile {prof.name} is for {prof.fs_type}, not {fs_type}")
    _littlefs_only(fs_type, platform, disk_version, spelling)
    cls = _image_class(fs_type)
    lfs_options = {"platform": platform, "disk_version": disk_version, "spelling": spelling}
    extra = lfs_options if fs_type == "littlefs" else {}
    image = cls.create(size, prof, **extra)  # type: ignore[attr-defined]
    assert isinstance(image, FileSystemImage)
    return image
