"""Offline work on file-system images: pack a new one, edit one in place (the files
a directory gives to pack: :mod:`.dirfiles`).

:func:`pack_ca_image` makes a new image holding a gated CA and other files (``esp-cabundle
pack``); :func:`pack_image` any files.
:func:`edit_image` applies puts and removes to an image on its own or to a partition
inside a flash dump (``esp-cabundle fs``), re-opens the result to prove every edit reads
back, and returns the new bytes of the whole container: bytes outside the partition are
kept byte for byte. Writing them (atomically) is the caller's job, so a failure anywhere
leaves the file as it was.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Literal

from ..errors import DumpNotImageError, ImageError, InputError, PartitionTableError
from ..spelling import PYTHON, Spelling, set_to
from ..text import byte_count, sized_repr
from . import _littlefs_only, create_image, detect_fs_type, get_profile, open_image
from .base import (
    ERASE_BLOCK,
    FS_NAMES,
    FileSystemImage,
    FsHint,
    FsProfile,
    HintContext,
    NoRoomError,
    SizeHint,
    TooSmallError,
    checked_path,
    normalize_path,
)
from .ca_files import ca_files
from .fit import (
    NoRewriteRoom,
    Trial,
    rewritable,
    rewrite_trial,
    smallest_fit,
    surely_rewritable,
)

if TYPE_CHECKING:
    from ..gate import GatedCA
    from ..partitions import Partition

__all__ = [
    "EditResult",
    "FileEdit",
    "ImageRegion",
    "PackedImage",
    "dump_fs_partitions",
    "edit_image",
    "locate_image",
    "looks_like_pem",
    "pack_ca_image",
    "pack_image",
]


@dataclass(frozen=True, slots=True)
class ImageRegion:
    """Where a file-system image sits inside ``container`` (a whole image: offset 0)."""

    __repr__ = sized_repr  # its bytes as their size

    container: bytes
    offset: int
    size: int

    @property
    def data(self) -> bytes:
        return self.container[self.offset : self.offset + self.size]

    def with_image(self, image: bytes | memoryview) -> bytes | memoryview:
        """The container with the image bytes replaced and everything else kept: the
        image itself when it is the whole container (not copied), else one new copy."""
        if len(image) != self.size:
            raise ImageError(f"image is {len(image)} bytes, the region {self.size}")
        if self.size == len(self.container):
            return image
        whole = memoryview(self.container)
        return b"".join((whole[: self.offset], image, whole[self.offset + self.size :]))


def locate_image(
    container: bytes,
    *,
    offset: int = 0,
    size: int | None = None,
    source: str = "<image>",
    spelling: Spelling = PYTHON,
) -> ImageRegion:
    """The image region: the whole input, or ``size`` bytes at ``offset`` of a dump.

    Without ``size`` at a non-zero offset, a LittleFS partition's size comes from its
    superblock; a SPIFFS partition's cannot be known from its bytes and must be given.
    ``spelling``: how the hints name ``offset`` and ``size`` (see
    :mod:`~esp_cabundle.spelling`).
    """
    total = len(container)
    if not total:
        raise InputError(
            "empty file, not a file-system image or flash dump",
            path=source,
            hint="give a partition image or a whole-flash dump",
        )
    if offset < 0 or offset % ERASE_BLOCK:
        raise InputError(
            f"offset 0x{offset:X} is not a multiple of 0x{ERASE_BLOCK:X}",
            path=source,
            hint="file-system partitions start on a 4 KiB boundary (see the partition table)",
        )
    if offset >= total:
        raise InputError(
            f"offset 0x{offset:X} is past the end of the file ({byte_count(total)})", path=source
        )
    # A size without an offset is a dump's start too (fs ls dump.bin --size 4K read its
    # bootloader's erased head: "all 4096 bytes are 0xFF").
    if offset == 0 and detect_fs_type(container if size is None else container[:size]) is None:
        if looks_like_pem(container):
            raise InputError(
                "PEM text (certificates), not a file-system image",
                path=source,
                hint="give a partition image or a whole-flash dump",
            )
        _refuse_whole_dump(container, source, spelling, sized=size is not None)
    if size is None:
        size = (
            total if offset == 0 else _size_from_bytes(container[offset:], offset, source, spelling)
        )
    if size <= 0 or offset + size > total:
        raise InputError(
            f"partition 0x{offset:X}+0x{size:X} runs past the end of the file "
            f"({byte_count(total)})",
            path=source,
            hint=f"check {spelling.offset} and {spelling.size} against the partition table",
        )
    return ImageRegion(container, offset, size)


def looks_like_pem(data: bytes) -> bool:
    """Text with a PEM block near its start: a CA file, never an image or a dump."""
    head = data[:0x4000]
    return b"-----BEGIN " in head and b"\x00" not in head


def dump_fs_partitions(container: bytes) -> tuple[int, list[Partition]]:
    """For a whole-flash dump: its partition table's offset and the partitions holding a
    file system (those whose bytes are one, else every fs-subtype data partition);
    (-1, []) when ``container`` has no valid partition table."""
    from ..partitions import read_partition_table  # deferred: dumps only

    try:
        table = read_partition_table(container, check_size=False)
    except PartitionTableError:
        return -1, []
    inside = [p for p in table if p.may_hold_fs and p.offset + p.size <= len(container)]
    mounted = [p for p in inside if detect_fs_type(container[p.offset : p.offset + p.size])]
    return table.offset, mounted or inside


def partition_at(container: bytes, offset: int) -> Partition | None:
    """The entry of a whole-flash dump's partition table that starts at ``offset``
    (whatever its bytes hold), or None: no table, or no entry there."""
    from ..partitions import read_partition_table  # deferred: as above

    try:
        table = read_partition_table(container, check_size=False)
    except PartitionTableError:
        return None
    return next((p for p in table if p.offset == offset), None)


def _refuse_whole_dump(
    container: bytes, source: str, spelling: Spelling, *, sized: bool = False
) -> None:
    """A whole-flash dump given where a file-system image is expected: say so, with the
    partitions to name (nothing else would mount at offset 0); ``sized``: a size was
    given without an offset, which then reads the dump's start."""
    off, parts = dump_fs_partitions(container)
    if off < 0:
        _refuse_broken_dump(container, source, spelling)
        return
    where = "; ".join(
        f"{p.name}: {set_to(spelling.offset, p.offset)} {set_to(spelling.size, p.size)}"
        for p in parts
    )
    start = f": {spelling.size} without {spelling.offset} reads its start" if sized else ""
    raise DumpNotImageError(
        f"a whole-flash dump (partition table at {off:#x}), not a file-system image{start}",
        path=source,
        partitions=tuple((p.name, p.offset, p.size) for p in parts),
        hint=f"name its file-system partition: {where}"
        if parts
        else _no_fs_hint(container, spelling),
    )


