"""The virtual mDash cloud serves every connection from a fixed pool of threads: a flood
of connections waits its turn (a socket each, no thread) and the API still answers; a
request body nested too deep is refused before it is parsed."""

from __future__ import annotations

import http.client
import json
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from support.fleet import mdash_unit

from esp_cabundle.limits import MAX_JSON_DEPTH
from esp_cabundle.virtual.mdash_cloud import WORKERS, MdashCloud

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


def server_threads() -> int:
    """Threads serving connections: the pool's, or socketserver's one per connection."""
    return sum(
        t.name.startswith("pool-") or "process_request_thread" in t.name
        for t in threading.enumerate()
    )


def test_the_pool_is_small_and_explicit() -> None:
    assert 1 <= WORKERS <= 16


def test_a_flood_of_idle_connections_never_raises_the_threads_past_the_pool() -> None:
    """200 connections that send nothing: the cloud's threads stay at its 4 workers (a
    thread per connection before), and once they go a real request is answered."""
    cloud = MdashCloud([mdash_unit("m-1")], KEY, workers=4, idle_timeout=5.0)
    try:
        flood = [socket.create_connection(addr(cloud), timeout=5) for _ in range(200)]
        try:
            deadline = time.monotonic() + 5
            while cloud.open_connections < 200 and time.monotonic() < deadline:
                assert server_threads() <= 4
                time.sleep(0.01)
            assert cloud.open_connections == 200 and cloud.dropped == 0
            assert server_threads() <= 4
        finally:
            for s in flood:
                s.close()
        start = time.monotonic()
        assert request(cloud, "GET", "/devices")[0] == 200
        assert time.monotonic() - start < 3  # the closed ones are let go at once
    finally:
        cloud.close()
    assert cloud.errors == []


def test_a_flood_of_requests_waits_its_turn_and_is_all_answered() -> None:
    """64 clients at once on 2 workers: every one answered 200, at most 2 threads; the
    keep-alive connections take turns (closed after an answer while others wait)."""
    cloud = MdashCloud([mdash_unit("m-1")], KEY, workers=2)
    peak, stop = [0], threading.Event()

    def watch() -> None:
        while not stop.is_set():
            peak[0] = max(peak[0], server_threads())
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
    assert 1 <= peak[0] <= 2 and cloud.errors == []


def test_a_body_nested_100000_deep_is_refused_at_once_and_the_cloud_serves_on() -> None:
    cloud = MdashCloud([mdash_unit("m-1")], KEY)
    try:
        body = b'{"a":' + b"[" * 100_000 + b"]" * 100_000 + b"}"
        start = time.monotonic()
        status, answer = request(cloud, "POST", "/devices/m-1/rpc/FS.List", body)
        assert time.monotonic() - start < 2
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
    client is answered within a second, not after the 30 s idle timeout."""
    cloud = MdashCloud([mdash_unit("m-1")], KEY, workers=1, idle_timeout=30.0)
    try:
        with socket.create_connection(addr(cloud), timeout=5) as held:
            assert raw_get(held).startswith(b"HTTP/1.1 200 ")
            start = time.monotonic()
            assert request(cloud, "GET", "/devices")[0] == 200
            assert time.monotonic() - start < 2
    finally:
        cloud.close()
    assert cloud.errors == []


def test_an_idle_keep_alive_connection_is_kept_while_none_waits() -> None:
    cloud = MdashCloud([mdash_unit("m-1")], KEY, workers=1, idle_timeout=30.0)
    try:
        with socket.create_connection(addr(cloud), timeout=5) as s:
            assert raw_get(s).startswith(b"HTTP/1.1 200 ")
            time.sleep(1.0)  # over YIELD_AFTER, nobody waiting
            assert raw_get(s).startswith(b"HTTP/1.1 200 ")
    finally:
        cloud.close()
    assert cloud.errors == []
