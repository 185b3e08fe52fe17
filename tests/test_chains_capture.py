"""Live capture against real servers on 127.0.0.1: the chain exactly as sent (order,
extra certificates, SNI), and clear errors for refused, silent, closing and non-TLS
servers and for servers that refuse TLS 1.2."""

from __future__ import annotations

import contextlib
import errno
import socket
import ssl
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from esp_cabundle.chains import capture_chain, load_chain_file
from esp_cabundle.cli import cli
from esp_cabundle.errors import DeviceError
from tests.support.fleet_links import refusing_ports
from tests.support.verify_pki import Minted, loopback_server, mint, tls_server


@pytest.fixture(scope="module")
def hierarchy() -> dict[str, Minted]:
    root = mint("Capture Root", key_kind="rsa2048")
    inter = mint("Capture CA", root, key_kind="ec384")
    leaf = mint("localhost", inter, ca=False)
    return {"root": root, "inter": inter, "leaf": leaf, "stray": mint("Stray Cert")}


def test_capture_returns_the_chain_exactly_as_sent(hierarchy) -> None:
    h = hierarchy
    sent = [h["leaf"], h["stray"], h["inter"], h["root"]]
    with tls_server(sent) as port:
        chain = capture_chain("127.0.0.1", port, timeout=5)
    assert [c.der for c in chain.certificates] == [m.der for m in sent]
    assert chain.source == f"127.0.0.1:{port}" and chain.port == port
    assert chain.protocol == "TLS 1.2"
    assert chain.captured_at is not None and chain.captured_at.tzinfo is not None


@contextlib.contextmanager
def sni_server(by_name: dict[str, list[Minted]]) -> Iterator[tuple[int, list[str | None]]]:
    """A server that picks its chain by SNI and records the names it was asked for."""
    seen: list[str | None] = []
    default = next(iter(by_name.values()))
    contexts = {}
    tmp = []
    import tempfile

    for name, chain in by_name.items():
        d = Path(tempfile.mkdtemp())
        (d / "c.pem").write_bytes(b"".join(m.pem for m in chain))
        (d / "k.pem").write_bytes(chain[0].key_pem())
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(str(d / "c.pem"), str(d / "k.pem"))
        contexts[name] = ctx
        tmp.append(d)

    def pick(sslobj: ssl.SSLObject, server_name: str | None, _ctx: ssl.SSLContext) -> None:
        seen.append(server_name)
        sslobj.context = contexts.get(server_name or "", contexts[next(iter(by_name))])

    base = contexts[next(iter(by_name))]
    base.sni_callback = pick  # type: ignore[assignment]
    assert default

    def handle(conn: socket.socket) -> bool:
        conn.settimeout(5)
        with contextlib.suppress(OSError, ssl.SSLError), base.wrap_socket(conn, server_side=True):
            pass
        return False

    with loopback_server(handle) as port:
        yield port, seen


def test_capture_sends_sni_and_gets_the_named_chain(hierarchy) -> None:
    h = hierarchy
    other_leaf = mint("broker.example", h["inter"], ca=False, san="broker.example")
    with sni_server({"localhost": [h["leaf"], h["inter"]], "broker.example": [other_leaf]}) as (
        port,
        seen,
    ):
        chain = capture_chain("127.0.0.1", port, server_name="broker.example", timeout=5)
        assert [c.der for c in chain.certificates] == [other_leaf.der]
        capture_chain("127.0.0.1", port, timeout=5)  # an IP address: no SNI by default
    assert seen == ["broker.example", None]


def test_check_sends_the_hostname_as_sni(hierarchy, tmp_path: Path) -> None:
    """Tester's report: ``check --host IP --hostname NAME`` judged the server's default
    certificate; a unit that sets NAME sends it as SNI and gets NAME's chain."""
    h = hierarchy
    named = mint("broker.example", h["inter"], ca=False, san="broker.example")
    root = tmp_path / "root.pem"
    root.write_bytes(h["root"].pem)
    chains = {"localhost": [h["leaf"], h["inter"]], "broker.example": [named, h["inter"]]}
    with sni_server(chains) as (port, seen):
        host = ["--host", f"127.0.0.1:{port}", "--hostname", "broker.example"]
        args = ["check", "--bundle", str(root), *host, "--device", "mbedtls-clock", "--json"]
        r = CliRunner().invoke(cli, args)
    assert seen == ["broker.example"], r.output
    assert r.exit_code == 0, r.output
    assert '"ok": true' in r.stdout


