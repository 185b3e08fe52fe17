"""What would fix a failing chain, by cause: the CA file, or the server's certificate.

A ``hint:`` that says "add the roots these servers chain to" helps only when the device
found no trusted issuer or an expired root. A leaf for another name, one without
serverAuth, an expired certificate the server sends, or one mbedTLS cannot parse is the
server's to fix: no CA file changes that verdict (README: "The server's name and key
usage"; DOMAIN.md: -0x7a00, CN_MISMATCH). One exception: an expired cross-sign of a root
the catalog ships (Root YR cross-signed by ISRG Root X1) is passed by adding that root,
as mbedTLS looks for a parent among the trusted roots first, by the issuer's name, and
stops there (DOMAIN.md, "Parent search"). A unit whose clock was never set (the
``*-clock-unset`` devices) finds every certificate not yet valid: neither the CA file nor
the server is at fault, the firmware must wait for SNTP before it connects. Nor is
either at fault when mbedTLS 3.6.3+ refuses a handshake for which the firmware never set
a hostname (-0x5d80, the ``+no-hostname`` devices): the firmware must set one.
Nor does adding roots help when the path ends at a root the CA file already holds and
that root expires: mbedTLS takes the trusted root by the issuer's name, an expired one as
fallback, and searches no further (DOMAIN.md, "Parent search"; x509_crt_find_parent_in's
``fallback_parent`` and x509_crt_find_parent's loop, library/x509_crt.c in 2.28.8 and
3.6), so only servers that send a chain ending at another root, held by the CA file, pass
after that date.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from .catalog import Catalog, CatalogEntry, entry_certificate
from .certs import Certificate
from .text import shown_path
from .verify.profiles import (
    BAD_KEY,
    BAD_MD,
    BAD_PK,
    CN_MISMATCH,
    ERR_SSL_VERIFICATION_WITHOUT_HOSTNAME,
    EXPIRED,
    EXT_KEY_USAGE,
    FUTURE,
    KEY_USAGE,
    NOT_TRUSTED,
)

if TYPE_CHECKING:
    from .check import ItemResult
    from .verify import PathStep, TrustSet, Verdict

__all__ = ["fix_hint", "server_fixes", "undated_advice"]

ROOTS = "add the roots these servers chain to"
CLOCK = (
    "connect only after SNTP has set the time (a clock at 1970 finds every certificate "
    "not yet valid: no CA file or server certificate changes that)"
)
HOSTNAME = (
    "have the firmware call mbedtls_ssl_set_hostname before the handshake (mbedTLS 3.6.3 "
    "and later refuse one without it, -0x5d80): no CA file or server certificate changes that"
)


def _dated(v: Verdict) -> int:
    """The date flags the CA file or the server could fix: not 'not yet valid' on a unit
    whose clock reads 1970, which only a set clock fixes."""
    return EXPIRED if v.profile.clock == "unset" else EXPIRED | FUTURE


def _clock_at_fault(v: Verdict) -> bool:
    return v.profile.clock == "unset" and any(s.flags & FUTURE for s in v.path)


def _failing(r: ItemResult) -> Verdict | None:
    """The verdict that fails: at the date checked, else the first flip to failing."""
    tl = r.timeline
    if not tl.start.ok:
        return tl.start
    first = tl.first_failure
    return first.verdict if first is not None and not first.chain_change else None


@functools.cache
def _catalog_roots() -> dict[tuple[bytes, bytes], CatalogEntry]:
    """The catalog's self-signed roots by DER subject and key, loaded once (only when a
    failing chain holds an expired CA certificate)."""
    out: dict[tuple[bytes, bytes], CatalogEntry] = {}
    for entry in Catalog.load():
        cert = entry_certificate(entry)
        if cert.self_signed:
            out.setdefault((cert.subject_der, cert.spki_der), entry)
    return out


def _cross_sign(v: Verdict) -> tuple[int, CatalogEntry] | None:
    """The first certificate of ``v``'s path the server sent out of its dates that is a
    cross-sign of a catalog root (same subject and key), with that root: adding the root
    ends the path below it. Only where trusted parents are searched first (mbedTLS's CA
    list, ESP-IDF 6.0's CA callback) and while the root itself is within its dates."""
    if v.profile.rules == "idf-bundle":  # no CA list: the callback sees only the top
        return None
    now = v.device_time
    for i, s in enumerate(v.path):
        c = s.certificate
        if s.source != "chain" or not s.flags & _dated(v) or c is None:
            continue
        if not c.is_ca or c.self_signed or i == 0:
            continue
        entry = _catalog_roots().get(_key(c))
        if entry is None:
            continue
        if now is not None and not entry_certificate(entry).is_valid_at(now):
            continue
        return i, entry
    return None


def _root_fix(v: Verdict, i: int, entry: CatalogEntry) -> tuple[str, str]:
    """The root to add (by alias, else fingerprint) and why it passes (DOMAIN.md,
    "Parent search": a trusted root matched by the child's issuer name stops the path)."""
    name = entry.alias or f"sha256:{entry.sha256}"
    root = entry_certificate(entry).label
    sent = v.path[i]
    c = sent.certificate
    assert c is not None  # _cross_sign picked one with its certificate
    dates = (
        f"expires {c.not_after.date().isoformat()}"
        if sent.flags & EXPIRED
        else f"valid from {c.not_before.date().isoformat()}"
    )
    return name, (
        f"'{v.path[i - 1].label}' names '{root}' as its issuer, and mbedTLS looks for "
        "that name among the trusted roots before the certificates sent, so the path stops "
        f"at the trusted {root} and the cross-sign the server sends ('{sent.label}', "
        f"{dates}) is never used"
    )


def server_fixes(v: Verdict) -> str | None:
    """What the server must send for ``v`` to pass, as words after "have the server
    send" (None: nothing of the server's is at fault). An expired cross-sign of a catalog
    root is not the server's: adding the root passes it (:func:`fix_hint`)."""
    cross = _cross_sign(v)
    return _sent_fixes(v, v.path if cross is None else v.path[: cross[0]])


def _sent_fixes(v: Verdict, path: Sequence[PathStep]) -> str | None:
    """:func:`server_fixes` over ``path``: the steps the device would still use."""
    own: list[str] = []
    if v.flags & CN_MISMATCH:
        own.append(f"for the name the units connect to ({v.hostname})")
    if v.flags & EXT_KEY_USAGE:
        own.append("with serverAuth in its extendedKeyUsage")
    if v.flags & KEY_USAGE:
        own.append("with digitalSignature in its keyUsage")
    sent = [s for s in path if s.source == "chain"]
    chain: list[str] = []
    if v.stage == "chain-parse":
        chain.append("this mbedTLS can parse")
    if any(s.flags & _dated(v) for s in sent):
        chain.append("within their dates (renewed)")
    if any(s.flags & (BAD_MD | BAD_PK | BAD_KEY) for s in sent):
        chain.append("signed and keyed as this mbedTLS's profile allows")
    words = []
    if own:
        words.append("a certificate " + " and ".join(own))
    if chain:
        words.append("certificates " + " and ".join(chain))
    return "; ".join(words) or None


def undated_advice(r: ItemResult) -> str | None:
    """What a chain with no capture date, whose certificates expire before the date
    checked or within the horizon, lacks, and the line that dates it or how to refresh
    it: the wording of :attr:`.check.ItemResult.undated_note`, said once (:func:`fix_hint`
    points to it; build's refusal lists the note) (None: none undated)."""
    n = len(r.timeline.undated)
    if not n:
        return None
    one = n == 1
    source = shown_path(r.item.chain.source)  # as typed, as renewal_note says it
    at = r.timeline.start.at
    gone = "expired" if all(e.date < at for e in r.timeline.undated) else "expiring"
    text = (
        f"{source} has no '# captured:' date, so its {gone} certificate"
        f"{' is' if one else 's are'} not taken as renewed by the server but judged by "
        f"{'its' if one else 'their'} dates; "
    )
    if r.item.refresh:
        text += f"{r.item.refresh}, or "
    valid = "it was" if one else "they were"
    return text + (
        f"if the chain was saved while {valid} valid, add that date as its first line: "
        "'# captured: YYYY-MM-DD' (UTC)"
    )


def _stale_chain(r: ItemResult, *, roots: bool) -> str | None:
    """What to do about a saved chain whose certificates after the leaf are a chain a
    shipped roadmap says servers stopped sending before the date checked (R11 after
    2026-05-28): refresh it and check again, not add roots for a chain no server sends
    (``roots``: the roots were at fault) nor have the server renew certificates it no
    longer sends (None: not a saved chain, or not one the roadmaps tell stale)."""
    if r.item.periods:  # a roadmap's own chains: their steps are the news
        return None
    # deferred: reading the roadmaps parses YAML and certificates, needed only when
    # the roots are at fault
    from .known_chains import sent_after_leaf

    known = sent_after_leaf(r.item.chain.certificates)
    if known is None or known.end is None or not known.ended_by(r.timeline.start.at):
        return None
    certs = r.item.chain.certificates
    sent = [c.label for c in (certs[1:] if not certs[0].is_ca else certs)]
    shown = shown_path(r.item.chain.source)
    refresh = r.item.refresh or (
        "refresh it ('esp-cabundle chains pull', or 'esp-cabundle chains show --host HOST -o FILE')"
    )
    # a file the caller named is no target's: said by its path alone
    said = r.item.chain_said if r.item.given else f"{r.item.name}: its saved chain {shown}"
    return (
        f"{said} is stale: it "
        f"holds {' <- '.join(sent)}, the {known.roadmap} chain {known.name}, which servers "
        f"sent only until {known.end.date().isoformat()}: {refresh}, then check again"
        + (" (roots added for a chain no server sends fix nothing)" if roots else "")
    )


def _key(c: Certificate) -> tuple[bytes, bytes]:
    return c.subject_der, c.spki_der


@functools.cache
def _roadmap_cross_signs() -> tuple[Certificate, ...]:
    """The shipped roadmaps' cross-signs (CA certificates not self-signed whose subject
    and key are a catalog root's): the evidence of which root a CA moves to."""
    from .known_chains import roadmap_certificates  # deferred: parses YAML and PEM

    roots = _catalog_roots()
    return tuple(
        c for c in roadmap_certificates() if c.is_ca and not c.self_signed and _key(c) in roots
    )


def _successors(root: Certificate, until: datetime) -> list[CatalogEntry]:
    """The catalog roots ``root`` has cross-signed (a roadmap holds the cross-sign, and
    its signature verifies with ``root``'s key) that are valid at ``until``."""
    out: list[CatalogEntry] = []
    for c in _roadmap_cross_signs():
        if c.issuer_der != root.subject_der or not c.signed_by(root):
            continue
        entry = _catalog_roots().get(_key(c))
        if entry is not None and entry not in out and entry_certificate(entry).is_valid_at(until):
            out.append(entry)
    return out


def _held_root_expires(r: ItemResult, v: Verdict, trust: TrustSet | None) -> str | None:
    """What fixes a path that fails only because the trusted root it ends at, which the
    CA file already holds, expires (None: anything else is at fault, or the catalog has
    the same root, same name and key, valid then: adding it passes, as mbedTLS prefers a
    trusted parent within its dates). The roots it has cross-signed are named, and said
    to be in ``trust`` already when they are."""
    top = v.path[-1] if v.path else None
    if top is None or top.source != "trust" or top.certificate is None:
        return None
    if v.stage != "verify" or v.flags & ~EXPIRED or top.flags != EXPIRED:
        return None
    if any(s.flags for s in v.path[:-1]):
        return None
    root = top.certificate
    again = _catalog_roots().get(_key(root))
    if again is not None and entry_certificate(again).is_valid_at(v.at):
        return None
    day = root.not_after.date().isoformat()
    text = (
        f"{r.item.name}: its chain ends at {root.label}, which the CA file already holds "
        f"and which expires {day}: adding roots does not change that, as mbedTLS takes "
        f"the trusted {root.label} by name and searches no further; the servers must send "
        f"a chain ending at another root before {day}, and the CA file must hold that root"
    )
    next_roots = _successors(root, r.timeline.until)
    held = {(a.subject_der, a.spki_der) for a in trust.anchors} if trust is not None else set()
    ours = [e for e in next_roots if _key(entry_certificate(e)) in held]
    names = " or ".join(e.alias or f"sha256:{e.sha256}" for e in (ours or next_roots))
    if ours:
        verb = "is" if len(ours) == 1 else "are"
        text += f" ({names}, which {root.label} has cross-signed, {verb} in it already)"
    elif names:
        text += f" ({names}, which {root.label} has cross-signed)"
    return text


def _roots_at_fault(v: Verdict, path: Sequence[PathStep]) -> bool:
    """No trusted issuer, or the trusted root itself out of its dates (over ``path``,
    the steps the device would still use)."""
    if v.stage == "ca-parse":
        return True
    if len(path) < len(v.path):  # a root to add ends the path: only its flags count
        return any(s.flags & NOT_TRUSTED for s in path)
    if v.flags & NOT_TRUSTED:
        return True
    return any(s.source == "trust" and s.flags & _dated(v) for s in v.path)


def _unissued_fix(r: ItemResult, at: datetime, valid_from: datetime) -> str:
    """A saved chain judged before it existed (:attr:`.timeline.FailingSince.valid_from`):
    neither the server nor the CA file is at fault for a chain not sent then; a date
    within its validity judges it, a chain saved then judges that date."""
    day, first = at.date().isoformat(), valid_from.date().isoformat()
    return (
        f"{r.item.name}: the saved chain is not what the server sent at {day}, so neither "
        f"the server nor the CA file is at fault: give --at a date from {first} on, or "
        f"check a chain the server sent at {day} if one was saved"
    )


def fix_hint(failures: Sequence[ItemResult], trust: TrustSet | None = None) -> str:
    """One hint for ``failures``: what the CA file needs (roots, or the catalog root an
    expired cross-sign stands for), what each server's certificate needs (named by
    target), and how to refresh a saved chain whose certificates are out of date; "add
    the roots" when nothing narrower applies (a server that switches to a chain ending at
    another root). ``trust`` is the CA file judged: a root the hint names is said to be
    in it already when it is."""
    roots = unparsed = clock = hostname = False
    servers: list[str] = []
    added: dict[str, tuple[list[str], str]] = {}  # root -> (targets, why it passes)
    for r in failures:
        v = _failing(r)
        if v is None:  # servers switch chain: the new one ends at a root to add
            roots = True
            continue
        if v.error == ERR_SSL_VERIFICATION_WITHOUT_HOSTNAME:  # refused before any is judged
            hostname = True
            continue
        since = r.timeline.failing_since
        if since is not None and since.valid_from is not None:  # not what was sent then
            servers.append(_unissued_fix(r, since.date, since.valid_from))
            continue
        cross = _cross_sign(v)
        path = v.path if cross is None else v.path[: cross[0]]
        fixes = _sent_fixes(v, path)
        clock = clock or _clock_at_fault(v)
        if v.stage == "ca-parse":
            unparsed = True
        elif _roots_at_fault(v, path) or not (fixes or cross or _clock_at_fault(v)):
            stale = _stale_chain(r, roots=True)
            held = None if stale is not None or cross else _held_root_expires(r, v, trust)
            if stale is not None:  # judged on a chain servers no longer send: not the roots
                servers.append(stale)
            elif held is not None:  # the root is there already: the servers must move
                servers.append(held)
            else:
                roots = True
        if cross is not None:
            name, why = _root_fix(v, *cross)
            added.setdefault(name, ([], why))[0].append(r.item.name)
        dated = any(s.source == "chain" and s.flags & _dated(v) for s in path)
        # An expired intermediate of a chain servers stopped sending: the saved chain is
        # old, the server renews nothing in it.
        stale = _stale_chain(r, roots=False) if fixes and dated else None
        if stale is not None:
            servers.append(stale)
        elif fixes:
            text = (
                f"{r.item.name}: the server's certificate is at fault, not the CA file: "
                f"have the server send {fixes}"
            )
            saved = shown_path(r.item.chain.source)  # as typed, as renewal_note says it
            if dated and r.timeline.undated:  # its note says how to refresh or date it
                text += (
                    f" ({saved} has no '# captured:' date: refresh or date it, as its note says)"
                )
            elif dated and r.item.refresh:
                said = r.item.chain_said if r.item.given else f"its saved chain {saved}"
                text += f" (if {said} is old, {r.item.refresh})"
            servers.append(text)
    parts = [HOSTNAME] * hostname + [CLOCK] * clock + [ROOTS] * roots
    parts += ["drop the roots this firmware cannot parse"] * unparsed
    parts += [f"add {n} ({', '.join(t)}): {why}" for n, (t, why) in added.items()]
    return "; ".join(parts + servers) or ROOTS
