"""The planner's partition checks (:mod:`.plan`): opening a partition as the board's
file system, and, when it does not fit, what to say: a partition that does not mount
(what it holds instead, flash encryption), a file marking another firmware, a table of
another board (the shipped boards it fits).

Split from :mod:`.plan` to keep it small: all but :func:`_open` run only on a refusal,
and their costly imports are deferred into them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..blocks import FlashCache, Overlay, SourceView
from ..errors import EspCabundleError, FlashError, ImageError, InputError
from ..fs import detect_fs_type
from ..fs.base import FS_NAMES, IN_PARTITION
from ..fs.inplace import PartitionEdit
from ..fs.lfs_profiles import LITTLEFS_PROFILES
from ..fs.lfs_safe import LittleFsEdit
from ..fs.lfs_superblock import MAGIC
from ..fs.littlefs import LittleFsImage
from ..fs.spiffs import SpiffsImage
from ..fs.spiffs_layout import SPIFFS_PROFILES, U16, Geometry, get_spiffs_profile
from ..fs.spiffs_safe import SpiffsEdit
from ..partitions import Partition, PartitionTable
from ..spelling import PYTHON, Spelling
from .damaged import (
    damaged_fs_note,
    formatted_otherwise,
    resized_spiffs_note,
    torn_fs_error,
)

if TYPE_CHECKING:
    from ..boards import Board
    from .serial import SerialUnit

__all__: list[str] = []  # the planner's own helpers: see plan_ca_update


def _open(
    cache: FlashCache, p: Partition, fs_type: str, profile: str, spelling: Spelling
) -> PartitionEdit | None:
    if fs_type == "littlefs":
        return LittleFsEdit.open(cache, p.offset, p.size, LITTLEFS_PROFILES[profile], spelling)
    return SpiffsEdit.open(cache, p.offset, p.size, get_spiffs_profile(profile))


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
    if not hint:
        return said
    # a hint asking "is this the right --board?" goes on as a sentence ("?; " read badly)
    return f"{hint} {said}" if hint.endswith("?") else f"{hint}; {said}"


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


def _holds_spiffs(cache: FlashCache, p: Partition) -> bool:
    """Whether blocks 0 and 1 of ``p`` carry a SPIFFS profile's magic: two 2-byte reads.
    A LittleFS board's mount reads LittleFS's blocks alone, so a unit's SPIFFS partition
    was taken for no file system at all: "damaged ... rewrite it with a fresh image; the
    files it held are lost", under a --board naming the wrong file system."""
    for prof in SPIFFS_PROFILES.values():
        bs = prof.block_size
        if not prof.use_magic or p.size % bs or p.size // bs < 2:
            continue
        geo = Geometry.of(prof, p.size)
        if all(
            U16.unpack(cache.read(p.offset + geo.magic_addr(b), 2))[0] == geo.magic(b)
            for b in (0, 1)
        ):
            return True
    return False


def _boards_holding(
    fs_type: str, p: Partition, table: PartitionTable, cache: FlashCache, spelling: Spelling
) -> str:
    """The shipped boards whose ``fs_type`` file system sits in ``p`` of ``table`` (a
    LittleFS one's magic where its profile's blocks put it), named: the line typed with
    the board when one fits; "pick a board whose file system is littlefs" named none,
    leaving a technician to read the boards' table for one."""
    # deferred: loads every shipped board, only for a partition of another file system
    from ..board_fit import boards_for_table

    fits = []
    for b in boards_for_table(table):
        fs = b.filesystem
        assert fs is not None  # boards_for_table keeps boards with a file system
        if fs.fs_type != fs_type or p not in b.fs_partitions(table):
            continue
        if fs_type != "littlefs" or _holds_littlefs(cache, p, fs.profile):
            fits.append(b)
    found = tuple(fits)
    unit = _unit_of(cache)
    if len(found) > 1 and unit is not None:  # a dump says no chip
        # deferred: loaded already by _unit_of
        from .serial import chip_key

        chip = chip_key(unit.info.chip)
        found = tuple(b for b in found if chip in b.chips) or found
    if len(found) > 1:
        found = _marked(found, table, cache) or found
    if not found:
        return f"pick a board whose file system is {fs_type} ({spelling.boards})"
    if len(found) == 1:
        return f"board {found[0].name} fits it: {spelling.board_again_for(found[0].name)}"
    names = ", ".join(b.name for b in found)
    return f"boards that fit it: {names} (name the one the unit runs): " + (
        spelling.board_again_for("BOARD")
    )


