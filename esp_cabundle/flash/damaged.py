"""What a file-system partition that does not mount is, said once for ``inspect``,
``flash`` and ``update-dump``: the eFuses decide, never the table's ``encrypted`` flag
alone (Mongoose OS sets it on every partition)."""

from __future__ import annotations

from ..errors import FlashError
from ..partitions import Partition
from ..spelling import PYTHON, Spelling

__all__ = ["damaged_fs_note", "torn_fs_error"]


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


def torn_fs_error(p: Partition, said: str, port: str, spelling: Spelling = PYTHON) -> FlashError:
    """A unit's partition that holds the board's kind of file system (its magic is
    there: no blank, no ciphertext) yet does not mount, the reader naming no likelier
    cause: what an update cut part-way leaves. A device state (exit 3), not a wrong
    --board: its journal, wherever the update ran, finishes or undoes it, and the
    firmware must not boot first (it would format the partition)."""
    where = f" {spelling.journal_dir} DIR" if spelling.cli else f", {spelling.journal_dir}DIR"
    # the restore line's start and end, not a journal the words were located in
    line = spelling.restore_port
    restore = line.split("{}")[0] + spelling.quote(port) + where + line[-1]
    return FlashError(
        f"{said}; it holds a file system of the board's kind, so it may be an update "
        "interrupted part-way (a link cut mid-write); nothing was written, nothing formatted",
        hint="keep the unit from booting its firmware (connected, in download mode): it "
        f"would format {p.name}, losing every file; the journal of the station that "
        f"started that update (DIR, its {spelling.journal_dir}) finishes it (run the same "
        f"{spelling.flash} with{where.lstrip(',')}) or undoes it ({restore}); "
        f"{spelling.journal_list} shows a journal's entries",
    )
