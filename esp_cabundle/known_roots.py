"""Facts of the Mozilla-store roots, read once and shipped, so loading them costs no X.509
parse, no signature check and no mbedTLS import.

Firmware projects feed the tool the same few hundred public roots again and again
(certifi's store, ESP-IDF's ``cacrt_all.pem``). For a DER whose SHA-256 is listed in
``data/known-roots.json`` every fact :class:`~.certs.Certificate` derives (subject,
validity, key, basicConstraints, self-signature) and real mbedTLS 2.28's verdict on
parsing it were computed by cryptography and python-mbedtls when the file was made;
``tests/test_known_roots.py`` recomputes every entry from its stored DER, so the checks
run on the same facts either way. Any other DER is parsed as before.

Regenerate it with :func:`esp_cabundle.known_roots_gen.write_known_roots` (also when
certifi or ESP-IDF add roots).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

__all__ = ["KNOWN_ROOTS_FILE", "known_root"]

KNOWN_ROOTS_FILE = Path(__file__).resolve().parent / "data" / "known-roots.json"
_KNOWN: dict[str, dict[str, Any]] | None = None


def _table() -> dict[str, dict[str, Any]]:
    global _KNOWN
    if _KNOWN is None:
        try:
            _KNOWN = json.loads(KNOWN_ROOTS_FILE.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            _KNOWN = {}
    return _KNOWN


def known_root(sha256: str) -> Mapping[str, Any] | None:
    """The stored facts of a known root (``Certificate.metadata()`` plus ``mbedtls_error``:
    None when mbedTLS parses it), or None."""
    return _table().get(sha256)
