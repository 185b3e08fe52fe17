"""Roots with serial number 0 (Go Daddy and Starfield Class 2, SECOM, HARICA ...): RFC
5280 forbids a serial that is not positive, mbedTLS on the device reads it, and
cryptography reads it today with a CryptographyDeprecationWarning (at load, and again
when the extensions are first read), announcing that a future release will refuse it.
Pinned here: today such a root is read, silently (the warning reached CLI users'
stderr); should cryptography refuse it, the error names the certificate and why."""

from __future__ import annotations

import base64
import subprocess
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from esp_cabundle import certificate
from esp_cabundle.certs import Certificate
from esp_cabundle.cli import cli
from esp_cabundle.errors import CertificateError
from esp_cabundle.verify.nodes import node_for_certificate

PEM = Path(__file__).resolve().parent / "data" / "serial-zero" / "go-daddy-class-2.pem"
LABEL = "Go Daddy Class 2 Certification Authority"
# mongoose-os-esp32@2.16.0's ca.pem holds serial-0 roots; check reads their extensions
CHECK = [
    "check", "--board", "mongoose-os-esp32@2.16.0", "--roadmap", "letsencrypt",
    "--at", "2023-06-01", "--until", "2025-01-01",
]  # fmt: skip


def der() -> bytes:
    body = "".join(PEM.read_text().strip().splitlines()[1:-1])
    return base64.b64decode(body)


@pytest.fixture(autouse=True)
def fresh() -> Iterator[None]:
    """cryptography's objects and the chain-search nodes are cached per process."""
    certificate._X509.clear()
    certificate._PARSED.clear()
    node_for_certificate.cache_clear()
    yield
    certificate._X509.clear()
    certificate._PARSED.clear()
    node_for_certificate.cache_clear()


def test_a_serial_zero_root_is_read_today_without_a_warning() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # any warning fails the test
        known = Certificate.from_der(der())  # a Mozilla root: its stored facts first
        assert known.serial == 0 and known.x509 is not None  # loaded silently
        node = node_for_certificate(known)  # reads the extensions
        assert node.is_ca and node.can_sign_certs
        parsed = Certificate.parse_der(der())
        assert parsed.serial == 0 and parsed.label == LABEL


def test_no_cryptography_warning_reaches_a_cli_user_s_stderr(tmp_path: Path) -> None:
    r = subprocess.run(
        [sys.executable, "-W", "default", "-m", "esp_cabundle", *CHECK],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 1, r.stderr  # 2.16.0 broke in 2024: the verdict, not a crash
    assert "Warning" not in r.stderr, r.stderr


@pytest.fixture
def refusing(monkeypatch: pytest.MonkeyPatch) -> None:
    """cryptography as its warning says a future release will be: refusing the load."""
    from cryptography import x509

    real = x509.load_der_x509_certificate

    def load(data: bytes, backend: object = None) -> x509.Certificate:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            cert = real(data)
        if any("serial number" in str(w.message) for w in caught):
            raise ValueError("error parsing asn1 value: ParseError { kind: InvalidValue }")
        return cert

    monkeypatch.setattr(x509, "load_der_x509_certificate", load)


@pytest.mark.usefixtures("refusing")
def test_a_refused_serial_zero_root_is_named_with_the_reason() -> None:
    with pytest.raises(CertificateError) as e:
        Certificate.parse_der(der())
    message = str(e.value)
    assert "has serial number 0: cryptography" in message
    assert "refuses a serial that is not positive" in message and "mbedTLS" in message
    assert "pip install 'cryptography<" in (e.value.hint or "")
    known = Certificate.from_der(der())  # read from stored facts: still a value
    with pytest.raises(CertificateError, match=f"certificate '{LABEL}' .* serial number 0"):
        known.x509  # noqa: B018 - loaded on first read


@pytest.mark.usefixtures("refusing")
def test_a_refused_root_ends_check_with_the_reason_not_a_traceback(tmp_path: Path) -> None:
    r = CliRunner().invoke(cli, CHECK)
    assert r.exit_code == 2, r.output
    assert "has serial number 0: cryptography" in r.stderr, r.stderr
    assert "Traceback" not in r.stderr and isinstance(r.exception, SystemExit)


def test_the_serial_is_read_from_the_der_or_none_for_a_broken_one() -> None:
    whole = der()
    assert certificate._der_serial(whole) == 0
    for cut in range(16):  # up to the serial's one octet, at offset 15
        assert certificate._der_serial(whole[:cut]) is None
    assert certificate._der_serial(b"\x30\x84\xff\xff\xff\xff\x30") is None
    assert certificate._der_serial(b"\x30\x03\x30\x01\x02\x01\xff") == -1


@pytest.mark.parametrize(
    ("category", "message"),
    [
        ("deprecation", "Parsed a certificate with an odd extension"),  # not the serial's
        ("user", "Parsed a serial number which wasn't positive"),  # not cryptography's
    ],
)
def test_only_the_serial_warning_is_silenced(
    monkeypatch: pytest.MonkeyPatch, category: str, message: str
) -> None:
    """Any other warning while a certificate loads still reaches its reader."""
    from cryptography import x509
    from cryptography.utils import CryptographyDeprecationWarning

    real = x509.load_der_x509_certificate
    kind = CryptographyDeprecationWarning if category == "deprecation" else RuntimeWarning

    def load(data: bytes, backend: object = None) -> x509.Certificate:
        warnings.warn(message, kind, stacklevel=2)
        return real(data)

    monkeypatch.setattr(x509, "load_der_x509_certificate", load)
    with pytest.warns(kind, match=message[:20]):
        Certificate.parse_der(der())
