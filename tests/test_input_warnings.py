"""A certificate cryptography warns about while reading it (a DSA root: "DSA is
deprecated"; a CN past X.520's 64-character bound: "Attribute's length must be ...")
is judged by the tool in its own words, and no Python warning naming the tool's
source lines reaches the user's stderr; --debug still shows them."""

from __future__ import annotations

import json
import subprocess
import sys
import warnings
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import dsa, ec
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID


def root(common_name: str, key: dsa.DSAPrivateKey | ec.EllipticCurvePrivateKey) -> bytes:
    """A self-signed CA certificate, its CN written as given (unchecked length)."""
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name, _validate=False)])
    start = datetime(2026, 1, 1, tzinfo=timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(start)
        .not_valid_after(start + timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(Encoding.PEM)


@pytest.fixture
def odd_roots(tmp_path: Path) -> Path:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the very warnings at stake, while making them
        (tmp_path / "dsa.pem").write_bytes(root("DSA Root", dsa.generate_private_key(1024)))
        long_cn = root("L" * 100, ec.generate_private_key(ec.SECP256R1()))
    (tmp_path / "long-cn.pem").write_bytes(long_cn)
    return tmp_path


def cli(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-W", "default", "-m", "esp_cabundle", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize("name", ["dsa.pem", "long-cn.pem"])
def test_reading_an_odd_root_prints_no_python_warning(odd_roots: Path, name: str) -> None:
    r = cli(odd_roots, "inspect", name, "--at", "2026-06-01", "--json")
    assert r.returncode == 0, r.stderr
    assert "Warning" not in r.stderr, r.stderr
    (cert,) = json.loads(r.stdout)["reports"][0]["certificates"]
    assert bool(cert["unparseable_by"]) == (name == "dsa.pem")  # the tool's own word on it


def test_debug_still_shows_them(odd_roots: Path) -> None:
    r = cli(odd_roots, "inspect", "dsa.pem", "--at", "2026-06-01", "--debug")
    assert "DSA is deprecated" in r.stderr
