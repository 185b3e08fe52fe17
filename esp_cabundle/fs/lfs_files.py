"""Mounting a LittleFS image and reading and editing its files through littlefs:
:class:`LittleFsFiles`, the base of :class:`~.littlefs.LittleFsImage`.

Split from :mod:`.littlefs` (which makes, opens and describes images) to keep it small.
Every edit either completes or leaves the bytes exactly as before it: the store is
restored and the image remounted on failure; a failed store access wins over
littlefs' own answer.
"""

from __future__ import annotations

import struct
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from ..arguments import require_bytes, require_image_path
from ..errors import ImageError
from ..sizes import size_words
from ..text import byte_count, printable, some
from .base import NO_FILE_HINT, NO_ROOM_HINT, UNCHANGED_HINT, FileSystemImage, FsHint, NoRoomError
from .lfs_device import (
    ERR_NAMETOOLONG,
    ERR_NOATTR,
    ERR_NOENT,
    ERR_NOSPC,
    LFS_TYPE_DIR,
    MAX_DEPTH,
    Device,
    Store,
    close_once,
    lfs_error_code,
    lfs_error_name,
    new_lfs,
    stat_or_none,
)

if TYPE_CHECKING:
    from littlefs import LittleFS

    from .lfs_profiles import LittleFsProfile

__all__ = ["LittleFsFiles"]


class LittleFsFiles(FileSystemImage):
    """The littlefs calls of a :class:`~.littlefs.LittleFsImage`, over the state its
    constructor sets."""

    _store: Store
    _device: Device
    _mounted: LittleFS | None  # None once closed (or a remount failed)
    _unmount: weakref.finalize[[LittleFS], LittleFsFiles]  # unmounts what _mounted was mounted as
    _fs_size: int
    _profile: LittleFsProfile
    _disk_version: int
    _metadata_max: int
    _name_max: int
    timestamp: int | None

    @property
    def _lfs(self) -> LittleFS:
        """The mounted file system; ImageError once closed (its caches are freed: a
        littlefs call then would read freed memory)."""
        if self._mounted is None:
            raise ImageError(
                "the LittleFS image is closed (or did not mount again): its files cannot "
                "be read or edited",
                hint="open its bytes again (to_bytes() still gives them)",
            )
        return self._mounted

    def _attach(self) -> None:
        """Mount, and unmount when :meth:`close` d or collected: littlefs mallocs its
        read, prog and lookahead caches at mount and frees them only at unmount; a loop
        opening and reading images grew ~1 KB of native memory an image, kept."""
        self._mounted = None
        lfs = self._mount()
        self._mounted = lfs
        self._unmount = weakref.finalize(self, _unmount, lfs)

    def close(self) -> None:
        """Unmount: littlefs' caches are freed. Every file handle this class opens is
        closed before its method returns, so none is open here."""
        self._mounted = None
        if hasattr(self, "_unmount"):  # (not set when the first mount failed)
            self._unmount()

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
        try:
            self._device.check()
        except BaseException:
            lfs.unmount()  # mounted, but the store failed: its caches are freed here
            raise
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

    def read(self, path: str) -> bytes:
        from littlefs import LittleFSError

        require_image_path(path, "image.read")
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
        require_image_path(path, "image.write", after=", data")
        require_bytes(data, "image.write", text=True, args=f"{path!r}, ")
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
        require_image_path(path, "image.remove")
        p = self.checked_path(path, new=False)

        def op(lfs: LittleFS) -> None:
            st = stat_or_none(lfs, p)
            if st is None:
                raise ImageError(f"no file {p!r} in the LittleFS image", hint=NO_FILE_HINT)
            if st.type == LFS_TYPE_DIR:
                self._refuse_held(p)
            lfs.remove(p)  # lfs_remove: a file, or a directory holding nothing

        self._edit(f"removing {p}", op)

    def _refuse_held(self, p: str) -> None:
        """A directory that holds something is not removed with it (``rm -r`` is not a
        unit's unlink); what to remove first is said."""
        under = p + "/"
        held = [f.path for f in self.files() if f.path.startswith(under)]
        held += [d for d in self.empty_dirs() if d.startswith(under)]
        if held:
            raise ImageError(
                f"{printable(p)} is a directory in the LittleFS image with {len(held):,} "
                f"{'path' if len(held) == 1 else 'paths'} under it; only an empty directory "
                "is removed",
                hint=f"remove what it holds first, then {printable(p)}: {some(sorted(held))}",
            )

    def rename(self, src: str, dst: str) -> None:
        """lfs_rename: one metadata commit, atomic; an existing file ``dst`` is replaced.
        Only files are renamed here, into a directory that exists (littlefs: NOENT)."""
        require_image_path(src, "image.rename", after=", dst")
        require_image_path(dst, "image.rename", before="src, ")
        p, q = self.checked_path(src, new=False), self._checked_path(dst)
        what = f"renaming {p} to {q}"

        def op(lfs: LittleFS) -> None:
            st = stat_or_none(lfs, p)
            if st is None or st.type == LFS_TYPE_DIR:
                raise ImageError(f"{what}: no file {p!r} in the LittleFS image", hint=NO_FILE_HINT)
            parent = q.rsplit("/", 1)[0]
            st = stat_or_none(lfs, parent) if parent else None
            if parent and (st is None or st.type != LFS_TYPE_DIR):
                raise ImageError(f"{what}: no directory {parent!r} in the LittleFS image")
            st = stat_or_none(lfs, q)
            if st is not None and st.type == LFS_TYPE_DIR:
                raise ImageError(f"{what}: {q} is a directory in the LittleFS image")
            lfs.rename(p, q)

        self._edit(what, op)

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
            self.close()  # the failed mount's caches (unmount touches no block)
            self._attach()
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


def _unmount(lfs: LittleFS) -> None:
    """The finalizer of a :class:`LittleFsFiles`: it holds the mount, never the image."""
    lfs.unmount()  # lfs_unmount is lfs_deinit: it frees the caches, touches no block
