"""The links virtual units in the field (:mod:`.rpc`) are reached through, as the units'
own RPC libraries serve them:

- :class:`MqttUnitHost`: units answering over MQTT as ``mongoose-os-libs/rpc-mqtt``
  does: subscribes ``<id>/rpc`` (QoS 1) through a broker, drops requests without
  ``src`` ("Drop frame without src", ``mgos_rpc_mqtt_sub_handler``), publishes each
  answer to ``<src>/rpc``. One paho-mqtt client serves them all.
- :class:`LanUnitServer`: one unit's ``/rpc`` over HTTP (a frame per POST) and over
  WebSocket (a frame per text message), as ``rpc-common``'s ``mgos_rpc_http_handler``
  and ``rpc-ws``; each on its own port (a real unit serves both on port 80).

Failures to reach a broker are :class:`DeviceError` (exit 3); a port that cannot be
listened on is an :class:`InputError` (exit 2), as for the serial virtual unit.
"""

from __future__ import annotations

import contextlib
import http.server
import json
import socket
import threading
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from ..errors import DeviceError, InputError
from .rpc import SimUnit

__all__ = [
    "MAX_FRAME_BYTES",
    "JsonHandler",
    "LanUnitServer",
    "LoopbackServer",
    "MqttUnitHost",
    "url_host",
]

# Twice push's largest --frame-size: a request beyond it is refused unread.
MAX_FRAME_BYTES = 2 << 20
_BROKER_HINT = "start a broker (mosquitto -p 1883), or name the one you run: --rpc mqtt://HOST:PORT"


class MqttUnitHost:
    """Units answering over MQTT through the broker at ``host:port``."""

    def __init__(
        self,
        port: int,
        units: Iterable[SimUnit],
        *,
        host: str = "127.0.0.1",
        workers: int = 8,
        timeout: float = 10.0,
    ) -> None:
        import paho.mqtt.client as mqtt
        from paho.mqtt.enums import CallbackAPIVersion

        self.units = {u.unit_id: u for u in units}
        self.dropped_without_src = 0
        self._pool = ThreadPoolExecutor(workers)
        self._busy: dict[str, threading.Lock] = {u: threading.Lock() for u in self.units}
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"units-{port}-{id(self)}")
        self.client.max_inflight_messages_set(0)
        ready = threading.Event()
        refused: list[str] = []

        def on_connect(c: Any, userdata: Any, flags: Any, reason: Any, props: Any) -> None:
            if reason.is_failure:
                refused.append(str(reason))
                ready.set()
                return
            c.subscribe([(f"{uid}/rpc", 1) for uid in self.units])  # again after a reconnect

        self.client.on_connect = on_connect
        self.client.on_subscribe = lambda *a: ready.set()
        self.client.on_message = self._on_message
        where = f"{host}:{port}"
        try:
            self.client.connect(host, port)
        except OSError as e:
            self._pool.shutdown(wait=False)
            raise DeviceError(
                f"no MQTT broker answers at {where} ({e.strerror or e})", hint=_BROKER_HINT
            ) from None
        self.client.loop_start()
        if not ready.wait(timeout) or refused:
            self.close()
            why = f"refused the connection: {refused[0]}" if refused else "did not subscribe us"
            raise DeviceError(f"the MQTT broker at {where} {why}", hint=_BROKER_HINT)

    def _on_message(self, client: Any, userdata: Any, msg: Any) -> None:
        uid = msg.topic[: -len("/rpc")]
        unit = self.units.get(uid)
        if unit is not None:
            self._pool.submit(self._serve, unit, bytes(msg.payload))

    def _serve(self, unit: SimUnit, payload: bytes) -> None:
        try:
            src = json.loads(payload).get("src")
        except (ValueError, AttributeError):
            src = None
        if not src or not isinstance(src, str):
            self.dropped_without_src += 1  # rpc-mqtt: "Drop frame without src"
            return
        with self._busy[unit.unit_id]:
            answer = unit.handle(payload)
        if answer is not None:
            self.client.publish(f"{src}/rpc", answer, qos=1)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()
        self._pool.shutdown(wait=False, cancel_futures=True)


class JsonHandler(http.server.BaseHTTPRequestHandler):
    """A request handler that logs nothing and answers JSON."""

    protocol_version = "HTTP/1.1"

    def log_message(self, *args: Any) -> None:
        pass

    def reply(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def body(self) -> bytes | None:
        """The request's body; None (413 sent, connection closed) when it declares more
        than :data:`MAX_FRAME_BYTES` or a length that is no number."""
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if not 0 <= length <= MAX_FRAME_BYTES:
            self.close_connection = True
            self.reply(413, b'{"error":{"code":413,"message":"request too large"}}')
            return None
        return self.rfile.read(length)


class LoopbackServer(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def _listen_error(host: str, port: int, e: OSError) -> InputError:
    return InputError(
        f"cannot listen on {host}:{port} ({e.strerror or e})",
        hint="choose another port, or port 0 for any free one",
    )


class LanUnitServer:
    """One unit's ``/rpc`` on ``host``, over HTTP on ``http_port`` and WebSocket on
    ``ws_port`` (0: any free port; None: not served)."""

    def __init__(
        self,
        unit: SimUnit,
        *,
        host: str = "127.0.0.1",
        http_port: int | None = 0,
        ws_port: int | None = 0,
    ) -> None:
        self.unit = unit
        self._lock = threading.Lock()
        self.http: LoopbackServer | None = None
        self.ws: Any = None
        if http_port is not None:
            try:
                self.http = LoopbackServer((host, http_port), self._http_handler())
            except OSError as e:
                raise _listen_error(host, http_port, e) from None
            threading.Thread(target=self.http.serve_forever, daemon=True).start()
        if ws_port is not None:
            from websockets.sync.server import serve

            try:
                self.ws = serve(self._ws_handler, host, ws_port, max_size=MAX_FRAME_BYTES)
            except OSError as e:
                self.close()
                raise _listen_error(host, ws_port, e) from None
            threading.Thread(target=self.ws.serve_forever, daemon=True).start()

    def _http_handler(self) -> type[JsonHandler]:
        outer = self

        class Handler(JsonHandler):
            def do_POST(self) -> None:
                frame = self.body()
                if frame is None:
                    return
                if self.path != "/rpc":
                    self.reply(404, b"")
                    return
                with outer._lock:
                    answer = outer.unit.handle(frame)
                if answer is None:  # offline: the connection just dies
                    self.close_connection = True
                    with contextlib.suppress(OSError):
                        self.connection.shutdown(socket.SHUT_RDWR)
                    return
                self.reply(200, answer)

        return Handler

    def _ws_handler(self, ws: Any) -> None:
        for message in ws:
            data = message.encode() if isinstance(message, str) else message
            with self._lock:
                answer = self.unit.handle(data)
            if answer is not None:
                ws.send(answer.decode())

    @property
    def http_url(self) -> str:
        assert self.http is not None, "HTTP is not served"
        host, port = self.http.server_address[:2]
        return f"http://{url_host(str(host))}:{port}/rpc"

    @property
    def ws_url(self) -> str:
        assert self.ws is not None, "WebSocket is not served"
        host, port = self.ws.socket.getsockname()[:2]
        return f"ws://{url_host(str(host))}:{port}/rpc"

    def close(self) -> None:
        if self.http is not None:
            self.http.shutdown()
            self.http.server_close()
        if self.ws is not None:
            self.ws.shutdown()


def url_host(host: str) -> str:
    """``host`` as a URL names it: an IPv6 address in brackets."""
    return f"[{host}]" if ":" in host else host
