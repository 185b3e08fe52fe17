"""How verdicts are explained and what their hints point at.

- A saved chain's leaf and issuing intermediate expire; the server renews them (README:
  "leaves and issuing intermediates are assumed renewed by the server"), so a later date
  checked neither fails the CA for them nor blames the roots; it says to refresh the
  saved chain. A certificate already expired when the chain was captured still fails,
  and the hint points at the server. A chain with no capture date is judged as it is.
- A non-CA certificate as the trust set is no "intermediate": mbedTLS never takes it as an
  issuer (x509_crt_check_parent needs a v3 parent's CA bit).
- Hints by cause: a clientAuth-only leaf (-0x7a00) or a name mismatch is the server's to
  fix, not the roots'.
- The server's name: what the certificate holds (an IP address SAN, the CN) and why
  mbedTLS 2.28 (dNSNames only) and 3.6 (IP addresses too) match it or not.
"""

from __future__ import annotations

import ipaddress
from datetime import timedelta
from pathlib import Path

from click.testing import CliRunner
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID

from esp_cabundle.certs import Certificate
from esp_cabundle.chains import ServerChain
from esp_cabundle.check import CheckItem, check_items
from esp_cabundle.cli import cli
from esp_cabundle.verify import TrustSet, verify_chain
from tests.support.profiles import CLOCK, CLOCK3
from tests.support.verify_pki import NOW, Minted, mint, tls_server

DAY = timedelta(days=1)
ROOT = mint("Words Root", not_after=NOW + 3000 * DAY)
ISSUING = mint("Words R1", ROOT, path_length=0, not_after=NOW + 30 * DAY)
LEAF = mint("svc.example", ISSUING, ca=False, san="svc.example", not_after=NOW + 20 * DAY)
LATER = NOW + 60 * DAY
# The line ``chains pull`` writes: the chain was seen sent then, with every certificate
# within its dates.
CAPTURED = f"# captured: {NOW.strftime('%Y-%m-%dT%H:%M:%SZ')}\n"


def _c(m: Minted) -> Certificate:
    return Certificate.from_der(m.der)


def _project(tmp: Path, chain: bytes, header: str = "") -> Path:
    (tmp / "root.pem").write_bytes(ROOT.pem)
    (tmp / "cabundle.yaml").write_text(
        "preset: []\nroots: [root.pem]\ndevice: mbedtls-clock\ntargets:\n  - svc.example\n"
    )
    (tmp / "chains").mkdir()
    (tmp / "chains" / "svc.example.pem").write_bytes(header.encode() + chain)
    return tmp


# ---------------------------------------------------------------------------------------
# 1. A saved chain going stale is the server's renewal, not the CA's failure


def test_a_later_date_takes_the_servers_certificates_as_renewed() -> None:
    trust = TrustSet.from_certificates([_c(ROOT)])
    chain = ServerChain((_c(LEAF), _c(ISSUING)), "chains/svc.example.pem", captured_at=NOW)
    item = CheckItem("svc", chain, CLOCK, hostname="svc.example", refresh="refresh it (X)")
    report = check_items(trust, [item], at=LATER)
    (r,) = report.results
    assert r.ok and r.timeline.start.ok
    assert [e.label for e in r.timeline.renewed] == ["svc.example", "Words R1"]
    assert r.renewal_note is not None and "renewed by the server" in r.renewal_note
    assert "chains/svc.example.pem still holds them: refresh it (X)" in r.renewal_note
    # Seen after they expired (a capture of a server sending them): a real failure.
    late = ServerChain(chain.certificates, "x.pem", captured_at=NOW + 40 * DAY)
    (r,) = check_items(trust, [CheckItem("svc", late, CLOCK)], at=LATER).results
    assert not r.ok and not r.timeline.renewed


