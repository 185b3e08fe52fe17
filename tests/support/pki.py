"""Mint certificates for tests: the short spelling of :mod:`support.verify_pki`.

``issue(subject, issuer=..., ca=..., not_after=..., key_kind=...)`` returns an object with
``.cert``, ``.key``, ``.der``, ``.pem``, ``.certificate`` and ``.key_pem()``.
"""

from __future__ import annotations

from typing import Any

from .verify_pki import NOW, Minted, mint

__all__ = ["NOW", "Issued", "issue"]

Issued = Minted


def issue(subject: Any, *, issuer: Minted | None = None, **options: Any) -> Minted:
    """A certificate for ``subject`` signed by ``issuer`` (self-signed when None); every
    option of :func:`support.verify_pki.mint` is accepted."""
    return mint(subject, issuer, **options)
