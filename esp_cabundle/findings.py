"""What an input holds, as ``inspect`` reports it: :class:`Finding` per certificate or
root, :class:`Report` per input (nested: a dump -> partitions -> files), and the report of
a plain certificate file (PEM, DER, C source) that every richer reader falls back on."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import Any

from .certs import Certificate, load_certificates
from .dates import as_utc
from .sniff import decode_text, sniff_kind
from .text import plural
from .verify.parse import parse_notes, unparseable_by
from .verify.pem_read import device_view

__all__ = [
    "MONGOOSE_MAX_LINE",
    "Finding",
    "Report",
    "certificate_file_report",
    "finding_status",
    "finding_to_dict",
    "report_document",
    "report_to_dict",
]

# Mongoose OS reads CA files with fgets(buf, 128, f): longer lines are silently skipped.
MONGOOSE_MAX_LINE = 127


# ``unparseable`` of a certificate the unit's mbedTLS would parse, in a file it reads
# none from as stored (UTF-16 text, a NUL before the PEM header): kept as the JSON's
# ``unparseable_by``; sentences use Finding.refusal.
NOT_LOADED = "mbedTLS (not loaded from this file)"


@dataclass(frozen=True, slots=True)
class Finding:
    """One trust anchor or certificate found, with what is known of it.

    ESP-IDF bundles keep only subject and key, so dates and fingerprint may be None.
    """

    location: str
    label: str
    subject: str
    key: str
    sha256: str | None = None
    not_before: datetime | None = None
    not_after: datetime | None = None
    is_ca: bool | None = None
    self_signed: bool | None = None
    unparseable: str | None = None  # the mbedTLS lines that refuse it ("mbedTLS 3.6")
    certificate: Certificate | None = field(default=None, compare=False, repr=False)

    @property
    def refusal(self) -> str | None:
        """Why the unit's mbedTLS goes without it, as a sentence's predicate: "mbedTLS
        3.6 cannot parse it", or that the file as stored gives it no certificate."""
        if self.unparseable == NOT_LOADED:
            return "the unit's mbedTLS does not load it from this file as stored"
        return f"{self.unparseable} cannot parse it" if self.unparseable else None

    @classmethod
    def from_certificate(cls, cert: Certificate, location: str) -> Finding:
        return cls(
            location=location,
            label=cert.label,
            subject=cert.subject,
            key=cert.key_description,
            sha256=cert.sha256,
            not_before=cert.not_before,
            not_after=cert.not_after,
            is_ca=cert.is_ca,
            self_signed=cert.self_signed,
            unparseable=unparseable_by(cert.der),
            certificate=cert,
        )


@dataclass(frozen=True, slots=True)
class Report:
    """What one input holds; ``children`` nest (a dump -> partitions -> files)."""

    source: str
    kind: str
    findings: tuple[Finding, ...] = ()
    notes: tuple[str, ...] = ()
    facts: tuple[tuple[str, str | int], ...] = ()  # numbers as numbers (--json)
    children: tuple[Report, ...] = ()
    # A fact as the text says it where its words differ from its JSON value: a
    # profile the bytes do not tell from others is named with them (as fs ls says it).
    words: tuple[tuple[str, str], ...] = ()
    # What makes the input itself bad (a dump cut short): inspect fails on it, as
    # update-dump refuses it, whatever the certificates say.
    problems: tuple[str, ...] = ()
    # Facts for --json only, as numbers and plain values (offset, size, mac, flash_size)
    # beside the prose the text shows ("data/spiffs at 0x291000, 0x16f000 bytes"): the
    # names ``read --json`` gives; a prose fact of the same name keeps its key.
    machine: tuple[tuple[str, str | int], ...] = ()
    # Objects for --json only, beside ``facts`` (a unit's or dump's ``board``, named or
    # inferred, and its ``reach`` verdict): what a script reads without parsing a note.
    extra: tuple[tuple[str, Any], ...] = ()

    def all_findings(self) -> Iterable[Finding]:
        yield from self.findings
        for c in self.children:
            yield from c.all_findings()

    def to_dict(self, at: date | datetime, warn_days: int | None = None) -> dict[str, Any]:
        """The report as ``inspect --json`` prints it (one of its ``reports``), each
        certificate's status judged at ``at`` (a date or naive datetime is UTC): a
        library caller's JSON is the CLI's."""
        return report_to_dict(self, as_utc(at), warn_days)


