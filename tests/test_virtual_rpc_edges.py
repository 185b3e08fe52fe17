"""The virtual units in the field at their edges: a call log that stays bounded however
long a unit serves or however hard it is flooded, and requests a real unit refuses
refused as its firmware does (rpc-common ``mg_rpc_parse_frame``/``mg_rpc_handle_frame``,
``mg_rpc_channel_http``/``_ws``, mongoose 6.18's HTTP parser, ``rpc-service-fs``'s and
mDash's FS.Get), over HTTP, WebSocket and MQTT, without a crash, a hang or an error in
the unit's handlers. Every server's ``errors`` must stay empty (checked at teardown)."""

from __future__ import annotations

import base64
import contextlib
import json
import socket
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from support.fleet import mdash_unit, mongoose_unit

from esp_cabundle.virtual.rpc import MAX_FRAME_BYTES, InvalidFrame, SimUnit
from esp_cabundle.virtual.rpc_http import MAX_HEAD_BYTES
from esp_cabundle.virtual.rpc_links import LanUnitServer, MqttUnitHost

GET_INFO = b'{"id":1,"src":"t","method":"Sys.GetInfo"}'


def frame(method: str, params: dict[str, Any] | None = None, *, cid: int = 1) -> bytes:
    return json.dumps({"id": cid, "src": "t", "method": method, "args": params or {}}).encode()


def answer(unit: SimUnit, data: bytes) -> dict[str, Any]:
    out = unit.handle(data)
    assert out is not None
    doc = json.loads(out)
    assert isinstance(doc, dict)
    return doc


# ---------------------------------------------------------------------------------------
# The call log


def test_the_call_log_keeps_the_last_calls_and_counts_every_one() -> None:
    unit = mongoose_unit("log", max_calls=5)
    for n in range(12):
        unit.handle(frame("FS.Get", {"filename": f"f{n}"}))
    assert [c.params["filename"] for c in unit.calls] == [f"f{n}" for n in range(7, 12)]
    assert (unit.calls_dropped, unit.calls_total) == (7, 12)
    assert unit.count("FS.Get") == 5


def test_a_call_log_of_none_still_counts() -> None:
    unit = mongoose_unit("none", max_calls=0)
    unit.handle(GET_INFO)
    assert unit.calls == [] and unit.calls_total == 1
    with pytest.raises(ValueError, match="max_calls -1"):
        mongoose_unit("neg", max_calls=-1)


def test_a_logged_call_costs_a_bounded_few_kb_whatever_the_frame_held() -> None:
    """FS.Put's data (32 KiB here, up to a frame), nested values and a hundred
    parameters: the file is written whole, the log keeps sizes, not contents."""
    unit = mongoose_unit("big")
    data = bytes(range(256)) * 128
    params: dict[str, Any] = {"filename": "big.bin", "data": base64.b64encode(data).decode()}
    params |= {"nested": {"a": [1] * 10_000}, "list": list(range(10_000)), "n": 1 << 200}
    params |= {f"k{n}": n for n in range(100)}
    assert answer(unit, frame("FS.Put", params)).get("error") is None
    assert unit.files()["/big.bin"] == data
    (call,) = unit.calls
    assert call.params["filename"] == "big.bin"
    assert call.params["data"] == f"<{len(params['data'])} characters>"
    assert call.params["nested"] == "<object of 1>" and call.params["list"] == "<array of 10000>"
    assert call.params["n"] == "<a number of 201 bits>"
    assert len(call.params) == 17 and call.params["..."] == f"<{len(params) - 16} more>"
    assert len(json.dumps(call.params)) < 4096
    assert call.size > len(data)


# ---------------------------------------------------------------------------------------
# Frames rpc-common refuses, ignores or answers (mg_rpc_parse_frame, mg_rpc_handle_frame)