def test_a_chain_with_no_capture_date_is_not_taken_as_renewed() -> None:
    """A hand-written chain file has no ``# captured:`` line: it may have been saved
    after its leaf expired, so nothing says the server renewed it. Judged as it is, and
    the note says which line dates it, or how to refresh it."""
    trust = TrustSet.from_certificates([_c(ROOT)])
    chain = ServerChain((_c(LEAF), _c(ISSUING)), "chains/svc.example.pem")
    item = CheckItem("svc", chain, CLOCK, hostname="svc.example", refresh="refresh it (X)")
    (r,) = check_items(trust, [item], at=LATER).results
    assert not r.ok and not r.timeline.renewed and r.renewal_note is None
    assert [e.label for e in r.timeline.undated] == ["svc.example", "Words R1"]
    assert r.undated_note is not None
    assert "chains/svc.example.pem has no '# captured:' date" in r.undated_note
    assert "not taken as renewed by the server but judged by their dates" in r.undated_note
    assert "refresh it (X), or" in r.undated_note
    assert "'# captured: YYYY-MM-DD'" in r.undated_note
    assert r.to_dict()["undated_note"] == r.undated_note
    # Within their dates at the date checked: nothing to say.
    (r,) = check_items(trust, [item], at=NOW).results
    assert r.ok and r.undated_note is None
    # A caller who knows when it was seen sent says so.
    (r,) = check_items(trust, [item], at=LATER, now=NOW).results
    assert r.ok and r.timeline.renewed and r.undated_note is None


def test_build_at_a_later_date_passes_and_says_to_refresh_the_chain(
    in_tmp: Path, runner: CliRunner
) -> None:
    _project(in_tmp, LEAF.pem + ISSUING.pem, CAPTURED)
    at = LATER.date().isoformat()
    r = runner.invoke(cli, ["build", "--at", at, "--dry-run"])
    assert r.exit_code == 0, r.output
    assert "add the roots" not in r.output
    assert "renewed by the server" in r.output and "'esp-cabundle chains pull'" in r.output
    r = runner.invoke(cli, ["check", "--at", at])
    assert r.exit_code == 0, r.output
    assert "PASS  svc.example" in r.output
    assert "'Words R1' (" in r.output and "still holds them" in r.output
    # The saved chain as the user types it, not the config's absolute path.
    said = " ".join(r.output.split())
    assert "the saved chain chains/svc.example.pem still holds them" in said, said


def test_a_target_not_in_the_config_is_refreshed_at_the_path_as_typed(
    in_tmp: Path, runner: CliRunner
) -> None:
    """build --target with a config: the saved chain lies under the config's (absolute)
    directory, and the refresh line said its path so; it runs from here as typed."""
    _project(in_tmp, LEAF.pem + ISSUING.pem, CAPTURED)
    config = (in_tmp / "cabundle.yaml").read_text().replace("targets:\n  - svc.example\n", "")
    (in_tmp / "cabundle.yaml").write_text(config)
    args = ["build", "--target", "svc.example", "--at", LATER.date().isoformat(), "--dry-run"]
    r = runner.invoke(cli, args)
    assert r.exit_code == 0, r.output
    said = " ".join(r.output.split())
    assert (
        "refresh it (online, save it as chains/svc.example.pem with: esp-cabundle chains "
        "show --host svc.example:443 -o chains/svc.example.pem)"
    ) in said, said


def test_a_chain_captured_with_an_expired_leaf_points_at_the_server(
    in_tmp: Path, runner: CliRunner
) -> None:
    expired = mint("svc.example", ISSUING, ca=False, san="svc.example", not_after=NOW - DAY)
    stamp = NOW.strftime("%Y-%m-%dT%H:%M:%SZ")
    _project(in_tmp, expired.pem + ISSUING.pem, f"# captured: {stamp}\n")
    r = runner.invoke(cli, ["build", "--at", LATER.date().isoformat(), "--dry-run"])
    assert r.exit_code == 1, r.output
    hint = r.output[r.output.index("hint:") :]
    assert "add the roots" not in hint, hint
    assert "svc.example: the server's certificate is at fault" in hint
    assert "within their dates" in hint and "'esp-cabundle chains pull'" in hint
    # The saved chain named as typed, as the renewal note names it, not by the config's
    # absolute path.
    hint = " ".join(runner.invoke(cli, ["check"]).stderr.split())
    assert "(if its saved chain chains/svc.example.pem is old, refresh it" in hint, hint


