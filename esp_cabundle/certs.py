"""Certificates as immutable values (:class:`~.certificate.Certificate`, re-exported here),
and a loader that reads every shape firmware keeps them in.

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
import re
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path

from ._stdin import empty_input
from .arguments import require_bytes, require_path
from .certificate import Certificate, sha256_fingerprint
from .errors import CertificateError, PrivateKeyError
from .fileio import read_input
from .limits import MAX_CERT_INPUT, check_size
from .pubkeys import read_tlv_header as _read_tlv_header
from .sniff import decode_text, lock_root_count, looks_binary, manifest_root_count, sniff_kind

__all__ = [
    "Certificate",
    "load_certificate_file",
    "load_certificates",
    "sha256_fingerprint",
    "sniff_kind",
]


# ---------------------------------------------------------------------------------------
# Loading

_BEGIN_RE = re.compile(r"-----BEGIN ([A-Z0-9 ]+)-----")
_ARMOUR_RE = re.compile(r"-----(BEGIN|END) ([A-Z0-9 ]+)-----")
_CERT_LABELS = {"CERTIFICATE", "X509 CERTIFICATE", "TRUSTED CERTIFICATE"}
# A PKCS#7 / CMS SignedData (RFC 2315, 5652) that only carries certificates: what
# `openssl crl2pkcs7` and Windows' "export as .p7b" write. mbedTLS's x509_crt_parse reads
# PEM CERTIFICATE blocks or DER Certificates, never this container, so it is refused by
# name with the command that unpacks it (RFC 7468 section 8 gives both PEM labels).
_PKCS7_LABELS = {"PKCS7", "CMS"}
_SIGNED_DATA = bytes.fromhex("06092a864886f70d010702")  # OID 1.2.840.113549.1.7.2


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
            f"{empty_input(source)}, no certificate found (expected PEM, DER, or C source "
            "holding certificates)",
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
    return _nonempty(list(_load_pem_text(text, source, None)), source, text)


def _nonempty(certs: list[Certificate], source: str, text: str = "") -> tuple[Certificate, ...]:
    if certs:
        return tuple(certs)
    labels = list(_BEGIN_RE.finditer(text))
    for m in labels:
        if m.group(1) in _PKCS7_LABELS:
            _refuse_pkcs7(source, _line_at(text, m.start(), None), der=False)
    if not labels:
        _refuse_own_manifest(text, source)
    found = ""
    if labels:  # say what the file does hold: a request, a public key, a CRL
        names = ", ".join(dict.fromkeys(m.group(1) for m in labels))
        found = f": its PEM blocks are {names}, none a CERTIFICATE"
    raise CertificateError(
        f"no certificate found{found} (expected PEM, DER, or C source holding certificates)",
        path=source,
    )


def _refuse_own_manifest(text: str, source: str) -> None:
    pinned = lock_root_count(text)
    if pinned is not None:
        raise CertificateError(
            f"esp-cabundle's lock file: it pins {pinned} "
            f"root{'s' if pinned != 1 else ''} by SHA-256 fingerprint but holds no "
            "certificates",
            path=source,
            # no -c: build finds the project's cabundle.yaml itself, and a lock written
            # by a build of --preset/--root options has none
            hint="give the CA file build writes from it (esp-cabundle build --locked -f "
            "pem -o ca.pem, in its project or with the options that wrote it); "
            "'esp-cabundle roots FINGERPRINT' looks a pinned root up",
        )
    count = manifest_root_count(text)
    if count is None:
        return
    raise CertificateError(
        f"esp-cabundle's JSON manifest (build -f json): it lists {count} "
        f"root{'s' if count != 1 else ''} but holds no certificates",
        path=source,
        hint="build the bundle as PEM with the same roots and give that file "
        "(esp-cabundle build -f pem -o ca.pem); 'esp-cabundle roots' lists the catalog",
    )


def _refuse_pkcs7(source: str, line: int | None, *, der: bool) -> None:
    inform = " -inform DER" if der else ""
    raise CertificateError(
        "a PKCS#7 (CMS SignedData) file, as a .p7b export is: mbedTLS reads PEM or DER "
        "certificates, not this container",
        path=source,
        line=line,
        hint=f"unpack its certificates as PEM (openssl pkcs7{inform} -print_certs -in FILE "
        "-out certs.pem; for a server's chain, leaf first) and give that file",
    )


def _der_is_private_key(element: bytes) -> bool:
    """PKCS#8, PKCS#1 and SEC1 keys are SEQUENCEs that open with an INTEGER version;
    certificates open with a SEQUENCE (the TBSCertificate). Broad on purpose (a toy RSA
    key, whose modulus :mod:`.keyscan` leaves alone, is refused here), except where no
    key can be: every format opening with a version holds more after it (PKCS#1
    RSAPrivateKey, RFC 8017 A.1.2; OpenSSL's DSA key, version p q g y x; SEC1
    ECPrivateKey, RFC 5915 3; PKCS#8 PrivateKeyInfo / OneAsymmetricKey, RFC 5208 5 and
    RFC 5958 2; a PKCS#12 PFX, RFC 7292 4), so a SEQUENCE holding one INTEGER alone
    (``30 03 02 01 00``) is none."""
    try:
        _tag, hdr, _length = _read_tlv_header(element, 0)
    except ValueError:
        return False
    if len(element) <= hdr or element[hdr] != 0x02:
        return False
    try:
        _tag, int_hdr, int_length = _read_tlv_header(element, hdr)
    except ValueError:
        return True  # a version whose length does not read: as broad as before
    return hdr + int_hdr + int_length != len(element)


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
        if element[hdr : hdr + len(_SIGNED_DATA)] == _SIGNED_DATA:
            _refuse_pkcs7(source, line, der=True)
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
