"""Will a device accept this server chain? Path validation with the device's own rules.

The verifier replays what the TLS library on the unit does, step by step, so its answer
is the device's answer rather than a browser's:

- ``mbedtls`` — ``mbedtls_x509_crt_verify`` with a CA list (``x509_crt_verify_chain`` in
  mbedTLS 2.16 … 3.6): for each certificate a parent is looked up among the trusted CAs
  first (issuer name equal under mbedTLS's ``x509_name_cmp``, CA bit, keyCertSign, path
  length, *and* a good signature), then among the certificates the server sent after it.
  A time-valid candidate wins; an expired or not-yet-valid one is the fallback. No
  backtracking, at most 8 intermediates (more is a fatal error). With a clock, every
  certificate on the path — the trusted root too — must be inside its validity window.
- ``idf-bundle`` — ESP-IDF's ``esp_crt_bundle_attach``: mbedTLS builds the path from the
  sent certificates only (the CA list is an empty dummy), then a verify callback handles a
  certificate whose flags are exactly NOT_TRUSTED: it binary-searches the bundle for the
  issuer's raw DER name and checks the signature with the stored key. A bundle stores no
  dates. Failures in the callback surface as ``-0x3000``.
- ``idf-bundle-cross-signed`` — ESP-IDF 6.0 ``CROSS_SIGNED_VERIFY``: the bundle supplies a
  synthetic trusted CA (name + key) for every certificate, so mbedTLS's normal
  trusted-first search runs against the bundle's keys.

Clock modes: ``none`` (``MBEDTLS_HAVE_TIME_DATE`` off: nothing ever expires), ``synced``
(the device knows the date), ``unset`` (dates checked against 1970-01-01: all FUTURE).

Hostname and the leaf's key usage are not judged: they concern the server's own
certificate, not the bundle.

:func:`forecast` finds when a verdict flips between two dates. Verdicts can only change
at a certificate's not-before or just after its not-after, so it evaluates exactly those
instants instead of stepping through days.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Literal, Protocol, get_args

from .certs import Certificate
from .errors import InputError

if TYPE_CHECKING:
    from .bundle import Bundle

__all__ = [
    "BAD_KEY",
    "BAD_MD",
    "BAD_PK",
    "CLOCKS",
    "DEFAULT_DEVICE",
    "DEVICE_PROFILES",
    "ERR_X509_CERT_VERIFY_FAILED",
    "ERR_X509_FATAL_ERROR",
    "EXPIRED",
    "FUTURE",
    "MAX_INTERMEDIATE_CA",
    "NOT_TRUSTED",
    "RULES",
    "UNSET_CLOCK",
    "CertEvent",
    "Change",
    "Clock",
    "DeviceProfile",
    "Forecast",
    "KeyEntry",
    "PathStep",
    "Rules",
    "TrustAnchor",
    "TrustSet",
    "Verdict",
    "describe_certificate",
    "error_text",
    "flag_names",
    "forecast",
    "name_key",
    "parse_device_profile",
    "verify_chain",
]

# mbedTLS verification flags (include/mbedtls/x509.h, identical in 2.16 … 3.6).
EXPIRED = 0x01
REVOKED = 0x02
CN_MISMATCH = 0x04
NOT_TRUSTED = 0x08
MISSING = 0x40
SKIP_VERIFY = 0x80
OTHER = 0x0100
FUTURE = 0x0200
KEY_USAGE = 0x0800
EXT_KEY_USAGE = 0x1000
NS_CERT_TYPE = 0x2000
BAD_MD = 0x4000
BAD_PK = 0x8000
BAD_KEY = 0x010000

_FLAG_NAMES = (
    (EXPIRED, "EXPIRED"),
    (REVOKED, "REVOKED"),
    (CN_MISMATCH, "CN_MISMATCH"),
    (NOT_TRUSTED, "NOT_TRUSTED"),
    (MISSING, "MISSING"),
    (SKIP_VERIFY, "SKIP_VERIFY"),
    (OTHER, "OTHER"),
    (FUTURE, "FUTURE"),
    (KEY_USAGE, "KEY_USAGE"),
    (EXT_KEY_USAGE, "EXT_KEY_USAGE"),
    (NS_CERT_TYPE, "NS_CERT_TYPE"),
    (BAD_MD, "BAD_MD"),
    (BAD_PK, "BAD_PK"),
    (BAD_KEY, "BAD_KEY"),
)

ERR_X509_CERT_VERIFY_FAILED = -0x2700
ERR_X509_FATAL_ERROR = -0x3000
_ERROR_NAMES = {
    ERR_X509_CERT_VERIFY_FAILED: "MBEDTLS_ERR_X509_CERT_VERIFY_FAILED",
    ERR_X509_FATAL_ERROR: "MBEDTLS_ERR_X509_FATAL_ERROR",
}

# MBEDTLS_X509_MAX_INTERMEDIATE_CA (mbedtls/config.h default, unchanged by ESP-IDF).
MAX_INTERMEDIATE_CA = 8
# mbedtls_x509_crt_profile_default: SHA-2 only, any key type and curve, RSA >= 2048 bits.
_PROFILE_MDS = frozenset({"sha224", "sha256", "sha384", "sha512"})
_PROFILE_RSA_MIN_BITS = 2048
# A device whose clock was never set believes it is the epoch.
UNSET_CLOCK = datetime(1970, 1, 1, tzinfo=timezone.utc)
# mbedTLS compares times to the second: valid while not_before <= now <= not_after.
_SECOND = timedelta(seconds=1)


def flag_names(flags: int) -> tuple[str, ...]:
    """``0x208`` -> ``("NOT_TRUSTED", "FUTURE")``."""
    return tuple(name for bit, name in _FLAG_NAMES if flags & bit)


def error_text(error: int | None) -> str:
    """``-0x2700 (MBEDTLS_ERR_X509_CERT_VERIFY_FAILED, 0xffffd900)``: as devices log it."""
    if error is None:
        return "none"
    name = _ERROR_NAMES.get(error, "mbedTLS error")
    return f"-0x{-error:04x} ({name}, 0x{error & 0xFFFFFFFF:08x})"


# ---------------------------------------------------------------------------------------
# Device profiles

Rules = Literal["mbedtls", "idf-bundle", "idf-bundle-cross-signed"]
Clock = Literal["none", "synced", "unset"]
RULES: tuple[str, ...] = get_args(Rules)
CLOCKS: tuple[str, ...] = get_args(Clock)


@dataclass(frozen=True, slots=True)
class DeviceProfile:
    """How a unit verifies a server: the verifier rules and its clock.

    ``name`` is the registry name (``mbedtls-noclock``) or ``RULES:CLOCK`` as typed.
    """

    rules: Rules
    clock: Clock
    name: str = ""
    description: str = ""

    def __post_init__(self) -> None:
        if self.rules not in RULES:
            raise InputError(f"unknown verifier rules '{self.rules}'", hint=_PROFILE_HINT)
        if self.clock not in CLOCKS:
            raise InputError(f"unknown clock mode '{self.clock}'", hint=_PROFILE_HINT)
        if not self.name:
            object.__setattr__(self, "name", f"{self.rules}:{self.clock}")

    @property
    def checks_dates(self) -> bool:
        return self.clock != "none"

    def device_time(self, at: datetime) -> datetime | None:
        """The time the unit's TLS library compares certificates against."""
        if self.clock == "none":
            return None
        if self.clock == "unset":
            return UNSET_CLOCK
        return at


