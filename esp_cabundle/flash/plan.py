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

from ..blocks import SECTOR_SIZE, BlockSource, FlashCache, Overlay, SectorWrite, SourceView
from ..certs import load_certificates
from ..errors import (
    CertificateError,
    EspCabundleError,
    FlashError,
    ImageError,
    InputError,
    PartitionTableError,
)
from ..fs import detect_fs_type
from ..fs.base import FS_NAMES, FileInfo, FileSystemImage
from ..fs.inplace import PartitionEdit, mount_region
from ..fs.lfs_platforms import check_readable, resolve_platform
from ..fs.lfs_profiles import LITTLEFS_PROFILES
from ..fs.lfs_safe import LittleFsEdit
from ..fs.lfs_superblock import MAGIC
from ..fs.spiffs_layout import get_spiffs_profile
from ..fs.spiffs_safe import SpiffsEdit
from ..fs.verify import Expected, mount_problems
from ..limits import human_size
from ..partitions import Partition, PartitionTable
from ..spelling import PYTHON, Spelling
from ..text import sized_repr
from .base import ProgressCallback, say, step
from .damaged import damaged_fs_note, torn_fs_error

if TYPE_CHECKING:
    from ..boards import Board
    from ..certs import Certificate
    from ..gate import GatedCA
    from .serial import SerialUnit

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
    facts: tuple[tuple[str, str | int], ...] = ()  # the format, which the update keeps
    skipped: str | None = None
    bytes_read: int = 0
    roots: RootChange = field(default_factory=lambda: RootChange((), ()))

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
        change = _plan_partition(cache, p, board, ca_bytes, roots, spelling)
        read = cache.bytes_read - before
        # what crossed the link: the file system reads a few blocks, not the partition
        say(
            progress,
            f"opening partition '{p.name}' ({human_size(p.size)} at {p.offset:#x}); "
            f"read {human_size(read)}",
        )
        changes.append(replace(change, bytes_read=read))
        note = _note(p, change.skipped)
        if note:
            notes.append(note)
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


def _open(
    cache: FlashCache, p: Partition, fs_type: str, profile: str, spelling: Spelling
) -> PartitionEdit | None:
    if fs_type == "littlefs":
        return LittleFsEdit.open(cache, p.offset, p.size, LITTLEFS_PROFILES[profile], spelling)
    return SpiffsEdit.open(cache, p.offset, p.size, get_spiffs_profile(profile))


