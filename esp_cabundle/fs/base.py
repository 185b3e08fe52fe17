"""The one interface both file systems (SPIFFS, LittleFS) present.

An image is opened from bytes (or created empty), edited in memory, and turned back into
bytes; nothing here touches files or devices. ``changed_blocks()`` tells which 4 KiB
erase blocks differ from the bytes the image was opened with, so a flasher can write
only those.

Paths: every method takes ``"/ca.pem"`` or ``"ca.pem"`` and lists paths with a leading
``/`` (as ESP-IDF's VFS shows them under the mount point). How a name is stored on disk
(``/ca.pem`` for ESP-IDF SPIFFS, ``ca.pem`` for Mongoose OS) is the profile's business.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType
from typing import ClassVar, Protocol, TypeVar, overload

from ..arguments import require_image_path
from ..blocks.source import SECTOR_SIZE
from ..errors import ImageError
from ..sizes import size_words
from ..spelling import PYTHON, Spelling
from ..text import printable_name as shown_path

__all__ = [
    "EDITING",
    "ERASE_BLOCK",
    "FS_NAMES",
    "IN_PARTITION",
    "NO_FILE_HINT",
    "NO_ROOM_HINT",
    "UNCHANGED_HINT",
    "Bytes",
    "Erased",
    "FileInfo",
    "FileSystemImage",
    "FsHint",
    "FsProfile",
    "HintContext",
    "NoRoomError",
    "SizeHint",
    "TooSmallError",
    "checked_new_path",
    "checked_path",
    "is_littlefs",
    "normalize_path",
    "shown_path",
]

# ESP32 NOR flash erase granularity; every profile uses 4 KiB logical blocks.
ERASE_BLOCK = SECTOR_SIZE


@dataclass(frozen=True, slots=True)
class HintContext:
    """Who reads a file-system error's hint; :meth:`FsHint.text` words it for them."""

    new_image: bool = False  # being made (pack): none was there to change or free
    # read from a partition of a unit or dump: its size is the partition table's
    partition: bool = False
    output: str | None = None  # where a new image would have gone (printable)
    # how the reader names its options (its ``size`` sets the partition's size); None:
    # the error's own, with no size named where it did not say how to give one
    spelling: Spelling | None = None
    ls_command: str = "esp-cabundle fs ls IMAGE"  # how the reader lists the files
    # how the reader gives a size of n bytes instead, and why that size (the CLI: the
    # typed line, mended)
    resized: Callable[[int, str], str] | None = None


EDITING = HintContext()  # an image being edited, read by a Python caller
IN_PARTITION = HintContext(partition=True)  # a partition's file system, on a unit or dump


@dataclass(frozen=True, slots=True)
class FsHint:
    """What a failed file-system operation's hint says, as facts; worded on demand
    (:meth:`~esp_cabundle.errors.ImageError.reword`), never patched as text."""

    advice: str | None = None  # said first ("use a shorter name")
    unchanged: bool = True  # the image is as it was
    no_room: bool = False  # it did not fit: where room may be found
    no_file: bool = False  # the file is not there: how to see those that are
    fits: int | None = None  # with no_room: the least size that holds the files (a pack's)
    # and leaves room to rewrite the largest in place (esp_cabundle.fs.fit)
    spelling: Spelling = PYTHON  # how the caller names its options (``size`` sets that size)
    board: str | None = None  # the image is for this board's partition: no size to give

    def text(self, context: object = None) -> str:
        ctx = context if isinstance(context, HintContext) else EDITING
        if self.no_file:
            return f"list the files the image holds: {ctx.ls_command}"
        parts = [self.advice] if self.advice else []
        if self.unchanged and ctx.new_image:
            parts.append("nothing was written" + (f" to {ctx.output}" if ctx.output else ""))
        elif self.unchanged:
            parts.append("the image was not changed")
        if self.no_room and ctx.new_image and self.board is not None:
            parts.append(self._board_text())
        elif self.no_room and ctx.new_image and self.fits is not None:
            hint = SizeHint(self.fits, ctx.spelling or self.spelling)
            parts.append(
                f"use a larger partition ({hint.setting()} holds these files and leaves room "
                "to rewrite them), or pack fewer files"
            )
        elif self.no_room and ctx.new_image:
            size = f" ({ctx.spelling.size})" if ctx.spelling else ""
            parts.append(f"use a larger partition{size}, or pack fewer files")
        elif self.no_room:
            parts.append("free space by removing files, or use a larger partition")
        return "; ".join(parts)

    def _board_text(self) -> str:
        """A board's partition too small: another size would not fit the board, so the
        way out is a smaller CA or a partition table with a bigger partition."""
        need = (
            f" (they need {size_words(self.fits)} with room to rewrite them)" if self.fits else ""
        )
        bigger = f" ({size_words(self.fits)} or more)" if self.fits else ""
        return (
            f"board {self.board}'s file-system partition is too small for these files"
            f"{need}: pack a smaller bundle (fewer roots) or fewer files, or use a "
            f"partition table with a bigger one{bigger}"
        )