INVALID = {
    "empty": b"",
    "not JSON": b"not json",
    "truncated": GET_INFO[:-3],
    "array": b"[1, 2]",
    "string": b'"Sys.GetInfo"',
    "no frame keys": b'{"foo": 1}',
    "empty object": b"{}",
    "id an array": b'{"id": [1], "method": "Sys.GetInfo"}',
    "id null": b'{"id": null, "method": "Sys.GetInfo"}',
    "id true": b'{"id": true, "method": "Sys.GetInfo"}',
    "answer without id": b'{"result": {}}',
    "nested 100,000 deep": b"[" * 100_000,
    "not UTF-8": b'{"id": 1, "method": "\xff\xfe"}',
    "over the frame limit": b'{"id": 1, "method": "' + b"A" * MAX_FRAME_BYTES + b'"}',
}


@pytest.mark.parametrize("name", sorted(INVALID))
def test_a_frame_rpc_common_refuses_is_an_invalid_frame(name: str) -> None:
    unit = mongoose_unit("inv")
    with pytest.raises(InvalidFrame):
        unit.handle(INVALID[name])
    assert unit.invalid_frames == 1 and unit.calls_total == 0
    assert answer(unit, GET_INFO)["result"]["id"] == "inv"  # and it answers on


@pytest.mark.parametrize(
    "data",
    [b'{"id": 7}', b'{"id": "x", "result": {"a": 1}}', b'{"id": 3, "method": ""}'],
    ids=["id only", "an answer", "empty method"],
)
def test_an_answer_it_never_asked_for_is_ignored(data: bytes) -> None:
    """mg_rpc_handle_response: a response to a request the unit did not send is dropped."""
    unit = mongoose_unit("ign")
    assert unit.handle(data) is None
    assert unit.invalid_frames == 0 and unit.calls_total == 0


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b'{"id": 1, "method": null}', "No handler for null"),
        (b'{"id": 1, "method": 5}', "No handler for 5"),
        (b'{"id": 1, "method": {"a": 1}}', 'No handler for {"a":1}'),
    ],
)
def test_a_method_that_is_no_string_is_named_as_its_json(data: bytes, message: str) -> None:
    """frozen's %T hands the token's text on: rpc-common answers 404 naming it."""
    assert answer(mongoose_unit("m"), data)["error"] == {"code": 404, "message": message}


def test_a_request_without_an_id_is_answered() -> None:
    doc = answer(mongoose_unit("noid"), b'{"method": "Sys.GetInfo"}')
    assert doc["id"] is None and doc["result"]["id"] == "noid"


def test_mongoose_fs_get_refuses_a_negative_offset() -> None:
    """rpc-service-fs mgos_service_fs.c: filename first, then "illegal offset" (400)."""
    unit = mongoose_unit("off")
    doc = answer(unit, frame("FS.Get", {"filename": "ca.pem", "offset": -5}))
    assert doc["error"] == {"code": 400, "message": "illegal offset"}
    doc = answer(unit, frame("FS.Get", {"offset": -5}))
    assert doc["error"] == {"code": 400, "message": "filename is required"}


def test_mdash_fs_get_with_a_negative_offset_or_length() -> None:
    """mDash.c rpc_fs_get: a failed fseek to a negative offset reads from the start, the
    answer keeping the offset asked for; a buffer it cannot malloc is "OOM" (500)."""
    unit = mdash_unit("md")
    name, data = next((k.lstrip("/"), v) for k, v in unit.files().items() if len(v) > 16)

    def get(**p: Any) -> dict[str, Any]:
        f = json.dumps({"id": 1, "method": "FS.Get", "params": {"filename": name, **p}})
        return answer(unit, f.encode())

    doc = get(offset=-4, len=8)["result"]
    assert base64.b64decode(doc["data"]) == data[:8]
    assert doc["offset"] == -4 and doc["left"] == len(data) - (8 - 4)
    for n in (-1, 1_000_000):
        assert get(len=n)["error"] == {"code": 500, "message": "OOM"}


