"""Which files changed since a journaled update, for restore's refusal: a technician
reads "/mdash.cfg changed", not only the sector it lies in. The unit's partition is
mounted as it is and as the update left it (its changed sectors given their journaled
new content); the files that differ between the two are the change a restore would
lose. Said only on that refusal, so its reads cost nothing otherwise; and only for a
partition of at most :data:`NAMED_UP_TO` bytes: mounting one reads all of it (SPIFFS
its whole region), minutes for a 1.4 MiB partition at the ROM loader's baud rate, so a
larger one is left to the technician (:func:`unnamed_note`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..blocks import FlashCache
from ..errors import EspCabundleError
from ..fs.inplace import mount_region
from ..fs.spiffs import SpiffsImage, get_spiffs_profile
from ..fs.spiffs_region import read_spiffs_region
from .interrupt import UnitInterrupted

if TYPE_CHECKING:
    from ..boards import Board
    from ..fs.base import FileSystemImage
    from ..spelling import Spelling
    from .base import Flash
    from .journal import JournalEntry, JournalPartition
    from .writer import EntryState

__all__ = ["NAMED_UP_TO", "changed_files", "unnamed_note"]

# The largest partition whose files a refusal names (256 KiB: seconds at 115200 baud).
NAMED_UP_TO = 256 * 1024


class _AsLeft:
    """The unit's flash read through ``cache``, ``left`` sectors as the update left them."""

    def __init__(self, cache: FlashCache, left: dict[int, bytes]) -> None:
        self.cache, self.left = cache, left

    def read(self, offset: int, length: int) -> bytes:
        out = bytearray(self.cache.read(offset, length))
        for off, data in self.left.items():
            lo, hi = max(off, offset), min(off + len(data), offset + length)
            if lo < hi:
                out[lo - offset : hi - offset] = data[lo - off : hi - off]
        return bytes(out)


def _contents(image: FileSystemImage) -> dict[str, bytes]:
    return {f.path: image.read(f.path) for f in image.files()}


def _both(
    cache: FlashCache, p: JournalPartition, left: dict[int, bytes], profile: str
) -> tuple[FileSystemImage, FileSystemImage]:
    """The partition as the unit holds it, and as the update left it."""
    if p.fs_type == "spiffs":  # the whole region, as SPIFFS mounts; its blocks once
        data = bytearray(read_spiffs_region(cache, p.offset, p.size, get_spiffs_profile(profile)))
        now = SpiffsImage.open(bytes(data), profile)
        for off, sector in left.items():
            data[off - p.offset : off - p.offset + len(sector)] = sector
        return now, SpiffsImage.open(bytes(data), profile)
    as_left = _AsLeft(cache, left)
    return (
        mount_region(cache, p.offset, p.size, fs_type=p.fs_type, profile=profile),
        mount_region(as_left, p.offset, p.size, fs_type=p.fs_type, profile=profile),
    )


def changed_files(
    flash: Flash, entry: JournalEntry, state: EntryState, board: Board | None
) -> list[str]:
    """``fs_0:/mdash.cfg`` for every file that differs between the unit's partition and
    that partition as ``entry`` left it (its sectors that ``state`` says changed since
    put back to their new content); empty when either does not mount, nothing says
    how (no board of ours) or the partition is larger than :data:`NAMED_UP_TO`."""
    fs = board.filesystem if board is not None else None
    changed = set(state.changed_sectors)
    if fs is None or not changed:
        return []
    cache = FlashCache(flash)
    out = []
    for p in entry.partitions:
        left = {s.offset: s.new for s in p.sectors if s.offset in changed}
        if not left or p.size > NAMED_UP_TO:
            continue
        try:
            now, then = (_contents(image) for image in _both(cache, p, left, fs.profile))
        except UnitInterrupted:
            raise  # a stop while reading: the refusal is not said, the stop is
        except EspCabundleError:
            continue  # one of the two does not mount: the sectors say it
        prefix = f"{p.name}:" if len(entry.partitions) > 1 else ""
        out += [
            f"{prefix}{n}" for n in sorted(now.keys() | then.keys()) if now.get(n) != then.get(n)
        ]
    return out


def unnamed_note(
    port: str, entry: JournalEntry, state: EntryState, board: Board | None, spelling: Spelling
) -> str:
    """For a refusal: the partitions with changed sectors too large for
    :func:`changed_files` to name their files, and how to see them (read that partition
    alone, not the whole flash, then list the file's files); empty when there are none."""
    changed = set(state.changed_sectors)
    if board is None or board.filesystem is None:
        return ""
    big = [
        p
        for p in entry.partitions
        if p.size > NAMED_UP_TO and any(s.offset in changed for s in p.sectors)
    ]
    if not big:
        return ""
    names = ", ".join(f"{p.name} ({p.size // 1024} KiB)" for p in big)
    port_said = spelling.quote(port)
    if not spelling.cli:  # a script reads the partition's files with open_image itself
        read = f"unit = open_unit({port_said}); unit.read({big[0].offset:#x}, {big[0].size:#x})"
        listed = ""
    else:
        read = f"esp-cabundle read --port {port_said} --partition {big[0].name} -o part.bin"
        listed = "esp-cabundle fs ls part.bin"
        # commands are set off in single quotes, unless the port is already in them
        if "'" not in port_said:
            read, listed = f"'{read}'", f"'{listed}'"
        listed = f", then {listed}"
    return (
        f"; the files in {names} are not named: that would read the whole partition over "
        f"serial (minutes at the loader's baud rate); to see them, read that partition "
        f"alone ({read}{listed})"
    )
