"""Mint hierarchies for the verifier tests: any dates, keys, hashes, PSS, key usage,
path lengths, forged issuers — and serve them from a real TLS server on 127.0.0.1."""

from __future__ import annotations

import contextlib
import socket
import ssl
import tempfile
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from functools import cache
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.x509.oid import NameOID

from esp_cabundle.certs import Certificate

NOW = datetime.now(timezone.utc).replace(microsecond=0)
DAY = timedelta(days=1)
YEAR = timedelta(days=365)


@cache
def pooled_key(kind: str, slot: int = 0) -> Any:
    """Keys are slow to make (RSA); tests reuse them by (kind, slot)."""
    if kind == "ec256":
        return ec.generate_private_key(ec.SECP256R1())
    if kind == "ec384":
        return ec.generate_private_key(ec.SECP384R1())
    if kind.startswith("rsa"):
        return rsa.generate_private_key(public_exponent=65537, key_size=int(kind[3:]))
    if kind == "ed25519":
        return ed25519.Ed25519PrivateKey.generate()
    raise ValueError(kind)


_slots: dict[str, int] = {}


def fresh_key(kind: str = "ec256") -> Any:
    """A key no other certificate in this test session uses (from the pool)."""
    _slots[kind] = _slots.get(kind, 0) + 1
    return pooled_key(kind, _slots[kind])


def dn(cn: str, *, org: str | None = None, printable: bool = False) -> x509.Name:
    attrs = []
    if org:
        attrs.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, org))
    if printable:
        attrs.append(
            x509.NameAttribute(NameOID.COMMON_NAME, cn, _type=x509.name._ASN1Type.PrintableString)
        )
    else:
        attrs.append(x509.NameAttribute(NameOID.COMMON_NAME, cn))
    return x509.Name(attrs)


@dataclass
class Minted:
    cert: x509.Certificate
    key: Any

    @property
    def der(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.DER)

    @property
    def pem(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.PEM)

    @property
    def c(self) -> Certificate:
        return Certificate.from_der(self.der)

    certificate = c

    def key_pem(self) -> bytes:
        return self.key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )


def cross_signed(old: Minted, subject: str = "New Root") -> tuple[Minted, Minted]:
    """A new self-signed root and the same root (subject and key) signed by ``old``: the
    cross-sign a CA sends so devices trusting only ``old`` still reach it."""
    key = fresh_key()
    return mint(subject, key=key), mint(subject, old, key=key)


def mint(
    subject: str | x509.Name,
    issuer: Minted | None = None,
    *,
    key: Any = None,
    key_kind: str = "ec256",
    ca: bool = True,
    not_before: datetime | None = None,
    not_after: datetime | None = None,
    path_length: int | None = None,
    hash_alg: hashes.HashAlgorithm | None = None,
    pss: bool = False,
    key_cert_sign: bool | None = True,
    san: str | None = None,
    issuer_name: x509.Name | None = None,
    sign_with: Any = None,
    basic_constraints: bool = True,
    sans: Sequence[x509.GeneralName] | None = None,
    eku: Sequence[x509.ObjectIdentifier] | None = None,
    leaf_key_usage: x509.KeyUsage | None = None,
    key_ids: bool = False,
) -> Minted:
    """A certificate for ``subject`` issued by ``issuer`` (self-signed when None).

    ``issuer_name``/``sign_with`` forge: another issuer name, or another signing key.
    ``key_cert_sign=None`` leaves out keyUsage entirely; leaves get a TLS server profile.
    A leaf's subjectAltName is ``sans`` (``[]``: none) or one dNSName ``san``; ``eku``
    and ``leaf_key_usage`` add those extensions to a leaf. ``key_ids`` adds
    subjectKeyIdentifier and (issued certificates) authorityKeyIdentifier, which
    OpenSSL's strict verification (Python 3.13's default TLS context) requires.
    """
    subj = dn(subject) if isinstance(subject, str) else subject
    key = key or fresh_key(key_kind)
    signer = sign_with or (issuer.key if issuer else key)
    iname = issuer_name or (issuer.cert.subject if issuer else subj)
    b = (
        x509.CertificateBuilder()
        .subject_name(subj)
        .issuer_name(iname)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before or NOW - 30 * DAY)
        .not_valid_after(not_after or NOW + 5 * YEAR)
    )
    if basic_constraints:
        b = b.add_extension(
            x509.BasicConstraints(ca=ca, path_length=path_length if ca else None), True
        )
    if ca and key_cert_sign is not None:
        b = b.add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=key_cert_sign,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            True,
        )
    if not ca:
        names = list(sans) if sans is not None else [x509.DNSName(san or "localhost")]
        if names:
            b = b.add_extension(x509.SubjectAlternativeName(names), False)
        if eku is not None:
            b = b.add_extension(x509.ExtendedKeyUsage(list(eku)), False)
        if leaf_key_usage is not None:
            b = b.add_extension(leaf_key_usage, True)
    if key_ids:
        b = b.add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
        if issuer is not None:
            aki = x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer.key.public_key())
            b = b.add_extension(aki, False)
    if isinstance(signer, ed25519.Ed25519PrivateKey):
        return Minted(b.sign(signer, None), key)  # EdDSA signs without a separate hash
    h = hash_alg or hashes.SHA256()
    if isinstance(h, hashes.SHA1):
        return Minted(_sign_sha1(b.sign(signer, hashes.SHA256()), signer), key)
    if pss:
        cert = b.sign(
            signer,
            h,
            rsa_padding=padding.PSS(mgf=padding.MGF1(h), salt_length=h.digest_size),
        )
    else:
        cert = b.sign(signer, h)
    return Minted(cert, key)


