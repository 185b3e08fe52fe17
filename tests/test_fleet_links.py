"""The loopback links the fleet tests stand on hold up when other processes race for
ports: CI runs the suite on several Pythons at once, each starting brokers and servers."""

from __future__ import annotations

import socket

import pytest
from support import fleet_links
from support.fleet_links import Mosquitto, mosquitto_binary, refusing_ports

needs_mosquitto = pytest.mark.skipif(
    mosquitto_binary() is None, reason="mosquitto is not installed"
)


def test_a_refusing_port_refuses_and_nobody_else_can_take_it() -> None:
    with refusing_ports() as port:
        p = port()
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", p), 2)
        with socket.socket() as other, pytest.raises(OSError):
            other.bind(("127.0.0.1", p))
    with socket.socket() as other:  # released when the block ends
        other.bind(("127.0.0.1", p))


@needs_mosquitto
def test_a_broker_whose_port_was_taken_starts_on_another(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The port given was taken by another listener before mosquitto bound it: the
    broker must not report itself started (a connection would reach the other
    listener), but start again on a free port."""
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        taken = int(squatter.getsockname()[1])
        ports = iter([taken])
        real = fleet_links.free_port
        monkeypatch.setattr(fleet_links, "free_port", lambda: next(ports, None) or real())
        with Mosquitto() as broker:
            assert broker.port != taken
            assert fleet_links._listening_pid_owns(broker.proc.pid, broker.port)  # type: ignore[union-attr]
            with socket.create_connection(broker.address, 2) as c:
                c.sendall(bytes([0x10, 12, 0, 4]) + b"MQTT" + bytes([4, 2, 0, 60, 0, 0]))
                assert c.recv(4) == bytes([0x20, 2, 0, 0])  # CONNACK, accepted: a broker
