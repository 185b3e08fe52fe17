"""Device profiles (verifier rules, clock) and mbedTLS's flag and error vocabulary."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone
from typing import Literal, get_args

from ..arguments import require_type
from ..errors import InputError
from ..formats.idf_versions import refuse_unreleased_idf
from ..text import suggest
from .asn1 import ParseRefusal

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
# ssl.h: the server's certificate fails the TLS role checks (keyUsage, extendedKeyUsage,
# EC curve) after an otherwise good verification (MBEDTLS_ERR_SSL_BAD_HS_CERTIFICATE in
# 2.28, MBEDTLS_ERR_SSL_BAD_CERTIFICATE in 3.6: the same value, named per line below).
ERR_SSL_BAD_CERTIFICATE = -0x7A00
# mbedTLS 3.6.3+: a client that verifies the server without mbedtls_ssl_set_hostname().
ERR_SSL_VERIFICATION_WITHOUT_HOSTNAME = -0x5D80
_ERROR_NAMES = {
    ERR_X509_CERT_VERIFY_FAILED: "MBEDTLS_ERR_X509_CERT_VERIFY_FAILED",
    ERR_X509_FATAL_ERROR: "MBEDTLS_ERR_X509_FATAL_ERROR",
    ERR_SSL_BAD_CERTIFICATE: "MBEDTLS_ERR_SSL_BAD_CERTIFICATE",
    ERR_SSL_VERIFICATION_WITHOUT_HOSTNAME: (
        "MBEDTLS_ERR_SSL_CERTIFICATE_VERIFICATION_WITHOUT_HOSTNAME"
    ),
}
# Names 2.28 gives the same values (mbedtls 2.28 include/mbedtls/ssl.h; 3.0 renamed them).
_ERROR_NAMES_2 = {ERR_SSL_BAD_CERTIFICATE: "MBEDTLS_ERR_SSL_BAD_HS_CERTIFICATE"}

# MBEDTLS_X509_MAX_INTERMEDIATE_CA (mbedtls/config.h default, unchanged by ESP-IDF).
MAX_INTERMEDIATE_CA = 8
# mbedtls_x509_crt_profile_default (x509_crt.c): 2.28 takes any SHA-2 and any curve; 3.6
# drops SHA-224 and keeps only curves of at least 128-bit strength. RSA >= 2048 in both.
PROFILE_MDS = frozenset({"sha224", "sha256", "sha384", "sha512"})
PROFILE_MDS_3 = frozenset({"sha256", "sha384", "sha512"})
PROFILE_CURVES_3 = frozenset(
    {
        "secp256r1",
        "secp384r1",
        "secp521r1",
        "brainpoolP256r1",
        "brainpoolP384r1",
        "brainpoolP512r1",
    }
)
PROFILE_RSA_MIN_BITS = 2048
# A device whose clock was never set believes it is the epoch.
UNSET_CLOCK = datetime(1970, 1, 1, tzinfo=timezone.utc)
# mbedTLS compares times to the second: valid while not_before <= now <= not_after.
SECOND = timedelta(seconds=1)


def flag_names(flags: int) -> tuple[str, ...]:
    """``0x208`` -> ``("NOT_TRUSTED", "FUTURE")``."""
    return tuple(name for bit, name in _FLAG_NAMES if flags & bit)


def error_text(error: int | None, mbedtls: MbedtlsVersion = "2.28") -> str:
    """``-0x2700 (MBEDTLS_ERR_X509_CERT_VERIFY_FAILED, 0xffffd900)``: as devices log it,
    with the name the unit's mbedTLS line gives the code.

    A positive value is ``mbedtls_x509_crt_parse``'s count of refused CA certificates,
    which firmware that treats it as fatal logs negated (mDash 1.2.13: ``err 0xffffffff``).
    """
    if error is None:
        return "none"
    if error > 0:
        return (
            f"mbedtls_x509_crt_parse returned {error} (certificates refused; logged as "
            f"0x{-error & 0xFFFFFFFF:08x})"
        )
    name = (_ERROR_NAMES_2 if mbedtls == "2.28" else {}).get(error) or _ERROR_NAMES.get(error)
    if name is None:
        text = ParseRefusal(error, "").code_text
        return f"{text}, 0x{error & 0xFFFFFFFF:08x}" + (")" if "(" in text else "")
    return f"-0x{-error:04x} ({name}, 0x{error & 0xFFFFFFFF:08x})"


Rules = Literal["mbedtls", "idf-bundle", "idf-bundle-cross-signed"]
Clock = Literal["none", "synced", "unset"]
RULES: tuple[str, ...] = get_args(Rules)
CLOCKS: tuple[str, ...] = get_args(Clock)


MbedtlsVersion = Literal["2.28", "3.6"]
MBEDTLS_VERSIONS: tuple[str, ...] = get_args(MbedtlsVersion)
CaParse = Literal["skip", "fatal"]
CA_PARSE_MODES: tuple[str, ...] = get_args(CaParse)


@dataclass(frozen=True, slots=True)
class DeviceProfile:
    """How a unit verifies a server: the verifier rules, its clock, its mbedTLS line, and
    what its firmware does around the library.

    ``name`` is the registry name (``mbedtls-noclock``) or ``RULES:CLOCK`` as typed.
    ``sets_hostname``: the firmware calls ``mbedtls_ssl_set_hostname`` with the server's
    name (esp-tls, Arduino, mDash 1.2.16); False for clients that never do, which 2.28
    then verifies without a name check and 3.6.3+ refuses outright (-0x5d80).
    ``ca_parse``: what the firmware does when ``mbedtls_x509_crt_parse`` refuses some
    certificates of its CA file: ``skip`` them (esp-tls and Arduino check ``ret < 0``
    only; Mongoose OS re-reads the file on disk and skips what does not parse) or treat
    the positive count as ``fatal`` (the Mongoose library in mDash 1.2.13:
    ``if (rc != 0)``, no connection at all).
    """

    rules: Rules
    clock: Clock
    name: str = ""
    description: str = ""
    mbedtls: MbedtlsVersion = "2.28"
    sets_hostname: bool = True
    ca_parse: CaParse = "skip"

    def __post_init__(self) -> None:
        if self.rules not in RULES:
            raise InputError(f"unknown verifier rules '{self.rules}'", hint=_PROFILE_HINT)
        if self.clock not in CLOCKS:
            raise InputError(f"unknown clock mode '{self.clock}'", hint=_PROFILE_HINT)
        if self.mbedtls not in MBEDTLS_VERSIONS:
            raise InputError(
                f"unknown mbedTLS version '{self.mbedtls}'",
                hint=f"modelled versions: {', '.join(MBEDTLS_VERSIONS)}",
            )
        if self.ca_parse not in CA_PARSE_MODES:
            raise InputError(f"unknown CA parse mode '{self.ca_parse}'", hint="skip or fatal")
        if not self.name:
            object.__setattr__(self, "name", f"{self.rules}:{self.clock}")

    @property
    def checks_dates(self) -> bool:
        return self.clock != "none"

    @property
    def profile_mds(self) -> frozenset[str]:
        return PROFILE_MDS_3 if self.mbedtls == "3.6" else PROFILE_MDS

    def device_time(self, at: datetime) -> datetime | None:
        """The time the unit's TLS library compares certificates against: whole seconds
        (``mbedtls_x509_time`` has no fraction, so 21:35:03.600 is 21:35:03)."""
        if self.clock == "none":
            return None
        if self.clock == "unset":
            return UNSET_CLOCK
        return at.replace(microsecond=0)


def _profile(
    name: str, rules: Rules, clock: Clock, description: str, mbedtls: MbedtlsVersion = "2.28"
) -> DeviceProfile:
    return DeviceProfile(rules, clock, name, description, mbedtls)


DEVICE_PROFILES: dict[str, DeviceProfile] = {
    p.name: p
    for p in (
        _profile(
            "mbedtls-noclock",
            "mbedtls",
            "none",
            "mbedTLS CA list, dates never checked (MBEDTLS_HAVE_TIME_DATE off): "
            "Arduino-ESP32 1.x/2.x, mDash 1.2.12-1.2.14, Mongoose OS, ESP-IDF default",
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
            "ESP-IDF 4.4 certificate bundle (esp_crt_bundle_attach, mbedTLS 2.28), default "
            "config without date checks; Arduino-ESP32 2.x setCACertBundle",
        ),
        _profile(
            "idf-bundle-clock",
            "idf-bundle",
            "synced",
            "ESP-IDF 4.4 certificate bundle with CONFIG_MBEDTLS_HAVE_TIME_DATE and a synced clock",
        ),
        _profile(
            "mbedtls3-noclock",
            "mbedtls",
            "none",
            "mbedTLS 3.6 CA list (ESP-IDF 5.x, Arduino-ESP32 3.x), dates never checked: "
            "SHA-224 refused, only P-256/384/521 and Brainpool curves",
            "3.6",
        ),
        _profile(
            "mbedtls3-clock",
            "mbedtls",
            "synced",
            "mbedTLS 3.6 CA list (ESP-IDF 5.x, Arduino-ESP32 3.x), dates checked against an "
            "SNTP-synced clock",
            "3.6",
        ),
        _profile(
            "idf5-bundle",
            "idf-bundle",
            "none",
            "ESP-IDF 5.x certificate bundle (mbedTLS 3.6), default config without date "
            "checks; Arduino-ESP32 3.x setCACertBundle",
            "3.6",
        ),
        _profile(
            "idf5-bundle-clock",
            "idf-bundle",
            "synced",
            "ESP-IDF 5.x certificate bundle (mbedTLS 3.6) with CONFIG_MBEDTLS_HAVE_TIME_DATE "
            "and a synced clock",
            "3.6",
        ),
        _profile(
            "idf-bundle-cross-signed",
            "idf-bundle-cross-signed",
            "none",
            "ESP-IDF 6.0 certificate bundle with CONFIG_MBEDTLS_CERTIFICATE_BUNDLE_"
            "CROSS_SIGNED_VERIFY, no date checks (mbedTLS 4.0, modelled with 3.6's rules)",
            "3.6",
        ),
        _profile(
            "idf-bundle-cross-signed-clock",
            "idf-bundle-cross-signed",
            "synced",
            "ESP-IDF 6.0 CROSS_SIGNED_VERIFY bundle with date checks and a synced clock "
            "(mbedTLS 4.0, modelled with 3.6's rules)",
            "3.6",
        ),
    )
}

# The stricter reading of the common case: an mbedTLS CA list on a unit that knows the
# date. Fleets without a clock say so with --device mbedtls-noclock or a board profile.
DEFAULT_DEVICE = "mbedtls-clock"
# The same for a trust set that is an ESP-IDF bundle, which only the bundle code reads.
BUNDLE_DEVICE = "idf-bundle-clock"

_OPTIONS = {"no-hostname": ("sets_hostname", False), "fatal-ca-parse": ("ca_parse", "fatal")}
_PROFILE_HINT = (
    f"use a profile name ({', '.join(DEVICE_PROFILES)}) or RULES:CLOCK with rules "
    f"{'|'.join(RULES)} and clock {'|'.join(CLOCKS)}; optionally @MBEDTLS "
    f"({'|'.join(MBEDTLS_VERSIONS)}, or idf-5.4 / arduino-2.0.17) and "
    f"{' '.join('+' + o for o in _OPTIONS)}"
)


def mbedtls_version_for(version: str) -> MbedtlsVersion:
    """The modelled mbedTLS line of a library or platform version.

    ``2.28``/``3.6`` (or any 2.x/3.x), ``idf-4.4``/``idf-5.4`` (ESP-IDF < 5 ships 2.x,
    5.x ships 3.x: 3.6 from 5.3, earlier 3.x in 5.0-5.2, modelled as 3.6),
    ``arduino-2.0.17`` (Arduino-ESP32 1.x/2.x: ESP-IDF 3.x/4.4, mbedTLS 2.x; 3.x: ESP-IDF
    5.x), ``mongoose-os`` (2.16-cesanta, modelled as 2.28).
    """
    t = version.strip().lower()
    if t in ("mongoose-os", "mos"):
        return "2.28"
    m = re.fullmatch(r"(?:(idf|esp-idf|arduino|mbedtls)[-_ ]?)?v?((\d+)(?:\.\d+)*)", t)
    if m is None:
        raise InputError(
            f"cannot read the version '{version}'",
            hint="give 2.28 or 3.6, an ESP-IDF version (idf-5.4) or arduino-3.2.0",
        )
    kind, major = m.group(1), int(m.group(3))
    # Releases known to exist: a later major may ship an mbedTLS line nobody modelled.
    if kind in ("idf", "esp-idf") and 3 <= major <= _NEWEST_IDF_MAJOR:
        refuse_unreleased_idf(m.group(2))  # idf-5.6 never was: as --idf-version says
        return "3.6" if major >= 5 else "2.28"
    if kind == "arduino" and 1 <= major <= _NEWEST_ARDUINO_MAJOR:
        return "3.6" if major >= 3 else "2.28"
    if kind in (None, "mbedtls") and major in (2, 3):
        return "3.6" if major == 3 else "2.28"
    what = {"idf": "ESP-IDF", "esp-idf": "ESP-IDF", "arduino": "Arduino-ESP32"}.get(
        kind or "", "mbedTLS"
    )
    raise InputError(
        f"{what} {version} is not modelled",
        hint="give 2.28 or 3.6 (mbedTLS), an ESP-IDF version (idf-5.4: 3.x-6.x) or "
        "arduino-3.2.0 (1.x-3.x); a board version goes after the board's name "
        "(esp-idf-bundle@5.4)",
    )


_NEWEST_IDF_MAJOR = 6
_NEWEST_ARDUINO_MAJOR = 3


def profile_spec(profile: DeviceProfile) -> str:
    """The ``--device`` / ``device:`` text that gives back ``profile``'s rules: a registry
    name when one matches, else ``RULES:CLOCK@LINE``, with its ``+options``."""
    base = next(
        (
            name
            for name, p in DEVICE_PROFILES.items()
            if (p.rules, p.clock, p.mbedtls) == (profile.rules, profile.clock, profile.mbedtls)
        ),
        None,
    )
    if base is None:
        base = f"{profile.rules}:{profile.clock}"
        if profile.mbedtls != "2.28":
            base += f"@{profile.mbedtls}"
    if not profile.sets_hostname:
        base += "+no-hostname"
    if profile.ca_parse == "fatal":
        base += "+fatal-ca-parse"
    return base


def parse_device_profile(text: str) -> DeviceProfile:
    """A registry name (``mbedtls-noclock``) or ``RULES:CLOCK`` (``idf-bundle:synced``),
    then optionally ``@VERSION`` (``@3.6``, ``@idf-5.4``) and ``+no-hostname`` /
    ``+fatal-ca-parse``."""
    _check_name(text)  # None or bytes failed in strip()
    t = text.strip()
    head, *options = t.split("+")
    base_text, at, version = head.partition("@")
    base = _base_profile(base_text.strip(), text)
    changes: dict[str, object] = {}
    if at:
        changes["mbedtls"] = line = mbedtls_version_for(version)
        if line != base.mbedtls or not base.description:
            changes["description"] = _description_on(base, line)
    for o in options:
        if o.strip() not in _OPTIONS:
            raise InputError(
                f"unknown device option '+{o.strip()}' in '{text}'",
                hint=f"options: {', '.join('+' + k for k in _OPTIONS)}",
            )
        field_name, value = _OPTIONS[o.strip()]
        changes[field_name] = value
    if not changes:
        return base
    return replace(base, name=t, **changes)  # type: ignore[arg-type]


def _check_name(text: object) -> None:
    """parse_device_profile's ``text``: a profile's name, a str."""
    if isinstance(text, bytes | bytearray):
        hint = f"give it as str: parse_device_profile({bytes(text).decode(errors='replace')!r})"
    else:
        hint = "parse_device_profile('mbedtls-noclock'), or a board's: board.device_profile()"
    require_type(text, str, "parse_device_profile takes a profile's name (str)", hint)


def _description_on(base: DeviceProfile, line: MbedtlsVersion) -> str:
    """What a unit with ``base``'s rules and clock on mbedTLS ``line`` is: the registry's
    words for that combination (``idf-bundle@idf-5.4`` is ``idf5-bundle``), never the
    platforms of another line."""
    same = (base.rules, base.clock, line)
    for p in DEVICE_PROFILES.values():
        if (p.rules, p.clock, p.mbedtls) == same:
            return p.description
    dates = "dates never checked" if base.clock == "none" else f"clock {base.clock}"
    return f"{base.rules} rules, {dates}, mbedTLS {line}"


def _base_profile(t: str, text: str) -> DeviceProfile:
    if t in DEVICE_PROFILES:
        return DEVICE_PROFILES[t]
    rules, sep, clock = t.partition(":")
    if sep and rules in RULES and clock in CLOCKS:
        return DeviceProfile(rules, clock, t)  # type: ignore[arg-type]

    raise InputError(
        f"unknown device profile '{text}'", hint=suggest(t, DEVICE_PROFILES, _PROFILE_HINT)
    )