def finding_status(
    f: Finding, at: datetime, *, warn_days: int | None = None, sent_first: bool = False
) -> str:
    """``ok``, ``EXPIRED``, ``not yet valid``, ``expires in N days``, ``no dates``, or
    ``unparseable by mbedTLS ...`` (a root the device skips is not ok, whatever its
    dates). ``sent_first``: the first certificate of a server's chain, whose not being
    a CA is expected (``leaf``), not a fault as in a CA file."""
    if f.not_after is None:  # an ESP-IDF bundle root: only its key was judged
        return f"unparseable by {f.unparseable}, no dates" if f.unparseable else "no dates (bundle)"
    if at > f.not_after:
        return "EXPIRED"
    if f.not_before is not None and at < f.not_before:
        return "not yet valid"
    days = (f.not_after - at).days
    if warn_days is not None and days <= warn_days:
        return f"expires in {plural(days, 'day')}"
    parts = ["ok"]
    if f.unparseable == NOT_LOADED:
        parts = ["not loaded by mbedTLS from this file"]
    elif f.unparseable:
        parts = [f"unparseable by {f.unparseable}"]
    if f.is_ca is False:
        parts.append("leaf" if sent_first else "not a CA")
    elif f.self_signed is False:
        parts.append("intermediate")
    return ", ".join(parts)


def _pem_notes(data: bytes) -> list[str]:
    notes = []
    for n, line in enumerate(data.splitlines(), start=1):
        if len(line) > MONGOOSE_MAX_LINE - 1:  # + newline must fit in 127 chars
            notes.append(
                f"line {n} is {len(line)} bytes: Mongoose OS (fgets 128) silently skips it"
            )
            if len(notes) >= 5:
                notes.append("(more long lines not listed)")
                break
    return notes


def certificate_file_report(data: bytes, source: str) -> Report:
    """Report on PEM, DER or C source (UTF-8 or UTF-16 text)."""
    certs = load_certificates(data, source=source)
    view = device_view(data, certs, source=source)  # the bytes as the unit's mbedTLS sees them
    data, converted = decode_text(data, source=source)
    kind = sniff_kind(data)
    findings = []
    for i, c in enumerate(certs, start=1):
        f = Finding.from_certificate(c, f"#{i}")
        if view is not None and c.sha256 in view.unread:
            f = replace(f, unparseable=f.unparseable or NOT_LOADED)
        findings.append(f)
    notes: list[str] = list(view.notes) if view is not None else []
    if kind == "pem":
        notes += _pem_notes(data)
    elif kind in ("c-strings", "c-array"):
        from .c_literals import scan_c  # deferred: C source only (cached: already lexed)

        notes += scan_c(data.decode("utf-8", errors="replace")).notes
    notes += parse_notes(certs, role="ca-file")
    if any(c.is_ca and not c.self_signed for c in certs):
        # deferred: the catalog (and its roots) load only for a file holding an intermediate
        from .anchors import intermediate_notes
        from .catalog import Catalog  # deferred: as above

        notes += intermediate_notes([c for c in certs if c.is_ca], Catalog.load())
    if converted:
        notes.append(f"read as {converted}: devices read UTF-8 (or ASCII) PEM only")
    # One line per root however often it repeats (3,000 copies are one note).
    times = Counter(c.sha256 for c in certs)
    for sha256, label in {c.sha256: c.label for c in certs}.items():
        if times[sha256] > 1:
            notes.append(f"{label} appears {times[sha256]:,} times")
    return Report(source, kind, tuple(findings), tuple(notes))


def report_to_dict(r: Report, at: datetime, warn_days: int | None = None) -> dict[str, Any]:
    """``r`` as the JSON ``inspect`` prints, in lists."""
    return {
        **_report_fields(r),
        "certificates": [finding_to_dict(f, at, warn_days) for f in r.findings],
        "children": [report_to_dict(c, at, warn_days) for c in r.children],
    }


def report_document(r: Report, at: datetime, warn_days: int | None = None) -> dict[str, Any]:
    """:func:`report_to_dict` with each certificate's object made as the JSON is
    written (``certificates`` and ``children`` are iterators, for
    :func:`~esp_cabundle.ui.emit_json`): a 400,000-root bundle never has them all in
    memory at once."""
    return {
        **_report_fields(r),
        "certificates": (finding_to_dict(f, at, warn_days) for f in r.findings),
        "children": (report_document(c, at, warn_days) for c in r.children),
    }


def _report_fields(r: Report) -> dict[str, Any]:
    return {
        "source": r.source,
        "kind": r.kind,
        "facts": {**dict(r.machine), **dict(r.facts)},
        "notes": list(r.notes),
        "problems": list(r.problems),
        **dict(r.extra),
    }


def finding_to_dict(f: Finding, at: datetime, warn_days: int | None = None) -> dict[str, Any]:
    """One certificate of a report, as JSON."""
    return {
        "location": f.location,
        "label": f.label,
        "subject": f.subject,
        "key": f.key,
        "sha256": f.sha256,
        "not_before": f.not_before.isoformat() if f.not_before else None,
        "not_after": f.not_after.isoformat() if f.not_after else None,
        "days_left": (f.not_after - at).days if f.not_after else None,
        "is_ca": f.is_ca,
        "self_signed": f.self_signed,
        "unparseable_by": f.unparseable,
        "status": finding_status(f, at, warn_days=warn_days),
    }
