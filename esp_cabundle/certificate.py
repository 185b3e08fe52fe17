"""The :class:`Certificate` value: one X.509 certificate and the facts the tool reasons with.

Split from :mod:`.certs` (which reads files into these values and re-exports them) so
each module stays small: this one holds the value, its cache and the signature check,
the only code that imports cryptography (deferred, and only for a certificate that is
not a known root).
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import re
import warnings
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from ._patterns import lazy_re
from .dates import as_utc
from .errors import CertificateError
from .known_roots import known_root
from .pubkeys import key_facts as _key_facts
from .pubkeys import read_tlv_header

if TYPE_CHECKING:
    from cryptography import x509


__all__ = ["Certificate", "certificate_once", "sha256_fingerprint"]


def sha256_fingerprint(der: bytes) -> str:
    """Lower-case hex SHA-256 of a certificate's DER: the identity used everywhere."""
    return hashlib.sha256(der).hexdigest()


def _rdn_short(name: x509.Name) -> str:
    return name.rfc4514_string()


def _name_label(name: x509.Name) -> str:
    from cryptography.x509.oid import NameOID

    for oid in (NameOID.COMMON_NAME, NameOID.ORGANIZATIONAL_UNIT_NAME, NameOID.ORGANIZATION_NAME):
        attrs = name.get_attributes_for_oid(oid)
        if attrs:
            value = attrs[0].value
            return value if isinstance(value, str) else value.decode("utf-8", "replace")
    return name.rfc4514_string() or "(empty name)"


