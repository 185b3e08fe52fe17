"""A root whose subject is over the 65535 bytes an ESP-IDF bundle stores a subject in
is named (label, fingerprint) with what to do, before anything is written."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID

from esp_cabundle.certs import Certificate
from esp_cabundle.cli import cli
from esp_cabundle.errors import InputError
from esp_cabundle.formats.idf_bundle import render_idf_bundle
from tests.support.pki import issue

DER = Encoding.DER


def _huge_subject_root() -> tuple[bytes, str]:
    units = [x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "u" * 1000)] * 70
    name = x509.Name([*units, x509.NameAttribute(NameOID.COMMON_NAME, "Huge Root")])
    minted = issue(name)
    return minted.pem, minted.c.sha256


def test_a_root_too_large_for_the_bundle_is_named(in_tmp: Path) -> None:
    pem, sha = _huge_subject_root()
    (in_tmp / "huge.pem").write_bytes(pem)
    (in_tmp / "ca.bin").write_bytes(b"old")
    before = sorted(p.name for p in in_tmp.iterdir())
    args = ["build", "--preset", "letsencrypt", "--root", "huge.pem", "--no-lock"]
    r = CliRunner().invoke(cli, [*args, "--format", "idf-bundle", "-o", "ca.bin"])
    assert r.exit_code == 2, r.output
    assert f"root 'Huge Root' (sha256 {sha}): its subject is " in r.stderr
    assert "bytes, over the 65,535 an ESP-IDF bundle stores a subject in" in r.stderr
    assert "hint: exclude it by that fingerprint (--exclude" in r.stderr
    assert sorted(p.name for p in in_tmp.iterdir()) == before
    assert (in_tmp / "ca.bin").read_bytes() == b"old"
    # the library says the same
    huge = Certificate.from_der(x509.load_pem_x509_certificate(pem).public_bytes(DER))
    with pytest.raises(InputError, match=f"root 'Huge Root' \\(sha256 {sha}\\)"):
        render_idf_bundle([issue("Small").c, huge], bundle_format="v2")
