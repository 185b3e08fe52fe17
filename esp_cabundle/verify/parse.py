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
from dataclasses import dataclass
from typing import Literal

MbedtlsVersion = Literal["2.28", "3.6"]

__all__ = ["ParseRefusal", "parse_refusal"]

# include/mbedtls/asn1.h
_OUT_OF_DATA = -0x0060
_UNEXPECTED_TAG = -0x0062
_INVALID_LENGTH = -0x0064
_LENGTH_MISMATCH = -0x0066
_INVALID_DATA = -0x0068
# include/mbedtls/oid.h
_OID_NOT_FOUND = -0x002E
# include/mbedtls/x509.h
X509_FEATURE_UNAVAILABLE = -0x2080
X509_INVALID_FORMAT = -0x2180
X509_INVALID_VERSION = -0x2200
X509_INVALID_SERIAL = -0x2280
X509_INVALID_ALG = -0x2300
X509_INVALID_NAME = -0x2380
X509_INVALID_DATE = -0x2400
X509_INVALID_SIGNATURE = -0x2480
X509_INVALID_EXTENSIONS = -0x2500
X509_UNKNOWN_VERSION = -0x2580
X509_UNKNOWN_SIG_ALG = -0x2600
X509_SIG_MISMATCH = -0x2680
X509_BAD_INPUT_DATA = -0x2800
# include/mbedtls/pk.h, ecp.h
PK_KEY_INVALID_FORMAT = -0x3D00
PK_UNKNOWN_PK_ALG = -0x3C80
PK_INVALID_PUBKEY = -0x3B00
PK_INVALID_ALG = -0x3A80
PK_UNKNOWN_NAMED_CURVE = -0x3A00
ECP_BAD_INPUT_DATA = -0x4F80
ECP_FEATURE_UNAVAILABLE = -0x4E80
ECP_INVALID_KEY = -0x4C80

_HIGH_NAMES = {
    X509_FEATURE_UNAVAILABLE: "X509 - feature unavailable",
    X509_INVALID_FORMAT: "X509 - invalid format",
    X509_INVALID_VERSION: "X509 - invalid version",
    X509_INVALID_SERIAL: "X509 - invalid serial",
    X509_INVALID_ALG: "X509 - invalid algorithm",
    X509_INVALID_NAME: "X509 - invalid name",
    X509_INVALID_DATE: "X509 - invalid date",
    X509_INVALID_SIGNATURE: "X509 - invalid signature",
    X509_INVALID_EXTENSIONS: "X509 - invalid extensions",
    X509_UNKNOWN_VERSION: "X509 - unknown version",
    X509_UNKNOWN_SIG_ALG: "X509 - unknown signature algorithm",
    X509_SIG_MISMATCH: "X509 - signature algorithms do not match",
    X509_BAD_INPUT_DATA: "X509 - bad input data",
    PK_KEY_INVALID_FORMAT: "PK - invalid key format",
    PK_UNKNOWN_PK_ALG: "PK - unknown key algorithm",
    PK_INVALID_PUBKEY: "PK - invalid public key",
    PK_INVALID_ALG: "PK - invalid algorithm",
    PK_UNKNOWN_NAMED_CURVE: "PK - unknown named curve",
    ECP_BAD_INPUT_DATA: "ECP - bad input data",
    ECP_FEATURE_UNAVAILABLE: "ECP - feature unavailable (compressed point)",
    ECP_INVALID_KEY: "ECP - invalid key",
}
_LOW_NAMES = {
    _OUT_OF_DATA: "ASN1 - out of data",
    _UNEXPECTED_TAG: "ASN1 - unexpected tag",
    _INVALID_LENGTH: "ASN1 - invalid length",
    _LENGTH_MISMATCH: "ASN1 - length mismatch",
    _INVALID_DATA: "ASN1 - invalid data",
    _OID_NOT_FOUND: "OID - not found",
}