def _refuse_off_table(region: ImageRegion, spelling: Spelling) -> None:
    """An edit of a dump's slice that is not one partition of its table, from its start.
    LittleFS keeps its superblock twice, so one block into a partition it mounts, and an
    edit there wrote blocks numbered from the wrong start (the unit mounts from the
    partition's start and finds them corrupt); a size past the entry's end let the file
    system write into the next partition. Reads are left alone: they change nothing."""
    if not region.offset:
        return  # an image read whole, or a dump's start (refused as no file system)
    from ..partitions import read_partition_table  # deferred: dumps only

    try:
        table = read_partition_table(region.container, check_size=False)
    except PartitionTableError:
        return  # no table to hold the slice to
    start, end = region.offset, region.offset + region.size
    held = next((p for p in table if p.offset <= start < p.offset + p.size), None)
    if held is not None and start == held.offset and end <= held.offset + held.size:
        return
    if held is None:
        why = f"{set_to(spelling.offset, start)} is in no partition of the dump's table"
    elif start != held.offset:
        why = (
            f"{set_to(spelling.offset, start)} is {start - held.offset:#x} into partition "
            f"{held.name} (at {held.offset:#x}), which the unit mounts from its start: an "
            "edit there would write blocks the unit cannot read"
        )
    else:
        why = (
            f"{set_to(spelling.size, region.size)} runs {end - held.offset - held.size:#x} past "
            f"the end of partition {held.name} ({held.offset:#x}+{held.size:#x}): an edit "
            "could write into the partition after it"
        )
    parts = [p for p in table if p.may_hold_fs]
    where = "; ".join(
        f"{p.name}: {set_to(spelling.offset, p.offset)} {set_to(spelling.size, p.size)}"
        for p in parts
    )
    raise InputError(
        f"{why}; nothing was changed",
        hint=f"edit a file-system partition of the dump's table: {where}"
        if parts
        else "edit the file-system partition the dump's table lists",
    )


