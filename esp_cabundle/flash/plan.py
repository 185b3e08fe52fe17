"""Planning a CA update: which partitions, which 4 KiB sectors, in which order, what bytes.

One planner serves a unit on a serial port (``flash``, the station) and a flash dump
(``update-dump``): it works over a :class:`~esp_cabundle.blocks.BlockSource` read
through a :class:`~esp_cabundle.blocks.FlashCache`, so a unit sends only what the file
system needs (a dump's reads are free). For each file-system partition the board names
it opens the file system with the board's profile (:mod:`esp_cabundle.fs.lfs_safe`,
:mod:`esp_cabundle.fs.spiffs_safe`), replaces the CA file (every other file, the format
and the on-disk version are kept), proves the result by mounting it, and lists the
sectors to write in the order that survives a cut: a cut after any of them leaves a file
system that mounts with the old or the new CA file (``power_safe``; where that cannot be
had, the order says so and the journal is the safeguard). Nothing is written here.

The CA comes as a :class:`~esp_cabundle.gate.GatedCA`: judged at the gate for this
board, its roots parsed there once; it is not judged or parsed again. The old CA file
of each partition is parsed once, here, into a :class:`RootChange`.

Refusals, before anything could be written: PartitionTableError (partition missing),
ImageError (does not mount, never formatted; new content does not fit), InputError (a
CA gated for another board, every target partition erased).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from ..blocks import SECTOR_SIZE, BlockSource, FlashCache, Overlay, SectorWrite
from ..certs import load_certificates
from ..errors import (
    CertificateError,
    FlashError,
    ImageError,
    InputError,
    PartitionTableError,
)
from ..fs.base import FileInfo, FileSystemImage, NoRoomError
from ..fs.inplace import mount_region
from ..fs.lfs_platforms import check_readable, resolve_platform
from ..fs.lfs_safe import LittleFsEdit
from ..fs.verify import Expected, mount_problems
from ..limits import human_size
from ..partitions import Partition, PartitionTable
from ..spelling import PYTHON, Spelling
from ..text import plural, sized_repr
from .base import ProgressCallback, say, step
from .plan_checks import (
    _mount_failure,
    _no_room_hint,
    _open,
    _refuse_foreign_firmware,
    _with_table_board,
)

if TYPE_CHECKING:
    from ..boards import Board
    from ..certs import Certificate
    from ..gate import GatedCA

__all__ = [
    "PartitionChange",
    "RootChange",
    "SectorWrite",
    "UpdatePlan",
    "plan_ca_update",
    "reread_problems",
]

ERASED = "erased (all 0xFF): no file system to update"


@dataclass(frozen=True, slots=True)
class RootChange:
    """The roots a CA file held before and holds after, each file parsed once."""

    before: tuple[Certificate, ...]
    after: tuple[Certificate, ...]
    old_unreadable: bool = False  # there was a CA file, and no certificate in it parses

    @classmethod
    def of(cls, old: bytes | None, new: tuple[Certificate, ...]) -> RootChange:

        if not old:
            return cls((), new)
        try:
            return cls(load_certificates(old, source="CA file"), new)
        except CertificateError:
            return cls((), new, old_unreadable=True)

    @property
    def added(self) -> tuple[Certificate, ...]:
        old = {c.sha256 for c in self.before}
        return tuple(c for c in self.after if c.sha256 not in old)

    @property
    def removed(self) -> tuple[Certificate, ...]:
        new = {c.sha256 for c in self.after}
        return tuple(c for c in self.before if c.sha256 not in new)

    @property
    def kept(self) -> int:
        return len({c.sha256 for c in self.before} & {c.sha256 for c in self.after})


@dataclass(frozen=True, slots=True)
class PartitionChange:
    """The CA update of one file-system partition, sectors in the order to write them.

    ``power_safe``: a cut between or inside any of the writes leaves a file system that
    mounts with the old or the new CA file (LittleFS, when the commit could be placed in
    the erased half of a metadata pair; SPIFFS, at sector boundaries, when the new file
    fits without garbage collection). Otherwise the journal is the safeguard.
    ``skipped`` (with a reason) marks an erased partition left alone.
    """

    __repr__ = sized_repr  # its bytes as their size

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
    unsafe_cuts: int = 0  # points between two writes where a cut may not mount
    facts: tuple[tuple[str, str | int], ...] = ()  # the format, which the update keeps
    skipped: str | None = None
    bytes_read: int = 0
    roots: RootChange = field(default_factory=lambda: RootChange((), ()))

    @property
    def sectors(self) -> tuple[int, ...]:
        """Sector addresses written, ascending."""
        return tuple(sorted(w.offset for w in self.writes))

    @property
    def cut_warning(self) -> str | None:
        """What a technician must know before the first write when cuts at
        ``unsafe_cuts`` points may leave the partition unmountable (the order says it
        too, but only --verbose and --json show the order): how many, and to keep the
        unit powered and in its bootloader until the update, its rerun or a restore
        finishes. None when every cut point mounts."""
        n, total = self.unsafe_cuts, len(self.writes)
        if not n:
            return None
        where = (
            f"a cut between any two of its {total} sector writes"
            if n >= total - 1
            else f"a cut at {n} of the {plural(total - 1, 'point')} between its {total} "
            "sector writes"
        )
        return (
            f"partition '{self.partition.name}' is nearly full: its update needs garbage "
            f"collection, and {where} may leave a partition that does not mount; keep the "
            "unit powered and in its bootloader until this update finishes (cut off: until "
            "the rerun finishes it from the journal, or restore puts the old CA file back)"
        )

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
class UpdatePlan:
    """Every partition's change, in table order; ``writes`` in the order they go out."""

    board: Board
    table: PartitionTable
    ca: GatedCA
    changes: tuple[PartitionChange, ...]
    notes: tuple[str, ...] = ()
    bytes_read: int = 0
    reads: int = 0
    md5s: int = 0

    def __repr__(self) -> str:
        # Board, table and sectors in full ran to kilobytes: name them by counts, sizes
        # and a digest prefix instead.
        ca = self.ca
        parts = ", ".join(
            f"{c.partition.name}: "
            + (f"skipped ({c.skipped})" if c.skipped else f"{len(c.writes)} writes")
            + f", CA {len(c.old_ca) if c.old_ca is not None else 'none'} -> {len(c.new_ca)} bytes"
            for c in self.changes
        )
        return (
            f"UpdatePlan(board={self.board.full_name!r}, ca=<{len(ca.certificates)} "
            f"certificates, {len(ca.pem)} bytes, sha256 {ca.sha256[:12]}>, "
            f"changes=[{parts}], writes={len(self.writes)}, bytes_read={self.bytes_read}, "
            f"reads={self.reads}, md5s={self.md5s}, notes={len(self.notes)})"
        )

    @property
    def ca_bytes(self) -> bytes:
        """What every CA file holds once the plan is applied."""
        return self.ca.pem

    @property
    def writes(self) -> tuple[SectorWrite, ...]:
        return tuple(w for c in self.changes for w in c.writes)

    @property
    def sectors(self) -> tuple[int, ...]:
        """Every sector written, ascending."""
        return tuple(sorted(w.offset for w in self.writes))

    @property
    def up_to_date(self) -> bool:
        return not self.writes

    def check_bounds(self) -> None:
        """Refuse any write that is not a whole sector inside its own partition.

        The planners never produce one; this is the last check before the flash, so a
        bug can never reach NVS (keys, calibration) or an app partition.
        """
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


