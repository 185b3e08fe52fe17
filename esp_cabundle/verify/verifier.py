"""The verifier: a trust set prepared once, judging chains at any instant.

What a unit does, in order (mbedTLS 2.28 and 3.6, ``ssl_tls.c``
``ssl_parse_certificate_chain`` and ``ssl_parse_certificate_verify``):

1. its firmware reads the CA file (``mbedtls_x509_crt_parse``): refused certificates are
   skipped, or the whole setup fails where the firmware treats a partial parse as fatal;
2. it reads the server's certificates: one it cannot parse ends the handshake with that
   code, except an unknown signature algorithm (-0x262e), which is left out;
3. 3.6.3+ only: a client that never set a hostname is refused (-0x5d80);
4. ``mbedtls_x509_crt_verify``: the server's name (when set) and key, the path, the
   bundle callback;
5. the TLS layer's role checks on the server's certificate: keyUsage and
   extendedKeyUsage for a TLS server, -0x7a00 when the verification itself passed.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from datetime import date, datetime

from ..arguments import require_items, require_type
from ..certs import Certificate
from ..dates import as_datetime
from ..spelling import PYTHON, Spelling
from .asn1 import ParseRefusal
from .explain import explain, explain_early
from .names import hostname_matches
from .nodes import Node
from .parse import parse_refusal
from .path import TrustIndex, build_path, bundle_callback, chain_nodes, ee_flags
from .profiles import (
    CN_MISMATCH,
    ERR_SSL_BAD_CERTIFICATE,
    ERR_SSL_VERIFICATION_WITHOUT_HOSTNAME,
    ERR_X509_CERT_VERIFY_FAILED,
    ERR_X509_FATAL_ERROR,
    EXT_KEY_USAGE,
    KEY_USAGE,
    DeviceProfile,
    MbedtlsVersion,
)
from .trust import TrustSet
from .verdict import NameStatus, PathStep, Verdict

# ssl_tls.c ignores a server certificate with an unknown signature algorithm.
_SKIPPED_IN_CHAIN = -0x262E
_SERVER_AUTH = "1.3.6.1.5.5.7.3.1"
_ANY_EKU = "2.5.29.37.0"


def verify_chain(
    trust: TrustSet,
    chain: Sequence[Certificate],
    profile: DeviceProfile,
    *,
    at: date | datetime,
    hostname: str | None = None,
    spelling: Spelling = PYTHON,
) -> Verdict:
    """What a unit with ``trust`` and ``profile`` decides at ``at`` for ``chain`` (the
    certificates in the order the server sends them, leaf first), connecting to
    ``hostname`` (None: the name is not judged). A naive ``at`` is UTC; the verdict's
    explanation names the options as ``spelling`` does."""
    _check_arguments(trust, chain, profile)
    verifier = Verifier(trust, spelling=spelling)
    return verifier.verify(chain, profile, at=as_datetime(at), hostname=hostname)


def _check_arguments(trust: object, chain: object, profile: object) -> None:
    """A library caller's common slips (a ServerChain for its certificates, a profile's
    name), refused with the call to make instead of failing deep inside."""
    require_type(
        trust,
        TrustSet,
        "verify_chain's trust takes a TrustSet",
        "load it: load_trust_set(path) or trust_set_from_bytes(data)",
    )
    require_items(
        chain,
        Certificate,
        "verify_chain's chain",
        sequence=True,
        hint="give its certificates: verify_chain(trust, chain.certificates, ...)"
        if hasattr(chain, "certificates")
        else "give the server's certificates, leaf first: load_chain_file(path).certificates",
        item_hint=lambda _: (
            "read them: load_chain_file(path).certificates or load_certificates(data)"
        ),
    )
    require_type(
        profile,
        DeviceProfile,
        "verify_chain's profile takes a DeviceProfile",
        f"parse it first: parse_device_profile({profile!r})"
        if isinstance(profile, str)
        else "give board.device_profile() or parse_device_profile(name)",
    )


class Verifier:
    """One trust set, prepared once per mbedTLS line and reused for every chain and
    instant (forecasts judge the same chain at many instants). Its verdicts explain
    themselves in ``spelling``'s words."""

    def __init__(self, trust: TrustSet, *, spelling: Spelling = PYTHON) -> None:
        self.trust = trust
        self.spelling = spelling
        self._indexes: dict[MbedtlsVersion | None, TrustIndex] = {}

    def index_for(self, profile: DeviceProfile) -> TrustIndex:
        """The CA list as the unit's mbedTLS parsed it; a bundle is names and keys."""
        key = profile.mbedtls if profile.rules == "mbedtls" else None
        if key not in self._indexes:
            self._indexes[key] = TrustIndex(self.trust, parsed_by=key)
        return self._indexes[key]

    @property
    def index(self) -> TrustIndex:
        """The trust set with nothing skipped (names and keys, as a bundle holds them)."""
        if None not in self._indexes:
            self._indexes[None] = TrustIndex(self.trust)
        return self._indexes[None]

    def verify(
        self,
        chain: Sequence[Certificate],
        profile: DeviceProfile,
        *,
        at: datetime,
        undated: frozenset[bytes] = frozenset(),
        hostname: str | None = None,
    ) -> Verdict:
        nodes = chain_nodes(chain)
        now = profile.device_time(at)
        index = self.index_for(profile)
        early = self._early_failure(nodes, index, profile, at, now, hostname)
        if early is not None:
            return early
        sent, skipped = _parse_chain(nodes, profile)
        if not sent:  # every certificate was left out: nothing to verify
            refusal = skipped[0][1]
            return _early(profile, at, now, hostname, "chain-parse", refusal.code, (nodes, 0))
        name_status = _name_status(sent[0], profile, hostname)
        trusted_for = {
            "mbedtls": "list",
            "idf-bundle": "none",
            "idf-bundle-cross-signed": "bundle-cb",
        }[profile.rules]
        outcome = build_path(sent, index, trusted_for, now, undated, profile)
        if not outcome.fatal:
            outcome.items[0].flags |= ee_flags(sent[0], profile)
            if name_status == "mismatch":
                outcome.items[0].flags |= CN_MISMATCH
            if profile.rules != "mbedtls":
                bundle_callback(outcome, index)
        flags = 0
        for item in outcome.items:
            flags |= item.flags
        fatal = outcome.fatal or outcome.callback_failed is not None
        error: int | None
        if fatal:
            error = ERR_X509_FATAL_ERROR
        elif flags:
            error = ERR_X509_CERT_VERIFY_FAILED
        else:
            error = None
        stage = "verify"
        if not fatal and _servers_own(sent[0]):
            assert sent[0].cert is not None
            usage = _usage_flags(sent[0].cert)
            flags |= usage
            if usage and error is None:
                error, stage = ERR_SSL_BAD_CERTIFICATE, "tls"
        path = [
            PathStep(
                it.node.label,
                "trust" if it.trusted else "chain",
                it.flags,
                _sent_position(it.position, sent, nodes),
                it.node.cert,
            )
            for it in outcome.items
        ]
        anchor = outcome.callback_anchor
        if (
            profile.rules != "mbedtls"
            and anchor is not None
            and outcome.callback_failed is None
            and not fatal
        ):
            path.append(PathStep(anchor.label, "trust", 0, None, anchor.cert))

        def explainer(v: Verdict, names_code: bool) -> str:
            return explain(
                v,
                outcome,
                sent,
                index,
                profile,
                skipped=skipped,
                sent_as=nodes,
                spelling=self.spelling,
                names_code=names_code,
            )

        return Verdict(
            ok=error is None,
            profile=profile,
            at=at,
            device_time=now,
            path=tuple(path),
            flags=flags,
            error=error,
            fatal=fatal,
            stage=stage,  # type: ignore[arg-type]
            hostname=hostname,
            name_status=name_status,
            explainer=explainer,
        )

    def _early_failure(
        self,
        nodes: Sequence[Node],
        index: TrustIndex,
        profile: DeviceProfile,
        at: datetime,
        now: datetime | None,
        hostname: str | None,
    ) -> Verdict | None:
        """Stages 1-3: the CA file, the server's certificates, the hostname rule."""
        failed = len(index.skipped) + index.trust.file_failures
        if profile.rules == "mbedtls" and profile.ca_parse == "fatal" and failed:
            return _early(profile, at, now, hostname, "ca-parse", failed, index)
        for i, n in enumerate(nodes):
            assert n.cert is not None
            refusal = parse_refusal(n.cert.der, profile.mbedtls)
            if refusal is not None and refusal.code != _SKIPPED_IN_CHAIN:
                return _early(profile, at, now, hostname, "chain-parse", refusal.code, (nodes, i))
        if profile.mbedtls == "3.6" and not profile.sets_hostname:
            return _early(profile, at, now, hostname, "tls", ERR_SSL_VERIFICATION_WITHOUT_HOSTNAME)
        return None


