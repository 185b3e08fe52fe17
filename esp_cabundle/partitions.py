"""ESP32 partition tables: the binary form in flash and the CSV form projects keep.

The binary table sits at 0x8000 (``CONFIG_PARTITION_TABLE_OFFSET``) and fills at most
0xC00 bytes: 32-byte entries ``<2sBBLL16sL`` starting ``AA 50``, an MD5 entry starting
``EB EB`` (the MD5 of every entry before it), then 0xFF. CSV offsets left blank are
computed as ESP-IDF's gen_esp32part does, so a table made here from a project's CSV is
byte-identical to the one ESP-IDF flashes.

Every table is validated when it is made (names, alignment, overlaps): an update must
never write outside its partition, so a table whose geometry is wrong is refused rather
than guessed at.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from dataclasses import dataclass, field

from .arguments import require_bytes
from .errors import PartitionTableError
from .partition_csv import (
    SUBTYPES,
    TYPES,
    parse_subtype,
    parse_type,
    read_csv_rows,
    render_csv,
)
from .partition_entry import (
    APP_ALIGNMENT,
    DATA_ALIGNMENT,
    ENTRY_MAGIC,
    ENTRY_SIZE,
    FS_SUBTYPES,
    MAX_FLASH_SIZE,
    Partition,
    alignment,
)
from .sizes import parse_size
from .spelling import PYTHON, Spelling
from .text import byte_count

__all__ = [
    "APP_ALIGNMENT",
    "DATA_ALIGNMENT",
    "DEFAULT_TABLE_OFFSET",
    "ENTRY_SIZE",
    "FS_SUBTYPES",
    "MAX_FLASH_SIZE",
    "SUBTYPES",
    "TABLE_MAX_LENGTH",
    "TABLE_SECTOR",
    "TYPES",
    "Partition",
    "PartitionTable",
    "parse_size",
    "read_partition_table",
]

# CONFIG_PARTITION_TABLE_OFFSET default; the table owns the whole 4 KiB sector.
DEFAULT_TABLE_OFFSET = 0x8000
TABLE_SECTOR = 0x1000
# gen_esp32part MAX_PARTITION_LENGTH: entries + MD5 + end marker fit here (95 entries);
# the rest of the sector is reserved for a secure-boot v1 signature.
TABLE_MAX_LENGTH = 0xC00

_MD5_MAGIC = b"\xeb\xeb"
_MD5_PREFIX = _MD5_MAGIC + b"\xff" * 14
_END_MARKER = b"\xff" * ENTRY_SIZE
_OTADATA_SIZE = 0x2000


@dataclass(frozen=True, slots=True)
class PartitionTable:
    """A validated partition table and where it lives in flash.

    ``md5`` says whether the binary carries the MD5 entry (``CONFIG_PARTITION_TABLE_MD5``,
    on by default).
    """

    partitions: tuple[Partition, ...]
    offset: int = DEFAULT_TABLE_OFFSET
    md5: bool = True
    flash_size: int | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        _validate(self.partitions, self.offset, self.flash_size)
        if len(self._entries_binary()) + ENTRY_SIZE * (2 if self.md5 else 1) > TABLE_MAX_LENGTH:
            raise PartitionTableError(
                f"{len(self.partitions)} partitions do not fit in the {TABLE_MAX_LENGTH:#x}-byte "
                "table"
            )

    # --- access -----------------------------------------------------------------------
    def __iter__(self) -> Iterator[Partition]:
        return iter(self.partitions)

    def __len__(self) -> int:
        return len(self.partitions)

    def by_name(self, name: str) -> Partition | None:
        for p in self.partitions:
            if p.name == name:
                return p
        return None

    def find(self, type: int | str, subtype: int | str | None = None) -> tuple[Partition, ...]:
        """Every partition of ``type`` (and ``subtype``), names or numbers, in table order."""
        t = parse_type(type) if isinstance(type, str) else type
        s = parse_subtype(t, subtype) if isinstance(subtype, str) else subtype
        return tuple(p for p in self.partitions if p.type == t and (s is None or p.subtype == s))

    def at(self, offset: int) -> Partition | None:
        """The partition holding flash byte ``offset``, if any."""
        for p in self.partitions:
            if p.contains(offset):
                return p
        return None

    @property
    def end(self) -> int:
        """The flash size the table needs: where its last partition ends."""
        return max((p.end for p in self.partitions), default=self.offset + TABLE_SECTOR)

    def check_fits(self, flash_size: int) -> None:
        """Raise PartitionTableError naming the first partition beyond ``flash_size``."""
        _check_flash_size(self.partitions, flash_size)

    # --- binary -----------------------------------------------------------------------
    def _entries_binary(self) -> bytes:
        return b"".join(p.to_binary() for p in self.partitions)

    def to_binary(self) -> bytes:
        """The 0xC00 bytes gen_esp32part writes: entries, MD5 entry, 0xFF padding."""
        data = self._entries_binary()
        if self.md5:
            data += _MD5_PREFIX + hashlib.md5(data).digest()
        return data + b"\xff" * (TABLE_MAX_LENGTH - len(data))

    @staticmethod
    def _cut_short(source: str, offset: int, have: int, spelling: Spelling) -> PartitionTableError:
        return PartitionTableError(
            f"{source} at {offset:#x} is cut short: the file ends {byte_count(have)} into it, "
            "before its end-of-table marker",
            hint=f"the file was truncated: read the whole flash again ({spelling.read_all})",
        )

    @classmethod
    def from_binary(
        cls,
        data: bytes,
        *,
        offset: int = DEFAULT_TABLE_OFFSET,
        flash_size: int | None = None,
        source: str = "partition table",
        spelling: Spelling = PYTHON,
    ) -> PartitionTable:
        """Parse a binary table (0xC00 bytes or the whole sector; more is ignored).

        Raises :class:`~esp_cabundle.errors.ArgumentTypeError` for a file name or text
        (it reads no file); :class:`PartitionTableError` for a wrong magic, an MD5
        mismatch, a missing end marker, or a table that fails validation, whose hint says
        how to give the table's offset or read the flash again as ``spelling`` does.
        """
        require_bytes(data, "PartitionTable.from_binary")
        data = bytes(data[:TABLE_MAX_LENGTH])
        if data[:2] == ENTRY_MAGIC and len(data) < ENTRY_SIZE:
            raise cls._cut_short(source, offset, len(data), spelling)
        if data[:2] != ENTRY_MAGIC:
            found = data[:2].hex(" ") or "nothing"
            raise PartitionTableError(
                f"{source}: no partition table at {offset:#x} (found {found}, expected aa 50)",
                hint="if the firmware moved it (CONFIG_PARTITION_TABLE_OFFSET), say where: "
                + spelling.table_offset,
            )
        md5 = hashlib.md5()
        parts: list[Partition] = []
        has_md5 = False
        for pos in range(0, len(data), ENTRY_SIZE):
            entry = data[pos : pos + ENTRY_SIZE]
            where = f"{source}: entry {pos // ENTRY_SIZE} at {offset + pos:#x}"
            if len(entry) < ENTRY_SIZE:
                break
            if entry == _END_MARKER:
                try:
                    return cls(tuple(parts), offset, has_md5, flash_size)
                except PartitionTableError as e:
                    raise PartitionTableError(f"{source} at {offset:#x}: {e.message}") from e
            if entry[:2] == _MD5_MAGIC:
                if entry[16:] != md5.digest():
                    raise PartitionTableError(
                        f"{where}: MD5 mismatch (table says {entry[16:].hex()}, entries hash "
                        f"to {md5.hexdigest()}); the table is corrupt"
                    )
                has_md5 = True
                continue
            md5.update(entry)
            parts.append(Partition.from_binary(entry, where=where))
        if len(data) < TABLE_MAX_LENGTH:
            raise cls._cut_short(source, offset, len(data), spelling)
        raise PartitionTableError(
            f"{source} at {offset:#x}: no end-of-table marker within {TABLE_MAX_LENGTH:#x} bytes"
        )

    # --- CSV --------------------------------------------------------------------------
    @classmethod
    def from_csv(
        cls,
        text: str,
        *,
        offset: int = DEFAULT_TABLE_OFFSET,
        flash_size: int | None = None,
        md5: bool = True,
        source: str = "partitions.csv",
    ) -> PartitionTable:
        """Parse a gen_esp32part CSV; blank offsets are placed after the previous
        partition (apps on 64 KiB, everything else on 4 KiB), the first one after the
        table's sector. Errors carry ``source:line``."""
        rows = read_csv_rows(text, source=source)
        parts: list[Partition] = []
        last_end = offset + TABLE_SECTOR
        for n, row in rows:
            try:
                start = row.offset
                if start is not None and start < last_end:
                    what = (
                        f"overlaps the partition table sector (ends {last_end:#x})"
                        if not parts
                        else f"overlaps '{parts[-1].name}', which ends at {last_end:#x}"
                    )
                    raise PartitionTableError(f"partition '{row.name}' at {start:#x} {what}")
                if start is None:
                    align = alignment(row.type)
                    start = (last_end + align - 1) // align * align
                size = row.size
                if size < 0:  # negative size: "up to this address" (gen_esp32part)
                    size = -size - start
                    if size <= 0:
                        raise PartitionTableError(
                            f"partition '{row.name}': end address {-row.size:#x} is not "
                            f"after its offset {start:#x}"
                        )
                part = Partition(
                    row.name, row.type, row.subtype, start, size, row.encrypted, row.readonly
                )
            except PartitionTableError as e:
                raise PartitionTableError(e.message, path=source, line=n) from e
            parts.append(part)
            last_end = part.end
        try:
            return cls(tuple(parts), offset, md5, flash_size)
        except PartitionTableError as e:
            raise PartitionTableError(e.message, path=source, hint=e.hint) from e

    def to_csv(self) -> str:
        """CSV that :meth:`from_csv` reads back into an equal table (offsets explicit)."""
        return render_csv([p.to_csv_row() for p in self.partitions])


