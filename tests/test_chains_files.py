"""Saved chains and host specs: what is accepted, and clear errors for the rest."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import pytest

from esp_cabundle.chains import ServerChain, load_chain_file, parse_host_port
from esp_cabundle.errors import CertificateError, InputError, PrivateKeyError
from tests.support.verify_pki import mint


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("mdash.net", ("mdash.net", 443)),
        ("mqtt.example.com:8883", ("mqtt.example.com", 8883)),
        ("https://example.com/path", ("example.com", 443)),
        ("mqtts://broker:8883", ("broker", 8883)),
        ("[::1]:8443", ("::1", 8443)),
        ("::1", ("::1", 443)),
        ("192.0.2.1:443", ("192.0.2.1", 443)),
    ],
)
def test_parse_host_port(text: str, expected: tuple[str, int]) -> None:
    assert parse_host_port(text) == expected


@pytest.mark.parametrize("text", ["", "host:0", "host:70000", "host:https", "[::1", ":443"])
def test_bad_host_specs(text: str) -> None:
    with pytest.raises(InputError) as e:
        parse_host_port(text)
    assert e.value.exit_code == 2


def test_chain_file_round_trip_keeps_order(tmp_path: Path) -> None:
    root = mint("F Root")
    inter = mint("F CA", root)
    leaf = mint("localhost", inter, ca=False)
    chain = ServerChain((leaf.c, inter.c, root.c), "test")
    p = tmp_path / "c.pem"
    p.write_bytes(chain.to_pem())
    back = load_chain_file(p)
    assert back.certificates == chain.certificates
    assert back.captured_at is None and back.host is None


@pytest.mark.parametrize("stamp", ["2026-01-31", "2026-01-31T00:00:00", "2026-01-31T00:00:00Z"])
def test_a_hand_typed_capture_date_is_utc(tmp_path: Path, stamp: str) -> None:
    """A ``# captured:`` line typed by hand, a date alone or with no zone, is UTC: a
    naive date could not be compared with a certificate's (a TypeError at --at)."""
    p = tmp_path / "c.pem"
    p.write_bytes(f"# captured: {stamp}\n".encode() + mint("Dated CA").pem)
    assert load_chain_file(p).captured_at == datetime(2026, 1, 31, tzinfo=timezone.utc)


def test_plain_pem_without_comments_loads(tmp_path: Path) -> None:
    inter = mint("Only CA")
    p = tmp_path / "plain.pem"
    p.write_bytes(inter.pem)
    assert load_chain_file(p).certificates == (inter.c,)


def test_root_first_chain_is_refused(tmp_path: Path) -> None:
    root = mint("O Root")
    leaf = mint("localhost", root, ca=False)
    p = tmp_path / "reversed.pem"
    p.write_bytes(root.pem + leaf.pem)
    with pytest.raises(InputError, match="given root first") as e:
        load_chain_file(p)
    assert str(p) in str(e.value) and "reverse the order" in str(e.value)
    # A leaf further down, its issuer not first: still not leaf first.
    other = mint("P Root")
    p.write_bytes(other.pem + leaf.pem)
    with pytest.raises(InputError, match="not leaf first") as e:
        load_chain_file(p)
    # Counted from 1, as chains show and inspect number them.
    assert "certificate #2 (localhost) is the leaf, but certificate #1 (P Root)" in str(e.value)


EXAMPLE_CHAINS = Path(__file__).resolve().parent.parent / "examples" / "chains"


@pytest.mark.parametrize("name", ["letsencrypt-2021-long.pem", "letsencrypt-gen-y-rsa.pem"])
def test_real_chain_given_root_first_is_refused(tmp_path: Path, name: str) -> None:
    """Let's Encrypt's intermediates (no leaf) in reverse: the first issued the second."""
    from esp_cabundle.certs import load_certificates

    chain = load_chain_file(EXAMPLE_CHAINS / name).certificates
    assert len(chain) == 2
    p = tmp_path / "reversed.pem"
    certs = load_certificates((EXAMPLE_CHAINS / name).read_bytes())
    p.write_text("".join(c.pem() for c in reversed(certs)))
    with pytest.raises(InputError, match="given root first") as e:
        load_chain_file(p)
    said = f"certificate #1 ({chain[1].label}) issued certificate #2 ({chain[0].label})"
    assert said in str(e.value)


def test_a_bundle_given_as_a_chain_is_named(tmp_path: Path) -> None:
    """ca.pem passed to check --chain: its roots are no chain, and check would otherwise
    'accept' the first root as a server sending itself."""
    from click.testing import CliRunner

    from esp_cabundle.cli import cli

    roots = [mint(f"B Root {i}") for i in range(3)]
    bundle = tmp_path / "ca.pem"
    bundle.write_bytes(b"".join(r.pem for r in roots))
    r = CliRunner().invoke(cli, ["check", "--bundle", str(bundle), "--chain", str(bundle)])
    assert r.exit_code == 2, r.output
    assert "a CA bundle, not a server's chain: it holds 3 self-signed roots" in r.stderr
    assert "--bundle" in r.stderr.split("hint:", 1)[1]


def test_missing_empty_and_key_bearing_chain_files(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such chain file"):
        load_chain_file(tmp_path / "nope.pem")
    empty = tmp_path / "empty.pem"
    empty.write_text("# nothing here\n")
    with pytest.raises(CertificateError, match="no certificate found"):
        load_chain_file(empty)
    leaf = mint("localhost", ca=False)
    keyed = tmp_path / "keyed.pem"
    keyed.write_bytes(leaf.pem + leaf.key_pem())
    with pytest.raises(PrivateKeyError):
        load_chain_file(keyed)


def test_server_chain_needs_a_certificate() -> None:
    with pytest.raises(CertificateError):
        ServerChain((), "nothing")