def plan_ca_update(
    source: BlockSource,
    table: PartitionTable,
    board: Board,
    ca: GatedCA,
    *,
    progress: ProgressCallback | None = None,
    seen: list[RootChange] | None = None,
    spelling: Spelling = PYTHON,
) -> UpdatePlan:
    """Plan replacing the CA file in every file-system partition ``board`` names; see
    the module. Reads through ``source`` (pass a :class:`FlashCache` to keep what was
    read, for verifying afterwards). ``seen`` gets each CA file's roots as soon as it is
    read: a stop while planning still knows them. The hints name the board and the
    options as ``spelling`` does."""
    cache = source if isinstance(source, FlashCache) else FlashCache(source)
    ca_bytes = ca.for_board(board)
    changes: list[PartitionChange] = []
    notes: list[str] = []
    parsed: dict[bytes | None, RootChange] = {}  # Mongoose OS: fs_0 and fs_1 hold one CA

    def roots(old: bytes | None) -> RootChange:
        if old not in parsed:
            parsed[old] = RootChange.of(old, ca.certificates)
            if seen is not None:
                seen.append(parsed[old])
        return parsed[old]

    try:
        partitions = board.fs_partitions(table, spelling)
    except PartitionTableError as e:
        e.hint = _with_table_board(e.hint, table, cache, spelling)
        raise
    for i, p in enumerate(partitions):
        before = cache.bytes_read
        step(progress, f"reading partition '{p.name}'", i, len(partitions))
        change = _plan_partition(cache, p, board, table, ca_bytes, roots, spelling)
        read = cache.bytes_read - before
        # what crossed the link: the file system reads a few blocks, not the partition
        say(
            progress,
            f"opening partition '{p.name}' ({human_size(p.size)} at {p.offset:#x}); "
            f"read {human_size(read)}",
        )
        changes.append(replace(change, bytes_read=read))
        if change.cut_warning is not None:  # said before any write, with or without -v
            say(progress, change.cut_warning, "warning")
        note = _note(p, change.skipped) or _unmarked(board, table, change)
        if note:
            notes.append(note)
        if note and not change.skipped and not p.encrypted:  # a board the unit may not run
            say(progress, note, "warning")
    if all(c.skipped for c in changes):
        pack = spelling.pack.strip("'")  # unquoted in parentheses, as the CLI always said
        raise InputError(
            "every file-system partition the board names is erased: "
            + ", ".join(f"'{c.partition.name}'" for c in changes)
            + "; there is no CA file to replace",
            hint=f"flash a file-system image first ({pack})",
        )
    plan = UpdatePlan(
        board,
        table,
        ca,
        tuple(changes),
        tuple(notes),
        bytes_read=cache.bytes_read,
        reads=cache.reads,
        md5s=cache.md5s,
    )
    plan.check_bounds()
    step(progress, "planned", len(partitions), len(partitions))
    return plan