def _profile(name: str, rules: Rules, clock: Clock, description: str) -> DeviceProfile:
    return DeviceProfile(rules, clock, name, description)


DEVICE_PROFILES: dict[str, DeviceProfile] = {
    p.name: p
    for p in (
        _profile(
            "mbedtls-noclock",
            "mbedtls",
            "none",
            "mbedTLS CA list, dates never checked (MBEDTLS_HAVE_TIME_DATE off): "
            "Arduino-ESP32 1.x/2.x, mDash 1.2.11-1.2.14, Mongoose OS, ESP-IDF default",
        ),
        _profile(
            "mbedtls-clock",
            "mbedtls",
            "synced",
            "mbedTLS CA list, dates checked against an SNTP-synced clock "
            "(HAVE_TIME_DATE on; mDash 1.2.15+ waits for SNTP)",
        ),
        _profile(
            "mbedtls-clock-unset",
            "mbedtls",
            "unset",
            "mbedTLS CA list, dates checked but TLS starts before SNTP: the clock reads 1970",
        ),
        _profile(
            "idf-bundle",
            "idf-bundle",
            "none",
            "ESP-IDF 4.4-5.x certificate bundle (esp_crt_bundle_attach), default config "
            "without date checks; Arduino-ESP32 setCACertBundle",
        ),
        _profile(
            "idf-bundle-clock",
            "idf-bundle",
            "synced",
            "ESP-IDF certificate bundle with CONFIG_MBEDTLS_HAVE_TIME_DATE and a synced clock",
        ),
        _profile(
            "idf-bundle-cross-signed",
            "idf-bundle-cross-signed",
            "none",
            "ESP-IDF 6.0 certificate bundle with CONFIG_MBEDTLS_CERTIFICATE_BUNDLE_"
            "CROSS_SIGNED_VERIFY, no date checks",
        ),
        _profile(
            "idf-bundle-cross-signed-clock",
            "idf-bundle-cross-signed",
            "synced",
            "ESP-IDF 6.0 CROSS_SIGNED_VERIFY bundle with date checks and a synced clock",
        ),
    )
}

# The stricter reading of the common case: an mbedTLS CA list on a unit that knows the
# date. Fleets without a clock say so with --device mbedtls-noclock or a board profile.
DEFAULT_DEVICE = "mbedtls-clock"

_PROFILE_HINT = (
    f"use a profile name ({', '.join(DEVICE_PROFILES)}) or RULES:CLOCK with rules "
    f"{'|'.join(RULES)} and clock {'|'.join(CLOCKS)}"
)


def parse_device_profile(text: str) -> DeviceProfile:
    """A registry name (``mbedtls-noclock``) or ``RULES:CLOCK`` (``idf-bundle:synced``)."""
    t = text.strip()
    if t in DEVICE_PROFILES:
        return DEVICE_PROFILES[t]
    rules, sep, clock = t.partition(":")
    if sep and rules in RULES and clock in CLOCKS:
        return DeviceProfile(rules, clock, t)  # type: ignore[arg-type]
    import difflib

    close = difflib.get_close_matches(t, list(DEVICE_PROFILES), n=1)
    hint = f"did you mean '{close[0]}'? " if close else ""
    raise InputError(f"unknown device profile '{text}'", hint=hint + _PROFILE_HINT)


# ---------------------------------------------------------------------------------------
# Trust sets


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
        return cls(bytes(subject_der), bytes(spki_der), _name_label(bytes(subject_der)))

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

    @classmethod
    def from_certificates(cls, certs: Iterable[Certificate], *, source: str = "") -> TrustSet:
        return cls(tuple(TrustAnchor.from_certificate(c) for c in certs), source)

    @classmethod
    def from_bundle(cls, bundle: Bundle, *, source: str = "") -> TrustSet:
        return cls.from_certificates(bundle.certificates, source=source)

    @classmethod
    def from_key_entries(cls, entries: Iterable[KeyEntry], *, source: str = "") -> TrustSet:
        """From an ESP-IDF bundle's entries (anything with ``subject_der`` and
        ``spki_der``): anchors without dates."""
        return cls(tuple(TrustAnchor.from_key(e.subject_der, e.spki_der) for e in entries), source)

    def __len__(self) -> int:
        return len(self.anchors)

    @property
    def has_dates(self) -> bool:
        return all(a.certificate is not None for a in self.anchors)


# ---------------------------------------------------------------------------------------
# Names the way mbedTLS compares them


def _read_tlv(data: bytes, pos: int) -> tuple[int, int, int]:
    """(tag, start of content, end of content) of the DER element at ``pos``."""
    if pos + 2 > len(data):
        raise ValueError("truncated")
    tag = data[pos]
    first = data[pos + 1]
    if first < 0x80:
        start, length = pos + 2, first
    else:
        n = first & 0x7F
        if n == 0 or n > 4 or pos + 2 + n > len(data):
            raise ValueError("bad length")
        start, length = pos + 2 + n, int.from_bytes(data[pos + 2 : pos + 2 + n], "big")
    if start + length > len(data):
        raise ValueError("truncated")
    return tag, start, start + length


_NameAttr = tuple[bytes, int, bytes, bool]  # (oid, value tag, value, next is in same RDN)