@dataclass(frozen=True, slots=True)
class SizeHint:
    """A new image too small for its file system: the smallest size it can have, worded
    as ``spelling.size`` (the caller's: ``size=``, ``--size``) sets it, or as the
    reader gives it (:attr:`HintContext.resized`: the line as typed, mended)."""

    smallest: int
    spelling: Spelling = PYTHON
    largest: bool = False  # ``smallest`` is the most it can be, not the least
    holds_files: bool = False  # ``smallest`` holds the files packed, with room to rewrite

    @property
    def option(self) -> str:
        """How the caller sets a size, as its spelling says."""
        return self.spelling.size

    def text(self, context: object = None) -> str:
        resized = context.resized if isinstance(context, HintContext) else None
        if resized is not None and not self.largest:
            why = (
                "the least that holds these files and leaves room to rewrite them"
                if self.holds_files
                else "the least it can be; the files need room too"
            )
            return resized(self.smallest, why)
        if self.option.endswith("=") or self.option.startswith("-") or self.option.endswith(":"):
            return f"give {self.setting()}"
        bound = "or less" if self.largest else "or more"
        return f"make the partition {size_words(self.smallest)} {bound} ({self.option})"

    def setting(self) -> str:
        """``size=12288 or more``, ``--size 12K or more``: the size as the option takes
        it (a Python parameter a literal, a flag or a config key in size words)."""
        bound = "or less" if self.largest else "or more"
        if self.option.endswith("="):
            return f"{self.option}{self.smallest} {bound}"
        value = size_words(self.smallest)
        if self.option.startswith("-") or self.option.endswith(":"):
            return f"{self.option} {value} {bound}"
        return f"a partition of {value} {bound} ({self.option})"


class TooSmallError(ImageError):
    """A new image smaller than its file system can be (``smallest`` bytes, its fewest
    blocks): a pack, which knows the files, hints the size that holds them instead."""

    def __init__(self, message: str, *, smallest: int, hint: SizeHint | None = None) -> None:
        super().__init__(message, hint=hint)
        self.smallest = smallest


class NoRoomError(ImageError):
    """Files that do not fit the image: a pack searches for the size that holds them."""


# What a read of a missing file adds: where to see what the image holds.
NO_FILE_HINT = FsHint(no_file=True)
# An edit that ran out of room: the image is as it was, and where room may be found.
NO_ROOM_HINT = FsHint(no_room=True)
# Anything else that left the image as it was.
UNCHANGED_HINT = FsHint()


class Bytes(Protocol):
    """What a file system is told apart or read from: bytes, or a lazy view of a unit's
    flash that fetches only the slices asked for."""

    def __len__(self) -> int: ...

    @overload
    def __getitem__(self, index: int) -> int: ...
    @overload
    def __getitem__(self, index: slice) -> bytes: ...


class Erased:
    """``size`` erased bytes (0xFF) as :class:`Bytes`, none of them held: what a new
    image is compared with (its blocks changed since it was made)."""

    def __init__(self, size: int) -> None:
        self.size = size

    def __len__(self) -> int:
        return self.size

    @overload
    def __getitem__(self, index: int) -> int: ...
    @overload
    def __getitem__(self, index: slice) -> bytes: ...
    def __getitem__(self, index: int | slice) -> int | bytes:
        if isinstance(index, slice):
            return b"\xff" * len(range(*index.indices(self.size)))
        if not -self.size <= index < self.size:
            raise IndexError("index out of range")
        return 0xFF


