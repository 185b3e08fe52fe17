"""Whole-flash dumps (``esptool read-flash 0 ALL dump.bin``): inspect and update offline.

:func:`inspect_dump` finds the partition table, lists the partitions, opens every data
partition that holds a file system and reports its CA files, and scans the other
partitions (apps, NVS) for embedded certificates: PEM text (also what mDash-style
``s_pem`` string literals compile to) and DER, with offsets. The table's ``encrypted``
flag alone proves nothing (Mongoose OS sets it on every partition): the content
decides, and a flagged partition whose bytes do not mount is judged by the eFuses when
known (:func:`damaged_fs_note`), never misread.

:func:`update_dump` is the offline twin of flashing a unit, running the same code: the
dump is a :class:`~esp_cabundle.flash.dump.DumpFile`, the update is planned by
:func:`esp_cabundle.flash.plan.plan_ca_update` (power-safe order included) and its
sectors are written by :func:`~esp_cabundle.flash.writer.write_sectors` into the copy
in memory, which is then read back; only the changed sectors of the board's file-system
partitions differ.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from ..arguments import require_bytes
from ..blocks import FlashCache, is_erased
from ..boards import Board
from ..ca_arguments import check_ca_for_board
from ..certs import Certificate, load_certificates
from ..errors import (
    CertificateError,
    ImageError,
    ImageNotDumpError,
    InputError,
    PartitionTableError,
)
from ..findings import Finding, Report
from ..fs import detect_fs_type
from ..fs.base import IN_PARTITION
from ..fs.inspect import inspect_image
from ..fs.lfs_superblock import PastTheEnd
from ..partitions import (
    DEFAULT_TABLE_OFFSET,
    Partition,
    PartitionTable,
    read_partition_table,
)
from ..spelling import PYTHON, Spelling
from ..text import plural, sized_repr
from .damaged import damaged_fs_note, resized_spiffs_note
from .dump import DumpFile
from .dump_size import appended_message, appended_note, exact_size, size_message, size_problem
from .plan import UpdatePlan, plan_ca_update, reread_problems
from .writer import write_sectors

if TYPE_CHECKING:
    from ..gate import GatedCA

__all__ = [
    "DumpUpdate",
    "EmbeddedCertificate",
    "WholeDump",
    "beyond_message",
    "cut_partitions",
    "find_embedded_certificates",
    "inspect_dump",
    "truncated_message",
    "update_dump",
]

# The smallest dump that can hold a table at 0x8000 and one partition after it.
_MIN_DUMP = DEFAULT_TABLE_OFFSET + 0x1000
# ESP image header magic (app and bootloader images).
_IMAGE_MAGIC = 0xE9
# esp_image_header_t chip_id (esp_app_format.h), and where each chip's bootloader sits.
_CHIP_IDS = {
    0x0000: "esp32",
    0x0002: "esp32s2",
    0x0005: "esp32c3",
    0x0009: "esp32s3",
    0x000C: "esp32c2",
    0x000D: "esp32c6",
    0x0010: "esp32h2",
    0x0012: "esp32p4",
    0x0017: "esp32c5",
}
_FLASH_SIZES = {0: "1MB", 1: "2MB", 2: "4MB", 3: "8MB", 4: "16MB", 5: "32MB", 6: "64MB", 7: "128MB"}
_PEM_RE = re.compile(
    rb"-----BEGIN CERTIFICATE-----[A-Za-z0-9+/=\s\\n\"]{64,}?-----END CERTIFICATE-----"
)
# At most this many embedded certificates are reported per partition.
_MAX_EMBEDDED = 200


# ---------------------------------------------------------------------------------------
# Embedded certificates


@dataclass(frozen=True, slots=True)
class EmbeddedCertificate:
    """A certificate found in raw bytes: where, and how it was stored."""

    offset: int  # relative to the scanned bytes
    encoding: str  # "PEM" or "DER"
    certificate: Certificate


def _pem_text(raw: bytes) -> bytes:
    """Compiled string literals are plain PEM; C source text (``"...\\n"`` lines, as a
    firmware's embedded sources or a text dump carry it) needs its escapes and quotes
    undone first."""
    return raw.replace(b"\\n", b"\n").replace(b'"', b"")


def find_embedded_certificates(data: bytes) -> list[EmbeddedCertificate]:
    """Every parseable certificate in ``data``: PEM blocks and DER SEQUENCEs, by offset.

    Library strings such as mbedTLS's own ``-----BEGIN CERTIFICATE-----`` constants do
    not parse and are skipped.
    """

    found: list[EmbeddedCertificate] = []
    for m in _PEM_RE.finditer(data):
        try:
            certs = load_certificates(_pem_text(m.group(0)), source="embedded")
        except CertificateError:
            continue
        found.extend(EmbeddedCertificate(m.start(), "PEM", c) for c in certs[:1])
        if len(found) >= _MAX_EMBEDDED:
            return found
    pos = data.find(b"\x30\x82")
    while pos != -1 and len(found) < _MAX_EMBEDDED:
        cert = _der_at(data, pos)
        if cert is not None:
            found.append(EmbeddedCertificate(pos, "DER", cert))
            pos = data.find(b"\x30\x82", pos + len(cert.der))
        else:
            pos = data.find(b"\x30\x82", pos + 1)
    return sorted(found, key=lambda e: e.offset)


def _der_at(data: bytes, pos: int) -> Certificate | None:
    """A certificate whose DER starts at ``pos``: SEQUENCE { SEQUENCE (tbs) ... }."""
    if pos + 8 > len(data):
        return None
    length = int.from_bytes(data[pos + 2 : pos + 4], "big")
    end = pos + 4 + length
    if length < 200 or end > len(data) or data[pos + 4] != 0x30 or data[pos + 5] != 0x82:
        return None
    tbs_end = pos + 8 + int.from_bytes(data[pos + 6 : pos + 8], "big")
    if tbs_end >= end:
        return None
    try:
        return Certificate.from_der(data[pos:end])
    except CertificateError:
        return None


# ---------------------------------------------------------------------------------------
# inspect


def _bootloader_facts(flash: bytes) -> list[tuple[str, str]]:
    # ESP32 and ESP32-S2 boot from 0x1000, the newer chips from 0x0.
    for off in (0x1000, 0x0):
        hdr = flash[off : off + 24]
        if len(hdr) == 24 and hdr[0] == _IMAGE_MAGIC:
            chip = _CHIP_IDS.get(int.from_bytes(hdr[12:14], "little"))
            size = _FLASH_SIZES.get(hdr[3] >> 4)
            facts = [("bootloader", f"image at {off:#x}")]
            if chip:
                facts.append(("chip (bootloader header)", chip))
            if size:
                facts.append(("flash size (bootloader header)", size))
            return facts
    return [("bootloader", "no image header at 0x1000 or 0x0 (erased, or encrypted)")]


def _partition_row(p: Partition) -> str:
    flags = f" [{', '.join(p.flag_names)}]" if p.flag_names else ""
    return f"{p.type_name}/{p.subtype_name} at {p.offset:#x}, {p.size:#x} bytes{flags}"


def _fs_report(
    p: Partition,
    data: bytes,
    source: str,
    encryption: bool | None,
    spelling: Spelling,
    board: Board | None = None,
) -> Report | None:
    """A file-system report for the partition, or None when it holds no file system;
    ``board``: the board named, whose file system's profile reads it (one of its
    partitions)."""

    where = f"{source}:{p.name}"
    try:
        fs_type = detect_fs_type(data)
    except ImageError as e:
        fs_type = None
        probe_error: str | None = e.message
    else:
        probe_error = None
    if fs_type is None and probe_error is None:
        return None
    shrunk: str | None = None
    try:
        report = inspect_image(data, where, board=board) if fs_type is not None else None
    except ImageError as e:
        probe_error = e.message
        report = None
        if isinstance(e.worded, PastTheEnd):  # a whole file system, its partition shrunk
            e.reword(IN_PARTITION)
            shrunk = e.hint
    if report is None:
        note = f"looks like a file system but does not mount: {probe_error}"
        if shrunk is not None:  # not "damaged: rewrite it", which would lose its files
            note += f" ({shrunk})"
        elif p.encrypted or encryption is not None:
            note += f" ({damaged_fs_note(p, encryption, spelling)})"
        return Report(where, "unreadable file system", notes=(note,), facts=_pfacts(p))
    notes = list(report.notes)
    if p.encrypted:
        notes.append(
            "flagged encrypted, but the bytes are a plain file system: flash encryption "
            "is off on this unit (Mongoose OS sets the flag on every partition)"
        )
    return Report(
        where,
        f"{report.kind} in partition '{p.name}'",
        report.findings,
        tuple(notes),
        _pfacts(p) + report.facts,
        report.children,
    )


def _pfacts(p: Partition) -> tuple[tuple[str, str], ...]:
    return (("partition", _partition_row(p)),)


def _pmachine(p: Partition) -> tuple[tuple[str, int], ...]:
    """A partition's place as numbers, for --json (the prose row says it in hex)."""
    return (("offset", p.offset), ("size", p.size))


