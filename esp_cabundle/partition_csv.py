"""ESP-IDF's partition CSV (``gen_esp32part.py``): its names for types, subtypes and
flags, its lines read into rows, and tables written back as framework CSVs write them.

Placing rows (blank offsets, sizes up to an address) and validating the table is
:meth:`esp_cabundle.partitions.PartitionTable.from_csv`'s work.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .errors import PartitionTableError
from .limits import MAX_CSV_INPUT, check_size
from .sizes import parse_size

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


def _parse_csv_row(line: str) -> CsvRow:
    if _VAR_RE.search(line):
        raise PartitionTableError(
            "uses a $VARIABLE; expand it first (gen_esp32part takes it from the environment)"
        )
    fields = [f.strip() for f in (line + ",,,,,").split(",")]
    name = fields[0]
    if not name:
        raise PartitionTableError("the name field is empty")
    ptype = parse_type(fields[1])
    subtype = parse_subtype(ptype, fields[2])
    offset = parse_size(fields[3], what="offset", error=PartitionTableError) if fields[3] else None
    if not fields[4]:
        raise PartitionTableError(f"partition '{name}' has no size")
    size = parse_size(fields[4], error=PartitionTableError)
    flags = {f.strip() for f in fields[5].split(":") if f.strip()}
    unknown = flags - set(FLAG_BITS)
    if unknown:
        raise PartitionTableError(
            f"unknown flag '{sorted(unknown)[0]}'", hint="flags: encrypted, readonly"
        )
    if any(f for f in fields[6:]):
        raise PartitionTableError("too many fields (name, type, subtype, offset, size, flags)")
    return CsvRow(name, ptype, subtype, offset, size, "encrypted" in flags, "readonly" in flags)