@dataclass(frozen=True, slots=True)
class ParseRefusal:
    """mbedTLS's refusal of a certificate: the code it returns and what it refused."""

    code: int
    reason: str
    version: str = "2.28"

    @property
    def code_text(self) -> str:
        """``-0x2562`` (as a unit logs it, with mbedTLS's own names)."""
        high, low = -((-self.code) & 0xFF80), -((-self.code) & 0x7F)
        names = [n for n in (_HIGH_NAMES.get(high), _LOW_NAMES.get(low)) if n]
        return f"-0x{-self.code:04x}" + (f" ({' + '.join(names)})" if names else "")

    def __str__(self) -> str:
        return f"{self.code_text}: {self.reason}"


class _Refused(Exception):
    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


class _Asn1(Exception):
    """A low-level ``mbedtls_asn1_*`` error, wrapped by the caller with its high code."""

    def __init__(self, code: int) -> None:
        super().__init__(code)
        self.code = code


# Tags (include/mbedtls/asn1.h)
_BOOLEAN, _INTEGER, _BIT_STRING, _OCTET_STRING, _NULL, _OID = 0x01, 0x02, 0x03, 0x04, 0x05, 0x06
_SEQUENCE, _SET = 0x30, 0x31
_UTC_TIME, _GENERALIZED_TIME = 0x17, 0x18
_NAME_STRING_TAGS = frozenset(
    {0x1E, 0x0C, 0x14, 0x13, 0x16, 0x1C, 0x03}
)  # x509_get_attr_type_value


def _oid(dotted: str) -> bytes:
    parts = [int(x) for x in dotted.split(".")]
    out = bytearray([40 * parts[0] + parts[1]])
    for n in parts[2:]:
        chunk = [n & 0x7F]
        n >>= 7
        while n:
            chunk.append(0x80 | (n & 0x7F))
            n >>= 7
        out += bytes(reversed(chunk))
    return bytes(out)


