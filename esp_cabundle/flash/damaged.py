"""What a file-system partition that does not mount is, said once for ``inspect``,
``flash`` and ``update-dump``: the eFuses decide, never the table's ``encrypted`` flag
alone (Mongoose OS sets it on every partition)."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from ..errors import FlashError, ImageError
from ..partitions import Partition
from ..spelling import PYTHON, Spelling

if TYPE_CHECKING:
    from ..blocks import FlashCache
    from ..fs.spiffs_layout import SpiffsProfile
    from ..partitions import PartitionTable
    from .journal import Journal

__all__ = [
    "TornFileSystem",
    "damaged_fs_note",
    "formatted_otherwise",
    "resized_spiffs_note",
    "spiffs_variant",
    "stale_torn_error",
    "torn_fs_error",
]


def damaged_fs_note(
    p: Partition, encryption: bool | None, spelling: Spelling = PYTHON, board: str | None = None
) -> str:
    """Why partition ``p``'s bytes are no file system, as the eFuses (``encryption``:
    None when unknown) allow: the table's ``encrypted`` flag alone proves nothing
    (Mongoose OS sets it on every partition), so only unknown eFuses leave "encrypted"
    open. The one wording inspect and flash give."""
    if encryption and not p.encrypted:  # flash encryption leaves unflagged data plain
        return (
            f"{p.name} is damaged (not a SPIFFS/LittleFS image; flash encryption is on, "
            "but the table does not flag this partition 'encrypted', so it is stored plain)"
        )
    if encryption:
        return (
            f"{p.name} holds ciphertext: flash encryption is on, so it cannot be read or "
            "edited over serial"
        )
    if encryption is False:
        pack = (
            f"esp-cabundle pack --board {board} --bundle ca.pem -o fs.bin"
            if board is not None and spelling.cli
            else f"{spelling.pack} for the unit's board"
        )
        return (
            f"{p.name} is damaged (not a SPIFFS/LittleFS image; flash encryption is off): "
            f"rewrite it with a fresh image ({pack}, then "
            f"esptool write-flash {p.offset:#x} fs.bin); the files it held are lost"
        )
    return (
        f"{p.name} is damaged or encrypted (not a SPIFFS/LittleFS image; the table flags it "
        "'encrypted' and the eFuses are unknown): inspect the unit itself to tell "
        f"({spelling.inspect_unit.format('PORT')})"
    )


class TornFileSystem(FlashError):
    """A refusal whose advice is: do not boot the unit (its firmware would format the
    partition): :func:`~.flasher.flash_unit` leaves such a unit in its bootloader.
    ``partition`` names it, so the flasher can tell its journal's stale entry of it."""

    partition: str = ""


def torn_fs_error(p: Partition, said: str, port: str, spelling: Spelling = PYTHON) -> FlashError:
    """A unit's partition that holds the board's kind of file system (its magic is
    there: no blank, no ciphertext) yet does not mount, the reader naming no likelier
    cause: what an update cut part-way leaves. A device state (exit 3), not a wrong
    --board: its journal, wherever the update ran, finishes or undoes it, and the
    firmware must not boot first (it would format the partition)."""
    where = f" {spelling.journal_dir} DIR" if spelling.cli else f", {spelling.journal_dir}DIR"
    error = TornFileSystem(
        f"{said}; it holds a file system of the board's kind, so it may be an update "
        "interrupted part-way (a link cut mid-write); nothing was written, nothing formatted",
        hint="keep the unit from booting its firmware (connected, in download mode): it "
        f"would format {p.name}, losing every file; the journal of the station that "
        f"started that update (DIR, its {spelling.journal_dir}) finishes it (run the same "
        f"{spelling.flash} with{where.lstrip(',')}) or undoes it "
        f"({spelling.restore_from(port, 'DIR')}); "
        f"{spelling.journal_list_in('DIR')} shows a journal's entries",
    )
    error.partition = p.name
    return error


