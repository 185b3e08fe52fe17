"""``inspect`` as a library: anything that may hold certificates -> a :class:`Report`.

Readers for richer inputs (flash dumps, ESP-IDF bundles, file-system images) are listed
in ``INSPECTORS``; each takes ``(data, source, spelling)`` and returns a Report, or None when the
bytes are not its kind. They are tried in order, and plain certificate files (PEM, DER,
C source) are the fallback. The values (:class:`Finding`, :class:`Report`) are in
:mod:`.findings`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from ._stdin import empty_input
from .arguments import fspath_or, require_bytes, require_path, require_type
from .errors import CertificateError, ImageError
from .fileio import read_input
from .findings import (
    Finding,
    Report,
    certificate_file_report,
    finding_status,
    report_document,
    report_to_dict,
)
from .flash.offline import inspect_dump
from .formats.idf_bundle import (
    DAMAGED_BUNDLE_HINT,
    DEFAULT_MAX_CERTS,
    FORMAT_DESCRIPTIONS,
    BundleRoot,
    diagnose_bundle,
    parse_subject,
    read_idf_bundle,
    starts_like_bundle,
)
from .fs.inspect import inspect_image
from .keyscan import refuse_private_keys
from .limits import MAX_CERT_INPUT, MAX_FILE_INPUT, check_size
from .sniff import decode_text, looks_binary, sniff_kind
from .spelling import PYTHON, Spelling
from .verify.parse import key_refusal, key_unparseable_by

if TYPE_CHECKING:
    from .board_model import Board
    from .verify.profiles import MbedtlsVersion

__all__ = [
    "INSPECTORS",
    "Finding",
    "Report",
    "certificate_file_report",
    "describe_unknown",
    "finding_status",
    "inspect_bytes",
    "inspect_idf_bundle",
    "inspect_path",
    "report_document",
    "report_to_dict",
]


# Notes of one kind a report lists before it counts the rest (a hostile bundle can hold
# 100,000 subjects stored twice).
_MOST_NOTES = 5


def inspect_idf_bundle(data: bytes, source: str, spelling: Spelling = PYTHON) -> Report | None:
    """A Report for an ESP-IDF bundle file, or None when ``data`` is not one.

    A bundle is a certificate file: one over their 4 MiB cap is refused unwalked. Under
    it, 400,000 tiny roots fit: each distinct stored name and key is read once (repeats
    share the text), and names that do not read are one note."""
    if len(data) > MAX_CERT_INPUT:  # certificate files' cap, before any walk
        if starts_like_bundle(data) is not None:
            check_size(len(data), MAX_CERT_INPUT, what="ESP-IDF certificate bundle", path=source)
        return None
    bundle = read_idf_bundle(data)
    if bundle is None:
        return None
    fmt = bundle.format
    findings = []
    notes = [
        "an ESP-IDF bundle stores only each root's subject and public key: it holds no "
        "dates (an expired root still anchors) and no fingerprints"
    ]
    names: dict[bytes, tuple[str, str, bool]] = {}  # (subject, label, readable)
    keys: dict[bytes, tuple[str, str | None]] = {}  # (description, mbedTLS lines refusing it)
    lines = BUNDLE_MBEDTLS[fmt]
    refused: list[str] = []  # notes on the first few roots whose key does not parse
    refused_count = 0
    unreadable: list[str] = []  # the first few locations
    unreadable_count = 0
    for i, r in enumerate(bundle.roots, start=1):
        name = names.get(r.subject_der)
        if name is None:
            try:
                name = (*parse_subject(r.subject_der), True)
            except ImageError:
                name = (f"(unreadable name {r.subject_der[:8].hex()}...)", "(unreadable)", False)
            names[r.subject_der] = name
        key = keys.get(r.spki_der)
        if key is None:
            key = keys[r.spki_der] = (r.key_description(), key_unparseable_by(r.spki_der, lines))
        if not name[2]:
            unreadable_count += 1
            if len(unreadable) < _MOST_NOTES:
                unreadable.append(f"#{i}")
        if key[1] is not None:
            refused_count += 1
            if len(refused) < _MOST_NOTES:
                refused.append(_key_note(f"#{i} {name[1]}", r.spki_der, lines))
        findings.append(Finding(f"#{i}", name[1], name[0], key[0], unparseable=key[1]))
    if unreadable_count:
        more = unreadable_count - len(unreadable)
        listed = ", ".join(unreadable) + (f" and {more:,} more" if more else "")
        subjects = "subject is" if unreadable_count == 1 else "subjects are"
        notes.append(f"{listed}: the stored {subjects} not a readable DER name")
    notes += refused
    if refused_count > len(refused):
        notes.append(
            f"{refused_count - len(refused):,} more roots store a key mbedTLS cannot parse "
            "(--json lists every root)"
        )
    if not bundle.is_sorted:
        notes.append(
            "roots are not sorted by DER subject: the device's binary search will miss "
            "issuers (rebuild it with esp-cabundle or gen_crt_bundle.py)"
        )
    twice = bundle.duplicate_subjects()
    for subj in twice[:_MOST_NOTES]:
        notes.append(
            f"subject {_safe_subject(subj)} is stored with different keys; the device tries "
            "only the one its binary search lands on"
        )
    if len(twice) > _MOST_NOTES:
        notes.append(
            f"{len(twice) - _MOST_NOTES:,} more subjects are stored with different keys "
            "(--json lists every root)"
        )
    if len(bundle.roots) > DEFAULT_MAX_CERTS:
        notes.append(
            f"{len(bundle.roots)} roots: over the default "
            f"CONFIG_MBEDTLS_CERTIFICATE_BUNDLE_MAX_CERTS ({DEFAULT_MAX_CERTS}); the device "
            "refuses it unless that option was raised"
        )
    mids, anchor_notes = _bundle_intermediates(bundle.roots)
    notes += anchor_notes
    facts = (
        ("format", FORMAT_DESCRIPTIONS[fmt]),
        ("roots", len(bundle.roots)),  # numbers as numbers, as an image's facts; every entry
        ("intermediates", mids),  # of them, as the gate's JSON counts them
        ("size", len(data)),
    )
    return Report(source, f"idf-bundle-{fmt}", tuple(findings), tuple(notes), facts)


# The mbedTLS lines that read each bundle layout: v1 is read by ESP-IDF 4.4 and 5.0
# (mbedTLS 2.28) and 5.1-5.3 (3.x, modelled as 3.6), v2 by ESP-IDF 5.4 and later (3.6);
# Arduino-ESP32 2.x and 3.2+ follow the ESP-IDF they are built on (formats/idf_versions).
BUNDLE_MBEDTLS: dict[str, tuple[MbedtlsVersion, ...]] = {"v1": ("2.28", "3.6"), "v2": ("3.6",)}


def _key_note(where: str, key: bytes, lines: Sequence[MbedtlsVersion]) -> str:
    """What a unit does with a bundle root whose stored key its mbedTLS cannot parse:
    ``esp_crt_check_signature`` (esp_crt_bundle.c) parses the key only when a chain
    names the root as issuer, then fails, so the root anchors nothing."""
    refusals = {v: key_refusal(key, v) for v in lines}
    said = sorted({str(r) for r in refusals.values() if r is not None})
    who = key_unparseable_by(key, lines)
    parsed = [v for v, r in refusals.items() if r is None]
    can = f"; mbedTLS {' and '.join(parsed)} can" if parsed else ""
    on = f" with {who}" if parsed else ""
    return (
        f"{where}: {who} cannot parse its stored key ({'; '.join(said)}){can}; ESP-IDF "
        "parses a root's key only when a server's chain names the root as issuer "
        f"(esp_crt_check_signature), and then fails: {on and on[1:] + ', '}no chain "
        "verifies through this root"
    )


def _bundle_intermediates(entries: Sequence[BundleRoot]) -> tuple[int, tuple[str, ...]]:
    """How many of a bundle's entries store an intermediate the tool knows, and the
    count and the warnings :mod:`.anchors` gives a CA file holding them."""
    # deferred: the catalog and the roadmaps load for an ESP-IDF bundle only
    from .anchors import count_entries, entry_certificates, intermediate_notes, known_certificates
    from .catalog import Catalog  # deferred: as above

    catalog = Catalog.load()
    matched = entry_certificates(entries, known_certificates(catalog))
    mids = sum(1 for c in matched if c is not None and not c.self_signed)
    if not mids:
        return 0, ()
    count = f"it holds {count_entries(len(entries), mids)}"
    return mids, (
        count,
        *intermediate_notes([c for c in matched if c is not None], catalog, key_only=True),
    )


def _safe_subject(der: bytes) -> str:
    try:
        return parse_subject(der)[0]
    except ImageError:
        return der[:16].hex()


def _check_source_and_board(source: object, board: object, call: str) -> None:
    """``source`` (what the report calls the data) a str, ``board`` a Board or None: a
    number there was taken as the source, a name as the board."""
    shown = fspath_or(source)
    hint = f"source={shown!r}" if isinstance(shown, str) else "source='dump.bin'"
    require_type(source, str, f"{call}'s source= takes a str (what the report calls it)", hint)
    if board is not None:
        # deferred: only a caller who loaded a board gets here, so the module is loaded
        from .board_model import check_board

        check_board(board, call)


# Tried in order before the plain-certificate fallback; most specific first: whole-flash
# dumps first, since they contain file-system images the image reader would claim.
# Each takes (data, source, spelling): the readers whose hints name no option ignore it.
INSPECTORS: tuple[Callable[[bytes, str, Spelling], Report | None], ...] = (
    inspect_dump,
    inspect_idf_bundle,
    inspect_image,
)


def inspect_bytes(
    data: bytes,
    *,
    source: str = "<input>",
    spelling: Spelling = PYTHON,
    board: Board | None = None,
) -> Report:
    """Identify what ``data`` is and report the certificates it holds; the hints name
    the options as ``spelling`` does. ``data`` is bytes (a path: :func:`inspect_path`);
    ``source``, what the report and errors call it, has a default as load_certificates'
    does, so that a path passed alone is told of inspect_path, not of a missing source.
    ``board``: a whole-flash dump's board, whose profile reads its file systems (as
    ``inspect_port`` reads a unit's)."""
    require_bytes(data, "inspect_bytes", path_call="inspect_path")
    _check_source_and_board(source, board, "inspect_bytes")
    data = bytes(data)  # a memoryview has no bytes methods (count, find)
    # inspect_path's cap, for bytes given directly: every reader below is linear, but the
    # key scan of 300 MiB took 26 s and ~1 GB
    check_size(len(data), MAX_FILE_INPUT, what="image or CA file", path=source)
    for inspector in INSPECTORS:
        if inspector is inspect_dump and board is not None:
            report = inspect_dump(data, source, spelling, board=board)
        else:
            report = inspector(data, source, spelling)
        if report is not None:
            return report
    if not data:
        raise CertificateError(empty_input(source), path=source)
    # A key is the first thing to say; one byte repeated (blank flash) holds none, and is
    # said at once rather than after a scan of every byte (36 s for 200 MiB of zeros).
    if data.count(data[:1]) != len(data):
        refuse_private_keys(data, source=source)
    unknown = describe_unknown(data, spelling, source=source)
    if unknown is not None:
        raise CertificateError(unknown[0], path=source, hint=unknown[1])
    return certificate_file_report(data, source)