@dataclass(frozen=True, slots=True)
class Certificate:
    """One X.509 certificate and the facts the tool reasons with.

    Built with :meth:`from_der`; equality and hashing follow the DER bytes, so two
    copies of the same root from different files are the same value.
    """

    der: bytes = field(repr=False)  # kilobytes: a verdict's repr would be mostly DER
    subject: str = field(compare=False)
    issuer: str = field(compare=False)
    subject_der: bytes = field(compare=False, repr=False)
    issuer_der: bytes = field(compare=False, repr=False)
    label: str = field(compare=False)
    issuer_label: str = field(compare=False)
    sha256: str = field(compare=False)
    not_before: datetime = field(compare=False)
    not_after: datetime = field(compare=False)
    key_type: str = field(compare=False)
    key_size: int = field(compare=False)
    key_curve: str | None = field(compare=False)
    is_ca: bool = field(compare=False)
    path_length: int | None = field(compare=False)
    self_signed: bool = field(compare=False)
    version: int = field(compare=False)
    serial: int = field(compare=False)
    signature_algorithm: str = field(compare=False)
    spki_der: bytes = field(compare=False, repr=False)
    # Why the public key could not be loaded (unknown algorithm, invalid point), or None.
    key_problem: str | None = field(default=None, compare=False)

    @classmethod
    def from_der(cls, der: bytes) -> Certificate:
        """One DER certificate; raises :class:`CertificateError` when it is not one.

        A root listed in :mod:`.known_roots` is built from its stored facts (the same
        values, proven by a test) without importing cryptography.
        """
        der = bytes(der)
        fingerprint = sha256_fingerprint(der)

        def make() -> Certificate:
            meta = known_root(fingerprint)
            return cls.from_metadata(der, meta) if meta is not None else cls.parse_der(der)

        return certificate_once(fingerprint, make)

    @classmethod
    def parse_der(cls, der: bytes) -> Certificate:
        """Parse with cryptography, never from stored facts."""
        return cls._from_der(bytes(der))  # serial-0 roots load silently: _load_x509

    @classmethod
    def _from_der(cls, der: bytes) -> Certificate:
        from cryptography import x509

        try:
            cert = _load_x509(der)
            with _serial_warning_ignored():  # warned about at each read
                serial = cert.serial_number
            # cryptography parses names, times and extensions lazily: a corrupt field
            # fails only when read, so every read stays inside this guard.
            result = cls._facts(der, cert, serial)
        except CertificateError:
            raise
        # TypeError: cryptography's NameAttribute on a type its OID cannot have (fuzzed)
        except (ValueError, TypeError, x509.InvalidVersion) as e:
            raise CertificateError(f"not a valid X.509 certificate ({_parse_reason(e)})") from e
        _keep_x509(result.sha256, cert)
        return result

    @classmethod
    def _facts(cls, der: bytes, cert: x509.Certificate, serial: int) -> Certificate:
        from cryptography import x509

        key_type, key_size, curve, spki_der, key_problem = _key_facts(cert)
        try:
            bc = cert.extensions.get_extension_for_class(x509.BasicConstraints).value
            is_ca, path_length = bool(bc.ca), bc.path_length
        except x509.ExtensionNotFound:
            is_ca, path_length = False, None
        except (ValueError, x509.DuplicateExtension) as e:  # mbedTLS refuses a duplicate too
            raise CertificateError(f"certificate has malformed extensions ({e})") from e
        subject_der = cert.subject.public_bytes()
        issuer_der = cert.issuer.public_bytes()
        # A key that does not load cannot check its own signature: a self-issued one is
        # then taken as a root, as its subject says (nothing trusts it on that account).
        self_signed = subject_der == issuer_der and (
            key_problem is not None or _signed_by(cert, cert)
        )
        sig_oid = cert.signature_algorithm_oid
        sig_name = getattr(sig_oid, "_name", None) or sig_oid.dotted_string
        return cls(
            der=der,
            subject=_rdn_short(cert.subject),
            issuer=_rdn_short(cert.issuer),
            subject_der=subject_der,
            issuer_der=issuer_der,
            label=_name_label(cert.subject),
            issuer_label=_name_label(cert.issuer),
            sha256=sha256_fingerprint(der),
            not_before=cert.not_valid_before_utc,
            not_after=cert.not_valid_after_utc,
            key_type=key_type,
            key_size=key_size,
            key_curve=curve,
            is_ca=is_ca,
            path_length=path_length,
            self_signed=self_signed,
            version=cert.version.value + 1,
            serial=serial,
            signature_algorithm=str(sig_name),
            spki_der=spki_der,
            key_problem=key_problem,
        )

    @property
    def size(self) -> int:
        """Encoded (DER) size in bytes: what it costs in a bundle."""
        return len(self.der)

    @property
    def key_description(self) -> str:
        """``RSA 4096``, ``EC P-384``: how people name keys."""
        if self.key_problem is not None:
            return f"{self.key_type} ({self.key_problem})"
        if self.key_curve:
            return f"{self.key_type} {self.key_curve}"
        return f"{self.key_type} {self.key_size}"

    @classmethod
    def from_metadata(cls, der: bytes, meta: Mapping[str, Any]) -> Certificate:
        """A certificate whose facts were read before (see :meth:`metadata`), without
        importing cryptography: builds from catalog roots start faster. The X.509 object
        is parsed only if a signature must be checked."""
        return cls(
            der=der,
            subject=meta["subject"],
            issuer=meta["issuer"],
            subject_der=bytes.fromhex(meta["subject_der"]),
            issuer_der=bytes.fromhex(meta["issuer_der"]),
            label=meta["label"],
            issuer_label=meta["issuer_label"],
            sha256=sha256_fingerprint(der),
            not_before=datetime.fromisoformat(meta["not_before"]),
            not_after=datetime.fromisoformat(meta["not_after"]),
            key_type=meta["key_type"],
            key_size=meta["key_size"],
            key_curve=meta["key_curve"],
            is_ca=meta["is_ca"],
            path_length=meta["path_length"],
            self_signed=meta["self_signed"],
            version=meta["version"],
            serial=int(meta["serial"]),
            signature_algorithm=meta["signature_algorithm"],
            spki_der=bytes.fromhex(meta["spki_der"]),
            key_problem=meta.get("key_problem"),
        )

    def metadata(self) -> dict[str, Any]:
        """Every derived fact as JSON-able values; :meth:`from_metadata` reads it back."""
        extra = {} if self.key_problem is None else {"key_problem": self.key_problem}
        return extra | {
            "subject": self.subject,
            "issuer": self.issuer,
            "subject_der": self.subject_der.hex(),
            "issuer_der": self.issuer_der.hex(),
            "label": self.label,
            "issuer_label": self.issuer_label,
            "not_before": self.not_before.isoformat(),
            "not_after": self.not_after.isoformat(),
            "key_type": self.key_type,
            "key_size": self.key_size,
            "key_curve": self.key_curve,
            "is_ca": self.is_ca,
            "path_length": self.path_length,
            "self_signed": self.self_signed,
            "version": self.version,
            "serial": str(self.serial),
            "signature_algorithm": self.signature_algorithm,
            "spki_der": self.spki_der.hex(),
        }

    @property
    def x509(self) -> x509.Certificate:
        """The underlying ``cryptography`` object, for signature checks (parsed once)."""
        cert = _X509.get(self.sha256)
        if cert is None:
            cert = _load_x509(self.der, label=self.label)
            _keep_x509(self.sha256, cert)
        return cert

    def pem(self) -> str:
        """Standard PEM: 64-column base64, ``\\n`` line ends."""
        b64 = base64.b64encode(self.der).decode("ascii")
        lines = [b64[i : i + 64] for i in range(0, len(b64), 64)]
        return "-----BEGIN CERTIFICATE-----\n" + "\n".join(lines) + "\n-----END CERTIFICATE-----\n"

    # ``at`` below: a date is the start of that day and a naive datetime is UTC, as
    # everywhere in the library (dates.as_utc); a str is an ArgumentTypeError.

    def is_expired(self, at: date | datetime) -> bool:
        return as_utc(at) > self.not_after

    def is_not_yet_valid(self, at: date | datetime) -> bool:
        return as_utc(at) < self.not_before

    def is_valid_at(self, at: date | datetime) -> bool:
        return self.not_before <= as_utc(at) <= self.not_after

    def days_left(self, at: date | datetime) -> int:
        """Whole days from ``at`` until not-after (negative once expired)."""
        return (self.not_after - as_utc(at)).days

    def signed_by(self, issuer: Certificate) -> bool:
        """True when ``issuer``'s key really verifies this certificate's signature."""
        return _signed_by(self.x509, issuer.x509)

    def short_fingerprint(self) -> str:
        return self.sha256[:16]