_SHA256_RSA = bytes.fromhex("2a864886f70d01010b")
_SHA1_RSA = bytes.fromhex("2a864886f70d010105")


def _sign_sha1(cert: x509.Certificate, signer: Any) -> x509.Certificate:
    """cryptography no longer signs with SHA-1; old CAs did, so rewrite the algorithm OID
    (same length) and sign the new TBS ourselves."""
    der = cert.public_bytes(serialization.Encoding.DER)
    tbs = cert.tbs_certificate_bytes
    assert isinstance(signer, rsa.RSAPrivateKey) and tbs.count(_SHA256_RSA) == 1
    new_tbs = tbs.replace(_SHA256_RSA, _SHA1_RSA)
    sig = signer.sign(new_tbs, padding.PKCS1v15(), hashes.SHA1())
    assert len(sig) == len(cert.signature)
    out = der.replace(tbs, new_tbs).replace(_SHA256_RSA, _SHA1_RSA)
    out = out[: -len(sig)] + sig
    return x509.load_der_x509_certificate(out)


def chain_of(*minted: Minted) -> tuple[Certificate, ...]:
    return tuple(m.c for m in minted)


# ---------------------------------------------------------------------------------------
# A real TLS server presenting a chain


@contextlib.contextmanager
def tls_server(chain: Sequence[Minted], *, max_version: str = "1.2") -> Iterator[int]:
    """An OpenSSL (python ssl) server on 127.0.0.1 sending ``chain`` (leaf first, exactly
    as given) with the leaf's key; yields the port. Accepts until the block ends."""
    tmp = Path(tempfile.mkdtemp(prefix="verify-srv-"))
    certfile, keyfile = tmp / "chain.pem", tmp / "key.pem"
    certfile.write_bytes(b"".join(m.pem for m in chain))
    keyfile.write_bytes(chain[0].key_pem())
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    # Scenarios send weak or odd certificates on purpose (SHA-1, RSA 1024).
    ctx.set_ciphers("DEFAULT:@SECLEVEL=0")
    if max_version == "1.2":
        ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    elif max_version == "1.3":
        ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    ctx.load_cert_chain(str(certfile), str(keyfile))

    def handle(conn: socket.socket) -> bool:
        conn.settimeout(5)
        with (
            contextlib.suppress(OSError, ssl.SSLError),
            ctx.wrap_socket(conn, server_side=True) as s,
            contextlib.suppress(OSError),
        ):
            s.recv(1)
        return False

    try:
        with loopback_server(handle) as port:
            yield port
    finally:
        for f in (certfile, keyfile):
            f.unlink()
        tmp.rmdir()


@contextlib.contextmanager
def loopback_server(handle: Callable[[socket.socket], bool | None]) -> Iterator[int]:
    """A TCP server on 127.0.0.1 calling ``handle`` with each connection, one at a time,
    on its own thread; yields the port. A connection is closed after ``handle`` unless
    it returns True (then it stays open, silent, until the block ends)."""
    srv = socket.create_server(("127.0.0.1", 0))
    srv.settimeout(0.2)
    stop = threading.Event()
    kept: list[socket.socket] = []

    def run() -> None:
        while not stop.is_set():
            try:
                conn, _ = srv.accept()
            except OSError:  # TimeoutError too: look at ``stop`` again
                continue
            keep = False
            try:
                keep = bool(handle(conn))
            finally:
                if keep:
                    kept.append(conn)
                else:
                    conn.close()

    t = threading.Thread(target=run, daemon=True)
    t.start()
    try:
        yield srv.getsockname()[1]
    finally:
        stop.set()
        srv.close()
        t.join(timeout=5)
        for c in kept:
            c.close()
