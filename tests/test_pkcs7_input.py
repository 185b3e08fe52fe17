"""A PKCS#7 file (.p7b: certificates in a CMS SignedData, as `openssl crl2pkcs7` and
Windows' certificate export write it) is named as such with the command that unpacks
it, in PEM and in DER, rather than "no certificate found" or "not a valid X.509
certificate": README counts `.p7b` among the chain file names `--target` takes. A PEM
file holding only other blocks (a request, a public key) says which blocks it holds."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding, pkcs7

from esp_cabundle.certs import load_certificates
from esp_cabundle.cli import cli
from esp_cabundle.errors import CertificateError

LE = Path(__file__).parent / "data" / "letsencrypt"


def p7b(encoding: Encoding) -> bytes:
    """R11 and ISRG Root X1 in a SignedData, made by cryptography (OpenSSL's i2d_PKCS7)."""
    certs = [
        x509.load_pem_x509_certificate((LE / name).read_bytes())
        for name in ("2024-r11.pem", "isrgrootx1.pem")
    ]
    return pkcs7.serialize_certificates(certs, encoding)


@pytest.mark.parametrize(
    ("encoding", "inform"), [(Encoding.PEM, "openssl pkcs7 -print"), (Encoding.DER, "-inform DER")]
)
def test_a_pkcs7_file_is_named_with_its_unpacking(encoding: Encoding, inform: str) -> None:
    with pytest.raises(CertificateError, match=r"PKCS#7 \(CMS SignedData\) file") as e:
        load_certificates(p7b(encoding), source="chain.p7b")
    assert inform in (e.value.hint or "")
    assert "-print_certs" in (e.value.hint or "")


@pytest.mark.parametrize("encoding", [Encoding.PEM, Encoding.DER])
def test_check_and_inspect_name_a_p7b_target(
    in_tmp: Path, runner: CliRunner, encoding: Encoding
) -> None:
    (in_tmp / "ca.pem").write_bytes((LE / "isrgrootx1.pem").read_bytes())
    (in_tmp / "chain.p7b").write_bytes(p7b(encoding))
    for args in (
        ["check", "--bundle", "ca.pem", "--target", "chain.p7b"],
        ["check", "--bundle", "ca.pem", "--chain", "chain.p7b"],
        ["inspect", "chain.p7b"],
    ):
        r = runner.invoke(cli, args)
        assert r.exit_code == 2, (args, r.output)
        assert "PKCS#7" in r.stderr and "-print_certs" in r.stderr, args
        assert "no certificate found" not in r.stderr


def test_a_pem_file_without_certificates_names_its_blocks() -> None:
    csr = b"-----BEGIN CERTIFICATE REQUEST-----\nMIIB\n-----END CERTIFICATE REQUEST-----\n"
    with pytest.raises(CertificateError, match="its PEM blocks are CERTIFICATE REQUEST"):
        load_certificates(csr, source="req.pem")
