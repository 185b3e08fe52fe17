"""mbedTLS checks the name (x509_crt_verify_name) and the TLS key usage
(mbedtls_ssl_check_cert_usage) on the first certificate the server sends, whatever it
is (library/x509_crt.c and ssl_tls.c, 2.28.8 and 3.6). The tool skipped both for any
chain starting at a CA certificate, so a broker's self-signed certificate (CA:TRUE, as
``openssl req -x509`` makes it), pinned in the unit's CA file, was "accepted, name not
judged" for a name it does not hold, where real mbedTLS fails with CN_MISMATCH and
-0x2700. A chain starting at an issuing intermediate (a CA's published chain, no leaf)
still has neither judged, by design: no server sends it as is (verifier._servers_own).
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from click.testing import CliRunner
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.x509.oid import NameOID

from esp_cabundle.cli import cli
from esp_cabundle.verify import TrustSet, Verdict, verify_chain
from esp_cabundle.verify.profiles import CN_MISMATCH, KEY_USAGE
from tests.support.mbedtls_oracle import handshake
from tests.support.profiles import CLOCK
from tests.support.verify_pki import NOW, Minted, mint, pooled_key

# A broker's self-signed certificate: CN=localhost, CA:TRUE, no keyUsage, no SAN.
BROKER = mint("localhost", key_cert_sign=None)
ERR_VERIFY_FAILED = -0x2700
ERR_SSL_BAD_CERTIFICATE = -0x7A00


def _verdict(first: Minted, name: str, *rest: Minted, trust: Minted | None = None) -> Verdict:
    roots = TrustSet.from_certificates([(trust or first).c])
    return verify_chain(roots, [first.c, *(m.c for m in rest)], CLOCK, at=NOW, hostname=name)


def test_a_self_signed_server_certificate_has_its_name_judged_as_mbedtls_does() -> None:
    assert BROKER.c.is_ca and BROKER.c.self_signed
    for name, real in (("localhost", 0), ("other.example", ERR_VERIFY_FAILED)):
        assert handshake([BROKER.der], [BROKER], hostname=name) == real, name
        v = _verdict(BROKER, name)
        assert (v.error or 0) == real, (name, v.error)
    v = _verdict(BROKER, "other.example")
    assert v.name_status == "mismatch" and v.flags & CN_MISMATCH
    assert _verdict(BROKER, "localhost").name_status == "matched"


def test_a_self_signed_server_certificate_without_digital_signature_is_refused() -> None:
    """The usual CA keyUsage (keyCertSign, cRLSign) on the server's own certificate:
    mbedtls_ssl_check_cert_usage wants digitalSignature for an ECDHE-ECDSA handshake
    (ssl_tls.c, 2.28.8: "bad certificate (usage extensions)", -0x7a00). OpenSSL will not
    serve such a certificate, so the library's own source is the reference here."""
    key = pooled_key("ec256", 7)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    usage = x509.KeyUsage(False, False, False, False, False, True, True, False, False)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(7)
        .not_valid_before(NOW - timedelta(days=1))
        .not_valid_after(NOW + timedelta(days=300))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
        .add_extension(usage, True)
        .sign(key, hashes.SHA256())
    )
    v = _verdict(Minted(cert, key), "localhost")
    assert v.flags & KEY_USAGE and v.error == ERR_SSL_BAD_CERTIFICATE


def test_a_chain_starting_at_an_issuing_ca_still_has_no_name_judged() -> None:
    """A CA's published chain (no leaf): real mbedTLS, handed it as is, would check the
    name against the intermediate, but no server sends it; its verdict stands for any
    leaf the intermediate issues, so the name is not judged."""
    root = mint("Pub Root")
    issuing = mint("Pub I1", root, path_length=0)
    v = _verdict(issuing, "other.example", trust=root)
    assert v.ok and v.name_status == "no-leaf"


def test_check_says_the_self_signed_certificate_does_not_match(
    in_tmp: Path, runner: CliRunner
) -> None:
    (in_tmp / "broker.pem").write_text(BROKER.c.pem())
    args = ["check", "--bundle", "broker.pem", "--chain", "broker.pem", "--device", "mbedtls-clock"]
    r = runner.invoke(cli, [*args, "--hostname", "other.example"])
    said = " ".join(r.output.split())
    assert r.exit_code == 1, said
    assert "name other.example does not match" in said and "not judged" not in said, said
    r = runner.invoke(cli, [*args, "--hostname", "localhost"])
    assert r.exit_code == 0 and "name localhost checked" in " ".join(r.output.split())