def _raw_report(p: Partition, data: bytes, source: str, encryption: bool | None) -> Report:
    """Apps, NVS and other raw partitions: embedded certificates with offsets."""
    where = f"{source}:{p.name}"
    notes: list[str] = []
    facts = list(_pfacts(p))
    if is_erased(data):
        return Report(where, f"{p.type_name} partition '{p.name}'", (), ("erased",), tuple(facts))
    if p.is_app:
        if data[0] == _IMAGE_MAGIC:
            facts.append(("app image", "header found"))
        else:
            notes.append(
                "no app image header"
                + (
                    " (flagged encrypted: probably encrypted flash)"
                    if p.encrypted and encryption is None
                    else ""
                )
            )
    found = find_embedded_certificates(data)
    findings = tuple(
        Finding.from_certificate(
            e.certificate, f"+{e.offset:#x} ({p.offset + e.offset:#x}) {e.encoding}"
        )
        for e in found
    )
    if len(found) >= _MAX_EMBEDDED:
        notes.append(f"stopped after {_MAX_EMBEDDED} certificates")
    return Report(
        where, f"{p.type_name} partition '{p.name}'", findings, tuple(notes), tuple(facts)
    )


def _table_starts_at(data: bytes, offset: int) -> bool:
    """The first entry at ``offset`` is a well-formed partition entry (not two stray
    bytes that happen to read ``aa 50``)."""
    try:
        Partition.from_binary(data[offset : offset + 32])
    except PartitionTableError:
        return False
    return True


