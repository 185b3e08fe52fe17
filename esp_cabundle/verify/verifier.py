"""The verifier: a trust set prepared once, judging chains at any instant."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from ..certs import Certificate
from .explain import explain
from .path import TrustIndex, build_path, bundle_callback, chain_nodes, ee_flags
from .profiles import ERR_X509_CERT_VERIFY_FAILED, ERR_X509_FATAL_ERROR, DeviceProfile
from .trust import TrustSet
from .verdict import PathStep, Verdict


def verify_chain(
    trust: TrustSet,
    chain: Sequence[Certificate],
    profile: DeviceProfile,
    *,
    at: datetime,
) -> Verdict:
    """What a unit with ``trust`` and ``profile`` decides at ``at`` for ``chain`` (the
    certificates in the order the server sends them, leaf first)."""
    return Verifier(trust).verify(chain, profile, at=at)


class Verifier:
    def __init__(self, trust: TrustSet) -> None:
        self.index = TrustIndex(trust)

    def verify(
        self,
        chain: Sequence[Certificate],
        profile: DeviceProfile,
        *,
        at: datetime,
        undated: frozenset[bytes] = frozenset(),
    ) -> Verdict:
        nodes = chain_nodes(chain)
        now = profile.device_time(at)
        trusted_for = {
            "mbedtls": "list",
            "idf-bundle": "none",
            "idf-bundle-cross-signed": "bundle-cb",
        }[profile.rules]
        outcome = build_path(nodes, self.index, trusted_for, now, undated)
        if not outcome.fatal:
            outcome.items[0].flags |= ee_flags(nodes[0])
            if profile.rules != "mbedtls":
                bundle_callback(outcome, self.index)
        flags = 0
        for item in outcome.items:
            flags |= item.flags
        fatal = outcome.fatal or outcome.callback_failed is not None
        if fatal:
            error: int | None = ERR_X509_FATAL_ERROR
        elif flags:
            error = ERR_X509_CERT_VERIFY_FAILED
        else:
            error = None
        path = [
            PathStep(
                it.node.label,
                "trust" if it.trusted else "chain",
                it.flags,
                it.position,
                it.node.cert,
            )
            for it in outcome.items
        ]
        anchor = outcome.callback_anchor
        if (
            profile.rules != "mbedtls"
            and anchor is not None
            and outcome.callback_failed is None
            and not fatal
        ):
            path.append(PathStep(anchor.label, "trust", 0, None, anchor.cert))
        verdict = Verdict(
            ok=error is None,
            profile=profile,
            at=at,
            device_time=now,
            path=tuple(path),
            flags=flags,
            error=error,
            fatal=fatal,
            explanation="",
        )
        text = explain(verdict, outcome, nodes, self.index, profile)
        from dataclasses import replace

        return replace(verdict, explanation=text)
