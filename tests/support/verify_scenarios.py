"""A family of chain scenarios (trust set + chain as sent), minted relative to now, that
exercise every rule of mbedTLS's path search. The expected outcome is NOT stored here:
the agreement test asks real mbedTLS, the rule tests state it themselves."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID

from esp_cabundle.certs import Certificate
from esp_cabundle.verify import (
    ERR_X509_FATAL_ERROR,
    DeviceProfile,
    TrustSet,
    Verdict,
    flag_names,
    verify_chain,
)

from . import parse_corpus as pc
from .verify_pki import DAY, NOW, YEAR, Minted, dn, fresh_key, mint


@dataclass
class Scenario:
    name: str
    trust: list[Minted | bytes]  # bytes: a certificate mbedTLS may refuse (DER)
    chain: list[Minted | bytes]  # as sent, leaf first
    hostname: str | None = "localhost"


def der(m: Minted | bytes) -> bytes:
    return m if isinstance(m, bytes) else m.der


def certificates(items: Iterable[Minted | bytes]) -> list[Certificate]:
    return [Certificate.from_der(der(m)) for m in items]


def our_verdict(
    trust: Iterable[Minted | bytes],
    chain: Iterable[Minted | bytes],
    profile: DeviceProfile,
    *,
    at: datetime,
    hostname: str | None,
) -> Verdict:
    """The tool's verdict on a chain as sent, which the agreement tests hold against
    real mbedTLS's answer."""
    trust_set = TrustSet.from_certificates(certificates(trust))
    return verify_chain(trust_set, certificates(chain), profile, at=at, hostname=hostname)


def assert_x509_agrees(v: Verdict, stage: str, rc: int, flags: int, label: str) -> None:
    """A harness's answer (the stage it stopped at, its return code, the verification
    flags) against our verdict. KEY_USAGE/EXT_KEY_USAGE flags (0x1800) come from the TLS
    layer, not from x509 verification, so they are left out of the comparison."""
    if stage == "parse":
        assert v.stage == "chain-parse" and v.error == rc, v.explanation
        return
    assert (rc == 0) == (v.ok or v.stage == "tls"), f"{label}: {rc:#x} vs {v.explanation}"
    if rc == ERR_X509_FATAL_ERROR:
        assert v.error == ERR_X509_FATAL_ERROR, v.explanation
    else:
        assert flags == v.flags & ~0x1800, f"{label}: {flag_names(flags)} vs {v.flag_names}"


def _edited(der_bytes: bytes, like: Minted) -> Minted:
    """A re-signed certificate with ``like``'s key, so a TLS server can present it."""
    return Minted(x509.load_der_x509_certificate(der_bytes), like.key)


def _leaf(issuer: Minted, **kw: object) -> Minted:
    return mint("localhost", issuer, ca=False, **kw)  # type: ignore[arg-type]


def _simple(name: str, **kw: object) -> Scenario:
    root = mint(f"{name} Root", **kw)  # type: ignore[arg-type]
    inter = mint(f"{name} CA", root, **kw)  # type: ignore[arg-type]
    return Scenario(name, [root], [_leaf(inter), inter])


def _cross(name: str, *, old_kw: dict, cross_kw: dict, trust: str) -> Scenario:
    """New root N (self-signed, not sent), N cross-signed by old root O (sent), an
    intermediate under N, a leaf. ``trust``: "old", "new" or "both"."""
    old = mint(f"{name} Old Root", **old_kw)
    new_key = fresh_key()
    new = mint(f"{name} New Root", key=new_key)
    x = mint(f"{name} New Root", old, key=new_key, **cross_kw)
    inter = mint(f"{name} CA", new)
    roots = {"old": [old], "new": [new], "both": [old, new]}[trust]
    return Scenario(name, roots, [_leaf(inter), inter, x])


def _chain_of_depth(name: str, n: int) -> Scenario:
    root = mint(f"{name} Root")
    cas = [root]
    for k in range(n):
        cas.append(mint(f"{name} I{k}", cas[-1]))
    return Scenario(name, [root], [_leaf(cas[-1]), *reversed(cas[1:])])