def _early(
    profile: DeviceProfile,
    at: datetime,
    now: datetime | None,
    hostname: str | None,
    stage: str,
    error: int,
    where: object = None,
) -> Verdict:
    def explainer(v: Verdict, names_code: bool) -> str:
        return explain_early(v, where, names_code=names_code)

    return Verdict(
        ok=False,
        profile=profile,
        at=at,
        device_time=now,
        path=(),
        flags=0,
        error=error,
        fatal=False,
        stage=stage,  # type: ignore[arg-type]
        hostname=hostname,
        name_status="not-set" if not profile.sets_hostname else "not-judged",
        explainer=explainer,
    )


def _parse_chain(
    nodes: Sequence[Node], profile: DeviceProfile
) -> tuple[list[Node], list[tuple[int, ParseRefusal]]]:
    """The certificates mbedTLS keeps from the server's Certificate message: all but
    those with an unknown signature algorithm (``ssl_parse_certificate_chain``)."""
    sent: list[Node] = []
    skipped: list[tuple[int, ParseRefusal]] = []
    for i, n in enumerate(nodes):
        assert n.cert is not None
        refusal = parse_refusal(n.cert.der, profile.mbedtls)
        if refusal is None:
            sent.append(n)
        else:
            skipped.append((i, refusal))
    return sent, skipped


