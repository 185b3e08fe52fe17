"""The virtual mDash cloud's guards against a client that misbehaves: connections
bounded and timed out, the key judged before any body is read, the Bearer scheme in any
case, params that are no JSON object refused before the device, and a chunked body
refused (411) rather than left on a keep-alive connection to be read as a request."""

from __future__ import annotations

import http.client
import json
import socket
import threading
import time
from collections.abc import Iterator

import pytest
from support.fleet import mdash_unit

from esp_cabundle.virtual.mdash_cloud import IDLE_TIMEOUT, MAX_CONNECTIONS, MdashCloud

KEY = "k3y-for-limits"


@pytest.fixture
def cloud() -> Iterator[MdashCloud]:
    c = MdashCloud([mdash_unit("m-1")], KEY, max_connections=3, idle_timeout=0.6)
    try:
        yield c
    finally:
        c.close()
    assert c.errors == []


def addr(c: MdashCloud) -> tuple[str, int]:
    host, port = c.server.server_address[:2]
    return str(host), int(port)


def connect(c: MdashCloud, timeout: float = 3.0) -> socket.socket:
    return socket.create_connection(addr(c), timeout=timeout)


def read_all(s: socket.socket) -> bytes:
    """Everything the server sends until it closes (a reset reads as the end)."""
    out = b""
    while True:
        try:
            part = s.recv(65536)
        except ConnectionResetError:
            return out
        if not part:
            return out
        out += part


def get(c: MdashCloud, path: str, headers: dict[str, str]) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection(*addr(c), timeout=5)
    try:
        conn.request("GET", f"/api/v2{path}", headers=headers)
        r = conn.getresponse()
        return r.status, r.read()
    finally:
        conn.close()


def test_the_defaults_are_the_documented_ones() -> None:
    """push's most --concurrency (256) and its listing fit; 60 s as for --rpc."""
    assert MAX_CONNECTIONS >= 257 and IDLE_TIMEOUT == 60.0


def test_connections_beyond_the_slots_are_reset_and_idle_ones_closed() -> None:
    """Idle connections held a thread each without end: one past the slots is reset at
    once (no thread), the idle ones are closed after idle_timeout, and a real request is
    then answered at once."""
    cloud = MdashCloud([mdash_unit("m-1")], KEY, max_connections=3, idle_timeout=2.0)
    try:
        threads = threading.active_count()
        idle = [connect(cloud, timeout=30) for _ in range(3)]  # their end: the server's
        try:
            for _ in range(10):
                try:
                    with connect(cloud) as s:
                        assert read_all(s) == b""  # reset when accepted
                except ConnectionResetError:
                    pass  # reset before connect() returned
            # reset at once: the idle ones still hold their slots, no thread started
            assert cloud.open_connections == 3
            assert cloud.dropped == 10 and threading.active_count() <= threads + 3
            for s in idle:
                assert read_all(s) == b""  # closed by the server, unanswered
            # the slots are free as soon as the server closed them (released first)
            assert get(cloud, "/devices", {"Authorization": f"Bearer {KEY}"})[0] == 200
        finally:
            for s in idle:
                s.close()
    finally:
        cloud.close()
    assert cloud.errors == []


def test_a_request_dripped_a_byte_at_a_time_is_closed_at_the_deadline(cloud: MdashCloud) -> None:
    """The timeout is for the whole request, not each byte: a client sending a byte
    every 0.2 s (under the 0.6 s timeout) is closed, unanswered, about 0.6 s on."""
    with connect(cloud) as s:
        start = time.monotonic()
        request = b"GET /api/v2/devices HTTP/1.1\r\nX-Slow: " + b"a" * 40
        closed = False
        for byte in request:
            try:
                s.sendall(bytes([byte]))
            except OSError:
                closed = True
                break
            time.sleep(0.2)
            if time.monotonic() - start > 3:
                break
        assert closed or read_all(s) == b""
        assert time.monotonic() - start < 3


