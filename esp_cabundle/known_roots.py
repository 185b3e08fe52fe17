"""Facts of the Mozilla-store roots, read once and shipped, so loading them costs no X.509
parse, no signature check and no mbedTLS import.

Firmware projects feed the tool the same few hundred public roots again and again
(certifi's store, ESP-IDF's ``cacrt_all.pem``). For a DER whose SHA-256 is listed in
``data/known-roots.json`` every fact :class:`~.certs.Certificate` derives (subject,
validity, key, basicConstraints, self-signature) and real mbedTLS 2.28's verdict on
parsing it were computed by cryptography and python-mbedtls when the file was made;
``tests/test_known_roots.py`` recomputes every entry from its stored DER, so the checks
run on the same facts either way. Any other DER is parsed as before.

Regenerate (also when certifi or ESP-IDF add roots)::

    python -c "from esp_cabundle.known_roots import write_known_roots as w; w(['cacrt_all.pem'])"
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

__all__ = ["KNOWN_ROOTS_FILE", "known_root", "render_known_roots", "write_known_roots"]

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


def render_known_roots(sources: Iterable[bytes]) -> str:
    """The file's content for every certificate in ``sources`` (PEM texts), certifi's
    store and the pinned extra roots. Needs python-mbedtls for the mbedTLS verdicts."""
    import certifi

    from .bundle import mbedtls_available, mbedtls_parse_error
    from .certs import Certificate, load_certificates

    if not mbedtls_available():
        raise RuntimeError("python-mbedtls is needed to record mbedTLS's verdicts")
    texts = [
        Path(certifi.where()).read_bytes(),
        (KNOWN_ROOTS_FILE.parent / "extra-roots.pem").read_bytes(),
    ]
    texts.extend(sources)
    doc: dict[str, dict[str, Any]] = {}
    for text in texts:
        for cert in load_certificates(text, source="<roots>"):
            if cert.sha256 in doc:
                continue
            fresh = Certificate.parse_der(cert.der)  # never from an older file
            meta = fresh.metadata()
            meta["mbedtls_error"] = mbedtls_parse_error(cert.der)
            meta["der"] = base64.b64encode(cert.der).decode("ascii")
            doc[hashlib.sha256(cert.der).hexdigest()] = meta
    return json.dumps(doc, indent=0, sort_keys=True) + "\n"


def write_known_roots(pem_files: Iterable[str | Path] = ()) -> None:
    sources = [Path(p).read_bytes() for p in pem_files]
    KNOWN_ROOTS_FILE.write_text(render_known_roots(sources), encoding="utf-8")
