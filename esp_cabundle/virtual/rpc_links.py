"""The links virtual units in the field (:mod:`.rpc`) are reached through, as the units'
own RPC libraries serve them:

- :class:`MqttUnitHost`: units answering over MQTT as ``mongoose-os-libs/rpc-mqtt``
  does: subscribes ``<id>/rpc`` (QoS 1) through a broker, drops requests without
  ``src`` ("Drop frame without src", ``mgos_rpc_mqtt_sub_handler``), publishes each
  answer to ``<src>/rpc``; an invalid frame is only logged (the channel is persistent).
  One paho-mqtt client serves them all.
- :class:`LanUnitServer`: one unit's ``/rpc`` over HTTP (a frame per request:
  :mod:`.rpc_http` says how each kind of request is answered) and over WebSocket (a
  frame per message, as ``rpc-ws``'s inbound channel takes it: a frame rpc-common
  refuses drops the connection at once, no close frame, ``mg_rpc_channel_ws_ch_close``;
  a message over :data:`~.rpc.MAX_FRAME_BYTES` ends it too, websockets sending close
  code 1009 first); each on its own port (a real unit serves both on port 80). At most
  :data:`MAX_CONNECTIONS` connections at once, over both: one more is reset when
  accepted, as lwIP has no socket left for it.

Not faithful (the simulator's own guards): a connection without a whole request for
:data:`IDLE_TIMEOUT` is closed (a unit would hold it until TCP gives up); an MQTT frame
over :data:`~.rpc.MAX_FRAME_BYTES` is dropped (a unit would lose its broker
connection), and at most a few frames per worker wait to be served (the host then reads
no more: the broker holds the rest). What each link refused is counted by reason
(``refused``), and a handler that failed is recorded in ``errors`` (the tests insist it
stays empty).

Failures to reach a broker are :class:`DeviceError` (exit 3); a port that cannot be
listened on is an :class:`InputError` (exit 2), as for the serial virtual unit.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
from collections import Counter
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from ..errors import DeviceError, InputError
from ..limits import loads_json
from .link import listen_error
from .rpc import MAX_FRAME_BYTES, InvalidFrame, SimUnit
from .rpc_http import SERVER_HEADER, JsonHandler, LoopbackServer, UnitHttpServer, reset_connection

__all__ = [
    "IDLE_TIMEOUT",
    "MAX_CONNECTIONS",
    "MAX_FRAME_BYTES",
    "JsonHandler",
    "LanUnitServer",
    "LoopbackServer",
    "MqttUnitHost",
    "url_host",
]

# ESP-IDF's default CONFIG_LWIP_MAX_SOCKETS is 10 (Mongoose OS keeps it): the listening
# socket and the unit's own links take the rest. lwip_accept finds no socket for one more.
MAX_CONNECTIONS = 8
# The simulator's own guard (see the module's "Not faithful").
IDLE_TIMEOUT = 60.0
_MQTT_BACKLOG = 4  # frames waiting per worker before the MQTT host reads no more
_MAX_ERRORS = 20  # errors recorded (more are counted)
_BROKER_HINT = "start a broker (mosquitto -p 1883), or name the one you run: --rpc mqtt://HOST:PORT"
_LOG = logging.getLogger(__name__)
_LOG.addHandler(logging.NullHandler())  # a hostile client's handshake is no stderr noise


class _Refusals:
    """What a link refused, by reason, and the handler failures it met (bounded)."""

    def __init__(self) -> None:
        self.refused: Counter[str] = Counter()
        self.errors: list[str] = []
        self.error_count = 0
        self._lock = threading.Lock()

    def refuse(self, reason: str) -> None:
        with self._lock:
            self.refused[reason] += 1

    def failed(self, e: BaseException) -> None:
        with self._lock:
            self.error_count += 1
            if len(self.errors) < _MAX_ERRORS:
                self.errors.append(f"{type(e).__name__}: {e}")
        _LOG.debug("virtual unit link handler failed", exc_info=e)


class MqttUnitHost(_Refusals):
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

        super().__init__()
        self.units = {u.unit_id: u for u in units}
        self.dropped_without_src = 0
        self._closing = False
        self._pool = ThreadPoolExecutor(workers)
        self._slots = threading.Semaphore(workers * _MQTT_BACKLOG)
        self.waiting = self.most_waiting = 0  # frames taken in, not yet served (and the most)
        self._waiting_lock = threading.Lock()
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
        unit = self.units.get(msg.topic[: -len("/rpc")])
        if unit is None:
            return
        if len(msg.payload) > MAX_FRAME_BYTES:
            self.refuse("frame too large")
            return
        # Waits (and so reads no more from the broker) while the workers are behind: the
        # frames waiting, and the memory they hold, stay bounded however fast they come.
        while not self._slots.acquire(timeout=0.5):
            if self._closing:
                return
        with self._waiting_lock:
            self.waiting += 1
            self.most_waiting = max(self.most_waiting, self.waiting)
        try:
            self._pool.submit(self._serve, unit, bytes(msg.payload))
        except RuntimeError:  # the pool is shut down: the host is closing
            self._served()

    def _served(self) -> None:
        with self._waiting_lock:
            self.waiting -= 1
        self._slots.release()

    def _serve(self, unit: SimUnit, payload: bytes) -> None:
        try:
            self._answer(unit, payload)
        except Exception as e:
            self.failed(e)
        finally:
            self._served()

    def _answer(self, unit: SimUnit, payload: bytes) -> None:
        try:
            frame = loads_json(payload, what="frame", path=None, cap=MAX_FRAME_BYTES)
        except InputError:
            frame = None
        src = frame.get("src") if isinstance(frame, dict) else None
        if not src or not isinstance(src, str):
            self.dropped_without_src += 1  # rpc-mqtt: "Drop frame without src"
            return
        with self._busy[unit.unit_id]:
            try:
                answer = unit.handle(payload)
            except InvalidFrame:
                self.refuse("invalid frame")  # a persistent channel: only logged
                return
        if answer is not None:
            self.client.publish(f"{src}/rpc", answer, qos=1)

    def close(self) -> None:
        self._closing = True
        self.client.disconnect()
        self.client.loop_stop()
        self._pool.shutdown(wait=False, cancel_futures=True)


class LanUnitServer(_Refusals):
    """One unit's ``/rpc`` on ``host``, over HTTP on ``http_port`` and WebSocket on
    ``ws_port`` (0: any free port; None: not served). At most ``max_connections`` at
    once, over both; each closed after ``idle_timeout`` seconds without a whole request."""

    def __init__(
        self,
        unit: SimUnit,
        *,
        host: str = "127.0.0.1",
        http_port: int | None = 0,
        ws_port: int | None = 0,
        max_connections: int = MAX_CONNECTIONS,
        idle_timeout: float = IDLE_TIMEOUT,
    ) -> None:
        super().__init__()
        self.unit = unit
        self.max_connections = max_connections
        self.idle_timeout = idle_timeout
        self.unit_lock = threading.Lock()  # one request at a time reaches the unit
        self._open = 0
        self._open_lock = threading.Lock()
        self._held = threading.local()  # a WebSocket handler thread's slot, until freed
        # each WebSocket slot held -> its connection (None until its handshake is done)
        self._ws_slots: dict[object, Any] = {}
        self.http: UnitHttpServer | None = None
        self.ws: Any = None
        if http_port is not None:
            try:
                self.http = UnitHttpServer((host, http_port), self)
            except OSError as e:
                raise listen_error(host, http_port, e) from None
            threading.Thread(target=self.http.serve_forever, daemon=True).start()
        if ws_port is not None:
            from websockets.sync.server import serve

            try:
                self.ws = serve(
                    self._ws_handler,
                    host,
                    ws_port,
                    max_size=MAX_FRAME_BYTES,
                    max_queue=2,  # frames read ahead: one request at a time is served
                    compression=None,  # mongoose negotiates no permessage-deflate
                    ping_interval=None,  # nor pings its clients
                    server_header=SERVER_HEADER,
                    logger=_LOG,
                )
            except OSError as e:
                self.close()
                raise listen_error(host, ws_port, e) from None
            self.ws.handler = self._gated(self.ws.handler)
            threading.Thread(target=self.ws.serve_forever, daemon=True).start()

    # -- connections ----------------------------------------------------------------------

    def admit(self) -> bool:
        """Take a connection slot; False (and counted) when all are taken."""
        with self._open_lock:
            if self._open >= self.max_connections:
                self._reclaim_closed()
            if self._open >= self.max_connections:
                admitted = False
            else:
                self._open += 1
                admitted = True
        if not admitted:
            self.refuse("too many connections")
        return admitted

    def release(self) -> None:
        with self._open_lock:
            self._open -= 1

    @property
    def open_connections(self) -> int:
        with self._open_lock:
            return self._open

    def _gated(self, inner: Any) -> Any:
        """websockets' per-connection handler (its own thread), behind the slot count."""

        def handler(sock: socket.socket, addr: Any) -> None:
            if not self.admit():
                reset_connection(sock)
                threads = getattr(self.ws, "handler_threads", None)  # websockets >= 16
                if threads is not None:  # registered by serve_forever, left to the handler
                    with self.ws.lock:
                        threads.discard(threading.current_thread())
                return
            slot = object()
            with self._open_lock:
                self._ws_slots[slot] = None
            self._held.slot = slot
            try:
                inner(sock, addr)
            finally:
                self._free_slot()

        return handler

    def _free_slot(self) -> None:
        """Free this thread's connection slot once: before its connection is dropped or
        closed from our side, or after a handshake that failed (or never, if
        :meth:`_reclaim_closed` freed it first)."""
        slot = getattr(self._held, "slot", None)
        if slot is None:
            return
        self._held.slot = None
        with self._open_lock:
            if self._ws_slots.pop(slot, _GONE) is not _GONE:
                self._open -= 1

    def _reclaim_closed(self) -> None:
        """Free the slots of WebSocket connections whose close websockets has already
        handled (under ``_open_lock``). A client's close frame is answered, and the TCP
        connection ended, by websockets' own thread, while the handler's thread is still
        to wake from recv: a client reconnecting at once met a slot still taken and was
        reset. The unit's event loop (mongoose) frees a connection as it closes it."""
        from websockets.protocol import State

        for slot, ws in list(self._ws_slots.items()):
            if ws is not None and ws.protocol.state in (State.CLOSING, State.CLOSED):
                del self._ws_slots[slot]
                self._open -= 1

    # -- WebSocket ------------------------------------------------------------------------

    def _ws_handler(self, ws: Any) -> None:
        """Serve one connection; its slot is freed before websockets closes it (on return)
        or it is dropped, as the HTTP side frees its slot before the shutdown."""
        from websockets.exceptions import ConnectionClosed

        slot = getattr(self._held, "slot", None)
        with self._open_lock:
            if slot in self._ws_slots:  # seen by _reclaim_closed from now on
                self._ws_slots[slot] = ws
        try:
            while True:
                try:
                    message = ws.recv(timeout=self.idle_timeout)
                except TimeoutError:
                    self.refuse("idle")
                    self._drop(ws)
                    return
                data = message.encode() if isinstance(message, str) else message
                try:
                    with self.unit_lock:
                        answer = self.unit.handle(data)
                except InvalidFrame:
                    self.refuse("invalid frame")
                    self._drop(ws)  # mg_rpc_channel_ws_ch_close: MG_F_CLOSE_IMMEDIATELY
                    return
                if answer is not None:
                    ws.send(answer.decode())
        except ConnectionClosed:
            pass
        except Exception as e:
            self.failed(e)
            self._drop(ws)
        finally:
            self._free_slot()

    def _drop(self, ws: Any) -> None:
        self._free_slot()
        _drop(ws)

    # -- addresses ------------------------------------------------------------------------

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


_GONE = object()  # a slot no longer held (freed by _reclaim_closed)


def _drop(ws: Any) -> None:
    """End a WebSocket connection at once, with no close frame."""
    with contextlib.suppress(OSError):
        ws.socket.shutdown(socket.SHUT_RDWR)


def url_host(host: str) -> str:
    """``host`` as a URL names it: an IPv6 address in brackets."""
    return f"[{host}]" if ":" in host else host