@functools.lru_cache(maxsize=8192)
def _name_attrs(name_der: bytes) -> tuple[_NameAttr, ...]:
    """The AttributeTypeAndValues of a DER Name, as ``x509_get_name`` lists them."""
    out: list[_NameAttr] = []
    try:
        tag, pos, end = _read_tlv(name_der, 0)
        if tag != 0x30:
            raise ValueError("not a SEQUENCE")
        while pos < end:
            stag, spos, send = _read_tlv(name_der, pos)
            if stag != 0x31:
                raise ValueError("not a SET")
            attrs: list[tuple[bytes, int, bytes]] = []
            while spos < send:
                _atag, apos, aend = _read_tlv(name_der, spos)
                otag, opos, oend = _read_tlv(name_der, apos)
                if otag != 0x06:
                    raise ValueError("not an OID")
                vtag, vpos, vend = _read_tlv(name_der, oend)
                attrs.append((name_der[opos:oend], vtag, name_der[vpos:vend]))
                spos = aend
            for i, (oid, vtag, value) in enumerate(attrs):
                out.append((oid, vtag, value, i < len(attrs) - 1))
            pos = send
    except ValueError:
        # Unparseable names only ever equal themselves.
        return ((b"", -1, name_der, False),)
    return tuple(out)


_UTF8_STRING = 0x0C
_PRINTABLE_STRING = 0x13


@functools.lru_cache(maxsize=8192)
def name_key(name_der: bytes) -> tuple[tuple[bytes, object, bytes, bool], ...]:
    """A key equal for two names exactly when mbedTLS's ``x509_name_cmp`` calls them equal:
    same attribute types and RDN structure; values byte-equal with the same tag, or both
    UTF8String/PrintableString and equal up to ASCII letter case."""
    out: list[tuple[bytes, object, bytes, bool]] = []
    for oid, tag, value, merged in _name_attrs(name_der):
        if tag in (_UTF8_STRING, _PRINTABLE_STRING):
            out.append((oid, "str", value.lower(), merged))
        else:
            out.append((oid, tag, value, merged))
    return tuple(out)


_CN, _OU, _O = bytes.fromhex("550403"), bytes.fromhex("55040b"), bytes.fromhex("55040a")


def _name_label(name_der: bytes) -> str:
    """CN (or OU, or O) of a DER name: the label people use."""
    attrs = _name_attrs(name_der)
    for want in (_CN, _OU, _O):
        for oid, tag, value, _ in attrs:
            if oid == want:
                codec = {0x1E: "utf-16-be", 0x1C: "utf-32-be"}.get(tag, "utf-8")
                return value.decode(codec, "replace")
    return "(unnamed)"


# ---------------------------------------------------------------------------------------
# Certificates as the verifier sees them


@dataclass(frozen=True, slots=True)
class _Node:
    """A certificate (or a bundle entry) with the fields mbedTLS's chain search reads."""

    label: str
    subject_der: bytes
    issuer_der: bytes
    subject_key: tuple[object, ...]
    issuer_key: tuple[object, ...]
    spki_der: bytes
    not_before: datetime | None
    not_after: datetime | None
    version: int
    is_ca: bool
    max_pathlen: int  # mbedTLS stores pathLenConstraint + 1; 0 means unlimited
    can_sign_certs: bool  # keyCertSign present (or no keyUsage) and no encipher/decipherOnly
    sig_md: str | None
    sig_pk: str | None  # "rsa", "rsassa-pss", "ecdsa" or None (not supported by mbedTLS)
    rsa_bits: int | None
    cert: Certificate | None
    anchor: TrustAnchor | None = None


@functools.lru_cache(maxsize=4096)
def _node_for_certificate(cert: Certificate) -> _Node:
    from cryptography import x509

    x = cert.x509
    can_sign = True
    try:
        ku = x.extensions.get_extension_for_class(x509.KeyUsage).value
        can_sign = ku.key_cert_sign
        if ku.key_agreement and (ku.encipher_only or ku.decipher_only):
            can_sign = False  # mbedtls_x509_crt_check_key_usage refuses these "may" bits
    except x509.ExtensionNotFound:
        pass
    except ValueError:
        can_sign = False
    sig_md, sig_pk = _signature_kind(cert)
    return _Node(
        label=describe_certificate(cert),
        subject_der=cert.subject_der,
        issuer_der=cert.issuer_der,
        subject_key=name_key(cert.subject_der),
        issuer_key=name_key(cert.issuer_der),
        spki_der=cert.spki_der,
        not_before=cert.not_before,
        not_after=cert.not_after,
        version=cert.version,
        is_ca=cert.is_ca,
        max_pathlen=(cert.path_length + 1) if cert.path_length is not None else 0,
        can_sign_certs=can_sign,
        sig_md=sig_md,
        sig_pk=sig_pk,
        rsa_bits=cert.key_size if cert.key_type == "RSA" and cert.key_problem is None else None,
        cert=cert,
    )


def _node_for_anchor(anchor: TrustAnchor) -> _Node:
    if anchor.certificate is not None:
        return _replace_anchor(_node_for_certificate(anchor.certificate), anchor)
    return _keyonly_node(anchor)


def _replace_anchor(node: _Node, anchor: TrustAnchor) -> _Node:
    from dataclasses import replace

    return replace(node, anchor=anchor)


@functools.lru_cache(maxsize=4096)
def _keyonly_node(anchor: TrustAnchor) -> _Node:
    """A bundle entry as mbedTLS would see a CA that has only a name and a key: CA bit
    set, version 3, no key usage, no path length and no dates (ESP-IDF 6.0 builds exactly
    such a certificate for CROSS_SIGNED_VERIFY)."""
    key = _load_spki(anchor.spki_der)
    from cryptography.hazmat.primitives.asymmetric import rsa

    return _Node(
        label=anchor.label,
        subject_der=anchor.subject_der,
        issuer_der=anchor.subject_der,
        subject_key=name_key(anchor.subject_der),
        issuer_key=name_key(anchor.subject_der),
        spki_der=anchor.spki_der,
        not_before=None,
        not_after=None,
        version=3,
        is_ca=True,
        max_pathlen=0,
        can_sign_certs=True,
        sig_md=None,
        sig_pk=None,
        rsa_bits=key.key_size if isinstance(key, rsa.RSAPublicKey) else None,
        cert=None,
        anchor=anchor,
    )


