"""The file-system image a board's firmware reads its CA from, as parameters.

``pack --board NAME`` and the image entries of ``outputs:`` in cabundle.yaml make a new
LittleFS or SPIFFS image; a board profile already knows every parameter of it (file
system, platform profile, partition size from its default partition table, where the CA
file goes, the LittleFS platform version its units run), so the user names the board
instead of repeating them. Explicit values may replace the size (a partition table of
your own) and the CA path; a file system or profile that contradicts the board is an
error, as an image the firmware cannot mount would be.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .arguments import require_int
from .ca_arguments import check_ca_for_board
from .errors import ImageError, InputError, PartitionTableError
from .formats import IMAGE_FORMATS, IMAGE_OPTIONS
from .sizes import parse_size
from .spelling import CONFIG_SPELLING, PYTHON, Spelling

if TYPE_CHECKING:
    from .boards import Board
    from .fs.base import FsProfile
    from .fs.edit import PackedImage
    from .gate import GatedCA
    from .partitions import Partition

__all__ = [
    "IMAGE_FORMATS",
    "IMAGE_OPTIONS",
    "ImageOutput",
    "ImageSpec",
    "NewImage",
    "ca_path_moved",
    "check_board_platform",
    "image_output",
    "image_spec",
    "new_image",
    "pack_ca",
    "render_image_output",
    "size_mismatch",
]


@dataclass(frozen=True, slots=True)
class ImageSpec:
    """A new image: ``size`` bytes of ``fs_type`` with ``profile``'s parameters, the CA
    file at ``ca_path``; ``platform`` (LittleFS) picks the on-disk version its readers
    mount. ``partitions`` are where a board's default table puts it (empty: unknown);
    ``read_path``: where the board's firmware reads its CA (None: no board)."""

    fs_type: str
    profile: str
    size: int
    ca_path: str | None = None
    platform: str | None = None
    board: str | None = None
    partitions: tuple[Partition, ...] = ()
    read_path: str | None = None

    def __post_init__(self) -> None:
        from .fs import check_fs_type  # deferred: images made on demand

        check_fs_type(self.fs_type)  # as image_spec and open_image say it
        if self.size <= 0:
            raise InputError(f"image size {self.size} is not positive")
        if self.ca_path is not None:
            from .fs.base import FS_NAMES, checked_path  # deferred: images only

            # before any gate or pack: '//ca.pem' is refused, never taken for /ca.pem
            checked_path(self.ca_path, f"{FS_NAMES[self.fs_type]} image's CA file")

    @property
    def where(self) -> str:
        """Where to flash it on a fresh unit, from the board's default table ('' if unknown)."""
        return ", ".join(f"{p.name} at {p.offset:#x}" for p in self.partitions)


def check_board_platform(board: Board, platform: str | None, spelling: Spelling = PYTHON) -> None:
    """Refuse a LittleFS ``platform`` whose profile is not ``board``'s (pack, update-dump
    and fs put alike): said of the board, as "omit --profile" (the platform's own check)
    named a flag never typed, the profile being the board's."""
    fs = board.filesystem
    if platform is None or fs is None or fs.fs_type != "littlefs":
        return
    from .fs.lfs_platforms import resolve_platform  # deferred: as _profile_for_platform

    plat = resolve_platform(platform, spelling)
    if plat.profile != fs.profile:
        raise InputError(
            f"platform {plat.spec} uses the LittleFS profile {plat.profile}; board "
            f"{board.name} uses {fs.profile}",
            hint=f"drop {spelling.platform}, or name the board your units run",
        )


