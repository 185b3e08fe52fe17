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

Around the path, the stages a unit goes through (:mod:`.verifier`): mbedTLS parses the
CA file and the server's certificates first (:mod:`.parse`, a model of
``x509_crt_parse_der_core`` held to real mbedTLS by the tests), checks the server's name
when the firmware set one (:mod:`.names`), and after verification the TLS layer checks the
server certificate's key usage for its role. Profiles carry the mbedTLS line (2.28 for
ESP-IDF 4.4 and Arduino-ESP32 2.x, 3.6 for ESP-IDF 5.x): 3.6's default profile refuses
SHA-224 and curves below 128-bit strength.

Modules: ``profiles`` (device profiles, flags, errors), ``asn1``/``parse``/``parse_ext``
(the parse model), ``names`` (name comparison, hostnames), ``trust`` (trust sets),
``nodes`` (certificates as the search sees them, signatures), ``path`` (the chain search
and the bundle callback), ``verdict``, ``verifier``, ``explain``/``explain_device``
(explanations, built when asked) and ``forecast``.

:func:`forecast` finds when a verdict flips between two dates. Verdicts can only change
at a certificate's not-before or just after its not-after, so it evaluates exactly those
instants instead of stepping through days.
"""

from __future__ import annotations

from .asn1 import ParseRefusal
from .forecast import (
    CertEvent,
    Change,
    Forecast,
    forecast,
)
from .names import (
    hostname_matches,
    name_key,
)
from .nodes import (
    describe_certificate,
)
from .parse import parse_refusal
from .profiles import (
    BAD_KEY,
    BAD_MD,
    BAD_PK,
    BUNDLE_DEVICE,
    CLOCKS,
    DEFAULT_DEVICE,
    DEVICE_PROFILES,
    ERR_X509_CERT_VERIFY_FAILED,
    ERR_X509_FATAL_ERROR,
    EXPIRED,
    FUTURE,
    MAX_INTERMEDIATE_CA,
    MBEDTLS_VERSIONS,
    NOT_TRUSTED,
    RULES,
    UNSET_CLOCK,
    Clock,
    DeviceProfile,
    MbedtlsVersion,
    Rules,
    error_text,
    flag_names,
    mbedtls_version_for,
    parse_device_profile,
)
from .trust import (
    KeyEntry,
    TrustAnchor,
    TrustSet,
)
from .verdict import (
    PathStep,
    Verdict,
)
from .verifier import (
    Verifier,
    verify_chain,
)

__all__ = [
    "BAD_KEY",
    "BAD_MD",
    "BAD_PK",
    "BUNDLE_DEVICE",
    "CLOCKS",
    "DEFAULT_DEVICE",
    "DEVICE_PROFILES",
    "ERR_X509_CERT_VERIFY_FAILED",
    "ERR_X509_FATAL_ERROR",
    "EXPIRED",
    "FUTURE",
    "MAX_INTERMEDIATE_CA",
    "MBEDTLS_VERSIONS",
    "NOT_TRUSTED",
    "RULES",
    "UNSET_CLOCK",
    "CertEvent",
    "Change",
    "Clock",
    "DeviceProfile",
    "Forecast",
    "KeyEntry",
    "MbedtlsVersion",
    "ParseRefusal",
    "PathStep",
    "Rules",
    "TrustAnchor",
    "TrustSet",
    "Verdict",
    "Verifier",
    "describe_certificate",
    "error_text",
    "flag_names",
    "forecast",
    "hostname_matches",
    "mbedtls_version_for",
    "name_key",
    "parse_device_profile",
    "parse_refusal",
    "verify_chain",
]
