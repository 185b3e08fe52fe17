"""ESP-IDF's partition CSV (``gen_esp32part.py``): its names for types, subtypes and
flags, its lines read into rows, and tables written back as framework CSVs write them.

Placing rows (blank offsets, sizes up to an address) and validating the table is
:meth:`esp_cabundle.partitions.PartitionTable.from_csv`'s work.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from .errors import PartitionTableError
from .limits import MAX_CSV_INPUT, check_size
from .sizes import SIZE_FORMS, parse_size
from .text import byte_count

__all__ = [
    "FLAG_BITS",
    "SUBTYPES",
    "SUBTYPE_NAMES",
    "TYPES",
    "TYPE_NAMES",
    "CsvRow",
    "format_size",
    "parse_subtype",
    "parse_type",
    "read_csv_rows",
    "render_csv",
]

TYPES: dict[str, int] = {"app": 0x00, "data": 0x01, "bootloader": 0x02, "partition_table": 0x03}
TYPE_NAMES = {v: k for k, v in TYPES.items()}

# esp_partition_subtype_t (esp_partition.h) / gen_esp32part SUBTYPES.
SUBTYPES: dict[int, dict[str, int]] = {
    TYPES["app"]: {
        "factory": 0x00,
        **{f"ota_{n}": 0x10 + n for n in range(16)},
        "test": 0x20,
        "tee_0": 0x30,
        "tee_1": 0x31,
    },
    TYPES["data"]: {
        "ota": 0x00,
        "phy": 0x01,
        "nvs": 0x02,
        "coredump": 0x03,
        "nvs_keys": 0x04,
        "efuse": 0x05,
        "undefined": 0x06,
        "esphttpd": 0x80,
        "fat": 0x81,
        "spiffs": 0x82,
        "littlefs": 0x83,
        "tee_ota": 0x90,
    },
    TYPES["bootloader"]: {"primary": 0x00, "ota": 0x01, "recovery": 0x02},
    TYPES["partition_table"]: {"primary": 0x00, "ota": 0x01},
}
SUBTYPE_NAMES = {t: {v: k for k, v in names.items()} for t, names in SUBTYPES.items()}

FLAG_BITS = {"encrypted": 0, "readonly": 1}


def read_csv_rows(text: str, *, source: str) -> list[tuple[int, CsvRow]]:
    """(line number, row) for every partition line; errors carry ``source:line``. A
    leading UTF-8 byte-order mark (an editor's "UTF-8 with BOM") is dropped, as
    gen_esp32part.py's ``get_encoding`` decodes it ('utf-8-sig'): it is no part of the
    first partition's name."""
    check_size(
        len(text), MAX_CSV_INPUT, what="partition CSV", path=source, error=PartitionTableError
    )
    text = text.removeprefix("\ufeff")
    rows: list[tuple[int, CsvRow]] = []
    for n, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        try:
            rows.append((n, _parse_csv_row(line)))
        except PartitionTableError as e:
            raise PartitionTableError(e.message, path=source, line=n, hint=e.hint) from e
    if not rows:
        raise PartitionTableError("no partitions in the CSV", path=source)
    return rows


def render_csv(rows: list[tuple[str, str, str, str, str, str]]) -> str:
    """The table's CSV, columns aligned as ESP-IDF's own tables are."""
    header = ("# Name", "Type", "SubType", "Offset", "Size", "Flags")
    table = [header, *rows]
    widths = [max(len(r[i]) for r in table) + 1 for i in range(len(header))]
    lines = ["# ESP-IDF Partition Table"]
    for r in table:
        cells = [(c + ",").ljust(widths[i] + 1) for i, c in enumerate(r[:-1])]
        lines.append(("".join(cells) + r[-1]).rstrip())
    return "\n".join(lines) + "\n"


@dataclass(frozen=True, slots=True)
class CsvRow:
    """One CSV line as written: the offset None when left blank, a negative size meaning
    "up to this address" (gen_esp32part)."""

    name: str
    type: int
    subtype: int
    offset: int | None
    size: int
    encrypted: bool
    readonly: bool


def format_size(size: int) -> str:
    """``1M`` for whole mebibytes, else hex (``0x160000``), as framework CSVs write them."""
    if size % 0x100000 == 0:
        return f"{size // 0x100000}M"
    return f"{size:#x}"


def parse_type(text: str) -> int:
    """A type field: ``app``, ``data``, ... or a number."""
    t = text.strip()
    if not t:
        raise PartitionTableError("the type field is empty (app, data or a number)")
    if t.lower() in TYPES:
        return TYPES[t.lower()]
    try:
        value = int(t, 0)
    except ValueError as e:
        raise PartitionTableError(
            f"unknown partition type '{t}'", hint=f"types: {', '.join(TYPES)} or a number"
        ) from e
    if not 0 <= value <= 0xFE:
        raise PartitionTableError(f"partition type {t} is out of range (0..0xfe)")
    return value


def parse_subtype(ptype: int, text: str | None) -> int:
    """A subtype field of ``ptype``: its name (``nvs``, ``ota_0``) or a number."""
    t = (text or "").strip()
    names = SUBTYPES.get(ptype, {})
    if not t:
        if ptype == TYPES["app"]:
            raise PartitionTableError("an app partition needs a subtype (factory, ota_0, ...)")
        return SUBTYPES[TYPES["data"]]["undefined"]
    if t.lower() in names:
        return names[t.lower()]
    try:
        value = int(t, 0)
    except ValueError as e:
        known = ", ".join(names) if names else "a number"
        raise PartitionTableError(
            f"unknown subtype '{t}' for type {TYPE_NAMES.get(ptype, ptype)}",
            hint=f"subtypes: {known}",
        ) from e
    if not 0 <= value <= 0xFE:
        raise PartitionTableError(f"subtype {t} is out of range (0..0xfe)")
    return value


_VAR_RE = re.compile(r"(?<!\\)\$[A-Za-z_]")
# What a row's fields are written with (names, types, subtypes, numbers, sizes, flags).
_SHOWN = re.compile(r"[A-Za-z0-9_.+-]{1,16}")
_NAME_BYTES = 16  # what fits an entry (partition_entry.Partition)
_COLUMNS = ("name", "type", "subtype", "offset", "size", "flags")


def _parse_csv_row(line: str) -> CsvRow:
    """One partition line. A layout may name any readable file (a board's ``layout:
    FILE``), so an error quotes a field only when its line looks like a partitions
    row (the five fields name..size, or a type field that is a partition type) and
    the value is at most 16 letters, digits or ``_ . + -``; otherwise it names the
    column and what it expected, never the value (a line of /etc/shadow or a .env). A
    name is quoted once its row's type parsed, and is first refused unquoted when
    longer than an entry holds (16 bytes)."""
    if _VAR_RE.search(line):
        raise PartitionTableError(
            "uses a $VARIABLE; expand it first (gen_esp32part takes it from the environment)"
        )
    fields = [f.strip() for f in (line + ",,,,,").split(",")]
    row_like = line.count(",") >= 4
    name = fields[0]
    if not name:
        raise PartitionTableError("the name field is empty")
    if len(name.encode("utf-8")) > _NAME_BYTES:
        raise PartitionTableError(
            f"the name (column 1) is {byte_count(len(name.encode('utf-8')))}; at most "
            f"{_NAME_BYTES} fit in a partition entry"
        )
    ptype = _field(fields, 2, parse_type, row_like)
    subtype = _field(fields, 3, lambda t: parse_subtype(ptype, t), True)
    offset = (
        _field(fields, 4, lambda t: parse_size(t, what="offset", error=PartitionTableError), True)
        if fields[3]
        else None
    )
    if not fields[4]:
        raise PartitionTableError(f"partition '{name}' has no size")
    size = _field(fields, 5, lambda t: parse_size(t, error=PartitionTableError), True)
    flags = {f.strip() for f in fields[5].split(":") if f.strip()}
    unknown = sorted(flags - set(FLAG_BITS))
    if unknown:
        said = f"'{unknown[0]}'" if _SHOWN.fullmatch(unknown[0]) else "in column 6"
        raise PartitionTableError(f"unknown flag {said}", hint="flags: encrypted, readonly")
    if any(f for f in fields[6:]):
        raise PartitionTableError("too many fields (name, type, subtype, offset, size, flags)")
    return CsvRow(name, ptype, subtype, offset, size, "encrypted" in flags, "readonly" in flags)


def _field(fields: list[str], column: int, parse: Callable[[str], int], row_like: bool) -> int:
    """``fields[column - 1]`` parsed; its error as raised when the value may be quoted
    (:func:`_parse_csv_row`), else naming the column instead of the value."""
    text = fields[column - 1]
    try:
        return parse(text)
    except PartitionTableError as e:
        if not text or text not in e.message or (row_like and _SHOWN.fullmatch(text)):
            raise  # nothing quoted, or a value that may be
        what = _COLUMNS[column - 1]
        raise PartitionTableError(
            f"column {column} is not a partition {what} ({len(text)} characters, not shown)",
            hint=e.hint or f"the {what} is a number ({SIZE_FORMS})",
        ) from None
