"""Explanations of what happens around path building: what mbedTLS could not parse, the
server's name and key usage, and the chain orders mbedTLS cannot follow."""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

from ..spelling import PYTHON, Spelling
from ..text import plural
from .asn1 import ParseRefusal
from .names import HeldNames, check_cn, held_names, name_key, name_label
from .nodes import Node, sig_good
from .parse import parse_refusal
from .path import TrustIndex
from .profiles import EXT_KEY_USAGE, KEY_USAGE, NOT_TRUSTED
from .verdict import Outcome, Verdict


def _q(label: str) -> str:
    return f"'{label}'"


def explain_early(v: Verdict, where: object, *, names_code: bool = True) -> str:
    """A unit that stopped before path building: its CA file, a server certificate, or
    the 3.6 rule on clients without a hostname. ``names_code`` false: the code the unit
    logs is "it" (a line that leads with the code)."""
    lib = f"mbedTLS {v.profile.mbedtls}"
    code = v.error_text if names_code else "it"
    if v.stage == "ca-parse" and isinstance(where, TrustIndex):
        names = "; ".join(f"{_q(a.label)}: {r}" for a, r in where.skipped)
        return (
            f"{lib} cannot parse {plural(len(where.skipped), 'certificate')} of the CA file "
            f"({names}). "
            "mbedtls_x509_crt_parse skips them and returns their count, keeping the rest, "
            "but this firmware treats any non-zero count as fatal (the Mongoose library's "
            "'if (rc != 0)'), so TLS setup fails before any handshake: the unit logs "
            f"parse(...) err 0x{-len(where.skipped) & 0xFFFFFFFF:x}. Drop those roots."
        )
    if v.stage == "chain-parse" and isinstance(where, tuple):
        nodes, i = where
        n = nodes[i]
        refusal = n.cert and _refusal(n, v.profile.mbedtls)
        return (
            f"The server sends {_q(n.label)} (#{i + 1} as sent), which {lib} cannot parse: "
            f"{refusal}. The handshake ends there (ssl_parse_certificate_chain): the "
            f"unit logs {code}. The server must send certificates this library "
            "can read; no CA file can fix this."
        )
    return (
        f"This firmware verifies the server without calling mbedtls_ssl_set_hostname; "
        f"{lib} (3.6.3 and later) refuses such a handshake outright "
        f"(CVE-2025-27809): the unit logs {code}."
    )


def _refusal(n: Node, version: str) -> ParseRefusal | None:
    assert n.cert is not None
    return parse_refusal(n.cert.der, "3.6" if version == "3.6" else "2.28")


def chain_parse_notes(
    skipped: Sequence[tuple[int, ParseRefusal]], sent: Sequence[Node]
) -> list[str]:
    """Server certificates mbedTLS leaves out (an unknown signature algorithm)."""
    return [
        f"mbedTLS leaves out {_q(sent[i].label)} (#{i + 1} as sent): {r.reason}; it carries on "
        "without it."
        for i, r in skipped
    ]


def ca_parse_notes(outcome: Outcome, chain: Sequence[Node], index: TrustIndex) -> list[str]:
    """A CA-file root mbedTLS skipped that this chain needed."""
    out: list[str] = []
    top = outcome.items[-1].node
    if not outcome.items[-1].flags & NOT_TRUSTED:
        return out
    for anchor, refusal in index.skipped:
        if anchor.certificate is None:
            continue

        if name_key(anchor.subject_der) == top.issuer_key:
            out.append(
                f"The CA file does hold {_q(anchor.label)}, but mbedTLS cannot parse it "
                f"({refusal}): mbedtls_x509_crt_parse skipped it and kept the other roots, "
                "so the device does not trust it."
            )
    return out


def name_notes(v: Verdict, leaf: Node, spelling: Spelling = PYTHON) -> list[str]:
    """What the verdict says of the server's name; ``spelling`` names how to give one."""
    if v.name_status == "not-judged":
        return [
            f"The server's name was not judged: no hostname was given ({spelling.hostname}, "
            "a target's host, or a chain file that records its server or is named after it)."
        ]
    if v.name_status == "no-leaf":
        return [
            "The server's name was not judged: the chain starts at an issuing CA's "
            "certificate, without the server's own (a CA's published chain: its verdict "
            "stands for any certificate that CA issues)."
        ]
    if v.name_status == "not-set":
        return ["This firmware sets no hostname, so mbedTLS does not check the server's name."]
    assert leaf.cert is not None and v.hostname is not None
    held = held_names(leaf.cert)
    lib = f"mbedTLS {v.profile.mbedtls}"
    if v.name_status == "matched":
        return [f"The name {v.hostname} matches {_q(leaf.label)}: {_matched_by(v, held)}."]
    ip = _is_ip(v.hostname)
    why = [_holds(held)]
    if ip and held.ips and v.profile.mbedtls != "3.6":
        also = f" (it would match {v.hostname})" if v.hostname in held.ips else ""
        why.append(
            f"{lib} compares the name with the subjectAltName's dNSNames only "
            f"(x509_crt_verify_name), never with an IP address entry; mbedTLS 3.6 does{also}"
        )
    elif ip and not held.ips:
        why.append("an IP address matches only an IP address entry of a subjectAltName")
    if held.has_san and any(c not in held.dns for c in held.cns):
        why.append("the CN is not read when there is a subjectAltName")
    if not ip and any(d.startswith("*.") for d in held.dns):
        why.append("a wildcard covers exactly one leading label")
    text = " ".join(f"{w if w.startswith('mbedTLS') else w[0].upper() + w[1:]}." for w in why)
    return [
        f"The name {v.hostname} is not among the names {_q(leaf.label)} answers to: "
        f"CN_MISMATCH. {text}"
    ]


