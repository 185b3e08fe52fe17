"""Verifying a unit after an update is written: the untouched ranges and the file system.

Apart from :mod:`.flasher` because it only reads (the writing is done and journaled by
then), and its faults say what to run next in the caller's words.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..errors import FlashError
from ..spelling import PYTHON, Spelling
from .plan import reread_problems

if TYPE_CHECKING:
    from ..blocks import FlashCache
    from .base import Flash
    from .journal import JournalEntry
    from .plan import UpdatePlan

__all__ = ["verify_after"]


def verify_after(
    flash: Flash,
    cache: FlashCache,
    plan: UpdatePlan,
    entry: JournalEntry,
    spelling: Spelling = PYTHON,
) -> None:
    """Untouched ranges hash as before, then the file system is read back.

    Read back from what the unit holds, without moving it over the link again: every
    written sector as the unit's MD5 proved it (in :func:`.writer.write_sectors`), every other
    byte as read before and proven unchanged by the unit's MD5 of its range. The hints
    name what to run as ``spelling`` does.
    """
    moved = [
        (off, n)
        for p in entry.partitions
        for off, n, md5 in p.untouched
        if flash.md5(off, n) != md5
    ]
    if moved:
        raise FlashError(
            f"{flash.name}: bytes outside the written sectors changed: "
            + ", ".join(f"{off:#x}+{n:#x}" for off, n in moved),
            hint="something else wrote to the flash during the update; inspect the unit "
            f"({spelling.inspect_for(flash.name)}) before doing anything else",
        )
    for c in plan.changes:
        if not c.writes:
            continue
        for w in c.writes:  # what the unit's MD5 of each written sector proved it holds
            cache.confirm(w.offset, w.new)
        problems = reread_problems(cache, c)
        if problems:
            raise FlashError(
                f"{flash.name}: partition '{c.partition.name}' read back from the unit does not "
                f"hold what was planned ({'; '.join(problems)}); written sectors: "
                + ", ".join(f"{s:#x}" for s in c.sectors),
                hint=f"run {spelling.restore_for(flash.name)} to put the original back",
            )
