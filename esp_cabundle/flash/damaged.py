"""What a file-system partition that does not mount is, said once for ``inspect``,
``flash`` and ``update-dump``: the eFuses decide, never the table's ``encrypted`` flag
alone (Mongoose OS sets it on every partition)."""

from __future__ import annotations

from ..partitions import Partition
from ..spelling import PYTHON, Spelling

__all__ = ["damaged_fs_note"]


def damaged_fs_note(
    p: Partition, encryption: bool | None, spelling: Spelling = PYTHON, board: str | None = None
) -> str:
    """Why partition ``p``'s bytes are no file system, as the eFuses (``encryption``:
    None when unknown) allow: the table's ``encrypted`` flag alone proves nothing
    (Mongoose OS sets it on every partition), so only unknown eFuses leave "encrypted"
    open. The one wording inspect and flash give."""
    if encryption and not p.encrypted:  # flash encryption leaves unflagged data plain
        return (
            f"{p.name} is damaged (not a SPIFFS/LittleFS image; flash encryption is on, "
            "but the table does not flag this partition 'encrypted', so it is stored plain)"
        )
    if encryption:
        return (
            f"{p.name} holds ciphertext: flash encryption is on, so it cannot be read or "
            "edited over serial"
        )
    if encryption is False:
        pack = (
            f"esp-cabundle pack --board {board} --bundle ca.pem -o fs.bin"
            if board is not None and spelling.cli
            else f"{spelling.pack} for the unit's board"
        )
        return (
            f"{p.name} is damaged (not a SPIFFS/LittleFS image; flash encryption is off): "
            f"rewrite it with a fresh image ({pack}, then "
            f"esptool write-flash {p.offset:#x} fs.bin); the files it held are lost"
        )
    return (
        f"{p.name} is damaged or encrypted (not a SPIFFS/LittleFS image; the table flags it "
        "'encrypted' and the eFuses are unknown): inspect the unit itself to tell "
        f"({spelling.inspect_unit.format('PORT')})"
    )
