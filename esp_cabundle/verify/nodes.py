"""Certificates and bundle entries as mbedTLS's chain search sees them, and signatures."""

from __future__ import annotations

import functools
from dataclasses import dataclass, replace
from datetime import datetime
from typing import TypedDict

from ..catalog import Catalog
from ..certs import Certificate
from .names import name_key, subject_of
from .trust import TrustAnchor


@dataclass(frozen=True, slots=True)
class Node:
    """A certificate (or a bundle entry) with the fields mbedTLS's chain search reads."""

    label: str
    subject_der: bytes
    issuer_der: bytes
    subject_key: tuple[object, ...]
    issuer_key: tuple[object, ...]
    spki_der: bytes
    not_before: datetime | None
    not_after: datetime | None
    version: int
    is_ca: bool
    max_pathlen: int  # mbedTLS stores pathLenConstraint + 1; 0 means unlimited
    can_sign_certs: bool  # keyCertSign present (or no keyUsage) and no encipher/decipherOnly
    sig_md: str | None
    sig_pk: str | None  # "rsa", "rsassa-pss", "ecdsa" or None (not supported by mbedTLS)
    rsa_bits: int | None
    ec_curve: str | None  # cryptography's curve name (secp256r1, brainpoolP256r1, ...)
    cert: Certificate | None
    anchor: TrustAnchor | None = None


class CaFacts(TypedDict):
    """The dates and CA fields of a :class:`Node`."""

    not_before: datetime | None
    not_after: datetime | None
    version: int
    is_ca: bool
    max_pathlen: int
    can_sign_certs: bool


# A CA that has only a name and a key, as mbedTLS sees it: CA bit set, version 3, no key
# usage, no path length and no dates (ESP-IDF 6.0 builds exactly such a certificate for
# CROSS_SIGNED_VERIFY).
KEYONLY_CA: CaFacts = {
    "not_before": None,
    "not_after": None,
    "version": 3,
    "is_ca": True,
    "max_pathlen": 0,
    "can_sign_certs": True,
}


@functools.lru_cache(maxsize=4096)
def node_for_certificate(cert: Certificate) -> Node:
    from cryptography import x509
    from cryptography.hazmat.primitives.asymmetric import rsa

    x = cert.x509
    can_sign = True
    try:
        ku = x.extensions.get_extension_for_class(x509.KeyUsage).value
        can_sign = ku.key_cert_sign
        if ku.key_agreement and (ku.encipher_only or ku.decipher_only):
            can_sign = False  # mbedtls_x509_crt_check_key_usage refuses these "may" bits
    except x509.ExtensionNotFound:
        pass
    except ValueError:
        can_sign = False
    sig_md, sig_pk = signature_kind(cert)
    # A key no library here loads (post-quantum, invalid point) has no size or curve.
    key = load_spki(cert.spki_der) if cert.key_problem is None else None
    return Node(
        label=describe_certificate(cert),
        subject_der=cert.subject_der,
        issuer_der=cert.issuer_der,
        subject_key=name_key(cert.subject_der),
        issuer_key=name_key(cert.issuer_der),
        spki_der=cert.spki_der,
        not_before=cert.not_before,
        not_after=cert.not_after,
        version=cert.version,
        is_ca=cert.is_ca,
        max_pathlen=(cert.path_length + 1) if cert.path_length is not None else 0,
        can_sign_certs=can_sign,
        sig_md=sig_md,
        sig_pk=sig_pk,
        rsa_bits=key.key_size if isinstance(key, rsa.RSAPublicKey) else None,
        ec_curve=_curve_name(key),
        cert=cert,
    )


def node_for_anchor(anchor: TrustAnchor) -> Node:
    if anchor.certificate is not None:
        return _replace_anchor(node_for_certificate(anchor.certificate), anchor)
    return keyonly_node(anchor)


def _replace_anchor(node: Node, anchor: TrustAnchor) -> Node:
    return replace(node, anchor=anchor)