def _signature_kind(cert: Certificate) -> tuple[str | None, str | None]:
    """(hash name, mbedTLS pk type) of a certificate's signature."""
    from cryptography.hazmat.primitives.asymmetric import padding

    x = cert.x509
    try:
        h = x.signature_hash_algorithm
    except Exception:  # unsupported algorithm (e.g. GOST): mbedTLS cannot parse it either
        return None, None
    md = h.name if h is not None else None
    name = cert.signature_algorithm.lower()
    if isinstance(x.signature_algorithm_parameters, padding.PSS) or "pss" in name:
        return md, "rsassa-pss"
    if "ecdsa" in name:
        return md, "ecdsa"
    if "rsa" in name:
        return md, "rsa"
    return md, None


@functools.lru_cache(maxsize=1024)
def _load_spki(spki_der: bytes) -> object:
    from cryptography.exceptions import UnsupportedAlgorithm
    from cryptography.hazmat.primitives.serialization import load_der_public_key

    try:
        return load_der_public_key(spki_der)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        return None


@functools.lru_cache(maxsize=16384)
def _signature_ok(child: Certificate, spki_der: bytes) -> bool:
    """mbedTLS's ``x509_crt_check_signature``: the key type must be able to make the
    child's kind of signature (``mbedtls_pk_can_do``), then the signature must verify."""
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

    md, pk = _signature_kind(child)
    key = _load_spki(spki_der)
    x = child.x509
    hash_alg = x.signature_hash_algorithm if md else None
    if hash_alg is None or pk is None or key is None:
        return False
    try:
        if isinstance(key, rsa.RSAPublicKey):
            if pk == "rsa":
                key.verify(x.signature, x.tbs_certificate_bytes, padding.PKCS1v15(), hash_alg)
            elif pk == "rsassa-pss":
                params = x.signature_algorithm_parameters
                if not isinstance(params, padding.PSS):
                    return False
                key.verify(x.signature, x.tbs_certificate_bytes, params, hash_alg)
            else:
                return False
        elif isinstance(key, ec.EllipticCurvePublicKey):
            if pk != "ecdsa":
                return False
            key.verify(x.signature, x.tbs_certificate_bytes, ec.ECDSA(hash_alg))
        else:
            return False
    except (InvalidSignature, ValueError, TypeError):
        return False
    return True


def _sig_good(child: _Node, parent: _Node) -> bool:
    if child.cert is None:
        return False
    return _signature_ok(child.cert, parent.spki_der)


def describe_certificate(cert: Certificate) -> str:
    """``R11``, ``ISRG Root X1``, or ``Root YR cross-signed by ISRG Root X1`` for a CA
    certificate that is not self-signed but carries the name of a known root (the root
    catalog), so timelines say which copy of a root expires."""
    if cert.is_ca and not cert.self_signed and cert.subject_der in _known_root_subjects():
        return f"{cert.label} cross-signed by {cert.issuer_label}"
    return cert.label


@functools.lru_cache(maxsize=1)
def _known_root_subjects() -> frozenset[bytes]:
    """DER subjects of every root the catalog knows (Mozilla store and shipped extras)."""
    try:
        from .catalog import Catalog

        entries = list(Catalog.load())
    except Exception:  # a broken certifi install must not break verification
        return frozenset()
    out = set()
    for e in entries:
        subject = _subject_of(e.der)
        if subject is not None:
            out.add(subject)
    return frozenset(out)


def _subject_of(der: bytes) -> bytes | None:
    """The DER subject of a certificate, read from its TBS without a full parse."""
    try:
        _tag, pos, _end = _read_tlv(der, 0)
        _tag, pos, tbs_end = _read_tlv(der, pos)  # tbsCertificate
        fields: list[tuple[int, int, int]] = []
        while pos < tbs_end and len(fields) < 7:
            tag, _content, end = _read_tlv(der, pos)
            fields.append((tag, pos, end))  # whole element: a DER Name keeps its header
            pos = end
        if fields and fields[0][0] == 0xA0:  # [0] version
            fields = fields[1:]
        # serial, signature, issuer, validity, subject
        _tag, start, end = fields[4]
        return der[start:end]
    except (ValueError, IndexError):
        return None


# ---------------------------------------------------------------------------------------
# Verdicts

Source = Literal["chain", "trust"]


@dataclass(frozen=True, slots=True)
class PathStep:
    """One certificate on the path the device built, and what it found wrong with it.

    ``source`` is ``chain`` (sent by the server, ``position`` in the sent list) or
    ``trust`` (from the bundle; ``certificate`` is None for a key-only bundle entry).
    """

    label: str
    source: Source
    flags: int
    position: int | None = None
    certificate: Certificate | None = None

    @property
    def flag_names(self) -> tuple[str, ...]:
        return flag_names(self.flags)

    @property
    def sha256(self) -> str | None:
        return self.certificate.sha256 if self.certificate else None


@dataclass(frozen=True, slots=True)
class Verdict:
    """The device's answer for one chain: accepted or not, the path, the flags, the error
    it would log, and a paragraph saying why in terms of certificates."""

    ok: bool
    profile: DeviceProfile
    at: datetime
    device_time: datetime | None
    path: tuple[PathStep, ...]
    flags: int
    error: int | None
    fatal: bool
    explanation: str

    @property
    def flag_names(self) -> tuple[str, ...]:
        return flag_names(self.flags)

    @property
    def error_text(self) -> str:
        return error_text(self.error)

    @property
    def trusted_root(self) -> PathStep | None:
        return next((s for s in self.path if s.source == "trust"), None)

    def signature(self) -> tuple[object, ...]:
        """What must stay equal for two verdicts to count as the same outcome."""
        return (
            self.ok,
            self.flags,
            self.error,
            tuple((s.label, s.source, s.position, s.flags) for s in self.path),
        )

    def to_dict(self) -> dict[str, object]:
        return {
            "ok": self.ok,
            "device": self.profile.name,
            "rules": self.profile.rules,
            "clock": self.profile.clock,
            "at": self.at.isoformat(),
            "device_time": self.device_time.isoformat() if self.device_time else None,
            "flags": f"0x{self.flags:x}",
            "flag_names": list(self.flag_names),
            "error": f"-0x{-self.error:04x}" if self.error is not None else None,
            "fatal": self.fatal,
            "path": [
                {
                    "label": s.label,
                    "source": s.source,
                    "position": s.position,
                    "sha256": s.sha256,
                    "flags": list(s.flag_names),
                    "not_after": s.certificate.not_after.isoformat() if s.certificate else None,
                }
                for s in self.path
            ],
            "explanation": self.explanation,
        }


