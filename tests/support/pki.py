"""Mint certificate hierarchies for tests (cryptography), with controllable dates and keys."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.oid import NameOID

from esp_cabundle.certs import Certificate

NOW = datetime.now(timezone.utc).replace(microsecond=0)


def name(cn: str, org: str | None = None) -> x509.Name:
    attrs = [x509.NameAttribute(NameOID.COMMON_NAME, cn)]
    if org:
        attrs.insert(0, x509.NameAttribute(NameOID.ORGANIZATION_NAME, org))
    return x509.Name(attrs)


def new_key(kind: str = "ec256") -> Any:
    if kind == "ec256":
        return ec.generate_private_key(ec.SECP256R1())
    if kind == "ec384":
        return ec.generate_private_key(ec.SECP384R1())
    if kind == "rsa2048":
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    if kind == "ed25519":
        return ed25519.Ed25519PrivateKey.generate()
    raise ValueError(kind)


@dataclass
class Issued:
    cert: x509.Certificate
    key: Any

    @property
    def der(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.DER)

    @property
    def pem(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.PEM)

    @property
    def certificate(self) -> Certificate:
        return Certificate.from_der(self.der)

    def key_pem(self) -> bytes:
        return self.key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )


def issue(
    subject: x509.Name | str,
    *,
    issuer: Issued | None = None,
    key: Any = None,
    ca: bool = True,
    not_before: datetime | None = None,
    not_after: datetime | None = None,
    key_kind: str = "ec256",
    path_length: int | None = None,
    san: str | None = None,
) -> Issued:
    """A certificate for ``subject`` signed by ``issuer`` (self-signed when None)."""
    subj = name(subject) if isinstance(subject, str) else subject
    key = key or new_key(key_kind)
    signer_key = issuer.key if issuer else key
    issuer_name = issuer.cert.subject if issuer else subj
    nb = not_before or NOW - timedelta(days=30)
    na = not_after or NOW + timedelta(days=3650)
    b = (
        x509.CertificateBuilder()
        .subject_name(subj)
        .issuer_name(issuer_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(nb)
        .not_valid_after(na)
        .add_extension(x509.BasicConstraints(ca=ca, path_length=path_length if ca else None), True)
    )
    if san:
        b = b.add_extension(x509.SubjectAlternativeName([x509.DNSName(san)]), False)
    algo = None if isinstance(signer_key, ed25519.Ed25519PrivateKey) else hashes.SHA256()
    cert = b.sign(signer_key, algo)
    return Issued(cert, key)
