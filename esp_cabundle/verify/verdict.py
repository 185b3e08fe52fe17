"""What a verification returns: the path, the flags, the error the unit logs."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, fields, replace
from datetime import datetime
from typing import Literal

from ..certs import Certificate
from .nodes import Node
from .profiles import DeviceProfile, error_text, flag_names

Source = Literal["chain", "trust"]
# Where the device stopped: reading its CA file, reading the server's certificates,
# verifying the chain (mbedtls_x509_crt_verify), or the TLS layer's own checks after it.
Stage = Literal["ca-parse", "chain-parse", "verify", "tls"]
# The server's name: matched, mismatched (CN_MISMATCH), not judged because no hostname
# was given to the tool, or not checked by the device because its firmware sets none.
# "no-leaf": the chain starts at an issuing CA (a roadmap or intermediate-only chain; a
# self-signed first certificate is a server's own, its name judged).
NameStatus = Literal["matched", "mismatch", "not-judged", "not-set", "no-leaf"]


@dataclass(frozen=True, slots=True)
class PathStep:
    """One certificate on the path the device built, and what it found wrong with it.

    ``source`` is ``chain`` (sent by the server, ``position`` in the sent list) or
    ``trust`` (from the bundle; ``certificate`` is None for a key-only bundle entry).
    """

    label: str
    source: Source
    flags: int
    position: int | None = None
    certificate: Certificate | None = None

    @property
    def flag_names(self) -> tuple[str, ...]:
        return flag_names(self.flags)

    @property
    def sha256(self) -> str | None:
        return self.certificate.sha256 if self.certificate else None


@dataclass(frozen=True, slots=True)
class SaidExplanation:
    """A verdict's two paragraphs, written out: what a pickled :class:`Verdict` carries
    in place of its explainer (a closure over the verifier's state, which no pickle
    takes), so a verdict crossing a process keeps its words."""

    explanation: str
    reasons: str

    def __call__(self, verdict: Verdict, names_code: bool) -> str:
        return self.explanation if names_code else self.reasons


@dataclass(frozen=True, slots=True)
class Verdict:
    """The device's answer for one chain: accepted or not, the path, the flags, the error
    it would log, and a paragraph saying why in terms of certificates."""

    ok: bool
    profile: DeviceProfile
    at: datetime
    device_time: datetime | None
    path: tuple[PathStep, ...]
    flags: int
    error: int | None
    fatal: bool
    stage: Stage = "verify"
    hostname: str | None = None
    name_status: NameStatus = "not-judged"
    # (verdict, names_code) -> the paragraph; names_code false: the code is not named again
    explainer: Callable[[Verdict, bool], str] | None = field(
        default=None, compare=False, repr=False
    )

    def __reduce__(self) -> tuple[type[Verdict], tuple[object, ...]]:
        """Pickled with its explanation written out (see :class:`SaidExplanation`)."""
        said = self
        if self.explainer is not None and not isinstance(self.explainer, SaidExplanation):
            said = replace(self, explainer=SaidExplanation(self.explanation, self.reasons))
        return (Verdict, tuple(getattr(said, f.name) for f in fields(Verdict)))

    @property
    def explanation(self) -> str:
        """A paragraph saying why, built when asked (a forecast judges many instants
        and shows few)."""
        return self.explainer(self, True) if self.explainer is not None else ""

    @property
    def reasons(self) -> str:
        """:attr:`explanation` for a line that leads with the error code: its words do
        not name the code again ("The device logs -0x2700 (...)." is left out; "the unit
        logs it")."""
        return self.explainer(self, False) if self.explainer is not None else ""

    @property
    def name_judged(self) -> bool:
        return self.name_status in ("matched", "mismatch")

    @property
    def flag_names(self) -> tuple[str, ...]:
        return flag_names(self.flags)

    @property
    def error_text(self) -> str | None:
        """The error as the unit logs it (``-0x2700 (MBEDTLS_ERR_...)``); None when it
        accepts, as ``to_dict()``'s ``error`` is null."""
        return None if self.error is None else error_text(self.error, self.profile.mbedtls)

    @property
    def trusted_root(self) -> PathStep | None:
        return next((s for s in self.path if s.source == "trust"), None)

    def signature(self) -> tuple[object, ...]:
        """What must stay equal for two verdicts to count as the same outcome."""
        return (
            self.ok,
            self.flags,
            self.error,
            self.stage,
            tuple((s.label, s.source, s.position, s.flags) for s in self.path),
        )

    def to_dict(self) -> dict[str, object]:
        return {
            "ok": self.ok,
            "device": self.profile.name,
            "rules": self.profile.rules,
            "clock": self.profile.clock,
            "at": self.at.isoformat(),
            "device_time": self.device_time.isoformat() if self.device_time else None,
            "flags": f"0x{self.flags:x}",
            "flag_names": list(self.flag_names),
            "error": _error_json(self.error),
            "fatal": self.fatal,
            "stage": self.stage,
            "mbedtls": self.profile.mbedtls,
            "hostname": self.hostname,
            "name": self.name_status,
            "name_judged": self.name_judged,
            "path": [
                {
                    "label": s.label,
                    "source": s.source,
                    "position": s.position,
                    "sha256": s.sha256,
                    "flags": list(s.flag_names),
                    "not_after": s.certificate.not_after.isoformat() if s.certificate else None,
                }
                for s in self.path
            ],
            "explanation": self.explanation,
        }


@dataclass(slots=True)
class Item:
    node: Node
    trusted: bool
    position: int | None
    flags: int = 0


@dataclass(slots=True)
class Outcome:
    items: list[Item]
    fatal: bool = False
    fatal_reason: str = ""
    callback_failed: int | None = None  # index in items where the bundle callback failed
    callback_anchor: Node | None = None  # the bundle entry that validated the top
    cross_signed: bool = False  # ESP-IDF 6.0 CROSS_SIGNED_VERIFY (bundle as CA callback)


def _error_json(error: int | None) -> str | None:
    if error is None:
        return None
    return f"-0x{-error:04x}" if error < 0 else str(error)
