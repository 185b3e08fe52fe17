"""Would the device's mbedTLS parse this certificate? A pure-Python model of
``x509_crt_parse_der_core`` (mbedTLS 2.28 and 3.6, ``library/x509_crt.c``, ``x509.c``,
``asn1parse.c``, ``pkparse.c``; upstream default configuration, as ESP-IDF keeps it for
these options).

mbedTLS reads a certificate front to back and stops at the first thing it refuses, so
the model walks the DER in the same order with the same checks and returns the same
error code (``MBEDTLS_ERROR_ADD(high, low)``: an X.509/PK code plus an ASN.1 one). What
a device does with a refusal is elsewhere: ``mbedtls_x509_crt_parse`` skips such a
certificate in a CA file and keeps the rest; a refused server certificate ends the
handshake.

The refusals that matter in practice, for certificates other tools accept:

- a critical extension mbedTLS does not know (nameConstraints, policyConstraints, …):
  ``-0x2562``; a critical certificatePolicies naming a policy other than anyPolicy:
  ``-0x2080``; a known extension twice: ``-0x2500``;
- a signature algorithm it does not know (Ed25519, DSA, SHA-3): ``-0x262e``;
- a key type it does not know (Ed25519, X25519, DSA, RSA-PSS keys): ``-0x3c80``; a curve
  it does not know: ``-0x3a00``; in 2.28 a compressed EC point: ``-0x4e80``; an RSA key
  over 8192 bits (``MBEDTLS_MPI_MAX_SIZE``): ``-0x3b00``;
- a name attribute in a string type other than UTF8/Printable/IA5/T61/BMP/Universal/BIT
  STRING (NumericString, VisibleString): ``-0x23e2``;
- extensions or unique ids in a v1/v2 certificate: ``-0x21e6``; the inner and outer
  signature algorithms differing: ``-0x2680``;
- 2.28 only: an empty keyUsage or nsCertType bit string (``-0x2564``); 3.6 only: a
  malformed subjectKeyIdentifier/authorityKeyIdentifier, an iPAddress SAN of odd length
  (``-0x2800``) or a directoryName SAN it cannot read.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import TYPE_CHECKING, Literal

from ..pubkeys import dotted_oid
from .asn1 import (
    _CURVES,
    _EC_KEYS,
    _GENERALIZED_TIME,
    _HIGH_NAMES,
    _INTEGER,
    _INVALID_DATA,
    _LENGTH_MISMATCH,
    _MGF1,
    _MPI_MAX_BITS,
    _NULL,
    _OID,
    _OID_NOT_FOUND,
    _OUT_OF_DATA,
    _RFC8410_KEYS,
    _RSA,
    _RSASSA_PSS,
    _SEQUENCE,
    _SIG_ALGS,
    _UNEXPECTED_TAG,
    _UTC_TIME,
    ECP_BAD_INPUT_DATA,
    ECP_FEATURE_UNAVAILABLE,
    ECP_INVALID_KEY,
    PK_INVALID_ALG,
    PK_INVALID_PUBKEY,
    PK_KEY_INVALID_FORMAT,
    PK_UNKNOWN_NAMED_CURVE,
    PK_UNKNOWN_PK_ALG,
    X509_FEATURE_UNAVAILABLE,
    X509_INVALID_ALG,
    X509_INVALID_DATE,
    X509_INVALID_FORMAT,
    X509_INVALID_SERIAL,
    X509_INVALID_SIGNATURE,
    X509_INVALID_VERSION,
    X509_SIG_MISMATCH,
    X509_UNKNOWN_SIG_ALG,
    X509_UNKNOWN_VERSION,
    ParseRefusal,
    _Asn1,
    _oid_name,
    _on_curve,
    _Reader,
    _Refused,
)
from .parse_ext import _ExtensionParser
from .profiles import MbedtlsVersion

if TYPE_CHECKING:
    from ..certs import Certificate

__all__ = [
    "ParseRefusal",
    "key_refusal",
    "key_unparseable_by",
    "parse_notes",
    "parse_refusal",
    "unparseable_by",
]


class _Parser(_ExtensionParser):
    def parse(self) -> None:
        r = self.r
        try:
            n = r.get_tag(len(r.d), _SEQUENCE)
        except _Asn1:
            raise _Refused(X509_INVALID_FORMAT, "not a DER certificate") from None
        crt_end = r.p + n
        n = r.expect(crt_end, _SEQUENCE, X509_INVALID_FORMAT, "no TBSCertificate")
        end = r.p + n
        version = self.version(end)
        self.serial(end)
        sig_oid, sig_tag, sig_params = self.alg(end)
        if version < 0 or version > 2:
            raise _Refused(X509_UNKNOWN_VERSION, f"X.509 version {version + 1}")
        version += 1
        self.sig_alg(sig_oid, sig_tag, sig_params)
        n = r.expect(end, _SEQUENCE, X509_INVALID_FORMAT, "issuer is not a SEQUENCE")
        self.name(r.p + n, "issuer")
        self.dates(end)
        n = r.expect(end, _SEQUENCE, X509_INVALID_FORMAT, "subject is not a SEQUENCE")
        if n:
            self.name(r.p + n, "subject")
        self.public_key(end)
        if version in (2, 3):
            self.uid(end, 1)
            self.uid(end, 2)
        if version == 3:
            self.extensions(end)
        if r.p != end:
            raise _Refused(
                X509_INVALID_FORMAT + _LENGTH_MISMATCH,
                f"unexpected data after the public key of a v{version} certificate"
                + (" (extensions are read only in v3)" if version < 3 else ""),
            )
        oid2, tag2, params2 = self.alg(crt_end)
        if (oid2, tag2, params2) != (sig_oid, sig_tag, sig_params):
            raise _Refused(
                X509_SIG_MISMATCH,
                "the outer signature algorithm differs from the one inside the certificate",
            )
        try:
            if crt_end - r.p < 1:
                raise _Asn1(_OUT_OF_DATA)
            n = r.get_bitstring_null(crt_end)
            r.p += n
        except _Asn1 as e:
            raise self.fail(X509_INVALID_SIGNATURE, e, "malformed signature") from None
        if r.p != crt_end:
            raise _Refused(
                X509_INVALID_FORMAT + _LENGTH_MISMATCH,
                "data after the signature, inside the certificate",
            )

    def version(self, end: int) -> int:
        r = self.r
        try:
            n = r.get_tag(end, 0xA0)
        except _Asn1 as e:
            if e.code == _UNEXPECTED_TAG:
                return 0
            raise self.fail(X509_INVALID_FORMAT, e, "malformed version") from None
        vend = r.p + n
        try:
            v = r.get_int(vend)
        except _Asn1 as e:
            raise self.fail(X509_INVALID_VERSION, e, "malformed version number") from None
        if r.p != vend:
            raise _Refused(X509_INVALID_VERSION + _LENGTH_MISMATCH, "malformed version")
        return v

    def serial(self, end: int) -> None:
        r = self.r
        if end - r.p < 1:
            raise _Refused(X509_INVALID_SERIAL + _OUT_OF_DATA, "no serial number")
        if r.d[r.p] not in (0x82, _INTEGER):
            raise _Refused(X509_INVALID_SERIAL + _UNEXPECTED_TAG, "serial is not an INTEGER")
        r.p += 1
        n = r.expect(end, None, X509_INVALID_SERIAL, "malformed serial number")
        r.p += n

    def alg(self, end: int) -> tuple[bytes, int, bytes]:
        try:
            return self.r.get_alg(end)
        except _Asn1 as e:
            raise self.fail(X509_INVALID_ALG, e, "malformed signature algorithm") from None

    def sig_alg(self, oid: bytes, tag: int, params: bytes) -> None:
        """``mbedtls_x509_get_sig_alg``."""
        if oid not in _SIG_ALGS:
            raise _Refused(
                X509_UNKNOWN_SIG_ALG + _OID_NOT_FOUND,
                f"signature algorithm {_oid_name(oid)} is not supported",
            )
        if oid == _RSASSA_PSS:
            self.pss_params(tag, params)
        elif (tag not in (_NULL, 0)) or params:
            raise _Refused(X509_INVALID_ALG, "signature algorithm parameters must be NULL")

    def pss_params(self, tag: int, params: bytes) -> None:
        """``mbedtls_x509_get_rsassa_pss_params``."""
        bad = "malformed RSASSA-PSS parameters"
        r, end = _param_sequence(tag, params, bad)
        if r.p == end:
            return
        for field in (0, 1, 2, 3):
            try:
                n = r.get_tag(end, 0xA0 | field)
            except _Asn1 as e:
                if e.code != _UNEXPECTED_TAG:
                    raise self.fail(X509_INVALID_ALG, e, bad) from None
                if r.p == end:
                    return
                continue
            end2 = r.p + n
            try:
                if field == 0:
                    oid, ptag, p = r.get_alg(end2)
                    if ptag not in (0, _NULL) or p:  # mbedtls_asn1_get_alg_null
                        raise _Asn1(_INVALID_DATA)
                    if oid not in self.md_algs:
                        raise _Refused(X509_INVALID_ALG + _OID_NOT_FOUND, f"{bad} (hash)")
                elif field == 1:
                    oid, ptag, p = r.get_alg(end2)
                    if oid != _MGF1:
                        raise _Refused(X509_FEATURE_UNAVAILABLE + _OID_NOT_FOUND, f"{bad} (MGF)")
                    self.hash_alg(ptag, p)
                elif field == 2:
                    r.get_int(end2)
                else:
                    if r.get_int(end2) != 1:
                        raise _Refused(X509_INVALID_ALG, f"{bad} (trailer field)")
            except _Asn1 as e:
                raise self.fail(X509_INVALID_ALG, e, bad) from None
            if r.p != end2:
                raise _Refused(X509_INVALID_ALG + _LENGTH_MISMATCH, bad)
            if r.p == end:
                return
        if r.p != end:
            raise _Refused(X509_INVALID_ALG + _LENGTH_MISMATCH, bad)

    def hash_alg(self, tag: int, params: bytes) -> None:
        """``x509_get_hash_alg`` (the MGF1 hash)."""
        bad = "malformed RSASSA-PSS parameters (MGF1 hash)"
        r, end = _param_sequence(tag, params, bad)
        if r.p >= end:
            raise _Refused(X509_INVALID_ALG + _OUT_OF_DATA, bad)
        n = r.expect(end, _OID, X509_INVALID_ALG, bad)
        if params[r.p : r.p + n] not in self.md_algs:
            raise _Refused(X509_INVALID_ALG + _OID_NOT_FOUND, bad)
        r.p += n
        if r.p == end:
            return
        n = r.expect(end, _NULL, X509_INVALID_ALG, bad)
        if n != 0:
            raise _Refused(X509_INVALID_ALG, bad)
        if r.p != end:
            raise _Refused(X509_INVALID_ALG + _LENGTH_MISMATCH, bad)

    def dates(self, end: int) -> None:
        r = self.r
        n = r.expect(end, _SEQUENCE, X509_INVALID_DATE, "malformed validity")
        vend = r.p + n
        self.time(vend)
        self.time(vend)
        if r.p != vend:
            raise _Refused(X509_INVALID_DATE + _LENGTH_MISMATCH, "malformed validity")

    def time(self, end: int) -> None:
        """``mbedtls_x509_get_time``: YYMMDDHHMMSS[Z] or YYYYMMDDHHMMSS[Z], a real date."""
        r = self.r
        if end - r.p < 1:
            raise _Refused(X509_INVALID_DATE + _OUT_OF_DATA, "missing date")
        tag = r.d[r.p]
        if tag not in (_UTC_TIME, _GENERALIZED_TIME):
            raise _Refused(X509_INVALID_DATE + _UNEXPECTED_TAG, "date is not a UTC/GeneralizedTime")
        r.p += 1
        n = r.expect(end, None, X509_INVALID_DATE, "malformed date")
        text = r.d[r.p : r.p + n]
        r.p += n
        yl = 2 if tag == _UTC_TIME else 4
        bad = _Refused(X509_INVALID_DATE, f"date {text!r} is not in the form mbedTLS reads")
        if not (len(text) == yl + 10 or (len(text) == yl + 11 and text[-1:] == b"Z")):
            raise bad
        digits = text[: yl + 10]
        if not all(0x30 <= c <= 0x39 for c in digits):
            raise bad
        year = int(digits[:yl])
        if yl == 2:
            year += 2000 if year < 50 else 1900
        mon, day, hour, minute, sec = (int(digits[yl + i : yl + i + 2]) for i in range(0, 10, 2))
        if mon in (1, 3, 5, 7, 8, 10, 12):
            month_len = 31
        elif mon in (4, 6, 9, 11):
            month_len = 30
        elif mon == 2:
            month_len = 29 if (year % 4 == 0 and year % 100) or year % 400 == 0 else 28
        else:
            raise bad
        if not (1 <= day <= month_len and hour <= 23 and minute <= 59 and sec <= 59):
            raise bad

    # -- mbedtls_pk_parse_subpubkey ----------------------------------------------------
    def public_key(self, end: int) -> None:
        r = self.r
        n = r.expect(end, _SEQUENCE, PK_KEY_INVALID_FORMAT, "malformed public key")
        end = r.p + n
        try:
            oid, ptag, params = r.get_alg(end)
        except _Asn1 as e:
            raise self.fail(PK_INVALID_ALG, e, "malformed public key algorithm") from None
        rfc8410 = self.v36 and oid in _RFC8410_KEYS  # 3.6 reads X25519/X448 keys
        if oid != _RSA and not rfc8410 and oid not in _EC_KEYS:
            raise _Refused(PK_UNKNOWN_PK_ALG, f"key type {_oid_name(oid)} is not supported")
        if oid == _RSA and ((ptag not in (_NULL, 0)) or params):
            raise _Refused(PK_INVALID_ALG, "RSA key algorithm with parameters")
        try:
            n = r.get_bitstring_null(end)
        except _Asn1 as e:
            raise self.fail(PK_INVALID_PUBKEY, e, "malformed public key") from None
        if r.p + n != end:
            raise _Refused(PK_INVALID_PUBKEY + _LENGTH_MISMATCH, "malformed public key")
        if rfc8410:  # pk_use_ecparams_rfc8410
            if ptag or params:
                raise _Refused(PK_KEY_INVALID_FORMAT, f"{_oid_name(oid)} key with parameters")
            r.p = end
        elif oid == _RSA:
            self.rsa_key(end)
        else:
            self.ec_key(ptag, params, end)

    def rsa_key(self, end: int) -> None:
        """``pk_get_rsapubkey`` + ``mbedtls_rsa_check_pubkey``."""
        r = self.r
        bad = "malformed RSA public key"
        try:
            n = r.get_tag(end, _SEQUENCE)
            if r.p + n != end:
                raise _Asn1(_LENGTH_MISMATCH)
            n = r.get_tag(end, _INTEGER)
            modulus = int.from_bytes(r.d[r.p : r.p + n], "big")
            r.p += n
            n = r.get_tag(end, _INTEGER)
            exponent = int.from_bytes(r.d[r.p : r.p + n], "big")
            r.p += n
        except _Asn1 as e:
            raise self.fail(PK_INVALID_PUBKEY, e, bad) from None
        bits = modulus.bit_length()
        if bits > _MPI_MAX_BITS:
            raise _Refused(
                PK_INVALID_PUBKEY,
                f"RSA key of {bits} bits: over MBEDTLS_MPI_MAX_SIZE ({_MPI_MAX_BITS} bits)",
            )
        if (
            bits < 128
            or not modulus & 1
            or exponent.bit_length() < 2
            or not exponent & 1
            or exponent >= modulus
        ):
            raise _Refused(PK_INVALID_PUBKEY, "RSA public key fails mbedtls_rsa_check_pubkey")
        if r.p != end:
            raise _Refused(PK_INVALID_PUBKEY + _LENGTH_MISMATCH, bad)

    def ec_key(self, ptag: int, params: bytes, end: int) -> None:
        """``pk_get_ecparams`` (inside get_alg's params) + ``pk_use_ecparams`` +
        ``mbedtls_ecp_point_read_binary``."""
        r = self.r
        if ptag != _OID:
            self.specified_curve(params)
        curve = _CURVES.get(params)
        if curve is None:
            raise _Refused(PK_UNKNOWN_NAMED_CURVE, f"curve {dotted_oid(params)} is not supported")
        name, size = curve
        point = r.d[r.p : end]
        r.p = end
        if not point:
            raise _Refused(ECP_BAD_INPUT_DATA, "empty EC point")
        if point[0] == 0x00:  # the point at infinity: read, then refused by check_pubkey
            code = ECP_INVALID_KEY if len(point) == 1 else ECP_BAD_INPUT_DATA
            raise _Refused(code, "EC public key is the point at infinity")
        if point[0] == 0x04 or (point[0] in (0x02, 0x03) and self.v36):
            # 3.6 reads compressed points too (MBEDTLS_PK_PARSE_EC_COMPRESSED)
            if len(point) != (2 * size + 1 if point[0] == 0x04 else size + 1):
                raise _Refused(ECP_BAD_INPUT_DATA, f"malformed {name} point")
            if not _on_curve(name, point):  # mbedtls_ecp_check_pubkey
                raise _Refused(ECP_INVALID_KEY, f"the {name} public key is not on the curve")
            return
        if point[0] in (0x02, 0x03):
            raise _Refused(
                ECP_FEATURE_UNAVAILABLE, f"compressed {name} point (mbedTLS 2.x reads only 04…)"
            )
        # Any other first byte: 2.28's point reader stops at "not 04", 3.6's at "no format".
        code = ECP_BAD_INPUT_DATA if self.v36 else ECP_FEATURE_UNAVAILABLE
        raise _Refused(code, f"malformed {name} point")

    def specified_curve(self, params: bytes) -> None:
        """``pk_group_from_specified`` (MBEDTLS_PK_PARSE_EC_EXTENDED, on by default and in
        ESP-IDF): explicit parameters are read and must equal a curve mbedTLS knows.
        Modelled up to the version number; past it the key counts as an unknown curve
        (an explicit copy of a named curve, which mbedTLS would accept, is not told apart;
        cryptography refuses such keys, so the tool never judges one)."""
        r = _Reader(params)
        try:
            version = r.get_int(len(params))
        except _Asn1 as e:
            raise self.fail(PK_KEY_INVALID_FORMAT, e, "malformed EC parameters") from None
        if version < 1 or version > 3:
            raise _Refused(PK_KEY_INVALID_FORMAT, "malformed EC parameters")
        raise _Refused(ECP_FEATURE_UNAVAILABLE, "explicit EC parameters (no named curve)")

    def uid(self, end: int, n: int) -> None:
        r = self.r
        if r.p == end:
            return
        try:
            k = r.get_tag(end, 0xA0 | n)
        except _Asn1 as e:
            if e.code == _UNEXPECTED_TAG:
                return
            raise self.fail(X509_INVALID_FORMAT, e, "malformed unique identifier") from None
        r.p += k

    # -- mbedtls_pk_parse_public_key: an ESP-IDF bundle's stored key --------------------
    def stored_key(self) -> None:
        """``mbedtls_pk_parse_public_key`` on a DER key (pkparse.c, 2.28 and 3.6), as
        ``esp_crt_check_signature`` (esp_crt_bundle.c) calls it on a bundle root's key:
        an empty key is refused first; then the bytes are tried as a PKCS#1
        RSAPublicKey (``pk_get_rsapubkey``; 3.6 ``mbedtls_rsa_parse_pubkey``), and only an
        unexpected tag there (no SEQUENCE, or no INTEGER in it) moves on to
        ``mbedtls_pk_parse_subpubkey``: a SubjectPublicKeyInfo with bytes after it is
        refused by the first reader. (Its PEM branch needs a NUL-ended text header no DER
        key starts with.) The first reader's other codes are 2.28's: 3.6 refuses the same
        keys, with the bare ASN.1 or RSA code."""
        r = self.r
        end = len(r.d)
        if end == 0:
            raise _Refused(PK_KEY_INVALID_FORMAT, "empty key")
        try:
            n = r.get_tag(end, _SEQUENCE)
        except _Asn1:
            n = end - r.p  # no SEQUENCE: rsa_key below says how, as the first reader does
        if r.p + n != end:
            code = _RSA_BAD_INPUT_DATA if self.v36 else PK_INVALID_PUBKEY + _LENGTH_MISMATCH
            raise _Refused(code, "data after the key")
        r.p = 0
        try:
            self.rsa_key(end)
            return  # a PKCS#1 RSAPublicKey: mbedTLS takes it as it is
        except _Refused as e:
            if e.code != PK_INVALID_PUBKEY + _UNEXPECTED_TAG:
                raise
        r.p = 0
        self.public_key(end)

    # -- x509_get_crt_ext ---------------------------------------------------------------


@functools.lru_cache(maxsize=4096)
def parse_refusal(der: bytes, version: MbedtlsVersion = "2.28") -> ParseRefusal | None:
    """Why mbedTLS ``version`` refuses this DER certificate, or None when it parses.

    The code is what ``mbedtls_x509_crt_parse_der`` returns; a unit logs it as
    ``-0x2562`` or as the unsigned ``0xffffda9e``.
    """
    try:
        _Parser(der, version).parse()
    except _Refused as e:
        return ParseRefusal(e.code, e.reason or _default_reason(e.code), version)
    except IndexError:  # read past a buffer: mbedTLS would report running out of data
        return ParseRefusal(X509_INVALID_FORMAT + _OUT_OF_DATA, "truncated certificate", version)
    return None


@functools.lru_cache(maxsize=4096)
def key_refusal(key: bytes, version: MbedtlsVersion = "2.28") -> ParseRefusal | None:
    """Why mbedTLS ``version`` refuses a DER public key as an ESP-IDF bundle stores it
    (``mbedtls_pk_parse_public_key``: RSA, and EC on the curves mbedTLS knows, which
    ESP-IDF's Kconfig enables by default; never DSA or Ed25519), or None when it parses.

    The device parses nothing else of a bundle root: it finds the root by comparing
    DER names byte for byte and parses its key when a chain names it as issuer."""
    try:
        _Parser(key, version).stored_key()
    except _Refused as e:
        return ParseRefusal(e.code, e.reason or _default_reason(e.code), version)
    except IndexError:  # read past the buffer: mbedTLS would report running out of data
        return ParseRefusal(PK_KEY_INVALID_FORMAT + _OUT_OF_DATA, "truncated key", version)
    return None


def _param_sequence(tag: int, params: bytes, bad: str) -> tuple[_Reader, int]:
    """RSASSA-PSS parameters and the MGF1 hash in them are each a SEQUENCE (as both
    mbedTLS readers require first): a reader over its content, and where it ends."""
    if tag != _SEQUENCE:
        raise _Refused(X509_INVALID_ALG + _UNEXPECTED_TAG, bad)
    return _Reader(params), len(params)


def _default_reason(code: int) -> str:
    high = -((-code) & 0xFF80)
    return _HIGH_NAMES.get(high, "refused")


# MBEDTLS_ERR_RSA_BAD_INPUT_DATA: 3.6's mbedtls_rsa_parse_pubkey (rsa.c) when a key's
# outer SEQUENCE ends before the buffer does (2.28 says PK_INVALID_PUBKEY + LENGTH_MISMATCH).
_RSA_BAD_INPUT_DATA = -0x4080
_UNKNOWN_SIG_ALG = -0x262E  # left out of a server's chain, not fatal (ssl_tls.c)


def unparseable_by(der: bytes) -> str | None:
    """Which mbedTLS lines refuse this certificate ("mbedTLS 2.28 and 3.6",
    "mbedTLS 3.6"), or None when both parse it: ``inspect`` shows it as the status."""
    refused = [v for v in ("2.28", "3.6") if parse_refusal(der, v) is not None]
    return f"mbedTLS {' and '.join(refused)}" if refused else None


def key_unparseable_by(
    key: bytes, versions: Sequence[MbedtlsVersion] = ("2.28", "3.6")
) -> str | None:
    """Which of the mbedTLS lines ``versions`` refuse this stored key ("mbedTLS 2.28
    and 3.6"), or None when all parse it: an ESP-IDF bundle root's counterpart of
    :func:`unparseable_by`."""
    refused = [v for v in versions if key_refusal(key, v) is not None]
    return f"mbedTLS {' and '.join(refused)}" if refused else None


def parse_notes(
    certs: Sequence[Certificate], *, role: Literal["ca-file", "server-chain"]
) -> list[str]:
    """What each mbedTLS line does with certificates it cannot parse, in the words
    ``inspect`` and ``chains show`` both use: a CA file keeps the rest (what the firmware
    then does is its own choice), a server's chain ends the handshake."""
    notes = []
    for i, c in enumerate(certs):
        refusals = {v: parse_refusal(c.der, v) for v in ("2.28", "3.6")}
        if not any(refusals.values()):
            continue
        lines = sorted({str(r) for r in refusals.values() if r is not None})
        if len(lines) == 1 and all(refusals.values()):
            who = f"{unparseable_by(c.der)} cannot parse it ({lines[0]})"
        else:
            v = "2.28" if refusals["2.28"] else "3.6"
            other = "3.6" if v == "2.28" else "2.28"
            who = f"mbedTLS {v} cannot parse it ({refusals[v]}); {other} can"
        where = f"#{i + 1} {c.label}"  # numbered as inspect and chains show list them
        if role == "ca-file":
            what = (
                "mbedtls_x509_crt_parse skips it and keeps the other certificates, returning "
                "how many it skipped: ESP-IDF's esp-tls, Arduino and Mongoose OS (which "
                "re-reads the file during each verification) go on without it, while mDash "
                "1.2.13 (its Mongoose library's 'if (rc != 0)') refuses the whole file"
            )
        elif any(r is not None and r.code == _UNKNOWN_SIG_ALG for r in refusals.values()):
            what = "a unit leaves it out of the chain and carries on without it"
        else:
            code = next(r for r in refusals.values() if r is not None).code_text.split(" ")[0]
            what = f"a unit ends the handshake there with {code}"
        notes.append(f"{where}: {who}; {what}")
    return notes
