"""A family of chain scenarios (trust set + chain as sent), minted relative to now, that
exercise every rule of mbedTLS's path search. The expected outcome is NOT stored here:
the agreement test asks real mbedTLS, the rule tests state it themselves."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from cryptography.hazmat.primitives import hashes

from .verify_pki import DAY, NOW, YEAR, Minted, dn, fresh_key, mint


@dataclass
class Scenario:
    name: str
    trust: list[Minted]
    chain: list[Minted]  # as sent, leaf first


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