# oid.c oid_sig_alg (default config: MD2/MD4 off). value: (md, pk)
_SIG_ALGS = {
    _oid("1.2.840.113549.1.1.4"): ("md5", "rsa"),
    _oid("1.2.840.113549.1.1.5"): ("sha1", "rsa"),
    _oid("1.2.840.113549.1.1.14"): ("sha224", "rsa"),
    _oid("1.2.840.113549.1.1.11"): ("sha256", "rsa"),
    _oid("1.2.840.113549.1.1.12"): ("sha384", "rsa"),
    _oid("1.2.840.113549.1.1.13"): ("sha512", "rsa"),
    _oid("1.3.14.3.2.29"): ("sha1", "rsa"),  # MBEDTLS_OID_RSA_SHA_OBS
    _oid("1.2.840.10045.4.1"): ("sha1", "ecdsa"),
    _oid("1.2.840.10045.4.3.1"): ("sha224", "ecdsa"),
    _oid("1.2.840.10045.4.3.2"): ("sha256", "ecdsa"),
    _oid("1.2.840.10045.4.3.3"): ("sha384", "ecdsa"),
    _oid("1.2.840.10045.4.3.4"): ("sha512", "ecdsa"),
    _oid("1.2.840.113549.1.1.10"): ("", "rsassa-pss"),
}
_RSASSA_PSS = _oid("1.2.840.113549.1.1.10")
_MGF1 = _oid("1.2.840.113549.1.1.8")
# oid.c oid_md_alg
_MD_ALGS = {
    _oid("1.2.840.113549.2.5"): "md5",
    _oid("1.3.14.3.2.26"): "sha1",
    _oid("2.16.840.1.101.3.4.2.4"): "sha224",
    _oid("2.16.840.1.101.3.4.2.1"): "sha256",
    _oid("2.16.840.1.101.3.4.2.2"): "sha384",
    _oid("2.16.840.1.101.3.4.2.3"): "sha512",
    _oid("1.3.36.3.2.1"): "ripemd160",
}
_MD_ALGS_36 = {
    **_MD_ALGS,
    _oid("2.16.840.1.101.3.4.2.7"): "sha3-224",
    _oid("2.16.840.1.101.3.4.2.8"): "sha3-256",
    _oid("2.16.840.1.101.3.4.2.9"): "sha3-384",
    _oid("2.16.840.1.101.3.4.2.10"): "sha3-512",
}
_RSA = _oid("1.2.840.113549.1.1.1")
_RFC8410_KEYS = {_oid("1.3.101.110"), _oid("1.3.101.111")}  # 3.6 reads X25519/X448 keys
_EC_KEYS = {_oid("1.2.840.10045.2.1"), _oid("1.3.132.1.12")}  # id-ecPublicKey, id-ecDH
# oid.c oid_ecp_grp -> field size in bytes (all enabled by default and in ESP-IDF's Kconfig)
_CURVES = {
    _oid("1.2.840.10045.3.1.1"): ("secp192r1", 24),
    _oid("1.3.132.0.33"): ("secp224r1", 28),
    _oid("1.2.840.10045.3.1.7"): ("secp256r1", 32),
    _oid("1.3.132.0.34"): ("secp384r1", 48),
    _oid("1.3.132.0.35"): ("secp521r1", 66),
    _oid("1.3.132.0.31"): ("secp192k1", 24),
    _oid("1.3.132.0.32"): ("secp224k1", 28),
    _oid("1.3.132.0.10"): ("secp256k1", 32),
    _oid("1.3.36.3.3.2.8.1.1.7"): ("brainpoolP256r1", 32),
    _oid("1.3.36.3.3.2.8.1.1.11"): ("brainpoolP384r1", 48),
    _oid("1.3.36.3.3.2.8.1.1.13"): ("brainpoolP512r1", 64),
}
# oid.c oid_x509_ext
_EXT_BASIC_CONSTRAINTS = _oid("2.5.29.19")
_EXT_KEY_USAGE = _oid("2.5.29.15")
_EXT_EXT_KEY_USAGE = _oid("2.5.29.37")
_EXT_SAN = _oid("2.5.29.17")
_EXT_NS_CERT_TYPE = _oid("2.16.840.1.113730.1.1")
_EXT_POLICIES = _oid("2.5.29.32")
_EXT_SKI = _oid("2.5.29.14")
_EXT_AKI = _oid("2.5.29.35")
_EXTS_228 = (
    _EXT_BASIC_CONSTRAINTS,
    _EXT_KEY_USAGE,
    _EXT_EXT_KEY_USAGE,
    _EXT_SAN,
    _EXT_NS_CERT_TYPE,
    _EXT_POLICIES,
)
_EXTS_36 = (*_EXTS_228, _EXT_SKI, _EXT_AKI)
_ANY_POLICY = _oid("2.5.29.32.0")
_HW_MODULE_NAME = _oid("1.3.6.1.5.5.7.8.4")
# MBEDTLS_MPI_MAX_SIZE (1024 bytes) in mbedtls_config.h / config.h
_MPI_MAX_BITS = 8192
_INT_MAX = 0x7FFFFFFF

_EXT_NAMES = {
    _oid("2.5.29.30"): "nameConstraints",
    _oid("2.5.29.36"): "policyConstraints",
    _oid("2.5.29.33"): "policyMappings",
    _oid("2.5.29.54"): "inhibitAnyPolicy",
    _oid("2.5.29.18"): "issuerAltName",
    _oid("2.5.29.31"): "cRLDistributionPoints",
    _oid("1.3.6.1.5.5.7.1.1"): "authorityInfoAccess",
    _oid("1.3.6.1.5.5.7.1.24"): "TLS feature (must-staple)",
    _EXT_SKI: "subjectKeyIdentifier",
    _EXT_AKI: "authorityKeyIdentifier",
    _EXT_POLICIES: "certificatePolicies",
}
_ALG_NAMES = {
    _oid("1.3.101.112"): "Ed25519",
    _oid("1.3.101.113"): "Ed448",
    _oid("1.3.101.110"): "X25519",
    _oid("1.3.101.111"): "X448",
    _oid("1.2.840.10040.4.1"): "DSA",
    _oid("1.2.840.10040.4.3"): "DSA with SHA-1",
    _oid("2.16.840.1.101.3.4.3.2"): "DSA with SHA-256",
    _RSASSA_PSS: "RSASSA-PSS",
}


