"""A device profile's words follow the mbedTLS line chosen: ``idf-bundle@idf-5.4`` is
not described as ESP-IDF 4.4 on mbedTLS 2.28 and then judged under 3.6."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from esp_cabundle.cli import cli
from esp_cabundle.verify import parse_device_profile

EXAMPLES = Path(__file__).parent.parent / "examples"


@pytest.mark.parametrize(
    ("spec", "says", "never"),
    [
        ("idf-bundle@idf-5.4", "ESP-IDF 5.x", ("4.4", "2.28", "Arduino-ESP32 2.x")),
        ("mbedtls-noclock@3.6", "mbedTLS 3.6", ("1.x/2.x", "mDash 1.2.12")),
        ("mbedtls3-clock@2.28", "SNTP", ("3.6", "ESP-IDF 5.x")),
        ("idf-bundle-cross-signed@2.28", "mbedTLS 2.28", ("3.6", "4.0")),
        ("mbedtls:none@3.6", "3.6", ("2.28",)),
    ],
)
def test_description_follows_the_version(spec: str, says: str, never: tuple[str, ...]) -> None:
    words = parse_device_profile(spec).description
    assert says in words, words
    assert not [w for w in never if w in words], words


def test_device_line_agrees_with_the_verdict(runner: CliRunner) -> None:
    chain = EXAMPLES / "chains" / "letsencrypt-gen-y-rsa.pem"
    r = runner.invoke(
        cli,
        ["check", "--device", "idf-bundle@idf-5.4", "--chain", str(chain), "--at", "2026-11-27"],
    )
    device = next(line for line in r.stdout.splitlines() if line.startswith("Device:"))
    assert "[mbedTLS 3.6]" in r.stdout and "mbedTLS 3.6" in device and "4.4" not in device


@pytest.mark.parametrize(
    ("device", "name"),
    [
        ("mbedtls-clock", "MBEDTLS_ERR_SSL_BAD_HS_CERTIFICATE"),  # 2.28's ssl.h
        ("mbedtls3-clock", "MBEDTLS_ERR_SSL_BAD_CERTIFICATE"),  # renamed in 3.0
    ],
)
def test_an_error_code_is_named_as_the_units_mbedtls_names_it(device: str, name: str) -> None:
    from cryptography.x509.oid import ExtendedKeyUsageOID

    from esp_cabundle.verify import TrustSet, verify_chain
    from tests.support.verify_pki import NOW, mint

    root = mint("Client Root")
    client = mint("localhost", root, ca=False, eku=[ExtendedKeyUsageOID.CLIENT_AUTH])
    trust = TrustSet.from_certificates([root.c])
    v = verify_chain(trust, [client.c], parse_device_profile(device), at=NOW)
    assert v.error == -0x7A00
    assert v.error_text == f"-0x7a00 ({name}, 0xffff8600)"
    assert name in v.explanation