# ---------------------------------------------------------------------------------------
# Helpers


def _validate(parts: tuple[Partition, ...], table_offset: int, flash_size: int | None) -> None:
    if table_offset % TABLE_SECTOR:
        raise PartitionTableError(f"table offset {table_offset:#x} is not 4 KiB aligned")
    seen: set[str] = set()
    for p in parts:
        if p.name in seen:
            raise PartitionTableError(f"two partitions are named '{p.name}'; names must be unique")
        seen.add(p.name)
        if p.end > MAX_FLASH_SIZE:
            raise PartitionTableError(
                f"partition {p.describe()} ends at {p.end:#x}, past {_human(MAX_FLASH_SIZE)}, "
                "the largest flash an ESP32 has"
            )
        align = alignment(p.type)
        if p.offset % align:
            raise PartitionTableError(
                f"partition {p.describe()}: offset is not aligned to {align:#x}",
                hint="app partitions start on 64 KiB, others on 4 KiB boundaries",
            )
    table_end = table_offset + TABLE_SECTOR
    last: Partition | None = None
    for p in sorted(parts, key=lambda x: x.offset):
        if p.offset < table_end and p.end > table_offset:
            raise PartitionTableError(
                f"partition {p.describe()} overlaps the partition table "
                f"({table_offset:#x}-{table_end - 1:#x})"
            )
        if last is not None and p.offset < last.end:
            raise PartitionTableError(
                f"partition {p.describe()} overlaps '{last.name}' "
                f"({last.offset:#x}-{last.end - 1:#x})"
            )
        last = p
    otadata = [p for p in parts if p.is_data and p.subtype == SUBTYPES[TYPES["data"]]["ota"]]
    if len(otadata) > 1:
        raise PartitionTableError(
            "more than one otadata partition (data/ota): "
            + ", ".join(f"'{p.name}'" for p in otadata)
        )
    if otadata and otadata[0].size != _OTADATA_SIZE:
        raise PartitionTableError(
            f"otadata partition '{otadata[0].name}' is {otadata[0].size:#x} bytes; "
            f"it must be {_OTADATA_SIZE:#x}"
        )
    if flash_size is not None:
        _check_flash_size(parts, flash_size)