# LittleFS's magic, and where block 1 may start when block 0 is unreadable (4096 first:
# every ESP32 profile). Here rather than in lfs_superblock, so that telling the two file
# systems apart does not import LittleFS's modules.
LFS_MAGIC = b"littlefs"
LFS_BLOCK_SIZE_GUESSES = (4096, 128, 256, 512, 1024, 2048, 8192, 16384, 32768, 65536)


def is_littlefs(data: Bytes) -> bool:
    """True when block 0 or 1 carries the ``littlefs`` magic at offset 8."""
    if data[8:16] == LFS_MAGIC:
        return True
    return any(data[bs + 8 : bs + 16] == LFS_MAGIC for bs in LFS_BLOCK_SIZE_GUESSES)


def normalize_path(path: str) -> str:
    """``ca.pem`` -> ``/ca.pem``: the leading ``/`` a firmware path has, added to a bare
    name. Nothing else changes: ``//ca.pem`` or ``/ca.pem\r`` stays itself (refused by
    :func:`checked_path`), never silently another file's name."""
    return path if path.startswith("/") else "/" + path


FS_NAMES = {"spiffs": "SPIFFS", "littlefs": "LittleFS"}


def checked_path(path: str, fs_name: str, *, new: bool = True) -> str:
    """The one check of a file name a user or a file gives (``fs put``/``rm``/``cat``,
    ``pack --ca-path``, ``ca_path:`` of an image output or a board): the normalized
    path, or ImageError. Refused always: a NUL, and an empty (``//ca.pem``, ``/a//b``),
    ``.`` or ``..`` part, which littlefs resolves to another file and SPIFFS stores
    verbatim. ``new`` (a file to create) refuses too what no firmware should be handed:
    control characters (a newline splits listings and logs) and a part that starts or
    ends with a space; a lookup of such a name just finds no file. A name is never
    trimmed or collapsed into another."""
    what = f"invalid file name '{shown_path(path)}' for the {fs_name}"
    if "\0" in path:
        raise ImageError(f"{what}: it holds a NUL byte")
    p = normalize_path(path)
    parts = p[1:].split("/")
    if new and any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in p):
        raise ImageError(
            f"{what}: it holds a control character", hint="use printable characters only"
        )
    if new and any(part != part.strip() for part in parts):
        raise ImageError(
            f"{what}: a part starts or ends with a space",
            hint="remove the spaces around the name (a name is never trimmed silently)",
        )
    if any(part in ("", ".", "..") for part in parts):
        raise ImageError(
            f"{what}: empty, '.' and '..' parts are not allowed",
            hint="give the absolute path the firmware opens, with single slashes, e.g. /ca.pem",
        )
    return p


def checked_new_path(path: str, fs_name: str) -> str:
    """:func:`checked_path` of a file to create in a ``fs_name`` image."""
    return checked_path(path, f"{fs_name} image")


@dataclass(frozen=True, slots=True)
class FsProfile:
    """Parameters every profile shares; each file system subclasses it with its own.

    ``ca_path`` is where the platform's firmware looks for its CA file by default.
    """

    name: str
    fs_type: str  # "spiffs" or "littlefs"
    block_size: int
    ca_path: str
    description: str


@dataclass(frozen=True, slots=True)
class FileInfo:
    path: str  # with a leading "/"
    size: int


_Image = TypeVar("_Image", bound="FileSystemImage")