def _plan_partition(
    cache: FlashCache,
    p: Partition,
    board: Board,
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
        raise _mount_failure(p, board, cache, e, spelling) from e
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
        raise ImageError(
            f"partition '{p.name}': cannot write {fs.ca_path} ({e.message}); nothing written",
            hint=e.hint,
        ) from e
    return replace(
        base,
        old_ca=old,
        files=edit.others(fs.ca_path),
        writes=planned.writes,
        power_safe=planned.power_safe,
        order=planned.order,
        facts=tuple(edit.facts.items()),
        roots=roots(old),
    )


def _refuse_foreign_firmware(
    p: Partition, board: Board, edit: PartitionEdit, spelling: Spelling
) -> None:
    """Refuse (InputError) a partition holding a file that marks another firmware than
    ``board``'s (``/mdash.cfg`` under ``arduino-esp32-spiffs``): the CA would be judged
    by rules that are not the unit's, and one mdash-arduino refuses (it cuts the unit
    off mdash.net) would go through. The hint is the update typed, with the board the
    file marks (of the same file system: the partition mounted as the board's)."""
    fs = board.filesystem
    if not edit.files or fs is None:  # fs: the partition was mounted as the board's
        return
    # deferred: loads every shipped board, only for a partition holding some file
    from ..board_fit import foreign_mark

    found = foreign_mark(board, (f.path for f in edit.files), fs_type=fs.fs_type)
    if found is None:
        return
    path, keepers, names = found.path, found.keepers, found.names
    if len(keepers) == 1:
        hint = spelling.board_again_for(keepers[0].name)
    elif keepers:
        hint = f"name the board the unit runs ({names})"
    else:  # none of the partition's file system: a board named would not mount it
        hint = found.no_keeper()
    title = _title(found.firmware)
    runs = f"board {names}" if keepers else f"{title} firmware"
    raise InputError(
        f"partition '{p.name}' holds {path}, which only {title} firmware keeps: "
        f"the unit runs {runs}, not {board.name}, whose CA rules are not its "
        f"firmware's (a board file made for that firmware lists {path} in its "
        "config_files); nothing written",
        hint=f"is this the right {spelling.board}? {hint}",
    )


def _title(firmware: str) -> str:
    # deferred: the firmware tables load only for a refusal
    from ..firmware import load_firmware

    try:
        return load_firmware(firmware).title
    except InputError:
        return firmware


def _with_table_board(
    hint: str | None, table: PartitionTable, cache: FlashCache, spelling: Spelling
) -> str | None:
    """``hint`` ("is this the right board?") plus the shipped board whose partitions
    ``table`` has, as the next thing to try (``spelling.board_again``: the flash typed,
    with that board): a board's LittleFS and SPIFFS variants (mongoose-os-esp32 and
    mongoose-os-esp32-spiffs) are told apart by the LittleFS magic in the first
    partition (two 8-byte reads); boards of one file system on one partition
    (arduino-esp32-spiffs, mdash-arduino, ...) by the files it holds that mark a
    firmware (``/mdash.cfg``: :func:`_marked`). Still several: they are named, and the
    line given says ``--board BOARD``, which runs for none of them as it stands, as any
    one could be the wrong board's (its CA rules not the unit's)."""
    # deferred: loads every shipped board, only for a table the board given does not fit
    from ..board_fit import boards_for_table

    found = boards_for_table(table)
    if len(found) > 1:
        found = tuple(b for b in found if _fs_matches(b, table, cache)) or found
    if len(found) > 1:
        found = _marked(found, table, cache) or found
    if not found:
        return hint
    named = " or ".join(
        f"{b.name} ({FS_NAMES.get(b.filesystem.fs_type, '')} on "  # type: ignore[union-attr]
        f"{', '.join(p.name for p in b.fs_partitions(table))})"
        for b in found
    )
    said = f"the unit's partitions are those of board {named}"
    if len(found) == 1:
        said = f"{said}: {spelling.board_again_for(found[0].name)}"
    else:
        said = (
            f"{said}, and its file system holds no file that tells their firmware apart "
            f"(as /mdash.cfg marks mDash): name the one the unit runs, as their CA rules "
            f"differ: {spelling.board_again_for('BOARD')}"
        )
    return f"{hint}; {said}" if hint else said


def _marked(
    found: tuple[Board, ...], table: PartitionTable, cache: FlashCache
) -> tuple[Board, ...]:
    """Those of ``found`` whose firmware the files in their first partition mark
    (:func:`~esp_cabundle.board_fit.boards_marked`); () if none does, or the partition
    does not mount. Opening a SPIFFS partition reads all of it: only on this refusal."""
    # deferred: loaded already by the caller
    from ..board_fit import boards_marked

    out: list[Board] = []
    listed: dict[tuple[int, str, str], tuple[str, ...]] = {}
    for b in found:
        fs = b.filesystem
        assert fs is not None  # boards_for_table keeps boards with a file system
        p = b.fs_partitions(table)[0]
        key = (p.offset, fs.fs_type, fs.profile)
        if key not in listed:
            try:
                edit = _open(cache, p, fs.fs_type, fs.profile, PYTHON)
            except EspCabundleError:  # not mounting, or the unit not answering: no word
                edit = None
            listed[key] = tuple(f.path for f in edit.files) if edit is not None else ()
        out.extend(boards_marked((b,), listed[key]))
    return tuple(out)


def _fs_matches(board: Board, table: PartitionTable, cache: FlashCache) -> bool:
    """Whether the first of ``board``'s partitions in ``table`` holds LittleFS exactly
    when the board's file system is LittleFS."""
    fs = board.filesystem
    if fs is None:
        return False
    first = board.fs_partitions(table)[0]
    profile = fs.profile if fs.fs_type == "littlefs" else "esp-idf"
    return _holds_littlefs(cache, first, profile) == (fs.fs_type == "littlefs")


def _holds_littlefs(cache: FlashCache, p: Partition, profile: str) -> bool:
    """The LittleFS magic at offset 8 of block 0 or 1: the pages LittleFsEdit.open has
    read already, so asking costs a unit no read over its link."""
    bs = LITTLEFS_PROFILES[profile].block_size
    if p.size < 2 * bs:
        return False
    return MAGIC in (cache.read(p.offset + 8, 8), cache.read(p.offset + bs + 8, 8))


def _mount_failure(
    p: Partition, board: Board, cache: FlashCache, e: ImageError, spelling: Spelling
) -> ImageError | FlashError:
    """Say what the partition holds instead, where its bytes were all read (a dump, or
    a SPIFFS partition), and what the table's ``encrypted`` flag suggests (naming the
    board and the tools as ``spelling`` does)."""
    fs = board.filesystem
    assert fs is not None
    said = f"partition {p.describe()} does not mount as {fs.fs_type} ({fs.profile} profile): "
    said += e.message
    found: str | None = None
    if cache.known(p.offset, p.size):
        try:
            found = detect_fs_type(cache.read(p.offset, p.size))
        except ImageError:
            found = None
    if found is None and fs.fs_type == "littlefs" and _holds_littlefs(cache, p, fs.profile):
        found = "littlefs"  # its magic is there: a file system, not ciphertext
    efuses = _efuse_encryption(cache) if found is None else None  # read once, if at all
    if found is not None and found != fs.fs_type:
        hint = (
            f"the partition holds a {found} file system; pick a board whose file system is "
            f"{found} ({spelling.boards})"
        )
    elif found is None and (p.encrypted or efuses is not None):
        hint = damaged_fs_note(p, efuses, spelling, board.name)
    elif found == fs.fs_type and e.hint is None and (unit := _unit_of(cache)) is not None:
        return torn_fs_error(p, said, unit.name, spelling)
    else:
        hint = e.hint or (
            f"is {spelling.board} {board.name} right for this unit? ({spelling.inspect} "
            "shows what it holds)"
        )
    return ImageError(f"{said}; nothing written, nothing formatted", hint=hint)


def _efuse_encryption(cache: FlashCache) -> bool | None:
    """Flash encryption as the unit's eFuses say (None for a dump: not known, nor when
    reading them fails: the mount failure being told matters more than that failure)."""
    unit = _unit_of(cache)
    if unit is None:
        return None
    try:
        return unit.security().flash_encryption
    except EspCabundleError:
        return None


def _unit_of(cache: FlashCache) -> SerialUnit | None:
    """The unit behind ``cache`` (None: a dump)."""
    # deferred: esptool's unit class, only when a partition failed to mount
    from .serial import SerialUnit

    unit = cache.source
    while isinstance(unit, SourceView):  # a guard in front of the unit
        unit = unit.source
    return unit if isinstance(unit, SerialUnit) else None


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