def test_a_saved_chain_with_no_capture_date_fails_a_later_date_and_says_how_to_date_it(
    in_tmp: Path, runner: CliRunner
) -> None:
    """Without its ``# captured:`` line the saved chain's expired leaf is the server's
    fault, not taken as renewed; the refusal's note gives the line (once: the hint points
    to it), and with it the build passes."""
    _project(in_tmp, LEAF.pem + ISSUING.pem)
    at = LATER.date().isoformat()
    r = runner.invoke(cli, ["build", "--at", at, "--dry-run"])
    assert r.exit_code == 1, r.output
    said, hint = " ".join(r.output.split()).split(" hint: ", 1)
    assert "add the roots" not in hint, hint
    assert "chains/svc.example.pem has no '# captured:' date" in hint, hint
    assert "- svc.example: 'svc.example' " in said and "no '# captured:' date" in said, said
    assert "'esp-cabundle chains pull'" in said and "'# captured: YYYY-MM-DD'" in said
    assert "'esp-cabundle chains pull'" not in hint, hint
    r = runner.invoke(cli, ["check", "--at", at])
    assert r.exit_code == 1, r.output
    said = " ".join(r.output.split())
    assert "not taken as renewed by the server but judged by their dates" in said, said
    # The line as the note gives it, a date alone (UTC), dates the chain.
    saved = in_tmp / "chains" / "svc.example.pem"
    saved.write_text(f"# captured: {NOW.date().isoformat()}\n" + saved.read_text())
    r = runner.invoke(cli, ["build", "--at", at, "--dry-run"])
    assert r.exit_code == 0, r.output
    assert "renewed by the server" in r.output and "'# captured:" not in r.output


# ---------------------------------------------------------------------------------------
# 2. A non-CA certificate as the trust set


def test_check_says_a_leaf_given_as_the_bundle_is_not_a_ca(in_tmp: Path, runner: CliRunner) -> None:
    (in_tmp / "leaf.pem").write_bytes(LEAF.pem)
    (in_tmp / "chain.pem").write_bytes(LEAF.pem + ISSUING.pem)
    r = runner.invoke(cli, ["check", "--bundle", "leaf.pem", "--chain", "chain.pem"])
    assert r.exit_code == 1, r.output
    assert "leaf.pem (1 certificate, not a CA)" in r.output
    assert "intermediate" not in r.output.split("Device:")[0]
    assert "svc.example is not a CA certificate" in r.output
    assert "x509_crt_check_parent" in r.output and "not self-issued" in r.output


# ---------------------------------------------------------------------------------------
# 3. Hints by cause, and possessives of quoted names


def test_a_client_auth_only_leaf_is_the_servers_to_fix(in_tmp: Path, runner: CliRunner) -> None:
    client = mint(
        "svc.example", ISSUING, ca=False, san="svc.example", eku=[ExtendedKeyUsageOID.CLIENT_AUTH]
    )
    _project(in_tmp, client.pem + ISSUING.pem)
    r = runner.invoke(cli, ["build", "--dry-run"])
    assert r.exit_code == 1, r.output
    assert "-0x7a00" in r.output
    hint = r.output[r.output.index("hint:") :]
    assert "add the roots" not in hint, hint
    assert "with serverAuth in its extendedKeyUsage" in hint
    assert "'svc.example''s" not in r.output
    assert "The extendedKeyUsage of 'svc.example' does not include serverAuth" in r.output
    r = runner.invoke(cli, ["check"])
    assert r.exit_code == 1 and "serverAuth in its extendedKeyUsage" in r.output