def _check_flash_size(parts: tuple[Partition, ...], flash_size: int) -> None:
    for p in parts:
        if p.end > flash_size:
            raise PartitionTableError(
                f"partition {p.describe()} ends at {p.end:#x}, beyond the "
                f"{_human(flash_size)} flash",
                hint="check the flash size (and that the dump is complete)",
            )


def _human(n: int) -> str:
    if n % (1 << 20) == 0:
        return f"{n >> 20} MiB"
    if n % 1024 == 0:
        return f"{n >> 10} KiB"
    return f"{n}-byte"


# ---------------------------------------------------------------------------------------
# Finding the table in a flash dump


# What from_binary needs before it can accept a table: 32-byte entries starting aa 50
# (or eb eb, the MD5 entry) up to an end marker, all within TABLE_MAX_LENGTH. A sector
# that fails this fails to parse; one that passes is parsed in full.
_WELL_FORMED = re.compile(rb"(?:(?:\xaa\x50|\xeb\xeb).{30})*?\xff{32}", re.DOTALL)
# Well-formed tables that fail to parse are parsed at most this many times in one search
# (about 0.3 ms each): a real dump holds one table, a crafted one may hold one in every
# sector (a 256 MiB dump took a minute).
_MAX_PARSES = 64


def _magic_sectors(flash: bytes, preferred: int) -> Iterator[int]:
    """``preferred`` if it starts with the magic, then every other 4 KiB offset that
    does, in order (bytes.find skips the sectors that do not)."""
    if flash.startswith(ENTRY_MAGIC, preferred):
        yield preferred
    at = 0
    while (found := flash.find(ENTRY_MAGIC, at, len(flash) - ENTRY_SIZE + 2)) >= 0:
        if found % TABLE_SECTOR:
            at = found - found % TABLE_SECTOR + TABLE_SECTOR
            continue
        if found != preferred:
            yield found
        at = found + TABLE_SECTOR