def beyond_message(p: Partition, size: int) -> str:
    """How a dump's partition past its end is said (a note, and the problem)."""
    return f"partition '{p.name}' ends at {p.end:#x}, beyond the {size:#x}-byte dump"


def _plain_flagged(table: PartitionTable, data: bytes) -> bool:
    """A partition the table flags ``encrypted`` holds a plain file system: flash
    encryption is off (it encrypts every flagged partition), as the eFuses would say."""
    for p in table:
        if p.encrypted and p.is_data and p.end <= len(data):
            try:
                if detect_fs_type(data[p.offset : p.end]) is not None:
                    return True
            except ImageError:
                continue
    return False


def cut_partitions(table: PartitionTable, size: int) -> list[Partition]:
    """The partitions that end beyond a ``size``-byte dump: one rule for "truncated",
    which update-dump refuses and inspect reports as a problem."""
    return [p for p in table if p.end > size]


def truncated_message(source: str, cut: list[Partition], size: int) -> str:
    more = f" (and {len(cut) - 1} more after it)" if len(cut) > 1 else ""
    beyond = beyond_message(cut[0], size)
    return f"{source}: {beyond}{more}: the dump looks truncated, not a whole flash"


def inspect_dump(
    data: bytes,
    source: str,
    spelling: Spelling = PYTHON,
    *,
    encryption: bool | None = None,
    board: Board | None = None,
) -> Report | None:
    """INSPECTORS entry: a Report for a whole-flash dump, None when ``data`` is not one.

    A dump is recognised by a valid partition table at a 4 KiB offset; bytes with the
    table magic at 0x8000 whose table is broken are an error, not a fall-through (its
    hint naming the options as ``spelling`` does). ``encryption``: the eFuses' flash
    encryption state when known (a unit); else a flagged partition holding a plain file
    system shows it off. A dump cut short, or of a length no flash has, is a problem
    (:attr:`Report.problems`); one that looks like two dumps appended gets a note.
    ``board``: the board named, whose profile reads its file-system partitions (the
    bytes' own profile was shown even with a board given).
    """
    if len(data) < _MIN_DUMP:
        return None
    try:
        table = read_partition_table(data, check_size=False, spelling=spelling)
    except PartitionTableError as e:
        if _table_starts_at(data, DEFAULT_TABLE_OFFSET):
            # A dump whose table is broken: say so, naming it, rather than fall through.
            raise PartitionTableError(e.reason, path=source, hint=e.hint) from e
        return None
    facts: list[tuple[str, str]] = [
        ("size", exact_size(len(data))),
        *_bootloader_facts(data),
        ("partition table", f"at {table.offset:#x}, {plural(len(table), 'partition')}"),
    ]
    notes: list[str] = []
    children: list[Report] = []
    if encryption is None and _plain_flagged(table, data):
        encryption = False
    cut = cut_partitions(table, len(data))
    # a length no flash has (bytes added, or lost past the last partition) is as bad
    odd = size_problem(len(data))
    problems: tuple[str, ...] = ()
    if cut:
        problems = (truncated_message(source, cut, len(data)),)
    elif odd is not None:
        problems = (f"{source}: {odd}",)
    appended = appended_note(data, table.offset)
    if appended is not None:
        notes.append(appended)
    mine = _board_partitions(board, table)
    for p in table:
        facts.append((f"partition {p.name}", _partition_row(p)))
        if p.end > len(data):
            notes.append(f"{beyond_message(p, len(data))} (not inspected)")
            continue
        part = data[p.offset : p.end]
        if p.is_data and p.subtype_name in ("ota", "phy"):
            continue
        named = board if p in mine else None
        report = _fs_report(p, part, source, encryption, spelling, named) if p.is_data else None
        if report is None and p.may_hold_fs:
            if is_erased(part):
                children.append(
                    Report(f"{source}:{p.name}", "empty partition", (), ("erased",), _pfacts(p))
                )
                continue
            note = "holds no file system this tool reads"
            resized = resized_spiffs_note(part, p)
            if p.subtype_name == "fat":
                note = "FAT file systems are not read by this tool"
            elif resized is not None:
                note = resized
            elif p.encrypted or encryption is not None:
                note = damaged_fs_note(p, encryption, spelling)
            children.append(
                Report(f"{source}:{p.name}", "unreadable partition", (), (note,), _pfacts(p))
            )
            continue
        if report is None:
            report = _raw_report(p, part, source, encryption)
            if not report.findings and p.is_data and not p.may_hold_fs:
                continue  # NVS, coredump ... without certificates: the table row says it all
        children.append(report)
    held = {f"{source}:{p.name}" for p in mine}
    notes += _unmarked_notes(board, table, [c for c in children if c.source in held])
    if not any(True for _ in Report(source, "", children=tuple(children)).all_findings()):
        notes.append("no certificate found in any partition")
    where = {f"{source}:{p.name}": p for p in table}
    children = [replace(c, machine=(*_pmachine(where[c.source]), *c.machine)) for c in children]
    return Report(
        source,
        "flash dump",
        (),
        tuple(notes),
        tuple(facts),
        tuple(children),
        problems=problems,
        machine=(("flash_size", len(data)),),
    )