class FileSystemImage(ABC):
    """An in-memory file-system image with a uniform file API.

    :meth:`close` it (or use it as a context manager) when done: a LittleFS image
    holds native memory from its mount until then, freed otherwise only when the
    object is collected."""

    fs_type: ClassVar[str]

    def close(self) -> None:
        """Free what the file system holds outside Python (LittleFS: littlefs' caches,
        malloc'd at mount and freed only at unmount). Its files are not read or edited
        after it (ImageError); its bytes (:meth:`to_bytes`) still are. Closing twice
        does nothing; SPIFFS holds nothing to free."""
        return None

    def __enter__(self: _Image) -> _Image:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    @property
    @abstractmethod
    def profile(self) -> FsProfile:
        """The platform profile the image follows (detected or given)."""

    @property
    @abstractmethod
    def size(self) -> int:
        """Image size in bytes (the partition size)."""

    @abstractmethod
    def files(self) -> list[FileInfo]:
        """Every file, sorted by path."""

    def empty_dirs(self) -> list[str]:
        """Every directory holding nothing, sorted: left by removing its last file (a
        unit's unlink, as ``fs rm``, keeps it) or made by the firmware. :meth:`files`
        lists files only, so without this an image could hold what no listing shows.
        None in SPIFFS: its names may hold ``/``, but it has no directories."""
        return []

    def listing(self) -> tuple[list[FileInfo], list[str]]:
        """:meth:`files` and :meth:`empty_dirs`, from one walk where they share one."""
        return self.files(), self.empty_dirs()

    @abstractmethod
    def read(self, path: str) -> bytes:
        """A file's content; ImageError if absent."""

    @abstractmethod
    def write(self, path: str, data: bytes) -> None:
        """Create or replace a file; ImageError (image unchanged) if it cannot fit."""

    @abstractmethod
    def remove(self, path: str) -> None:
        """Delete a file, or an empty directory (:meth:`empty_dirs`); ImageError if
        absent, or a directory that holds files."""

    @abstractmethod
    def rename(self, src: str, dst: str) -> None:
        """Rename a file in place, as the file system's own rename does (no data copied);
        ImageError, with the image unchanged, if it refuses."""

    @abstractmethod
    def to_bytes(self) -> bytes:
        """The whole image as it would be flashed."""

    def data_view(self) -> memoryview:
        """:meth:`to_bytes` without the copy where the bytes are in memory: an edit of a
        256 MiB image is verified and written holding its bytes twice, not five times.
        Read-only. It keeps the bytes it shows: an edit after it is made writes a copy
        (paid only by an edit that follows a view; none does in this package)."""
        return memoryview(self.to_bytes())

    def free_blocks(self) -> int | None:
        """Blocks (of the profile's block size) no file uses, as the file system counts
        them; None where it cannot say cheaply."""
        return None

    def device_space(self) -> tuple[int, int] | None:
        """The total and free bytes a unit's firmware reports for this file system
        (Mongoose OS's ``fs_size`` and ``fs_free``); None where it cannot say."""
        return None

    @abstractmethod
    def reopened(self) -> FileSystemImage:
        """A fresh mount of :meth:`data_view`, as a reader opens the image (the proof an
        edit reads back). It shares the bytes, not copied, and keeps reading those it
        mounted when this image is edited afterwards (that edit copies them first): it
        never sees bytes change under its mount."""

    @abstractmethod
    def changed_blocks(self) -> list[int]:
        """Indices of 4 KiB blocks that differ from the bytes the image was opened with."""

    def exists(self, path: str) -> bool:
        require_image_path(path, "image.exists")
        p = self.checked_path(path, new=False)
        return any(f.path == p for f in self.files())

    def checked_path(self, path: str, *, new: bool = True) -> str:
        """:func:`checked_path` naming this image's file system in its error."""
        return checked_path(path, f"{FS_NAMES[self.fs_type]} image", new=new)

    def describe(self, files: list[FileInfo] | None = None) -> dict[str, str | int]:
        """Facts worth showing in ``inspect`` and ``fs ls`` (type, profile, version,
        usage): numbers as numbers, for --json; :func:`~esp_cabundle.text.fact_line`
        words them. ``files``: :meth:`files` when the caller has it already, so a
        LittleFS image is not walked a second time to count them."""
        return {"file system": self.fs_type, "profile": self.profile.name}

    def possible_profiles(self) -> tuple[str, ...]:
        """The profiles that could have written the image, the assumed one first: more
        than one where the bytes do not tell them apart (LittleFS's esp-idf, arduino and
        platformio at disk 2.1)."""
        return (self.profile.name,)

    def profile_words(self) -> str:
        """The profile as a report's line says it: ``esp-idf``, or every one it could be
        (``esp-idf, arduino or platformio (the bytes do not tell)``), so a reader is not
        told one name and, lines below, that it was a guess."""
        names = self.possible_profiles()
        if len(names) == 1:
            return names[0]
        return f"{', '.join(names[:-1])} or {names[-1]} (the bytes do not tell)"

    def format_facts(self) -> dict[str, str | int]:
        """What an edit must never change: the format the firmware mounts (cheap: no
        walk over the files)."""
        return {"file system": self.fs_type, "profile": self.profile.name}