def _refuse_broken_dump(container: bytes, source: str, spelling: Spelling) -> None:
    """Bytes with a well-formed first partition entry at 0x8000 (where every framework
    puts the table) whose table does not read: a dump, said so with the table's fault,
    rather than 'neither LittleFS nor SPIFFS'."""
    from ..partitions import DEFAULT_TABLE_OFFSET as AT  # deferred: dumps only
    from ..partitions import Partition, PartitionTable  # deferred: as above

    try:
        Partition.from_binary(container[AT : AT + 32])
    except PartitionTableError:
        return  # two stray bytes that read aa 50, or none
    try:
        PartitionTable.from_binary(container[AT:], offset=AT)
    except PartitionTableError as e:
        raise InputError(
            f"a whole-flash dump whose partition table does not read: {e.message}",
            path=source,
            hint=f"give the file-system partition's {spelling.offset} and {spelling.size} "
            "(from the firmware's partitions.csv)",
        ) from e


def _no_fs_hint(container: bytes, spelling: Spelling) -> str:
    """Why a dump offers no file-system partition: none listed, or each one listed ends
    past the end of the file (a dump cut short, or a table from another flash)."""
    from ..partitions import read_partition_table  # deferred: dumps only

    table = read_partition_table(container, check_size=False)
    cut = [p for p in table if p.may_hold_fs and p.end > len(container)]
    if not cut:
        return "its partition table lists no file-system partition"
    where = ", ".join(f"{p.name} ({p.offset:#x}-{p.end - 1:#x})" for p in cut)
    ends = "partition ends" if len(cut) == 1 else "partitions end"
    return (
        f"its file-system {ends} past the end of the {len(container):#x}-byte file: {where}; "
        f"is the dump cut short (read it whole: {spelling.read_all}), or the table another "
        "flash's?"
    )


def _size_from_bytes(data: bytes, offset: int, source: str, spelling: Spelling) -> int:
    kind = detect_fs_type(data)
    if kind == "littlefs":
        from .lfs_superblock import find_superblock  # deferred: LittleFS only

        sb = find_superblock(data)
        if sb is not None:
            return sb.fs_bytes
    raise InputError(
        f"the size of the partition at 0x{offset:X} cannot be read from its bytes",
        path=source,
        hint=f"give {spelling.size} (the partition's size from the partition table)",
    )


@dataclass(frozen=True, slots=True)
class FileEdit:
    """Put ``data`` at ``path``, or remove ``path``."""

    action: Literal["put", "rm"]
    path: str
    data: bytes = b""


@dataclass(frozen=True, slots=True)
class EditResult:
    """The edited container and what changed, for the caller to write and report."""

    __repr__ = sized_repr  # its bytes as their size

    container: bytes | memoryview  # the edited image's own bytes when it is the whole file
    region: ImageRegion
    image: FileSystemImage
    changed_blocks: tuple[int, ...]  # 4 KiB blocks of the image (not of the container)

    @property
    def changed_offsets(self) -> tuple[int, ...]:
        """Container offsets of the changed blocks (flash addresses for a dump)."""
        return tuple(self.region.offset + b * ERASE_BLOCK for b in self.changed_blocks)

    @property
    def block_total(self) -> int:
        return self.region.size // ERASE_BLOCK


def edit_image(
    region: ImageRegion,
    edits: Sequence[FileEdit],
    *,
    fs_type: str | None = None,
    profile: FsProfile | str | None = None,
    timestamp: int | None = None,
    platform: str | None = None,
    disk_version: int | None = None,
    spelling: Spelling = PYTHON,
) -> EditResult:
    """Apply ``edits`` in order and verify them on a fresh mount of the result.

    Putting a file that already holds exactly those bytes changes nothing.
    ``timestamp`` sets the time attributes of written files where the (LittleFS)
    profile keeps them. The LittleFS on-disk version never changes: an image
    ``platform`` cannot mount, or a ``disk_version`` other than the image's, is refused.
    ``spelling``: how the hints name the options (see :mod:`~esp_cabundle.spelling`).
    """
    _refuse_off_table(region, spelling)
    image = open_image(
        region.data,
        fs_type=fs_type,
        profile=profile,
        platform=platform,
        disk_version=disk_version,
        spelling=spelling,
    )
    _set_timestamp(image, timestamp)
    for e in edits:
        if e.action == "put":
            if timestamp is None and image.exists(e.path) and image.read(e.path) == e.data:
                continue  # already there: writing it again would only wear the flash
            image.write(e.path, e.data)
        else:
            image.remove(e.path)
    # The edited bytes are verified and returned where they lie: a copy of a 256 MiB
    # image for each step took 1.9 GB for one put (see benchmarks/bench_fs_memory.py).
    new = image.data_view()
    check = image.reopened()
    final: dict[str, bytes | None] = {}
    for e in edits:
        final[normalize_path(e.path)] = e.data if e.action == "put" else None
    files, empty = check.listing()  # an empty directory removed is not listed either
    listed = {f.path for f in files} | set(empty)
    for path, want in final.items():
        if want is None:
            if path in listed:  # (a SPIFFS name such as '/a/../b' no lookup takes)
                raise ImageError(f"{path} is still listed after removing it; nothing written")
        elif check.read(path) != want:
            raise ImageError(f"{path} does not read back as written; nothing written")
    check.close()  # its mount shares ``new``; nothing edits the image after this
    return EditResult(
        container=region.with_image(new),
        region=region,
        image=image,
        changed_blocks=tuple(image.changed_blocks()),
    )


