"""Which shipped boards fit what an image or a unit shows.

A board names the file system its firmware reads (type and profile) and the partitions
it lives in. A board that contradicts an image or a unit's table is the wrong one, and
the user needs the right one named, not only the mismatch: these find it among the
shipped boards (``boards/*.yaml``).
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Literal

from .boards import list_boards
from .errors import InputError
from .fs.base import FS_NAMES
from .fs.lfs_platforms import cannot_mount, resolve_platform

if TYPE_CHECKING:
    from .board_model import Board
    from .fs import FileSystemImage
    from .partitions import PartitionTable

__all__ = [
    "ForeignMark",
    "board_misfit",
    "boards_for_image",
    "boards_for_table",
    "boards_marked",
    "foreign_mark",
    "image_profiles",
    "unmarked_firmware",
]

Misfit = Literal["fs", "platform", "profile"]


def image_profiles(image: FileSystemImage) -> tuple[str, ...]:
    """The profiles that could have made ``image``, most likely first: LittleFS detection
    keeps its candidates (a 2.0 image of the partition's size could be any platform's),
    and SPIFFS profiles sharing one on-disk layout (esp-idf, arduino, platformio differ
    only in how they write) cannot be told apart by the bytes."""
    if image.fs_type == "littlefs":
        # deferred: the LittleFS module is already loaded when a LittleFS image is open
        from .fs.littlefs import LittleFsImage

        if isinstance(image, LittleFsImage):
            return tuple(p.name for p in image.candidates)
        return (image.profile.name,)
    # deferred: as above, for SPIFFS
    from .fs.spiffs import SPIFFS_PROFILES, SpiffsProfile

    own = image.profile
    if not isinstance(own, SpiffsProfile):
        return (own.name,)
    layout = replace(own, name="", description="", write_chunk=0)
    same = [
        n
        for n, p in SPIFFS_PROFILES.items()
        if replace(p, name="", description="", write_chunk=0) == layout
    ]
    return (own.name, *(n for n in same if n != own.name))


def _describe(fs_type: str, profiles: tuple[str, ...]) -> str:
    return f"{FS_NAMES.get(fs_type, fs_type)} (profile {' or '.join(profiles)})"


def board_misfit(board: Board, image: FileSystemImage) -> tuple[Misfit, str] | None:
    """How ``board`` contradicts ``image``, and the sentence saying so; None if it fits
    (or keeps its CA compiled in, so has no file system to compare). ``"fs"``: another
    file system, which the board's firmware cannot mount; ``"platform"``: a LittleFS
    on-disk version the board's ``platform:`` cannot mount (2.1 on littlefs before 2.6,
    which a unit that formats on mount failure erases); ``"profile"``: the same file
    system, made for another platform as far as the bytes tell."""
    fs = board.filesystem
    if fs is None:
        return None
    profiles = image_profiles(image)
    where = fs.partitions or fs.subtypes
    kind = "partition" if fs.partitions else "subtype"
    on = f" on {kind} {', '.join(repr(p) for p in where)}" if where else ""
    unreadable = _unreadable_version(board, image)
    if fs.fs_type == image.fs_type and unreadable is not None:
        return "platform", unreadable
    if fs.fs_type == image.fs_type and fs.profile in profiles:
        return None
    said = (
        f"board {board.name}'s file system is {_describe(fs.fs_type, (fs.profile,))}{on}; "
        f"the image is {_describe(image.fs_type, profiles)}"
    )
    return ("fs" if fs.fs_type != image.fs_type else "profile"), said


def _unreadable_version(board: Board, image: FileSystemImage) -> str | None:
    """The sentence saying that ``board``'s LittleFS platform cannot mount ``image``'s
    on-disk version (:func:`.fs.lfs_platforms.cannot_mount`, as flash and ``fs`` judge
    it); None when it can, or when the board names no platform (any version: not
    judged, as flash does)."""
    fs = board.filesystem
    if fs is None or fs.platform is None or image.fs_type != "littlefs":
        return None
    # deferred: the LittleFS module is already loaded when a LittleFS image is open
    from .fs.littlefs import LittleFsImage

    if not isinstance(image, LittleFsImage):
        return None
    said = cannot_mount(image.disk_version, resolve_platform(fs.platform))
    if said is None:
        return None
    return f"board {board.name}'s {said} the image's on-disk version 2.1"


def boards_for_image(image: FileSystemImage) -> tuple[Board, ...]:
    """The shipped boards whose file system ``image`` is (and whose platform, if they
    name one, mounts its on-disk version), those of its likeliest profile first; where
    the image holds a file that marks a firmware (``/mdash.cfg``), only that firmware's
    boards (:func:`boards_marked`): an mDash image is no Arduino sketch's."""
    profiles = image_profiles(image)
    found = [b for b in _shipped() if b.filesystem is not None and board_misfit(b, image) is None]
    found = list(boards_marked(found, (f.path for f in image.files())) or found)
    return tuple(sorted(found, key=lambda b: profiles.index(b.filesystem.profile)))  # type: ignore[union-attr]