def image_spec(
    board: Board | None = None,
    *,
    fs_type: str | None = None,
    profile: str | None = None,
    size: int | None = None,
    ca_path: str | None = None,
    platform: str | None = None,
    spelling: Spelling = PYTHON,
) -> ImageSpec:
    """The image parameters: the board's, with ``size``/``ca_path``/``platform`` given
    replacing them; without a board every one but the CA path must be given.
    ``spelling``: how the hints name the options (see :mod:`~esp_cabundle.spelling`)."""
    if board is None:
        if fs_type is None or size is None:
            missing = " and ".join(
                n for n, v in (("the file system", fs_type), ("the size", size)) if v is None
            )
            raise InputError(
                f"an image needs {missing}",
                hint="name a board (its profile knows them) or give the file system and size",
            )
        if profile is None:
            # "unknown file system" before "needs a profile": ImageSpec's own check
            from .fs import check_fs_type  # deferred: images made on demand

            check_fs_type(fs_type)
            profile = _profile_for_platform(fs_type, platform, spelling)
        return ImageSpec(fs_type, profile, size, ca_path, platform)
    fs = board.filesystem
    if fs is None:
        raise InputError(
            f"board {board.name} keeps its CA in {board.output.form} form, not in a file "
            "system: there is no image to make",
            hint=f"build its {board.output.format} output instead "
            f"(esp-cabundle boards {board.name})",
        )
    if fs_type is not None and fs_type != fs.fs_type:
        raise InputError(
            f"board {board.name} reads its CA from {fs.fs_type}, not {fs_type}",
            hint="drop the file system, or name the board your units run",
        )
    if profile is not None and profile != fs.profile:
        raise InputError(
            f"board {board.name} uses the {fs.fs_type} profile {fs.profile}, not {profile}",
            hint="drop the profile, or name the board your units run",
        )
    check_board_platform(board, platform, spelling)
    parts = _default_partitions(board)
    if size is None:
        sizes = sorted({p.size for p in parts})
        if not sizes:
            raise InputError(
                f"board {board.name} has no default partition table to take the size from",
                hint="give the size of the partition from your partition table (e.g. 1408K)",
            )
        if len(sizes) > 1:  # pragma: no cover - no shipped board has unequal partitions
            raise InputError(
                f"board {board.name}'s file-system partitions differ in size",
                hint="give the size of the one the image is for",
            )
        size = sizes[0]
    else:
        parts = tuple(p for p in parts if p.size == size)
    return ImageSpec(
        fs.fs_type,
        fs.profile,
        size,
        ca_path or fs.ca_path,
        platform or fs.platform,
        board.name,
        parts,
        fs.ca_path,
    )


def size_mismatch(board: Board | None, spec: ImageSpec) -> str | None:
    """A note when a size given for ``board``'s image fits none of its default table's
    file-system partitions: flashed there, the image is read with the partition's size,
    does not mount, and a unit that formats on a failed mount loses every file."""
    if board is None or spec.partitions:
        return None
    parts = _default_partitions(board)
    if not parts:
        return None
    size = f"{spec.size // 1024} KiB" if spec.size % 1024 == 0 else f"{spec.size:,} bytes"
    theirs = ", ".join(f"{p.name}: {p.size // 1024} KiB at {p.offset:#x}" for p in parts)
    return (
        f"the image is {size}, not the size of board {board.name}'s file-system partition "
        f"({theirs}); flash it only to a {size} partition of your own table"
    )


def ca_path_moved(board: Board | None, spec: ImageSpec) -> str | None:
    """A note when a CA path given for ``board``'s image is not the one its firmware
    reads: the units go on trusting whatever that path holds, unless the firmware was
    changed to read the other."""
    if board is None or spec.read_path is None or spec.ca_path is None:
        return None
    from .fs.base import normalize_path  # deferred: images made on demand

    moved, read = normalize_path(spec.ca_path), normalize_path(spec.read_path)
    if moved == read:
        return None
    return (
        f"the CA goes to {moved}, not {read}, where board {board.name}'s firmware reads its "
        f"CA; flash it only to units whose firmware reads {moved}"
    )


def _default_partitions(board: Board) -> tuple[Partition, ...]:
    """The board's CA file-system partitions in its default table (none without one)."""
    if board.layout is None or board.filesystem is None:
        return ()
    try:
        return board.filesystem.select(board.layout)
    except PartitionTableError:  # pragma: no cover - shipped boards are checked by tests
        return ()


def _profile_for_platform(fs_type: str, platform: str | None, spelling: Spelling) -> str:
    """The profile a LittleFS platform version implies; otherwise it must be given."""
    # a CLI user may mean the config's key; a config's user is already there
    key = "" if spelling.profile == CONFIG_SPELLING.profile else "; 'profile:' in cabundle.yaml"
    if platform is not None and fs_type == "littlefs":
        # deferred: importing fs loads every profile table; builds without images skip it
        from .fs.lfs_platforms import resolve_platform

        return resolve_platform(platform, spelling).profile
    if platform is not None:
        raise InputError(
            f"a platform ({platform}) picks a LittleFS profile only; a {fs_type} image "
            "needs a profile",
            hint=f"give {spelling.profile} (e.g. esp-idf{key}), or name the board",
        )
    raise InputError(
        "the image needs a profile"
        + (" (or a platform, for LittleFS)" if fs_type == "littlefs" else ""),
        hint=f"give the profile ({spelling.profile}{key}), e.g. esp-idf, or name the board",
    )


@dataclass(frozen=True, slots=True)
class ImageOutput:
    """An image entry of ``outputs:``: its parameters, a directory whose files go in
    beside the CA file (``from_dir``, relative to the config), and the board it names,
    whose rules the CA must pass for this image (``build`` gates it for that board);
    ``follow_symlinks`` as ``pack --follow-symlinks``."""

    spec: ImageSpec
    from_dir: Path | None = None
    board: Board | None = field(default=None, compare=False)
    follow_symlinks: bool = False