def _is_ip(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


def _listing(kind: str, values: Sequence[str]) -> str:
    plural_s = "es" if kind.endswith("ss") else "s"
    return f"{kind}{plural_s if len(values) != 1 else ''} {', '.join(values)}"


def _holds(held: HeldNames) -> str:
    """``its subjectAltName holds IP address 127.0.0.1; its CN is device-gw``."""
    parts = [
        _listing(kind, values)
        for kind, values in (
            ("DNS name", held.dns),
            ("IP address", held.ips),
            ("URI", held.uris),
        )
        if values
    ]
    cn = f"its CN is {', '.join(held.cns)}" if held.cns else "it has no CN"
    if not held.has_san:
        return f"it has no subjectAltName, so mbedTLS reads the CN, and {cn}"
    san = " and ".join(parts) if parts else "no name mbedTLS reads"
    return f"its subjectAltName holds {san}, and {cn}"


def _matched_by(v: Verdict, held: HeldNames) -> str:
    """Which name of the certificate matched, and why that one is read."""
    assert v.hostname is not None
    host = v.hostname.encode("utf-8", "surrogateescape")
    if not held.has_san:
        cn = next((c for c in held.cns if check_cn(c.encode(), host)), held.cns[0])
        return f"its CN {cn} (it has no subjectAltName, so mbedTLS reads the CN)"
    dns = next((d for d in held.dns if check_cn(d.encode(), host)), None)
    hidden = f". Its CN {', '.join(held.cns)} is not read: a subjectAltName hides it"
    if dns is not None:
        return f"its subjectAltName holds the DNS name {dns}" + hidden * any(
            c not in held.dns for c in held.cns
        )
    what = f"the {'IP address' if v.hostname in held.ips else 'URI'} {v.hostname}"
    return (
        f"its subjectAltName holds {what}, which mbedTLS {v.profile.mbedtls} compares "
        "(2.28 does not)" + hidden * any(c not in held.dns for c in held.cns)
    )


def usage_notes(v: Verdict, leaf: Node) -> list[str]:
    out = []
    if v.flags & KEY_USAGE:
        out.append(
            f"The keyUsage of {_q(leaf.label)} lacks digitalSignature, which a TLS server's key "
            "needs in an ECDHE handshake (KEY_USAGE)."
        )
    if v.flags & EXT_KEY_USAGE:
        out.append(
            f"The extendedKeyUsage of {_q(leaf.label)} does not include serverAuth "
            "(EXT_KEY_USAGE): mbedTLS refuses it as a server certificate"
            + (" even though its chain is good." if v.stage == "tls" else ".")
        )
    return out


def path_notes(
    outcome: Outcome, chain: Sequence[Node], index: TrustIndex, sent: Sequence[Node]
) -> list[str]:
    """A usable alternative the device did not try: mbedTLS takes the first suitable
    issuer among the certificates sent after the child and never goes back."""
    out = []
    on_path = {id(it.node) for it in outcome.items}
    for it in outcome.items:
        if it.trusted or it.position is None:
            continue
        for other in chain:
            if id(other) in on_path or other.subject_key != it.node.subject_key:
                continue
            if other.spki_der != it.node.spki_der:
                continue
            anchors = index.by_name.get(other.issuer_key, [])
            if any(sig_good(other, a) for a in anchors):
                issuer = name_label(it.node.issuer_der)
                out.append(
                    f"The device took {_q(it.node.label)} issued by {_q(issuer)} "
                    f"(#{_pos(it.node, sent)} as sent), which leads nowhere; the server also "
                    f"sends {_q(other.label)} issued by {_q(name_label(other.issuer_der))} "
                    f"(#{_pos(other, sent)} as sent), which the bundle would anchor, but "
                    "mbedTLS never goes back to try another issuer: send only the usable "
                    "one, or send it first."
                )
                break
    return out


def _pos(node: Node, sent: Sequence[Node]) -> int:
    """``node``'s number in the list the server sent, counted from 1 as ``chains show``
    and ``inspect`` number certificates (JSON's ``position`` counts from 0)."""
    return next((i for i, n in enumerate(sent, start=1) if n is node), 0)
