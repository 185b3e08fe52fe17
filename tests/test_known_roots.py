"""The shipped facts of known roots are what cryptography and real mbedTLS say of their
DER, so checks run on the same values whether a root is parsed or looked up."""

from __future__ import annotations

import base64
import hashlib
import json
import subprocess
import sys
from pathlib import Path

import pytest
from support.fresh_python import run_command_without

from esp_cabundle.bundle import mbedtls_available, mbedtls_parse_error
from esp_cabundle.certs import Certificate, load_certificates
from esp_cabundle.known_roots import KNOWN_ROOTS_FILE, known_root

DATA = Path(__file__).parent / "data"
DOC = json.loads(KNOWN_ROOTS_FILE.read_text(encoding="utf-8"))


def test_every_entry_matches_its_der() -> None:
    assert len(DOC) >= 100
    for sha, meta in DOC.items():
        der = base64.b64decode(meta["der"])
        assert hashlib.sha256(der).hexdigest() == sha
        expected = Certificate.parse_der(der).metadata()
        assert {k: meta[k] for k in expected} == expected, sha


@pytest.mark.skipif(not mbedtls_available(), reason="python-mbedtls is not installed")
def test_recorded_mbedtls_verdicts_are_mbedtls_verdicts() -> None:
    for sha, meta in DOC.items():
        assert meta["mbedtls_error"] == mbedtls_parse_error(base64.b64decode(meta["der"])), sha


@pytest.mark.parametrize("name", ["cacrt_all.pem", "cacrt_all-2026-07.pem"])
def test_esp_idf_store_is_known_and_builds_the_same(name: str) -> None:
    """ESP-IDF's cacrt_all.pem (an older copy, and master's of July 2026) loads from the
    table, with the same values as parsed."""
    pem = (DATA / "idf-bundle" / "input" / name).read_bytes()
    certs = load_certificates(pem, source=name)
    assert len(certs) > 100
    for c in certs:
        assert known_root(c.sha256) is not None
        assert c == Certificate.parse_der(c.der)
        assert c.metadata() == Certificate.parse_der(c.der).metadata()


def test_unknown_der_is_parsed() -> None:
    from support.pki import issue  # a fresh root: never in the table

    der = issue("Unknown Test Root").der
    assert known_root(hashlib.sha256(der).hexdigest()) is None
    assert Certificate.from_der(der).metadata() == Certificate.parse_der(der).metadata()


def test_loading_known_roots_imports_neither_cryptography_nor_mbedtls() -> None:
    code = (
        "import sys\n"
        "from esp_cabundle.certs import load_certificates\n"
        f"load_certificates(open({str(DATA / 'idf-bundle' / 'input' / 'cacrt_all.pem')!r}, 'rb')"
        ".read(), source='x')\n"
        "assert 'cryptography.x509' not in sys.modules\n"
        "assert 'mbedtls' not in sys.modules\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr


def test_building_an_idf_bundle_from_esp_idf_lists_parses_no_certificate(tmp_path: Path) -> None:
    """The pair bench_vendor measures: `build -f idf-bundle` from either ESP-IDF list
    loads neither cryptography's X.509 nor mbedTLS nor the verifier's parser."""
    for name in ("cacrt_all.pem", "cacrt_all-2026-07.pem"):
        src = DATA / "idf-bundle" / "input" / name
        build = ["build", "-q", "-f", "idf-bundle", "--root", str(src), "--allow", "expired"]
        heavy = ("cryptography.x509", "mbedtls", "esp_cabundle.verify.parse")
        r = run_command_without([*build, "--no-lock", "-o", f"{name}.bin"], heavy, tmp_path)
        assert r.returncode == 0, f"{name}: {r.stderr}"
        assert (tmp_path / f"{name}.bin").stat().st_size > 10_000