@dataclass(slots=True)
class _Item:
    node: _Node
    trusted: bool
    position: int | None
    flags: int = 0


@dataclass(slots=True)
class _Outcome:
    items: list[_Item]
    fatal: bool = False
    fatal_reason: str = ""
    callback_failed: int | None = None  # index in items where the bundle callback failed
    callback_anchor: _Node | None = None  # the bundle entry that validated the top
    cross_signed: bool = False  # ESP-IDF 6.0 CROSS_SIGNED_VERIFY (bundle as CA callback)


class _TrustIndex:
    """The trust set prepared once for many verifications (forecasts, many chains)."""

    def __init__(self, trust: TrustSet) -> None:
        self.trust = trust
        self.nodes = [_node_for_anchor(a) for a in trust.anchors]
        self.by_name: dict[tuple[object, ...], list[_Node]] = {}
        for n in self.nodes:
            self.by_name.setdefault(n.subject_key, []).append(n)
        self.raw_ders = {a.certificate.der for a in trust.anchors if a.certificate is not None}
        # ESP-IDF's gen_crt_bundle.py sorts entries by DER subject; the device binary-searches.
        self.sorted_bundle = sorted(self.nodes, key=lambda n: n.subject_der)
        self.sorted_subjects = [n.subject_der for n in self.sorted_bundle]

    def bundle_lookup(self, issuer_der: bytes) -> _Node | None:
        """``esp_crt_find_cert``: binary search comparing ``memcmp`` over the shorter
        length, returning whichever entry the search hits first."""
        if not issuer_der:
            return None
        start, end = 0, len(self.sorted_bundle) - 1
        while start <= end:
            middle = (start + end) // 2
            name = self.sorted_subjects[middle]
            n = min(len(issuer_der), len(name))
            a, b = issuer_der[:n], name[:n]
            if a == b:
                return self.sorted_bundle[middle]
            if a < b:
                end = middle - 1
            else:
                start = middle + 1
        return None


def _time_bad(node: _Node, now: datetime | None, undated: frozenset[bytes]) -> int:
    if now is None or node.not_after is None or node.not_before is None:
        return 0
    if node.cert is not None and node.cert.der in undated:
        return 0
    flags = 0
    if now > node.not_after:
        flags |= EXPIRED
    if node.not_before > now:
        flags |= FUTURE
    return flags


def _check_parent(child: _Node, parent: _Node, top: bool) -> bool:
    """``x509_crt_check_parent``: issuer name, CA bit (v1/v2 trusted roots exempt) and
    keyCertSign."""
    if child.issuer_key != parent.subject_key:
        return False
    need_ca = not (top and parent.version < 3)
    return not need_ca or (parent.is_ca and parent.can_sign_certs)


def _find_parent_in(
    child: _Node,
    candidates: Sequence[_Node],
    *,
    top: bool,
    path_cnt: int,
    self_cnt: int,
    now: datetime | None,
    undated: frozenset[bytes],
) -> tuple[_Node | None, bool]:
    """``x509_crt_find_parent_in``: first suitable time-valid candidate, else the first
    suitable one (expired or future) as fallback."""
    fallback: tuple[_Node | None, bool] = (None, False)
    for parent in candidates:
        if not _check_parent(child, parent, top):
            continue
        if parent.max_pathlen > 0 and parent.max_pathlen < 1 + path_cnt - self_cnt:
            continue
        good = _sig_good(child, parent)
        if top and not good:
            continue
        if _time_bad(parent, now, undated):
            if fallback[0] is None:
                fallback = (parent, good)
            continue
        return parent, good
    return fallback


def _build_path(
    chain: Sequence[_Node],
    index: _TrustIndex,
    trusted_for: str,
    now: datetime | None,
    undated: frozenset[bytes],
) -> _Outcome:
    """``x509_crt_verify_chain``. ``trusted_for`` selects where trusted parents come from:
    ``list`` (the CA list), ``none`` (ESP-IDF's empty dummy CA) or ``bundle-cb`` (ESP-IDF
    6.0's CA callback: the bundle entry named by the child's issuer, as a key-only CA)."""
    items: list[_Item] = []
    outcome = _Outcome(items, cross_signed=trusted_for == "bundle-cb")
    child, child_pos, child_trusted = chain[0], 0, False
    self_cnt = 0
    while True:
        item = _Item(child, child_trusted, None if child_trusted else child_pos)
        items.append(item)
        item.flags |= _time_bad(child, now, undated)
        if child_trusted:
            return outcome
        if child.sig_md not in _PROFILE_MDS:
            item.flags |= BAD_MD
        if child.sig_pk is None:
            item.flags |= BAD_PK
        if (
            len(items) == 1
            and trusted_for == "list"
            and child.issuer_key == child.subject_key
            and child.cert is not None
            and child.cert.der in index.raw_ders
        ):
            return outcome  # a locally trusted end-entity certificate
        if trusted_for == "list":
            trusted: Sequence[_Node] = index.by_name.get(child.issuer_key, ())
        elif trusted_for == "bundle-cb":
            hit = index.bundle_lookup(child.issuer_der)
            trusted = [_synthetic_root(hit, child)] if hit is not None else []
        else:
            trusted = ()
        path_cnt = len(items) - 1
        parent, good = _find_parent_in(
            child, trusted, top=True, path_cnt=path_cnt, self_cnt=self_cnt, now=now, undated=undated
        )
        parent_trusted = parent is not None
        parent_pos = None
        if parent is None:
            rest = chain[child_pos + 1 :]
            parent, good = _find_parent_in(
                child,
                rest,
                top=False,
                path_cnt=path_cnt,
                self_cnt=self_cnt,
                now=now,
                undated=undated,
            )
            if parent is not None:
                parent_pos = child_pos + 1 + next(i for i, n in enumerate(rest) if n is parent)
        if parent is None:
            item.flags |= NOT_TRUSTED
            return outcome
        if len(items) != 1 and child.issuer_key == child.subject_key:
            self_cnt += 1
        if not parent_trusted and len(items) > MAX_INTERMEDIATE_CA:
            outcome.fatal = True
            outcome.fatal_reason = "intermediates"
            return outcome
        if not good:
            item.flags |= NOT_TRUSTED
        if parent.rsa_bits is not None and parent.rsa_bits < _PROFILE_RSA_MIN_BITS:
            item.flags |= BAD_KEY
        child, child_trusted = parent, parent_trusted
        if parent_pos is not None:
            child_pos = parent_pos


