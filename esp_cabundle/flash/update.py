"""Planning a CA update on a live unit while reading only what the file system needs.

A serial link moves about 90 KB/s at 921600 baud, so reading a whole partition to
change one file is the slow part of every manual update. Here the unit's flash is
reached through a :class:`FlashCache` that fetches on demand and keeps what it got:

* LittleFS: littlefs itself (littlefs-python) runs over a block device whose reads come
  from the cache, so only the superblock, the metadata logs, the skip-list pointers the
  allocator walks and the old CA file cross the link. Its writes stay in memory.
* SPIFFS: every block holds a lookup page with the magic, so no range is blank; instead
  the unit's MD5 of a range is compared with what an empty formatted range would hash
  to (erase counts 0xFFFF as spiffsgen leaves them, or 0 as SPIFFS's own format writes
  them), bisecting a mismatch down to blocks, and only blocks that hold something are
  read. The result is the partition byte for byte, which the SPIFFS planner of
  :mod:`.plan` then edits.

Power-safe order (LittleFS): littlefs is copy-on-write, and a metadata commit is
atomic only when it goes to the erased half of a metadata pair. Appending a commit to
the active block (what littlefs does when there is room) is safe on the device but not
when the host rewrites that 4 KiB sector, which erases the committed state first. So
the edit is tried with littlefs' ``metadata_max`` lowered until every block it writes
is one it erased first: a compaction into the inactive half of the pair. The sectors are
then written in the order littlefs last wrote them: new data blocks (which no old
metadata references) first, the metadata block that commits the change last. A cut at
any point leaves a unit that mounts with the old or the new CA file.

Power-safe order (SPIFFS): :mod:`esp_cabundle.fs.spiffs_safe` plans the new CA file as a
new object in free pages, then one commit block that swaps the old index header for the
new one, then the old pages marked deleted. A cut after any sector leaves the old or
the new file whole.
When room needs garbage collection the old file is removed first and every state still
mounts with every other file intact, with no CA file for a window of sectors.

Nothing is written here; :mod:`.flasher` writes, verifies and journals.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from ..errors import ImageError
from ..fs.base import FileInfo
from ..partitions import Partition, PartitionTable
from .base import SECTOR_SIZE, Flash, Message, ProgressCallback

if TYPE_CHECKING:
    from ..boards import Board, FsTarget
    from ..fs.littlefs import LittleFsProfile
    from ..gate import GatedCA
    from .plan import PartitionUpdate

__all__ = [
    "FlashCache",
    "PartitionChange",
    "SectorWrite",
    "UnitPlan",
    "plan_unit_update",
    "read_spiffs_partition",
    "read_table_pages",
    "reread_problems",
]

# Fetch granularity of the cache: littlefs reads 64/128 bytes at a time, SPIFFS pages
# are 256 bytes; a command round trip costs about as much as 256 bytes on the wire.
PAGE = 256
_PAGES_PER_SECTOR = SECTOR_SIZE // PAGE
# SPIFFS: the first MD5 comparisons cover this many blocks (64 KiB) at once.
_SPIFFS_CHUNK_BLOCKS = 16
# littlefs' LFS_ERR_* codes the planner turns into messages.
_ERR_NOSPC, _ERR_NAMETOOLONG, _LFS_ERR_IO = -28, -36, -5


# ---------------------------------------------------------------------------------------
# The cache


class FlashCache:
    """A unit's flash fetched on demand, 256 bytes at a time, and kept.

    Every byte handed out was read from the flash (or, via :meth:`confirm`, proven
    equal to it by the unit's MD5). Sequential misses in one sector double the fetch
    window (256 B, 512 B, ... the rest of the sector), so a metadata log costs a few
    commands, a skip-list pointer one small one.
    """

    def __init__(self, flash: Flash) -> None:
        self.flash = flash
        self._data: dict[int, bytearray] = {}  # sector address -> 4 KiB
        self._have: dict[int, int] = {}  # sector address -> bitmask of known pages
        self._next: dict[int, tuple[int, int]] = {}  # sector -> (page after last fetch, window)
        self.bytes_read = 0
        self.reads = 0
        self.md5s = 0

    # -- what is known -------------------------------------------------------------------
    def known(self, offset: int, length: int) -> bool:
        return all(self._page_known(p) for p in _pages(offset, length))

    def _page_known(self, page: int) -> bool:
        sector = page - page % SECTOR_SIZE
        return bool(self._have.get(sector, 0) >> ((page - sector) // PAGE) & 1)

    def peek(self, offset: int, length: int, fill: Callable[[int], bytes]) -> bytes:
        """Known bytes as they are, unknown 256-byte pages from ``fill(page_address)``."""
        out = bytearray()
        for page in _pages(offset, length):
            lo = max(offset, page) - page
            hi = min(offset + length, page + PAGE) - page
            if self._page_known(page):
                sector = page - page % SECTOR_SIZE
                base = page - sector
                out += self._data[sector][base + lo : base + hi]
            else:
                out += fill(page)[lo:hi]
        return bytes(out)

    def _store(self, offset: int, data: bytes) -> None:
        """Record bytes that are on the flash (whole pages only)."""
        for i in range(0, len(data), PAGE):
            page = offset + i
            sector = page - page % SECTOR_SIZE
            buf = self._data.setdefault(sector, bytearray(b"\xff" * SECTOR_SIZE))
            buf[page - sector : page - sector + PAGE] = data[i : i + PAGE]
            self._have[sector] = self._have.get(sector, 0) | 1 << ((page - sector) // PAGE)

    def confirm(self, offset: int, data: bytes) -> None:
        """Take ``data`` (page-aligned) as the flash content: the unit's MD5 said so."""
        if offset % PAGE or len(data) % PAGE:
            raise ValueError("confirmed ranges must be whole 256-byte pages")
        self._store(offset, data)

    def forget(self, offset: int, length: int) -> None:
        """Drop what is known of a range (it was just written: read it afresh)."""
        for page in _pages(offset, length):
            sector = page - page % SECTOR_SIZE
            if sector in self._have:
                self._have[sector] &= ~(1 << ((page - sector) // PAGE))
            self._next.pop(sector, None)

    # -- fetching --------------------------------------------------------------------------
    def read(self, offset: int, length: int) -> bytes:
        """The flash's bytes, fetching the pages not yet known."""
        if length <= 0:
            return b""
        for start, end in self._missing_runs(offset, length):
            data = self.flash.read(start, end - start)
            self.bytes_read += len(data)
            self.reads += 1
            self._store(start, data)
        return self.peek(offset, length, _unreachable)

    def _missing_runs(self, offset: int, length: int) -> list[tuple[int, int]]:
        runs: list[tuple[int, int]] = []
        end = offset + length
        page = offset - offset % PAGE
        limit = min(end, self.flash.size)
        while page < limit:
            if self._page_known(page):
                page += PAGE
                continue
            sector = page - page % SECTOR_SIZE
            index = (page - sector) // PAGE
            after, window = self._next.get(sector, (-1, 0))
            window = min(window * 2, _PAGES_PER_SECTOR) if after == index else 1
            stop = index
            # The pages this request needs, then read-ahead up to the window.
            while stop < _PAGES_PER_SECTOR and not self._page_known(sector + stop * PAGE):
                if sector + stop * PAGE >= end and stop - index >= window:
                    break
                stop += 1
            self._next[sector] = (stop, max(window, stop - index))
            run = (sector + index * PAGE, sector + stop * PAGE)
            if runs and runs[-1][1] == run[0]:
                runs[-1] = (runs[-1][0], run[1])
            else:
                runs.append(run)
            page = run[1]
        return runs

    def read_or_blank(self, offset: int, length: int) -> bytes:
        """Like :meth:`read`, but runs of unknown pages the unit's MD5 says are erased
        are not sent.

        Blocks littlefs allocates were usually never written, and a metadata block is
        mostly erased past its log; their old content (kept for the journal) then costs
        an MD5 instead of kilobytes on the wire.
        """
        if offset % PAGE == 0 and length % PAGE == 0:
            for start, end in _page_runs(
                p for p in _pages(offset, length) if not self._page_known(p)
            ):
                if self.md5(start, end - start) == _blank_md5(end - start):
                    self.confirm(start, b"\xff" * (end - start))
        return self.read(offset, length)

    def digest(self, offset: int, length: int) -> str:
        """MD5 of a range: computed here when every byte is known (read, or proven by an
        earlier MD5 of the unit), else by the unit."""
        if self.known(offset, length):
            return hashlib.md5(self.peek(offset, length, _unreachable)).hexdigest()
        return self.md5(offset, length)

    def md5(self, offset: int, length: int) -> str:
        """The unit's own MD5 of a range (nothing but the digest crosses the link)."""
        self.md5s += 1
        return self.flash.md5(offset, length)


def _pages(offset: int, length: int) -> Iterator[int]:
    page = offset - offset % PAGE
    while page < offset + length:
        yield page
        page += PAGE


def _page_runs(pages: Iterable[int]) -> list[tuple[int, int]]:
    runs: list[tuple[int, int]] = []
    for page in pages:
        if runs and runs[-1][1] == page:
            runs[-1] = (runs[-1][0], page + PAGE)
        else:
            runs.append((page, page + PAGE))
    return runs


def _unreachable(page: int) -> bytes:
    raise AssertionError(f"page {page:#x} was fetched but is not known")


def read_table_pages(cache: FlashCache, offset: int) -> PartitionTable:
    """The partition table at ``offset``, read 256 bytes at a time up to its end marker
    (a table of a few partitions costs one page, not the 3 KiB sector).

    PartitionTableError as :func:`~esp_cabundle.flash.reading.read_table` gives it.
    """
    from ..partitions import ENTRY_SIZE, TABLE_MAX_LENGTH

    end = b"\xff" * ENTRY_SIZE
    data = b""
    while len(data) < TABLE_MAX_LENGTH:
        data += cache.read(offset + len(data), PAGE)
        if data[:2] != b"\xaa\x50":
            break
        entries = (data[i : i + ENTRY_SIZE] for i in range(0, len(data), ENTRY_SIZE))
        if end in entries:
            break
    return PartitionTable.from_binary(
        data,
        offset=offset,
        flash_size=cache.flash.size,
        source=f"{cache.flash.name}: partition table",
    )


# ---------------------------------------------------------------------------------------
# The plan


@dataclass(frozen=True, slots=True)
class SectorWrite:
    """One 4 KiB sector to write: what the unit holds now and what it will hold."""

    offset: int  # absolute flash address
    old: bytes
    new: bytes
    role: str = ""  # "new data", "metadata commit", ... (why it comes where it does)


@dataclass(frozen=True, slots=True)
class PartitionChange:
    """The CA update of one file-system partition, sectors in the order to write them.

    ``power_safe``: a cut between or inside any of the writes leaves a file system that
    mounts with the old or the new CA file (LittleFS, when the commit could be placed in
    the erased half of a metadata pair; SPIFFS, at sector boundaries, when the new file
    fits without garbage collection). Otherwise the journal is the safeguard.
    """

    partition: Partition
    fs_type: str
    profile: str
    ca_path: str
    new_ca: bytes
    old_ca: bytes | None = None
    files: tuple[FileInfo, ...] = ()  # every other file, kept as it was
    writes: tuple[SectorWrite, ...] = ()
    power_safe: bool = False
    order: str = ""
    facts: tuple[tuple[str, str], ...] = ()
    skipped: str | None = None
    bytes_read: int = 0

    @property
    def sectors(self) -> tuple[int, ...]:
        """Sector addresses written, ascending."""
        return tuple(sorted(w.offset for w in self.writes))

    @property
    def up_to_date(self) -> bool:
        return self.skipped is None and self.old_ca == self.new_ca

    @property
    def action(self) -> str:
        if self.skipped:
            return "skipped"
        if self.up_to_date:
            return "up to date"
        return "replace" if self.old_ca is not None else "create"

    def untouched(self) -> tuple[tuple[int, int], ...]:
        """(offset, length) of the partition's ranges no write touches."""
        out: list[tuple[int, int]] = []
        pos = self.partition.offset
        for s in self.sectors:
            if s > pos:
                out.append((pos, s - pos))
            pos = s + SECTOR_SIZE
        if pos < self.partition.end:
            out.append((pos, self.partition.end - pos))
        return tuple(out)


@dataclass(frozen=True, slots=True)
class UnitPlan:
    """Every partition's change; ``writes`` in the order they go to the unit."""

    board: Board
    table: PartitionTable
    ca_bytes: bytes
    changes: tuple[PartitionChange, ...]
    notes: tuple[str, ...] = ()
    bytes_read: int = 0
    reads: int = 0
    md5s: int = 0

    @property
    def writes(self) -> tuple[SectorWrite, ...]:
        return tuple(w for c in self.changes for w in c.writes)

    @property
    def up_to_date(self) -> bool:
        return not self.writes

    def check_bounds(self) -> None:
        """Refuse any write that is not a whole sector inside its own partition.

        The planners never produce one; this is the last check before the flash, so a
        bug can never reach NVS (keys, calibration) or an app partition.
        """
        from ..errors import FlashError

        for c in self.changes:
            p = c.partition
            for w in c.writes:
                if (
                    w.offset % SECTOR_SIZE
                    or len(w.new) != SECTOR_SIZE
                    or len(w.old) != SECTOR_SIZE
                    or not (p.offset <= w.offset and w.offset + SECTOR_SIZE <= p.end)
                ):
                    raise FlashError(
                        f"refusing to write {len(w.new):#x} bytes at {w.offset:#x}: outside "
                        f"partition {p.describe()}; nothing written",
                        hint="this is a bug in esp-cabundle; please report it",
                    )


def plan_unit_update(
    flash: Flash | FlashCache,
    table: PartitionTable,
    board: Board,
    ca: GatedCA,
    *,
    progress: ProgressCallback | None = None,
) -> UnitPlan:
    """Plan replacing the CA file in every file-system partition ``board`` names.

    ``ca`` passed the gate for ``board`` and is not judged again. Reads through a
    :class:`FlashCache` (pass one to keep it for verifying afterwards). Raises before
    anything could be written: PartitionTableError (partition missing), ImageError (no
    file system, does not mount, new content does not fit), InputError (a CA gated for
    another board, every target partition erased).
    """
    from .plan import partition_note, refuse_if_all_erased

    cache = flash if isinstance(flash, FlashCache) else FlashCache(flash)
    ca_bytes = ca.for_board(board)
    target = board.filesystem
    assert target is not None  # fs_partitions refuses boards without a file system
    partitions = board.fs_partitions(table)
    changes: list[PartitionChange] = []
    notes: list[str] = []
    for p in partitions:
        before = cache.bytes_read
        if progress is not None:
            progress(Message("info", f"reading partition '{p.name}' at {p.offset:#x}"))
        if target.fs_type == "littlefs":
            change = _plan_littlefs(cache, p, target, ca_bytes)
        else:
            change = _plan_spiffs(cache, p, table, board, ca_bytes)
        change = _with_bytes_read(change, cache.bytes_read - before)
        note = partition_note(p, change.skipped)
        if note:
            notes.append(note)
        changes.append(change)
    refuse_if_all_erased([(c.partition, c.skipped) for c in changes])
    plan = UnitPlan(
        board,
        table,
        ca_bytes,
        tuple(changes),
        tuple(notes),
        bytes_read=cache.bytes_read,
        reads=cache.reads,
        md5s=cache.md5s,
    )
    plan.check_bounds()
    return plan


def _with_bytes_read(change: PartitionChange, n: int) -> PartitionChange:
    return replace(change, bytes_read=n)


def _blank_md5(length: int) -> str:
    return hashlib.md5(b"\xff" * length).hexdigest()


def _erased(p: Partition, target: FsTarget, why: str) -> PartitionChange:
    return PartitionChange(
        p,
        target.fs_type,
        target.profile,
        target.ca_path,
        b"",
        skipped=why,
    )


# ---------------------------------------------------------------------------------------
# LittleFS


@dataclass
class _Trial:
    """One edit of the image in memory: which blocks littlefs wrote, and how."""

    metadata_max: int
    blocks: dict[int, bytearray] = field(default_factory=dict)  # block -> new content
    erased: set[int] = field(default_factory=set)
    appended: set[int] = field(default_factory=set)  # programmed without erasing first
    last_write: dict[int, int] = field(default_factory=dict)

    @property
    def power_safe(self) -> bool:
        return not self.appended


class _LfsDevice:
    """littlefs' block device: reads from the cache, writes into a :class:`_Trial`.

    ``view=True`` makes a read-only device for comparing two states without fetching
    file contents: bytes never fetched read as a pattern unique to their address (the
    first page of every block, where CTZ skip-list pointers live, is fetched), so two
    states that read the same file from the same flash bytes read the same pattern.
    """

    def __init__(
        self,
        cache: FlashCache,
        base: int,
        block_size: int,
        trial: _Trial | None = None,
        *,
        view: bool = False,
    ) -> None:
        self.cache = cache
        self.base = base
        self.bs = block_size
        self.trial = trial
        self.view = view
        self.seq = 0
        self.failure: BaseException | None = None

    def context(self) -> Any:
        from littlefs import UserContext

        device = self

        class _Context(UserContext):
            def __init__(self) -> None:
                self.buffer = bytearray()
                self.in_size = 0

            def read(self, cfg: Any, block: int, off: int, size: int) -> bytearray:
                data = device.call(device.read, block, off, size)
                return bytearray(b"\xff" * size if data is None else data)

            def prog(self, cfg: Any, block: int, off: int, data: bytes) -> int:
                done = device.call(device.prog, block, off, bytes(data))
                return _LFS_ERR_IO if done is None else 0

            def erase(self, cfg: Any, block: int) -> int:
                done = device.call(device.erase, block)
                return _LFS_ERR_IO if done is None else 0

            def sync(self, cfg: Any) -> int:
                return 0

        return _Context()

    def call(self, fn: Callable[..., Any], *args: Any) -> Any:
        """Run a block-device callback; None when it failed (the failure is kept).

        littlefs-python cannot pass an exception through littlefs (it prints it and
        littlefs sees an error, which it may take for a bad block and work around, e.g.
        by mounting the older half of a metadata pair). So a failed access answers
        erased bytes or an I/O error, every later one too, and :meth:`check`, called
        after every littlefs operation, raises the failure; nothing littlefs computed
        from such answers is ever used.
        """
        if self.failure is not None:
            return None
        try:
            return fn(*args)
        except Exception as e:
            self.failure = e
            return None

    def check(self, cause: BaseException | None = None) -> None:
        """Raise the failure a callback met, if any (littlefs' own result is moot)."""
        if self.failure is not None:
            raise self.failure from cause

    def _address(self, block: int, off: int) -> int:
        return self.base + block * self.bs + off

    def read(self, block: int, off: int, size: int) -> bytes:
        if self.trial is not None and block in self.trial.blocks:
            return bytes(self.trial.blocks[block][off : off + size])
        addr = self._address(block, off)
        if not self.view:
            return self.cache.read(addr, size)
        head = self._address(block, 0)
        if addr < head + PAGE:
            self.cache.read(head, PAGE)
        return self.cache.peek(addr, size, _pattern)

    def prog(self, block: int, off: int, data: bytes) -> int:
        trial = self.trial
        if trial is None or self.view:
            raise AssertionError("littlefs wrote while only reading")
        if block not in trial.blocks:
            trial.blocks[block] = bytearray(self.cache.read(self._address(block, 0), self.bs))
            trial.appended.add(block)
        trial.blocks[block][off : off + len(data)] = data
        self.seq += 1
        trial.last_write[block] = self.seq
        return 0

    def erase(self, block: int) -> int:
        trial = self.trial
        if trial is None or self.view:
            raise AssertionError("littlefs erased while only reading")
        trial.blocks[block] = bytearray(b"\xff" * self.bs)
        trial.erased.add(block)
        trial.appended.discard(block)
        self.seq += 1
        trial.last_write[block] = self.seq
        return 0


def _pattern(page: int) -> bytes:
    """Stand-in bytes for a page never fetched: unique to its address, never real."""
    return random.Random(page).randbytes(PAGE)


def _new_lfs(
    device: _LfsDevice, profile: LittleFsProfile, *, disk_version: int, metadata_max: int = 0
) -> Any:
    from littlefs import LittleFS

    from ..fs.littlefs import LFS_NAME_MAX

    return LittleFS(
        context=device.context(),
        mount=False,  # never True: littlefs-python formats when that mount fails
        block_size=profile.block_size,
        block_count=0,  # from the superblock
        read_size=profile.read_size,
        prog_size=profile.prog_size,
        cache_size=profile.cache_size,
        lookahead_size=profile.lookahead_size,
        block_cycles=profile.block_cycles,
        name_max=LFS_NAME_MAX,
        disk_version=disk_version,
        metadata_max=metadata_max,
    )


def _lfs_error(e: BaseException) -> int | None:
    code = getattr(e, "code", None)
    return code if isinstance(code, int) else None


def _mount(device: _LfsDevice, profile: LittleFsProfile, p: Partition, disk_version: int) -> Any:
    from littlefs import LittleFSError

    lfs = _new_lfs(device, profile, disk_version=disk_version)
    try:
        lfs.mount()
    except LittleFSError as e:
        device.check(e)
        raise ImageError(
            f"partition {p.describe()} does not mount as LittleFS (littlefs error "
            f"{_lfs_error(e)}); nothing written",
            hint="the file system is corrupt, or flash encryption is on; it was not formatted",
        ) from e
    return lfs


def _walk(lfs: Any) -> list[tuple[str, int]]:
    """(path, size) of every file; directories are followed."""
    out: list[tuple[str, int]] = []
    stack = ["/"]
    while stack:
        d = stack.pop()
        for st in lfs.scandir(d):
            path = d.rstrip("/") + "/" + st.name
            if st.type == 2:
                stack.append(path)
            else:
                out.append((path, int(st.size)))
    return sorted(out)


def _read_file(lfs: Any, path: str) -> bytes:
    with lfs.open(path, "rb") as f:
        data: bytes = f.read()
    return data


def _plan_littlefs(
    cache: FlashCache, p: Partition, target: FsTarget, ca_bytes: bytes
) -> PartitionChange:
    from littlefs import LittleFSError

    from ..fs.littlefs import LITTLEFS_PROFILES, MAGIC

    profile = LITTLEFS_PROFILES[target.profile]
    bs = profile.block_size
    # The probe Mongoose OS and mklittlefs use: the magic at offset 8 of block 0 or 1.
    # Only those pages are read here; littlefs then reads what it needs.
    if p.size < 2 * bs or MAGIC not in (
        cache.read(p.offset + 8, 8),
        cache.read(p.offset + bs + 8, 8),
    ):
        if cache.md5(p.offset, p.size) == _blank_md5(p.size):
            return _erased(p, target, "erased (all 0xFF): no file system to update")
        hint = "is --board right for this unit? (esp-cabundle inspect --port shows what it holds)"
        if p.encrypted:
            hint = (
                "the table flags this partition 'encrypted' and its bytes are no file system: "
                "the chip's flash encryption may be on"
            )
        raise ImageError(
            f"partition {p.describe()} holds no LittleFS file system (no 'littlefs' magic in "
            "block 0 or 1); nothing written, nothing formatted",
            hint=hint,
        )
    # Mount once accepting any 2.x version (mounting writes nothing) to learn the
    # authoritative on-disk version; every later mount passes it, so 2.0 stays 2.0.
    probe_device = _LfsDevice(cache, p.offset, bs)
    probe = _mount(probe_device, profile, p, 0)
    stat = probe.fs_stat()
    probe_device.check()
    _check_stat(p, stat, profile)
    disk_version = int(stat.disk_version)
    if target.platform is not None:
        from ..fs.lfs_platforms import check_readable, resolve_platform

        check_readable(disk_version, resolve_platform(target.platform), f"partition {p.describe()}")
    ca_path = target.ca_path
    try:
        before = _walk(probe)
        names = {path for path, _ in before}
        old_ca = _read_file(probe, ca_path) if ca_path in names else None
        probe_device.check()
    except LittleFSError as e:
        probe_device.check(e)
        raise ImageError(
            f"partition '{p.name}': LittleFS error {_lfs_error(e)} while listing files; "
            "the file system is corrupt; nothing written"
        ) from e
    facts = (
        ("disk version", f"{disk_version >> 16}.{disk_version & 0xFFFF}"),
        ("block size", str(stat.block_size)),
        ("block count", str(stat.block_count)),
    )
    others = tuple(FileInfo(path, size) for path, size in before if path != ca_path)
    base = PartitionChange(
        p, "littlefs", profile.name, ca_path, ca_bytes, old_ca=old_ca, files=others, facts=facts
    )
    if old_ca == ca_bytes:
        return replace(base, power_safe=True, order="nothing to write")

    chosen: _Trial | None = None
    fallback: _Trial | None = None
    for metadata_max in _metadata_limits(profile):
        trial = _edit_trial(cache, p, profile, disk_version, metadata_max, ca_path, ca_bytes)
        if fallback is None:
            fallback = trial
        if trial.power_safe and _verify_trial(
            cache, p, profile, disk_version, trial, ca_path, ca_bytes, before, strict=False
        ):
            chosen = trial
            break
    safe = chosen is not None
    if chosen is None:
        assert fallback is not None
        chosen = fallback
        if not _verify_trial(
            cache, p, profile, disk_version, chosen, ca_path, ca_bytes, before, strict=True
        ):
            raise ImageError(
                f"partition '{p.name}': the edited LittleFS image does not verify "
                "(another file would change); nothing written"
            )
    writes = []
    for block in sorted(chosen.blocks, key=lambda b: chosen.last_write[b]):
        addr = p.offset + block * bs
        old = cache.read_or_blank(addr, bs)
        new = bytes(chosen.blocks[block])
        if old != new:
            role = "metadata" if block in (0, 1) or _is_metadata(new) else "new data"
            writes.append(SectorWrite(addr, old, new, role))
    if safe:
        order = (
            "power-safe: blocks no old metadata references first, the metadata commit last "
            "(into the erased half of its pair)"
        )
    else:
        order = (
            "littlefs appends its commit to the active metadata block: a cut while that "
            "sector is rewritten is recovered from the journal"
        )
    return replace(base, writes=tuple(writes), power_safe=safe, order=order)


def _is_metadata(block: bytes) -> bool:
    """A metadata block starts with a revision count and a first tag stored xored with
    0xffffffff (a valid tag has its top bit clear, so the stored one has it set); CTZ
    data blocks start with file bytes or skip-list pointers. Only a label."""
    return len(block) >= 8 and bool(block[4] & 0x80) and block[:8] != b"\xff" * 8


def _check_stat(p: Partition, stat: Any, profile: LittleFsProfile) -> None:
    """Refuse a superblock this partition or its platform cannot take (before any edit)."""
    from ..fs.littlefs import DISK_VERSION_2_0

    where = f"partition {p.describe()}: LittleFS superblock"
    version = int(stat.disk_version)
    text = f"{version >> 16}.{version & 0xFFFF}"
    if version >> 16 != 2 or version & 0xFFFF > 1:
        raise ImageError(f"{where} has on-disk version {text} (2.0 and 2.1 are read)")
    if profile.exact_block_count and version != DISK_VERSION_2_0:
        raise ImageError(
            f"{where} has on-disk version {text}; {profile.name} mounts only 2.0; nothing written"
        )
    if stat.block_size != profile.block_size:
        raise ImageError(
            f"{where} says {stat.block_size}-byte blocks; profile {profile.name} uses "
            f"{profile.block_size}; nothing written"
        )
    size = stat.block_count * stat.block_size
    if size > p.size or stat.block_count < 2:
        raise ImageError(
            f"{where} says {stat.block_count} blocks, which do not fit the {p.size:#x}-byte "
            "partition; nothing written"
        )
    if profile.exact_block_count and size != p.size:
        raise ImageError(
            f"{where} says {stat.block_count} blocks but the partition holds "
            f"{p.size // stat.block_size}; {profile.name} refuses such an image; nothing written"
        )


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


def _edit_trial(
    cache: FlashCache,
    p: Partition,
    profile: LittleFsProfile,
    disk_version: int,
    metadata_max: int,
    ca_path: str,
    ca_bytes: bytes,
) -> _Trial:
    from littlefs import LittleFSError

    trial = _Trial(metadata_max)
    device = _LfsDevice(cache, p.offset, profile.block_size, trial)
    lfs = _new_lfs(device, profile, disk_version=disk_version, metadata_max=metadata_max)
    try:
        lfs.mount()
        parts = ca_path.strip("/").split("/")
        cur = ""
        for part in parts[:-1]:
            cur += "/" + part
            try:
                lfs.stat(cur)
            except (LittleFSError, FileNotFoundError):
                lfs.mkdir(cur)
        fh = lfs.open(ca_path, "wb", buffering=0)
        try:
            fh.write(ca_bytes)
        finally:
            fh.close()
        device.check()
    except (LittleFSError, OSError) as e:
        device.check(e)
        code = _lfs_error(e) if isinstance(e, LittleFSError) else _lfs_error(e.__cause__ or e)
        if code == _ERR_NOSPC:
            raise ImageError(
                f"partition '{p.name}': the new {ca_path} ({len(ca_bytes)} bytes) does not fit "
                "in the LittleFS file system; nothing written",
                hint="free space on the unit, or ship fewer roots",
            ) from e
        if code == _ERR_NAMETOOLONG:
            raise ImageError(f"partition '{p.name}': {ca_path}: name too long") from e
        raise ImageError(
            f"partition '{p.name}': LittleFS error {code} while writing {ca_path}; nothing written",
            hint="the file system may be corrupt",
        ) from e
    return trial


def _verify_trial(
    cache: FlashCache,
    p: Partition,
    profile: LittleFsProfile,
    disk_version: int,
    trial: _Trial,
    ca_path: str,
    ca_bytes: bytes,
    before: list[tuple[str, int]],
    *,
    strict: bool,
) -> bool:
    """The edited state mounts as the device would mount it, holds the new CA file, the
    same other files with the same content, and the same format.

    Other files are compared between the old and the new state read through view
    devices (no file content fetched) unless ``strict``, which fetches what it reads.
    """
    from littlefs import LittleFSError

    bs = profile.block_size
    old_dev = _LfsDevice(cache, p.offset, bs, None, view=not strict)
    new_dev = _LfsDevice(cache, p.offset, bs, _frozen(trial), view=not strict)
    try:
        old = _new_lfs(old_dev, profile, disk_version=disk_version)
        new = _new_lfs(new_dev, profile, disk_version=disk_version)
        old.mount()
        new.mount()
        a, b = old.fs_stat(), new.fs_stat()
        if (a.disk_version, a.block_count, a.block_size, a.name_max) != (
            b.disk_version,
            b.block_count,
            b.block_size,
            b.name_max,
        ):
            return False
        after = _walk(new)
        if [x for x in after if x[0] != ca_path] != [x for x in before if x[0] != ca_path]:
            return False
        if _read_file(new, ca_path) != ca_bytes:
            return False
        for path, _ in before:
            if path != ca_path and _read_file(old, path) != _read_file(new, path):
                return False
    except (LittleFSError, OSError) as e:
        old_dev.check(e)
        new_dev.check(e)
        if strict:
            raise
        return False
    finally:
        old_dev.check()
        new_dev.check()
    return True


def _frozen(trial: _Trial) -> _Trial:
    """A copy of the trial's blocks a read-only device serves (never written)."""
    return _Trial(trial.metadata_max, {b: bytearray(v) for b, v in trial.blocks.items()})


# ---------------------------------------------------------------------------------------
# SPIFFS


def _plan_spiffs(
    cache: FlashCache, p: Partition, table: PartitionTable, board: Board, ca_bytes: bytes
) -> PartitionChange:
    from ..fs import open_image
    from ..fs.spiffs import get_spiffs_profile

    target = board.filesystem
    assert target is not None
    profile = get_spiffs_profile(target.profile)
    data = read_spiffs_partition(cache, p, profile)
    if data.count(0xFF) == len(data):
        return _erased(p, target, "erased (all 0xFF): no file system to update")
    update = _spiffs_update(data, p, table, board, ca_bytes)
    old_files = open_image(update.old_image, fs_type="spiffs", profile=update.profile).files()
    base = PartitionChange(
        p,
        "spiffs",
        update.profile,
        update.ca_path,
        ca_bytes,
        old_ca=update.old_ca,
        files=tuple(f for f in old_files if f.path != update.ca_path),
        facts=update.facts,
    )
    if update.old_ca == ca_bytes:
        return replace(base, order="nothing to write")
    state = bytearray(update.old_image)
    writes: list[SectorWrite] = []
    for off, content, role in update.steps:
        rel = off - p.offset
        writes.append(SectorWrite(off, bytes(state[rel : rel + SECTOR_SIZE]), content, role))
        state[rel : rel + SECTOR_SIZE] = content
    if bytes(state) != update.new_image:
        raise AssertionError("the SPIFFS steps do not lead to the planned image")
    return replace(base, writes=tuple(writes), power_safe=update.power_safe, order=update.order)


def _spiffs_update(
    data: bytes, p: Partition, table: PartitionTable, board: Board, ca_bytes: bytes
) -> PartitionUpdate:
    """The shared SPIFFS planner of :mod:`.plan`, run on this one partition's bytes."""
    from ..boards import FsTarget
    from .plan import _plan_gated_bytes

    target = board.filesystem
    assert target is not None
    one = replace(
        board, filesystem=FsTarget(target.fs_type, target.profile, target.ca_path, (p.name,))
    )

    def read(offset: int, size: int) -> bytes:
        if (offset, size) != (p.offset, p.size):
            raise AssertionError("the SPIFFS planner reads whole partitions")
        return data

    (update,) = _plan_gated_bytes(read, table, one, ca_bytes).updates
    return update


def read_spiffs_partition(cache: FlashCache, p: Partition, profile: Any) -> bytes:
    """A SPIFFS partition byte for byte, reading only the blocks that hold something.

    Ranges are first compared by the unit's MD5 with what they would hold empty (all
    0xFF, or formatted: the magic, erase count 0xFFFF or 0, or one seen nearby); a
    mismatch is halved down to single blocks, which are read. Every byte returned was
    read or is proven by an MD5.
    """
    from ..fs.spiffs_layout import Geometry

    bs = profile.block_size
    if p.size % bs or p.size < 3 * bs:
        raise ImageError(
            f"partition {p.describe()} is not a whole number of {bs}-byte SPIFFS blocks"
        )
    geo = Geometry.of(profile, p.size)
    counts: list[int | None] = [None, 0xFFFF, 0]  # None: all 0xFF, no magic
    out = bytearray(p.size)

    def empty(bix: int, count: int | None) -> bytes:
        block = bytearray(b"\xff" * bs)
        if count is not None:
            if profile.use_magic:
                m = geo.magic_addr(bix) - bix * bs
                block[m : m + 2] = geo.magic(bix).to_bytes(2, "little")
            e = geo.erase_count_addr(bix) - bix * bs
            block[e : e + 2] = count.to_bytes(2, "little")
        return bytes(block)

    def predicted(a: int, b: int, count: int | None) -> bytes:
        return b"".join(empty(bix, count) for bix in range(a, b))

    def match(a: int, b: int) -> bytes | None:
        digest = cache.md5(p.offset + a * bs, (b - a) * bs)
        for count in counts:
            guess = predicted(a, b, count)
            if hashlib.md5(guess).hexdigest() == digest:
                return guess
        return None

    for chunk in range(0, geo.block_count, _SPIFFS_CHUNK_BLOCKS):
        to_read: list[int] = []
        stack = [(chunk, min(chunk + _SPIFFS_CHUNK_BLOCKS, geo.block_count))]
        while stack:
            a, b = stack.pop()
            guess = match(a, b)
            if guess is not None:
                out[a * bs : b * bs] = guess
                cache.confirm(p.offset + a * bs, guess)
            elif b - a == 1:
                to_read.append(a)
            else:
                mid = (a + b) // 2
                stack.extend(((mid, b), (a, mid)))
        for start, end in _runs(sorted(to_read)):
            out[start * bs : end * bs] = cache.read(p.offset + start * bs, (end - start) * bs)
            for bix in range(start, end):
                e = geo.erase_count_addr(bix)
                count = int.from_bytes(out[e : e + 2], "little")
                if count not in counts:
                    counts.append(count)
    return bytes(out)


def _runs(blocks: list[int]) -> list[tuple[int, int]]:
    runs: list[tuple[int, int]] = []
    for b in blocks:
        if runs and runs[-1][1] == b:
            runs[-1] = (runs[-1][0], b + 1)
        else:
            runs.append((b, b + 1))
    return runs


# ---------------------------------------------------------------------------------------
# Reading back


def reread_problems(cache: FlashCache, change: PartitionChange) -> list[str]:
    """What differs between the plan and the file system read back through ``cache``.

    Forget the written sectors in the cache first, so they come from the unit again;
    the rest of the cache is only trusted where the unit's MD5 proved it unchanged.
    Compares the CA file byte for byte, every other file's path and size, the format.
    """
    from littlefs import LittleFSError

    p = change.partition
    problems: list[str] = []
    if change.fs_type == "littlefs":
        from ..fs.littlefs import LITTLEFS_PROFILES

        profile = LITTLEFS_PROFILES[change.profile]
        device = _LfsDevice(cache, p.offset, profile.block_size)
        lfs = _new_lfs(device, profile, disk_version=0)
        try:
            lfs.mount()
            stat = lfs.fs_stat()
            files = _walk(lfs)
            names = {path for path, _ in files}
            ca = _read_file(lfs, change.ca_path) if change.ca_path in names else None
            device.check()
        except LittleFSError as e:
            device.check(e)
            return [f"the file system does not mount (littlefs error {_lfs_error(e)})"]
        version = f"{stat.disk_version >> 16}.{stat.disk_version & 0xFFFF}"
        if ("disk version", version) not in change.facts:
            problems.append(f"on-disk version is now {version}")
    else:
        from ..fs import open_image

        try:
            image = open_image(
                cache.read(p.offset, p.size), fs_type="spiffs", profile=change.profile
            )
            files = [(f.path, f.size) for f in image.files()]
            ca = image.read(change.ca_path) if image.exists(change.ca_path) else None
        except ImageError as e:
            return [f"the file system does not mount ({e.message})"]
    if ca != change.new_ca:
        problems.append(f"{change.ca_path} does not hold the new CA file")
    kept = [(f.path, f.size) for f in change.files]
    if [f for f in files if f[0] != change.ca_path] != kept:
        problems.append("the other files are not the ones that were there")
    return problems
