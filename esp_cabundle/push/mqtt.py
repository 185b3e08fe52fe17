"""Mongoose OS RPC over MQTT, through a broker (``mongoose-os-libs/rpc-mqtt``).

A unit subscribes (QoS ``rpc.mqtt.qos``, default 1) to ``<device.id>/rpc`` and
``<device.id>/rpc/#`` and publishes each answer to ``<dst>/rpc``, ``dst`` being the
request's ``src`` (``rpc.mqtt.pub_topic`` "%.*s/rpc"); a request with an ``id`` but no
``src`` is dropped ("Drop frame without src", ``mgos_rpc_mqtt_sub_handler``). Frames
must fit the unit's MQTT receive buffer: ``mqtt.recv_mbuf_limit`` 3072 bytes
(``mongoose-os-libs/mqtt`` mos.yml), topic and packet header included.

Requests go out with ``src`` = ``<client>/<unit id>``, so each unit's answers arrive on
their own topic under ``<client>/#``: a malformed answer is still known to be that
unit's. The client is paho-mqtt (>= 2). The password is handed to paho only; it never
appears in a message, the ledger, or the process's arguments.
"""

from __future__ import annotations

import contextlib
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from ..arguments import name_tuple
from ..errors import (
    ArgumentTypeError,
    AuthError,
    DeviceError,
    InputError,
    UnitRpcError,
    UnitUnreachable,
)
from ..limits import loads_json
from ..spelling import PYTHON, Spelling, set_to
from .http import tls_context
from .rpc import (
    MAX_ANSWER_BYTES,
    READ_ONLY_METHODS,
    FrameShape,
    next_call_id,
    parse_answer,
    request_frame,
)
from .transport import LinkLost, Traffic, UnitRef
from .urls import refuse_url_secrets, split_url

if TYPE_CHECKING:
    import paho.mqtt.client as mqtt

__all__ = ["EXAMPLE_URL", "MQTT_FRAME_SIZE", "MqttTransport", "MqttUrl", "parse_mqtt_url"]

# mongoose-os-libs/mqtt mos.yml: ["mqtt.recv_mbuf_limit", "i", 3072]
MQTT_FRAME_SIZE = 3072
# PUBLISH fixed header (<= 5), topic length (2), packet id (2).
_PUBLISH_OVERHEAD = 9
_CONNECT_TIMEOUT = 10.0
# Probe requests awaiting an answer at once. Their answers come back together, and a
# broker holds at most so many for one client before it drops the rest (mosquitto's
# defaults: max_inflight_messages 20, max_queued_messages 1000): a dropped answer would
# be a unit taken for off. So 1000 ids a timeout: 3000 silent ids cost 3 timeouts.
# The broker hands answers on only so many at a time too (max_inflight_messages 20 per
# round trip), so 1000 answers can take longer than one timeout: a probe takes a unit
# for silent only once its timeout has passed since it was asked and since the probe
# last heard any answer (answers still coming: the broker is still handing them on).
_PROBE_INFLIGHT = 1000
# When a probe asks a unit still silent once more: this fraction of the timeout after it
# was asked and after the last answer heard. Late, so that while answers still come in
# (a broker handing 1000 on, 20 at a time) no unit is asked twice; a quarter of the
# timeout left for the second answer (2.5 s of the default 10).
_ASK_AGAIN_AT = 0.75
# How often a probe's wait looks at ``stop`` (a Ctrl-C ends the wait this soon).
_STOP_POLL = 0.1
# The broker a bad URL's hint gives instead (the CLI puts it in the line as typed).
EXAMPLE_URL = "mqtt://broker.local:1883"