def image_output(fmt: str, options: Mapping[str, Any], base_dir: Path) -> ImageOutput:
    """An ``outputs:`` image entry (``{format: spiffs, path: ..., board: NAME}``, or the
    file-system parameters themselves) checked and resolved; InputError says what is
    wrong, for the config loader to place at the entry's line."""
    board = None
    if "board" in options:
        # deferred: board files are read only for image outputs
        from .boards import load_board_beside

        board = load_board_beside(str(options["board"]), base_dir)
    raw_size = options.get("size")
    size = None
    if raw_size is not None:
        size = raw_size if isinstance(raw_size, int) else parse_size(str(raw_size))
    spec = image_spec(
        board,
        fs_type=fmt,
        profile=_opt(options, "profile"),
        size=size,
        ca_path=_opt(options, "ca_path"),
        platform=_opt(options, "platform"),
        spelling=CONFIG_SPELLING,
    )
    # the geometry too (a size no whole number of blocks, too few blocks), so the
    # loader places its refusal at the entry's line instead of the build failing later
    # (too few blocks hinted as the least size: the CA is not built yet)
    from .fs import check_new_image, get_profile  # deferred: images made on demand

    check_new_image(
        spec.fs_type,
        get_profile(spec.fs_type, spec.profile),
        spec.size,
        platform=spec.platform,
        spelling=CONFIG_SPELLING,
    )
    from_dir = _opt(options, "from_dir")
    follow = options.get("follow_symlinks", False)
    if not isinstance(follow, bool):
        raise InputError("follow_symlinks: expected true or false")
    if follow and from_dir is None:
        raise InputError("follow_symlinks applies to from_dir's links; give from_dir too")
    where = base_dir / from_dir if from_dir is not None else None
    return ImageOutput(spec, where, board, follow)


def _opt(options: Mapping[str, Any], key: str) -> str | None:
    v = options.get(key)
    return None if v is None else str(v)


def render_image_output(
    ca: GatedCA,
    output: ImageOutput,
    *,
    path: Path | None = None,
    others: Sequence[tuple[str, Path]] = (),
) -> PackedImage:
    """The image holding the gated CA (and ``from_dir``'s files), mounted again and read
    back before it is returned; ``private`` when a file packed was kept from others. An
    output that names a board takes only a CA gated for that board (InputError
    otherwise): its rules and connections judged it. ``path``: where the image goes;
    inside ``from_dir``, an earlier image there is not packed into this one; ``others``:
    (what, path) of every other file the run writes, none packed from ``from_dir``
    (each there is the last run's)."""
    from .fs.dirfiles import DirFiles, collect_dir_files  # deferred: images made on demand

    if output.board is not None:
        ca.for_board(output.board)
    spec = output.spec
    files = (
        collect_dir_files(
            output.from_dir, follow_symlinks=output.follow_symlinks, output=path, others=others
        )
        if output.from_dir is not None
        else DirFiles()
    )
    packed = _pack(
        spec,
        spec.profile,
        ca,
        files=files.files,
        spelling=CONFIG_SPELLING,
        from_dir=str(output.from_dir) if output.from_dir is not None else None,
    )
    # a size or a CA path off the board's, as pack says them; then from_dir's and packing's
    off = (size_mismatch(output.board, spec), ca_path_moved(output.board, spec))
    notes = (*(n for n in off if n), *files.notes, *packed.notes)
    return replace(packed, private=files.private, notes=notes, warnings=files.warnings)


def _pack(
    spec: ImageSpec,
    profile: FsProfile | str,
    ca: GatedCA,
    *,
    files: Sequence[tuple[str, bytes]],
    spelling: Spelling,
    timestamp: int | None = None,
    disk_version: int | None = None,
    from_dir: str | None = None,
) -> PackedImage:
    """pack_ca_image for ``spec`` (``from_dir``: where ``files`` came from, for hints);
    a board's partition with no room (to pack the files, or to rewrite them) is said to
    be too small (:func:`_board_too_small`), whoever packs it."""
    from .fs.edit import pack_ca_image  # deferred: images made on demand

    try:
        packed = pack_ca_image(
            spec.fs_type,
            profile,
            spec.size,
            ca,
            ca_path=spec.ca_path,
            files=files,
            timestamp=timestamp,
            platform=spec.platform,
            disk_version=disk_version,
            spelling=spelling,
            read_path=spec.read_path,
            from_dir=from_dir,
        )
    except ImageError as e:
        _board_too_small(e, spec)
        raise
    if packed.cramped is not None and spec.partitions:  # no other size fits the board
        return replace(packed, cramped=replace(packed.cramped, board=spec.board))
    return packed


def _board_too_small(e: ImageError, spec: ImageSpec) -> None:
    """A pack for a board's own partition that ran out of room: another size would not
    fit the board, so the hint says its partition is too small, not the size to give."""
    from .fs.base import FsHint  # deferred: images made on demand
    from .fs.edit import NEW_IMAGE  # deferred: as above

    if isinstance(e.worded, FsHint) and e.worded.no_room and spec.partitions:
        e.worded = replace(e.worded, board=spec.board)
        e.reword(NEW_IMAGE)


