"""One entry of an ESP32 partition table (:class:`Partition`) and its 32-byte binary
form ``<2sBBLL16sL``, apart from :mod:`.partitions`, which reads and validates the table
they make up (and re-exports these names)."""

from __future__ import annotations

import struct
from dataclasses import dataclass

from .errors import PartitionTableError
from .partition_csv import FLAG_BITS, SUBTYPE_NAMES, TYPE_NAMES, TYPES, format_size
from .text import byte_count

__all__ = [
    "APP_ALIGNMENT",
    "DATA_ALIGNMENT",
    "ENTRY_MAGIC",
    "ENTRY_SIZE",
    "FS_SUBTYPES",
    "MAX_FLASH_SIZE",
    "Partition",
    "alignment",
]

_ENTRY = struct.Struct("<2sBBLL16sL")
ENTRY_SIZE = _ENTRY.size  # 32
ENTRY_MAGIC = b"\xaa\x50"

# Data subtypes a file system may live in (Mongoose OS keeps LittleFS in "spiffs").
FS_SUBTYPES = frozenset({0x81, 0x82, 0x83})

# gen_esp32part ALIGNMENT: app images are mapped through the 64 KiB MMU pages; everything
# else must at least start on a flash sector (erase unit).
APP_ALIGNMENT = 0x10000
DATA_ALIGNMENT = 0x1000

# The largest flash an ESP32 can have: an image header's size field (and esptool's
# --flash-size) stops at 128MB. A partition ending past it is no real layout, and would
# otherwise be taken for a dump cut short.
MAX_FLASH_SIZE = 128 << 20

_KNOWN_FLAGS = (1 << 0) | (1 << 1)


def alignment(ptype: int) -> int:
    """Where a partition of type ``ptype`` may start (gen_esp32part ALIGNMENT)."""
    return APP_ALIGNMENT if ptype == TYPES["app"] else DATA_ALIGNMENT


@dataclass(frozen=True, slots=True)
class Partition:
    """One entry of a partition table.

    ``extra_flags`` keeps flag bits this version does not know, so a table read from a
    device is written back unchanged.
    """

    name: str
    type: int
    subtype: int
    offset: int
    size: int
    encrypted: bool = False
    readonly: bool = False
    extra_flags: int = 0

    def __post_init__(self) -> None:
        encoded = self.name.encode("utf-8")
        if not encoded:
            raise PartitionTableError("a partition has an empty name")
        if len(encoded) > 16:
            raise PartitionTableError(
                f"partition name '{self.name}' is {byte_count(len(encoded))}; at most 16 fit"
            )
        if "\x00" in self.name or "," in self.name:
            raise PartitionTableError(f"partition name {self.name!r} holds a NUL or a comma")
        for what, value, top in (
            ("type", self.type, 0xFF),
            ("subtype", self.subtype, 0xFF),
            ("offset", self.offset, 0xFFFFFFFF),
            ("size", self.size, 0xFFFFFFFF),
        ):
            if not 0 <= value <= top:
                raise PartitionTableError(
                    f"partition '{self.name}': {what} {value:#x} is out of range (0..{top:#x})"
                )
        if self.size == 0:
            raise PartitionTableError(f"partition '{self.name}' has size 0")
        if self.extra_flags & _KNOWN_FLAGS or not 0 <= self.extra_flags <= 0xFFFFFFFF:
            raise PartitionTableError(
                f"partition '{self.name}': extra_flags {self.extra_flags:#x} overlaps "
                "the encrypted/readonly bits"
            )

    # --- derived facts ----------------------------------------------------------------
    @property
    def end(self) -> int:
        """First byte after the partition."""
        return self.offset + self.size

    @property
    def type_name(self) -> str:
        return TYPE_NAMES.get(self.type, f"{self.type:#04x}")

    @property
    def subtype_name(self) -> str:
        return SUBTYPE_NAMES.get(self.type, {}).get(self.subtype, f"{self.subtype:#04x}")

    @property
    def is_app(self) -> bool:
        return self.type == TYPES["app"]

    @property
    def is_data(self) -> bool:
        return self.type == TYPES["data"]

    @property
    def may_hold_fs(self) -> bool:
        """A data partition of subtype fat/spiffs/littlefs (the content decides)."""
        return self.is_data and self.subtype in FS_SUBTYPES

    @property
    def flags(self) -> int:
        return (
            (1 << FLAG_BITS["encrypted"] if self.encrypted else 0)
            | (1 << FLAG_BITS["readonly"] if self.readonly else 0)
            | self.extra_flags
        )

    @property
    def flag_names(self) -> tuple[str, ...]:
        names = tuple(n for n in FLAG_BITS if getattr(self, n))
        if self.extra_flags:
            names += (f"{self.extra_flags:#x}",)
        return names

    def contains(self, offset: int) -> bool:
        return self.offset <= offset < self.end

    def describe(self) -> str:
        """``spiffs (data/spiffs) 0x290000+0x160000``: for messages."""
        return (
            f"'{self.name}' ({self.type_name}/{self.subtype_name}) "
            f"at {self.offset:#x}, {self.size:#x} bytes"
        )

    # --- binary -----------------------------------------------------------------------
    def to_binary(self) -> bytes:
        return _ENTRY.pack(
            ENTRY_MAGIC,
            self.type,
            self.subtype,
            self.offset,
            self.size,
            self.name.encode("utf-8"),
            self.flags,
        )

    @classmethod
    def from_binary(cls, entry: bytes, *, where: str = "entry") -> Partition:
        """Parse one 32-byte entry; ``where`` names it in errors."""
        if len(entry) != ENTRY_SIZE:
            raise PartitionTableError(f"{where}: {byte_count(len(entry))}, expected {ENTRY_SIZE}")
        magic, ptype, subtype, offset, size, raw_name, flags = _ENTRY.unpack(entry)
        if magic != ENTRY_MAGIC:
            raise PartitionTableError(
                f"{where}: starts {magic.hex(' ')}, not the entry magic aa 50"
            )
        raw_name = raw_name.split(b"\x00", 1)[0]
        try:
            name = raw_name.decode("utf-8")
        except UnicodeDecodeError as e:
            raise PartitionTableError(f"{where}: name {raw_name!r} is not UTF-8") from e
        try:
            return cls(
                name=name,
                type=ptype,
                subtype=subtype,
                offset=offset,
                size=size,
                encrypted=bool(flags & 1),
                readonly=bool(flags & 2),
                extra_flags=flags & ~_KNOWN_FLAGS,
            )
        except PartitionTableError as e:
            raise PartitionTableError(f"{where}: {e.message}") from e

    # --- CSV --------------------------------------------------------------------------
    def to_csv_row(self) -> tuple[str, str, str, str, str, str]:
        return (
            self.name,
            self.type_name,
            self.subtype_name,
            f"{self.offset:#x}",
            format_size(self.size),
            ":".join(self.flag_names),
        )