@dataclass(frozen=True, slots=True)
class MqttUrl:
    """A broker address; ``password`` is kept out of ``repr`` and ``str``."""

    tls: bool
    host: str
    port: int
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    # Where the URL was given, for the hints: a user who set ESP_CABUNDLE_MQTT and
    # typed no --mqtt was told to "check the --mqtt host and port"; a script that built
    # one by hand passed no flag (parse_mqtt_url sets it as its spelling names the URL).
    given_in: str = field(default=PYTHON.mqtt_url.removesuffix("="), compare=False)

    def __str__(self) -> str:
        user = f"{self.username}@" if self.username else ""
        host = f"[{self.host}]" if ":" in self.host else self.host  # an IPv6 address
        return f"{'mqtts' if self.tls else 'mqtt'}://{user}{host}:{self.port}"


def parse_mqtt_url(text: str, spelling: Spelling = PYTHON) -> MqttUrl:
    """``mqtt://[user[:pass]@]host[:port]`` (1883) or ``mqtts://...`` (8883); the errors
    name the URL as ``spelling`` does (see :mod:`~esp_cabundle.spelling`)."""
    option, example = spelling.mqtt_url, EXAMPLE_URL
    name = option.removesuffix("=")
    parts = split_url(text.strip(), option, example=example)
    if parts.scheme not in ("mqtt", "mqtts") or not parts.hostname:
        raise InputError(
            f"{name} takes mqtt://[user@]host[:port] or mqtts://[user@]host[:port]",
            hint=f"e.g. {set_to(option, example)}",
        )
    refuse_url_secrets(
        parts,
        name,
        hint=f"give the password in {spelling.mqtt_password} (a broker takes it with the "
        "user name, never from the URL's query)",
    )
    if parts.path not in ("", "/"):
        raise InputError(f"{name}: a broker URL has no path")
    port = parts.port
    tls = parts.scheme == "mqtts"
    url = MqttUrl(
        tls,
        parts.hostname,
        port or (8883 if tls else 1883),
        unquote(parts.username) if parts.username else None,
        unquote(parts.password) if parts.password is not None else None,
        given_in=name,
    )
    if url.password is not None and url.username is None:  # mqtt://:pw@host
        raise InputError(
            f"{name}: a password without a user name: a broker takes a password only with "
            "a user name (MQTT 3.1.1, 3.1.2.9), so it would not be sent",
            hint=f"name the user before it: {scheme_of(url)}://USER:PASSWORD@"
            f"{str(url).partition('://')[2]} (the password is not shown)",
        )
    if parts.query or parts.fragment or "#" in text:  # paho would drop them unsaid
        raise InputError(
            f"{name}: a broker URL has no query or fragment (? or #): MQTT reaches a broker "
            "by host and port alone, so nothing after ? or # would reach it",
            hint=f"give it without that part: {set_to(option, str(url))}",  # no password
        )
    return url


def scheme_of(url: MqttUrl) -> str:
    return "mqtts" if url.tls else "mqtt"


def check_device_id(uid: str) -> str:
    u = uid.strip()
    if not u or any(c in u for c in "+#\x00") or u.startswith("$") or len(u) > 128:
        raise InputError(
            f"{uid!r} is not a device id usable in an MQTT topic",
            hint="device ids are the units' device.id (no +, #, NUL; not starting with $)",
        )
    return u


@dataclass
class _Waiter:
    call_id: int
    method: str
    event: threading.Event = field(default_factory=threading.Event)
    result: Any = None
    error: Exception | None = None
    asked_again: bool = False  # by a probe: its answer says nothing of others queued


class _MqttChannel:
    shape: FrameShape = "args"

    def __init__(self, transport: MqttTransport, unit_id: str) -> None:
        self.unit_id = unit_id
        self.src: str | None = transport.src(unit_id)
        self._t = transport

    def call(self, method: str, params: Mapping[str, Any], *, timeout: float) -> Any:
        return self._t.call(self, method, params, timeout=timeout)

    def close(self) -> None:
        pass


