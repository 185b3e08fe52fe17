"""Concatenated DER: what ``mbedtls_x509_crt_parse_der`` callers and some SDKs take."""

from __future__ import annotations

from ..bundle import Bundle

__all__ = ["render_der"]


def render_der(bundle: Bundle) -> bytes:
    return b"".join(e.certificate.der for e in bundle.entries)
