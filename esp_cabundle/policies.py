"""The policies a bundle is judged by: :class:`Policy` (what it must satisfy, each rule
relaxed by name), :class:`Violation` (a rule a root breaks) and :func:`check_policies`.

Split from :mod:`.bundle` (which re-exports these names) to keep it small: resolving
what the user asked for and judging the result are separate steps.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import TYPE_CHECKING

from .catalog import ALIASES
from .dates import as_datetime
from .errors import ArgumentTypeError, InputError
from .known_roots import known_root
from .spelling import PYTHON, Spelling
from .text import suggest

if TYPE_CHECKING:
    from .bundle import Bundle
    from .verify.profiles import MbedtlsVersion
    from .yamlnodes import Origin

__all__ = [
    "MBEDTLS_VETTED",
    "POLICY_NAMES",
    "Policy",
    "Sizes",
    "Violation",
    "check_policies",
    "mbedtls_parse_error",
]


# Policies a user may relax with ``allow:`` / ``--allow``.
POLICY_NAMES = ("expired", "expires-before-service-end", "not-ca", "over-budget", "unparseable")


# (what, bytes) of each file a budget measures, named as its error shows it.
Sizes = Sequence[tuple[str, int]]


@dataclass(frozen=True, slots=True)
class Policy:
    """What a bundle must satisfy; each rule can be relaxed by name (see POLICY_NAMES).
    A naive ``service_until`` is UTC, as a date in cabundle.yaml is."""

    service_until: datetime | None = None
    max_bytes: int | None = None
    allow: frozenset[str] = frozenset()
    # Where cabundle.yaml wrote service_until (None: a flag, or not given): the error
    # when that day has come names the line CI must change.
    service_until_origin: Origin | None = field(default=None, compare=False)

    if TYPE_CHECKING:  # a date is taken (the start of that day, UTC), kept as a datetime

        def __init__(
            self,
            service_until: date | datetime | None = None,
            max_bytes: int | None = None,
            allow: frozenset[str] = frozenset(),
            service_until_origin: Origin | None = None,
        ) -> None: ...

    def __post_init__(self) -> None:
        if self.service_until is not None:  # compared with aware certificate dates
            object.__setattr__(self, "service_until", as_datetime(self.service_until))
        if isinstance(self.allow, str):  # else its letters: "unknown policy d, e, i, p"
            raise ArgumentTypeError(
                f"Policy allow= takes a set of policy names, not one str: allow={self.allow!r}",
                hint=f"give a frozenset: allow=frozenset({{{self.allow!r}}})",
            )
        if self.max_bytes is not None and (
            not isinstance(self.max_bytes, int) or isinstance(self.max_bytes, bool)
        ):
            raise ArgumentTypeError(
                f"Policy max_bytes= takes a number of bytes (int), not "
                f"{type(self.max_bytes).__name__}: max_bytes={self.max_bytes!r}",
                hint="give an int: max_bytes=4096 (the CLI's --max-bytes reads '4K')",
            )
        unknown = sorted(set(self.allow) - set(POLICY_NAMES))
        if unknown:
            # The CLI's --allow mends a misspelt name in its example; a script is told too.
            hint = f"policies: {', '.join(POLICY_NAMES)}"
            raise InputError(
                f"unknown policy to allow: {', '.join(unknown)}",
                hint=suggest(unknown[0], POLICY_NAMES, hint) if len(unknown) == 1 else hint,
            )
        if self.max_bytes is not None and self.max_bytes <= 0:
            raise InputError(f"max_bytes must be positive, got {self.max_bytes}")


@dataclass(frozen=True, slots=True)
class Violation:
    """A policy a root breaks; ``policy`` is the name that ``allow`` relaxes."""

    policy: str
    subject: str
    message: str
    allowed: bool


# Every aliased root parses with mbedTLS 2.28 (tests/test_catalog.py proves it), so
# builds from presets need not import python-mbedtls at all.
MBEDTLS_VETTED: frozenset[str] = frozenset(ALIASES.values())


def mbedtls_parse_error(der: bytes, *, version: MbedtlsVersion = "2.28") -> str | None:
    """Why mbedTLS ``version`` refuses this DER, or None when it parses.

    Always available: a pure-Python model of ``x509_crt_parse_der_core`` (the tests hold
    it to real mbedTLS). ``mbedtls_x509_crt_parse`` skips such a certificate and keeps the
    rest of a CA file; firmware that treats the skipped count as fatal (Mongoose OS,
    mDash 1.2.13) refuses the whole file, so the build refuses it either way.
    """
    # deferred: the verifier's parse model (~10 ms), for roots that are not known roots
    from .verify.parse import parse_refusal

    refusal = parse_refusal(der, version)
    return str(refusal) if refusal is not None else None


def check_policies(
    bundle: Bundle,
    policy: Policy,
    *,
    at: datetime,
    sizes: Sizes = (),
    check_mbedtls: bool = True,
    spelling: Spelling = PYTHON,
) -> list[Violation]:
    """Every policy each root breaks, marked ``allowed`` where the user relaxed it.

    ``max_bytes`` is held to each ``(what, bytes)`` of ``sizes`` (what a build writes);
    errors name what was measured.

    An end of service that is not after ``at`` is refused (InputError): every root would
    pass that check, so a typo (2020 for 2030) would silently turn it off."""
    if policy.service_until is not None and policy.service_until <= at:
        message = (
            f"the devices' end of service {policy.service_until.date().isoformat()} is not "
            f"after the date judged ({at.date().isoformat()}): no root could fail that check"
        )
        hint = (
            f"give the date the devices must work until ({spelling.service_until}, or "
            "service_until: in cabundle.yaml), or leave it out"
        )
        if policy.service_until_origin is not None:
            raise policy.service_until_origin.error(message, hint=hint)
        raise InputError(message, hint=hint)
    out: list[Violation] = []

    def add(name: str, subject: str, message: str) -> None:
        out.append(Violation(name, subject, message, name in policy.allow))

    for e in bundle.entries:
        c = e.certificate
        if not c.is_ca and not (c.version < 3 and c.self_signed):
            add(
                "not-ca",
                e.label,
                f"{e.label} is not a CA certificate (no basicConstraints CA:TRUE)",
            )
        if c.is_expired(at):
            add("expired", e.label, f"{e.label} expired on {c.not_after.date().isoformat()}")
        elif policy.service_until is not None and c.not_after < policy.service_until:
            add(
                "expires-before-service-end",
                e.label,
                f"{e.label} expires {c.not_after.date().isoformat()}, before the devices' "
                f"end of service {policy.service_until.date().isoformat()}",
            )
        if c.key_problem is not None:
            # mbedtls_pk_parse_subpubkey knows RSA and EC keys on its curves only.
            add(
                "unparseable",
                e.label,
                f"{e.label} is not parseable by mbedTLS 2.28 ({c.key_description})",
            )
        # Aliased catalog roots are proven parseable by a test; skip the costly import.
        elif check_mbedtls and c.sha256 not in MBEDTLS_VETTED:
            known = known_root(c.sha256)  # mbedTLS's verdict, recorded with the facts
            err = known["mbedtls_error"] if known is not None else mbedtls_parse_error(c.der)
            if err is not None:
                add("unparseable", e.label, f"{e.label} is not parseable by mbedTLS 2.28 ({err})")
    for what, size in sizes:
        if policy.max_bytes is not None and size > policy.max_bytes:
            add(
                "over-budget",
                what,
                f"{what} is {size:,} bytes, over the budget of {policy.max_bytes:,} bytes",
            )
    return out
