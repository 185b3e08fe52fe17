"""Where the bytes of a unit's flash come from, for everything that plans a change to it.

One protocol, :class:`BlockSource` (``name``, ``size``, ``read``, ``md5``), is met by a
unit on a serial port and by a flash dump file alike, so the update planner, the
file-system edits in :mod:`esp_cabundle.fs` and the verifiers never know which one they
work on. :class:`~.cache.FlashCache` fetches a source's bytes on demand and keeps them
(a serial link is slow, a dump is free); :class:`~.overlay.Overlay` puts sector writes
over it in memory, copy-on-write, remembering the order they came in.

Flash here is ESP32 SPI NOR flash: it erases 4 KiB sectors to 0xFF and programming only
clears bits, so "erased" means every byte 0xFF.
"""

from __future__ import annotations

from .cache import PAGE, FlashCache
from .overlay import Overlay, SectorWrite
from .source import ERASED, SECTOR_SIZE, BlockSource, SourceView, erased_md5, is_erased

__all__ = [
    "ERASED",
    "PAGE",
    "SECTOR_SIZE",
    "BlockSource",
    "FlashCache",
    "Overlay",
    "SectorWrite",
    "SourceView",
    "erased_md5",
    "is_erased",
]
