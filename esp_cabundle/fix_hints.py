"""What would fix a failing chain, by cause: the CA file, or the server's certificate.

A ``hint:`` that says "add the roots these servers chain to" helps only when the device
found no trusted issuer or an expired root. A leaf for another name, one without
serverAuth, an expired certificate the server sends, or one mbedTLS cannot parse is the
server's to fix: no CA file changes that verdict (README: "The server's name and key
usage"; DOMAIN.md: -0x7a00, CN_MISMATCH).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from .text import shown_path
from .verify.profiles import (
    BAD_KEY,
    BAD_MD,
    BAD_PK,
    CN_MISMATCH,
    EXPIRED,
    EXT_KEY_USAGE,
    FUTURE,
    KEY_USAGE,
    NOT_TRUSTED,
)

if TYPE_CHECKING:
    from .check import ItemResult
    from .verify import Verdict

__all__ = ["fix_hint", "server_fixes", "undated_advice"]

ROOTS = "add the roots these servers chain to"


def _failing(r: ItemResult) -> Verdict | None:
    """The verdict that fails: at the date checked, else the first flip to failing."""
    tl = r.timeline
    if not tl.start.ok:
        return tl.start
    first = tl.first_failure
    return first.verdict if first is not None and not first.chain_change else None


def server_fixes(v: Verdict) -> str | None:
    """What the server must send for ``v`` to pass, as words after "have the server
    send" (None: nothing of the server's is at fault)."""
    own: list[str] = []
    if v.flags & CN_MISMATCH:
        own.append(f"for the name the units connect to ({v.hostname})")
    if v.flags & EXT_KEY_USAGE:
        own.append("with serverAuth in its extendedKeyUsage")
    if v.flags & KEY_USAGE:
        own.append("with digitalSignature in its keyUsage")
    sent = [s for s in v.path if s.source == "chain"]
    chain: list[str] = []
    if v.stage == "chain-parse":
        chain.append("this mbedTLS can parse")
    if any(s.flags & (EXPIRED | FUTURE) for s in sent):
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
    checked, lacks, and the line that dates it or how to refresh it: the one wording of
    :attr:`.check.ItemResult.undated_note` and :func:`fix_hint` (None: none undated)."""
    n = len(r.timeline.undated)
    if not n:
        return None
    one = n == 1
    source = shown_path(r.item.chain.source)  # as typed, as renewal_note says it
    text = (
        f"{source} has no '# captured:' date, so its expired certificate"
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


def _roots_at_fault(v: Verdict) -> bool:
    """No trusted issuer, or the trusted root itself out of its dates."""
    if v.stage == "ca-parse" or v.flags & NOT_TRUSTED:
        return True
    return any(s.source == "trust" and s.flags & (EXPIRED | FUTURE) for s in v.path)


def fix_hint(failures: Sequence[ItemResult]) -> str:
    """One hint for ``failures``: what the CA file needs (roots), what each server's
    certificate needs (named by target), and how to refresh a saved chain whose
    certificates are out of date; "add the roots" when nothing narrower applies (a
    server that switches to a chain ending at another root)."""
    roots = unparsed = False
    servers: list[str] = []
    for r in failures:
        v = _failing(r)
        if v is None:  # servers switch chain: the new one ends at a root to add
            roots = True
            continue
        fixes = server_fixes(v)
        if v.stage == "ca-parse":
            unparsed = True
        elif _roots_at_fault(v) or not fixes:
            roots = True
        if fixes:
            text = (
                f"{r.item.name}: the server's certificate is at fault, not the CA file: "
                f"have the server send {fixes}"
            )
            dated = any(s.source == "chain" and s.flags & (EXPIRED | FUTURE) for s in v.path)
            saved = shown_path(r.item.chain.source)  # as typed, as renewal_note says it
            advice = undated_advice(r)  # not taken as renewed: nothing dates the chain
            if dated and advice is not None:
                text += f" ({advice})"
            elif dated and r.item.refresh:
                text += f" (if its saved chain {saved} is old, {r.item.refresh})"
            servers.append(text)
    parts = [ROOTS] * roots + ["drop the roots this firmware cannot parse"] * unparsed
    return "; ".join(parts + servers) or ROOTS