def _set_timestamp(image: FileSystemImage, timestamp: int | None) -> None:
    if timestamp is None:
        return
    from .littlefs import LittleFsImage  # deferred: LittleFS only

    if not isinstance(image, LittleFsImage) or not image.profile.time_attributes:
        raise InputError(
            f"{image.fs_type} profile {image.profile.name} keeps no time attributes",
            hint="timestamps apply to the littlefs esp-idf, arduino and platformio profiles",
        )
    image.timestamp = timestamp


@dataclass(frozen=True, slots=True)
class PackedImage:
    """A new image and the files it holds, in the order they were written."""

    __repr__ = sized_repr  # its bytes as their size

    data: bytes
    image: FileSystemImage
    files: tuple[tuple[str, int], ...]  # (path, size)
    private: bool = False  # holds a file kept from others: write it PRIVATE
    notes: tuple[str, ...] = ()  # packed from a directory: entries left out, and why
    warnings: tuple[str, ...] = ()  # ... and files holding a private key
    cramped: NoRewriteRoom | None = None  # holds the files, but no room to rewrite them


NEW_IMAGE = HintContext(new_image=True)
"""How pack's errors are worded: the image is being made, so none was there to leave
unchanged (nothing was written) and a full one has no files to remove but those being
packed."""


def pack_image(
    fs_type: str,
    profile: FsProfile | str,
    size: int,
    files: Sequence[tuple[str, bytes]],
    *,
    timestamp: int | None = None,
    platform: str | None = None,
    disk_version: int | None = None,
    spelling: Spelling = PYTHON,
    ca_path: str | None = None,
) -> PackedImage:
    """A new image of ``size`` bytes holding ``files`` (written in order), verified by
    mounting it again. ``timestamp`` sets LittleFS time attributes where the profile
    keeps them; ``platform``/``disk_version`` choose LittleFS's on-disk version;
    ``spelling`` as for :func:`edit_image`. An image that holds the files but takes no
    rewrite in place of its CA file (at ``ca_path``, default the profile's;
    :func:`.fit.rewrite_trial`: a CA update, twice the file's size) comes back
    ``cramped``, with the size that would (:mod:`.fit`); one that does not hold them
    names that size in its hint."""
    seen: set[str] = set()
    for path, _ in files:
        p = normalize_path(path)
        if p in seen:
            raise InputError(f"{p} is given twice", hint="each file may appear once")
        seen.add(p)
    prof = get_profile(fs_type, profile) if isinstance(profile, str) else profile
    target = normalize_path(ca_path or prof.ca_path)
    trial = rewrite_trial(files, target)
    trial_path = normalize_path(trial[0]) if trial is not None else ""
    need = len(trial[1]) if trial is not None and trial_path == target else None

    def packed(at: int) -> tuple[PackedImage, bool | None]:
        return _packed_image(
            fs_type, prof, at, files, trial, timestamp, platform, disk_version, spelling
        )

    def holds(at: int) -> None:
        _, room = packed(at)
        if room is None:
            raise ImageError(f"the rewrite trial of {trial_path} was refused")
        if not room:
            raise NoRoomError(f"no room to rewrite {trial_path} at {at} bytes")

    try:
        made, room = packed(size)
    except NoRoomError as e:
        # the size that holds the files, said in the caller's words (size=, --size ...)
        fits = smallest_fit(holds, size, prof, files)
        e.worded = FsHint(no_room=True, fits=fits, spelling=spelling)
        e.reword(NEW_IMAGE)
        raise
    except TooSmallError as e:
        # below the file system's fewest blocks: the size that holds the files instead
        # (its least size holds no CA), searched from one block under that least size
        fits = smallest_fit(holds, e.smallest - prof.block_size, prof, files)
        if fits is not None:
            e.worded = SizeHint(fits, spelling, holds_files=True)
        e.reword(NEW_IMAGE)
        raise
    except ImageError as e:
        e.reword(NEW_IMAGE)  # the file-system layer's words are for an image being edited
        raise
    if room is not False:  # room, or refused for another reason: nothing to warn of
        return made
    fits = smallest_fit(holds, size, prof, files)
    return replace(made, cramped=NoRewriteRoom(trial_path, size, fits, spelling, need=need))