def _dotted(oid: bytes) -> str:
    if not oid:
        return "(empty)"
    parts = [oid[0] // 40 if oid[0] < 80 else 2, oid[0] % 40 if oid[0] < 80 else oid[0] - 80]
    n = 0
    for b in oid[1:]:
        n = (n << 7) | (b & 0x7F)
        if not b & 0x80:
            parts.append(n)
            n = 0
    return ".".join(str(p) for p in parts)


def _oid_name(oid: bytes) -> str:
    name = _EXT_NAMES.get(oid) or _ALG_NAMES.get(oid)
    return f"{name} ({_dotted(oid)})" if name else _dotted(oid)


class _Reader:
    """``unsigned char **p`` over one buffer; methods mirror ``mbedtls_asn1_*``."""

    __slots__ = ("d", "p")

    def __init__(self, data: bytes) -> None:
        self.d = data
        self.p = 0

    def get_len(self, end: int) -> int:
        d, p = self.d, self.p
        if end - p < 1:
            raise _Asn1(_OUT_OF_DATA)
        first = d[p]
        if first < 0x80:
            n, self.p = first, p + 1
        else:
            k = first & 0x7F
            if k < 1 or k > 4:
                raise _Asn1(_INVALID_LENGTH)
            if end - p < k + 1:
                raise _Asn1(_OUT_OF_DATA)
            n, self.p = int.from_bytes(d[p + 1 : p + 1 + k], "big"), p + 1 + k
        if n > end - self.p:
            raise _Asn1(_OUT_OF_DATA)
        return n

    def get_tag(self, end: int, tag: int) -> int:
        if end - self.p < 1:
            raise _Asn1(_OUT_OF_DATA)
        if self.d[self.p] != tag:
            raise _Asn1(_UNEXPECTED_TAG)
        self.p += 1
        return self.get_len(end)

    def get_bool(self, end: int) -> bool:
        n = self.get_tag(end, _BOOLEAN)
        if n != 1:
            raise _Asn1(_INVALID_LENGTH)
        v = self.d[self.p] != 0
        self.p += 1
        return v

    def get_int(self, end: int) -> int:
        """``asn1_get_tagged_int``: non-negative, fits in a C int."""
        n = self.get_tag(end, _INTEGER)
        if n == 0 or self.d[self.p] & 0x80:
            raise _Asn1(_INVALID_LENGTH)
        while n > 0 and self.d[self.p] == 0:
            self.p += 1
            n -= 1
        if n > 4 or (n == 4 and self.d[self.p] & 0x80):
            raise _Asn1(_INVALID_LENGTH)
        v = int.from_bytes(self.d[self.p : self.p + n], "big")
        self.p += n
        return v

    def get_bitstring(self, end: int) -> bytes:
        n = self.get_tag(end, _BIT_STRING)
        if n < 1:
            raise _Asn1(_OUT_OF_DATA)
        if self.d[self.p] > 7:
            raise _Asn1(_INVALID_LENGTH)
        self.p += 1
        bits = self.d[self.p : self.p + n - 1]
        self.p += n - 1
        if self.p != end:
            raise _Asn1(_LENGTH_MISMATCH)
        return bits

    def get_bitstring_null(self, end: int) -> int:
        n = self.get_tag(end, _BIT_STRING)
        if n == 0 or self.d[self.p] != 0:
            raise _Asn1(_INVALID_DATA)
        self.p += 1
        return n - 1

    def get_alg(self, end: int) -> tuple[bytes, int, bytes]:
        """``mbedtls_asn1_get_alg``: (oid, params tag or 0, params)."""
        n = self.get_tag(end, _SEQUENCE)
        if end - self.p < 1:
            raise _Asn1(_OUT_OF_DATA)
        end = self.p + n
        k = self.get_tag(end, _OID)
        oid = self.d[self.p : self.p + k]
        self.p += k
        if self.p == end:
            return oid, 0, b""
        tag = self.d[self.p]
        self.p += 1
        k = self.get_len(end)
        params = self.d[self.p : self.p + k]
        self.p += k
        if self.p != end:
            raise _Asn1(_LENGTH_MISMATCH)
        return oid, tag, params

    def sequence_of(self, end: int, tag: int) -> list[bytes]:
        """``mbedtls_asn1_get_sequence_of``: every element must carry ``tag``."""
        n = self.get_tag(end, _SEQUENCE)
        if self.p + n != end:
            raise _Asn1(_LENGTH_MISMATCH)
        out = []
        while self.p < end:
            t = self.d[self.p]
            self.p += 1
            if t != tag:
                raise _Asn1(_UNEXPECTED_TAG)
            k = self.get_len(end)
            out.append(self.d[self.p : self.p + k])
            self.p += k
        return out


class _Parser:
    def __init__(self, der: bytes, version: str) -> None:
        self.r = _Reader(der)
        self.v36 = version == "3.6"
        self.md_algs = _MD_ALGS_36 if self.v36 else _MD_ALGS

    def fail(self, high: int, e: _Asn1 | int, reason: str) -> _Refused:
        low = e.code if isinstance(e, _Asn1) else e
        return _Refused(high + low, reason)

    # -- x509_crt_parse_der_core ------------------------------------------------------
    def parse(self) -> None:
        r = self.r
        try:
            n = r.get_tag(len(r.d), _SEQUENCE)
        except _Asn1:
            raise _Refused(X509_INVALID_FORMAT, "not a DER certificate") from None
        crt_end = r.p + n
        try:
            n = r.get_tag(crt_end, _SEQUENCE)
        except _Asn1 as e:
            raise self.fail(X509_INVALID_FORMAT, e, "no TBSCertificate") from None
        end = r.p + n
        version = self.version(end)
        self.serial(end)
        sig_oid, sig_tag, sig_params = self.alg(end)
        if version < 0 or version > 2:
            raise _Refused(X509_UNKNOWN_VERSION, f"X.509 version {version + 1}")
        version += 1
        self.sig_alg(sig_oid, sig_tag, sig_params)
        try:
            n = r.get_tag(end, _SEQUENCE)
        except _Asn1 as e:
            raise self.fail(X509_INVALID_FORMAT, e, "issuer is not a SEQUENCE") from None
        self.name(r.p + n, "issuer")
        self.dates(end)
        try:
            n = r.get_tag(end, _SEQUENCE)
        except _Asn1 as e:
            raise self.fail(X509_INVALID_FORMAT, e, "subject is not a SEQUENCE") from None
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
        try:
            n = r.get_len(end)
        except _Asn1 as e:
            raise self.fail(X509_INVALID_SERIAL, e, "malformed serial number") from None
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
        if tag != _SEQUENCE:
            raise _Refused(X509_INVALID_ALG + _UNEXPECTED_TAG, bad)
        r = _Reader(params)
        end = len(params)
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
        if tag != _SEQUENCE:
            raise _Refused(X509_INVALID_ALG + _UNEXPECTED_TAG, bad)
        r = _Reader(params)
        end = len(params)
        if r.p >= end:
            raise _Refused(X509_INVALID_ALG + _OUT_OF_DATA, bad)
        try:
            n = r.get_tag(end, _OID)
        except _Asn1 as e:
            raise self.fail(X509_INVALID_ALG, e, bad) from None
        if params[r.p : r.p + n] not in self.md_algs:
            raise _Refused(X509_INVALID_ALG + _OID_NOT_FOUND, bad)
        r.p += n
        if r.p == end:
            return
        try:
            n = r.get_tag(end, _NULL)
        except _Asn1 as e:
            raise self.fail(X509_INVALID_ALG, e, bad) from None
        if n != 0:
            raise _Refused(X509_INVALID_ALG, bad)
        if r.p != end:
            raise _Refused(X509_INVALID_ALG + _LENGTH_MISMATCH, bad)

    def name(self, end: int, which: str) -> None:
        """``mbedtls_x509_get_name`` over [p, end)."""
        r = self.r
        bad = f"malformed {which} name"
        while True:
            try:
                n = r.get_tag(end, _SET)
            except _Asn1 as e:
                raise self.fail(X509_INVALID_NAME, e, bad) from None
            end_set = r.p + n
            while True:
                self.attr(end_set, which)
                if r.p == end_set:
                    break
            if r.p == end:
                return

    def attr(self, end: int, which: str) -> None:
        """``x509_get_attr_type_value``."""
        r = self.r
        bad = f"malformed {which} name"
        try:
            n = r.get_tag(end, _SEQUENCE)
        except _Asn1 as e:
            raise self.fail(X509_INVALID_NAME, e, bad) from None
        end = r.p + n
        if end - r.p < 1:
            raise _Refused(X509_INVALID_NAME + _OUT_OF_DATA, bad)
        try:
            n = r.get_tag(end, _OID)
        except _Asn1 as e:
            raise self.fail(X509_INVALID_NAME, e, bad) from None
        oid = r.d[r.p : r.p + n]
        r.p += n
        if end - r.p < 1:
            raise _Refused(X509_INVALID_NAME + _OUT_OF_DATA, bad)
        tag = r.d[r.p]
        if tag not in _NAME_STRING_TAGS:
            raise _Refused(
                X509_INVALID_NAME + _UNEXPECTED_TAG,
                f"{which} attribute {_dotted(oid)} is a {_STRING_TYPES.get(tag, hex(tag))}, "
                "a string type mbedTLS does not read",
            )
        r.p += 1
        try:
            n = r.get_len(end)
        except _Asn1 as e:
            raise self.fail(X509_INVALID_NAME, e, bad) from None
        r.p += n
        if r.p != end:
            raise _Refused(X509_INVALID_NAME + _LENGTH_MISMATCH, bad)

    def dates(self, end: int) -> None:
        r = self.r
        try:
            n = r.get_tag(end, _SEQUENCE)
        except _Asn1 as e:
            raise self.fail(X509_INVALID_DATE, e, "malformed validity") from None
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
        try:
            n = r.get_len(end)
        except _Asn1 as e:
            raise self.fail(X509_INVALID_DATE, e, "malformed date") from None
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
        try:
            n = r.get_tag(end, _SEQUENCE)
        except _Asn1 as e:
            raise self.fail(PK_KEY_INVALID_FORMAT, e, "malformed public key") from None
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
            raise _Refused(PK_UNKNOWN_NAMED_CURVE, f"curve {_dotted(params)} is not supported")
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
        raise _Refused(ECP_FEATURE_UNAVAILABLE, f"malformed {name} point")

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

    # -- x509_get_crt_ext ---------------------------------------------------------------
    def extensions(self, end: int) -> None:
        r = self.r
        if r.p == end:
            return
        bad = "malformed extensions"
        try:
            n = r.get_tag(end, 0xA3)
            ext_end = r.p + n
            k = r.get_tag(ext_end, _SEQUENCE)
            if ext_end != r.p + k:
                raise _Asn1(_LENGTH_MISMATCH)
        except _Asn1 as e:
            raise self.fail(X509_INVALID_EXTENSIONS, e, bad) from None
        end = ext_end
        known = _EXTS_36 if self.v36 else _EXTS_228
        seen: set[bytes] = set()
        while r.p < end:
            try:
                n = r.get_tag(end, _SEQUENCE)
                end_data = r.p + n
                k = r.get_tag(end_data, _OID)
                oid = r.d[r.p : r.p + k]
                r.p += k
                critical = False
                try:
                    critical = r.get_bool(end_data)
                except _Asn1 as e:
                    if e.code != _UNEXPECTED_TAG:
                        raise
                k = r.get_tag(end_data, _OCTET_STRING)
                end_octet = r.p + k
                if end_octet != end_data:
                    raise _Asn1(_LENGTH_MISMATCH)
            except _Asn1 as e:
                raise self.fail(X509_INVALID_EXTENSIONS, e, bad) from None
            if oid not in known:
                r.p = end_octet
                if critical:
                    raise _Refused(
                        X509_INVALID_EXTENSIONS + _UNEXPECTED_TAG,
                        f"critical extension {_oid_name(oid)} is not supported",
                    )
                continue
            if oid in seen:
                raise _Refused(X509_INVALID_EXTENSIONS, f"extension {_oid_name(oid)} repeated")
            seen.add(oid)
            self.extension(oid, critical, end_octet)
        if r.p != end:  # pragma: no cover - the loop ends exactly at end or raised
            raise _Refused(X509_INVALID_EXTENSIONS + _LENGTH_MISMATCH, bad)

    def extension(self, oid: bytes, critical: bool, end: int) -> None:
        r = self.r
        name = _oid_name(oid)
        bad = f"malformed {name}"
        try:
            if oid == _EXT_BASIC_CONSTRAINTS:
                self.basic_constraints(end)
            elif oid in (_EXT_KEY_USAGE, _EXT_NS_CERT_TYPE):
                bits = r.get_bitstring(end)
                if oid == _EXT_NS_CERT_TYPE and len(bits) > 1:
                    raise _Asn1(_INVALID_LENGTH)
                if not bits and not self.v36:
                    raise _Asn1(_INVALID_LENGTH)
            elif oid == _EXT_EXT_KEY_USAGE:
                if not r.sequence_of(end, _OID):
                    raise _Asn1(_INVALID_LENGTH)
            elif oid == _EXT_SAN:
                n = r.get_tag(end, _SEQUENCE)
                if r.p + n != end:
                    raise _Asn1(_LENGTH_MISMATCH)
                self.general_names(end)
            elif oid == _EXT_POLICIES:
                if self.policies(end) and critical:
                    raise _Refused(
                        X509_FEATURE_UNAVAILABLE,
                        "critical certificatePolicies names a policy other than anyPolicy",
                    )
            elif oid == _EXT_SKI:
                k = r.get_tag(end, _OCTET_STRING)
                r.p += k
                if r.p != end:
                    raise _Asn1(_LENGTH_MISMATCH)
            elif oid == _EXT_AKI:
                self.authority_key_id(end)
        except _Asn1 as e:
            raise self.fail(X509_INVALID_EXTENSIONS, e, bad) from None

    def basic_constraints(self, end: int) -> None:
        r = self.r
        r.get_tag(end, _SEQUENCE)
        if r.p == end:
            return
        try:
            r.get_bool(end)
        except _Asn1 as e:
            if e.code != _UNEXPECTED_TAG:
                raise
            r.get_int(end)
        if r.p == end:
            return
        pathlen = r.get_int(end)
        if r.p != end:
            raise _Asn1(_LENGTH_MISMATCH)
        if pathlen == _INT_MAX:
            raise _Asn1(_INVALID_LENGTH)

    def general_names(self, end: int) -> None:
        """``x509_get_subject_alt_name`` (3.6: ``..._ext``) after the SEQUENCE header."""
        r = self.r
        while r.p < end:
            tag = r.d[r.p]
            r.p += 1
            n = r.get_len(end)
            value = r.d[r.p : r.p + n]
            if tag & 0xC0 != 0x80:
                raise _Asn1(_UNEXPECTED_TAG)
            self.general_name(tag & 0x1F, value)
            r.p += n
        if r.p != end:  # pragma: no cover - get_len keeps p within end
            raise _Asn1(_LENGTH_MISMATCH)

    def general_name(self, kind: int, value: bytes) -> None:
        """``mbedtls_x509_parse_subject_alt_name``: FEATURE_UNAVAILABLE is tolerated."""
        if kind == 0:
            self.other_name(value)
        elif kind == 7 and self.v36 and len(value) not in (4, 16):
            raise _Refused(X509_BAD_INPUT_DATA, f"iPAddress SAN of {len(value)} bytes")
        elif kind == 4 and self.v36:
            sub = _Parser(value, "3.6")
            try:
                n = sub.r.get_tag(len(value), _SEQUENCE)
            except _Asn1 as e:
                raise _Refused(e.code, "malformed directoryName SAN") from None
            sub.name(sub.r.p + n, "directoryName SAN")

    def other_name(self, value: bytes) -> None:
        """``x509_get_other_name``: only HwModuleName is read; others are tolerated."""
        r = _Reader(value)
        end = len(value)
        n = r.get_tag(end, _OID)
        if value[r.p : r.p + n] != _HW_MODULE_NAME:
            return
        r.p += n
        n = r.get_tag(end, 0xA0)
        if end != r.p + n:
            raise _Asn1(_LENGTH_MISMATCH)
        n = r.get_tag(end, _SEQUENCE)
        if end != r.p + n:
            raise _Asn1(_LENGTH_MISMATCH)
        n = r.get_tag(end, _OID)
        r.p += n
        n = r.get_tag(end, _OCTET_STRING)
        r.p += n
        if r.p != end:
            raise _Asn1(_LENGTH_MISMATCH)

    def policies(self, end: int) -> bool:
        """``x509_get_certificate_policies``; True when a policy is not anyPolicy."""
        r = self.r
        n = r.get_tag(end, _SEQUENCE)
        if r.p + n != end or n == 0:
            raise _Asn1(_LENGTH_MISMATCH)
        unsupported = False
        while r.p < end:
            n = r.get_tag(end, _SEQUENCE)
            policy_end = r.p + n
            k = r.get_tag(policy_end, _OID)
            if r.d[r.p : r.p + k] != _ANY_POLICY:
                unsupported = True
            r.p += k
            if r.p < policy_end:
                k = r.get_tag(policy_end, _SEQUENCE)
                r.p += k
            if r.p != policy_end:
                raise _Asn1(_LENGTH_MISMATCH)
        return unsupported

    def authority_key_id(self, end: int) -> None:
        """``x509_get_authority_key_id`` (3.6)."""
        r = self.r
        n = r.get_tag(end, _SEQUENCE)
        if r.p + n != end:
            raise _Asn1(_LENGTH_MISMATCH)
        try:
            n = r.get_tag(end, 0x80)
            r.p += n
        except _Asn1 as e:
            if e.code != _UNEXPECTED_TAG:
                raise
        if r.p < end:
            n = r.get_tag(end, 0xA1)
            self.general_names(r.p + n)
            n = r.get_tag(end, 0x82)
            r.p += n
        if r.p != end:
            raise _Asn1(_LENGTH_MISMATCH)


# Koblitz curves cryptography has no class for: (p, b) of y^2 = x^3 + b (SEC 2, 2.2.1, 2.3.1)
_K1 = {
    "secp192k1": (2**192 - 2**32 - 4553, 3),
    "secp224k1": (2**224 - 2**32 - 6803, 5),
}


def _on_curve(name: str, point: bytes) -> bool:
    """``ecp_check_pubkey_sw``: coordinates below p and the point on the curve."""
    if name in _K1:
        if point[0] != 0x04:
            return True  # decompression of these is not modelled; 3.6 only
        p, b = _K1[name]
        half = (len(point) - 1) // 2
        x, y = int.from_bytes(point[1 : 1 + half], "big"), int.from_bytes(point[1 + half :], "big")
        return x < p and y < p and (y * y - x * x * x - b) % p == 0
    from cryptography.hazmat.primitives.asymmetric import ec

    curve = {
        "secp192r1": ec.SECP192R1,
        "secp224r1": ec.SECP224R1,
        "secp256r1": ec.SECP256R1,
        "secp384r1": ec.SECP384R1,
        "secp521r1": ec.SECP521R1,
        "secp256k1": ec.SECP256K1,
        "brainpoolP256r1": ec.BrainpoolP256R1,
        "brainpoolP384r1": ec.BrainpoolP384R1,
        "brainpoolP512r1": ec.BrainpoolP512R1,
    }[name]()
    try:
        ec.EllipticCurvePublicKey.from_encoded_point(curve, point)
    except ValueError:
        return False
    return True


_STRING_TYPES = {
    0x12: "NumericString",
    0x1A: "VisibleString",
    0x15: "VideotexString",
    0x19: "GraphicString",
    0x1B: "GeneralString",
}


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


def _default_reason(code: int) -> str:
    high = -((-code) & 0xFF80)
    return _HIGH_NAMES.get(high, "refused")
