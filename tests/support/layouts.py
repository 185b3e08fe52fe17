"""Vendor flash layouts to preload into a virtual ESP32 (files in tests/data/serial/).

- Arduino-ESP32 default table at 0x8000 with the mDash-style SPIFFS image (ESP-IDF
  spiffsgen, ``/ca.pem``, ``/mdash.cfg``, ...) in ``spiffs`` at 0x290000.
- Mongoose OS ESP32 table with the LittleFS 2.0 image (littlefs 2.5, lived-in) in both
  ``fs_0`` (0x190000) and ``fs_1`` (0x350000).
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

DATA = Path(__file__).resolve().parent.parent / "data" / "serial"

ARDUINO_TABLE = DATA / "arduino-default.bin"
ARDUINO_SPIFFS = DATA / "idf-arduino-1408k.bin"
MONGOOSE_TABLE = DATA / "mongoose-os-esp32.bin"
MONGOOSE_LFS = DATA / "mongoose-lfs20-256k.bin"

TABLE_OFFSET = 0x8000
ARDUINO_SPIFFS_OFFSET = 0x290000
MONGOOSE_FS_OFFSETS = (0x190000, 0x350000)


class Loadable(Protocol):
    def load(self, offset: int, data: bytes) -> None: ...


def load_arduino(unit: Loadable) -> None:
    unit.load(TABLE_OFFSET, ARDUINO_TABLE.read_bytes())
    unit.load(ARDUINO_SPIFFS_OFFSET, ARDUINO_SPIFFS.read_bytes())


def load_mongoose(unit: Loadable) -> None:
    unit.load(TABLE_OFFSET, MONGOOSE_TABLE.read_bytes())
    for offset in MONGOOSE_FS_OFFSETS:
        unit.load(offset, MONGOOSE_LFS.read_bytes())
