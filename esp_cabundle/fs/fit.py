"""The size a pack's no-room hint names, and a cramped pack's warning: the least size
that holds the files *and* leaves room to rewrite them in place, as a CA update does.

A size found by packing alone names a full image: littlefs writes a file anew before it
frees the old one (copy-on-write) and SPIFFS needs free pages for its new copy, so a
unit flashed with it (and ``fs put``) could not take another CA, not even a smaller one.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from ..errors import ImageError, InputError
from ..sizes import size_words
from ..spelling import PYTHON, Spelling
from .base import FileSystemImage, FsProfile, NoRoomError, SizeHint, normalize_path

__all__ = [
    "CA_GROWTH",
    "FIT_FILES",
    "FIT_LIMIT",
    "TRIAL_MAX",
    "NoRewriteRoom",
    "Trial",
    "rewritable",
    "rewrite_trial",
    "smallest_fit",
    "surely_rewritable",
]

# No size hint beyond this: 16 MiB is the largest flash of most ESP32 modules, and each
# size tried is an image made in memory.
FIT_LIMIT = 16 << 20
# Nor for more files: each size tried builds, fills and reads back a whole image, so a
# folder of thousands of small files would take minutes for a hint (a CA is one file).
FIT_FILES = 64

_FLIP = bytes(b ^ 0xFF for b in range(256))  # every byte other than it was


@dataclass(frozen=True, slots=True)
class NoRewriteRoom:
    """A pack that holds its files but leaves no room to rewrite ``path`` (its CA file)
    in place: said as a warning, with the least size that would (``fits``, None when
    none was found), in the caller's words; for a ``board``'s partition no size."""

    path: str
    size: int
    fits: int | None = None
    spelling: Spelling = PYTHON
    board: str | None = None
    need: int | None = None
    """The CA size judged (:data:`CA_GROWTH` times the file's), said; None: the file's."""

    def text(self) -> str:
        grown = f" as {self.need:,} bytes (twice its size)" if self.need is not None else ""
        head = (
            f"a CA update will not fit: {self.path} cannot be rewritten in place{grown} in "
            f"this {size_words(self.size)} image"
        )
        if self.board is not None:
            return f"{head} (board {self.board}'s file-system partition is too small for one)"
        if self.fits is not None:
            return f"{head} ({SizeHint(self.fits, self.spelling).setting()} leaves room)"
        return f"{head} (use a larger partition)"


# Whole free blocks that make a rewrite sure, beyond three times the file: littlefs
# writes the new copy before it frees the old (copy-on-write) and may compact a metadata
# pair; SPIFFS moves the file's index page at every chunk (about a page a data page) and
# collects garbage only once three blocks or fewer are free (spiffs_gc_check).
_SURE_SPARE_BLOCKS = 5


# The largest file a rewrite trial writes when no file is at the CA path: more than any
# CA file (a whole Mozilla store is ~230 KB); a trial of a 6 MB asset through SPIFFS's
# write path took seconds at each size the search tried (22 s for one pack).
TRIAL_MAX = 1 << 20

Trial = tuple[str, bytes]
"""The file a CA update rewrites, as (path, bytes): see :func:`rewrite_trial`."""


# A CA update is judged as the CA file rewritten at this many times its size: an update
# adds roots (the 6 KB letsencrypt preset to the 13.5 KB default), and room for the file
# as it is let a pack of 256 KiB with a 236 KB asset and a 6 KB CA go unwarned, then
# refuse the 13.5 KB put. README says the same ("twice its size").
CA_GROWTH = 2


def rewrite_trial(files: Sequence[tuple[str, bytes]], ca_path: str) -> Trial | None:
    """The file whose rewrite in place a pack must leave room for: the one at the
    CA path, grown :data:`CA_GROWTH` times (the bytes the trial writes), else the
    largest of at most :data:`TRIAL_MAX` bytes as it is (a CA file packed under another
    name); None when there is none, and then no trial."""
    at_ca = [f for f in files if normalize_path(f[0]) == ca_path]
    if at_ca:
        path, data = at_ca[0]
        return path, bytes(data) * CA_GROWTH
    small = [f for f in files if len(f[1]) <= TRIAL_MAX]
    return max(small, key=lambda f: len(f[1])) if small else None


def surely_rewritable(image: FileSystemImage, trial: Trial | None) -> bool:
    """Whether ``image`` keeps free blocks for twice the trial's bytes and a few more,
    so that a rewrite of ``trial`` finds room without trying it: the trial rewrites the
    whole file through the device's write path (a tenth of a second for a 200 KB CA in
    SPIFFS), which a roomy image, the usual pack, need not pay. Three times made a
    1408 KiB pack with a 233 KB CA run its trial once the trial became twice the file.
    False means "try it", not "no room"; tests/test_fit_shortcut.py holds this bound
    to the trial a pack makes. No trial: nothing to try."""
    if trial is None:
        return True
    free = image.free_blocks()
    if free is None:
        return False
    block = image.profile.block_size
    return free * block >= 2 * len(trial[1]) + _SURE_SPARE_BLOCKS * block


def rewritable(scratch: FileSystemImage, trial: Trial | None) -> bool:
    """Whether the image ``scratch`` (edited: a copy) takes ``trial`` rewritten in place
    by as many other bytes, through the write ``fs put`` makes (SPIFFS's garbage
    collection, littlefs's copy-on-write); ImageError for another refusal than room."""
    if trial is None or not trial[1]:
        return True
    path, old = trial
    try:
        scratch.write(path, bytes(old).translate(_FLIP))
    except NoRoomError:
        return False
    return True


def smallest_fit(
    holds: Callable[[int], object],
    size: int,
    prof: FsProfile,
    files: Sequence[tuple[str, bytes]],
) -> int | None:
    """The least size, a whole number of blocks above ``size`` (which does not hold the
    files with room to rewrite them), at which ``holds`` raises no NoRoomError, found
    with the real code: from the files' own bytes up, sizes doubled, then halved in
    between. None when not even :data:`FIT_LIMIT` (or the most the file system
    addresses) holds them, for more than :data:`FIT_FILES` files, or when a size is
    refused for another reason than room (that refusal, not a size, is what the user
    needs next)."""
    if len(files) > FIT_FILES:
        return None
    step = prof.block_size
    limit = max(FIT_LIMIT, size) // step * step
    if prof.fs_type == "spiffs":
        from .spiffs import SpiffsProfile, largest_size  # deferred: SPIFFS only

        assert isinstance(prof, SpiffsProfile)
        limit = min(limit, largest_size(prof))
    if size >= limit:
        return None

    def fits(at: int) -> bool:
        try:
            holds(at)
        except NoRoomError:
            return False
        except (ImageError, InputError) as e:
            raise _Refused from e
        return True

    def up(n: int) -> int:
        return -(-n // step) * step

    try:
        low = size // step * step  # holds no more than size
        high = min(max(up(size + 1), up(sum(len(d) for _, d in files))), limit)
        while not fits(high):
            if high >= limit:
                return None
            low, high = high, min(up(2 * high), limit)
        while high - low > step:  # low does not hold them, high does
            middle = low + (high - low) // step // 2 * step
            low, high = (low, middle) if fits(middle) else (middle, high)
    except _Refused:
        return None
    return high


class _Refused(Exception):
    """A size tried was refused for another reason than room: the search ends."""
