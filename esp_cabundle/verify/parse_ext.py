"""``x509_get_crt_ext`` and its extension readers (mbedTLS 2.28 and 3.6), for the
certificate parse model."""

from __future__ import annotations

from .asn1 import (
    _ANY_POLICY,
    _EXT_AKI,
    _EXT_BASIC_CONSTRAINTS,
    _EXT_EXT_KEY_USAGE,
    _EXT_KEY_USAGE,
    _EXT_NS_CERT_TYPE,
    _EXT_POLICIES,
    _EXT_SAN,
    _EXT_SKI,
    _EXTS_36,
    _EXTS_228,
    _HW_MODULE_NAME,
    _INT_MAX,
    _INVALID_LENGTH,
    _LENGTH_MISMATCH,
    _OCTET_STRING,
    _OID,
    _SEQUENCE,
    _UNEXPECTED_TAG,
    X509_BAD_INPUT_DATA,
    X509_FEATURE_UNAVAILABLE,
    X509_INVALID_EXTENSIONS,
    _Asn1,
    _oid_name,
    _ParserBase,
    _Reader,
    _Refused,
)


class _ExtensionParser(_ParserBase):
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
            sub = _ParserBase(value, "3.6")
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