# ---------------------------------------------------------------------------------------
# HTTP: as mongoose 6.18 parses requests and rpc-common answers them


@pytest.fixture
def lan() -> Iterator[Callable[..., LanUnitServer]]:
    """``lan(unit, **kw)`` serves a unit over HTTP and WebSocket; each server is closed,
    and must have met no handler error, at the end."""
    made: list[LanUnitServer] = []

    def start(unit: SimUnit | None = None, **kw: Any) -> LanUnitServer:
        made.append(LanUnitServer(unit or mongoose_unit("lan"), **kw))
        return made[-1]

    yield start
    for s in made:
        s.close()
    assert [e for s in made for e in s.errors] == []


def address(server: LanUnitServer) -> tuple[str, int]:
    assert server.http is not None
    host, port = server.http.server_address[:2]
    return str(host), int(port)


def exchange(server: LanUnitServer, data: bytes, *, half_close: bool = True) -> bytes:
    """Every byte the unit sends back until it closes (a hang fails, after 10 s)."""
    try:
        s = socket.create_connection(address(server), timeout=10)
    except ConnectionResetError:  # reset as it was accepted
        return b""
    with s:
        with contextlib.suppress(OSError):  # a unit may close before it read it all
            s.sendall(data)
            if half_close:
                s.shutdown(socket.SHUT_WR)
        out = b""
        try:
            while chunk := s.recv(1 << 16):
                out += chunk
        except ConnectionResetError:
            pass
        return out


def post(body: bytes, *headers: str, path: str = "/rpc") -> bytes:
    head = [f"POST {path} HTTP/1.1", "Host: unit", f"Content-Length: {len(body)}", *headers]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


INVALID_REQUEST = (  # mg_http_send_error(nc, 400, "Invalid request"), as mongoose writes it
    b"HTTP/1.1 400 Bad Request\r\nServer: Mongoose/6.18\r\nContent-Type: text/plain\r\n"
    b"Connection: close\r\nContent-Length: 15\r\n\r\nInvalid request"
)


@pytest.mark.parametrize(
    "request_bytes",
    [
        post(b"not json"),
        post(b"{}"),
        post(b'{"id": [1], "method": "Sys.GetInfo"}'),
        post(b"[" * 50_000),
        b"GET /rpc HTTP/1.1\r\nHost: unit\r\n\r\n",
        b"DELETE /rpc/ HTTP/1.1\r\nHost: unit\r\n\r\n",
    ],
    ids=["not-json", "no-keys", "bad-id", "deep", "GET", "DELETE"],
)
def test_http_a_frame_rpc_common_refuses_gets_400_invalid_request(
    lan: Any, request_bytes: bytes
) -> None:
    """mg_rpc_channel_http_ch_close -> mg_http_send_error(nc, 400, "Invalid request"),
    then closed (any method: the body, empty but for POST, is the frame)."""
    server = lan()
    assert exchange(server, request_bytes) == INVALID_REQUEST
    assert server.refused["invalid frame"] == 1
    assert json.loads(exchange(server, post(GET_INFO)).split(b"\r\n\r\n", 1)[1])["id"] == 1