def named_scenarios() -> Iterator[Scenario]:
    yield _simple("rsa-ok", key_kind="rsa2048")
    yield _simple("ecdsa-p256-ok")
    r = mint("P384 Root", key_kind="ec384", hash_alg=hashes.SHA384())
    i = mint("P384 CA", r, hash_alg=hashes.SHA384())
    yield Scenario("ecdsa-p384-sha384-ok", [r], [_leaf(i), i])

    s = _simple("missing-root")
    s.trust = [mint("Unrelated Root")]
    yield s

    r = mint("Expired Root", not_before=NOW - 3 * YEAR, not_after=NOW - DAY)
    i = mint("Expired Root CA", r)
    yield Scenario("expired-root", [r], [_leaf(i), i])
    r = mint("Future Root", not_before=NOW + DAY)
    i = mint("Future Root CA", r)
    yield Scenario("not-yet-valid-root", [r], [_leaf(i), i])
    r = mint("Root A")
    i = mint("Expired CA", r, not_before=NOW - 2 * YEAR, not_after=NOW - DAY)
    yield Scenario("expired-intermediate", [r], [_leaf(i), i])
    r = mint("Root B")
    i = mint("Future CA", r, not_before=NOW + 2 * DAY)
    yield Scenario("not-yet-valid-intermediate", [r], [_leaf(i), i])
    r = mint("Root C")
    i = mint("Leafy CA", r)
    yield Scenario("expired-leaf", [r], [_leaf(i, not_after=NOW - DAY), i])

    yield _cross("cross-old-trusted", old_kw={}, cross_kw={}, trust="old")
    yield _cross("cross-new-trusted", old_kw={}, cross_kw={}, trust="new")
    expired = {"not_before": NOW - 5 * YEAR, "not_after": NOW - DAY}
    yield _cross("cross-2021-old-expired-both", old_kw=expired, cross_kw={}, trust="both")
    yield _cross("cross-2021-only-expired-old", old_kw=expired, cross_kw={}, trust="old")
    yield _cross("cross-sign-expired-old-trusted", old_kw={}, cross_kw=expired, trust="old")
    yield _cross("cross-sign-expired-new-trusted", old_kw={}, cross_kw=expired, trust="new")

    r = mint("Forge Root")
    i = mint("Forged CA", r, sign_with=fresh_key())
    yield Scenario("forged-intermediate-signature", [r], [_leaf(i), i])
    r = mint("Twin Root")
    impostor = mint("Twin Root")  # same name, another key
    i = mint("Twin CA", r)
    yield Scenario("same-name-root-other-key", [impostor], [_leaf(i), i])
    yield Scenario("same-name-roots-impostor-first", [impostor, r], [_leaf(i), i])

    yield _chain_of_depth("eight-intermediates", 8)
    yield _chain_of_depth("nine-intermediates", 9)

    r = mint("PSS Root", key_kind="rsa2048")
    i = mint("PSS CA", r, pss=True, key_kind="rsa2048")
    yield Scenario("rsa-pss-intermediate", [r], [_leaf(i), i])
    r = mint("SHA1 Root", key_kind="rsa2048")
    i = mint("SHA1 CA", r, hash_alg=hashes.SHA1(), key_kind="rsa2048")
    yield Scenario("sha1-intermediate", [r], [_leaf(i), i])
    r = mint("Small Root", key_kind="rsa2048")
    i = mint("Small CA", r, key_kind="rsa1024")
    yield Scenario("rsa1024-intermediate", [r], [_leaf(i), i])

    r = mint("Pathlen Root", path_length=0)
    i1 = mint("Pathlen CA 1", r)
    i2 = mint("Pathlen CA 2", i1)
    yield Scenario("pathlen-0-root-two-intermediates", [r], [_leaf(i2), i2, i1])
    r = mint("Pathlen1 Root", path_length=1)
    i1 = mint("Pathlen1 CA 1", r)
    i2 = mint("Pathlen1 CA 2", i1)
    yield Scenario("pathlen-1-root-two-intermediates", [r], [_leaf(i2), i2, i1])
    r = mint("NotCA Root")
    i = mint("Not a CA", r, ca=False)
    yield Scenario("intermediate-without-ca-bit", [r], [_leaf(i), i])
    r = mint("KU Root")
    i = mint("KU CA", r, key_cert_sign=False)
    yield Scenario("intermediate-without-keycertsign", [r], [_leaf(i), i])

    k = fresh_key()
    old_copy = mint("Reissued Root", key=k, not_before=NOW - 4 * YEAR, not_after=NOW - DAY)
    new_copy = mint("Reissued Root", key=k)
    i = mint("Reissued CA", new_copy)
    yield Scenario("two-copies-of-root-first-expired", [old_copy, new_copy], [_leaf(i), i])

    r = mint("Case Root")
    i = mint("Case CA", r, issuer_name=dn("CASE ROOT", printable=True))
    yield Scenario("issuer-name-differs-in-case", [r], [_leaf(i), i])

    r = mint("Junk Root")
    i = mint("Junk CA", r)
    yield Scenario("junk-certificate-in-chain", [r], [_leaf(i), mint("Stray"), i])

    # No backtracking: the first suitable "Mid" in the chain leads nowhere.
    t = mint("Anchor Root")
    unknown = mint("Unknown CA")
    mid_key = fresh_key()
    mid_dead_end = mint("Mid", unknown, key=mid_key)
    mid_good = mint("Mid", t, key=mid_key)
    i = mint("Below Mid", mid_good)
    yield Scenario("no-backtracking", [t], [_leaf(i), i, mid_dead_end, mid_good])
    mid_dead_expired = mint("Mid", unknown, key=mid_key, not_after=NOW - DAY, not_before=NOW - YEAR)
    yield Scenario("time-preference-in-chain", [t], [_leaf(i), i, mid_dead_expired, mid_good])

    selfsigned = mint("localhost", ca=False)
    yield Scenario("self-signed-leaf-trusted", [selfsigned], [selfsigned])
    yield Scenario("self-signed-leaf-untrusted", [mint("Someone")], [selfsigned])