def _packed_image(
    fs_type: str,
    prof: FsProfile,
    size: int,
    files: Sequence[tuple[str, bytes]],
    trial: Trial | None,
    timestamp: int | None,
    platform: str | None,
    disk_version: int | None,
    spelling: Spelling,
) -> tuple[PackedImage, bool | None]:
    """:func:`pack_image` at ``size``, its hints worded for an image being edited, and
    whether it takes a rewrite of ``trial`` in place (None: the trial was refused
    for another reason than room). The trial edits a scratch copy and the result's image
    is opened anew from the bytes: packing holds about twice the image, as before."""
    image: FileSystemImage
    check: FileSystemImage
    if fs_type == "spiffs" and prof.fs_type == "spiffs":
        # the vendor tool's layout (spiffsgen / mkspiffs8), not SPIFFS's runtime one;
        # mounting the built bytes is already the check
        from .spiffs import SpiffsImage, SpiffsProfile, build_spiffs_image  # deferred: SPIFFS

        _littlefs_only(fs_type, platform, disk_version, spelling)
        assert isinstance(prof, SpiffsProfile)
        spiffs = build_spiffs_image(files, size=size, profile=prof)
        image = SpiffsImage.open(spiffs, prof)  # (mounting writes nothing)
        built: bytes | None = spiffs
        _set_timestamp(image, timestamp)
        check = image
    else:
        image = create_image(
            fs_type, prof, size, platform=platform, disk_version=disk_version, spelling=spelling
        )
        _set_timestamp(image, timestamp)
        for path, data in files:
            image.write(path, data)
        # A mount of the image's own bytes, not of a copy: the proof costs no memory.
        check = image.reopened()
        built = None
    for path, content in files:
        if check.read(path) != content:
            raise ImageError(f"{normalize_path(path)} does not read back from the new image")
    if check is not image:
        check.close()
    data = built if built is not None else image.to_bytes()  # copied once it is proven
    listed = tuple((normalize_path(p), len(d)) for p, d in files)
    if surely_rewritable(image, trial):  # roomy: no trial, and the image is the result's
        return PackedImage(data=data, image=image, files=listed), True
    if built is None:  # littlefs opens lazily: the scratch copies the image once written
        image.close()
        del image  # freed here (no reference cycle holds it): packing holds two images
        image = open_image(data, profile=prof, platform=platform, disk_version=disk_version)
    try:
        room: bool | None = rewritable(image, trial)  # SPIFFS: its mounted copy is the scratch
    except InputError:
        room = None
    image.close()
    del image
    image = open_image(data, profile=prof, platform=platform, disk_version=disk_version)
    _set_timestamp(image, timestamp)
    packed = PackedImage(data=data, image=image, files=listed)
    return packed, room


def pack_ca_image(
    fs_type: str,
    profile: FsProfile | str,
    size: int,
    ca: GatedCA,
    *,
    ca_path: str | None = None,
    files: Sequence[tuple[str, bytes]] = (),
    timestamp: int | None = None,
    platform: str | None = None,
    disk_version: int | None = None,
    spelling: Spelling = PYTHON,
    read_path: str | None = None,
    from_dir: str | None = None,
) -> PackedImage:
    """A new image holding a gated CA at ``ca_path`` (default: the profile's), then
    ``files``; see :func:`pack_image`. The CA is written as the gate rendered it.
    ``spelling``: how the caller's user sets ``ca_path`` (a parameter, a flag or a config
    key), for the hints. ``read_path``: where the board's firmware reads its CA; see
    :func:`.ca_files.ca_files` for the files refused or left out there and at
    ``ca_path``; ``from_dir``: the directory ``files`` came from, named in its hints."""
    prof = get_profile(fs_type, profile) if isinstance(profile, str) else profile
    target = checked_path(ca_path or prof.ca_path, f"{FS_NAMES[prof.fs_type]} image's CA file")
    kept, notes = ca_files(ca, target, files, read_path, spelling, from_dir)
    packed = pack_image(
        fs_type,
        prof,
        size,
        [(target, ca.pem), *kept],
        timestamp=timestamp,
        platform=platform,
        disk_version=disk_version,
        spelling=spelling,
        ca_path=target,
    )
    return replace(packed, notes=notes) if notes else packed