def test_the_key_is_judged_before_the_body_is_read(cloud: MdashCloud) -> None:
    """A POST declaring 1 MiB with a wrong key: 401 at once, no "100 Continue", the body
    never read and the connection closed; the unit is not reached."""
    head = (
        "POST /api/v2/devices/m-1/rpc/FS.List HTTP/1.1\r\nHost: x\r\n"
        "Authorization: Bearer wrong\r\nContent-Length: 1048576\r\n"
        "Expect: 100-continue\r\n\r\n"
    )
    with connect(cloud) as s:
        s.sendall(head.encode())
        answer = read_all(s)
    assert answer.startswith(b"HTTP/1.1 401 "), answer
    assert b"100 Continue" not in answer and b"Connection: close" in answer
    assert json.loads(answer.split(b"\r\n\r\n", 1)[1])["error"]["code"] == 401
    assert cloud.units["m-1"].calls == [] and cloud.refused == 1


@pytest.mark.parametrize("header", ["bearer {k}", "BEARER {k}", "bEaReR  {k}", "Bearer {k} "])
def test_the_bearer_scheme_is_taken_in_any_case(cloud: MdashCloud, header: str) -> None:
    """RFC 7235 2.1: the auth-scheme is case-insensitive."""
    status, _ = get(cloud, "/devices", {"Authorization": header.format(k=KEY)})
    assert status == 200


@pytest.mark.parametrize("header", ["Basic {k}", "Bearer{k}", "{k}", "Bearer x{k}", "Token {k}"])
def test_other_schemes_and_shapes_are_refused(cloud: MdashCloud, header: str) -> None:
    status, answer = get(cloud, "/devices", {"Authorization": header.format(k=KEY)})
    assert status == 401 and json.loads(answer)["error"]["code"] == 401


@pytest.mark.parametrize("body", [b"[1]", b"5", b"null", b'"x"', b"true"])
def test_params_that_are_no_object_are_refused_before_the_unit(
    cloud: MdashCloud, body: bytes
) -> None:
    conn = http.client.HTTPConnection(*addr(cloud), timeout=5)
    try:
        headers = {"Authorization": f"Bearer {KEY}", "Content-Type": "application/json"}
        conn.request("POST", "/api/v2/devices/m-1/rpc/FS.List", body, headers)
        r = conn.getresponse()
        status, answer = r.status, r.read()
    finally:
        conn.close()
    assert status == 400, answer
    assert json.loads(answer)["error"] == {"code": 400, "message": "params must be a JSON object"}
    assert cloud.units["m-1"].calls == []


def test_a_chunked_body_is_refused_411_and_the_connection_closed(cloud: MdashCloud) -> None:
    """Its chunks are never read as a next request on the keep-alive connection."""
    request = (
        "POST /api/v2/devices/m-1/rpc/FS.List HTTP/1.1\r\nHost: x\r\n"
        f"Authorization: Bearer {KEY}\r\nTransfer-Encoding: chunked\r\n\r\n"
        "2\r\n{}\r\n0\r\n\r\n"
    )
    with connect(cloud) as s:
        s.sendall(request.encode())
        answer = read_all(s)
    assert answer.startswith(b"HTTP/1.1 411 "), answer
    assert answer.count(b"HTTP/1.1 ") == 1 and b"Connection: close" in answer
    assert cloud.units["m-1"].calls == []


@pytest.mark.parametrize("length", ["+2", "1_0", "-1", "2 2", "x"])
def test_a_length_that_is_no_number_is_refused_400(cloud: MdashCloud, length: str) -> None:
    request = (
        "POST /api/v2/devices/m-1/rpc/FS.List HTTP/1.1\r\nHost: x\r\n"
        f"Authorization: Bearer {KEY}\r\nContent-Length: {length}\r\n\r\n{{}}"
    )
    with connect(cloud) as s:
        s.sendall(request.encode())
        answer = read_all(s)
    assert answer.startswith(b"HTTP/1.1 400 "), answer
    assert answer.count(b"HTTP/1.1 ") == 1 and cloud.units["m-1"].calls == []


def test_a_get_body_is_read_not_taken_for_the_next_request(cloud: MdashCloud) -> None:
    """Two GETs on one keep-alive connection, the first with a body: both answered 200."""
    one = f"GET /api/v2/devices HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {KEY}\r\n"
    request = one + "Content-Length: 5\r\n\r\nhello" + one + "Connection: close\r\n\r\n"
    with connect(cloud) as s:
        s.sendall(request.encode())
        answer = read_all(s)
    assert answer.count(b"HTTP/1.1 200 ") == 2, answer