@pytest.mark.parametrize(
    ("request_bytes", "reason"),
    [
        (b"GARBAGE\r\n\r\n", "unparsed request"),
        (b"POST /rpc HTTP/9\r\nHost: unit\r\n\r\n", "unparsed request"),
        (b"GET /rpc\r\nHost: unit\r\n\r\n", "unparsed request"),
        (b"POST /rpc HTTP/1.1\r\nX: " + b"a" * 3072 + b"\r\n\r\n", "request head too large"),
        (b"POST /rpc HTTP/1.1\r\nHost: unit\r\n" + b"X: y\r\n" * 600, "request head too large"),
        (b"POST /rpc HTTP/1.1\r\nContent-Length: 2097153\r\n\r\n{", "body too large"),
        (b"POST /rpc HTTP/1.1\r\nContent-Length: 99999999999999999999\r\n\r\n", "body too large"),
        (b"POST /rpc HTTP/1.1\r\nContent-Length: -1\r\n\r\n", "bad length"),
        (b"POST /rpc HTTP/1.1\r\nContent-Length: ten\r\n\r\n", "bad length"),
        (b"POST /rpc HTTP/1.1\r\nContent-Length: 1\xb3\r\n\r\n{}", "bad length"),  # 1 and ³
        (b"POST /rpc HTTP/1.1\r\nContent-Length: \x1e2\r\n\r\n{}", "bad length"),
        (b"POST /rpc HTTP/1.1\r\nHost: unit\r\n\r\n" + GET_INFO, "no length"),
        (b"POST /rpc HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
         "no length"),
    ],
    ids=["garbage", "version", "no-version", "long-header", "many-headers", "body-over-limit",
         "huge-length", "negative-length", "word-length", "unicode-digit-length",
         "control-length", "no-length", "chunked"],
)  # fmt: skip
def test_http_requests_mongoose_drops_are_closed_unanswered(
    lan: Any, request_bytes: bytes, reason: str
) -> None:
    """mongoose's http handler: an unparseable request, or MG_MAX_HTTP_REQUEST_SIZE
    (3072) bytes without the end of the headers, is MG_F_CLOSE_IMMEDIATELY; a body
    beyond the unit's RAM, or one running to the end of the connection, gets no answer."""
    server = lan()
    assert exchange(server, request_bytes) == b""
    assert server.refused[reason] == 1, server.refused
    assert server.unit.calls_total == 0


def test_http_a_head_just_under_the_limit_is_served(lan: Any) -> None:
    server = lan()
    base = post(GET_INFO, "X-Pad: ")
    pad = MAX_HEAD_BYTES - (len(base) - len(GET_INFO))
    reply = exchange(server, post(GET_INFO, "X-Pad: " + "p" * pad))
    assert reply.startswith(b"HTTP/1.1 200 OK\r\n"), reply[:80]


def test_http_answers_as_rpc_common_sends_them(lan: Any) -> None:
    """mg_rpc_channel_http_send_frame: rpc-common's headers, the frame and CRLF;
    ``Connection: keep-alive`` only when the request asked, else close and closed."""
    server = lan()
    reply = exchange(server, post(GET_INFO))
    head, body = reply.split(b"\r\n\r\n", 1)
    assert head.split(b"\r\n") == [
        b"HTTP/1.1 200 OK",
        b"Server: Mongoose/6.18",
        b"Content-Type: application/json",
        b"Access-Control-Allow-Origin: *",
        b"Access-Control-Allow-Headers: *",
        f"Content-Length: {len(body)}".encode(),
        b"Connection: close",
    ]
    assert body.endswith(b"}\r\n") and json.loads(body)["result"]["id"] == "lan"
    with socket.create_connection(address(server), timeout=10) as s:
        stream = s.makefile("rb")
        for cid in (1, 2):  # both on one connection
            s.sendall(post(frame("Sys.GetInfo", cid=cid), "Connection: keep-alive"))
            head = b"".join(iter(stream.readline, b"\r\n"))
            assert b"Connection: keep-alive\r\n" in head
            length = int(head.split(b"Content-Length: ")[1].split(b"\r\n")[0])
            assert json.loads(stream.read(length))["id"] == cid


