"""Regenerating ``data/known-roots.json`` (:mod:`.known_roots`): the facts of every root
of certifi's store, the pinned extra roots and any PEM files given, with mbedTLS's parse
verdict on each. A maintainer's tool, run when certifi or ESP-IDF add roots::

    python -c "import esp_cabundle.known_roots_gen as g; g.write_known_roots(['cacrt_all.pem'])"
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import certifi

from .bundle import mbedtls_available, mbedtls_parse_error
from .certs import Certificate, load_certificates
from .known_roots import KNOWN_ROOTS_FILE

__all__ = ["render_known_roots", "write_known_roots"]


def render_known_roots(sources: Iterable[bytes]) -> str:
    """The file's content for every certificate in ``sources`` (PEM texts), certifi's
    store and the pinned extra roots. Needs python-mbedtls for the mbedTLS verdicts."""
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