def test_a_missing_root_still_asks_for_roots(in_tmp: Path, runner: CliRunner) -> None:
    other = mint("Other Root")
    _project(in_tmp, LEAF.pem + ISSUING.pem)
    (in_tmp / "root.pem").write_bytes(other.pem)
    r = runner.invoke(cli, ["build", "--dry-run"])
    assert r.exit_code == 1, r.output
    assert "hint: add the roots these servers chain to" in r.output


# ---------------------------------------------------------------------------------------
# 4. The server's name: what the certificate holds


IP_LEAF = mint(
    "device-gw",
    ROOT,
    ca=False,
    sans=[x509.IPAddress(ipaddress.ip_address("127.0.0.1"))],
)


def test_an_ip_san_matches_under_36_and_the_words_say_so() -> None:
    trust = TrustSet.from_certificates([_c(ROOT)])
    v = verify_chain(trust, [_c(IP_LEAF)], CLOCK3, at=NOW, hostname="127.0.0.1")
    assert v.ok
    assert "holds the IP address 127.0.0.1, which mbedTLS 3.6 compares" in v.explanation
    assert "Its CN device-gw is not read" in v.explanation
    assert "(none)" not in v.explanation


def test_an_ip_san_is_named_when_228_does_not_match_it() -> None:
    trust = TrustSet.from_certificates([_c(ROOT)])
    v = verify_chain(trust, [_c(IP_LEAF)], CLOCK, at=NOW, hostname="127.0.0.1")
    assert not v.ok and v.flag_names == ("CN_MISMATCH",)
    text = v.explanation
    assert "(none" not in text
    assert "subjectAltName holds IP address 127.0.0.1, and its CN is device-gw" in text
    assert "never with an IP address entry; mbedTLS 3.6 does (it would match" in text
    assert "The CN is not read when there is a subjectAltName" in text


def test_check_host_by_ip_names_the_ip_san_under_both_lines(
    in_tmp: Path, runner: CliRunner
) -> None:
    (in_tmp / "root.pem").write_bytes(ROOT.pem)
    with tls_server([IP_LEAF]) as port:
        args = ["check", "--bundle", "root.pem", "--host", f"127.0.0.1:{port}", "--device"]
        r = runner.invoke(cli, [*args, "mbedtls3-clock"])
        assert r.exit_code == 0, r.output
        flat = " ".join(r.output.split())
        assert "its subjectAltName holds the IP address 127.0.0.1, which mbedTLS 3.6" in flat, flat
        r = runner.invoke(cli, [*args, "mbedtls-clock"])
    assert r.exit_code == 1, r.output
    flat = " ".join(r.output.split())
    assert "holds IP address 127.0.0.1, and its CN is device-gw" in flat, flat
    assert "hint:" in r.output and "add the roots" not in r.output


def test_a_chain_file_given_with_chain_is_not_called_a_saved_chain(
    in_tmp: Path, runner: CliRunner
) -> None:
    """check --chain FILE: the renewal note and the hint called the file named on the
    command line 'its saved chain', as if a target's; they name it as a chain file."""
    (in_tmp / "root.pem").write_bytes(ROOT.pem)
    (in_tmp / "svc.pem").write_bytes(CAPTURED.encode() + LEAF.pem + ISSUING.pem)
    args = ["check", "--bundle", "root.pem", "--chain", "svc.pem", "--device", "mbedtls-clock"]
    r = runner.invoke(cli, [*args, "--at", LATER.date().isoformat()])
    assert r.exit_code == 0, r.output
    said = " ".join(r.output.split())
    assert "; the chain file svc.pem still holds them: refresh it" in said, said
    assert "saved chain" not in said, said
    expired = mint("svc.example", ISSUING, ca=False, san="svc.example", not_after=NOW - DAY)
    (in_tmp / "svc.pem").write_bytes(CAPTURED.encode() + expired.pem + ISSUING.pem)
    r = runner.invoke(cli, [*args, "--at", LATER.date().isoformat()])
    hint = " ".join(r.stderr.split())
    assert r.exit_code == 1 and "(if the chain file svc.pem is old, refresh it" in hint, hint
