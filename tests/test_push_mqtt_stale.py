"""What the MQTT client does with its link going: a request whose call was given up
(LinkLost) was kept by paho and sent once the link came back, so a stale Sys.Reboot
or FS.Rename could reach a unit minutes later; and an answer that had arrived was
overwritten by the loss, so a call that had finished raised LinkLost."""

from __future__ import annotations

import contextlib
import socket
import threading
from datetime import datetime, timezone
from typing import Any

import pytest
from support.fleet import mongoose_unit
from support.fleet_links import unit_ids

from esp_cabundle.push.mqtt import MqttTransport, _Waiter, parse_mqtt_url
from esp_cabundle.push.transport import LinkLost
from esp_cabundle.virtual.rpc_links import MqttUnitHost

WAIT = 60.0  # an upper bound only


class Cuttable:
    """A TCP relay on 127.0.0.1 to ``port``: ``cut`` drops every connection and refuses
    new ones (the link lost, broker and units still there) until ``mend``."""

    def __init__(self, port: int) -> None:
        self.target = port
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.open = True
        self.conns: list[socket.socket] = []
        self.lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                a, _ = self.listener.accept()
            except OSError:
                return
            if not self.open:
                a.close()
                continue
            b = socket.create_connection(("127.0.0.1", self.target))
            with self.lock:
                self.conns += [a, b]
            for x, y in ((a, b), (b, a)):
                threading.Thread(target=self._pipe, args=(x, y), daemon=True).start()

    def _pipe(self, src: socket.socket, dst: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := src.recv(65536):
                dst.sendall(data)
        for s in (src, dst):
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)

    def cut(self) -> None:
        self.open = False
        with self.lock:
            for s in self.conns:
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)
            self.conns.clear()

    def close(self) -> None:
        self.cut()
        self.listener.close()


@pytest.mark.timeout(120)
def test_a_request_given_up_with_the_link_never_reaches_the_unit(mosquitto: Any) -> None:
    (unit,) = [mongoose_unit(u) for u in unit_ids("esp32-stale", 1)]
    seen: list[str] = []
    unit.hook = lambda method, params, when: seen.append(method) if when == "before" else None
    host = MqttUnitHost(mosquitto.port, [unit])
    relay = Cuttable(mosquitto.port)
    transport = MqttTransport(parse_mqtt_url(f"mqtt://127.0.0.1:{relay.port}"), [unit.unit_id])
    lost, back = threading.Event(), threading.Event()
    transport.on_link = lambda up, why: (back if up else lost).set()
    try:
        channel = transport.channel(unit.unit_id)
        relay.cut()
        assert lost.wait(WAIT)
        with pytest.raises(LinkLost):
            channel.call("Sys.Reboot", {}, timeout=0.5)  # given up: must never go out
        relay.open = True
        assert back.wait(WAIT)
        channel.call("Sys.GetInfo", {}, timeout=10.0)  # sent after any resent request
    finally:
        transport.close()
        relay.close()
        host.close()
    assert seen == ["Sys.GetInfo"], seen


def test_a_loss_after_the_answer_leaves_the_answer() -> None:
    transport = MqttTransport.__new__(MqttTransport)  # no broker: only the waiters
    transport._waiting, transport._lock = {}, threading.Lock()
    transport._lost_at, transport._lost_why, transport.on_link = None, "", None
    answered, awaiting = _Waiter(1, "Sys.GetInfo"), _Waiter(2, "Sys.GetInfo")
    answered.result = {"fw_version": "1.0"}
    answered.event.set()
    transport._waiting.update({"a": answered, "b": awaiting})
    transport._link(False, "Unspecified error")
    assert (answered.error, answered.result) == (None, {"fw_version": "1.0"})
    assert isinstance(awaiting.error, LinkLost) and awaiting.event.is_set()
    assert transport._lost_at is not None and transport._lost_at <= datetime.now(timezone.utc)
