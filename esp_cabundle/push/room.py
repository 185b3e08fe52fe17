"""Whether a CA file fits on a unit, from the free space the unit reports.

Mongoose OS's ``Sys.GetInfo`` (``rpc-common`` ``mgos_rpc.c``) reports ``fs_free``
(``mgos_get_free_fs_size()``: LittleFS's free blocks, SPIFFS's ``SPIFFS_info``); mDash
reports none. Both the dry run and the push ask, so neither promises nor writes what
cannot fit.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

from ..text import byte_count

if TYPE_CHECKING:
    from .campaign_types import PushFile

__all__ = ["in_place_may_fit", "in_place_room", "room_cells", "room_for"]

# LittleFS keeps a file this small inline in its metadata (inline_max is at most an
# eighth of a block, 512 bytes on 4 KiB blocks): it may fit with no block free.
_INLINE_MAX = 1024
# What a file system keeps of the free bytes it reports (flash's no-room hint says the
# same of the partition it reads; a unit's Sys.GetInfo does not say which it runs)
_KEPT = "SPIFFS for its clean-up and file records, LittleFS its file records and whole blocks"
# What SPIFFS may keep of the free bytes it reports, as a share of its size: SPIFFS_info
# counts deleted pages free though only its clean-up (GC) makes them usable, a file
# takes whole pages and index pages, and GC wants a free block beyond the two spares.
# fs.spiffs's model of Mongoose OS's SPIFFS (32 KiB to 1 MiB, filled by FS.Put's
# appends) refused a 6 KB ca.pem.new with up to a fifth of its size free beyond the
# file: a quarter, and never less than the 4 KiB block GC cleans into.
_SPIFFS_SHARE = 4
_SPIFFS_BLOCK = 4096


def room_for(
    push: PushFile,
    current: bytes | None,
    free: int | None,
    *,
    in_place: bool,
    size: int | None = None,
) -> tuple[bool | None, str]:
    """Whether the new file fits in the ``free`` bytes a unit reports (True, False, or
    None: cannot tell), and the words for it; ``size``: the file system's (``fs_size``).

    Staged, ``<name>.new`` is written beside the old file: it needs the new file's size.
    In place, ``fopen "wb"`` truncates the old file first, but whether its space is free
    for the write depends on the file system (LittleFS frees the old blocks only when
    the new file is committed; SPIFFS at once): so it surely fits in ``free``, surely
    not in ``free`` and the old file together. A file no bigger than ``_INLINE_MAX`` may
    live in LittleFS metadata, needing no free block: never said not to fit. On SPIFFS
    (or a file system the board does not name) a file within what it may keep of its
    free bytes (:func:`_may_keep`) "may fit": a dry run said "fits" of a nearly full
    SPIFFS that then refused the write out of space.
    """
    need = len(push.data)
    what = push.name if in_place else push.temp_name
    if free is None and size is not None:  # reported above the size: no count (UnitInfo)
        return None, (
            f"unknown: the free space the unit reports is not within its file system's "
            f"{byte_count(size)} (a SPIFFS full into its spare blocks wraps total - used "
            f"past zero; writing {what})"
        )
    if free is None:
        return None, f"unknown: the unit does not report its free space (writing {what})"
    words = f"{what} needs {byte_count(need)}, the unit has {byte_count(free)} free"
    if need <= free:
        keep = _may_keep(push, size)
        if keep is None or free - need >= keep[0]:
            return True, f"fits ({words})"
        kept, who, basis = keep
        use = "for its clean-up and file records"
        if kept == math.inf:
            why = f"of which {who} keeps part {use}; {basis}"
        elif kept < free:
            why = f"of which {who} may keep up to {byte_count(int(kept))} {use}: {basis}"
        else:
            why = f"which {who} may keep {use}: up to {basis}"
        return None, f"may fit ({words}, {why})"
    reclaimed = len(current or b"") if in_place else 0
    if need > free + reclaimed and need > _INLINE_MAX:
        if in_place and reclaimed:  # say the old file was counted
            words += f" and the old {push.name} frees {byte_count(reclaimed)}"
        return False, f"no room ({words})"
    if need > free + reclaimed:  # small enough that littlefs may keep it inline
        return None, f"may not fit ({words}; a file this small may be stored inline)"
    return None, f"may not fit ({words}, and the old {push.name}'s {byte_count(reclaimed)})"


def _may_keep(push: PushFile, size: int | None) -> tuple[float, str, str] | None:
    """What the unit's file system may keep of its free bytes (the margin a file needs
    beyond its size to surely fit), the file system's name and the basis of that figure;
    None on LittleFS, whose free blocks (``mgos_get_free_fs_size``) a file may take."""
    board = push.ca.board
    fs = board.filesystem.fs_type if board is not None and board.filesystem else None
    if fs == "littlefs":
        return None
    who = "SPIFFS" if fs == "spiffs" else "its file system"
    if size is None:  # no share to take: nothing surely fits
        return math.inf, who, "the unit does not report its size"
    return max(size // _SPIFFS_SHARE, _SPIFFS_BLOCK), who, f"a quarter of its {byte_count(size)}"


def in_place_may_fit(push: PushFile, current: bytes | None, free: int | None) -> bool:
    """Whether writing in place could fit where the staged copy did not, so that offering
    it is honest: the free space is unknown, or the new file is within the free space and
    what the old file frees (as :func:`room_for` counts it in place)."""
    return free is None or room_for(push, current, free, in_place=True)[0] is not False


def in_place_room(push: PushFile, current: bytes | None, free: int | None) -> str:
    """What writing in place needs where the staged copy did not fit, as the dry run
    words it ("may not fit"): offered as if it would fit, a run in place then failed on
    a unit whose file system kept the old file's blocks until the new file was written."""
    need = byte_count(len(push.data))
    if free is None:
        return (
            f"{push.name} needs {need}; the unit reports no free space, so whether it fits "
            "cannot be told"
        )
    if len(push.data) <= free:
        # The unit refused the staged copy though it reports that much free: as flash's
        # no-room hint, lead with the room a CA file has, then the free bytes and why
        # they are not all usable ("needs 6,054 bytes, the unit has 12,048 bytes free"
        # after an out-of-space refusal read as a contradiction).
        return (
            f"a CA file has less than {need} of room on the unit (it took no "
            f"{push.temp_name} that size; {byte_count(free)} free as it reports, of which "
            f"its file system keeps part: {_KEPT}) and the old {push.name} holds "
            f"{byte_count(len(current or b''))}: {push.name} fits only if the file system "
            "frees the old file's space as it is overwritten, which depends on the file "
            "system (LittleFS may keep it until the new file is written)"
        )
    return (
        f"{push.name} needs {need}, the unit has {byte_count(free)} free and the old "
        f"{push.name} holds {byte_count(len(current or b''))}: it fits only if the file "
        "system frees the old file's space as it is overwritten, which depends on the file "
        f"system (LittleFS may keep it until the new file is written: then it needs {need} "
        "free)"
    )


_UNKNOWN = "unknown: "


def room_cells(rooms: Sequence[str | None]) -> tuple[list[str], list[str]]:
    """The dry-run table's room cells for :func:`room_for`'s words, and the lines said
    once below it: an "unknown: WHY" is "unknown" in its cell (numbered when the units'
    reasons differ) and its reason below, where every mDash row repeated one long
    sentence that cut the table; the others, each unit's own sizes, are kept whole."""
    reasons = list(dict.fromkeys(r[len(_UNKNOWN) :] for r in rooms if r and r.startswith(_UNKNOWN)))
    mark = {why: f" ({n})" if len(reasons) > 1 else "" for n, why in enumerate(reasons, 1)}
    cells = [
        f"unknown{mark[r[len(_UNKNOWN) :]]}" if r and r.startswith(_UNKNOWN) else r or ""
        for r in rooms
    ]
    return cells, [f"room unknown{mark[why]}: {why}" for why in reasons]