def _synthetic_root(entry: _Node, child: _Node) -> _Node:
    """ESP-IDF 6.0's ``esp_crt_ca_cb_callback``: a CA whose subject is the child's issuer
    (copied, so the names always match) and whose key is the bundle entry's. It has no
    usable dates: mbedTLS flags them and the verify callback clears those flags again."""
    from dataclasses import replace

    return replace(
        entry,
        subject_der=child.issuer_der,
        subject_key=child.issuer_key,
        issuer_der=child.issuer_der,
        issuer_key=child.issuer_key,
        not_before=None,
        not_after=None,
        version=3,
        is_ca=True,
        max_pathlen=0,
        can_sign_certs=True,
    )


def _bundle_callback(outcome: _Outcome, index: _TrustIndex) -> None:
    """``esp_crt_verify_callback`` over the path, top first, as
    ``x509_crt_merge_flags_with_cb`` calls it; the first failure is fatal (-0x3000)."""
    for i in range(len(outcome.items) - 1, -1, -1):
        item = outcome.items[i]
        if item.node.cert is None:
            continue  # ESP-IDF 6.0's synthetic root: its time flags are cleared
        if item.flags & ~BAD_MD != NOT_TRUSTED:
            continue
        entry = index.bundle_lookup(item.node.issuer_der)
        if entry is not None and _sig_good(item.node, entry):
            item.flags = 0
            outcome.callback_anchor = entry
            continue
        outcome.callback_failed = i
        outcome.callback_anchor = entry
        return


def _ee_flags(leaf: _Node) -> int:
    flags = 0
    if leaf.rsa_bits is not None and leaf.rsa_bits < _PROFILE_RSA_MIN_BITS:
        flags |= BAD_KEY
    return flags


def _chain_nodes(chain: Sequence[Certificate]) -> list[_Node]:
    if not chain:
        raise InputError("the server chain is empty", hint="a chain starts with the leaf")
    return [_node_for_certificate(c) for c in chain]


def verify_chain(
    trust: TrustSet,
    chain: Sequence[Certificate],
    profile: DeviceProfile,
    *,
    at: datetime,
) -> Verdict:
    """What a unit with ``trust`` and ``profile`` decides at ``at`` for ``chain`` (the
    certificates in the order the server sends them, leaf first)."""
    return _Verifier(trust).verify(chain, profile, at=at)


class _Verifier:
    def __init__(self, trust: TrustSet) -> None:
        self.index = _TrustIndex(trust)

    def verify(
        self,
        chain: Sequence[Certificate],
        profile: DeviceProfile,
        *,
        at: datetime,
        undated: frozenset[bytes] = frozenset(),
    ) -> Verdict:
        nodes = _chain_nodes(chain)
        now = profile.device_time(at)
        trusted_for = {
            "mbedtls": "list",
            "idf-bundle": "none",
            "idf-bundle-cross-signed": "bundle-cb",
        }[profile.rules]
        outcome = _build_path(nodes, self.index, trusted_for, now, undated)
        if not outcome.fatal:
            outcome.items[0].flags |= _ee_flags(nodes[0])
            if profile.rules != "mbedtls":
                _bundle_callback(outcome, self.index)
        flags = 0
        for item in outcome.items:
            flags |= item.flags
        fatal = outcome.fatal or outcome.callback_failed is not None
        if fatal:
            error: int | None = ERR_X509_FATAL_ERROR
        elif flags:
            error = ERR_X509_CERT_VERIFY_FAILED
        else:
            error = None
        path = [
            PathStep(
                it.node.label,
                "trust" if it.trusted else "chain",
                it.flags,
                it.position,
                it.node.cert,
            )
            for it in outcome.items
        ]
        anchor = outcome.callback_anchor
        if (
            profile.rules != "mbedtls"
            and anchor is not None
            and outcome.callback_failed is None
            and not fatal
        ):
            path.append(PathStep(anchor.label, "trust", 0, None, anchor.cert))
        verdict = Verdict(
            ok=error is None,
            profile=profile,
            at=at,
            device_time=now,
            path=tuple(path),
            flags=flags,
            error=error,
            fatal=fatal,
            explanation="",
        )
        text = _explain(verdict, outcome, nodes, self.index, profile)
        from dataclasses import replace

        return replace(verdict, explanation=text)


# ---------------------------------------------------------------------------------------
# Explanations


def _q(label: str) -> str:
    return f"'{label}'"


def _day(dt: datetime | None) -> str:
    return dt.date().isoformat() if dt else "?"


def _where(item: _Item) -> str:
    return "in the bundle" if item.trusted else "sent by the server"


def _explain(
    v: Verdict,
    outcome: _Outcome,
    chain: Sequence[_Node],
    index: _TrustIndex,
    profile: DeviceProfile,
) -> str:
    items = outcome.items
    parts: list[str] = []
    if v.ok:
        parts.append("Accepted: " + _path_text(v))
        if profile.rules != "mbedtls" and outcome.callback_anchor is not None:
            parts.append(
                f"ESP-IDF's bundle check found {_q(outcome.callback_anchor.label)} in the "
                "bundle by exact DER name, and its stored key verifies the signature."
            )
        if profile.clock == "none":
            stale = [
                it.node
                for it in items
                if it.node.not_after is not None and v.at > it.node.not_after
            ]
            if stale:
                names = ", ".join(f"{n.label} ({_day(n.not_after)})" for n in stale)
                parts.append(
                    f"This device never checks dates, so expired certificates still count: {names}."
                )
        return " ".join(parts)

    if outcome.fatal:
        parts.append(
            f"The chain needs more than {MAX_INTERMEDIATE_CA} intermediate CAs before "
            "reaching a trusted root; mbedTLS stops with a fatal error "
            f"(MBEDTLS_X509_MAX_INTERMEDIATE_CA = {MAX_INTERMEDIATE_CA})."
        )
    elif outcome.callback_failed is not None:
        parts.append(_explain_callback(outcome, index))
    for i, it in enumerate(items):
        if i == outcome.callback_failed:
            continue
        parts.extend(_explain_item(it, i, items, chain, index, profile, v))
    parts.append(f"The device logs {v.error_text}.")
    return " ".join(p for p in parts if p)


def _path_text(v: Verdict) -> str:
    steps = []
    for s in v.path:
        where = "bundle" if s.source == "trust" else "sent"
        steps.append(f"{_q(s.label)} ({where})")
    return " ← ".join(steps) + "."


