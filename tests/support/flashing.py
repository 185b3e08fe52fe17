"""Flashing a virtual Mongoose OS unit with the new CA most flash tests use."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from esp_cabundle.boards import load_board
from esp_cabundle.flash.flasher import FlashResult, flash_unit
from esp_cabundle.virtual import VirtualESP32
from tests.support import dumps
from tests.support.gated import canonical, gated

# As the gate writes it: ISRG Root X1 and X2, and the R10 intermediate.
NEW_CA = canonical(
    dumps.pem("isrgrootx1.pem") + dumps.pem("isrg-root-x2.pem") + dumps.pem("2024-r10.pem")
)


def flash_mongoose(unit: VirtualESP32, journal: Path, **options: Any) -> FlashResult:
    """``flash_unit`` on ``unit`` for board mongoose-os-esp32 with :data:`NEW_CA`, one
    connect attempt; ``options`` (progress, cancel, dry_run...) pass through."""
    return flash_unit(
        unit.url,
        load_board("mongoose-os-esp32"),
        gated(NEW_CA, "mongoose-os-esp32"),
        journal_dir=journal,
        connect_attempts=1,
        **options,
    )
