"""Seeded fuzzing of the virtual units in the field, within a small time budget: frames
straight into the Mongoose OS and mDash units, raw HTTP requests and WebSocket messages
into a unit's server. Every frame must end in an answer frame, no answer, or
``InvalidFrame``; every request in one of the answers a unit gives (200, 400 "Invalid
request", 404) or a closed connection, each within ``CALL_LIMIT_S``. Afterwards the
unit still answers, its file system still mounts, its call log is within its bound and
its server met no handler error and holds no connection. Seeds are fixed, so a failure
reproduces (the first 150 variants always run; how many more depends on the
machine's speed, never their order)."""

from __future__ import annotations

import base64
import contextlib
import json
import socket
import time
from collections.abc import Iterator
from typing import Any

import pytest
from support.fleet import mdash_unit, mongoose_unit
from support.fuzzing import Mutator

from esp_cabundle.virtual.rpc import InvalidFrame, SimUnit
from esp_cabundle.virtual.rpc_links import LanUnitServer

SEED = 20261202
BUDGET_S = 3.0  # per test: variants stop coming when it is spent
MIN_VARIANTS = 150  # fewer proves nothing: these are run whatever the budget
CALL_LIMIT_S = 5.0  # one frame or request (generous: it catches hangs, not slowness)

JSON_TOKENS = (
    b'"', b"\\", b"{", b"}", b"[", b"]", b":", b",", b"null", b"true", b"-1", b"1e999",
    b"NaN", b"Infinity", b"-0", b'"id":', b'"method":', b'"args":', b'"params":', b'"src":',
    b'"dst":', b'"result":', b'"error":', b'"offset":-7,', b'"len":-1,', b'"len":99999999,',
    b'"data":"!!",', b'"append":true,', b'"filename":"",', b'"filename":"a/../b",',
    b'"FS.Get"', b'"FS.Put"', b'"FS.Rename"', b"\x00", b"\xff", b"\xed\xa0\x80",
    b"9" * 5000, b"[" * 40, b"{" * 40, b'"' + b"x" * 300 + b'"',
)  # fmt: skip
HTTP_TOKENS = (
    *JSON_TOKENS,
    b"\r\n", b"\r\n\r\n", b"\n", b" ", b"Content-Length: ", b"Content-Length: 0\r\n",
    b"Content-Length: 99999999\r\n", b"Connection: keep-alive\r\n", b"Connection: close\r\n",
    b"Transfer-Encoding: chunked\r\n", b"Expect: 100-continue\r\n", b" HTTP/1.1", b" HTTP/1.0",
    b"GET ", b"POST ", b"/rpc", b"/rpc/", b"/rpc/Sys.GetInfo", b"?a=1", b"X: " + b"y" * 4000,
)  # fmt: skip


def _frames(shape: str) -> list[bytes]:
    data = base64.b64encode(b"-----BEGIN CERTIFICATE-----\nMIIB\n").decode()
    calls: list[tuple[str, dict[str, Any]]] = [
        ("Sys.GetInfo", {}),
        ("RPC.List", {}),
        ("FS.List", {}),
        ("FS.ListExt", {}),
        ("FS.Get", {"filename": "ca.pem", "offset": 10, "len": 64}),
        ("FS.Put", {"filename": "ca.pem.new", "data": data, "append": False}),
        ("FS.Put", {"filename": "ca.pem.new", "data": data, "append": True}),
        ("FS.Rename", {"src": "ca.pem.new", "dst": "ca.pem"}),
        ("FS.Remove", {"filename": "ca.pem.new"}),
        ("Sys.Reboot", {}),
    ]
    frames = [
        json.dumps({"id": n, "src": "fuzz", "method": m, shape: p}).encode()
        for n, (m, p) in enumerate(calls, 1)
    ]
    return [*frames, b'{"id": 99, "result": {"a": 1}}']


def _check_answer(out: bytes | None) -> None:
    if out is None:
        return
    doc = json.loads(out)
    assert isinstance(doc, dict) and "id" in doc, out[:200]
    assert ("result" in doc) != ("error" in doc), out[:200]


def _budget() -> Iterator[int]:
    """Variant numbers while the time budget lasts, and at least the first
    ``MIN_VARIANTS`` however long they take: on a loaded CI machine the budget alone
    ran out after 97 WebSocket variants (994 on an idle one) and the run failed."""
    end = time.monotonic() + BUDGET_S
    n = 0
    while n < MIN_VARIANTS or time.monotonic() < end:
        yield n
        n += 1


def _still_well(unit: SimUnit) -> None:
    unit.online_at = 0.0  # past any reboot a frame asked for
    out = unit.handle(json.dumps({"id": 1, "method": "RPC.List"}).encode())
    assert out is not None and "FS.Get" in json.loads(out)["result"]
    assert unit.files()  # the image mounts anew, file by file
    assert len(unit.calls) <= unit.max_calls


