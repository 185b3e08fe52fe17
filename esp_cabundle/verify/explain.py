"""A paragraph saying why, in terms of certificates, for a verdict."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from ..spelling import PYTHON, Spelling
from .asn1 import ParseRefusal
from .explain_device import (
    ca_parse_notes,
    chain_parse_notes,
    explain_early,
    name_notes,
    path_notes,
    usage_notes,
)
from .names import name_label
from .nodes import Node, sig_good
from .path import TrustIndex, check_parent, key_bad
from .profiles import (
    BAD_KEY,
    BAD_MD,
    BAD_PK,
    EXPIRED,
    FUTURE,
    MAX_INTERMEDIATE_CA,
    NOT_TRUSTED,
    PROFILE_RSA_MIN_BITS,
    DeviceProfile,
    flag_names,
)
from .verdict import Item, Outcome, Verdict

__all__ = ["explain", "explain_early"]


def _q(label: str) -> str:
    return f"'{label}'"


def _day(dt: datetime | None) -> str:
    return dt.date().isoformat() if dt else "?"


def _where(item: Item) -> str:
    return "in the bundle" if item.trusted else "sent by the server"


def explain(
    v: Verdict,
    outcome: Outcome,
    chain: Sequence[Node],
    index: TrustIndex,
    profile: DeviceProfile,
    *,
    skipped: Sequence[tuple[int, ParseRefusal]] = (),
    sent_as: Sequence[Node] | None = None,
    spelling: Spelling = PYTHON,
    names_code: bool = True,
) -> str:
    """``chain`` is what mbedTLS kept of the certificates the server sent (``sent_as``).
    ``names_code`` false: no sentence names the code the device logs (a line that leads
    with it), unless nothing else is said."""
    items = outcome.items
    parts: list[str] = list(chain_parse_notes(skipped, sent_as or chain))
    if v.ok:
        parts.append("Accepted: " + _path_text(v))
        if profile.rules != "mbedtls" and outcome.callback_anchor is not None:
            parts.append(
                f"ESP-IDF's bundle check found {_q(outcome.callback_anchor.label)} in the "
                "bundle by exact DER name, and its stored key verifies the signature."
            )
        if profile.clock == "none":
            stale = [
                it.node
                for it in items
                if it.node.not_after is not None and v.at > it.node.not_after
            ]
            if stale:
                names = ", ".join(f"{n.label} ({_day(n.not_after)})" for n in stale)
                parts.append(
                    f"This device never checks dates, so expired certificates still count: {names}."
                )
        parts.extend(name_notes(v, chain[0], spelling))
        return " ".join(parts)

    if outcome.fatal:
        parts.append(
            f"The chain needs more than {MAX_INTERMEDIATE_CA} intermediate CAs before "
            "reaching a trusted root; mbedTLS stops with a fatal error "
            f"(MBEDTLS_X509_MAX_INTERMEDIATE_CA = {MAX_INTERMEDIATE_CA})."
        )
    elif outcome.callback_failed is not None:
        parts.append(_explain_callback(outcome, index))
    for i, it in enumerate(items):
        if i == outcome.callback_failed:
            continue
        parts.extend(_explain_item(it, i, items, chain, index, profile, v))
    parts.extend(path_notes(outcome, chain, index, sent_as or chain))
    parts.extend(ca_parse_notes(outcome, chain, index))
    parts.extend(name_notes(v, chain[0], spelling))
    parts.extend(usage_notes(v, chain[0]))
    if names_code or not any(parts):
        parts.append(f"The device logs {v.error_text if names_code else 'it'}.")
    return " ".join(p for p in parts if p)


def _path_text(v: Verdict) -> str:
    steps = []
    for s in v.path:
        where = "bundle" if s.source == "trust" else "sent"
        steps.append(f"{_q(s.label)} ({where})")
    return " ← ".join(steps) + "."


def _explain_callback(outcome: Outcome, index: TrustIndex) -> str:
    assert outcome.callback_failed is not None
    node = outcome.items[outcome.callback_failed].node
    issuer = name_label(node.issuer_der)
    entry = outcome.callback_anchor
    if entry is not None:
        return (
            f"ESP-IDF's bundle check looked up the issuer of {_q(node.label)}, "
            f"{_q(issuer)}, and found it, but the stored key does not verify the "
            "signature (a different key under the same name, or a forged name)."
        )
    if outcome.cross_signed:
        text = (
            f"{_q(node.label)} is issued by {_q(issuer)}, which the bundle does not hold "
            "(ESP-IDF looks each issuer up by its exact DER name)"
        )
    else:
        text = (
            "ESP-IDF's bundle check looks up only the issuer of the topmost sent "
            f"certificate, {_q(node.label)}, by its exact DER name: {_q(issuer)} is not in "
            "the bundle"
        )
    if index.bundle_lookup(node.subject_der) is not None and not outcome.cross_signed:
        text += (
            f", although {_q(node.cert.label if node.cert else node.label)} itself is. "
            "The check does not try other paths, so a cross-signed certificate needs its "
            "issuer in the bundle (why ESP-IDF shipped the expired DST Root CA X3 until "
            "December 2024)."
        )
    else:
        summary = _bundle_summary(index, [node])
        text += ". " + summary[0].upper() + summary[1:] + "."
    return text


def _explain_item(
    it: Item,
    i: int,
    items: Sequence[Item],
    chain: Sequence[Node],
    index: TrustIndex,
    profile: DeviceProfile,
    v: Verdict,
) -> list[str]:
    out: list[str] = []
    n = it.node
    if it.flags & NOT_TRUSTED:
        if i == len(items) - 1:
            out.append(_explain_no_parent(it, chain, index, profile, i))
        else:
            parent = items[i + 1].node
            out.append(
                f"{_q(n.label)} names {_q(parent.label)} as its issuer, but the signature "
                f"does not verify with the key of the {_q(parent.label)} "
                f"{_where(items[i + 1])} (forged or corrupted)."
            )
    if it.flags & EXPIRED:
        out.append(
            f"{_q(n.label)} ({_where(it)}) expired on {_day(n.not_after)} and this device "
            f"checks dates (clock at {_day(v.device_time)})."
        )
    if it.flags & FUTURE:
        if profile.clock == "unset":
            out.append(
                f"{_q(n.label)} is not valid before {_day(n.not_before)}: the device clock "
                "still reads 1970-01-01, so every certificate is 'not yet valid' — connect "
                "only after SNTP has set the time."
            )
        else:
            out.append(
                f"{_q(n.label)} ({_where(it)}) is not valid before {_day(n.not_before)} "
                f"(clock at {_day(v.device_time)})."
            )
    if it.flags & BAD_MD:
        alg = n.cert.signature_algorithm if n.cert else "?"
        out.append(
            f"{_q(n.label)} is signed with {alg}, which mbedTLS {profile.mbedtls}'s default "
            "profile refuses ("
            + ("SHA-256 or stronger only" if profile.mbedtls == "3.6" else "SHA-2 only")
            + ")."
        )
    if it.flags & BAD_KEY:
        if i == 0 and key_bad(n, profile):
            out.append(_key_text(n, profile))
        if i + 1 < len(items) and key_bad(items[i + 1].node, profile):
            out.append(_key_text(items[i + 1].node, profile))
    if it.flags & BAD_PK:
        out.append(f"{_q(n.label)} uses a signature algorithm mbedTLS does not support.")
    if profile.rules != "mbedtls" and it.flags & NOT_TRUSTED and it.flags & ~(NOT_TRUSTED | BAD_MD):
        out.append(
            "ESP-IDF's bundle check acts only on a certificate whose sole problem is "
            f"NOT_TRUSTED; {_q(n.label)} has {', '.join(flag_names(it.flags))}."
        )
    return out


def _explain_no_parent(
    it: Item, chain: Sequence[Node], index: TrustIndex, profile: DeviceProfile, depth: int
) -> str:
    n = it.node
    issuer = name_label(n.issuer_der)
    if profile.rules != "mbedtls":
        return (
            f"{_q(n.label)} is the topmost certificate the device could link; "
            f"its issuer is {_q(issuer)}."
        )
    named = index.by_name.get(n.issuer_key, [])
    if named:
        reasons = []
        for a in named:
            if not check_parent(n, a, True):
                reasons.append(f"{_q(a.label)} in the bundle is not a CA certificate")
            elif a.max_pathlen > 0:
                reasons.append(
                    f"{_q(a.label)} in the bundle has a path length limit: it allows "
                    f"{_cas(a.max_pathlen - 1)} below it (pathLenConstraint "
                    f"{a.max_pathlen - 1}), and {_cas(depth)} sit below it on this path"
                )
            else:
                reasons.append(
                    f"the bundle holds a root named {_q(a.label)}, but its key does not "
                    f"verify the signature of {_q(n.label)} (a different key under the "
                    "same name, or a forged issuer name)"
                )
        return f"{_q(n.label)} is issued by {_q(issuer)}: " + "; ".join(reasons) + "."
    sent = [c for c in chain if c.subject_key == n.issuer_key and c is not n]
    text = f"{_q(n.label)} is issued by {_q(issuer)}, which is not in the bundle"
    if sent:
        why = "it cannot be used as its issuer"
        later = [c for c in sent if chain.index(c) > chain.index(n)] if n in chain else sent
        if not later:
            why = (
                "it comes before it in the sent order, and mbedTLS looks for an issuer only "
                "among the certificates sent after it"
            )
        elif later[0].max_pathlen > 0 and later[0].max_pathlen < 1 + depth:
            why = (
                f"its path length limit allows {_cas(later[0].max_pathlen - 1)} below it "
                f"(pathLenConstraint {later[0].max_pathlen - 1}), and {_cas(depth)} would "
                "sit below it"
            )
        text += f" (the server sends {_q(sent[0].label)}, but {why})"
    elif n.issuer_key != n.subject_key:
        text += " and which the server does not send"
    return f"{text}; {_bundle_summary(index, chain)}."


def _key_text(n: Node, profile: DeviceProfile) -> str:
    if n.rsa_bits is not None and n.rsa_bits < PROFILE_RSA_MIN_BITS:
        return f"{_q(n.label)} has a {n.rsa_bits}-bit RSA key; mbedTLS needs 2048 bits."
    return (
        f"{_q(n.label)} has a {n.ec_curve} key; mbedTLS {profile.mbedtls}'s default profile "
        "accepts only P-256, P-384, P-521 and the Brainpool curves (BAD_KEY)."
    )


def _cas(n: int) -> str:
    return f"{n} intermediate CA{'s' if n != 1 else ''}"


def _bundle_summary(index: TrustIndex, chain: Sequence[Node]) -> str:
    """``the bundle holds only DST Root CA X3, which signs no certificate in this chain``
    (a clause: no leading capital, no final full stop)."""
    nodes = index.nodes
    if not nodes:
        return "the bundle is empty"
    signs: dict[int, list[str]] = {}
    for k, a in enumerate(nodes):
        for c in chain:
            if c.issuer_key == a.subject_key and sig_good(c, a):
                signs.setdefault(k, []).append(c.label)
    signed = "; ".join(f"{nodes[k].label} signs {', '.join(labels)}" for k, labels in signs.items())
    if len(nodes) <= 3:
        held = " and ".join(
            a.label + " (not a CA certificate)" * (not a.is_ca and a.version >= 3) for a in nodes
        )
        text = f"the bundle holds only {held}"
        if signs:
            return f"{text} ({signed})"
        return (
            text
            + (", which sign" if len(nodes) > 1 else ", which signs")
            + (" no certificate in this chain")
        )
    if signs:
        return f"in the bundle, {signed}"
    if len(nodes) == 1:
        return "the bundle's only root signs no certificate in this chain"
    return f"none of the bundle's {len(nodes)} roots signs a certificate in this chain"
