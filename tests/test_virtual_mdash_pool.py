"""The virtual mDash cloud serves every connection from a fixed pool of threads: a flood
of connections waits its turn (a socket each, no thread) and the API still answers; a
request body nested too deep is refused before it is parsed."""

from __future__ import annotations

import http.client
import json
import socket
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from types import FrameType

import pytest
from support.fleet import mdash_unit

from esp_cabundle.limits import MAX_JSON_DEPTH
from esp_cabundle.virtual import rpc_http
from esp_cabundle.virtual.mdash_cloud import WORKERS, MdashCloud
from esp_cabundle.virtual.rpc_http import YIELD_AFTER, JsonHandler

KEY = "k3y-for-the-pool"
AUTH = {"Authorization": f"Bearer {KEY}", "Content-Type": "application/json"}


def addr(c: MdashCloud) -> tuple[str, int]:
    host, port = c.server.server_address[:2]
    return str(host), int(port)


def request(c: MdashCloud, verb: str, path: str, body: bytes | None = None) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection(*addr(c), timeout=10)
    try:
        conn.request(verb, f"/api/v2{path}", body, AUTH)
        r = conn.getresponse()
        return r.status, r.read()
    finally:
        conn.close()


def server_threads(c: MdashCloud) -> list[threading.Thread]:
    """The threads serving this cloud's connections (not another test's cloud): its
    pool's workers, or socketserver's one per connection (not its accepting one)."""
    return [
        t
        for t in threading.enumerate()
        if getattr(target := getattr(t, "_target", None), "__self__", None) is c.server
        and getattr(target, "__name__", "") != "serve_forever"
    ]


def busy(c: MdashCloud) -> int:
    """How many of this cloud's threads are serving a connection now."""
    frames = sys._current_frames()
    count = 0
    for t in server_threads(c):
        frame: FrameType | None = frames.get(t.ident or -1)
        while frame is not None and frame.f_code.co_name != "finish_request":
            frame = frame.f_back
        count += frame is not None
    return count


def test_the_pool_is_small_and_explicit() -> None:
    assert 1 <= WORKERS <= 16


def test_a_flood_of_idle_connections_never_raises_the_threads_past_the_pool() -> None:
    """200 connections that send nothing: the cloud's threads stay its 4 workers (a
    thread per connection before), and once they go a real request is answered long
    before the idle timeout would let a worker go."""
    cloud = MdashCloud([mdash_unit("m-1")], KEY, workers=4, idle_timeout=30.0)
    try:
        assert len(server_threads(cloud)) == 4
        flood = [socket.create_connection(addr(cloud), timeout=5) for _ in range(200)]
        try:
            deadline = time.monotonic() + 10
            while cloud.open_connections < 200 and time.monotonic() < deadline:
                assert len(server_threads(cloud)) == 4
                time.sleep(0.01)
            assert cloud.open_connections == 200 and cloud.dropped == 0
            assert len(server_threads(cloud)) == 4
        finally:
            for s in flood:
                s.close()
        start = time.monotonic()
        assert request(cloud, "GET", "/devices")[0] == 200
        assert time.monotonic() - start < 10  # the closed ones are let go at once
    finally:
        cloud.close()
    assert cloud.errors == []


