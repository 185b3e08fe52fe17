"""Trust sets: the roots a unit holds, as full certificates or as bundle name+key entries."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

from ..certs import Certificate
from ..text import plural
from .arguments import certificate_tuple
from .names import name_label

if TYPE_CHECKING:
    from ..bundle import Bundle


class KeyEntry(Protocol):
    """What an ESP-IDF bundle stores per root: a DER subject and a DER public key."""

    @property
    def subject_der(self) -> bytes: ...

    @property
    def spki_der(self) -> bytes: ...


@dataclass(frozen=True, slots=True)
class TrustAnchor:
    """One trusted root: a full certificate (``ca.pem``) or only a name and a key (an
    ESP-IDF bundle entry, which has no dates, version or extensions)."""

    subject_der: bytes = field(repr=False)
    spki_der: bytes = field(repr=False)
    label: str
    certificate: Certificate | None = None

    @classmethod
    def from_certificate(cls, cert: Certificate) -> TrustAnchor:
        return cls(cert.subject_der, cert.spki_der, cert.label, cert)

    @classmethod
    def from_key(cls, subject_der: bytes, spki_der: bytes) -> TrustAnchor:
        return cls(bytes(subject_der), bytes(spki_der), name_label(bytes(subject_der)))

    @property
    def not_before(self) -> datetime | None:
        return self.certificate.not_before if self.certificate else None

    @property
    def not_after(self) -> datetime | None:
        return self.certificate.not_after if self.certificate else None

    @property
    def sha256(self) -> str | None:
        return self.certificate.sha256 if self.certificate else None


@dataclass(frozen=True, slots=True)
class TrustSet:
    """The roots a unit trusts, in the order its bundle lists them (mbedTLS tries them in
    that order)."""

    anchors: tuple[TrustAnchor, ...]
    source: str = ""
    # The anchors are an ESP-IDF bundle read from a file: the device searches them in
    # this stored order (sorted or not). Otherwise a bundle made from them is sorted the
    # way gen_crt_bundle.py sorts (stable, by DER subject).
    stored_bundle: bool = False
    # A CA file read as the device's mbedTLS reads it (verify/pem_read): blocks it
    # refused before any DER parse (bad base64, an empty block), which count as failures
    # of ``mbedtls_x509_crt_parse``, and what it loads differently from the file's text.
    file_failures: int = 0
    notes: tuple[str, ...] = ()

    @classmethod
    def from_certificates(cls, certs: Iterable[Certificate], *, source: str = "") -> TrustSet:
        """The roots ``certs`` (Certificates: a CA file's bytes go to
        :func:`~esp_cabundle.trust_files.trust_set_from_bytes`), ``source`` what verdicts
        call them."""
        items = certificate_tuple(certs, source)  # a wrong type refused with the call to make
        return cls(tuple(TrustAnchor.from_certificate(c) for c in items), source)

    @classmethod
    def from_bundle(cls, bundle: Bundle, *, source: str = "") -> TrustSet:
        return cls.from_certificates(bundle.certificates, source=source)

    @classmethod
    def from_key_entries(cls, entries: Iterable[KeyEntry], *, source: str = "") -> TrustSet:
        """From an ESP-IDF bundle's entries (anything with ``subject_der`` and
        ``spki_der``): anchors without dates."""
        anchors = tuple(TrustAnchor.from_key(e.subject_der, e.spki_der) for e in entries)
        return cls(anchors, source, stored_bundle=True)

    def __len__(self) -> int:
        return len(self.anchors)

    @property
    def has_dates(self) -> bool:
        return all(a.certificate is not None for a in self.anchors)

    def describe(self, count: str | None = None) -> str:
        """``SOURCE (N roots)``, the count said once: a shipped CA set's title already
        says it ("... default certificate bundle (152 roots)", "... fs/ca.pem (11
        certificates, no ISRG Root X1)"); a title whose count is not this set's gets the
        real one after it. ``count``: the words for it when not all are roots
        (``anchors.count_anchors``: "2 CAs (1 root, 1 intermediate)")."""
        source = self.source or "bundle"
        if count is None and re.search(rf"\({len(self)} (?:roots?|certificates?)\b", source):
            return source
        return f"{source} ({count or plural(len(self), 'root')})"
