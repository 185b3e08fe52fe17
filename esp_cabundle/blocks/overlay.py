"""Sector writes kept in memory over a block source, in the order they were made.

An edit of a file system on a unit is planned here before anything is sent: the file
system (littlefs, or the SPIFFS planner) reads through an :class:`Overlay` of the unit's
cached flash and writes into it. Only the sectors written are copied (copy-on-write);
the overlay remembers which were erased first and which were programmed in place, and
the order of their last writes, which is the order they go to the unit in. Laid over a
cache with some planned sectors, it is also "the unit once those sectors are written",
which is how every intermediate state of an update is mounted before the first write.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

from .source import ERASED, SECTOR_SIZE

__all__ = ["Overlay", "Reader", "SectorWrite"]


class Reader(Protocol):
    """What an overlay reads the sectors it does not hold from (a cache, a view)."""

    def read(self, offset: int, length: int) -> bytes: ...


@dataclass(frozen=True, slots=True)
class SectorWrite:
    """One 4 KiB sector to write: what the unit holds now and what it will hold."""

    offset: int  # absolute flash address
    old: bytes = field(repr=False)  # 4 KiB each: a plan's repr would be megabytes
    new: bytes = field(repr=False)
    role: str = ""  # "new data", "metadata commit", ... (why it comes where it does)


# Never compared nor printed: no __eq__/__repr__ to generate at start-up (~0.15 ms).
@dataclass(eq=False, repr=False)
class _State:
    sectors: dict[int, bytearray] = field(default_factory=dict)  # relative offset -> 4 KiB
    roles: dict[int, str] = field(default_factory=dict)
    erased: set[int] = field(default_factory=set)  # erased before being programmed
    appended: set[int] = field(default_factory=set)  # programmed without being erased
    last_write: dict[int, int] = field(default_factory=dict)
    seq: int = 0

    def copy(self) -> _State:
        return _State(
            {s: bytearray(b) for s, b in self.sectors.items()},
            dict(self.roles),
            set(self.erased),
            set(self.appended),
            dict(self.last_write),
            self.seq,
        )


class Overlay:
    """``size`` bytes of ``base`` from ``offset`` on, with sectors replaced in memory.

    Addresses are relative to ``offset`` (a partition's bytes start at 0). Reads of
    sectors never written go to ``base``; :meth:`erase` and :meth:`write` take whole
    sectors, :meth:`prog` any bytes inside sectors (a sector not yet held is copied from
    ``base`` first). ``sectors`` are written first (a state part-way through a plan).
    """

    def __init__(
        self,
        base: Reader,
        *,
        offset: int = 0,
        size: int,
        sectors: Mapping[int, bytes] = {},
    ) -> None:
        self.base = base
        self.offset = offset
        self.size = size
        self._s = _State()
        for off, data in sectors.items():
            self.write(off, data)

    # -- reading -----------------------------------------------------------------------
    def read(self, offset: int, length: int) -> bytes:
        out = bytearray()
        pos, end = offset, offset + length
        held = self._s.sectors
        while pos < end:
            sector = pos - pos % SECTOR_SIZE
            stop = min(end, sector + SECTOR_SIZE)
            if sector in held:
                out += held[sector][pos - sector : stop - sector]
            else:
                # up to the next held sector in one read of the base
                while stop < end and stop not in held:
                    stop = min(end, stop + SECTOR_SIZE)
                out += self.base.read(self.offset + pos, stop - pos)
            pos = stop
        return bytes(out)

    # -- writing -----------------------------------------------------------------------
    def erase(self, offset: int, length: int) -> None:
        """Set whole sectors to 0xFF."""
        for sector in _sectors(offset, length, whole=True):
            self._s.sectors[sector] = bytearray([ERASED]) * SECTOR_SIZE
            self._s.erased.add(sector)
            self._s.appended.discard(sector)
            self._touch(sector)

    def prog(self, offset: int, data: bytes) -> None:
        """Program bytes inside sectors (the bytes are replaced, as on erased flash)."""
        pos = 0
        while pos < len(data):
            at = offset + pos
            sector = at - at % SECTOR_SIZE
            n = min(len(data) - pos, sector + SECTOR_SIZE - at)
            buf = self._s.sectors.get(sector)
            if buf is None:
                buf = bytearray(self.read(sector, SECTOR_SIZE))
                self._s.sectors[sector] = buf
                self._s.appended.add(sector)
            buf[at - sector : at - sector + n] = data[pos : pos + n]
            self._touch(sector)
            pos += n

    def write(self, offset: int, data: bytes, role: str = "") -> None:
        """Replace whole sectors with ``data`` (erase, then program)."""
        for i, sector in enumerate(_sectors(offset, len(data), whole=True)):
            self._s.sectors[sector] = bytearray(data[i * SECTOR_SIZE : (i + 1) * SECTOR_SIZE])
            self._s.erased.add(sector)
            self._s.appended.discard(sector)
            if role:
                self._s.roles[sector] = role
            self._touch(sector)

    def _touch(self, sector: int) -> None:
        self._s.seq += 1
        self._s.last_write[sector] = self._s.seq

    # -- what was written ----------------------------------------------------------------
    @property
    def sectors(self) -> dict[int, bytes]:
        """Every sector held, by relative offset."""
        return {s: bytes(b) for s, b in self._s.sectors.items()}

    @property
    def appended(self) -> frozenset[int]:
        """Sectors programmed without being erased first: rewriting one whole from a
        host erases what it held before the new bytes arrive."""
        return frozenset(self._s.appended)

    def written(self) -> list[tuple[int, bytes, str]]:
        """(relative offset, content, role) of every sector held, in the order of their
        last writes."""
        s = self._s
        order = sorted(s.sectors, key=lambda sector: s.last_write.get(sector, 0))
        return [(sector, bytes(s.sectors[sector]), s.roles.get(sector, "")) for sector in order]

    def snapshot(self) -> object:
        """The writes so far, for :meth:`restore` (an edit that failed is undone)."""
        return self._s.copy()

    def restore(self, snapshot: object) -> None:
        if not isinstance(snapshot, _State):
            raise TypeError("not a snapshot of an overlay")
        self._s = snapshot.copy()

    def release(self, snapshot: object) -> None:
        """Nothing to let go: a snapshot is a copy the caller drops."""


def _sectors(offset: int, length: int, *, whole: bool) -> range:
    if whole and (offset % SECTOR_SIZE or length % SECTOR_SIZE):
        raise ValueError(f"{offset:#x}+{length:#x} is not made of whole sectors")
    return range(offset, offset + length, SECTOR_SIZE)