_STATES: dict[str, Callable[[], dict]] = {
    "valid": lambda: {},
    "expired": lambda: {"not_before": NOW - 3 * YEAR, "not_after": NOW - DAY},
    "future": lambda: {"not_before": NOW + DAY, "not_after": NOW + 3 * YEAR},
}


def random_scenarios(count: int, *, seed: int = 2024) -> Iterator[Scenario]:
    """Random depths, key types, validity states, trust sets and forged links."""
    rnd = random.Random(seed)
    for n in range(count):
        depth = rnd.randint(0, 3)
        kinds = ["ec256", "ec384", "ec256", "rsa2048"]
        root = mint(f"R{n} Root", key_kind=rnd.choice(kinds), **_state(rnd))
        cas = [root]
        for k in range(depth):
            forged = rnd.random() < 0.15
            cas.append(
                mint(
                    f"R{n} CA{k}",
                    cas[-1],
                    key_kind=rnd.choice(kinds),
                    sign_with=fresh_key() if forged else None,
                    **_state(rnd),
                )
            )
        leaf = _leaf(cas[-1])
        sent = [leaf, *reversed(cas[1:])]
        if rnd.random() < 0.3:
            sent.append(root)  # some servers send the root too
        trust = [root] if rnd.random() < 0.8 else [mint(f"R{n} Other")]
        yield Scenario(f"random-{n}-depth{depth}", trust, sent)


def _state(rnd: random.Random) -> dict:
    return _STATES[rnd.choices(["valid", "expired", "future"], [0.7, 0.15, 0.15])[0]]()


def _ku(**bits: bool) -> x509.KeyUsage:
    names = [
        "digital_signature",
        "content_commitment",
        "key_encipherment",
        "data_encipherment",
        "key_agreement",
        "key_cert_sign",
        "crl_sign",
        "encipher_only",
        "decipher_only",
    ]
    return x509.KeyUsage(**{n: bits.get(n, False) for n in names})