def test_a_flood_of_requests_waits_its_turn_and_is_all_answered(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """64 clients at once on 2 workers: every one answered 200 by the cloud's 2 threads
    (no thread per connection), both of them serving at once at some point. Counted in
    the handler, the first request held until a second is in it: two at once is certain,
    not a sampler's luck (a request takes ~1 ms)."""
    cloud = MdashCloud([mdash_unit("m-1")], KEY, workers=2)
    lock, both, stop = threading.Lock(), threading.Event(), threading.Event()
    now, peak, most = [0], [0], [0]
    serve = cloud.serve

    def counted(h: JsonHandler, verb: str) -> None:
        with lock:
            now[0] += 1
            peak[0] = max(peak[0], now[0])
            if now[0] == 2:
                both.set()
        try:
            both.wait(5)  # the first holds until a second is served beside it
            serve(h, verb)
        finally:
            with lock:
                now[0] -= 1

    monkeypatch.setattr(cloud, "serve", counted)

    def watch() -> None:
        while not stop.is_set():
            most[0] = max(most[0], len(server_threads(cloud)))
            time.sleep(0.002)

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        with ThreadPoolExecutor(64) as pool:
            answers = list(pool.map(lambda _: request(cloud, "GET", "/devices"), range(64)))
        assert [s for s, _ in answers] == [200] * 64
    finally:
        stop.set()
        watcher.join()
        cloud.close()
    assert both.is_set() and peak[0] == 2 and now[0] == 0
    assert most[0] == 2 and cloud.errors == []


def test_slow_request_heads_give_their_workers_to_a_waiting_request() -> None:
    """As many clients as workers send one byte of a request and then nothing: a whole
    request behind them is answered well within push's 10 s per answer (before, each
    held its worker until the 30 s idle timeout)."""
    cloud = MdashCloud([mdash_unit("m-1")], KEY, workers=WORKERS, idle_timeout=30.0)
    try:
        slow = [socket.create_connection(addr(cloud), timeout=30) for _ in range(WORKERS)]
        try:
            for s in slow:
                s.sendall(b"G")
            deadline = time.monotonic() + 10
            while busy(cloud) < WORKERS and time.monotonic() < deadline:
                time.sleep(0.01)
            assert busy(cloud) == WORKERS  # each slow one holds a worker
            start = time.monotonic()
            assert request(cloud, "GET", "/devices")[0] == 200
            assert time.monotonic() - start < 5
        finally:
            for s in slow:
                s.close()
    finally:
        cloud.close()
    assert cloud.errors == []


def test_a_body_nested_100000_deep_is_refused_at_once_and_the_cloud_serves_on() -> None:
    cloud = MdashCloud([mdash_unit("m-1")], KEY)
    try:
        body = b'{"a":' + b"[" * 100_000 + b"]" * 100_000 + b"}"
        start = time.monotonic()
        status, answer = request(cloud, "POST", "/devices/m-1/rpc/FS.List", body)
        assert time.monotonic() - start < 10  # refused unparsed: no deep recursion
        assert status == 400, answer
        error = json.loads(answer)["error"]
        assert error == {
            "code": 400,
            "message": f"request body nests deeper than {MAX_JSON_DEPTH - 1} levels",
        }
        assert cloud.units["m-1"].calls == []
        assert request(cloud, "GET", "/devices")[0] == 200
    finally:
        cloud.close()
    assert cloud.errors == []


def test_a_bad_body_is_bad_json_whatever_its_words() -> None:
    """Only a body refused for its nesting is answered so: one with a number too long
    under a key "nests deeper" is "bad JSON", not its parser's message."""
    cloud = MdashCloud([mdash_unit("m-1")], KEY)
    try:
        body = b'{"nests deeper": 1' + b"1" * 5000 + b"}"
        status, answer = request(cloud, "POST", "/devices/m-1/rpc/FS.List", body)
        assert status == 400, answer
        assert json.loads(answer)["error"] == {"code": 400, "message": "bad JSON"}
        assert cloud.units["m-1"].calls == []
    finally:
        cloud.close()
    assert cloud.errors == []


def test_a_body_as_deep_as_the_unit_reads_reaches_it() -> None:
    """The frame wraps params one level deeper: the deepest body let through is one
    the unit takes (it answers; no handler failure)."""
    cloud = MdashCloud([mdash_unit("m-1")], KEY)
    try:
        deep = MAX_JSON_DEPTH - 2  # brackets inside the params object
        body = b'{"a":' + b"[" * deep + b"]" * deep + b"}"
        status, _ = request(cloud, "POST", "/devices/m-1/rpc/Sys.GetInfo", body)
        assert status == 200
        assert len(cloud.units["m-1"].calls) == 1
        too_deep = b'{"a":' + b"[" * (deep + 1) + b"]" * (deep + 1) + b"}"
        assert request(cloud, "POST", "/devices/m-1/rpc/Sys.GetInfo", too_deep)[0] == 400
    finally:
        cloud.close()
    assert cloud.errors == []


def raw_get(s: socket.socket) -> bytes:
    """One GET /devices on ``s`` kept alive, and its whole answer."""
    s.sendall(
        f"GET /api/v2/devices HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {KEY}\r\n\r\n".encode()
    )
    answer = b""
    while b"\r\n\r\n" not in answer or len(answer.split(b"\r\n\r\n", 1)[1]) < int(
        answer.split(b"Content-Length: ", 1)[1].split(b"\r\n", 1)[0]
    ):
        part = s.recv(65536)
        if not part:
            break
        answer += part
    return answer


def test_an_idle_keep_alive_connection_gives_its_worker_to_one_waiting() -> None:
    """One worker, held by a keep-alive connection idle after its answer: a second
    client is answered long before the 30 s idle timeout would let the worker go."""
    cloud = MdashCloud([mdash_unit("m-1")], KEY, workers=1, idle_timeout=30.0)
    try:
        with socket.create_connection(addr(cloud), timeout=5) as held:
            assert raw_get(held).startswith(b"HTTP/1.1 200 ")
            start = time.monotonic()
            assert request(cloud, "GET", "/devices")[0] == 200
            assert time.monotonic() - start < 10
    finally:
        cloud.close()
    assert cloud.errors == []


def test_an_idle_keep_alive_connection_is_kept_while_none_waits() -> None:
    cloud = MdashCloud([mdash_unit("m-1")], KEY, workers=1, idle_timeout=30.0)
    try:
        with socket.create_connection(addr(cloud), timeout=5) as s:
            assert raw_get(s).startswith(b"HTTP/1.1 200 ")
            time.sleep(YIELD_AFTER * 2)  # nobody waiting: kept past it
            assert raw_get(s).startswith(b"HTTP/1.1 200 ")
    finally:
        cloud.close()
    assert cloud.errors == []


def test_a_kept_alive_connection_is_closed_after_its_answer_while_another_waits(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Keep-alive connections take turns: one worker serving a connection while a second
    waits answers it with ``Connection: close`` and closes it, then serves the second."""
    monkeypatch.setattr(rpc_http, "YIELD_AFTER", 30.0)  # its request may come late
    cloud = MdashCloud([mdash_unit("m-1")], KEY, workers=1, idle_timeout=30.0)
    try:
        with socket.create_connection(addr(cloud), timeout=10) as first:
            deadline = time.monotonic() + 10
            while busy(cloud) < 1 and time.monotonic() < deadline:
                time.sleep(0.01)
            with socket.create_connection(addr(cloud), timeout=10) as second:
                while cloud.open_connections < 2 and time.monotonic() < deadline:
                    time.sleep(0.01)
                assert cloud.open_connections == 2  # the second waits for the worker
                answer = raw_get(first)
                assert answer.startswith(b"HTTP/1.1 200 ")
                assert b"Connection: close" in answer.split(b"\r\n\r\n")[0].split(b"\r\n")
                assert first.recv(100) == b""  # closed: its turn is over
                assert raw_get(second).startswith(b"HTTP/1.1 200 ")
    finally:
        cloud.close()
    assert cloud.errors == []
