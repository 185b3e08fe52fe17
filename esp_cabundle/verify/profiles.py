"""Device profiles (verifier rules, clock) and mbedTLS's flag and error vocabulary."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Literal, get_args

from ..errors import InputError

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
PROFILE_MDS = frozenset({"sha224", "sha256", "sha384", "sha512"})
PROFILE_RSA_MIN_BITS = 2048
# A device whose clock was never set believes it is the epoch.
UNSET_CLOCK = datetime(1970, 1, 1, tzinfo=timezone.utc)
# mbedTLS compares times to the second: valid while not_before <= now <= not_after.
SECOND = timedelta(seconds=1)


def flag_names(flags: int) -> tuple[str, ...]:
    """``0x208`` -> ``("NOT_TRUSTED", "FUTURE")``."""
    return tuple(name for bit, name in _FLAG_NAMES if flags & bit)


def error_text(error: int | None) -> str:
    """``-0x2700 (MBEDTLS_ERR_X509_CERT_VERIFY_FAILED, 0xffffd900)``: as devices log it."""
    if error is None:
        return "none"
    name = _ERROR_NAMES.get(error, "mbedTLS error")
    return f"-0x{-error:04x} ({name}, 0x{error & 0xFFFFFFFF:08x})"


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
