"""The name a unit checks, for a saved chain: what the file records, else a file name
that reads as a server's name (never a dotted name like chain.2024-06.pem)."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from click.testing import CliRunner

from esp_cabundle.chains import load_chain_file
from esp_cabundle.cli import cli
from esp_cabundle.targets import name_from_file_stem
from tests.support.verify_pki import mint, tls_server


@pytest.mark.parametrize(
    ("stem", "name"),
    [
        ("mdash.net", "mdash.net"),
        ("broker.example.com", "broker.example.com"),
        ("192.0.2.7", "192.0.2.7"),
        ("localhost_8443", "localhost"),  # chains pull: target localhost:8443
        ("broker.example.com_8883", "broker.example.com"),
        ("127.0.0.1_8443", "127.0.0.1"),
        ("chain.2024-06", None),  # last label not alphabetic
        ("ca.v2", None),
        ("backup.1", None),
        ("2024.06.example", None),  # a label of digits only
        ("release.--.com", None),
        ("-x.example.com", None),
        ("a..example", None),
        ("chain", None),
        ("localhost", None),  # one label: a name, but not dotted
        ("chain_2024", None),
        ("localhost_99999", None),  # no such port
        ("0--1_8443", "::1"),  # an IPv6 target [::1]:8443, its colons as dashes
        ("2001-db8--7", "2001:db8::7"),
        ("fe80--_8883", "fe80::"),
        ("my-chain-file", None),  # dashes, but no address
        ("a-b-c", None),
    ],
)
def test_name_from_file_stem(stem: str, name: str | None) -> None:
    assert name_from_file_stem(stem) == name


def _check(runner: CliRunner, chain: Path, *extra: str) -> tuple[int, str]:
    r = runner.invoke(
        cli,
        [
            "check",
            "--bundle",
            "ca.pem",
            "--device",
            "mbedtls-noclock",
            "--chain",
            str(chain),
            *extra,
        ],
    )
    return r.exit_code, " ".join(r.output.split())


def test_dotted_file_name_is_not_a_server_name(runner: CliRunner, in_tmp: Path) -> None:
    root = mint("Names Root")
    leaf = mint("localhost", root, ca=False)
    (in_tmp / "ca.pem").write_bytes(root.pem)
    (in_tmp / "chain.2024-06.pem").write_bytes(leaf.pem)
    code, out = _check(runner, in_tmp / "chain.2024-06.pem")
    assert code == 0, out
    assert "name not judged (no --hostname)" in out and "CN_MISMATCH" not in out
    code, out = _check(runner, in_tmp / "chain.2024-06.pem", "--hostname", "localhost")
    assert code == 0 and "name localhost checked" in out


def test_pulled_and_saved_chains_name_their_server(runner: CliRunner, in_tmp: Path) -> None:
    """chains pull names a non-443 target HOST_PORT.pem and records '# server:'; chains
    show -o records the SNI name sent. Either is the name judged, whatever the file is
    called."""
    root = mint("Names Root")
    leaf = mint("localhost", root, ca=False)
    (in_tmp / "ca.pem").write_bytes(root.pem)
    with tls_server([leaf]) as port:
        (in_tmp / "cabundle.yaml").write_text(f"targets:\n  - localhost:{port}\n")
        r = runner.invoke(cli, ["chains", "pull"])
        assert r.exit_code == 0, r.output
        r = runner.invoke(cli, ["chains", "show", "--host", f"127.0.0.1:{port}",
                                "--server-name", "localhost", "-o", "by-ip.pem"])  # fmt: skip
        assert r.exit_code == 0, r.output
    (in_tmp / "cabundle.yaml").unlink()
    pulled = in_tmp / "chains" / f"localhost_{port}.pem"
    assert f"# server: localhost:{port}" in pulled.read_text()
    code, out = _check(runner, pulled)
    assert code == 0 and "name localhost checked" in out, out
    # The header wins over a file name that says otherwise.
    (in_tmp / "other.example.com.pem").write_bytes(pulled.read_bytes())
    code, out = _check(runner, in_tmp / "other.example.com.pem")
    assert code == 0 and "name localhost checked" in out, out
    text = (in_tmp / "by-ip.pem").read_text()
    assert f"# server: 127.0.0.1:{port}\n# server name: localhost\n" in text
    assert load_chain_file(in_tmp / "by-ip.pem").server_name == "localhost"
    code, out = _check(runner, in_tmp / "by-ip.pem")
    assert code == 0 and "name localhost checked" in out, out
    # Without the header, HOST_PORT still names the server; a wrong name is still caught.
    bare = in_tmp / "bare"
    bare.mkdir()
    (bare / f"localhost_{port}.pem").write_bytes(leaf.pem)
    code, out = _check(runner, bare / f"localhost_{port}.pem")
    assert code == 0 and "name localhost checked" in out, out
    (bare / "mdash.net.pem").write_bytes(leaf.pem)
    code, out = _check(runner, bare / "mdash.net.pem")
    assert code == 1 and "name mdash.net does not match" in out, out


def test_gate_target_chain_file_uses_the_recorded_server(runner: CliRunner, in_tmp: Path) -> None:
    """build --target FILE judges the name the saved chain records, not its file name."""
    root = mint("Names Root")
    leaf = mint("localhost", root, ca=False)
    (in_tmp / "root.pem").write_bytes(root.pem)
    with tls_server([leaf]) as port:
        r = runner.invoke(cli, ["chains", "show", "--host", f"localhost:{port}", "-o",
                                "saved.2024-06.pem"])  # fmt: skip
        assert r.exit_code == 0, r.output
    (in_tmp / "evil.example.pem").write_bytes((in_tmp / "saved.2024-06.pem").read_bytes())
    r = runner.invoke(cli, ["build", "--root", "root.pem", "--no-lock", "-o", "out.pem",
                            "--target", "evil.example.pem"])  # fmt: skip
    assert r.exit_code == 0, r.output
    assert (in_tmp / "out.pem").exists()
    # the same chain whose header names another server: judged against that name
    saved = (in_tmp / "saved.2024-06.pem").read_text()
    assert f"localhost:{port}" in saved
    (in_tmp / "moved.pem").write_text(saved.replace(f"localhost:{port}", f"other.example:{port}"))
    r = runner.invoke(cli, ["build", "--root", "root.pem", "--no-lock", "-o", "out2.pem",
                            "--target", "moved.pem"])  # fmt: skip
    assert r.exit_code == 1, r.output
    assert not (in_tmp / "out2.pem").exists()


def test_an_ipv6_server_is_named_in_brackets_when_it_cannot_be_reached(
    in_tmp: Path, runner: CliRunner
) -> None:
    """'::1:8443: connection refused' named another address; it is '[::1]:8443'
    (loopback only: nothing listens on the port)."""
    with socket.socket(socket.AF_INET6) as s:
        s.bind(("::1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there
    r = runner.invoke(cli, ["chains", "show", "--host", f"[::1]:{port}"])
    assert r.exit_code == 3, r.output
    assert f"[::1]:{port}: connection refused" in r.output and f" ::1:{port}" not in r.output
    assert list(in_tmp.iterdir()) == []