def _mount_failure(
    p: Partition,
    board: Board,
    table: PartitionTable,
    cache: FlashCache,
    e: ImageError,
    spelling: Spelling,
) -> ImageError | FlashError:
    """Say what the partition holds instead, where its bytes were all read (a dump, or
    a SPIFFS partition), and what the table's ``encrypted`` flag suggests (naming the
    board and the tools as ``spelling`` does)."""
    fs = board.filesystem
    assert fs is not None
    e.reword(IN_PARTITION)  # its size is the table's: not an image file cut short
    said = f"partition {p.describe()} does not mount as {fs.fs_type} ({fs.profile} profile): "
    said += e.message
    found: str | None = None
    other: str | None = None
    if cache.known(p.offset, p.size):
        try:
            found = detect_fs_type(cache.read(p.offset, p.size))
        except ImageError:
            found = None
    if found is None and fs.fs_type == "littlefs" and _holds_littlefs(cache, p, fs.profile):
        found = "littlefs"  # its magic is there: a file system, not ciphertext
    elif found is None and fs.fs_type == "littlefs" and not cache.known(p.offset, p.size):
        try:
            found = "spiffs" if _holds_spiffs(cache, p) else None
        except EspCabundleError:  # the unit not answering: the mount failure said alone
            found = None
    efuses = _efuse_encryption(cache) if found is None else None  # read once, if at all
    if found is not None and found != fs.fs_type:
        hint = f"the partition holds a {found} file system; " + _boards_holding(
            found, p, table, cache, spelling
        )
    elif found is None and (
        resized := cache.known(p.offset, p.size)
        and resized_spiffs_note(cache.read(p.offset, p.size), p)
    ):
        hint = resized
    elif found is None and (p.encrypted or efuses is not None):
        hint = damaged_fs_note(p, efuses, spelling, board.name)
    elif (
        found == fs.fs_type
        and e.hint is None
        and (other := formatted_otherwise(cache, p, fs.fs_type, fs.profile)) is None
        and (unit := _unit_of(cache)) is not None
    ):
        return torn_fs_error(p, said, unit.name, spelling)
    else:
        hint = e.hint or (
            f"is {spelling.board} {board.name} right for this unit? ({spelling.inspect} "
            "shows what it holds)"
        )
        if other is not None:  # healthy, made with other parameters than the board's
            hint = f"it mounts as SPIFFS with {other}, not as {fs.profile}; {hint}"
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


def _no_room_hint(
    p: Partition, edit: PartitionEdit, path: str, ca: bytes, spelling: Spelling
) -> str:
    """A unit's file system too full for the new CA file: the largest CA file it takes
    (found by trial writes in memory, to 256 bytes) against the file's, to build a
    smaller bundle to. That figure leads, not the raw free bytes: SPIFFS keeps part of
    those for its clean-up, and "322,535 bytes free" against "needs 256,122 bytes" read
    as a contradiction. "Free space by removing files" named no way to remove one."""
    space = edit.image.device_space()
    old = edit.read(path)
    # no file outgrows the free space and the old file's together (SPIFFS_info's used
    # is allocated pages only: deleted ones, GC's to reclaim, count free): the search
    # starts there
    bound = len(ca) if space is None else min(len(ca), space[1] + len(old or b"") + 1)
    fit = _largest_fit(edit, path, bound)  # below bound: below the new file's size
    notes = []
    if space is not None:  # the raw figure kept, saying why not all of it is usable
        fs, use = (
            ("SPIFFS", "its clean-up and file records")
            if isinstance(edit, SpiffsEdit)
            else ("LittleFS", "its file records and whole blocks")
        )
        kept = space[1] - fit
        share = "all" if fit < 256 else f"about {kept:,}"
        if space[1] < 0:  # SPIFFS_info's used over total: spiffsgen fills the spare blocks
            notes.append(
                f"no bytes free: its files reach {-space[1]:,} bytes into the two blocks "
                "SPIFFS keeps in reserve"
            )
        else:
            notes.append(
                f"{space[1]:,} bytes free, of which {fs} keeps {share} for {use}"
                if kept > 0
                else f"{space[1]:,} bytes free"
            )
    if old:
        notes.append(
            f"the old {path}'s {len(old):,} bytes are freed only once the new one is written"
        )
    why = f" ({'; '.join(notes)})" if notes else ""
    need = f"the new {path} needs {len(ca):,} bytes"
    if fit < 256:
        return (
            f"partition '{p.name}' has no room for a CA file{why}; {need}; the image was not "
            "changed (the unit's other files are its firmware's: reflash its file system)"
        )
    budget = f"{spelling.max_bytes} {fit}" if spelling.cli else f"{spelling.max_bytes[:-4]}{fit})"
    return (
        f"partition '{p.name}' has room for a CA file of at most {fit:,} bytes{why}; {need}; "
        f"the image was not changed; flash a smaller bundle (fewer roots): {spelling.build} "
        f"with {budget} to be refused a larger one"
    )


def _largest_fit(edit: PartitionEdit, path: str, limit: int) -> int:
    """The largest CA file below ``limit`` bytes (one that does not fit) that ``edit``
    takes at ``path``, to 256 bytes (0: none). Each try writes zeros into a copy held in
    memory; the blocks it reads were read by the failed write already."""
    low, high = 0, limit  # low fits (nothing written does), high does not
    while high - low > 256:
        mid = (low + high) // 2
        if _fits(edit, path, mid):
            low = mid
        else:
            high = mid
    return low


def _fits(edit: PartitionEdit, path: str, size: int) -> bool:
    """Whether a ``size``-byte file at ``path`` fits ``edit``'s file system."""
    try:
        if isinstance(edit, LittleFsEdit):
            store = Overlay(edit.cache, offset=edit.offset, size=edit.size)
            with LittleFsImage.mount(store, edit.size, edit.profile) as trial:
                trial.write(path, bytes(size))
        elif isinstance(edit, SpiffsEdit):
            # what plan_spiffs_replace refuses by: the unit's own write. Its power-safe
            # orders, tried after, mount every cut state: on a nearly full partition
            # minutes per try, and they never refuse a file the write took.
            SpiffsImage.open(edit.data, edit.profile).write(path, bytes(size))
        else:
            return False
    except ImageError:
        return False
    return True
