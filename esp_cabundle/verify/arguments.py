"""The types of :meth:`~esp_cabundle.verify.TrustSet.from_certificates`' arguments,
checked at its entry: a CA file's bytes or one Certificate for the certificates failed
deep inside (``'int' object has no attribute 'subject_der'``, ``'Certificate' object is
not iterable``). Each refusal is an :class:`~esp_cabundle.errors.ArgumentTypeError`
whose hint is the call to make."""

from __future__ import annotations

import os

from ..arguments import fspath_or, require_items, require_type
from ..certs import Certificate

__all__ = ["certificate_tuple"]


def certificate_tuple(certs: object, source: object) -> tuple[Certificate, ...]:
    """TrustSet.from_certificates' ``certs`` as a tuple (an iterator is read once, here),
    each a Certificate, and its ``source``, a str."""
    call = "TrustSet.from_certificates"
    if isinstance(certs, bytes | bytearray | memoryview):
        hint = "a CA file's bytes: trust_set_from_bytes(data, source='ca.pem')"
    elif isinstance(certs, str | os.PathLike):
        hint = f"a CA file: load_trust_set({fspath_or(certs)!r})"
    elif hasattr(certs, "certificates"):  # a GatedCA, a Bundle
        hint = f"give its certificates: {call}(ca.certificates, source=...)"
    else:
        hint = f"{call}(load_certificates(data), source=...)"
    items = require_items(
        certs,
        Certificate,
        call,
        one_hint=f"give a list: {call}([certificate], source=...)",
        hint=hint,
        item_hint=lambda _: hint,
    )
    shown = fspath_or(source)
    named = f"source={shown!r}" if isinstance(shown, str) else "source='ca.pem'"
    require_type(source, str, f"{call}'s source= takes a str (what verdicts call the set)", named)
    return items
