"""``inspect`` as a library: anything that may hold certificates -> a :class:`Report`.

Readers for richer inputs (flash dumps, ESP-IDF bundles, file-system images) are listed
in ``INSPECTORS``; each takes ``(data, source)`` and returns a Report, or None when the
bytes are not its kind. They are tried in order, and plain certificate files (PEM, DER,
C source) are the fallback. The values (:class:`Finding`, :class:`Report`) are in
:mod:`.findings`.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from .errors import CertificateError, ImageError
from .fileio import read_input
from .findings import (
    Finding,
    Report,
    certificate_file_report,
    finding_status,
    report_to_dict,
)
from .flash.offline import inspect_dump
from .formats.idf_bundle import (
    DEFAULT_MAX_CERTS,
    FORMAT_DESCRIPTIONS,
    detect_bundle_format,
    parse_idf_bundle,
    parse_subject,
)
from .fs.inspect import inspect_image

__all__ = [
    "INSPECTORS",
    "Finding",
    "Report",
    "certificate_file_report",
    "finding_status",
    "inspect_bytes",
    "inspect_idf_bundle",
    "inspect_path",
    "report_to_dict",
]


def inspect_idf_bundle(data: bytes, source: str) -> Report | None:
    """A Report for an ESP-IDF bundle file, or None when ``data`` is not one."""
    fmt = detect_bundle_format(data)
    if fmt is None:
        return None
    bundle = parse_idf_bundle(data, bundle_format=fmt, source=source)
    findings = []
    notes = [
        "an ESP-IDF bundle stores only each root's subject and public key: it holds no "
        "dates (an expired root still anchors) and no fingerprints"
    ]
    for i, r in enumerate(bundle.roots, start=1):
        try:
            subject, label = parse_subject(r.subject_der)
        except ImageError:
            subject, label = f"(unreadable name {r.subject_der[:8].hex()}...)", "(unreadable)"
            notes.append(f"#{i}: the stored subject is not a readable DER name")
        findings.append(Finding(f"#{i}", label, subject, r.key_description()))
    if not bundle.is_sorted:
        notes.append(
            "roots are not sorted by DER subject: the device's binary search will miss "
            "issuers (rebuild it with esp-cabundle or gen_crt_bundle.py)"
        )
    for subj in bundle.duplicate_subjects():
        notes.append(
            f"subject {_safe_subject(subj)} is stored with different keys; the device tries "
            "only the one its binary search lands on"
        )
    if len(bundle.roots) > DEFAULT_MAX_CERTS:
        notes.append(
            f"{len(bundle.roots)} roots: over the default "
            f"CONFIG_MBEDTLS_CERTIFICATE_BUNDLE_MAX_CERTS ({DEFAULT_MAX_CERTS}); the device "
            "refuses it unless that option was raised"
        )
    facts = (
        ("format", FORMAT_DESCRIPTIONS[fmt]),
        ("roots", str(len(bundle.roots))),
        ("size", f"{len(data)} bytes"),
    )
    return Report(source, f"idf-bundle-{fmt}", tuple(findings), tuple(notes), facts)


def _safe_subject(der: bytes) -> str:
    try:
        return parse_subject(der)[0]
    except ImageError:
        return der[:16].hex()


# Tried in order before the plain-certificate fallback; most specific first: whole-flash
# dumps first, since they contain file-system images the image reader would claim.
INSPECTORS: tuple[Callable[[bytes, str], Report | None], ...] = (
    inspect_dump,
    inspect_idf_bundle,
    inspect_image,
)


def inspect_bytes(data: bytes, *, source: str) -> Report:
    """Identify what ``data`` is and report the certificates it holds."""
    for inspector in INSPECTORS:
        report = inspector(data, source)
        if report is not None:
            return report
    if not data:
        raise CertificateError("empty file", path=source)
    return certificate_file_report(data, source)


def inspect_path(path: str | Path) -> Report:
    return inspect_bytes(read_input(path), source=str(path))
