"""The one interface to a unit's flash, whether it sits behind a serial port or in a file.

Everything above this layer (reading a partition, inspecting a unit, the update planner)
works on a :class:`Flash`: read any range, erase and write whole 4 KiB sectors, take an
MD5 of a range. A Flash is a :class:`~esp_cabundle.blocks.BlockSource`, which is all
the planner needs. The two back ends are :class:`~esp_cabundle.flash.serial.SerialUnit`
(esptool's Python API) and :class:`~esp_cabundle.flash.dump.DumpFile` (a flash dump).

Writes take whole sectors only: NOR flash erases 4 KiB at a time, so a write of part of
a sector would silently erase the rest of it (esptool pads such writes with 0xFF).
Making the caller supply whole sectors keeps every byte that changes visible.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType
from typing import Literal

from ..blocks import SECTOR_SIZE
from ..errors import InputError

__all__ = [
    "JOB",
    "SECTOR_SIZE",
    "Flash",
    "Message",
    "Progress",
    "ProgressCallback",
    "ProgressEvent",
    "Step",
    "say",
    "sector_span",
    "step",
    "within",
]

Operation = Literal["connect", "read", "erase", "write", "verify"]


@dataclass(frozen=True, slots=True)
class Progress:
    """An operation on ``total`` bytes starting at ``address`` has done ``done`` of them."""

    operation: Operation
    address: int
    done: int
    total: int


@dataclass(frozen=True, slots=True)
class Message:
    """A line a back end (esptool) said; ``level`` is how much it matters to a user."""

    level: Literal["info", "note", "warning", "error"]
    text: str


@dataclass(frozen=True, slots=True)
class Step:
    """How far a whole job on a unit is: ``done`` of ``total``, and what it is doing.

    A job reports against :data:`JOB` from its first step to its last, so a progress
    bar knows its end before it starts; each phase (connecting, reading, writing,
    verifying) takes a fixed share of it, and reports inside that share through
    :func:`within`.
    """

    doing: str
    done: int
    total: int


# A whole job, in steps: its phases take fixed shares of it (see the flasher).
JOB = 100

ProgressEvent = Progress | Message | Step
ProgressCallback = Callable[[ProgressEvent], None]


def say(
    progress: ProgressCallback | None,
    text: str,
    level: Literal["info", "note", "warning", "error"] = "info",
) -> None:
    """Tell the user something (a line a verbose display shows; warnings always)."""
    if progress is not None:
        progress(Message(level, text))


def step(progress: ProgressCallback | None, doing: str, done: int = 0, total: int = 1) -> None:
    """Say how far a job (or a part of it, see :func:`within`) is."""
    if progress is not None:
        progress(Step(doing, done, total))


def within(progress: ProgressCallback | None, start: int, end: int) -> ProgressCallback | None:
    """``progress`` for the part of a job from ``start`` to ``end`` of :data:`JOB`: the
    part's steps, counted against its own total, become steps of the whole job; every
    other event passes as it is."""
    if progress is None:
        return None
    outer = progress

    def scaled(event: ProgressEvent) -> None:
        if isinstance(event, Step):
            share = (end - start) * event.done // max(event.total, 1)
            event = Step(event.doing, start + min(share, end - start), JOB)
        outer(event)

    return scaled


def sector_span(offset: int, length: int) -> tuple[int, int]:
    """The first sector address and the end of the last sector covering a range."""
    start = offset - offset % SECTOR_SIZE
    end = -(-(offset + length) // SECTOR_SIZE) * SECTOR_SIZE
    return start, end


class Flash(ABC):
    """A unit's flash: byte-addressable reads, sector-granular erase and write.

    Use as a context manager so the port (or file) is released even on errors.
    """

    progress: ProgressCallback | None = None

    @property
    @abstractmethod
    def name(self) -> str:
        """Where the flash is, for messages: the port or the file name."""

    @property
    @abstractmethod
    def size(self) -> int:
        """Flash size in bytes (detected from the chip, or the dump's length)."""

    @abstractmethod
    def read(self, offset: int, length: int) -> bytes:
        """``length`` bytes from ``offset``."""

    @abstractmethod
    def erase(self, offset: int, length: int) -> None:
        """Set whole sectors to 0xFF (``offset`` and ``length`` multiples of 4 KiB)."""

    @abstractmethod
    def write(self, offset: int, data: bytes) -> None:
        """Replace whole sectors with ``data`` (erase, then program; 4 KiB-aligned)."""

    @abstractmethod
    def md5(self, offset: int, length: int) -> str:
        """Lower-case hex MD5 of a range, computed where the flash is."""

    def close(self) -> None:  # noqa: B027 - optional hook, most back ends have nothing to do
        """Release the port or file."""

    def __enter__(self) -> Flash:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # --- helpers for back ends ---------------------------------------------------------
    def _emit(self, event: ProgressEvent) -> None:
        if self.progress is not None:
            self.progress(event)

    def _check_range(self, offset: int, length: int, *, sectors: bool, what: str) -> None:
        """Refuse ranges outside the flash, and (for erase/write) partial sectors."""
        if offset < 0 or length < 0:
            raise InputError(f"{self.name}: {what} at {offset:#x}: negative offset or length")
        if offset + length > self.size:
            raise InputError(
                f"{self.name}: {what} {offset:#x}..{offset + length:#x} goes beyond the "
                f"{self.size:#x}-byte flash"
            )
        if sectors and (offset % SECTOR_SIZE or length % SECTOR_SIZE):
            raise InputError(
                f"{self.name}: {what} {offset:#x}..{offset + length:#x} is not made of whole "
                f"4 KiB sectors",
                hint="flash erases 4 KiB at a time: read the sectors, change them, write them "
                "back whole",
            )