@pytest.mark.parametrize("kind", ["mongoose", "mdash"])
def test_fuzzed_frames_end_in_an_answer_no_answer_or_an_invalid_frame(kind: str) -> None:
    unit = (mongoose_unit if kind == "mongoose" else mdash_unit)(
        f"fuzz-{kind}", max_calls=50, reboot_time=0.0
    )
    seeds = _frames("args" if kind == "mongoose" else "params")
    mutator = Mutator(SEED, JSON_TOKENS)
    runs = 0
    for n in _budget():
        data = seeds[n] if n < len(seeds) else mutator.mutate(mutator.rng.choice(seeds))
        start = time.perf_counter()
        with contextlib.suppress(InvalidFrame):
            _check_answer(unit.handle(data))
        assert time.perf_counter() - start < CALL_LIMIT_S, data[:200]
        runs += 1
    assert runs >= MIN_VARIANTS
    assert unit.calls_total + unit.invalid_frames <= runs
    _still_well(unit)


@pytest.fixture
def server() -> Iterator[LanUnitServer]:
    s = LanUnitServer(mongoose_unit("fuzz-lan", max_calls=50, reboot_time=0.0), idle_timeout=1.0)
    yield s
    s.close()
    assert s.errors == []


def _exchange(server: LanUnitServer, data: bytes) -> bytes:
    assert server.http is not None
    host, port = server.http.server_address[:2]
    try:
        s = socket.create_connection((str(host), int(port)), timeout=CALL_LIMIT_S)
    except ConnectionResetError:
        return b""
    with s:
        with contextlib.suppress(OSError):
            s.sendall(data)
            s.shutdown(socket.SHUT_WR)
        out = b""
        with contextlib.suppress(ConnectionResetError):
            while chunk := s.recv(1 << 16):
                out += chunk
        return out


SENTINEL = b'{"id": "sentinel", "method": "Sys.GetInfo"}'
ANSWERS = (b"HTTP/1.1 200 OK\r\n", b"HTTP/1.1 400 Bad Request\r\n", b"HTTP/1.1 404 Not Found\r\n")


def _request(body: bytes, *headers: str) -> bytes:
    head = ["POST /rpc HTTP/1.1", "Host: unit", f"Content-Length: {len(body)}", *headers]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


def test_fuzzed_http_requests_get_a_units_answer_or_a_closed_connection(
    server: LanUnitServer,
) -> None:
    frames = _frames("args")
    seeds = [_request(f) for f in frames[:6]]
    seeds += [_request(frames[0], "Connection: keep-alive") + _request(frames[1])]
    seeds += [
        b"GET /rpc HTTP/1.1\r\nHost: unit\r\n\r\n",
        _request(frames[0], "X-Pad: " + "p" * 2900),
    ]
    mutator = Mutator(SEED, HTTP_TOKENS)
    runs = 0
    for n in _budget():
        data = seeds[n] if n < len(seeds) else mutator.mutate(mutator.rng.choice(seeds))
        start = time.perf_counter()
        reply = _exchange(server, data)
        assert time.perf_counter() - start < CALL_LIMIT_S, data[:200]
        assert reply == b"" or reply.startswith(ANSWERS), (data[:200], reply[:200])
        runs += 1
    assert runs >= MIN_VARIANTS
    deadline = time.monotonic() + 10
    while server.open_connections and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.open_connections == 0
    reply = _exchange(server, _request(frames[0]))
    assert json.loads(reply.split(b"\r\n\r\n", 1)[1])["id"] == 1
    _still_well(server.unit)


def test_fuzzed_websocket_messages_get_an_answer_or_a_dropped_connection(
    server: LanUnitServer,
) -> None:
    from websockets.exceptions import ConnectionClosed, InvalidHandshake
    from websockets.sync.client import connect

    seeds = _frames("args")
    mutator = Mutator(SEED, JSON_TOKENS)
    runs = 0
    ws: Any = None
    with contextlib.ExitStack() as stack:
        for n in _budget():
            data = seeds[n] if n < len(seeds) else mutator.mutate(mutator.rng.choice(seeds))
            if ws is None:
                ws = stack.enter_context(connect(server.ws_url, open_timeout=CALL_LIMIT_S))
            start = time.perf_counter()
            try:
                ws.send(data)  # binary: the bytes as they are
                ws.send(SENTINEL)  # its answer comes after any the variant gets
                while True:
                    reply = ws.recv(timeout=CALL_LIMIT_S).encode()
                    _check_answer(reply)
                    if json.loads(reply)["id"] == "sentinel":
                        break
            except TimeoutError:
                raise AssertionError(f"no answer within {CALL_LIMIT_S} s: {data[:200]!r}") from None
            except (ConnectionClosed, InvalidHandshake, OSError):
                ws = None  # dropped: an invalid frame
            assert time.perf_counter() - start < CALL_LIMIT_S, data[:200]
            runs += 1
    assert runs >= MIN_VARIANTS
    _still_well(server.unit)