@contextlib.contextmanager
def raw_server(behaviour: str) -> Iterator[int]:
    """``http``: answers like a web server; ``silent``: accepts and says nothing;
    ``close``: accepts and hangs up; ``garbage``: sends TLS-looking junk."""

    def handle(conn: socket.socket) -> bool:
        if behaviour in ("http", "garbage"):
            conn.recv(4096)
            conn.sendall(
                b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n"
                if behaviour == "http"
                else b"\x16\x03\x03\x00\x04\x0b\x00\x00\x09"
            )
        return behaviour == "silent"  # "close" and the others hang up at once

    with loopback_server(handle) as port:
        yield port


def test_refused_port() -> None:
    with refusing_ports() as port, pytest.raises(DeviceError) as e:
        capture_chain("127.0.0.1", port(), timeout=3)
    assert "connection refused" in str(e.value) and e.value.exit_code == 3


def test_not_a_tls_server() -> None:
    with raw_server("http") as port, pytest.raises(DeviceError) as e:
        capture_chain("127.0.0.1", port, timeout=3)
    assert "not a TLS server" in str(e.value) and "HTTP/1.1 400" in str(e.value)


def test_silent_server_times_out() -> None:
    with raw_server("silent") as port, pytest.raises(DeviceError) as e:
        capture_chain("127.0.0.1", port, timeout=0.5)
    assert "no TLS answer within 0.5 s" in str(e.value)


def test_server_hanging_up() -> None:
    with raw_server("close") as port, pytest.raises(DeviceError) as e:
        capture_chain("127.0.0.1", port, timeout=3)
    assert "closed the connection" in str(e.value)


def test_truncated_certificate_message() -> None:
    with raw_server("garbage") as port, pytest.raises(DeviceError) as e:
        capture_chain("127.0.0.1", port, timeout=3)
    assert e.value.exit_code == 3


def test_unresolvable_host() -> None:
    with pytest.raises(DeviceError, match="cannot resolve"):
        capture_chain("no-such-host.invalid", 443, timeout=3)


def test_tls13_only_server(hierarchy) -> None:
    h = hierarchy
    with tls_server([h["leaf"], h["inter"]], max_version="1.3") as port:
        if sys.version_info >= (3, 13):  # pragma: no cover - depends on the interpreter
            chain = capture_chain("127.0.0.1", port, timeout=5)
            assert [c.der for c in chain.certificates] == [h["leaf"].der, h["inter"].der]
            assert "cannot connect" in chain.notes[0]
        else:
            with pytest.raises(DeviceError) as e:
                capture_chain("127.0.0.1", port, timeout=5)
            assert "refused a TLS 1.2 handshake (protocol_version)" in str(e.value)
            assert "mbedTLS 2.x" in str(e.value)


def test_captured_chain_saves_and_loads_back(hierarchy, tmp_path: Path) -> None:
    h = hierarchy
    with tls_server([h["leaf"], h["inter"]]) as port:
        chain = capture_chain("127.0.0.1", port, timeout=5)
    path = tmp_path / "saved.pem"
    path.write_bytes(chain.to_pem())
    text = path.read_text()
    assert text.startswith(f"# esp-cabundle server chain: 127.0.0.1:{port}\n")
    assert all(len(line) < 128 for line in text.splitlines())
    back = load_chain_file(path)
    assert back.certificates == chain.certificates
    assert back.captured_at == chain.captured_at
    assert (back.host, back.port) == ("127.0.0.1", port)


def test_no_route_to_host_has_a_hint(monkeypatch: pytest.MonkeyPatch) -> None:
    """'cannot connect (No route to host)' said nothing more, while a name that does not
    resolve had a hint (the OS's refusal is simulated: tests stay on loopback)."""

    def unreachable(*args: object, **kwargs: object) -> socket.socket:
        raise OSError(errno.EHOSTUNREACH, "No route to host")

    monkeypatch.setattr(socket, "create_connection", unreachable)
    with pytest.raises(DeviceError) as e:
        capture_chain("192.0.2.10", 8883, timeout=3)
    assert "cannot connect (No route to host)" in e.value.message
    assert e.value.hint is not None and "can reach that network" in e.value.hint


def test_chains_show_host_says_it_is_capturing(runner: CliRunner) -> None:
    """chains show --host printed nothing for up to --timeout seconds before its verdict;
    check --host says "capturing the chain of ..." first, and now so does it (on stderr,
    not with --json)."""
    with refusing_ports() as port:
        where = f"127.0.0.1:{port()}"
        r = runner.invoke(cli, ["chains", "show", "--host", where, "--timeout", "3"])
        quiet = runner.invoke(cli, ["chains", "show", "--host", where, "--json"])
    assert r.exit_code == 3
    assert r.stderr.startswith(f"capturing the chain of {where} ...\nError: {where}: connection")
    assert quiet.exit_code == 3 and "capturing" not in quiet.output
