"""The verifier's rules one by one, with outcomes stated from mbedTLS's and ESP-IDF's
source (x509_crt_verify_chain, esp_crt_verify_callback), not taken from the verifier."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.x509.oid import NameOID

from esp_cabundle.errors import InputError
from esp_cabundle.verify import (
    BAD_MD,
    DEVICE_PROFILES,
    ERR_X509_CERT_VERIFY_FAILED,
    ERR_X509_FATAL_ERROR,
    EXPIRED,
    FUTURE,
    NOT_TRUSTED,
    DeviceProfile,
    TrustAnchor,
    TrustSet,
    error_text,
    flag_names,
    name_key,
    parse_device_profile,
    verify_chain,
)
from tests.support.profiles import CLOCK, IDF, IDF6, IDF_CLOCK, NOCLOCK, UNSET
from tests.support.verify_pki import DAY, NOW, YEAR, Minted, cross_signed, dn, fresh_key, mint


def trust(*m: Minted) -> TrustSet:
    return TrustSet.from_certificates([x.c for x in m])


def chain(*m: Minted) -> list:
    return [x.c for x in m]


def leaf(issuer: Minted, **kw: object) -> Minted:
    return mint("localhost", issuer, ca=False, **kw)  # type: ignore[arg-type]


# ---------------------------------------------------------------------------------------
# Profiles


def test_profile_registry_and_rules_clock_syntax() -> None:
    p = parse_device_profile("mbedtls-noclock")
    assert (p.rules, p.clock, p.name) == ("mbedtls", "none", "mbedtls-noclock")
    p = parse_device_profile("idf-bundle-cross-signed:unset")
    assert (p.rules, p.clock) == ("idf-bundle-cross-signed", "unset")
    assert p.name == "idf-bundle-cross-signed:unset"
    assert p.device_time(NOW).year == 1970
    assert parse_device_profile("mbedtls:none").device_time(NOW) is None
    assert parse_device_profile("mbedtls:synced").device_time(NOW) == NOW
    for name, prof in DEVICE_PROFILES.items():
        assert prof.name == name and prof.description


@pytest.mark.parametrize("bad", ["mbedtls-noclok", "mbedtls:sometimes", "openssl:none", ""])
def test_unknown_profile_is_a_clear_error(bad: str) -> None:
    with pytest.raises(InputError) as e:
        parse_device_profile(bad)
    assert "unknown device profile" in str(e.value)
    assert "RULES:CLOCK" in str(e.value)
    if bad == "mbedtls-noclok":
        assert "did you mean 'mbedtls-noclock'" in str(e.value)


def test_profile_values_are_validated() -> None:
    with pytest.raises(InputError, match="unknown verifier rules"):
        DeviceProfile("wolfssl", "none")  # type: ignore[arg-type]
    with pytest.raises(InputError, match="unknown clock mode"):
        DeviceProfile("mbedtls", "ntp")  # type: ignore[arg-type]


def test_flag_and_error_texts() -> None:
    assert flag_names(NOT_TRUSTED | FUTURE) == ("NOT_TRUSTED", "FUTURE")
    assert error_text(ERR_X509_CERT_VERIFY_FAILED).startswith("-0x2700")
    assert "0xffffd900" in error_text(ERR_X509_CERT_VERIFY_FAILED)
    assert "0xffffd000" in error_text(ERR_X509_FATAL_ERROR)
    assert error_text(None) == "none"


# ---------------------------------------------------------------------------------------
# Names as x509_name_cmp compares them


def _der(name: x509.Name) -> bytes:
    return name.public_bytes()


def test_name_compare_folds_ascii_case_only_for_utf8_and_printable() -> None:
    assert name_key(_der(dn("Case Root"))) == name_key(_der(dn("CASE ROOT", printable=True)))
    assert name_key(_der(dn("Case Root"))) != name_key(_der(dn("Case Root2")))
    ia5 = x509.Name(
        [x509.NameAttribute(NameOID.COMMON_NAME, "Root", _type=x509.name._ASN1Type.IA5String)]
    )
    ia5_upper = x509.Name(
        [x509.NameAttribute(NameOID.COMMON_NAME, "ROOT", _type=x509.name._ASN1Type.IA5String)]
    )
    assert name_key(_der(ia5)) != name_key(_der(ia5_upper))
    assert name_key(_der(ia5)) != name_key(_der(dn("Root")))  # IA5 vs UTF8 differ


def test_name_compare_respects_attribute_order_and_rdn_structure() -> None:
    cn = x509.NameAttribute(NameOID.COMMON_NAME, "X")
    o = x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Y")
    a = x509.Name([o, cn])
    b = x509.Name([cn, o])
    multi = x509.Name([x509.RelativeDistinguishedName([o, cn])])
    assert len({name_key(_der(a)), name_key(_der(b)), name_key(_der(multi))}) == 3


def test_issuer_name_differing_in_case_still_chains() -> None:
    root = mint("Case Root")
    inter = mint("Case CA", root, issuer_name=dn("CASE ROOT", printable=True))
    assert verify_chain(trust(root), chain(leaf(inter), inter), CLOCK, at=NOW).ok


# ---------------------------------------------------------------------------------------
# mbedTLS CA list


def test_path_records_sources_and_positions() -> None:
    root = mint("P Root")
    inter = mint("P CA", root)
    stray = mint("Stray")
    v = verify_chain(trust(root), chain(leaf(inter), stray, inter), CLOCK, at=NOW)
    assert v.ok
    assert [(s.label, s.source, s.position) for s in v.path] == [
        ("localhost", "chain", 0),
        ("P CA", "chain", 2),
        ("P Root", "trust", None),
    ]
    assert v.path[-1].sha256 == root.c.sha256
    json.dumps(v.to_dict())  # the report is JSON-ready


def test_trusted_parent_is_preferred_over_the_sent_one() -> None:
    new, cross = cross_signed(mint("Old Root"))
    inter = mint("Sub CA", new)
    v = verify_chain(trust(new), chain(leaf(inter), inter, cross), CLOCK, at=NOW)
    assert [s.source for s in v.path] == ["chain", "chain", "trust"]


def test_no_backtracking_after_the_first_suitable_chain_parent() -> None:
    anchor = mint("Anchor")
    mid_key = fresh_key()
    dead_end = mint("Mid", mint("Unknown"), key=mid_key)
    good = mint("Mid", anchor, key=mid_key)
    inter = mint("Below", good)
    v = verify_chain(trust(anchor), chain(leaf(inter), inter, dead_end, good), CLOCK, at=NOW)
    assert not v.ok and v.flags == NOT_TRUSTED
    assert v.path[-1].position == 2  # stuck at the dead end, 'Unknown' is not trusted
    # With the dead end listed after the good one, the same certificates pass.
    assert verify_chain(trust(anchor), chain(leaf(inter), inter, good, dead_end), CLOCK, at=NOW).ok


def test_expired_candidate_is_only_a_fallback() -> None:
    key = fresh_key()
    expired = mint("Twin Root", key=key, not_before=NOW - 3 * YEAR, not_after=NOW - DAY)
    valid = mint("Twin Root", key=key)
    inter = mint("Twin CA", valid)
    sent = chain(leaf(inter), inter)
    v = verify_chain(trust(expired, valid), sent, CLOCK, at=NOW)
    assert v.ok and v.path[-1].sha256 == valid.c.sha256
    only_expired = verify_chain(trust(expired), sent, CLOCK, at=NOW)
    assert not only_expired.ok and only_expired.flags == EXPIRED  # EXPIRED, not NOT_TRUSTED
    # Without a clock the first listed copy is used and nothing expires.
    v = verify_chain(trust(expired, valid), sent, NOCLOCK, at=NOW)
    assert v.ok and v.path[-1].sha256 == expired.c.sha256


def test_trusted_candidate_with_a_bad_signature_is_skipped() -> None:
    root = mint("Same Name")
    impostor = mint("Same Name")
    inter = mint("Sub", root)
    v = verify_chain(trust(impostor, root), chain(leaf(inter), inter), CLOCK, at=NOW)
    assert v.ok and v.path[-1].sha256 == root.c.sha256
    bad = verify_chain(trust(impostor), chain(leaf(inter), inter), CLOCK, at=NOW)
    assert not bad.ok and bad.flags == NOT_TRUSTED
    assert "its key does not verify the signature of 'Sub'" in bad.explanation


def test_max_eight_intermediates() -> None:
    root = mint("Deep Root")
    cas = [root]
    for k in range(9):
        cas.append(mint(f"Deep {k}", cas[-1]))
    nine = [leaf(cas[9]), *reversed(cas[1:10])]
    v = verify_chain(trust(root), chain(*nine), CLOCK, at=NOW)
    assert v.fatal and v.error == ERR_X509_FATAL_ERROR and not v.ok
    assert "more than 8 intermediate" in v.explanation
    eight = [leaf(cas[8]), *reversed(cas[1:9])]
    assert verify_chain(trust(root), chain(*eight), CLOCK, at=NOW).ok
    # The limit counts untrusted parents only: trusting the 9th intermediate shortens it.
    assert verify_chain(trust(root, cas[1]), chain(*nine), CLOCK, at=NOW).ok


def test_ca_bit_key_usage_and_path_length() -> None:
    root = mint("Rules Root")
    not_ca = mint("No CA", root, ca=False)
    assert not verify_chain(trust(root), chain(leaf(not_ca), not_ca), CLOCK, at=NOW).ok
    no_ku = mint("No keyCertSign", root, key_cert_sign=False)
    assert not verify_chain(trust(root), chain(leaf(no_ku), no_ku), CLOCK, at=NOW).ok
    absent_ku = mint("No keyUsage at all", root, key_cert_sign=None)
    assert verify_chain(trust(root), chain(leaf(absent_ku), absent_ku), CLOCK, at=NOW).ok
    # pathLenConstraint counts the intermediates below a CA (RFC 5280 4.2.1.9).
    zero = mint("Zero Root", path_length=0)
    assert verify_chain(trust(zero), chain(leaf(zero)), CLOCK, at=NOW).ok
    below_zero = mint("Z1", zero)
    assert not verify_chain(trust(zero), chain(leaf(below_zero), below_zero), CLOCK, at=NOW).ok
    limited = mint("Limited Root", path_length=1)
    i1 = mint("L1", limited)
    i2 = mint("L2", i1)
    assert verify_chain(trust(limited), chain(leaf(i1), i1), CLOCK, at=NOW).ok
    v = verify_chain(trust(limited), chain(leaf(i2), i2, i1), CLOCK, at=NOW)
    assert not v.ok and "path length limit" in v.explanation


def test_signatures_rsa_pkcs1_pss_and_ecdsa_curves() -> None:
    rsa_root = mint("RSA Root", key_kind="rsa2048")
    pss = mint("PSS CA", rsa_root, pss=True)
    assert verify_chain(trust(rsa_root), chain(leaf(pss), pss), CLOCK, at=NOW).ok
    p384 = mint("P384 Root", key_kind="ec384", hash_alg=hashes.SHA384())
    ec_ca = mint("EC CA", p384, key_kind="rsa2048", hash_alg=hashes.SHA384())
    assert verify_chain(trust(p384), chain(leaf(ec_ca), ec_ca), CLOCK, at=NOW).ok
    wrong = mint("PSS CA", rsa_root, pss=True, sign_with=fresh_key("rsa2048"))
    assert not verify_chain(trust(rsa_root), chain(leaf(wrong), wrong), CLOCK, at=NOW).ok


def test_sha1_signed_intermediate_is_bad_md() -> None:
    root = mint("Old Root", key_kind="rsa2048")
    old = mint("SHA1 CA", root, hash_alg=hashes.SHA1())
    v = verify_chain(trust(root), chain(leaf(old), old), CLOCK, at=NOW)
    assert not v.ok and v.flags == BAD_MD
    assert "sha1WithRSAEncryption" in v.explanation


def test_clock_modes() -> None:
    root = mint("Clock Root", not_before=NOW - 2 * YEAR, not_after=NOW - DAY)
    inter = mint("Clock CA", root)
    sent = chain(leaf(inter), inter)
    assert verify_chain(trust(root), sent, NOCLOCK, at=NOW).ok
    assert verify_chain(trust(root), sent, CLOCK, at=NOW - 2 * DAY).ok
    assert verify_chain(trust(root), sent, CLOCK, at=NOW).flags == EXPIRED
    v = verify_chain(trust(root), sent, UNSET, at=NOW)
    assert not v.ok and all(s.flags & FUTURE for s in v.path)
    assert v.device_time is not None and v.device_time.year == 1970
    assert "1970-01-01" in v.explanation and "SNTP" in v.explanation


def test_self_signed_leaf_in_the_trust_set() -> None:
    selfsigned = mint("localhost", ca=False)
    assert verify_chain(trust(selfsigned), chain(selfsigned), CLOCK, at=NOW).ok
    assert not verify_chain(trust(mint("Other")), chain(selfsigned), CLOCK, at=NOW).ok


def test_empty_chain_is_an_input_error() -> None:
    with pytest.raises(InputError, match="empty"):
        verify_chain(trust(mint("R")), [], CLOCK, at=NOW)


def test_key_only_anchors_under_mbedtls_rules_never_expire() -> None:
    root = mint("Keyonly Root", not_before=NOW - 3 * YEAR, not_after=NOW - DAY)
    inter = mint("Keyonly CA", root)
    anchors = TrustSet((TrustAnchor.from_key(root.c.subject_der, root.c.spki_der),))
    assert anchors.anchors[0].label == "Keyonly Root" and not anchors.has_dates
    v = verify_chain(anchors, chain(leaf(inter), inter), CLOCK, at=NOW)
    assert v.ok and v.path[-1].certificate is None


# ---------------------------------------------------------------------------------------
# ESP-IDF bundle callback


def test_idf_bundle_ignores_root_dates_but_not_sent_ones() -> None:
    root = mint("IDF Root", not_before=NOW - 3 * YEAR, not_after=NOW - DAY)
    inter = mint("IDF CA", root)
    sent = chain(leaf(inter), inter)
    v = verify_chain(trust(root), sent, IDF_CLOCK, at=NOW)
    assert v.ok, v.explanation  # the bundle stores no dates
    assert [s.source for s in v.path] == ["chain", "chain", "trust"]
    old_inter = mint("IDF CA", root, not_before=NOW - 2 * YEAR, not_after=NOW - DAY)
    v = verify_chain(trust(root), chain(leaf(old_inter), old_inter), IDF_CLOCK, at=NOW)
    assert not v.ok
    assert v.error == ERR_X509_CERT_VERIFY_FAILED  # the callback stays out: -0x2700
    assert "sole problem is NOT_TRUSTED" in v.explanation
    assert verify_chain(trust(root), chain(leaf(old_inter), old_inter), IDF, at=NOW).ok


def test_idf_bundle_lets_a_weak_hash_on_the_top_certificate_pass() -> None:
    root = mint("Weak Root", key_kind="rsa2048")
    old = mint("SHA1 CA", root, hash_alg=hashes.SHA1())
    sent = chain(leaf(old), old)
    assert verify_chain(trust(root), sent, IDF, at=NOW).ok
    assert not verify_chain(trust(root), sent, NOCLOCK, at=NOW).ok


def test_idf_bundle_checks_the_signature_with_the_stored_key() -> None:
    root = mint("Signer Root")
    forged = mint("Forged CA", issuer_name=root.cert.subject, path_length=0)
    v = verify_chain(trust(root), chain(leaf(forged), forged), IDF, at=NOW)
    assert not v.ok and v.error == ERR_X509_FATAL_ERROR
    assert "does not verify the signature" in v.explanation


def test_idf_bundle_binary_search_finds_one_entry_per_subject() -> None:
    """Two entries with the same subject: the search hits the first (sorted, stable); the
    device never tries the second key."""
    good = mint("Dup Root")
    other = mint("Dup Root")
    inter = mint("Dup CA", good)
    sent = chain(leaf(inter), inter)
    assert not verify_chain(trust(other, good), sent, IDF, at=NOW).ok
    assert verify_chain(trust(good, other), sent, IDF, at=NOW).ok
    # mbedTLS's own CA list tries every same-name root.
    assert verify_chain(trust(other, good), sent, NOCLOCK, at=NOW).ok


def test_idf_cross_signed_mode_trusts_the_bundle_at_every_step() -> None:
    x1, x1_by_old = cross_signed(mint("Old Root"))
    r3 = mint("Issuing CA", x1, path_length=0)
    sent = chain(leaf(r3), r3, x1_by_old)
    assert not verify_chain(trust(x1), sent, IDF, at=NOW).ok
    v = verify_chain(trust(x1), sent, IDF6, at=NOW)
    assert v.ok and [s.label for s in v.path] == ["localhost", "Issuing CA", "New Root"]
    v = verify_chain(trust(mint("Nobody")), sent, IDF6, at=NOW)
    assert not v.ok and v.error == ERR_X509_FATAL_ERROR
    # The bundle keeps no dates: an expired root file still anchors, even with a clock.
    old_x1 = mint("New Root", key=x1.key, not_before=NOW - 3 * YEAR, not_after=NOW - DAY)
    idf6_clock = parse_device_profile("idf-bundle-cross-signed-clock")
    assert verify_chain(trust(old_x1), sent, idf6_clock, at=NOW).ok
    assert not verify_chain(trust(old_x1), sent, CLOCK, at=NOW).ok


def test_explanation_lists_a_small_bundle_and_what_it_signs() -> None:
    dst = mint("Old Root")
    new, cross = cross_signed(dst)
    inter = mint("Sub", new, path_length=0)
    v = verify_chain(trust(dst), chain(inter), NOCLOCK, at=NOW)
    assert "the bundle holds only Old Root, which signs no certificate" in v.explanation
    v = verify_chain(trust(dst, mint("Other Root")), chain(inter, cross, inter), NOCLOCK, at=NOW)
    assert v.ok  # the cross-sign was sent after all
    many = trust(*(mint(f"Root {k}") for k in range(5)))
    v = verify_chain(many, chain(inter), NOCLOCK, at=NOW)
    assert "none of the bundle's 5 roots signs a certificate in this chain" in v.explanation


def test_expired_roots_are_named_when_a_noclock_device_still_accepts() -> None:
    root = mint("Stale Root", not_before=NOW - 5 * YEAR, not_after=NOW - timedelta(days=400))
    inter = mint("Stale CA", root)
    v = verify_chain(trust(root), chain(leaf(inter), inter), NOCLOCK, at=NOW)
    assert v.ok and "never checks dates" in v.explanation and "Stale Root" in v.explanation