@dataclass(frozen=True, slots=True)
class NewImage:
    """An image to make, checked as the file-system layer would check it (``profile``
    resolved, a size or on-disk version it cannot have refused): ``pack`` says so before
    the CA is judged, then packs it the same way :func:`pack_ca` does. ``mismatch``:
    :func:`size_mismatch`'s note; ``moved``: :func:`ca_path_moved`'s; for the caller to
    say and the result to carry (:attr:`notes`, both)."""

    spec: ImageSpec
    profile: FsProfile
    disk_version: int | None = None
    mismatch: str | None = None
    moved: str | None = None

    @property
    def notes(self) -> tuple[str, ...]:
        return tuple(n for n in (self.mismatch, self.moved) if n)

    def pack(
        self,
        ca: GatedCA,
        *,
        files: Sequence[tuple[str, bytes]] = (),
        timestamp: int | None = None,
        spelling: Spelling = PYTHON,
        from_dir: str | None = None,
    ) -> PackedImage:
        """The image holding ``ca`` (then ``files``), mounted again and read back;
        ``spelling`` names how the caller's user moves the CA file, and ``from_dir`` the
        directory ``files`` came from, for the hints when a file would replace it."""
        packed = _pack(
            self.spec,
            self.profile,
            ca,
            files=files,
            spelling=spelling,
            timestamp=timestamp,
            disk_version=self.disk_version,
            from_dir=from_dir,
        )
        notes = (*self.notes, *packed.notes)  # packed's: a CA file left out of the files
        return replace(packed, notes=notes) if notes else packed


def new_image(
    spec: ImageSpec,
    board: Board | None = None,
    *,
    disk_version: int | None = None,
    spelling: Spelling = PYTHON,
) -> NewImage:
    """``spec`` (made for ``board``, if any) checked for making: ImageError for a profile
    of another file system, a size no whole number of blocks, an on-disk version its
    platform cannot read; nothing is made yet. A size under the file system's fewest
    blocks is refused by :meth:`NewImage.pack`, which knows the files and so hints the
    size that holds them (the fewest blocks hold no CA). ``spelling``: how the hints
    name the options (see :mod:`~esp_cabundle.spelling`)."""
    from .fs import check_new_image, get_profile  # deferred: images made on demand
    from .fs.base import TooSmallError  # deferred: as above

    prof = get_profile(spec.fs_type, spec.profile)
    with contextlib.suppress(TooSmallError):
        check_new_image(
            spec.fs_type,
            prof,
            spec.size,
            platform=spec.platform,
            disk_version=disk_version,
            spelling=spelling,
        )
    return NewImage(
        spec, prof, disk_version, size_mismatch(board, spec), ca_path_moved(board, spec)
    )


# A size given as text (the CLI's --size reads it): the number it means.
_SIZE_HINT = "give an int: size=0x40000 (or parse it: int('0x40000', 0))"


def pack_ca(
    ca: GatedCA,
    *,
    board: Board | None = None,
    fs_type: str | None = None,
    profile: str | None = None,
    size: int | None = None,
    ca_path: str | None = None,
    platform: str | None = None,
    disk_version: int | None = None,
    files: Sequence[tuple[str, bytes]] = (),
    timestamp: int | None = None,
) -> PackedImage:
    """``esp-cabundle pack`` as a library call: a new image holding ``ca`` at the board's
    CA path (then ``files``, as ``(path, bytes)``), mounted again and read back, in memory.

    With ``board`` its profile gives every parameter (``size`` and ``ca_path`` may
    replace its own; a contradicting ``fs_type`` or ``profile`` is an InputError), and
    ``ca`` must have been gated for that board (``gate_ca(..., board=board)``): its rules
    judged the CA. Without one, ``fs_type``, ``profile`` (or a LittleFS ``platform``)
    and ``size`` are required. ``disk_version`` (LittleFS) is 0x00020000 for on-disk
    2.0 or 0x00020001 for 2.1 (default: the profile's or platform's). The result's
    ``notes`` say when ``size`` fits none of the board's default partitions. Raises
    InputError or ImageError (nothing made); writing ``.data`` is the caller's.
    """
    check_ca_for_board(ca, board, "pack_ca", optional=True)
    if size is not None:
        require_int(size, "pack_ca's size= takes a number of bytes (int)", _SIZE_HINT)
    spec = image_spec(
        board, fs_type=fs_type, profile=profile, size=size, ca_path=ca_path, platform=platform
    )
    if board is not None:
        ca.for_board(board)
    image = new_image(spec, board, disk_version=disk_version)
    return image.pack(ca, files=files, timestamp=timestamp)