def _explain_callback(outcome: _Outcome, index: _TrustIndex) -> str:
    assert outcome.callback_failed is not None
    node = outcome.items[outcome.callback_failed].node
    issuer = _name_label(node.issuer_der)
    entry = outcome.callback_anchor
    if entry is not None:
        return (
            f"ESP-IDF's bundle check looked up the issuer of {_q(node.label)}, "
            f"{_q(issuer)}, and found it, but the stored key does not verify the "
            "signature (a different key under the same name, or a forged name)."
        )
    if outcome.cross_signed:
        text = (
            f"{_q(node.label)} is issued by {_q(issuer)}, which the bundle does not hold "
            "(ESP-IDF looks each issuer up by its exact DER name)"
        )
    else:
        text = (
            "ESP-IDF's bundle check looks up only the issuer of the topmost sent "
            f"certificate, {_q(node.label)}, by its exact DER name: {_q(issuer)} is not in "
            "the bundle"
        )
    if index.bundle_lookup(node.subject_der) is not None and not outcome.cross_signed:
        text += (
            f", although {_q(node.cert.label if node.cert else node.label)} itself is. "
            "The check does not try other paths, so a cross-signed certificate needs its "
            "issuer in the bundle (why ESP-IDF shipped the expired DST Root CA X3 until "
            "December 2024)."
        )
    else:
        summary = _bundle_summary(index, [node])
        text += ". " + summary[0].upper() + summary[1:] + "."
    return text


def _explain_item(
    it: _Item,
    i: int,
    items: Sequence[_Item],
    chain: Sequence[_Node],
    index: _TrustIndex,
    profile: DeviceProfile,
    v: Verdict,
) -> list[str]:
    out: list[str] = []
    n = it.node
    if it.flags & NOT_TRUSTED:
        if i == len(items) - 1:
            out.append(_explain_no_parent(it, chain, index, profile))
        else:
            parent = items[i + 1].node
            out.append(
                f"{_q(n.label)} names {_q(parent.label)} as its issuer, but the signature "
                f"does not verify with the key of the {_q(parent.label)} "
                f"{_where(items[i + 1])} (forged or corrupted)."
            )
    if it.flags & EXPIRED:
        out.append(
            f"{_q(n.label)} ({_where(it)}) expired on {_day(n.not_after)} and this device "
            f"checks dates (clock at {_day(v.device_time)})."
        )
    if it.flags & FUTURE:
        if profile.clock == "unset":
            out.append(
                f"{_q(n.label)} is not valid before {_day(n.not_before)}: the device clock "
                "still reads 1970-01-01, so every certificate is 'not yet valid' — connect "
                "only after SNTP has set the time."
            )
        else:
            out.append(
                f"{_q(n.label)} ({_where(it)}) is not valid before {_day(n.not_before)} "
                f"(clock at {_day(v.device_time)})."
            )
    if it.flags & BAD_MD:
        alg = n.cert.signature_algorithm if n.cert else "?"
        out.append(
            f"{_q(n.label)} is signed with {alg}, which mbedTLS's default profile refuses "
            "(SHA-2 only)."
        )
    if it.flags & BAD_KEY:
        if i == 0 and n.rsa_bits is not None and n.rsa_bits < _PROFILE_RSA_MIN_BITS:
            out.append(f"{_q(n.label)} has a {n.rsa_bits}-bit RSA key; mbedTLS needs 2048.")
        elif i + 1 < len(items):
            p = items[i + 1].node
            out.append(f"{_q(p.label)} has a {p.rsa_bits}-bit RSA key; mbedTLS needs 2048 bits.")
    if it.flags & BAD_PK:
        out.append(f"{_q(n.label)} uses a signature algorithm mbedTLS 2.x does not support.")
    if profile.rules != "mbedtls" and it.flags & NOT_TRUSTED and it.flags & ~(NOT_TRUSTED | BAD_MD):
        out.append(
            "ESP-IDF's bundle check acts only on a certificate whose sole problem is "
            f"NOT_TRUSTED; {_q(n.label)} has {', '.join(flag_names(it.flags))}."
        )
    return out


def _explain_no_parent(
    it: _Item, chain: Sequence[_Node], index: _TrustIndex, profile: DeviceProfile
) -> str:
    n = it.node
    issuer = _name_label(n.issuer_der)
    if profile.rules != "mbedtls":
        return (
            f"{_q(n.label)} is the topmost certificate the device could link; "
            f"its issuer is {_q(issuer)}."
        )
    named = index.by_name.get(n.issuer_key, [])
    if named:
        reasons = []
        for a in named:
            if not _check_parent(n, a, True):
                reasons.append(f"{_q(a.label)} in the bundle is not a CA certificate")
            elif a.max_pathlen > 0:
                reasons.append(f"{_q(a.label)} in the bundle has a path length limit")
            else:
                reasons.append(
                    f"the bundle holds a root named {_q(a.label)}, but its key does not "
                    f"verify the signature of {_q(n.label)} (a different key under the "
                    "same name, or a forged issuer name)"
                )
        return f"{_q(n.label)} is issued by {_q(issuer)}: " + "; ".join(reasons) + "."
    sent = [c for c in chain if c.subject_key == n.issuer_key and c is not n]
    text = f"{_q(n.label)} is issued by {_q(issuer)}, which is not in the bundle"
    if sent:
        text += f" (the server sends {_q(sent[0].label)}, but it cannot be used as its issuer)"
    elif n.issuer_key != n.subject_key:
        text += " and which the server does not send"
    return f"{text}; {_bundle_summary(index, chain)}."


def _bundle_summary(index: _TrustIndex, chain: Sequence[_Node]) -> str:
    """``the bundle holds only DST Root CA X3, which signs no certificate in this chain``
    (a clause: no leading capital, no final full stop)."""
    nodes = index.nodes
    if not nodes:
        return "the bundle is empty"
    signs: dict[int, list[str]] = {}
    for k, a in enumerate(nodes):
        for c in chain:
            if c.issuer_key == a.subject_key and _sig_good(c, a):
                signs.setdefault(k, []).append(c.label)
    signed = "; ".join(f"{nodes[k].label} signs {', '.join(labels)}" for k, labels in signs.items())
    if len(nodes) <= 3:
        text = f"the bundle holds only {' and '.join(a.label for a in nodes)}"
        if signs:
            return f"{text} ({signed})"
        return (
            text
            + (", which sign" if len(nodes) > 1 else ", which signs")
            + (" no certificate in this chain")
        )
    if signs:
        return f"in the bundle, {signed}"
    return f"none of the bundle's {len(nodes)} roots signs a certificate in this chain"


