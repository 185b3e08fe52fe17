"""Certificates as immutable values, and a loader that reads every shape firmware keeps them in.

``load_certificates`` sniffs PEM (with any text between blocks, CRLF, curl labels,
Mongoose OS ``Subject:`` comments), DER (one or several concatenated), and C source
(mDash-style string literals one per PEM line, one literal with ``\\n`` escapes, or byte
arrays ``{0x30, 0x82, ...}``, read by :mod:`.certs_c`). A private key anywhere in the
input is refused with the file and line, so a key can never travel into a bundle that
is shipped to devices.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
import warnings
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ._patterns import lazy_re
from .arguments import require_bytes, require_path
from .dates import as_utc
from .errors import CertificateError, PrivateKeyError
from .fileio import read_input
from .known_roots import known_root
from .limits import MAX_CERT_INPUT, check_size
from .pubkeys import key_facts as _key_facts
from .pubkeys import read_tlv_header as _read_tlv_header
from .sniff import decode_text, looks_binary, sniff_kind

if TYPE_CHECKING:
    from cryptography import x509


__all__ = [
    "Certificate",
    "load_certificate_file",
    "load_certificates",
    "sha256_fingerprint",
    "sniff_kind",
]


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
        der = bytes(der)
        with warnings.catch_warnings():
            # Some Mozilla roots have non-positive serials (cryptography warns lazily);
            # they are still real roots that devices trust.
            warnings.simplefilter("ignore")
            return cls._from_der(der)

    @classmethod
    def _from_der(cls, der: bytes) -> Certificate:
        from cryptography import x509

        try:
            cert = x509.load_der_x509_certificate(der)
            serial = cert.serial_number
            # cryptography parses names, times and extensions lazily: a corrupt field
            # fails only when read, so every read stays inside this guard.
            result = cls._facts(der, cert, serial)
        # TypeError: cryptography's NameAttribute on a type its OID cannot have (fuzzed)
        except (ValueError, TypeError, x509.InvalidVersion) as e:
            raise CertificateError(f"not a valid X.509 certificate ({_parse_reason(e)})") from e
        _X509[result.sha256] = cert
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
            from cryptography import x509 as cx509

            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                cert = cx509.load_der_x509_certificate(self.der)
            _X509[self.sha256] = cert
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
_X509: dict[str, x509.Certificate] = {}
# Certificates read before, by SHA-256: the gate reads its own rendered ca.pem back, so
# every certificate is met twice. Frozen values; bounded so a long-lived process cannot
# grow it without end.
_PARSED: dict[str, Certificate] = {}
_PARSED_MAX = 4096


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


# ---------------------------------------------------------------------------------------
# Loading

_BEGIN_RE = re.compile(r"-----BEGIN ([A-Z0-9 ]+)-----")
_ARMOUR_RE = re.compile(r"-----(BEGIN|END) ([A-Z0-9 ]+)-----")
_CERT_LABELS = {"CERTIFICATE", "X509 CERTIFICATE", "TRUSTED CERTIFICATE"}


def load_certificate_file(path: str | Path) -> tuple[Certificate, ...]:
    """Read a file of any supported shape; errors name the file."""
    require_path(path, "load_certificate_file", data_call="load_certificates")
    data = read_input(
        path,
        what="certificate file",
        error=CertificateError,
        max_bytes=MAX_CERT_INPUT,
        certificates=True,
    )
    return load_certificates(data, source=str(path))


def load_certificates(data: bytes, *, source: str = "<input>") -> tuple[Certificate, ...]:
    """Every certificate in ``data``, in file order; sniffs PEM, DER and C source, in
    UTF-8 or UTF-16 text (see :func:`decode_text`). ``data`` is bytes (a str is an
    ArgumentTypeError: encode it; a file: :func:`load_certificate_file`).

    Raises :class:`PrivateKeyError` if a private key is present anywhere, in any encoding
    :mod:`.keyscan` knows (every reader of the tool refuses the same inputs), and
    :class:`CertificateError` if nothing usable is found or a block is corrupt.
    """
    from .keyscan import refuse_private_keys  # deferred: its patterns compile in ~1 ms

    require_bytes(data, "load_certificates", text=True, path_call="load_certificate_file")
    data = bytes(data)  # a memoryview has no bytes methods (startswith, find)
    check_size(
        len(data), MAX_CERT_INPUT, what="certificate file", path=source, error=CertificateError
    )
    if not data:
        raise CertificateError(
            "empty file, no certificate found (expected PEM, DER, or C source holding "
            "certificates)",
            path=source,
        )
    refuse_private_keys(data, source=source)
    data, _ = decode_text(data, source=source)
    kind = sniff_kind(data)
    if kind != "der" and looks_binary(data):
        raise CertificateError(
            f"binary data ({len(data):,} bytes), not a certificate file (PEM, DER or C source)",
            path=source,
            hint="'esp-cabundle inspect FILE' says what it holds if it is an image, an "
            "ESP-IDF bundle or a flash dump",
        )
    if kind == "der":
        return tuple(_load_der_sequence(data, source))
    _refuse_base64_pkcs12(data, source)
    text = data.decode("utf-8", errors="replace")
    if kind in ("c-strings", "c-array"):
        from .certs_c import load_c_source  # deferred: C source only

        if kind == "c-array":
            _refuse_pem_keys(text, source, None)
        certs = load_c_source(text, data, kind, source, pem=_load_pem_text, der=_load_der_sequence)
        return _nonempty(certs, source)
    return _nonempty(list(_load_pem_text(text, source, None)), source)


def _nonempty(certs: list[Certificate], source: str) -> tuple[Certificate, ...]:
    if not certs:
        raise CertificateError(
            "no certificate found (expected PEM, DER, or C source holding certificates)",
            path=source,
        )
    return tuple(certs)


def _der_is_private_key(element: bytes) -> bool:
    """PKCS#8, PKCS#1 and SEC1 keys are SEQUENCEs that open with an INTEGER version;
    certificates open with a SEQUENCE (the TBSCertificate)."""
    try:
        _tag, hdr, _length = _read_tlv_header(element, 0)
    except ValueError:
        return False
    return len(element) > hdr and element[hdr] == 0x02


def _load_der_sequence(data: bytes, source: str, line: int | None = None) -> Iterator[Certificate]:
    pos = 0
    while pos < len(data):
        if data[pos] in (0x00, 0xFF) and all(b == data[pos] for b in data[pos:]):
            break  # padding after the last certificate (flash images, C arrays)
        if pos and not data[pos:].strip():
            break  # a line end an editor or `echo >>` left (mbedTLS ignores what follows)
        if data[pos + 1 : pos + 2] == b"\x80":
            _refuse_pkcs12(data, pos, source, line)  # BER: NSS's, Bouncy Castle's stores
        try:
            tag, hdr, length = _read_tlv_header(data, pos)
        except ValueError as e:
            raise CertificateError(
                f"corrupt DER at byte offset {pos} ({e})", path=source, line=line
            ) from e
        end = pos + hdr + length
        if tag != 0x30 or end > len(data):
            raise CertificateError(
                f"corrupt DER at byte offset {pos} (not a complete SEQUENCE)",
                path=source,
                line=line,
            )
        element = data[pos:end]
        if _der_is_private_key(element):
            _refuse_pkcs12(data, pos, source, line)
            where = f"byte offset {pos}" if line is None else f"byte offset {pos} of this array"
            raise PrivateKeyError(
                f"private key (DER) at {where}; refusing to read further",
                path=source,
                line=line,
                hint="a CA bundle must hold only public certificates; remove the key",
            )
        try:
            yield Certificate.from_der(element)
        except CertificateError as e:
            raise CertificateError(
                f"at byte offset {pos}: {e.message}", path=source, line=line
            ) from e
        pos = end


def _refuse_pkcs12(data: bytes, pos: int, source: str, line: int | None) -> None:
    from .pkcs12 import refuse_store  # deferred: only input holding a PKCS#12 store

    refuse_store(data, pos, source, line)


def _refuse_base64_pkcs12(data: bytes, source: str) -> None:
    """The same for a store in base64 (``base64 FILE.p12``) in text, read whole."""
    from .keyscan import base64_pfx  # deferred, as in load_certificates

    found = base64_pfx(data)
    if found is None or found[1].keys or found[1].sealed:
        return  # none, or what the key scan refused
    from .pkcs12 import pkcs12_hint, store_message  # deferred: as in _refuse_pkcs12

    line = data.count(b"\n", 0, found[0]) + 1
    message = store_message(found[1], " in base64")
    hint = pkcs12_hint(data, found[0], base64=True)
    raise CertificateError(message, path=source, line=line, hint=hint)


def _refuse_pem_keys(text: str, source: str, line_map: list[int] | None) -> None:
    for m in _BEGIN_RE.finditer(text):
        if "PRIVATE KEY" in m.group(1):
            raise PrivateKeyError(
                f"private key block '{m.group(0)}'; refusing the whole input",
                path=source,
                line=_line_at(text, m.start(), line_map),
                hint="a CA bundle must hold only public certificates; remove the key",
            )


def _line_at(text: str, pos: int, line_map: list[int] | None) -> int:
    """The 1-based line of ``pos`` as ``splitlines`` counts lines (errors only: O(pos))."""
    index = len((text[:pos] + "x").splitlines()) - 1
    return line_map[min(index, len(line_map) - 1)] if line_map else index + 1


def _load_pem_text(text: str, source: str, line_map: list[int] | None) -> Iterator[Certificate]:
    """Every certificate block, found by its armour wherever it stands as mbedTLS finds
    it (``strstr``): one block's END and the next one's BEGIN may share a line."""
    # Refuse keys before yielding anything: no partial result ever leaves with a key beside it.
    _refuse_pem_keys(text, source, line_map)
    marks = list(_ARMOUR_RE.finditer(text))
    k = 0
    while k < len(marks):
        begin = marks[k]
        k += 1
        if begin.group(1) != "BEGIN":
            continue  # an END with no block open: text between blocks
        label = begin.group(2)

        def at(m: re.Match[str] = begin) -> int:  # the block's line, for errors only
            return _line_at(text, m.start(), line_map)

        if k == len(marks):
            raise CertificateError(
                f"'-----BEGIN {label}-----' has no matching END line",
                path=source,
                line=at(),
            )
        end = marks[k]
        k += 1
        if end.group(1) == "BEGIN":
            raise CertificateError(
                f"'-----BEGIN {label}-----' has no END line before the next BEGIN (line {at(end)})",
                path=source,
                line=at(),
                hint="the block was cut: put back the rest of it and its END line",
            )
        if end.group(2) != label:
            raise CertificateError(
                f"BEGIN {label} closed by END {end.group(2)}",
                path=source,
                line=at(),
            )
        if label not in _CERT_LABELS:
            continue  # CRLs, public keys, requests: not trust anchors, skipped as mbedTLS does
        body = "".join([raw.strip() for raw in text[begin.end() : end.start()].splitlines()])
        if ":" in body:
            raise CertificateError(
                "encrypted or header-carrying PEM block is not a plain certificate",
                path=source,
                line=at(),
            )
        try:
            der = base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError) as e:
            raise CertificateError(
                f"bad base64 in certificate block ({e})",
                path=source,
                line=at(),
            ) from e
        if label == "TRUSTED CERTIFICATE":
            try:
                _tag, hdr, length = _read_tlv_header(der, 0)
            except ValueError as e:
                raise CertificateError(
                    "corrupt TRUSTED CERTIFICATE",
                    path=source,
                    line=at(),
                ) from e
            der = der[: hdr + length]
        try:
            yield Certificate.from_der(der)
        except CertificateError as e:
            raise CertificateError(e.message, path=source, line=at()) from e


def utc(dt: datetime) -> datetime:
    """Treat naive datetimes as UTC; certificates and devices live in UTC."""
    return dt if dt.tzinfo else dt.replace(tzinfo=timezone.utc)
