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

import importlib

from .source import ERASED, SECTOR_SIZE, BlockSource, SourceView, erased_md5, is_erased

# Not typing's, as in esp_cabundle/__init__.py; type checkers read it as typing's.
TYPE_CHECKING = False

if TYPE_CHECKING:  # the same names, for type checkers and IDEs
    from typing import Any

    from .cache import PAGE, FlashCache
    from .overlay import Overlay, SectorWrite

# Imported on first use (PEP 562): every file-system image imports SECTOR_SIZE from
# here, and ``pack`` or ``build`` of a new image never reads a unit's flash, so they need
# not build the cache's and the overlay's classes (a frozen dataclass costs ~0.4 ms).
_LAZY: dict[str, str] = {
    "PAGE": "cache",
    "FlashCache": "cache",
    "Overlay": "overlay",
    "SectorWrite": "overlay",
}

if not TYPE_CHECKING:  # hidden from type checkers: a misspelt name is their error, not Any

    def __getattr__(name: str) -> Any:
        module = _LAZY.get(name)
        if module is None:
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(f".{module}", __name__), name)
        globals()[name] = value
        return value


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