def _unmarked_notes(board: Board | None, table: PartitionTable, parts: list[Report]) -> list[str]:
    """The note ``flash --board`` warns of (:func:`.plan._unmarked`) for each of the
    board's partitions (``parts``: their reports); inspect of the same unit said nothing."""
    if board is None or board.firmware is None or not parts:
        return []
    from ..board_fit import unmarked_firmware  # deferred: reads every shipped board

    out = []
    for part in (c for c in parts if "file system" in dict(c.facts)):  # erased: flash skips
        paths = [k.removeprefix("file ") for k, _ in part.facts if k.startswith("file /")]
        note = unmarked_firmware(board, table, part.source.rsplit(":", 1)[-1], paths)
        out += [note] if note is not None else []
    return out


def _board_partitions(board: Board | None, table: PartitionTable) -> tuple[Partition, ...]:
    """``board``'s file-system partitions in ``table`` (none: no board, or it does not
    fit the table, which inspect says in a note of its own)."""
    if board is None or board.filesystem is None:
        return ()
    try:
        return tuple(board.fs_partitions(table))
    except InputError:
        return ()


# ---------------------------------------------------------------------------------------
# update-dump


@dataclass(frozen=True, slots=True)
class WholeDump:
    """A whole-flash dump known to be complete, and its partition table (parsed once).

    :meth:`parse` is the check ``update-dump`` runs before it gates the CA: a dump cut
    short (a read or a copy that stopped) is refused, naming the partition it cuts off,
    before anything else is said or done.
    """

    __repr__ = sized_repr  # its bytes as their size

    flash: bytes
    table: PartitionTable
    source: str = "dump"

    @classmethod
    def parse(cls, flash: bytes, *, source: str = "dump", spelling: Spelling = PYTHON) -> WholeDump:
        """PartitionTableError when ``flash`` has no valid table, a partition it lists
        ends beyond the dump, or its length is no flash's (:mod:`.dump_size`); the hint
        names a whole-flash read as ``spelling`` does."""
        try:
            table = read_partition_table(flash, check_size=False, spelling=spelling)
        except PartitionTableError as e:
            _refuse_not_a_dump(flash, source, spelling)
            raise PartitionTableError(
                f"{source}: {e.message}; nothing written",
                hint=e.hint or f"is the dump complete? {spelling.read_all}",
            ) from e
        cut = cut_partitions(table, len(flash))
        if cut:
            raise PartitionTableError(
                f"{truncated_message(source, cut, len(flash))}; nothing written",
                hint=f"read the whole flash again ({spelling.read_all}, or esptool "
                "read-flash 0 ALL dump.bin), then update that dump",
            )
        odd = size_message(len(flash), spelling) or appended_message(flash, table.offset, spelling)
        if odd is not None:
            raise PartitionTableError(f"{source}: {odd[0]}; nothing written", hint=odd[1])
        return cls(flash, table, source)