def device_scenarios() -> Iterator[Scenario]:
    """What the device checks around the path: parsing (§1), the server's name and key
    usage (§2), mbedTLS 3.6's profile (§6), chain order and dead ends (§3)."""
    # §1 A CA file root the device cannot parse is skipped; the rest is kept.
    nc_root = mint("NC Root")
    nc_der = _edited(
        pc.with_extensions(nc_root, nc_root.key, pc.ext("2.5.29.30", pc.NC, True)), nc_root
    )
    inter = mint("NC CA", nc_root)
    yield Scenario(
        "ca-root-critical-name-constraints", [nc_der, mint("Other Root")], [_leaf(inter), inter]
    )
    pol_der = _edited(
        pc.with_extensions(nc_root, nc_root.key, pc.ext("2.5.29.32", pc.POLICY, True)), nc_root
    )
    yield Scenario(
        "ca-root-critical-policy-and-a-good-copy", [pol_der, nc_root], [_leaf(inter), inter]
    )
    # ... and a server certificate it cannot parse ends the handshake.
    r = mint("Parse Root")
    i = mint("Parse CA", r)
    leaf = _leaf(i)
    bad_leaf = _edited(pc.with_extensions(leaf, i.key, pc.ext("1.2.3.4", b"\x05\x00", True)), leaf)
    yield Scenario("server-leaf-critical-unknown-extension", [r], [bad_leaf, i])
    bad_inter = _edited(pc.with_extensions(i, r.key, pc.ext("2.5.29.30", pc.NC, True)), i)
    yield Scenario("server-intermediate-critical-name-constraints", [r], [leaf, bad_inter])
    stray = mint("Ed Stray", key=fresh_key("ed25519"))
    yield Scenario("server-sends-ed25519-signed-extra", [r], [leaf, i, stray])
    # §2 The server's name.
    for host, sans, label in (
        ("a.example.com", ["*.example.com"], "wildcard-one-label"),
        ("a.b.example.com", ["*.example.com"], "wildcard-two-labels"),
        ("example.com", ["*.example.com"], "wildcard-bare-domain"),
        ("WWW.Example.COM", ["www.example.com"], "case-folded"),
        ("other.example", ["www.example.com", "other.example"], "second-san"),
        ("nomatch.example", ["www.example.com"], "mismatch"),
    ):
        names = [x509.DNSName(n) for n in sans]
        yield Scenario(f"name-{label}", [r], [_leaf(i, sans=names), i], hostname=host)
    cn_only = mint("cn.example", i, ca=False, sans=[])
    yield Scenario("name-cn-without-san", [r], [cn_only, i], hostname="cn.example")
    san_not_cn = mint("cn.example", i, ca=False, sans=[x509.DNSName("san.example")])
    yield Scenario("name-cn-ignored-with-san", [r], [san_not_cn, i], hostname="cn.example")
    yield Scenario("name-not-set-by-client", [r], [_leaf(i), i], hostname=None)
    # §2 Key usage for a TLS server.
    client_only = [ExtendedKeyUsageOID.CLIENT_AUTH]
    yield Scenario("eku-client-auth-only", [r], [_leaf(i, eku=client_only), i])
    yield Scenario(
        "eku-client-auth-only-and-untrusted", [mint("Nobody")], [_leaf(i, eku=client_only), i]
    )
    yield Scenario(
        "eku-server-and-client",
        [r],
        [_leaf(i, eku=[ExtendedKeyUsageOID.SERVER_AUTH, *client_only]), i],
    )
    # An ECDHE server key must sign: digitalSignature, and none of the "only" bits.
    odd_ku = _ku(digital_signature=True, key_agreement=True, encipher_only=True)
    yield Scenario("ku-encipher-only-bit", [r], [_leaf(i, leaf_key_usage=odd_ku), i])
    yield Scenario(
        "ku-digital-signature", [r], [_leaf(i, leaf_key_usage=_ku(digital_signature=True)), i]
    )
    # §6 mbedTLS 3.6's default profile.
    from cryptography.hazmat.primitives import hashes

    i224 = mint("SHA224 CA", r, hash_alg=hashes.SHA224())
    yield Scenario("sha224-intermediate", [r], [_leaf(i224), i224])
    k1 = mint("K1 CA", r, key=ec.generate_private_key(ec.SECP256K1()))
    yield Scenario("secp256k1-intermediate-key", [r], [_leaf(k1), k1])
    k1_root = mint("K1 Root", key=ec.generate_private_key(ec.SECP256K1()))
    k1_child = mint("Under K1 CA", k1_root)
    yield Scenario("secp256k1-root-key", [k1_root], [_leaf(k1_child), k1_child])
    p224 = mint("P224 CA", r, key=ec.generate_private_key(ec.SECP224R1()))
    yield Scenario("secp224r1-intermediate-key", [r], [_leaf(p224), p224])
    # §3 Order and dead ends.
    root = mint("Order Root")
    mid = mint("Order Mid", root)
    low = mint("Order Low", mid)
    yield Scenario("wrong-order", [root], [_leaf(low), mid, low])