def _search_table(flash: bytes, preferred: int, spelling: Spelling = PYTHON) -> PartitionTable:
    """The first valid table at ``preferred`` (0x8000, the default of every framework),
    else at any 4 KiB offset (``CONFIG_PARTITION_TABLE_OFFSET`` moves it), parsed once:
    the search parses it, and that parse is the table returned. After the first table
    that fails (whose error is the one reported) only well-formed ones are parsed, and
    at most :data:`_MAX_PARSES` of them."""
    if not flash:
        raise PartitionTableError(
            "empty file, not a flash dump (no partition table)",
            hint=f"a whole-flash dump: {spelling.read_all}",
        )
    first_error: PartitionTableError | None = None
    parses = 0
    for off in _magic_sectors(flash, preferred):
        if first_error is not None and not _WELL_FORMED.match(flash, off, off + TABLE_MAX_LENGTH):
            continue
        if parses == _MAX_PARSES:
            assert first_error is not None  # only failed parses are counted
            raise PartitionTableError(
                f"no valid partition table in the {len(flash):#x}-byte image: "
                f"{first_error.message}; {_MAX_PARSES - 1} more sectors that look like "
                f"tables do not parse either, and the search stops at {off:#x}",
                hint=f"say where the table is: {spelling.table_offset}",
            )
        parses += 1
        try:
            table = flash[off : off + TABLE_MAX_LENGTH]
            return PartitionTable.from_binary(table, offset=off, spelling=spelling)
        except PartitionTableError as e:
            first_error = first_error or e
    if first_error is not None:
        raise PartitionTableError(
            f"no valid partition table in the {len(flash):#x}-byte image: {first_error.message}",
            hint=first_error.hint,
        ) from first_error
    raise PartitionTableError(
        f"no partition table in the {len(flash):#x}-byte image (no 4 KiB sector starts aa 50)",
        hint="is this a whole-flash dump (esptool read-flash 0 ALL)?",
    )


def read_partition_table(
    flash: bytes,
    *,
    offset: int | None = None,
    check_size: bool = True,
    spelling: Spelling = PYTHON,
) -> PartitionTable:
    """The table of a whole-flash image, at ``offset`` or, without one, searched for
    (0x8000 first, then every 4 KiB offset, giving up after 64 table-like sectors that
    do not parse; PartitionTableError when none parses).

    With ``check_size`` every partition must lie inside the image. Hints name the
    table's offset and a whole-flash read as ``spelling`` does.
    """
    require_bytes(flash, "read_partition_table")
    if isinstance(flash, memoryview):  # taken as bytes are; the search calls startswith
        flash = flash.tobytes()
    if offset is None:
        table = _search_table(flash, DEFAULT_TABLE_OFFSET, spelling)
        if check_size:
            try:
                table.check_fits(len(flash))
            except PartitionTableError as e:
                raise PartitionTableError(
                    f"partition table at {table.offset:#x}: {e.message}", hint=e.hint
                ) from e
        return table
    return PartitionTable.from_binary(
        flash[offset : offset + TABLE_MAX_LENGTH],
        offset=offset,
        flash_size=len(flash) if check_size else None,
        source="partition table",
        spelling=spelling,
    )