def _load_x509(der: bytes, *, label: str | None = None) -> x509.Certificate:
    """cryptography's object for ``der``, its extensions read at once, silently:
    cryptography warns (CryptographyDeprecationWarning, on stderr for CLI users) about a
    serial number that is not positive at load and again when the extensions are first
    read, and several roots devices trust have serial 0 (RFC 5280 forbids it; mbedTLS
    reads it). Should a cryptography release refuse such a certificate (as the warning
    announces), a :class:`CertificateError` names it and says why."""
    from cryptography import x509 as cx509

    with _serial_warning_ignored():
        try:
            cert = cx509.load_der_x509_certificate(der)
        except ValueError as e:
            serial = _der_serial(der)
            if serial is None or serial > 0 or not _mbedtls_reads(der):
                raise
            raise _serial_refused(der, serial, label) from e
        # a bad one (a duplicate too) stays for its readers to find and name
        with contextlib.suppress(ValueError, cx509.DuplicateExtension):
            cert.extensions  # noqa: B018 - parsed (and warned about) now, then cached
    return cert


# "Parsed a serial number which wasn't positive" (older: "Parsed a negative serial number")
_SERIAL_WARNING = r"Parsed a [^.]*serial number"


@contextlib.contextmanager
def _serial_warning_ignored() -> Iterator[None]:
    """cryptography's warning about a serial number that is not positive ignored, and
    no other warning."""
    from cryptography.utils import CryptographyDeprecationWarning

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", _SERIAL_WARNING, CryptographyDeprecationWarning)
        yield


def _mbedtls_reads(der: bytes) -> bool:
    # deferred: the mbedTLS model is needed only for a certificate cryptography refuses
    from .verify.parse import parse_refusal

    return parse_refusal(der) is None


def _serial_refused(der: bytes, serial: int, label: str | None) -> CertificateError:
    # deferred: its version is named only in this refusal
    import cryptography

    major = cryptography.__version__.split(".")[0]
    name = f"{label!r} " if label else ""
    return CertificateError(
        f"certificate {name}(SHA-256 {sha256_fingerprint(der)[:16]}) has serial number "
        f"{serial}: cryptography {cryptography.__version__} refuses a serial that is not "
        "positive (RFC 5280), though the DER is well-formed and mbedTLS on the device "
        "reads it",
        hint="several roots devices trust have serial 0; install a cryptography release "
        f"that still reads them: pip install 'cryptography<{major}'",
    )


