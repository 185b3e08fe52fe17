"""A JSON manifest of a bundle: for scripts, CI and review."""

from __future__ import annotations

import json
from typing import Any

from ..bundle import Bundle

__all__ = ["bundle_to_dict", "render_manifest"]


def bundle_to_dict(bundle: Bundle) -> dict[str, Any]:
    return {
        "certifi": bundle.mozilla_version,
        "count": len(bundle),
        "der_bytes": bundle.der_size,
        "roots": [
            {
                "label": e.label,
                "alias": e.alias,
                "subject": e.certificate.subject,
                "sha256": e.sha256,
                "not_before": e.certificate.not_before.isoformat(),
                "not_after": e.certificate.not_after.isoformat(),
                "key": e.certificate.key_description,
                "source": e.source,
                "provenance": e.provenance,
                "status": e.status,
                "der_bytes": e.certificate.size,
            }
            for e in bundle.entries
        ],
    }


def render_manifest(bundle: Bundle) -> bytes:
    return (json.dumps(bundle_to_dict(bundle), indent=2, ensure_ascii=False) + "\n").encode()
