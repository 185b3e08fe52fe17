"""The device's stages around path building, one rule at a time, with outcomes stated
from mbedTLS's source (x509_crt.c, ssl_tls.c of 2.28 and 3.6) and ESP-IDF's
esp_crt_bundle.c, not from the verifier."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.x509.oid import ExtendedKeyUsageOID

from esp_cabundle.bundle import mbedtls_parse_error
from esp_cabundle.certs import Certificate, load_certificate_file
from esp_cabundle.cli import cli
from esp_cabundle.errors import InputError
from esp_cabundle.formats.idf_bundle import parse_idf_bundle, render_idf_bundle
from esp_cabundle.formats.idf_versions import bundle_format_for
from esp_cabundle.inspect import inspect_bytes
from esp_cabundle.verify import (
    DEVICE_PROFILES,
    TrustSet,
    hostname_matches,
    mbedtls_version_for,
    parse_device_profile,
    parse_refusal,
    verify_chain,
)
from tests.support import parse_corpus as pc
from tests.support.profiles import CLOCK, CLOCK3, IDF, IDF5
from tests.support.verify_pki import NOW, Minted, fresh_key, mint

DATA = Path(__file__).parent / "data"


def trust(*items: Minted | bytes) -> TrustSet:
    return TrustSet.from_certificates([_c(m) for m in items])


def _c(m: Minted | bytes) -> Certificate:
    return Certificate.from_der(m if isinstance(m, bytes) else m.der)


def leaf(issuer: Minted, **kw: object) -> Minted:
    return mint("localhost", issuer, ca=False, **kw)  # type: ignore[arg-type]


# ---------------------------------------------------------------------------------------
# Profiles: the mbedTLS line and the firmware's habits


def test_profiles_name_their_mbedtls_line() -> None:
    assert parse_device_profile("mbedtls-clock").mbedtls == "2.28"
    assert parse_device_profile("mbedtls3-clock").mbedtls == "3.6"
    assert parse_device_profile("idf5-bundle").rules == "idf-bundle"
    p = parse_device_profile("idf-bundle@idf-5.4+no-hostname")
    assert (p.rules, p.mbedtls, p.sets_hostname) == ("idf-bundle", "3.6", False)
    assert p.name == "idf-bundle@idf-5.4+no-hostname"
    p = parse_device_profile("mbedtls:none@2.28+fatal-ca-parse")
    assert (p.clock, p.mbedtls, p.ca_parse) == ("none", "2.28", "fatal")
    assert all(p.description for p in DEVICE_PROFILES.values())


@pytest.mark.parametrize(
    ("version", "line"),
    [("idf-4.4", "2.28"), ("idf-5.0", "3.6"), ("idf-v5.5.1", "3.6"), ("arduino-2.0.17", "2.28"),
     ("arduino-3.2.0", "3.6"), ("3.6", "3.6"), ("2.28.8", "2.28"), ("mongoose-os", "2.28")],
)  # fmt: skip
def test_platform_versions_map_to_a_line(version: str, line: str) -> None:
    assert mbedtls_version_for(version) == line


@pytest.mark.parametrize("bad", ["mbedtls-clock@4.0", "mbedtls-clock@tuesday", "idf5-bundle+x"])
def test_bad_profile_suffixes_are_clear_errors(bad: str) -> None:
    with pytest.raises(InputError):
        parse_device_profile(bad)


# ---------------------------------------------------------------------------------------
# §1 Parsing


def test_parse_refusals_per_line() -> None:
    root = mint("P Root")
    nc = pc.with_extensions(root, root.key, pc.ext("2.5.29.30", pc.NC, True))
    policy = pc.with_extensions(root, root.key, pc.ext("2.5.29.32", pc.POLICY, True))
    ski = pc.with_extensions(root, root.key, pc.ext("2.5.29.14", b"\x05\x00"))
    for line in ("2.28", "3.6"):
        assert parse_refusal(nc, line).code == -0x2562  # type: ignore[arg-type, union-attr]
        assert parse_refusal(policy, line).code == -0x2080  # type: ignore[arg-type, union-attr]
    assert parse_refusal(ski, "2.28") is None  # 2.28 does not read subjectKeyIdentifier
    assert parse_refusal(ski, "3.6").code == -0x2562  # type: ignore[union-attr]
    assert "nameConstraints" in str(parse_refusal(nc))


def test_mbedtls_parse_error_needs_no_python_mbedtls(monkeypatch: pytest.MonkeyPatch) -> None:
    """The 'unparseable' policy runs on every Python: the model, not python-mbedtls."""
    import sys

    monkeypatch.setitem(sys.modules, "mbedtls", None)
    root = mint("No Lib Root")
    nc = pc.with_extensions(root, root.key, pc.ext("2.5.29.30", pc.NC, True))
    assert mbedtls_parse_error(nc) is not None and "-0x2562" in mbedtls_parse_error(nc)  # type: ignore[operator]
    assert mbedtls_parse_error(root.der) is None


def test_unparseable_root_is_skipped_and_the_rest_kept() -> None:
    root = mint("Skip Root")
    nc = pc.with_extensions(root, root.key, pc.ext("2.5.29.30", pc.NC, True))
    inter = mint("Skip CA", root)
    chain = [_c(leaf(inter)), _c(inter)]
    v = verify_chain(trust(nc, mint("Other")), chain, CLOCK, at=NOW)
    assert not v.ok and v.error == -0x2700 and v.flag_names == ("NOT_TRUSTED",)
    assert "mbedtls_x509_crt_parse skipped it and kept the other roots" in v.explanation
    assert verify_chain(trust(nc, root), chain, CLOCK, at=NOW).ok  # a good copy still counts
    # Firmware that treats the skipped count as fatal has no trust store at all.
    fatal = replace(CLOCK, ca_parse="fatal")
    v = verify_chain(trust(nc, root), chain, fatal, at=NOW)
    assert (v.ok, v.stage, v.error) == (False, "ca-parse", 1)
    assert "returned 1" in v.error_text and "0xffffffff" in v.error_text


def test_a_bundle_keeps_a_root_mbedtls_could_not_parse() -> None:
    """An ESP-IDF bundle stores name and key only: the device never parses the root."""
    root = mint("Bundle Root")
    nc = pc.with_extensions(root, root.key, pc.ext("2.5.29.30", pc.NC, True))
    inter = mint("Bundle CA", root)
    assert verify_chain(trust(nc), [_c(leaf(inter)), _c(inter)], IDF, at=NOW).ok


def test_unparseable_server_certificate_ends_the_handshake() -> None:
    root = mint("S Root")
    inter = mint("S CA", root)
    bad = pc.with_extensions(inter, root.key, pc.ext("2.5.29.30", pc.NC, True))
    for profile in (CLOCK, IDF, CLOCK3):
        v = verify_chain(trust(root), [_c(leaf(inter)), _c(bad)], profile, at=NOW)
        assert (v.ok, v.stage, v.error, v.path) == (False, "chain-parse", -0x2562, ())
        # The second sent, numbered as chains show lists it (JSON's position is 1).
        assert "(#2 as sent)" in v.explanation and "handshake ends there" in v.explanation


def test_unknown_signature_algorithm_in_chain_is_left_out() -> None:
    root = mint("E Root")
    inter = mint("E CA", root)
    stray = mint("Ed Stray", key=fresh_key("ed25519"))
    v = verify_chain(trust(root), [_c(leaf(inter)), _c(stray), _c(inter)], CLOCK, at=NOW)
    assert v.ok and [s.position for s in v.path] == [0, 2, None]
    assert "leaves out 'Ed Stray' (#2 as sent)" in v.explanation


def test_inspect_and_chains_show_say_the_same(tmp_path: Path) -> None:
    root = mint("Same Root")
    nc = pc.with_extensions(root, root.key, pc.ext("2.5.29.30", pc.NC, True))
    pem = root.pem + Minted(x509.load_der_x509_certificate(nc), root.key).pem
    report = inspect_bytes(pem, source="ca.pem")
    note = next(n for n in report.notes if "cannot parse" in n)
    assert "keeps the other certificates" in note and "mDash 1.2.13" in note
    assert "-0x2562" in note and "fails the whole file" not in note
    (tmp_path / "chain.pem").write_bytes(pem)
    out = CliRunner().invoke(cli, ["chains", "show", str(tmp_path / "chain.pem")]).output
    assert "cannot parse it (-0x2562" in out and "ends the handshake there with -0x2562" in out
    assert "note: #2 Same Root: " in out  # numbered as the table below it, and inspect


# ---------------------------------------------------------------------------------------
# §2 The server's own certificate


@pytest.mark.parametrize(
    ("names", "host", "match"),
    [
        (["*.example.com"], "a.example.com", True),
        (["*.example.com"], "a.b.example.com", False),  # one label only
        (["*.example.com"], "example.com", False),
        (["www.example.com"], "WWW.EXAMPLE.COM", True),  # ASCII case folds
        (["a*.example.com"], "ab.example.com", False),  # only a leading "*." is a wildcard
    ],
)
def test_hostname_rules(names: list[str], host: str, match: bool) -> None:
    cert = _c(mint("x", mint("N Root"), ca=False, sans=[x509.DNSName(n) for n in names]))
    assert hostname_matches(cert, host) is match


def test_cn_counts_only_without_san() -> None:
    root = mint("CN Root")
    assert hostname_matches(_c(mint("cn.example", root, ca=False, sans=[])), "cn.example")
    with_san = _c(mint("cn.example", root, ca=False, sans=[x509.DNSName("other.example")]))
    assert not hostname_matches(with_san, "cn.example")


def test_ip_address_san_counts_from_36() -> None:
    import ipaddress

    ip = [x509.IPAddress(ipaddress.ip_address("192.0.2.7"))]
    cert = _c(mint("ip", mint("IP Root"), ca=False, sans=ip))
    assert not hostname_matches(cert, "192.0.2.7", "2.28")
    assert hostname_matches(cert, "192.0.2.7", "3.6")


def test_name_mismatch_and_not_judged() -> None:
    root = mint("Name Root")
    chain = [_c(leaf(root))]
    v = verify_chain(trust(root), chain, CLOCK, at=NOW, hostname="other.example")
    assert (v.ok, v.error, v.flag_names, v.name_status) == (
        False, -0x2700, ("CN_MISMATCH",), "mismatch")  # fmt: skip
    v = verify_chain(trust(root), chain, CLOCK, at=NOW)
    assert v.ok and v.name_status == "not-judged" and "not judged" in v.explanation
    assert v.to_dict()["name_judged"] is False
    v = verify_chain(trust(root), chain, replace(CLOCK, sets_hostname=False), at=NOW,
                     hostname="other.example")  # fmt: skip
    assert v.ok and v.name_status == "not-set"  # 2.28 checks no name when none is set
    v = verify_chain(trust(root), chain, replace(CLOCK3, sets_hostname=False), at=NOW)
    assert (v.ok, v.error, v.stage) == (False, -0x5D80, "tls")  # 3.6.3+


def test_client_auth_only_leaf_is_refused_by_the_tls_layer() -> None:
    root = mint("EKU Root")
    eku = [ExtendedKeyUsageOID.CLIENT_AUTH]
    v = verify_chain(trust(root), [_c(leaf(root, eku=eku))], CLOCK, at=NOW)
    assert (v.ok, v.error, v.stage, v.flag_names) == (False, -0x7A00, "tls", ("EXT_KEY_USAGE",))
    assert "does not include serverAuth" in v.explanation
    # A failing chain keeps its own error; the usage flag is added to it.
    v = verify_chain(trust(mint("Nobody")), [_c(leaf(root, eku=eku))], CLOCK, at=NOW)
    assert v.error == -0x2700 and "EXT_KEY_USAGE" in v.flag_names


def test_check_hostname_option_and_json(tmp_path: Path) -> None:
    root = mint("CLI Root")
    inter = mint("CLI CA", root)
    lf = mint("svc.example", inter, ca=False, sans=[x509.DNSName("svc.example")])
    (tmp_path / "ca.pem").write_bytes(root.pem)
    (tmp_path / "svc.example.pem").write_bytes(lf.pem + inter.pem)
    (tmp_path / "chain.pem").write_bytes(lf.pem + inter.pem)
    runner = CliRunner()
    base = ["check", "--bundle", str(tmp_path / "ca.pem"), "--device", "mbedtls-clock"]
    out = runner.invoke(cli, [*base, "--chain", str(tmp_path / "chain.pem")]).output
    assert "name not judged" in out
    out = runner.invoke(cli, [*base, "--chain", str(tmp_path / "svc.example.pem")]).output
    assert "name svc.example checked" in out  # a chain file named after its server
    res = runner.invoke(cli, [*base, "--chain", str(tmp_path / "chain.pem"), "--hostname",
                              "evil.example", "--json"])  # fmt: skip
    assert res.exit_code == 1
    verdict = json.JSONDecoder().raw_decode(res.output)[0]["results"][0]["verdict"]
    assert verdict["name"] == "mismatch" and verdict["hostname"] == "evil.example"


# ---------------------------------------------------------------------------------------
# §3 One-second clock, bundle duplicates, explanations


def test_fractional_at_judges_the_whole_second() -> None:
    end = (NOW + timedelta(days=2)).replace(hour=21, minute=35, second=3)
    root = mint("Sec Root")
    chain = [_c(mint("localhost", root, ca=False, not_after=end))]
    assert verify_chain(trust(root), chain, CLOCK, at=end + timedelta(milliseconds=600)).ok
    assert not verify_chain(trust(root), chain, CLOCK, at=end + timedelta(seconds=1)).ok


def test_check_at_with_a_fraction(tmp_path: Path) -> None:
    end = (NOW + timedelta(days=2)).replace(hour=21, minute=35, second=3)
    root = mint("Frac Root")
    (tmp_path / "ca.pem").write_bytes(root.pem)
    (tmp_path / "c.pem").write_bytes(mint("localhost", root, ca=False, not_after=end).pem)
    at = (end + timedelta(milliseconds=600)).strftime("%Y-%m-%dT%H:%M:%S.%f")
    res = CliRunner().invoke(cli, ["check", "--bundle", str(tmp_path / "ca.pem"), "--chain",
                                   str(tmp_path / "c.pem"), "--at", at])  # fmt: skip
    assert res.exit_code == 0, res.output


def test_bundle_binary_search_lands_as_on_the_device() -> None:
    """gen_crt_bundle.py keeps a root and its cross-sign as two entries; with a forged
    same-name root ahead of them, the device's search lands on a good entry in the
    bundle it makes and on the forged one if the repeats were dropped."""
    le = DATA / "letsencrypt"
    pem = load_certificate_file(DATA / "idf-bundle" / "input" / "duplicates.pem")
    x1, _dst, x1_cross, forged = pem[0], pem[1], pem[2], pem[3]
    r11 = list(load_certificate_file(le / "2024-r11.pem"))
    at = NOW
    written = parse_idf_bundle(render_idf_bundle([forged, x1, x1_cross], bundle_format="v2"))
    as_device = TrustSet.from_key_entries(written.roots)
    assert verify_chain(as_device, r11, IDF, at=at).ok
    dropped = TrustSet.from_key_entries(written.roots[:2])
    v = verify_chain(dropped, r11, IDF, at=at)
    assert v.error == -0x3000 and "stored key does not verify" in v.explanation


def test_explanations_name_order_pathlen_and_dead_ends() -> None:
    root = mint("X Root")
    mid = mint("X Mid", root)
    low = mint("X Low", mid)
    v = verify_chain(trust(root), [_c(leaf(low)), _c(mid), _c(low)], CLOCK, at=NOW)
    assert not v.ok and "comes before it in the sent order" in v.explanation
    capped = mint("Cap Root", path_length=0)
    i1 = mint("Cap CA 1", capped)
    i2 = mint("Cap CA 2", i1)
    v = verify_chain(trust(capped), [_c(leaf(i2)), _c(i2), _c(i1)], CLOCK, at=NOW)
    assert "allows 0 intermediate CAs below it (pathLenConstraint 0)" in v.explanation
    assert "2 intermediate CAs sit below it" in v.explanation
    anchor = mint("Anchor Root")
    key = fresh_key()
    dead = mint("Mid", mint("Unknown CA"), key=key)
    good = mint("Mid", anchor, key=key)
    below = mint("Below Mid", good)
    chain = [_c(leaf(below)), _c(below), _c(dead), _c(good)]
    v = verify_chain(trust(anchor), chain, CLOCK, at=NOW)
    assert "never goes back to try another issuer" in v.explanation
    assert "'Mid' issued by 'Unknown CA' (#3 as sent)" in v.explanation
    assert "'Mid' issued by 'Anchor Root' (#4 as sent)" in v.explanation


# ---------------------------------------------------------------------------------------
# §6 mbedTLS 3.6


def test_36_profile_refuses_sha224_and_small_curves() -> None:
    from cryptography.hazmat.primitives.asymmetric import ec

    root = mint("3 Root")
    i224 = mint("SHA224 CA", root, hash_alg=hashes.SHA224())
    chain = [_c(leaf(i224)), _c(i224)]
    assert verify_chain(trust(root), chain, CLOCK, at=NOW).ok
    v = verify_chain(trust(root), chain, CLOCK3, at=NOW)
    assert v.flag_names == ("BAD_MD",) and "SHA-256 or stronger" in v.explanation
    k1 = mint("K1 CA", root, key=ec.generate_private_key(ec.SECP256K1()))
    chain = [_c(leaf(k1)), _c(k1)]
    assert verify_chain(trust(root), chain, CLOCK, at=NOW).ok
    v = verify_chain(trust(root), chain, CLOCK3, at=NOW)
    assert v.error == -0x2700 and "BAD_KEY" in v.flag_names and "secp256k1" in v.explanation


def test_36_bundle_forgives_the_top_certificate_and_the_root_key() -> None:
    """esp_crt_verify_callback ignores BAD_MD and checks the stored key without a profile."""
    from cryptography.hazmat.primitives.asymmetric import ec

    root = mint("B3 Root", key=ec.generate_private_key(ec.SECP256K1()))
    top = mint("B3 CA", root, hash_alg=hashes.SHA224())
    v = verify_chain(trust(root), [_c(leaf(top)), _c(top)], IDF5, at=NOW)
    assert v.ok, v.explanation


def test_a_board_names_its_mbedtls_line_and_habits(tmp_path: Path) -> None:
    from esp_cabundle.boards import boards_dir, load_board

    text = (boards_dir() / "esp-idf-bundle.yaml").read_text()
    text = text.replace("name: esp-idf-bundle", "name: idf5-board").replace(
        "  clock: none\n", "  clock: synced\n  mbedtls: idf-5.4\n  hostname: false\n"
    )
    path = tmp_path / "idf5-board.yaml"
    path.write_text(text)
    board = load_board(path)
    profile = board.verify.device_profile("board idf5-board")
    assert (profile.mbedtls, profile.sets_hostname, profile.clock) == ("3.6", False, "synced")
    assert board.to_dict()["verify"] == {
        "rules": "idf-bundle", "clock": "synced", "mbedtls": "3.6", "hostname": False}  # fmt: skip
    root = mint("Board Root")
    (tmp_path / "ca.pem").write_bytes(root.pem)
    (tmp_path / "c.pem").write_bytes(mint("localhost", root, ca=False).pem)
    res = CliRunner().invoke(cli, ["check", "--bundle", str(tmp_path / "ca.pem"), "--chain",
                                   str(tmp_path / "c.pem"), "--board", str(path)])  # fmt: skip
    assert res.exit_code == 1 and "-0x5d80" in res.output  # 3.6 without a hostname
    bad = text.replace("mbedtls: idf-5.4", "mbedtls: 9.9")
    path.write_text(bad)
    with pytest.raises(Exception, match="not modelled"):
        load_board(path)


def test_boards_name_their_line_and_mdash_1213_refuses_a_partly_parsed_file() -> None:
    from esp_cabundle.boards import load_board

    assert load_board("esp-idf-bundle@4.4").device_profile().mbedtls == "2.28"
    assert load_board("esp-idf-bundle@5.4").device_profile().mbedtls == "3.6"
    mdash = load_board("mdash-arduino@1.2.13").device_profile()
    assert (mdash.mbedtls, mdash.ca_parse) == ("2.28", "fatal")
    root = mint("M Root")
    nc = pc.with_extensions(root, root.key, pc.ext("2.5.29.30", pc.NC, True))
    inter = mint("M CA", root)
    v = verify_chain(trust(root, nc), [_c(leaf(inter)), _c(inter)], mdash, at=NOW)
    assert (v.ok, v.stage) == (False, "ca-parse") and "TLS setup fails" in v.explanation


@pytest.mark.parametrize(
    ("version", "message"),
    [("idf-9.0", "ESP-IDF idf-9.0 is not modelled"), ("arduino-7.0", "Arduino-ESP32"),
     ("5.4", "mbedTLS 5.4 is not modelled")],
)  # fmt: skip
def test_versions_nobody_modelled_are_refused_with_the_way_on(version: str, message: str) -> None:
    """A release past the newest known (ESP-IDF 6, Arduino-ESP32 3) may ship an mbedTLS
    line the tool does not model: refused, not silently judged as 3.6; the hint says
    where a board's own version goes."""
    with pytest.raises(InputError, match=message) as e:
        mbedtls_version_for(version)
    assert "esp-idf-bundle@5.4" in (e.value.hint or "")


@pytest.mark.parametrize(
    ("version", "nearest"),
    [("idf-5.6", "5.5"), ("idf-4.5", "4.4"), ("esp-idf-v5.6.1", "5.5"), ("idf_4.9", "4.4")],
)
def test_a_device_on_an_esp_idf_release_that_never_was_is_refused(
    version: str, nearest: str
) -> None:
    """``idf-bundle@idf-5.6`` was judged as a 5.x unit (mbedTLS 3.6), while
    ``--idf-version 5.6`` is refused as no release: both say so alike now."""
    with pytest.raises(InputError, match=r"is no release: the \d\.x line ended at") as e:
        parse_device_profile(f"idf-bundle@{version}")
    assert f"the nearest release line is {nearest}" in (e.value.hint or ""), e.value.hint
    with pytest.raises(InputError) as same:
        bundle_format_for(version)
    assert (same.value.message, same.value.hint) == (e.value.message, e.value.hint)
    # a later 6.y may come (taken as 6.0's line, as the bundle layout is); 5.5 is real
    assert mbedtls_version_for("idf-6.1") == mbedtls_version_for("idf-5.5") == "3.6"