def _der_serial(der: bytes) -> int | None:
    """The serial number in a DER certificate (Certificate, TBSCertificate, optional
    [0] version, INTEGER), read without cryptography; None when it is not there."""
    try:
        pos = 0
        for _ in range(2):  # into the Certificate, then the TBSCertificate SEQUENCE
            tag, header, _length = read_tlv_header(der, pos)
            if tag != 0x30:
                return None
            pos += header
        tag, header, n = read_tlv_header(der, pos)
        if tag == 0xA0:  # the explicit version: skipped whole
            pos += header + n
            tag, header, n = read_tlv_header(der, pos)
    except ValueError:  # truncated, or no definite length of at most 4 octets
        return None
    pos += header
    if tag != 0x02 or not 0 < n <= 64 or pos + n > len(der):
        return None
    return int.from_bytes(der[pos : pos + n], "big", signed=True)


_ASN1_ERROR = lazy_re(r"ParseError \{ kind: (\w+)(?:.*?location: \[([^\]]*)\])?", re.S)


def _parse_reason(e: Exception) -> str:
    """cryptography's reason in words: its ASN.1 errors are Rust debug text
    (``ParseError { kind: InvalidValue, location: ["Certificate::tbs_cert", ...] }``)."""
    text = str(e)
    m = _ASN1_ERROR().search(text)
    if m is None:
        return text
    kind = re.sub(r"(?<!^)(?=[A-Z])", " ", m.group(1)).lower()
    where = m.group(2).split(",")[-1].strip(' "').replace("::", " ") if m.group(2) else ""
    return f"malformed DER: {kind}" + (f" in {where}" if where else "")


# Parsed cryptography objects by SHA-256; certificates themselves stay plain values.
# Bounded as _PARSED is: unbounded, it kept every certificate a process ever read (a
# local fuzz campaign's resident memory grew ~1.3 KB a distinct certificate, forever).
_X509: dict[str, x509.Certificate] = {}
# Certificates read before, by SHA-256: the gate reads its own rendered ca.pem back, so
# every certificate is met twice. Frozen values; bounded so a long-lived process cannot
# grow it without end.
_PARSED: dict[str, Certificate] = {}
_PARSED_MAX = 4096


def _keep_x509(sha256: str, cert: x509.Certificate) -> None:
    """Remember ``cert`` for :meth:`Certificate.x509`, within :data:`_PARSED_MAX`."""
    if len(_X509) >= _PARSED_MAX:
        _X509.clear()
    _X509[sha256] = cert


def certificate_once(sha256: str, make: Callable[[], Certificate]) -> Certificate:
    """The certificate with fingerprint ``sha256``, made by ``make`` the first time only
    (every reader and the catalog share this one cache)."""
    done = _PARSED.get(sha256)
    if done is None:
        if len(_PARSED) >= _PARSED_MAX:
            _PARSED.clear()
        done = _PARSED[sha256] = make()
    return done


def _signed_by(child: x509.Certificate, issuer: x509.Certificate) -> bool:
    from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
    from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

    try:
        key = issuer.public_key()
        hash_alg = child.signature_hash_algorithm
    except (ValueError, TypeError, UnsupportedAlgorithm):
        return False  # a key or signature algorithm nothing here can check
    try:
        if isinstance(key, rsa.RSAPublicKey):
            if hash_alg is None:
                return False
            params = child.signature_algorithm_parameters
            pad = params if isinstance(params, padding.PSS) else padding.PKCS1v15()
            key.verify(child.signature, child.tbs_certificate_bytes, pad, hash_alg)
        elif isinstance(key, ec.EllipticCurvePublicKey):
            if hash_alg is None:
                return False
            key.verify(child.signature, child.tbs_certificate_bytes, ec.ECDSA(hash_alg))
        else:
            child.verify_directly_issued_by(issuer)
    except (InvalidSignature, ValueError, TypeError, UnsupportedAlgorithm):
        return False
    return True
