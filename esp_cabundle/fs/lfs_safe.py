"""Replacing one LittleFS file with sector writes that can be cut anywhere.

littlefs is copy-on-write, and a metadata commit is atomic only when it goes to the
erased half of a metadata pair. Appending a commit to the active block (what littlefs
does when there is room) is safe on the device but not when the host rewrites that
4 KiB sector, which erases the committed state first. So the edit is tried with
littlefs' ``metadata_max`` lowered until every block it writes is one it erased first:
a compaction into the inactive half of the pair. The sectors are then written in the
order littlefs last wrote them: new data blocks (which no old metadata references)
first, the metadata block that commits the change last. A cut at any point leaves a
file system that mounts with the old or the new file.

Each trial runs littlefs itself (:class:`~.littlefs.LittleFsImage`) over an
:class:`~esp_cabundle.blocks.Overlay` of the unit's cached flash, so only what littlefs
reads crosses the link. A trial is proven before it is taken: both states are mounted
and compared (:mod:`.verify`) without fetching the other files' contents (a view serves
bytes never fetched as a pattern unique to their address, so two states that read a
file from the same flash bytes read the same pattern).
"""

from __future__ import annotations

import random

from ..blocks import PAGE, FlashCache, Overlay, erased_md5
from ..errors import ImageError
from ..spelling import PYTHON, Spelling
from .inplace import NOTHING_TO_WRITE, FileReplacement, PartitionEdit
from .lfs_profiles import LittleFsProfile
from .lfs_superblock import MAGIC
from .littlefs import LittleFsImage
from .verify import Expected, mount_problems

__all__ = ["LittleFsEdit"]

_SAFE_ORDER = (
    "power-safe: blocks no old metadata references first, the metadata commit last (into "
    "the erased half of its pair)"
)
_APPENDED_ORDER = (
    "littlefs appends its commit to the active metadata block: a cut while that sector is "
    "rewritten is recovered from the journal"
)


class LittleFsEdit(PartitionEdit):
    """A LittleFS partition opened through a cache (see the module)."""

    image: LittleFsImage

    def __init__(
        self,
        cache: FlashCache,
        offset: int,
        size: int,
        profile: LittleFsProfile,
        spelling: Spelling = PYTHON,
    ) -> None:
        self.profile = profile
        store = Overlay(cache, offset=offset, size=size)
        image = LittleFsImage.mount(store, size, profile, spelling=spelling)
        super().__init__(cache, offset, size, image)

    @classmethod
    def open(
        cls,
        cache: FlashCache,
        offset: int,
        size: int,
        profile: LittleFsProfile,
        spelling: Spelling = PYTHON,
    ) -> LittleFsEdit | None:
        """The partition's file system; None when the partition is erased. ImageError
        when it holds no LittleFS this profile mounts (nothing is ever formatted; the
        hints name the options as ``spelling`` does)."""
        bs = profile.block_size
        # The probe Mongoose OS and mklittlefs use: the magic at offset 8 of block 0 or 1.
        # Only those pages are read here; littlefs then reads what it needs.
        if size < 2 * bs or MAGIC not in (
            cache.read(offset + 8, 8),
            cache.read(offset + bs + 8, 8),
        ):
            if cache.md5(offset, size) == erased_md5(size):
                return None
            raise ImageError("no LittleFS file system (no 'littlefs' magic in block 0 or 1)")
        return cls(cache, offset, size, profile, spelling)

    @property
    def disk_version(self) -> int:
        return self.image.disk_version

    def _mount(self, reader: FlashCache | _View, sectors: Overlay | None = None) -> LittleFsImage:
        store = Overlay(
            reader, offset=self.offset, size=self.size, sectors=sectors.sectors if sectors else {}
        )
        return LittleFsImage.mount(store, self.size, self.profile)

    def replace(self, path: str, content: bytes) -> FileReplacement:
        if self.read(path) == content:
            return NOTHING_TO_WRITE
        chosen: Overlay | None = None
        fallback: Overlay | None = None
        for metadata_max in _metadata_limits(self.profile):
            store = Overlay(self.cache, offset=self.offset, size=self.size)
            trial = LittleFsImage.mount(store, self.size, self.profile, metadata_max=metadata_max)
            try:
                with trial:  # unmounted after: the store is what is judged
                    trial.write(path, content)
            except ImageError:
                if fallback is None:
                    raise  # littlefs' own choice failed: the file cannot be written
                continue  # a smaller metadata limit that does not work: not a candidate
            fallback = fallback or store
            if not store.appended and not self._problems(store, path, content, fetch=False):
                chosen = store
                break
        assert fallback is not None
        safe = chosen is not None
        if chosen is None:
            chosen = fallback
            problems = self._problems(chosen, path, content, fetch=True)
            if problems:
                raise ImageError(
                    f"the edited LittleFS image does not verify ({'; '.join(problems)})"
                )
        bs = self.profile.block_size

        def role(rel: int, new: bytes, _: str) -> str:
            return "metadata" if rel // bs in (0, 1) or _is_metadata(new) else "new data"

        return FileReplacement(
            self._writes(chosen, role), safe, _SAFE_ORDER if safe else _APPENDED_ORDER
        )

    def _problems(self, trial: Overlay, path: str, content: bytes, *, fetch: bool) -> list[str]:
        """The trial's state mounts as the device would mount it, holding the new file,
        the same other files with the same content, and the same format. Without
        ``fetch`` the other files are compared through views (nothing fetched)."""
        reader: FlashCache | _View = (
            self.cache if fetch else _View(self.cache, self.offset, self.profile.block_size)
        )
        old = self._mount(reader)
        return mount_problems(
            lambda: self._mount(reader, trial),
            Expected(
                path=path,
                allowed=[content],
                others=self.others(path),
                contents=old.read,
                facts=self.facts,
            ),
        )


class _View:
    """The cache, read only, serving pages never fetched as a pattern unique to their
    address; the first page of every block (where CTZ skip-list pointers live) is
    fetched, so littlefs finds its way through files as on the unit."""

    def __init__(self, cache: FlashCache, base: int, block_size: int) -> None:
        self.cache = cache
        self.base = base
        self.block_size = block_size

    def read(self, offset: int, length: int) -> bytes:
        out = bytearray()
        pos, end = offset, offset + length
        while pos < end:
            head = pos - (pos - self.base) % self.block_size
            stop = min(end, head + self.block_size)
            if pos < head + PAGE:
                self.cache.read(head, PAGE)
            out += self.cache.peek(pos, stop - pos, _pattern)
            pos = stop
        return bytes(out)


def _pattern(page: int) -> bytes:
    """Stand-in bytes for a page never fetched: unique to its address, never real."""
    return random.Random(page).randbytes(PAGE)


def _metadata_limits(profile: LittleFsProfile) -> list[int]:
    """littlefs' own choice first (0), then ever smaller metadata limits.

    A smaller ``metadata_max`` makes the commit not fit after the active log, so
    littlefs compacts into the other block of the pair. The limit must divide the block
    and be a multiple of the read and program sizes (littlefs asserts both).
    """
    unit = max(profile.read_size, profile.prog_size)
    limits = [0]
    m = profile.block_size // 2
    while m >= unit and m % unit == 0:
        limits.append(m)
        m //= 2
    return limits


def _is_metadata(block: bytes) -> bool:
    """A metadata block starts with a revision count and a first tag stored xored with
    0xffffffff (a valid tag has its top bit clear, so the stored one has it set); CTZ
    data blocks start with file bytes or skip-list pointers. Only a label."""
    return len(block) >= 8 and bool(block[4] & 0x80) and block[:8] != b"\xff" * 8