def _refuse_not_a_dump(flash: bytes, source: str, spelling: Spelling) -> None:
    """A CA file or a file-system image given where a whole-flash dump goes, said as
    what it is ("no partition table in the 0x17a6-byte image" said neither). Still a
    PartitionTableError, as every dump without a table is, for callers that catch it."""
    from ..fs.edit import looks_like_pem  # deferred: only for a file with no table

    if looks_like_pem(flash):
        raise PartitionTableError(
            f"{source}: PEM text (certificates), not a whole-flash dump; nothing written",
            hint=f"a dump is a unit's whole flash ({spelling.read_all}); a CA file is "
            f"given as the CA ({spelling.bundle_for(source)})",
        )
    kind = detect_fs_type(flash)
    if kind is not None:
        edit = (
            f"esp-cabundle fs put {spelling.quote(source)} ca.pem"
            if spelling.cli
            else "image = open_image(data); image.write('/ca.pem', ca); image.to_bytes()"
        )
        raise ImageNotDumpError(
            f"{source}: a {kind} image (one partition), not a whole-flash dump; nothing written",
            fs_type=kind,
            hint=f"edit the CA file in the image itself ({edit}), or give a unit's whole "
            f"flash ({spelling.read_all})",
        )


@dataclass(frozen=True, slots=True)
class DumpUpdate:
    """The new dump and the plan it came from."""

    flash: bytes
    plan: UpdatePlan

    def __repr__(self) -> str:
        # The dump as its size and digest prefix: its bytes would be megabytes.
        digest = hashlib.sha256(self.flash).hexdigest()[:12]
        return (
            f"DumpUpdate(flash=<{len(self.flash)} bytes>, sha256={digest}..., plan={self.plan!r})"
        )


def update_dump(
    flash: bytes | WholeDump,
    board: Board,
    ca: GatedCA,
    *,
    source: str = "dump",
    spelling: Spelling = PYTHON,
) -> DumpUpdate:
    """Replace the CA file in every file-system partition ``board`` names with ``ca``
    (gated for ``board``), as ``flash`` would on the unit the dump came from.

    ``flash``: the dump's bytes (named ``source`` in messages), or a :class:`WholeDump`
    already checked. Returns the new dump; raises (nothing to write) when the dump is
    cut short, a partition is missing or does not mount, or the CA was gated for another
    board. Bytes outside those partitions are kept byte for byte, and the result is read
    back (both checked here). The hints name the board and options as ``spelling`` does.
    """
    if not isinstance(flash, WholeDump):
        require_bytes(flash, "update_dump")
        if isinstance(flash, memoryview):  # taken as bytes are; the dump's checks slice it
            flash = flash.tobytes()
    check_ca_for_board(ca, board, "update_dump")
    if isinstance(flash, WholeDump):
        whole = flash
    else:
        whole = WholeDump.parse(flash, source=source, spelling=spelling)
    dump = DumpFile(whole.flash, name=whole.source)
    plan = plan_ca_update(dump, whole.table, board, ca, spelling=spelling)
    write_sectors(
        dump,
        [(w.offset, w.new) for w in plan.writes],
        bounds=[(c.partition.offset, c.partition.end) for c in plan.changes],
        cancel=None,
        progress=None,
        what="update",
        resume_hint="this is a bug in esp-cabundle; please report it",
    )
    readback = FlashCache(dump)
    for c in plan.changes:
        problems = reread_problems(readback, c) if c.writes else []
        if problems:
            raise ImageError(
                f"partition '{c.partition.name}': the updated dump does not hold what was "
                f"planned ({'; '.join(problems)}); nothing written"
            )
    new = dump.data
    _check_untouched(whole.flash, new, plan)
    return DumpUpdate(new, plan)


def _check_untouched(old: bytes, new: bytes, plan: UpdatePlan) -> None:
    """Every byte outside the updated partitions is the same (NVS holds keys)."""
    if len(old) != len(new):
        raise ImageError("the updated dump changed size; nothing written")
    pos = 0
    for c in sorted(plan.changes, key=lambda c: c.partition.offset):
        p = c.partition
        if old[pos : p.offset] != new[pos : p.offset]:
            raise ImageError(f"bytes before partition '{p.name}' changed; nothing written")
        pos = p.end
    if old[pos:] != new[pos:]:
        raise ImageError("bytes after the last updated partition changed; nothing written")