@functools.cache
def _shipped() -> tuple[Board, ...]:
    """The shipped boards, read once a process: the marks and the hints below ask for
    them again per board and per partition (each read parses every board file)."""
    return tuple(list_boards())


@functools.cache
def _marks() -> dict[str, str]:
    """Each file that marks a firmware, and that firmware's name: the ``config_files``
    of the shipped boards that name their ``firmware:`` (``/mdash.cfg``: mDash;
    ``/conf0.json``, ``/conf9.json``: Mongoose OS). Arduino and ESP-IDF sketches keep
    no file of their own, so a unit showing none of these runs no firmware named here."""
    marks: dict[str, str] = {}
    for b in _shipped():
        if b.firmware is not None and b.filesystem is not None:
            for path in b.filesystem.config_files:
                marks[path] = b.firmware.name
    return marks


def _firmware_of(board: Board) -> str | None:
    return board.firmware.name if board.firmware is not None else None


def boards_marked(boards: Sequence[Board], paths: Iterable[str]) -> tuple[Board, ...]:
    """Those of ``boards`` whose firmware the files ``paths`` mark (a unit whose
    partition holds ``/mdash.cfg`` runs mDash: ``mdash-arduino``, not
    ``arduino-esp32-spiffs``, whose CA rules would let a CA through that cuts it off
    mdash.net); () when no file marks a firmware, or none of ``boards`` runs it."""
    marks = _marks()
    shown = {marks[p] for p in paths if p in marks}
    return tuple(b for b in boards if _firmware_of(b) in shown)


@dataclass(frozen=True, slots=True)
class ForeignMark:
    """A file marking another firmware than a board's (:func:`foreign_mark`)."""

    path: str
    """The file (``/mdash.cfg``)."""
    firmware: str
    """The firmware it marks (``mdash``)."""
    fs_type: str
    """The file system holding it."""
    keepers: tuple[Board, ...]
    """The shipped boards of that firmware keeping it on that file system: () when none
    does (mDash keeps /mdash.cfg on SPIFFS alone; a LittleFS image may hold it too)."""
    elsewhere: tuple[Board, ...]
    """Those keeping it on another file system, which cannot mount it as it is."""

    @property
    def names(self) -> str:
        """The boards keeping the file, those of its file system if any."""
        return " or ".join(b.name for b in self.keepers or self.elsewhere)

    def no_keeper(self) -> str:
        """For a mark no shipped board of its file system keeps: why none is named, and
        the way on (a board named there would refuse the image as another file system's,
        whose hint named this board again)."""
        fs = FS_NAMES.get(self.fs_type, self.fs_type)
        others = sorted(
            {FS_NAMES.get(b.filesystem.fs_type, "") for b in self.elsewhere if b.filesystem}
        )
        keep = "keeps" if len(self.elsewhere) == 1 else "keep"
        return (
            f"no shipped board keeps {self.path} on {fs} ({self.names} {keep} it on "
            f"{' or '.join(others)}): name a board file made for that firmware on {fs}"
        )


