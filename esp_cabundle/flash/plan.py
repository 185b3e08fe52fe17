"""Planning a CA update on a unit's flash: which partitions, which 4 KiB sectors, what bytes.

The planner works from a read callback ``(offset, size) -> bytes``, so the same plan
serves a flash dump file (``update-dump``) and a unit on a serial port (the flasher
reads only the table and the file-system partitions). For each file-system partition
the board names it opens the image with the board's profile, replaces the CA file (every
other file, the file system's format and on-disk version are kept), re-opens the result
to prove it, and lists the sectors that differ. Nothing is written here.

Refusals are :class:`~esp_cabundle.errors.ImageError` /
:class:`~esp_cabundle.errors.PartitionTableError` with the partition named: missing
partition, bytes that do not mount (with a word on flash encryption when the table flags
the partition). The CA file comes as a :class:`~esp_cabundle.gate.GatedCA`: it was judged
at the gate and is not judged again here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..boards import Board
from ..errors import ImageError, InputError
from ..fs.base import ERASE_BLOCK
from ..partitions import Partition, PartitionTable
from .base import Message, ProgressCallback

if TYPE_CHECKING:
    from ..gate import GatedCA

__all__ = [
    "FlashReader",
    "PartitionUpdate",
    "UpdatePlan",
    "partition_note",
    "plan_ca_update",
    "refuse_if_all_erased",
]

FlashReader = Callable[[int, int], bytes]


@dataclass(frozen=True, slots=True)
class PartitionUpdate:
    """One file-system partition: its bytes before and after, and the sectors that differ.

    ``skipped`` (with a reason) marks an erased partition left alone.
    """

    partition: Partition
    old_image: bytes
    new_image: bytes
    changed_sectors: tuple[int, ...]  # absolute flash offsets, ascending
    fs_type: str = ""
    profile: str = ""
    ca_path: str = ""
    old_ca: bytes | None = None
    kept_files: tuple[str, ...] = ()
    facts: tuple[tuple[str, str], ...] = ()
    skipped: str | None = None
    # SPIFFS: the block writes in power-safe order, (flash offset, 4 KiB, role), each
    # sector once. Empty: write changed_sectors in ascending order.
    steps: tuple[tuple[int, bytes, str], ...] = ()
    power_safe: bool = False
    order: str = ""

    @property
    def sector_count(self) -> int:
        return self.partition.size // ERASE_BLOCK

    def sector_writes(self) -> list[tuple[int, bytes]]:
        """(flash offset, 4 KiB of new bytes) for every changed sector."""
        base = self.partition.offset
        return [
            (off, self.new_image[off - base : off - base + ERASE_BLOCK])
            for off in self.changed_sectors
        ]


@dataclass(frozen=True, slots=True)
class UpdatePlan:
    """Everything a writer needs; ``updates`` in table order."""

    board: Board
    table: PartitionTable
    ca_bytes: bytes
    updates: tuple[PartitionUpdate, ...]
    notes: tuple[str, ...] = ()

    @property
    def changed_sectors(self) -> tuple[int, ...]:
        return tuple(s for u in self.updates for s in u.changed_sectors)

    def sector_writes(self) -> list[tuple[int, bytes]]:
        return [w for u in self.updates for w in u.sector_writes()]

    def apply(self, flash: bytes) -> bytes:
        """``flash`` with the changed sectors replaced; every other byte kept.

        Refuses (ImageError) when ``flash`` does not hold the bytes the plan was made
        from, so a plan is never applied to a different unit or dump.
        """
        out = bytearray(flash)
        for u in self.updates:
            p = u.partition
            if flash[p.offset : p.end] != u.old_image:
                raise ImageError(
                    f"partition {p.describe()} no longer holds the bytes the plan was made "
                    "from; plan again"
                )
            for off, data in u.sector_writes():
                out[off : off + len(data)] = data
        return bytes(out)


def _blank(data: bytes) -> bool:
    return data.count(0xFF) == len(data)


def _mount_failure(p: Partition, data: bytes, board: Board, e: ImageError) -> ImageError:
    from ..fs import detect_fs_type

    fs = board.filesystem
    assert fs is not None
    try:
        found = detect_fs_type(data)
    except ImageError:
        found = None
    hint = e.hint
    if found is not None and found != fs.fs_type:
        hint = (
            f"the partition holds a {found} file system; pick a board whose file system is "
            f"{found} (esp-cabundle boards)"
        )
    elif found is None and p.encrypted:
        hint = (
            "the table flags this partition 'encrypted' and its bytes are no file system: "
            "the chip's flash encryption is probably on, so the dump holds ciphertext and "
            "cannot be edited offline"
        )
    return ImageError(
        f"partition {p.describe()} does not mount as {fs.fs_type} ({fs.profile} profile): "
        f"{e.message}; nothing written",
        hint=hint or f"is --board {board.name} right for this unit?",
    )


def _plan_partition(p: Partition, data: bytes, board: Board, ca_bytes: bytes) -> PartitionUpdate:
    from ..fs import open_image

    fs = board.filesystem
    assert fs is not None
    if len(data) != p.size:
        raise InputError(f"read {len(data)} bytes of partition '{p.name}', expected {p.size}")
    if _blank(data):
        return PartitionUpdate(
            p,
            data,
            data,
            (),
            fs_type=fs.fs_type,
            profile=fs.profile,
            ca_path=fs.ca_path,
            skipped="erased (all 0xFF): no file system to update",
        )
    try:
        image = open_image(data, fs_type=fs.fs_type, profile=fs.profile)
    except ImageError as e:
        raise _mount_failure(p, data, board, e) from e
    if fs.platform is not None:
        from ..fs.lfs_platforms import check_readable, resolve_platform

        version = getattr(image, "disk_version", None)
        if isinstance(version, int):
            check_readable(version, resolve_platform(fs.platform), f"partition {p.describe()}")
    before = {f.path: image.read(f.path) for f in image.files()}
    facts_before = image.describe()
    old_ca = before.get(fs.ca_path)
    steps: tuple[tuple[int, bytes, str], ...] = ()
    power_safe, order = False, ""
    try:
        if fs.fs_type == "spiffs":
            from ..fs.spiffs_safe import plan_spiffs_replace

            replaced = plan_spiffs_replace(data, fs.profile, fs.ca_path, ca_bytes)
            new = replaced.image
            steps = tuple(
                (p.offset + s.block * len(s.content), s.content, s.role) for s in replaced.steps
            )
            power_safe, order = replaced.power_safe, replaced.order
        else:
            image.write(fs.ca_path, ca_bytes)
            new = image.to_bytes()
    except ImageError as e:
        raise ImageError(
            f"partition '{p.name}': cannot write {fs.ca_path} ({e.message}); nothing written",
            hint=e.hint,
        ) from e
    _verify(p, new, before, fs.fs_type, fs.profile, fs.ca_path, ca_bytes, facts_before)
    changed = tuple(
        p.offset + i
        for i in range(0, p.size, ERASE_BLOCK)
        if new[i : i + ERASE_BLOCK] != data[i : i + ERASE_BLOCK]
    )
    facts = tuple((k, v) for k, v in facts_before.items())
    return PartitionUpdate(
        partition=p,
        old_image=data,
        new_image=new,
        changed_sectors=changed,
        fs_type=fs.fs_type,
        profile=fs.profile,
        ca_path=fs.ca_path,
        old_ca=old_ca,
        kept_files=tuple(sorted(k for k in before if k != fs.ca_path)),
        facts=facts,
        steps=steps,
        power_safe=power_safe,
        order=order,
    )


# Facts that an edit must not change (the format the firmware mounts).
_FORMAT_FACTS = ("file system", "profile", "disk version", "block size", "block count", "blocks")


def _verify(
    p: Partition,
    new: bytes,
    before: dict[str, bytes],
    fs_type: str,
    profile: str,
    ca_path: str,
    ca_bytes: bytes,
    facts_before: dict[str, str],
) -> None:
    """Re-open the edited image from its bytes: CA as written, other files unchanged,
    same file-system format."""
    from ..fs import open_image

    if len(new) != p.size:
        raise ImageError(f"partition '{p.name}': the edited image changed size; nothing written")
    try:
        check = open_image(new, fs_type=fs_type, profile=profile)
        after = {f.path: check.read(f.path) for f in check.files()}
    except ImageError as e:
        raise ImageError(
            f"partition '{p.name}': the edited image does not mount ({e.message}); nothing written"
        ) from e
    if after.get(ca_path) != ca_bytes:
        raise ImageError(f"partition '{p.name}': {ca_path} does not read back; nothing written")
    for path, content in before.items():
        if path != ca_path and after.get(path) != content:
            raise ImageError(f"partition '{p.name}': {path} changed; nothing written")
    extra = set(after) - set(before) - {ca_path}
    if extra:
        raise ImageError(f"partition '{p.name}': new files appeared ({', '.join(sorted(extra))})")
    facts_after = check.describe()
    for key in _FORMAT_FACTS:
        if facts_before.get(key) != facts_after.get(key):
            raise ImageError(
                f"partition '{p.name}': the edit changed the file system's {key} "
                f"({facts_before.get(key)} -> {facts_after.get(key)}); nothing written"
            )


def plan_ca_update(
    read: FlashReader,
    table: PartitionTable,
    board: Board,
    ca: GatedCA,
    *,
    progress: ProgressCallback | None = None,
) -> UpdatePlan:
    """Plan replacing the CA file in every file-system partition ``board`` names.

    ``ca`` passed the gate for ``board`` (it is not judged again here). Reads only those
    partitions through ``read``. Raises before anything could be written:
    PartitionTableError (partition missing), ImageError (does not mount, or an edit that
    would not verify), InputError (a CA gated for another board, or every target
    partition erased).
    """
    return _plan_gated_bytes(read, table, board, ca.for_board(board), progress=progress)


def _plan_gated_bytes(
    read: FlashReader,
    table: PartitionTable,
    board: Board,
    ca_bytes: bytes,
    *,
    progress: ProgressCallback | None = None,
) -> UpdatePlan:
    """:func:`plan_ca_update` for the bytes of a GatedCA already checked for ``board``
    (the unit planner's SPIFFS step); never for bytes from anywhere else."""
    partitions = board.fs_partitions(table)
    updates: list[PartitionUpdate] = []
    notes: list[str] = []
    for p in partitions:
        if progress is not None:
            progress(
                Message(
                    "info", f"reading partition '{p.name}' ({p.size:#x} bytes at {p.offset:#x})"
                )
            )
        update = _plan_partition(p, read(p.offset, p.size), board, ca_bytes)
        note = partition_note(p, update.skipped)
        if note:
            notes.append(note)
        updates.append(update)
    refuse_if_all_erased([(u.partition, u.skipped) for u in updates])
    return UpdatePlan(board, table, ca_bytes, tuple(updates), tuple(notes))


def partition_note(p: Partition, skipped: str | None) -> str | None:
    """What a user should know about a target partition the plan read (or skipped)."""
    if skipped:
        return f"partition '{p.name}' is {skipped}"
    if p.encrypted:
        return (
            f"partition '{p.name}' is flagged encrypted but holds a plain file system: "
            "flash encryption is off on this unit"
        )
    return None


def refuse_if_all_erased(targets: list[tuple[Partition, str | None]]) -> None:
    """An erased partition is skipped (Mongoose OS's fs_1 before the first OTA); all of
    them erased means there is no CA file to replace at all."""
    if all(skipped for _, skipped in targets):
        raise InputError(
            "every file-system partition the board names is erased: "
            + ", ".join(f"'{p.name}'" for p, _ in targets)
            + "; there is no CA file to replace",
            hint="flash a file-system image first (esp-cabundle pack)",
        )