def _plan_partition(
    cache: FlashCache,
    p: Partition,
    board: Board,
    table: PartitionTable,
    ca_bytes: bytes,
    roots: Callable[[bytes | None], RootChange],
    spelling: Spelling,
) -> PartitionChange:
    fs = board.filesystem
    assert fs is not None  # fs_partitions refuses boards without a file system
    base = PartitionChange(p, fs.fs_type, fs.profile, fs.ca_path, ca_bytes)
    try:
        edit = _open(cache, p, fs.fs_type, fs.profile, spelling)
        old = edit.read(fs.ca_path) if edit is not None else None
    except ImageError as e:
        raise _mount_failure(p, board, table, cache, e, spelling) from e
    if edit is None:
        return replace(base, skipped=ERASED)
    _refuse_foreign_firmware(p, board, edit, spelling)
    if fs.platform is not None and isinstance(edit, LittleFsEdit):
        check_readable(
            edit.disk_version,
            resolve_platform(fs.platform),
            f"partition {p.describe()}",
            spelling,
        )
    try:
        planned = edit.replace(fs.ca_path, ca_bytes)
    except ImageError as e:
        hint = e.hint
        if isinstance(e, NoRoomError):  # no file can be removed at a bench: a smaller CA
            hint = _no_room_hint(p, edit, fs.ca_path, ca_bytes, spelling)
        raise ImageError(
            f"partition '{p.name}': cannot write {fs.ca_path} ({e.message}); nothing written",
            hint=hint,
        ) from e
    return replace(
        base,
        old_ca=old,
        files=edit.others(fs.ca_path),
        writes=planned.writes,
        power_safe=planned.power_safe,
        order=planned.order,
        unsafe_cuts=planned.unsafe_cuts,
        facts=tuple(edit.facts.items()),
        roots=roots(old),
    )


def _unmarked(board: Board, table: PartitionTable, change: PartitionChange) -> str | None:
    """The board named may not be the unit's (:func:`~esp_cabundle.board_fit.
    unmarked_firmware`: no /mdash.cfg under mdash-arduino, and another table), as a
    note and a warning before any write; only for a board whose firmware keeps a file."""
    fs = board.filesystem
    if change.skipped or board.firmware is None or fs is None or not fs.config_files:
        return None
    from ..board_fit import unmarked_firmware  # deferred: reads every shipped board

    paths = [f.path for f in change.files]
    return unmarked_firmware(board, table, change.partition.name, paths)


def _note(p: Partition, skipped: str | None) -> str | None:
    """What a user should know about a target partition the plan read (or skipped)."""
    if skipped:
        return f"partition '{p.name}' is {skipped}"
    if p.encrypted:
        return (
            f"partition '{p.name}' is flagged encrypted but holds a plain file system: "
            "flash encryption is off on this unit"
        )
    return None


def reread_problems(
    cache: FlashCache,
    change: PartitionChange,
    *,
    written: Sequence[tuple[int, bytes]] = (),
    old: bool = False,
) -> list[str]:
    """What differs between the plan and the partition read back through ``cache``, with
    ``written`` (absolute offset, content) laid over it (none: as the unit is now).

    The CA file must hold the new content (``old``: the content it had), every other
    file must be there with its size, and the format must be the same. Only what the
    file system reads crosses the link; bytes the cache knows are trusted (the unit's
    MD5 proved them).
    """
    p = change.partition
    reader = Overlay(cache, size=cache.size, sectors=dict(written)) if written else cache

    def mount() -> FileSystemImage:
        return mount_region(
            reader, p.offset, p.size, fs_type=change.fs_type, profile=change.profile
        )

    return mount_problems(
        mount,
        Expected(
            path=change.ca_path,
            allowed=[change.old_ca if old else change.new_ca],
            others=change.files,
            facts=dict(change.facts),
            what="the CA file it had" if old else "the new CA file",
        ),
    )