def foreign_mark(board: Board, paths: Iterable[str], *, fs_type: str) -> ForeignMark | None:
    """The first of ``paths`` that marks another firmware than ``board``'s (``/mdash.cfg``
    under ``arduino-esp32-spiffs``), with the shipped boards of that firmware keeping it
    on ``fs_type`` (the file system holding ``paths``) and on others; None when no file
    does, or ``board`` keeps the file itself (a board file made for that firmware)."""
    own = set(board.filesystem.config_files) if board.filesystem is not None else set()
    marks = _marks()
    for path in paths:
        firmware = marks.get(path)
        if firmware is None or path in own or firmware == _firmware_of(board):
            continue
        if _profile_only_of(board, firmware):  # a board file made for that firmware
            continue
        keepers = [
            b
            for b in _shipped()
            if _firmware_of(b) == firmware
            and b.filesystem is not None
            and path in b.filesystem.config_files
        ]
        same = tuple(b for b in keepers if b.filesystem and b.filesystem.fs_type == fs_type)
        others = tuple(b for b in keepers if b not in same)
        return ForeignMark(path, firmware, fs_type, same, others)
    return None


def _profile_only_of(board: Board, firmware: str) -> bool:
    """Whether ``board`` names no firmware and its file system's profile is one only
    ``firmware``'s shipped boards use (a home-made Mongoose OS board, profile
    mongoose-os): it was made for that firmware, so its marks are its own. A profile
    others share too (esp-idf: mdash-arduino and esp-idf-spiffs) tells nothing."""
    fs = board.filesystem
    if board.firmware is not None or fs is None:
        return False
    users = {
        _firmware_of(b) for b in _shipped() if b.filesystem and b.filesystem.profile == fs.profile
    }
    return users == {firmware}


def boards_for_table(table: PartitionTable) -> tuple[Board, ...]:
    """The shipped boards whose file-system partitions ``table`` holds as each board
    takes them (:meth:`Board.fs_partitions`): the boards a unit with this table runs."""
    found = []
    for b in _shipped():
        if b.filesystem is None:
            continue
        try:
            b.fs_partitions(table)
        except InputError:  # PartitionTableError: not this board's partitions
            continue
        found.append(b)
    return tuple(found)


def unmarked_firmware(
    board: Board, table: PartitionTable, partition: str, paths: Iterable[str]
) -> str | None:
    """Why a unit may not run ``board``'s firmware although ``board`` fits its table: the
    file-system ``partition`` holds none of the files that firmware keeps (``paths``
    lacks ``/mdash.cfg``) and the unit's partition table is not the board's layout. A
    plain Arduino sketch's unit flashed as ``mdash-arduino`` fits by name, and its CA is
    then judged by rules that are not its firmware's. Only a warning: an mDash unit not
    yet provisioned holds no mdash.cfg either. None when a mark is there, the table is
    the board's own, or the board names no firmware that keeps a file."""
    fs, fw, layout = board.filesystem, board.firmware, board.layout
    if fs is None or fw is None or not fs.config_files or layout is None:
        return None
    if set(paths) & set(fs.config_files) or tuple(table) == tuple(layout):
        return None
    from .firmware import load_firmware  # deferred: as the refusals' titles

    try:
        title = load_firmware(fw.name).title
    except InputError:
        title = fw.name
    unit = next((p for p in table if p.name == partition), None)
    own = next((p for p in layout if p.name == partition), None)
    where = ""
    if unit is not None and own is not None and (unit.offset, unit.size) != (own.offset, own.size):
        where = (
            f" ({partition} at {unit.offset:#x}, {unit.size:#x} bytes; the board's layout "
            f"has it at {own.offset:#x}, {own.size:#x} bytes)"
        )
    others = [
        b.name
        for b in boards_for_table(table)
        if b.filesystem is not None
        and b.filesystem.fs_type == fs.fs_type
        and _firmware_of(b) != fw.name
    ]
    instead = f": {' or '.join(others)} (esp-cabundle boards lists them)" if others else ""
    return (
        f"partition '{partition}' holds no {' or '.join(fs.config_files)}, which {title} "
        f"keeps there, and the unit's partition table is not board {board.name}'s{where}: "
        f"the unit may not run {title}, whose CA rules judged this CA; if it runs another "
        f"firmware, name its board{instead}"
    )
