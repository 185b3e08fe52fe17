"""What a CA file's certificates are as trust anchors: roots, or intermediates.

mbedTLS anchors a chain at any certificate of its CA list, self-signed or not (its
parent search looks in the trusted list first, ``x509_crt_find_parent``), so a CA file
holding only an intermediate works. But it is not a root: an intermediate lives a few
years (Let's Encrypt's R10 for three), and the CA re-issues it and moves its servers to
the new one whenever it likes, so units that trust only it go dark sooner than units
trusting the root it chains to. Counts and notes say which is which.

An ESP-IDF bundle stores only each entry's name and key, not whether it signed itself:
an entry counts as an intermediate when the tool ships a certificate with that name and
key (the catalog's roots, the roadmaps' chains) that is not self-signed, and none that is
(:func:`known_certificates`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from itertools import chain
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .catalog import Catalog
    from .certs import Certificate
    from .verify.trust import KeyEntry, TrustAnchor, TrustSet

__all__ = [
    "anchor_certificates",
    "count_anchors",
    "count_entries",
    "describe_trust",
    "entry_certificates",
    "intermediate_notes",
    "intermediates",
    "known_certificates",
    "not_ca_notes",
    "not_cas",
]


def not_cas(certs: Sequence[Certificate]) -> tuple[Certificate, ...]:
    """The certificates of ``certs`` mbedTLS never takes as an issuer: v3 without
    basicConstraints CA:TRUE (``x509_crt_check_parent`` exempts only v1/v2 roots), as
    the ``not-ca`` policy of ``build`` reads them."""
    return tuple(c for c in certs if not c.is_ca and not (c.version < 3 and c.self_signed))


def intermediates(certs: Sequence[Certificate]) -> tuple[Certificate, ...]:
    """The CA certificates of ``certs`` that are not self-signed (not roots)."""
    non = set(map(id, not_cas(certs)))
    return tuple(c for c in certs if not c.self_signed and id(c) not in non)


def count_anchors(certs: Sequence[Certificate]) -> str:
    """``8 roots``; ``1 CA (an intermediate, not a root)``; ``3 CAs (2 roots, 1
    intermediate)``; ``1 certificate, not a CA``: a file's certificates, counted as what
    they are."""
    return count_entries(len(certs), len(intermediates(certs)), len(not_cas(certs)))


def count_entries(n: int, k: int, m: int = 0) -> str:
    """:func:`count_anchors`'s words for ``n`` certificates of which ``k`` are
    intermediates and ``m`` no CA at all."""
    if m:
        if m == n:
            return "1 certificate, not a CA" if n == 1 else f"{n} certificates, not CAs"
        kinds = [(n - k - m, "root"), (k, "intermediate"), (m, "not a CA")]
        words = [f"{i} {w}{'s' if i != 1 and w != 'not a CA' else ''}" for i, w in kinds if i]
        return f"{n} certificates ({', '.join(words)})"
    if k == 0:
        return f"{n} root{'s' if n != 1 else ''}"
    if k == n:
        return (
            "1 CA (an intermediate, not a root)"
            if n == 1
            else f"{n} CAs (intermediates, not roots)"
        )
    roots = f"{n - k} root{'s' if n - k != 1 else ''}"
    return f"{n} CAs ({roots}, {k} intermediate{'s' if k != 1 else ''})"


def intermediate_notes(
    certs: Sequence[Certificate], catalog: Catalog, *, key_only: bool = False
) -> tuple[str, ...]:
    """One warning per intermediate of ``certs``, naming the catalog's root it chains to
    (issuer name and signature) when the catalog holds it. ``key_only``: the CAs are an
    ESP-IDF bundle's entries, which hold no dates and are searched only for the issuer
    of the topmost certificate a server sends (DOMAIN.md), so a server sending the
    intermediate itself is not anchored at it."""
    notes = []
    held = {c.sha256 for c in certs}
    roots = [c for c in certs if c.self_signed]  # the file's own first, then the catalog's
    for c in dict.fromkeys(intermediates(certs)):
        root = next(
            (
                r
                for r in chain(roots, map(catalog.certificate, catalog))
                if r.subject_der == c.issuer_der and r.self_signed and c.signed_by(r)
            ),
            None,
        )
        head = (
            f"{c.label} is an intermediate, not a root: units anchor at it (mbedTLS takes any "
            f"CA in its list), but go dark when it expires ({c.not_after.date()}) or its CA "
            "re-issues it and its servers move on"
        )
        if key_only:
            head = (
                f"{c.label} is an intermediate, not a root: the bundle's check looks up only "
                f"the issuer of the topmost certificate a server sends, so servers that send "
                f"{c.label} itself are refused through it, and the others once its CA "
                "re-issues it and they move on"
            )
        if root is None:
            notes.append(f"{head}; add the root it chains to (issued by {c.issuer})")
        elif root.sha256 in held:
            notes.append(f"{head}; its root {root.label} is in the file too, and outlives it")
        else:
            alias = catalog.get(root.sha256)
            name = alias.alias if alias is not None and alias.alias else root.sha256[:16]
            notes.append(
                f"{head}, sooner than with its root {root.label} (until "
                f"{root.not_after.date()}): add that root (--root {name})"
            )
    return tuple(notes)


def not_ca_notes(certs: Sequence[Certificate]) -> tuple[str, ...]:
    """One warning per certificate of ``certs`` that is no CA (a server's own, given as
    the trust set): what mbedTLS 2.28 and 3.6 do with it. It is never an issuer
    (``x509_crt_check_parent`` needs the CA bit of a v3 parent), so it anchors no chain;
    it is trusted only as itself, when a server sends exactly it as its own certificate
    and it is self-issued (``x509_crt_check_ee_locally_trusted``)."""
    notes = []
    for c in dict.fromkeys(not_cas(certs)):
        head = (
            f"{c.label} is not a CA certificate (no basicConstraints CA:TRUE): mbedTLS never "
            "takes it as the issuer of another certificate (x509_crt_check_parent), so it "
            "anchors no chain"
        )
        if c.subject_der == c.issuer_der:
            notes.append(
                f"{head}; it is trusted only as itself, by a server that sends exactly this "
                "certificate as its own (x509_crt_check_ee_locally_trusted)"
            )
        else:
            notes.append(
                f"{head}, and it is not self-issued (issued by {c.issuer}), so not even a "
                "server sending it is trusted through it (x509_crt_check_ee_locally_trusted "
                f"takes only a self-issued one); put the CA that issued it in the CA file"
            )
    return tuple(notes)


def known_certificates(catalog: Catalog) -> Mapping[tuple[bytes, bytes], Certificate]:
    """The certificates the tool ships (the catalog's roots, the CA certificates of the
    roadmaps' chains) by DER subject and DER public key; a self-signed one wins over
    another with the same name and key (a cross-signed root anchors as the root)."""
    from .roadmaps import load_roadmap, roadmap_names  # deferred: only for key-only entries

    shipped = (
        c
        for name in roadmap_names()
        for server in load_roadmap(name).servers
        for step in server.steps
        for c in step.chain.certificates
        if c.is_ca  # a chain's leaf, when it has one, is none
    )
    out: dict[tuple[bytes, bytes], Certificate] = {}
    for c in chain(map(catalog.certificate, catalog), shipped):
        key = (c.subject_der, c.spki_der)
        if key not in out or (c.self_signed and not out[key].self_signed):
            out[key] = c
    return out


def entry_certificates(
    entries: Iterable[KeyEntry], known: Mapping[tuple[bytes, bytes], Certificate]
) -> tuple[Certificate | None, ...]:
    """For each name-and-key entry (an ESP-IDF bundle's), the shipped certificate it
    stores, or None when the tool ships none (counted as a root, as the bundle says)."""
    return tuple(known.get((e.subject_der, e.spki_der)) for e in entries)


def anchor_certificates(
    anchors: Sequence[TrustAnchor], catalog: Catalog
) -> tuple[Certificate | None, ...]:
    """A trust set's certificates: each anchor's own, else (an ESP-IDF bundle's entry)
    the shipped one with its name and key (:func:`entry_certificates`)."""
    if all(a.certificate is not None for a in anchors):
        return tuple(a.certificate for a in anchors)
    known = known_certificates(catalog)
    return tuple(a.certificate or known.get((a.subject_der, a.spki_der)) for a in anchors)


def describe_trust(trust: TrustSet, catalog: Catalog) -> str:
    """``ca.pem (2 CAs (1 root, 1 intermediate))``: a report's trust set, counted as
    :func:`count_anchors` counts a CA file (``ca.pem (4 roots)`` as before)."""
    cas = [c for c in anchor_certificates(trust.anchors, catalog) if c is not None]
    k, m = len(intermediates(cas)), len(not_cas(cas))
    return trust.describe(count_entries(len(trust), k, m) if k or m else None)
