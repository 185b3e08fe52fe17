"""Hostile TLS servers on 127.0.0.1: what ``check --host`` and ``chains pull`` read from
the network is untrusted bytes. A server sending too many certificates is named as the
server's doing (exit 3), and seeded mutations of a TLS 1.2 handshake (records, lengths,
the Certificate message) each end in a chain or a DeviceError within the capture's
timeout, never another exception."""

from __future__ import annotations

import socket
import struct
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from click.testing import CliRunner
from support.fuzzing import Mutator, timed
from support.verify_pki import Minted, loopback_server, mint

from esp_cabundle.chains import capture_chain
from esp_cabundle.cli import cli
from esp_cabundle.errors import DeviceError
from esp_cabundle.limits import MAX_CHAIN_CERTS


@pytest.fixture(scope="module")
def pair() -> tuple[Minted, Minted]:
    root = mint("Hostile Root", key_kind="ec256")
    return root, mint("localhost", root, ca=False)


def _handshake(kind: int, body: bytes) -> bytes:
    return bytes([kind]) + len(body).to_bytes(3, "big") + body


def _server_flight(ders: list[bytes], record_size: int = 16384) -> bytes:
    """ServerHello, Certificate and ServerHelloDone in TLS 1.2 handshake records."""
    hello = _handshake(2, b"\x03\x03" + bytes(32) + b"\x00\xc0\x2f\x00")
    entries = b"".join(len(d).to_bytes(3, "big") + d for d in ders)
    cert = _handshake(11, len(entries).to_bytes(3, "big") + entries)
    flight = hello + cert + _handshake(14, b"")
    return b"".join(
        b"\x16\x03\x03" + struct.pack(">H", len(piece)) + piece
        for piece in (flight[i : i + record_size] for i in range(0, len(flight), record_size))
    )


@contextmanager
def _replaying(answer: list[bytes]) -> Iterator[int]:
    """A server answering each ClientHello with ``answer[0]``, then hanging up."""

    def handle(conn: socket.socket) -> bool:
        conn.settimeout(2)
        try:
            conn.recv(4096)
            conn.sendall(answer[0])
        except OSError:  # the client gave up first: its error is the test's
            pass
        return False

    with loopback_server(handle) as port:
        yield port


def test_a_server_sending_too_many_certificates_is_named(pair: tuple[Minted, Minted]) -> None:
    root, leaf = pair
    flight = _server_flight([leaf.der] + [root.der] * MAX_CHAIN_CERTS)
    with _replaying([flight]) as port, pytest.raises(DeviceError) as e:
        capture_chain("127.0.0.1", port, timeout=5)
    assert e.value.exit_code == 3
    assert f"the server sent {MAX_CHAIN_CERTS + 1} certificates" in str(e.value)
    assert "load_" not in str(e.value)  # no library call named to a capture's caller


def test_check_host_on_such_a_server_is_exit_3_in_words(
    pair: tuple[Minted, Minted], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root, leaf = pair
    monkeypatch.chdir(tmp_path)
    flight = _server_flight([leaf.der] + [root.der] * (MAX_CHAIN_CERTS + 5))
    with _replaying([flight]) as port:
        result = CliRunner().invoke(cli, ["check", "--host", f"127.0.0.1:{port}"])
    assert result.exit_code == 3, result.output
    assert "the server sent 106 certificates" in result.output
    assert "load_trust_set" not in result.output and "Traceback" not in result.output
    assert list(tmp_path.iterdir()) == []  # no chain saved, nothing written


@pytest.mark.parametrize(
    "after",
    [b"\x99\x03\x03\x00\x02ab", b"\x16\x03\x03\x00\x04\x63\x00\x00\x00"],
    ids=["record of no TLS type", "handshake message of no TLS type"],
)
def test_a_handshake_broken_after_its_first_record_is_not_called_no_tls(
    pair: tuple[Minted, Minted], after: bytes
) -> None:
    """A server that opened with a TLS record was told "not a TLS server", with the hint
    to check the port: it spoke TLS, and its handshake is what is wrong."""
    hello = _server_flight([])[: 5 + 4 + 38]  # the first record: ServerHello alone
    hello = hello[:3] + struct.pack(">H", 4 + 38) + hello[5:]
    with _replaying([hello + after]) as port, pytest.raises(DeviceError) as e:
        capture_chain("127.0.0.1", port, timeout=5)
    assert e.value.exit_code == 3
    assert "the server's TLS handshake is malformed" in str(e.value), str(e.value)
    assert "not a TLS server" not in str(e.value)


@pytest.mark.timeout(120)
def test_fuzz_server_replies(pair: tuple[Minted, Minted]) -> None:
    """Seeded mutations of a server's flight (one record, and many small ones): each
    capture ends in a chain or a DeviceError, within its timeout and a margin."""
    root, leaf = pair
    seeds = [_server_flight([leaf.der, root.der]), _server_flight([leaf.der, root.der], 100)]
    answer = [seeds[0]]
    with _replaying(answer) as port:
        for data in [*seeds, *Mutator(31).variants(seeds, 150)]:
            answer[0] = data
            _chain, error, seconds = timed(lambda: capture_chain("127.0.0.1", port, timeout=2))
            assert seconds < 4, f"one capture took {seconds:.1f} s"
            if error is not None and not isinstance(error, DeviceError):
                raise AssertionError(f"{type(error).__name__}: {error!r}") from error
