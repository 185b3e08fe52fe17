"""``x509_crt_verify_chain`` and ESP-IDF's bundle callback, replayed step by step."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime

from ..certs import Certificate
from ..errors import InputError
from ..limits import check_chain_length
from .asn1 import ParseRefusal
from .nodes import KEYONLY_CA, Node, node_for_anchor, node_for_certificate, sig_good
from .parse import parse_refusal
from .profiles import (
    BAD_KEY,
    BAD_MD,
    BAD_PK,
    EXPIRED,
    FUTURE,
    MAX_INTERMEDIATE_CA,
    NOT_TRUSTED,
    PROFILE_CURVES_3,
    PROFILE_RSA_MIN_BITS,
    DeviceProfile,
    MbedtlsVersion,
)
from .trust import TrustAnchor, TrustSet
from .verdict import Item, Outcome


class TrustIndex:
    """The trust set prepared once for many verifications (forecasts, many chains)."""

    def __init__(self, trust: TrustSet, *, parsed_by: MbedtlsVersion | None = None) -> None:
        """``parsed_by``: the anchors are a CA file that mbedTLS of that line parses
        (``mbedtls_x509_crt_parse``): a certificate it refuses is skipped and kept in
        ``skipped`` with the refusal. None: a bundle of names and keys, nothing parsed."""
        self.trust = trust
        anchors = []
        self.skipped: list[tuple[TrustAnchor, ParseRefusal]] = []
        for a in trust.anchors:
            refusal = None
            if parsed_by is not None and a.certificate is not None:
                refusal = parse_refusal(a.certificate.der, parsed_by)
            if refusal is None:
                anchors.append(a)
            else:
                self.skipped.append((a, refusal))
        self.nodes = [node_for_anchor(a) for a in anchors]
        self.by_name: dict[tuple[object, ...], list[Node]] = {}
        for n in self.nodes:
            self.by_name.setdefault(n.subject_key, []).append(n)
        self.raw_ders = {a.certificate.der for a in anchors if a.certificate is not None}
        # The device binary-searches the bundle as stored; gen_crt_bundle.py stores every
        # entry, repeats included, stable-sorted by DER subject.
        if trust.stored_bundle:
            self.sorted_bundle = list(self.nodes)
        else:
            self.sorted_bundle = sorted(self.nodes, key=lambda n: n.subject_der)
        self.sorted_subjects = [n.subject_der for n in self.sorted_bundle]

    def bundle_lookup(self, issuer_der: bytes) -> Node | None:
        """``esp_crt_find_cert``: binary search comparing ``memcmp`` over the shorter
        length, returning whichever entry the search hits first."""
        if not issuer_der:
            return None
        start, end = 0, len(self.sorted_bundle) - 1
        while start <= end:
            middle = (start + end) // 2
            name = self.sorted_subjects[middle]
            n = min(len(issuer_der), len(name))
            a, b = issuer_der[:n], name[:n]
            if a == b:
                return self.sorted_bundle[middle]
            if a < b:
                end = middle - 1
            else:
                start = middle + 1
        return None


def time_bad(node: Node, now: datetime | None, undated: frozenset[bytes]) -> int:
    if now is None or node.not_after is None or node.not_before is None:
        return 0
    if node.cert is not None and node.cert.der in undated:
        return 0
    flags = 0
    if now > node.not_after:
        flags |= EXPIRED
    if node.not_before > now:
        flags |= FUTURE
    return flags


def check_parent(child: Node, parent: Node, top: bool) -> bool:
    """``x509_crt_check_parent``: issuer name, CA bit (v1/v2 trusted roots exempt) and
    keyCertSign."""
    if child.issuer_key != parent.subject_key:
        return False
    need_ca = not (top and parent.version < 3)
    return not need_ca or (parent.is_ca and parent.can_sign_certs)


def _find_parent_in(
    child: Node,
    candidates: Sequence[Node],
    *,
    top: bool,
    path_cnt: int,
    self_cnt: int,
    now: datetime | None,
    undated: frozenset[bytes],
) -> tuple[Node | None, bool]:
    """``x509_crt_find_parent_in``: first suitable time-valid candidate, else the first
    suitable one (expired or future) as fallback."""
    fallback: tuple[Node | None, bool] = (None, False)
    for parent in candidates:
        if not check_parent(child, parent, top):
            continue
        if parent.max_pathlen > 0 and parent.max_pathlen < 1 + path_cnt - self_cnt:
            continue
        good = sig_good(child, parent)
        if top and not good:
            continue
        if time_bad(parent, now, undated):
            if fallback[0] is None:
                fallback = (parent, good)
            continue
        return parent, good
    return fallback


def build_path(
    chain: Sequence[Node],
    index: TrustIndex,
    trusted_for: str,
    now: datetime | None,
    undated: frozenset[bytes],
    profile: DeviceProfile,
) -> Outcome:
    """``x509_crt_verify_chain`` under ``profile``'s mbedTLS line. ``trusted_for``
    selects where trusted parents come from:
    ``list`` (the CA list), ``none`` (ESP-IDF's empty dummy CA) or ``bundle-cb`` (ESP-IDF
    6.0's CA callback: the bundle entry named by the child's issuer, as a key-only CA)."""
    items: list[Item] = []
    outcome = Outcome(items, cross_signed=trusted_for == "bundle-cb")
    child, child_pos, child_trusted = chain[0], 0, False
    self_cnt = 0
    while True:
        item = Item(child, child_trusted, None if child_trusted else child_pos)
        items.append(item)
        item.flags |= time_bad(child, now, undated)
        if child_trusted:
            return outcome
        if child.sig_md not in profile.profile_mds:
            item.flags |= BAD_MD
        if child.sig_pk is None:
            item.flags |= BAD_PK
        if (
            len(items) == 1
            and trusted_for == "list"
            and child.issuer_key == child.subject_key
            and child.cert is not None
            and child.cert.der in index.raw_ders
        ):
            return outcome  # a locally trusted end-entity certificate
        if trusted_for == "list":
            trusted: Sequence[Node] = index.by_name.get(child.issuer_key, ())
        elif trusted_for == "bundle-cb":
            hit = index.bundle_lookup(child.issuer_der)
            trusted = [_synthetic_root(hit, child)] if hit is not None else []
        else:
            trusted = ()
        path_cnt = len(items) - 1
        parent, good = _find_parent_in(
            child, trusted, top=True, path_cnt=path_cnt, self_cnt=self_cnt, now=now, undated=undated
        )
        parent_trusted = parent is not None
        parent_pos = None
        if parent is None:
            rest = chain[child_pos + 1 :]
            parent, good = _find_parent_in(
                child,
                rest,
                top=False,
                path_cnt=path_cnt,
                self_cnt=self_cnt,
                now=now,
                undated=undated,
            )
            if parent is not None:
                parent_pos = child_pos + 1 + next(i for i, n in enumerate(rest) if n is parent)
        if parent is None:
            item.flags |= NOT_TRUSTED
            return outcome
        if len(items) != 1 and child.issuer_key == child.subject_key:
            self_cnt += 1
        if not parent_trusted and len(items) > MAX_INTERMEDIATE_CA:
            outcome.fatal = True
            outcome.fatal_reason = "intermediates"
            return outcome
        if not good:
            item.flags |= NOT_TRUSTED
        if key_bad(parent, profile):
            item.flags |= BAD_KEY
        child, child_trusted = parent, parent_trusted
        if parent_pos is not None:
            child_pos = parent_pos


def _synthetic_root(entry: Node, child: Node) -> Node:
    """ESP-IDF 6.0's ``esp_crt_ca_cb_callback``: a CA whose subject is the child's issuer
    (copied, so the names always match) and whose key is the bundle entry's. It has no
    usable dates: mbedTLS flags them and the verify callback clears those flags again."""
    return replace(
        entry,
        subject_der=child.issuer_der,
        subject_key=child.issuer_key,
        issuer_der=child.issuer_der,
        issuer_key=child.issuer_key,
        **KEYONLY_CA,
    )


def bundle_callback(outcome: Outcome, index: TrustIndex) -> None:
    """``esp_crt_verify_callback`` over the path, top first, as
    ``x509_crt_merge_flags_with_cb`` calls it; the first failure is fatal (-0x3000)."""
    for i in range(len(outcome.items) - 1, -1, -1):
        item = outcome.items[i]
        if item.node.cert is None:
            continue  # ESP-IDF 6.0's synthetic root: its time flags are cleared
        if item.flags & ~BAD_MD != NOT_TRUSTED:
            continue
        entry = index.bundle_lookup(item.node.issuer_der)
        if entry is not None and sig_good(item.node, entry):
            item.flags = 0
            outcome.callback_anchor = entry
            continue
        outcome.callback_failed = i
        outcome.callback_anchor = entry
        return


def key_bad(node: Node, profile: DeviceProfile) -> bool:
    """``x509_profile_check_key``: RSA under 2048 bits; in 3.6 also a curve outside the
    default profile's list (secp256k1, secp224r1, secp192r1 ...)."""
    if node.rsa_bits is not None and node.rsa_bits < PROFILE_RSA_MIN_BITS:
        return True
    return (
        profile.mbedtls == "3.6"
        and node.ec_curve is not None
        and node.ec_curve not in PROFILE_CURVES_3
    )


def ee_flags(leaf: Node, profile: DeviceProfile) -> int:
    return BAD_KEY if key_bad(leaf, profile) else 0


def chain_nodes(chain: Sequence[Certificate]) -> list[Node]:
    if not chain:
        raise InputError("the server chain is empty", hint="a chain starts with the leaf")
    check_chain_length(len(chain))
    return [node_for_certificate(c) for c in chain]
