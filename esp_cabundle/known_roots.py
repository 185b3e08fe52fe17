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

import functools
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

__all__ = ["KNOWN_ROOTS_FILE", "data_table", "known_root"]

KNOWN_ROOTS_FILE = Path(__file__).resolve().parent / "data" / "known-roots.json"


@functools.cache
def data_table(path: Path) -> dict[str, dict[str, Any]]:
    """A JSON table shipped in ``data/``, read once; empty when missing or unreadable (the
    tool then derives every fact itself)."""
    try:
        table: dict[str, dict[str, Any]] = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return table


def known_root(sha256: str) -> Mapping[str, Any] | None:
    """The stored facts of a known root (``Certificate.metadata()`` plus ``mbedtls_error``:
    None when mbedTLS parses it), or None."""
    return _known_table().get(sha256)


@functools.cache
def _known_table() -> dict[str, dict[str, Any]]:
    """The table itself: a lookup per certificate must not hash a Path each time."""
    return data_table(KNOWN_ROOTS_FILE)