def stale_torn_error(
    error: TornFileSystem,
    table: PartitionTable,
    journal: Journal,
    mac: str,
    board: str,
    spelling: Spelling = PYTHON,
) -> TornFileSystem:
    """``error`` again, unless the newest update of its partition that ``journal`` holds
    for ``mac`` was set aside as stale (changed since the cut, by this run or one
    before): no rerun finishes it and restore skips a stale entry, so "its journal
    finishes it" would be wrong; the one remedy left is a fresh image."""
    p = table.by_name(error.partition)
    touched = [
        e for e in journal.entries(mac) if any(q.name == error.partition for q in e.partitions)
    ]
    if p is None or not touched or touched[-1].status != "stale":
        return error
    when = touched[-1].when
    pack = (
        f"esp-cabundle pack --board {board} --bundle ca.pem -o fs.bin"
        if spelling.cli
        else f"{spelling.pack} for the unit's board"
    )
    stale = TornFileSystem(
        error.message,
        hint="keep the unit from booting its firmware (connected, in download mode): it "
        f"would format {p.name}, losing every file; the journal's entry of the update "
        f"of {when} is stale (the file system changed since), so no rerun or restore "
        f"finishes or undoes it: rewrite {p.name} with a fresh image ({pack}, then "
        f"esptool write-flash {p.offset:#x} fs.bin); the files it held are lost",
    )
    stale.partition = p.name
    return stale


def resized_spiffs_note(data: bytes, p: Partition) -> str | None:
    """Partition ``p`` holding a SPIFFS whose blocks carry the magic of another size
    (SPIFFS_USE_MAGIC_LENGTH folds the block count into it): a partition table edited,
    or another layout's, under a file system that may well be whole, which its firmware
    (magic wrong) and the "damaged: rewrite it" advice would both wipe. None otherwise."""
    from ..fs.spiffs_probe import cut_from  # deferred: SPIFFS's modules on demand

    cut = cut_from(data)
    if cut is None or cut[1] == p.size:
        return None
    prof, size = cut
    return (
        f"{p.name}'s blocks carry the {prof.name} SPIFFS magic of a {size:#x}-byte "
        f"partition, but the table makes it {p.size:#x} bytes: the partition table does "
        "not match the file system (edited, or another layout's) and its files are likely "
        "whole: give the unit back the table its file system was made with (a fresh image "
        "would lose the files)"
    )


def formatted_otherwise(cache: FlashCache, p: Partition, fs_type: str, profile: str) -> str | None:
    """How partition ``p``, a SPIFFS whose bytes were all read, mounts with another
    configuration than the board's (:func:`spiffs_variant`): not torn."""
    if fs_type != "spiffs" or not cache.known(p.offset, p.size):
        return None
    return spiffs_variant(cache.read(p.offset, p.size), profile)


def spiffs_variant(data: bytes, profile: str) -> str | None:
    """How another SPIFFS configuration that mounts ``data`` cleanly differs from the
    board's ``profile`` (another known profile, or its file-name or metadata length as
    firmware may set them), or None: a healthy partition formatted otherwise, not a torn
    one. Tried on bytes already read: no read over the link, a few milliseconds."""
    from ..fs.spiffs import SPIFFS_PROFILES, SpiffsImage  # deferred: only once a mount failed
    from ..fs.spiffs_engine import SpiffsCorrupt, SpiffsVolume  # deferred: as above
    from ..fs.spiffs_layout import Geometry  # deferred: as above

    board = SPIFFS_PROFILES[profile]
    tries = [(f"profile {n}", q) for n, q in SPIFFS_PROFILES.items()]
    tries += [
        (f"obj_name_len {n}, meta_len {m}", replace(board, obj_name_len=n, meta_len=m))
        for n in _NAME_LENS
        for m in _META_LENS
    ]
    tried = {_layout(board)}  # one try per on-disk layout, never the board's own
    for words, q in tries:
        if _layout(q) in tried:
            continue
        tried.add(_layout(q))
        try:
            vol = SpiffsVolume(bytearray(data), Geometry.of(q, len(data)))
            vol.mount()
            SpiffsImage(vol, data)  # every file's index parses
        except (SpiffsCorrupt, ImageError, ValueError):
            continue
        return words
    return None


def _layout(q: SpiffsProfile) -> tuple[object, ...]:
    """What a SPIFFS profile's mount reads by (not how it names or writes files)."""
    return (q.block_size, q.page_size, q.obj_name_len, q.meta_len, q.use_magic,
            q.use_magic_len, q.aligned_obj_ix_tables)  # fmt: skip


# What ESP-IDF's menuconfig (CONFIG_SPIFFS_OBJ_NAME_LEN, CONFIG_SPIFFS_META_LENGTH) and
# mkspiffs builds commonly set.
_NAME_LENS = (32, 64, 48, 128)
_META_LENS = (4, 0, 8)