@functools.lru_cache(maxsize=4096)
def keyonly_node(anchor: TrustAnchor) -> Node:
    """A bundle entry as mbedTLS would see a CA that has only a name and a key
    (:data:`KEYONLY_CA`)."""
    key = load_spki(anchor.spki_der)
    from cryptography.hazmat.primitives.asymmetric import rsa

    return Node(
        label=anchor.label,
        subject_der=anchor.subject_der,
        issuer_der=anchor.subject_der,
        subject_key=name_key(anchor.subject_der),
        issuer_key=name_key(anchor.subject_der),
        spki_der=anchor.spki_der,
        **KEYONLY_CA,
        sig_md=None,
        sig_pk=None,
        rsa_bits=key.key_size if isinstance(key, rsa.RSAPublicKey) else None,
        ec_curve=_curve_name(key),
        cert=None,
        anchor=anchor,
    )


def _curve_name(key: object) -> str | None:
    from cryptography.hazmat.primitives.asymmetric import ec

    return key.curve.name if isinstance(key, ec.EllipticCurvePublicKey) else None


def signature_kind(cert: Certificate) -> tuple[str | None, str | None]:
    """(hash name, mbedTLS pk type) of a certificate's signature."""
    from cryptography.hazmat.primitives.asymmetric import padding

    x = cert.x509
    try:
        h = x.signature_hash_algorithm
    except Exception:  # unsupported algorithm (e.g. GOST): mbedTLS cannot parse it either
        return None, None
    md = h.name if h is not None else None
    name = cert.signature_algorithm.lower()
    if isinstance(x.signature_algorithm_parameters, padding.PSS) or "pss" in name:
        return md, "rsassa-pss"
    if "ecdsa" in name:
        return md, "ecdsa"
    if "rsa" in name:
        return md, "rsa"
    return md, None


@functools.lru_cache(maxsize=1024)
def load_spki(spki_der: bytes) -> object:
    from cryptography.exceptions import UnsupportedAlgorithm
    from cryptography.hazmat.primitives.serialization import load_der_public_key

    try:
        return load_der_public_key(spki_der)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        return None


@functools.lru_cache(maxsize=16384)
def _signature_ok(child: Certificate, spki_der: bytes) -> bool:
    """mbedTLS's ``x509_crt_check_signature``: the key type must be able to make the
    child's kind of signature (``mbedtls_pk_can_do``), then the signature must verify."""
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

    md, pk = signature_kind(child)
    key = load_spki(spki_der)
    x = child.x509
    hash_alg = x.signature_hash_algorithm if md else None
    if hash_alg is None or pk is None or key is None:
        return False
    try:
        if isinstance(key, rsa.RSAPublicKey):
            if pk == "rsa":
                key.verify(x.signature, x.tbs_certificate_bytes, padding.PKCS1v15(), hash_alg)
            elif pk == "rsassa-pss":
                params = x.signature_algorithm_parameters
                if not isinstance(params, padding.PSS):
                    return False
                key.verify(x.signature, x.tbs_certificate_bytes, params, hash_alg)
            else:
                return False
        elif isinstance(key, ec.EllipticCurvePublicKey):
            if pk != "ecdsa":
                return False
            key.verify(x.signature, x.tbs_certificate_bytes, ec.ECDSA(hash_alg))
        else:
            return False
    except (InvalidSignature, ValueError, TypeError):
        return False
    return True


def sig_good(child: Node, parent: Node) -> bool:
    if child.cert is None:
        return False
    return _signature_ok(child.cert, parent.spki_der)


def describe_certificate(cert: Certificate) -> str:
    """``R11``, ``ISRG Root X1``, or ``Root YR cross-signed by ISRG Root X1`` for a CA
    certificate that is not self-signed but carries the name of a known root (the root
    catalog), so timelines say which copy of a root expires."""
    if cert.is_ca and not cert.self_signed and cert.subject_der in _known_root_subjects():
        return f"{cert.label} cross-signed by {cert.issuer_label}"
    return cert.label


@functools.lru_cache(maxsize=1)
def _known_root_subjects() -> frozenset[bytes]:
    """DER subjects of every root the catalog knows (Mozilla store and shipped extras)."""
    try:
        entries = list(Catalog.load())
    except Exception:  # a broken certifi install must not break verification
        return frozenset()
    out = set()
    for e in entries:
        subject = subject_of(e.der)
        if subject is not None:
            out.add(subject)
    return frozenset(out)
