"""What a CA file's certificates are as trust anchors: roots, or intermediates.

mbedTLS anchors a chain at any certificate of its CA list, self-signed or not (its
parent search looks in the trusted list first, ``x509_crt_find_parent``), so a CA file
holding only an intermediate works. But it is not a root: an intermediate lives a few
years (Let's Encrypt's R10 for three), and the CA re-issues it and moves its servers to
the new one whenever it likes, so units that trust only it go dark sooner than units
trusting the root it chains to. Counts and notes say which is which.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import chain
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .catalog import Catalog
    from .certs import Certificate

__all__ = ["count_anchors", "intermediate_notes", "intermediates"]


def intermediates(certs: Sequence[Certificate]) -> tuple[Certificate, ...]:
    """The certificates of ``certs`` that are not self-signed (not roots)."""
    return tuple(c for c in certs if not c.self_signed)


def count_anchors(certs: Sequence[Certificate]) -> str:
    """``8 roots``; ``1 CA (an intermediate, not a root)``; ``3 CAs (2 roots, 1
    intermediate)``: a file's certificates, counted as what they are."""
    n, k = len(certs), len(intermediates(certs))
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


def intermediate_notes(certs: Sequence[Certificate], catalog: Catalog) -> tuple[str, ...]:
    """One warning per intermediate of ``certs``, naming the catalog's root it chains to
    (issuer name and signature) when the catalog holds it."""
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
