"""The DER reading primitives of mbedTLS (``asn1parse.c``), its error codes and OID
tables, shared by the certificate parse model (:mod:`.parse`)."""

from __future__ import annotations

from dataclasses import dataclass

from ..pubkeys import dotted_oid, encode_oid

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


_oid = encode_oid


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


def _oid_name(oid: bytes) -> str:
    name = _EXT_NAMES.get(oid) or _ALG_NAMES.get(oid)
    return f"{name} ({dotted_oid(oid)})" if name else dotted_oid(oid)


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

    def expect(self, end: int, tag: int | None, high: int, reason: str) -> int:
        """:meth:`get_tag` (with ``tag`` None, :meth:`get_len`: the caller checked the tag
        and stepped over it), a bad tag or length refused as ``high`` plus the ASN.1
        error's low code (how each mbedTLS x509 reader reports it)."""
        try:
            return self.get_len(end) if tag is None else self.get_tag(end, tag)
        except _Asn1 as e:
            raise _Refused(high + e.code, reason) from None

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

    curves: dict[str, type[ec.EllipticCurve]] = {
        "secp192r1": ec.SECP192R1,
        "secp224r1": ec.SECP224R1,
        "secp256r1": ec.SECP256R1,
        "secp384r1": ec.SECP384R1,
        "secp521r1": ec.SECP521R1,
        "secp256k1": ec.SECP256K1,
        "brainpoolP256r1": ec.BrainpoolP256R1,
        "brainpoolP384r1": ec.BrainpoolP384R1,
        "brainpoolP512r1": ec.BrainpoolP512R1,
    }
    curve = curves[name]()
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


class _ParserBase:
    """State shared by the certificate and extension parsers, and the Name reader both
    use (a directoryName SAN is a Name)."""

    def __init__(self, der: bytes, version: str) -> None:
        self.r = _Reader(der)
        self.v36 = version == "3.6"
        self.md_algs = _MD_ALGS_36 if self.v36 else _MD_ALGS

    def fail(self, high: int, e: _Asn1 | int, reason: str) -> _Refused:
        low = e.code if isinstance(e, _Asn1) else e
        return _Refused(high + low, reason)

    def name(self, end: int, which: str) -> None:
        """``mbedtls_x509_get_name`` over [p, end)."""
        r = self.r
        bad = f"malformed {which} name"
        while True:
            n = r.expect(end, _SET, X509_INVALID_NAME, bad)
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
        n = r.expect(end, _SEQUENCE, X509_INVALID_NAME, bad)
        end = r.p + n
        if end - r.p < 1:
            raise _Refused(X509_INVALID_NAME + _OUT_OF_DATA, bad)
        n = r.expect(end, _OID, X509_INVALID_NAME, bad)
        oid = r.d[r.p : r.p + n]
        r.p += n
        if end - r.p < 1:
            raise _Refused(X509_INVALID_NAME + _OUT_OF_DATA, bad)
        tag = r.d[r.p]
        if tag not in _NAME_STRING_TAGS:
            raise _Refused(
                X509_INVALID_NAME + _UNEXPECTED_TAG,
                f"{which} attribute {dotted_oid(oid)} is a {_STRING_TYPES.get(tag, hex(tag))}, "
                "a string type mbedTLS does not read",
            )
        r.p += 1
        n = r.expect(end, None, X509_INVALID_NAME, bad)
        r.p += n
        if r.p != end:
            raise _Refused(X509_INVALID_NAME + _LENGTH_MISMATCH, bad)