class MqttTransport:
    """Units behind one broker, by device id."""

    name = "mqtt"

    def __init__(
        self,
        url: MqttUrl,
        device_ids: Sequence[str],
        *,
        ca_file: str | None = None,
        frame_size: int | None = None,
        spelling: Spelling = PYTHON,
    ) -> None:
        """``spelling``: how the refusal of no ids and of the login name the options (see
        :mod:`~esp_cabundle.spelling`)."""
        self._spelling = spelling
        if not isinstance(url, MqttUrl):  # checked before connecting: not "refused"
            raise ArgumentTypeError(
                f"MqttTransport takes an MqttUrl, not {type(url).__name__}: {url!r}",
                hint="for a URL as text use MqttTransport.from_url(url, ids)",
            )
        if url.password is not None and url.username is None:  # paho would drop it unsaid
            raise InputError(
                "MqttUrl has a password but no user name: a broker takes a password only "
                "with a user name (MQTT 3.1.1, 3.1.2.9), so it would not be sent",
                hint="give MqttUrl(username=...) too",
            )
        device_ids = name_tuple("device_ids", device_ids)  # one str would be its letters
        if not device_ids:
            raise InputError(f"{spelling.mqtt} needs the units' ids: {spelling.unit_ids}")
        self.url = url
        self.ids = list(dict.fromkeys(check_device_id(d) for d in device_ids))
        self.client_id = f"esp-cabundle-{secrets.token_hex(6)}"
        longest = max(len(f"{u}/rpc") for u in self.ids)
        self.frame_budget = (frame_size or MQTT_FRAME_SIZE) - _PUBLISH_OVERHEAD - longest
        self.traffic = Traffic()
        self._waiting: dict[str, _Waiter] = {}
        self._lock = threading.Lock()
        # Told (from paho's network thread) when the broker link drops, False and paho's
        # reason, and when paho has reconnected, True: a unit's failed call shows a drop
        # only when one is made, and never one that came and went between calls.
        self.on_link: Callable[[bool, str], None] | None = None
        self._closing = False
        self._lost_at: datetime | None = None  # the broker link dropped then, not back yet
        self._lost_why = ""
        self._answered_at = 0.0  # time.monotonic() of the last first answer to a call
        self._client = self._connect(ca_file)

    @classmethod
    def from_url(
        cls,
        url: str,
        device_ids: Sequence[str],
        *,
        ca_file: str | None = None,
        frame_size: int | None = None,
    ) -> MqttTransport:
        """The broker at ``url`` (``mqtt://``, ``mqtts://``, as ``push --mqtt`` takes it,
        a password included: a script's URL is not on a command line)."""
        if not isinstance(url, str):
            raise ArgumentTypeError(
                f"MqttTransport.from_url takes the URL as str, not {type(url).__name__}",
                hint="give it as text: 'mqtt://broker.local:1883'",
            )
        return cls(parse_mqtt_url(url), device_ids, ca_file=ca_file, frame_size=frame_size)

    # -- connection ---------------------------------------------------------------------

    def _connect(self, ca_file: str | None) -> mqtt.Client:
        import paho.mqtt.client as mqtt
        from paho.mqtt.enums import CallbackAPIVersion

        client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=self.client_id,
            protocol=mqtt.MQTTv311,
            clean_session=True,
        )
        if self.url.username is not None:
            client.username_pw_set(self.url.username, self.url.password)
        if self.url.tls:
            client.tls_set_context(tls_context(ca_file))
        client.max_inflight_messages_set(200)
        client.max_queued_messages_set(0)
        connected = threading.Event()
        subscribed = threading.Event()
        outcome: dict[str, Any] = {}

        def on_connect(c: Any, userdata: Any, flags: Any, reason: Any, props: Any) -> None:
            outcome["reason"] = reason
            if not reason.is_failure:
                c.subscribe(f"{self.client_id}/#", qos=1)  # a clean session: every time
                if connected.is_set():  # paho's loop reconnected after a drop
                    # paho would resend the requests it holds unacknowledged; every one
                    # of their calls ended with LinkLost, so a late FS.Rename or
                    # Sys.Reboot must not reach a unit now (paho >= 2.2, as pyproject asks).
                    c.drop_out_messages()
                    self._link(True, "")
            connected.set()

        def on_disconnect(c: Any, userdata: Any, flags: Any, reason: Any, props: Any) -> None:
            if not self._closing:
                self._link(False, str(reason))

        def on_subscribe(c: Any, userdata: Any, mid: Any, reasons: Any, props: Any) -> None:
            subscribed.set()

        client.on_connect = on_connect
        client.on_subscribe = on_subscribe
        client.on_disconnect = on_disconnect
        client.on_message = self._on_message
        try:
            client.connect(self.url.host, self.url.port, keepalive=30)
        except OSError as e:
            raise DeviceError(
                f"cannot reach the MQTT broker {self.url}: {e.strerror or type(e).__name__}",
                hint=f"check the host and port in {self.url.given_in}",
            ) from None
        client.loop_start()
        ready = connected.wait(_CONNECT_TIMEOUT)
        reason = outcome.get("reason")
        failed = reason is not None and reason.is_failure
        if ready and not failed:
            ready = subscribed.wait(_CONNECT_TIMEOUT)
        if not ready or failed:
            self._closing = True
            _stop_loop(client)
            client.disconnect()
            if failed:
                text = str(reason)
                if "authori" in text.lower() or "password" in text.lower():
                    where = self._spelling.mqtt_password
                    hint = f"check the user name and the password ({where})"
                    if self.url.username is None:  # none sent: nothing to check
                        hint = (
                            f"the broker wants a login: a user name in {self.url.given_in} "
                            f"({scheme_of(self.url)}://USER@HOST[:PORT]), the password in {where}"
                        )
                    raise AuthError(
                        f"the MQTT broker {self.url} refused the login ({text})", hint=hint
                    )
                raise DeviceError(f"the MQTT broker {self.url} refused the connection ({text})")
            # Something took the connection but spoke no MQTT: another service's port,
            # or (plain mqtt://) a TLS listener waiting for a handshake.
            tls = "" if self.url.tls else f", or a TLS one that wants {scheme_of(self.url)}s://"
            raise DeviceError(
                f"no answer from the MQTT broker {self.url} in {_CONNECT_TIMEOUT:g} s",
                hint=f"something took the connection but gave no MQTT answer: check that the "
                f"port in {self.url.given_in} is the broker's{tls}",
            )
        return client

    def _link(self, up: bool, why: str) -> None:
        if up:
            self._lost_at = None
        else:
            # Every call awaiting an answer ends now, with LinkLost: its answer cannot come.
            self._lost_at, self._lost_why = datetime.now(timezone.utc), why
            with self._lock:
                waiting = list(self._waiting.items())
            for unit, waiter in waiting:
                if waiter.event.is_set():
                    continue  # answered already: its caller takes the answer
                waiter.error = self._lost(unit, why)
                waiter.event.set()
        hook = self.on_link
        if hook is not None:
            hook(up, why)

    def _on_message(self, client: Any, userdata: Any, msg: Any) -> None:
        topic: str = msg.topic
        prefix = self.client_id + "/"
        if not topic.startswith(prefix) or not topic.endswith("/rpc"):
            return
        unit = topic[len(prefix) : -len("/rpc")]
        payload: bytes = msg.payload
        self.traffic.add(0, len(payload))
        with self._lock:
            waiter = self._waiting.get(unit)
        if waiter is None:
            return  # a late answer to a call that timed out
        try:
            answered, result = parse_answer(payload, unit=unit, method=waiter.method)
        except UnitRpcError as e:
            if _frame_id(payload) not in (None, waiter.call_id):
                return
            waiter.error = e
        else:
            if answered != waiter.call_id:
                return
            waiter.result = result
        if not waiter.event.is_set() and not waiter.asked_again:
            self._answered_at = time.monotonic()
        waiter.event.set()

    # -- calls --------------------------------------------------------------------------

    def call(
        self, channel: _MqttChannel, method: str, params: Mapping[str, Any], *, timeout: float
    ) -> Any:
        unit = channel.unit_id
        waiter = self._send(unit, method, params)
        try:
            if not waiter.event.wait(timeout):
                raise self._silent(unit, method, timeout)
        finally:
            self._forget(unit, waiter)
        if waiter.error is not None:
            raise waiter.error
        return waiter.result

    def probe(
        self,
        ids: Sequence[str],
        method: str,
        params: Mapping[str, Any],
        *,
        timeout: float,
        stop: threading.Event | None = None,
    ) -> dict[str, UnitUnreachable]:
        """``method`` to every unit in ``ids`` at once (at most ``_PROBE_INFLIGHT``
        awaiting an answer): the units that did not answer, with the error :meth:`call`
        would have raised. Any answer, an error too, counts: the unit is there. A unit is
        silent once ``timeout`` has passed since it was asked and since the probe last
        heard an answer (the broker hands queued answers on a few per round trip). A
        broker keeps no list of units, so this is how a pass finds the ones that are off
        in about one timeout instead of one timeout each (--concurrency at a time).
        LinkLost when the broker goes meanwhile: silence then says nothing. ``stop`` set:
        the wait ends at once and no unit is called silent ({}).

        A unit still silent ``_ASK_AGAIN_AT`` of a timeout after it was asked (and after
        the last answer heard) is asked once more, the same request: one whose first
        request was lost (a unit reconnecting to the broker as it went out) answers the
        second, where it was recorded offline until the next pass. The trade-off: the
        second request has only the rest of the timeout (a quarter), so a unit slower
        than that whose first request was lost is still called silent; but no unit
        waits longer than before (every unit silent, the common case of a fleet mostly
        off, still costs one timeout), at the price of a second request to each silent
        unit (and to a slow one, whose answer comes after that point). An answer to a
        second request does not extend the others' wait, as answers still coming do.
        Only a ``method`` that reads (READ_ONLY_METHODS) is asked again: a slow unit
        does both requests, and a write done twice (an ``FS.Put`` append, an
        ``FS.Rename``) is not the write asked for."""
        silent: dict[str, UnitUnreachable] = {}
        sent: deque[tuple[str, _Waiter, float]] = deque()
        again: deque[tuple[str, _Waiter, float]] = deque()  # to ask again, oldest first
        ask_after = timeout * _ASK_AGAIN_AT

        def ask_again() -> float:
            """Ask each unit due once more; the time the next one is due."""
            while again:
                unit, waiter, asked = again[0]
                due = max(asked, self._answered_at) + ask_after
                if due > time.monotonic():
                    return due
                again.popleft()
                with self._lock:
                    awaited = self._waiting.get(unit) is waiter
                if awaited and not waiter.event.is_set():
                    waiter.asked_again = True
                    self._publish(unit, waiter, params)
            return float("inf")

        def settle() -> bool:
            """The oldest request settled; False: ``stop`` was set meanwhile."""
            unit, waiter, asked = sent.popleft()
            try:
                while not waiter.event.is_set():
                    if stop is not None and stop.is_set():
                        return False
                    next_due = ask_again()
                    now = time.monotonic()
                    left = max(asked, self._answered_at) + timeout - now
                    if left <= 0:
                        waiter.error = self._silent(unit, method, timeout)
                        if not isinstance(waiter.error, LinkLost):
                            silent[unit] = waiter.error
                        break
                    wait = min(left, max(next_due - now, 0.0))
                    waiter.event.wait(wait if stop is None else min(wait, _STOP_POLL))
                if isinstance(waiter.error, LinkLost):
                    raise waiter.error
                return True
            finally:
                self._forget(unit, waiter)

        try:
            for unit in ids:
                while len(sent) >= _PROBE_INFLIGHT:
                    if not settle():
                        return {}
                if stop is not None and stop.is_set():
                    return {}
                entry = (unit, self._send(unit, method, params), time.monotonic())
                sent.append(entry)
                if method in READ_ONLY_METHODS:  # a write done twice is another write
                    again.append(entry)
            while sent:
                if not settle():
                    return {}
        finally:
            for unit, waiter, _ in sent:
                self._forget(unit, waiter)
        return silent

    def _send(self, unit: str, method: str, params: Mapping[str, Any]) -> _Waiter:
        """Publish one request to ``unit``, its answer awaited by the waiter returned
        (which :meth:`_forget` lets go); LinkLost when the broker is not there."""
        waiter = _Waiter(next_call_id(), method)
        with self._lock:
            self._waiting[unit] = waiter
        self._publish(unit, waiter, params)
        return waiter

    def _publish(self, unit: str, waiter: _Waiter, params: Mapping[str, Any]) -> None:
        """``waiter``'s request to ``unit`` (again, for a probe: the same id, so either
        answer settles it); LinkLost, the waiter let go, when the broker is not there."""
        import paho.mqtt.client as mqtt  # deferred: paho loads for a run over MQTT only

        frame = request_frame(
            waiter.call_id, waiter.method, params, shape="args", src=self.src(unit)
        )
        info = self._client.publish(f"{unit}/rpc", frame, qos=1)
        if info.rc != mqtt.MQTT_ERR_SUCCESS:
            self._forget(unit, waiter)
            raise self._lost(unit, mqtt.error_string(info.rc))
        self.traffic.add(len(frame), 0)

    def src(self, unit: str) -> str:
        """The ``src`` of requests to ``unit``: its answers come on a topic of its own."""
        return f"{self.client_id}/{unit}"

    def _forget(self, unit: str, waiter: _Waiter) -> None:
        with self._lock:
            if self._waiting.get(unit) is waiter:
                del self._waiting[unit]

    def _silent(self, unit: str, method: str, timeout: float) -> UnitUnreachable:
        """No answer in time: the unit's silence, unless the broker went meanwhile (an
        answer lost with it says nothing of the unit)."""
        if self._lost_at is not None:
            return self._lost(unit, self._lost_why)
        return UnitUnreachable(f"unit {unit}: no answer to {method} within {timeout:g} s")

    def _lost(self, unit: str, why: str) -> LinkLost:
        at = self._lost_at or datetime.now(timezone.utc)
        return LinkLost(
            f"unit {unit}: the MQTT broker link is down ({why})", link="MQTT broker", at=at
        )

    def units(self) -> list[UnitRef]:
        return [UnitRef(u) for u in self.ids]

    def channel(self, unit_id: str, address: str | None = None) -> _MqttChannel:
        return _MqttChannel(self, unit_id)

    def notes(self) -> list[str]:
        return []

    def close(self) -> None:
        self._closing = True  # a drop asked for: not the broker lost
        self._client.disconnect()
        _stop_loop(self._client)


def _stop_loop(client: Any) -> None:
    """paho's ``loop_stop``, past its race (eclipse-paho/paho.mqtt.python#872, open): the
    network thread clears the client's handle to itself as it ends, which a disconnect
    makes it do at once, between ``loop_stop``'s check of that handle and its ``join``,
    which then meets None. The thread has left its loop by then: nothing is left to stop."""
    with contextlib.suppress(AttributeError):
        client.loop_stop()


def _frame_id(payload: bytes) -> Any:
    """The ``id`` of a frame that is not a good answer, when it has one (capped like
    every answer: a hostile unit's frame costs bounded time and memory)."""
    try:
        frame = loads_json(payload, what="MQTT frame", path=None, cap=MAX_ANSWER_BYTES)
    except InputError:
        return None
    return frame.get("id") if isinstance(frame, dict) else None