def test_connections_beyond_the_units_slots_are_reset(lan: Any) -> None:
    """Slots are shared by HTTP and WebSocket; one more connection is reset at once (no
    thread, no buffer); freed slots serve again."""
    from websockets.sync.client import connect

    server = lan(max_connections=3)
    held = [socket.create_connection(address(server), timeout=10) for _ in range(2)]
    with connect(server.ws_url, open_timeout=10) as ws:
        _until(lambda: server.open_connections == 3)
        assert exchange(server, post(GET_INFO)) == b""
        refused = r"no close frame|reset|closed|did not receive"
        with pytest.raises(Exception, match=refused), connect(server.ws_url, open_timeout=10):
            pass
        ws.send(GET_INFO.decode())
        assert json.loads(ws.recv(timeout=10))["id"] == 1  # the ones in still served
    for s in held:
        s.close()
    _until(lambda: server.open_connections == 0)
    assert json.loads(exchange(server, post(GET_INFO)).split(b"\r\n\r\n", 1)[1])["id"] == 1
    assert server.refused["too many connections"] == 2


def test_a_slot_is_free_once_its_connection_is_seen_closed(
    lan: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The slot was freed after the connection was shut down: a client that saw the
    close and connected again at once found it still taken, and was reset (a busy
    machine: here the shutdown is slowed down). Now it is freed first."""
    server = lan(max_connections=1, ws_port=None)
    http = server.http
    assert http is not None
    real = http.shutdown_request

    def slowed(request: Any) -> None:
        real(request)  # the client sees the close here...
        time.sleep(0.3)  # ...and the worker, on a busy machine, goes on later

    monkeypatch.setattr(http, "shutdown_request", slowed)
    for cid in (1, 2):
        answered = exchange(server, post(frame("Sys.GetInfo", cid=cid)))
        assert json.loads(answered.split(b"\r\n\r\n", 1)[1])["id"] == cid, answered
    assert server.refused["too many connections"] == 0


def test_a_websocket_slot_is_free_once_its_connection_is_seen_closed(
    lan: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As over HTTP: the slot was freed after websockets had closed the connection, so a
    client that saw the close and connected again at once was reset. Now it is freed
    before (here the server's side of the close is slowed down)."""
    from websockets.sync.client import connect
    from websockets.sync.server import ServerConnection

    server = lan(max_connections=1, http_port=None)
    real = ServerConnection.close

    def slowed(self: Any, *args: Any, **kwargs: Any) -> None:
        real(self, *args, **kwargs)  # the client sees the close here...
        time.sleep(0.3)  # ...and the handler's thread goes on later

    monkeypatch.setattr(ServerConnection, "close", slowed)
    for cid in (1, 2):
        with connect(server.ws_url, open_timeout=10) as ws:
            ws.send(frame("Sys.GetInfo", cid=cid).decode())
            assert json.loads(ws.recv(timeout=10))["id"] == cid
    assert server.refused["too many connections"] == 0
    _until(lambda: server.open_connections == 0)


def test_a_websocket_slot_is_free_once_websockets_has_handled_the_close(
    lan: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """websockets' own thread answers a client's close frame and ends the connection,
    while the handler's thread has yet to wake from recv (a busy machine, here slowed
    down): a client reconnecting at once found the slot taken and was reset (CI under
    load). A slot whose connection websockets has closed is free for the next one."""
    from websockets.exceptions import ConnectionClosed
    from websockets.sync.client import connect
    from websockets.sync.server import ServerConnection

    server = lan(max_connections=1, http_port=None)
    real = ServerConnection.recv

    def late(self: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return real(self, *args, **kwargs)
        except ConnectionClosed:
            time.sleep(1.0)  # the handler's thread wakes late; the client has gone on
            raise

    monkeypatch.setattr(ServerConnection, "recv", late)
    for cid in (1, 2, 3):
        with connect(server.ws_url, open_timeout=10) as ws:
            ws.send(frame("Sys.GetInfo", cid=cid).decode())
            assert json.loads(ws.recv(timeout=10))["id"] == cid
    assert server.refused["too many connections"] == 0
    _until(lambda: server.open_connections == 0)


def test_a_silent_or_slow_connection_is_closed_and_its_slot_freed(lan: Any) -> None:
    server = lan(idle_timeout=0.5)
    start = time.monotonic()
    with socket.create_connection(address(server), timeout=10) as s:
        assert s.recv(1) == b""  # nothing sent: closed
    with socket.create_connection(address(server), timeout=10) as s:
        s.sendall(post(GET_INFO)[:-5])  # a body that never ends
        assert s.recv(1) == b""
    assert time.monotonic() - start < 5
    _until(lambda: server.open_connections == 0)
    assert server.refused["idle"] == 2 and server.unit.calls_total == 0


# ---------------------------------------------------------------------------------------
# WebSocket: rpc-ws's inbound channel


def test_ws_a_frame_rpc_common_refuses_drops_the_connection(lan: Any) -> None:
    """mg_rpc_channel_ws_ch_close: MG_F_CLOSE_IMMEDIATELY, no close frame."""
    from websockets.exceptions import ConnectionClosed
    from websockets.sync.client import connect

    server = lan()
    with connect(server.ws_url, open_timeout=10) as ws:
        ws.send(GET_INFO.decode())
        assert json.loads(ws.recv(timeout=10))["id"] == 1
        ws.send("not a frame")
        with pytest.raises(ConnectionClosed) as e:
            ws.recv(timeout=10)
        assert e.value.rcvd is None  # dropped, not closed
    with connect(server.ws_url, open_timeout=10, max_size=None) as ws:
        ws.send("A" * (MAX_FRAME_BYTES + 1))
        with pytest.raises(ConnectionClosed) as e:
            ws.recv(timeout=10)
        assert e.value.rcvd is not None and e.value.rcvd.code == 1009
    assert server.refused["invalid frame"] == 1 and server.unit.calls_total == 1


def _until(check: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "not within 10 s"
        time.sleep(0.02)


# ---------------------------------------------------------------------------------------
# MQTT: rpc-mqtt's persistent channel


def test_mqtt_invalid_and_oversized_frames_are_dropped_and_the_backlog_bounded(
    mosquitto: Any,
) -> None:
    """An invalid frame is only logged (a persistent channel), one over the frame limit
    dropped unread; a flood waits at the broker, not in the host (at most 4 frames per
    worker taken in); every valid request is answered, once."""
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    uid = f"edge-{time.monotonic_ns()}"
    unit = mongoose_unit(uid, delay=0.002)
    host = MqttUnitHost(mosquitto.port, [unit], workers=2)
    answers: list[bytes] = []
    c = mqtt.Client(CallbackAPIVersion.VERSION2)
    c.on_message = lambda cl, ud, msg: answers.append(bytes(msg.payload))
    c.max_inflight_messages_set(0)
    c.connect("127.0.0.1", mosquitto.port)
    c.subscribe("edge-tester/rpc", qos=1)
    c.loop_start()
    try:
        time.sleep(0.3)
        bad = [b'{"src": "edge-tester", "id": [1]}', b'{"src": "edge-tester"', b"[" * 1000]
        big = b'{"src": "edge-tester", "id": 1, "method": "' + b"A" * MAX_FRAME_BYTES + b'"}'
        for data in [*bad, big]:
            c.publish(f"{uid}/rpc", data, qos=1)
        for n in range(200):
            req = {"id": n, "src": "edge-tester", "method": "Sys.GetInfo"}
            c.publish(f"{uid}/rpc", json.dumps(req), qos=1)
        _until(lambda: len(answers) >= 200, timeout=30)
        time.sleep(0.2)
    finally:
        c.loop_stop()
        c.disconnect()
        host.close()
    assert sorted(json.loads(a)["id"] for a in answers) == list(range(200))
    assert host.refused == {"invalid frame": 1, "frame too large": 1}
    assert host.dropped_without_src == 2  # "Drop frame without src": no src to be read
    assert 1 <= host.most_waiting <= 2 * 4 and host.errors == []
    assert unit.calls_total == 200