def _sent_position(pos: int | None, sent: Sequence[Node], nodes: Sequence[Node]) -> int | None:
    """Positions count the certificates as the server sent them, skipped ones included."""
    if pos is None or len(sent) == len(nodes):
        return pos
    target = sent[pos]
    return next(i for i, n in enumerate(nodes) if n is target)


def _servers_own(first: Node) -> bool:
    """Whether the chain's first certificate is a server's own, which mbedTLS checks
    against the name (x509_crt_verify_name) and for TLS use (mbedtls_ssl_check_cert_usage)
    whatever it is: a leaf, or a self-signed certificate (a broker's pinned certificate;
    ``openssl req -x509`` marks it CA:TRUE). A chain that starts at an issuing CA is a
    CA's published chain without a leaf (a roadmap's, or saved from one): no server sends
    it as is, and its verdict stands for any leaf the CA issues, so neither is judged."""
    assert first.cert is not None
    return not first.is_ca or first.cert.self_signed


def _name_status(leaf: Node, profile: DeviceProfile, hostname: str | None) -> NameStatus:
    if not profile.sets_hostname:
        return "not-set"
    if not _servers_own(leaf):  # a saved or roadmap chain that starts at an intermediate
        return "no-leaf"
    if hostname is None:
        return "not-judged"
    assert leaf.cert is not None
    return "matched" if hostname_matches(leaf.cert, hostname, profile.mbedtls) else "mismatch"


@functools.lru_cache(maxsize=4096)
def _usage_flags(cert: Certificate) -> int:
    """``mbedtls_ssl_check_cert_usage`` for the server's certificate in a TLS 1.2
    ECDHE handshake: keyUsage must allow digitalSignature (and not encipherOnly or
    decipherOnly), extendedKeyUsage must name serverAuth or anyExtendedKeyUsage."""
    from cryptography import x509

    exts = cert.x509.extensions
    flags = 0
    try:
        ku = exts.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        pass
    else:
        only = ku.key_agreement and (ku.encipher_only or ku.decipher_only)
        if not ku.digital_signature or only:
            flags |= KEY_USAGE
    try:
        eku = exts.get_extension_for_class(x509.ExtendedKeyUsage).value
    except x509.ExtensionNotFound:
        pass
    else:
        oids = {o.dotted_string for o in eku}
        if not oids & {_SERVER_AUTH, _ANY_EKU}:
            flags |= EXT_KEY_USAGE
    return flags