# ---------------------------------------------------------------------------------------
# Forecast


@dataclass(frozen=True, slots=True)
class CertEvent:
    """A certificate entering or leaving its validity window."""

    kind: Literal["expires", "becomes valid"]
    label: str
    date: datetime  # its not_after (expires) or not_before (becomes valid)
    sha256: str | None

    def __str__(self) -> str:
        return f"{self.label} {self.kind}"


@dataclass(frozen=True, slots=True)
class Change:
    """The verdict from ``when`` on (the first instant it holds) and the events that
    caused it."""

    when: datetime
    verdict: Verdict
    events: tuple[CertEvent, ...]

    @property
    def date(self) -> datetime:
        """The calendar date people associate with it: the certificate's own date."""
        return self.events[0].date if self.events else self.when

    def describe(self) -> str:
        why = "; ".join(str(e) for e in self.events) or "verdict changes"
        state = "passes" if self.verdict.ok else "fails"
        return f"{self.date.date().isoformat()}: {why} — the device {state} from then on"


@dataclass(frozen=True, slots=True)
class Forecast:
    """A verdict at ``start.at`` and every later change until ``until``.

    ``rotating`` lists certificates whose expiry is not a forecast event: the leaf and the
    issuing intermediates (CA certificates limited to path length 0), which servers
    replace before they expire.
    """

    start: Verdict
    until: datetime
    changes: tuple[Change, ...]
    note: str
    rotating: tuple[CertEvent, ...] = ()

    @property
    def ok_throughout(self) -> bool:
        return self.start.ok and all(c.verdict.ok for c in self.changes)

    @property
    def first_failure(self) -> Change | None:
        """The first change to a failing verdict (None if it never fails after start)."""
        return next((c for c in self.changes if not c.verdict.ok), None)

    def to_dict(self) -> dict[str, object]:
        return {
            "ok_throughout": self.ok_throughout,
            "at": self.start.at.isoformat(),
            "until": self.until.isoformat(),
            "verdict": self.start.to_dict(),
            "changes": [
                {
                    "date": c.date.date().isoformat(),
                    "from": c.when.isoformat(),
                    "ok": c.verdict.ok,
                    "events": [str(e) for e in c.events],
                    "verdict": c.verdict.to_dict(),
                }
                for c in self.changes
            ],
            "rotating": [
                {"label": e.label, "expires": e.date.date().isoformat()} for e in self.rotating
            ],
            "note": self.note,
        }


def _is_rotating(cert: Certificate, position: int) -> bool:
    """The leaf, and issuing intermediates (CA, path length 0), wherever they sit: a chain
    from a roadmap starts at an intermediate."""
    if position == 0 and not cert.is_ca:
        return True
    return cert.is_ca and cert.path_length == 0


def forecast(
    trust: TrustSet,
    chain: Sequence[Certificate],
    profile: DeviceProfile,
    *,
    at: datetime,
    until: datetime,
    rotate_issuing: bool = True,
) -> Forecast:
    """The verdict at ``at`` and each time it flips before ``until``, with the certificate
    events behind each flip.

    The verdict at ``at`` is exact (every date counts). With ``rotate_issuing``, later
    instants ignore the leaf's and issuing intermediates' dates: servers renew those, and
    what a bundle owner needs to know is when the trust side breaks (roots, cross-signs).
    """
    if until < at:
        raise InputError(
            f"--until {until.date().isoformat()} is before --at {at.date().isoformat()}"
        )
    verifier = _Verifier(trust)
    start = verifier.verify(chain, profile, at=at)
    rotating_certs = [c for i, c in enumerate(chain) if rotate_issuing and _is_rotating(c, i)]
    rotating = tuple(
        CertEvent("expires", describe_certificate(c), c.not_after, c.sha256) for c in rotating_certs
    )
    undated = frozenset(c.der for c in rotating_certs)

    if profile.clock != "synced":
        if profile.clock == "unset":
            note = (
                "This device compares dates against a clock stuck at 1970-01-01: the "
                "verdict does not depend on the calendar."
            )
        elif start.ok:
            note = (
                "This device does not check dates, so no date can break it: it keeps "
                "working until the server changes its chain (e.g. drops a cross-sign or "
                "moves to a new root) — check the CA's roadmap (--roadmap)."
            )
        else:
            note = "This device does not check dates: no date changes this verdict."
        return Forecast(start, until, (), note, rotating)

    # Instants where some relevant certificate enters or leaves its window.
    nodes = _chain_nodes(chain)
    relevant: list[Certificate] = [c for c in chain if c.der not in undated]
    issuer_keys = {n.issuer_key for n in nodes}
    for anchor_node in verifier.index.nodes:
        if anchor_node.subject_key in issuer_keys and anchor_node.cert is not None:
            relevant.append(anchor_node.cert)
    events: dict[datetime, list[CertEvent]] = {}
    for c in relevant:
        label = describe_certificate(c)
        if at < c.not_before <= until:
            ev = CertEvent("becomes valid", label, c.not_before, c.sha256)
            events.setdefault(c.not_before, []).append(ev)
        if at < c.not_after + _SECOND <= until:
            ev = CertEvent("expires", label, c.not_after, c.sha256)
            events.setdefault(c.not_after + _SECOND, []).append(ev)
    instants = sorted(events)
    baseline = verifier.verify(chain, profile, at=at, undated=undated)
    changes: list[Change] = []
    # Compare like with like: the exact verdict at ``at`` may differ from ``baseline``
    # only through rotating certificates, which later instants ignore.
    prev = baseline
    for when in instants:
        v = verifier.verify(chain, profile, at=when, undated=undated)
        if v.ok != prev.ok:
            on_path = {s.sha256 for s in (*v.path, *prev.path)}
            evs = [e for e in events[when] if e.sha256 in on_path] or events[when]
            changes.append(Change(when, v, tuple(evs)))
        prev = v
    if changes:
        note = ""
    elif start.ok:
        note = (
            f"No certificate on the trust side expires or appears before "
            f"{until.date().isoformat()} in a way that changes the verdict."
        )
    else:
        note = "The chain fails throughout; no date makes it pass."
    return Forecast(start, until, tuple(changes), note, rotating)