# ESP32 application and bootloader images start with this byte (esp_image_format.h,
# ESP_IMAGE_HEADER_MAGIC); the bootloader sits at 0x1000 (ESP32, S2) or 0x0 (newer chips).
_IMAGE_MAGIC = 0xE9


# What inspect reads: said plainly where a file is none of it.
_READS = (
    "inspect reads certificate files (PEM, DER, C source), ESP-IDF bundles, LittleFS and "
    "SPIFFS partition images and whole-flash dumps (a partition table at 0x8000"
)


def _fs_hint(spelling: Spelling, source: str) -> str:
    return (
        "give the file-system partition's offset and size (from the firmware's "
        f"partitions.csv): {spelling.list_fs_for(source)}"
    )


def describe_unknown(
    data: bytes, spelling: Spelling = PYTHON, *, source: str = "FILE"
) -> tuple[str, str | None] | None:
    """What bytes that no reader claimed look like, as (message, hint), when they are not
    a certificate file either: an ESP-IDF bundle cut short, blank flash, a flash dump
    without a readable partition table, other binary data. None for text and DER, which
    the certificate reader judges (and names the line of what is wrong). ``source``: the
    file the hint's command reads."""
    damaged = diagnose_bundle(data)
    if damaged is not None:
        return damaged, DAMAGED_BUNDLE_HINT
    size = f"{len(data):,} bytes"
    if data.count(data[:1]) == len(data):
        return (
            f"{size}, every one 0x{data[0]:02X}: blank or erased flash, with no partition "
            "table, file system or certificate",
            None,
        )
    decoded, _ = decode_text(data, source=source)
    # sniff_kind says "der" only of bytes opening with 0x30: asked of any other binary
    # data, it decoded and lexed it all as C (random 256 MiB: 2 GB and half the time)
    if not looks_binary(decoded) or (decoded[:1] == b"\x30" and sniff_kind(decoded) == "der"):
        return None
    if any(len(data) > at and data[at] == _IMAGE_MAGIC for at in (0x0, 0x1000)):
        return (
            f"a flash dump ({size}: a boot image header at the start) with no readable "
            "partition table at any 4 KiB offset (erased or overwritten?)",
            _fs_hint(spelling, source),
        )
    pem = data.find(b"-----BEGIN")
    holds = f"; it holds PEM text at byte offset {pem:#x}" if pem >= 0 else ""
    return (
        f"binary data ({size}), not a certificate file, ESP-IDF bundle, file-system image "
        f"or flash dump this tool knows{holds}",
        f"{_READS}, as {spelling.read_all} saves one). A file cut short or damaged looks "
        "like this: compare its size with the partition's, or read it again",
    )


def inspect_path(
    path: str | Path,
    *,
    spelling: Spelling = PYTHON,
    missing_hint: str | None = None,
    board: Board | None = None,
) -> Report:
    """A Report for the file at ``path`` (``-``: standard input): a pipe is read (up to
    the cap), a character device refused unread (a serial port is a unit: ``inspect
    --port``); hints as ``spelling`` names the options, ``missing_hint`` for a file that
    is not there (the CLI's: the command that makes one); ``board`` as for
    :func:`inspect_bytes`."""
    require_path(path, "inspect_path", data_call="inspect_bytes")
    _check_source_and_board("", board, "inspect_path")  # before the file is read
    data = read_input(
        path,
        what="image or CA file",
        devices=False,
        hint=missing_hint,
        certificates=True,
        stdin=True,
    )
    return inspect_bytes(data, source=str(path), spelling=spelling, board=board)
