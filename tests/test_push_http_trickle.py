"""A unit's HTTP RPC and mDash's API end each call by one deadline: a peer that sends
its answer a byte at a time is never silent long enough for a socket's own timeout, so
without it a call with a 1 s timeout could last as long as the peer pleased."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable, Iterator

import pytest
from support.raw_http import read_request

from esp_cabundle.errors import UnitUnreachable
from esp_cabundle.push.http import HttpPool, LanTransport

Reply = Callable[[socket.socket, bytes], None]


def _answer(body: bytes, *extra: str) -> bytes:
    head = ["HTTP/1.1 200 OK", "Content-Type: application/json", f"Content-Length: {len(body)}"]
    return ("\r\n".join([*head, *extra]) + "\r\n\r\n").encode() + body


def _frame(body: bytes) -> bytes:
    """The RPC answer to the request frame ``body`` (its id, a device id)."""
    cid = json.loads(body)["id"]
    return json.dumps({"id": cid, "result": {"id": "esp32_trickle"}}).encode()


@pytest.fixture
def peer() -> Iterator[Callable[[Reply], str]]:
    """A loopback HTTP server answering each request with ``reply``; its URL."""
    stop = threading.Event()
    servers: list[socket.socket] = []

    def start(reply: Reply) -> str:
        srv = socket.create_server(("127.0.0.1", 0))
        servers.append(srv)

        def serve(conn: socket.socket) -> None:
            with conn:
                while not stop.is_set():
                    request = read_request(conn)
                    if request is None:
                        return
                    try:
                        reply(conn, request[1])
                    except OSError:  # the client gave up
                        return

        def accept() -> None:
            while True:
                try:
                    conn, _ = srv.accept()
                except OSError:  # closed at the end of the test
                    return
                threading.Thread(target=serve, args=(conn,), daemon=True).start()

        threading.Thread(target=accept, daemon=True).start()
        return f"http://127.0.0.1:{srv.getsockname()[1]}/rpc"

    yield start
    stop.set()
    for srv in servers:
        srv.close()


def trickling(*, body_only: bool) -> Reply:
    """A reply sent a byte every 50 ms (a 200-byte answer: 10 s), from its first byte or
    after its whole head."""

    def reply(conn: socket.socket, body: bytes) -> None:
        whole = _answer(_frame(body) + b" " * 120)
        fast = whole.index(b"\r\n\r\n") + 4 if body_only else 0
        conn.sendall(whole[:fast])
        for i in range(fast, len(whole)):  # until it is done or the client hangs up
            conn.sendall(whole[i : i + 1])
            time.sleep(0.05)

    return reply


@pytest.mark.parametrize("body_only", [False, True], ids=["head", "body"])
def test_an_answer_trickled_a_byte_at_a_time_ends_at_the_timeout(
    peer: Callable[[Reply], str], body_only: bool
) -> None:
    url = peer(trickling(body_only=body_only))
    t = LanTransport([url], timeout=1)
    channel = t.channel("esp32_trickle", url)
    began = time.monotonic()
    with pytest.raises(UnitUnreachable) as caught:
        channel.call("Sys.GetInfo", {}, timeout=1)
    took = time.monotonic() - began
    channel.close()
    assert str(caught.value) == "unit esp32_trickle: no answer to Sys.GetInfo within 1 s"
    assert took < 5, took  # the trickle lasts 10 s or more; a socket timeout never fired


def test_the_pool_itself_raises_timeout_error_past_its_deadline(
    peer: Callable[[Reply], str],
) -> None:
    """mDash's API goes through the same pool: its callers take TimeoutError as silence."""
    pool = HttpPool(peer(trickling(body_only=True)), timeout=1)
    began = time.monotonic()
    with pytest.raises(TimeoutError):
        pool.request("POST", "", body=b'{"id":1,"method":"Sys.GetInfo"}')
    assert time.monotonic() - began < 5
    pool.close()


def test_a_prompt_answer_still_works_and_keeps_its_connection(
    peer: Callable[[Reply], str],
) -> None:
    accepted: list[int] = []

    def reply(conn: socket.socket, body: bytes) -> None:
        accepted.append(conn.fileno())
        conn.sendall(_answer(_frame(body)))

    url = peer(reply)
    t = LanTransport([url], timeout=1)
    channel = t.channel("esp32_trickle", url)
    for _ in range(3):  # later than the first call's deadline: each call has its own
        assert channel.call("Sys.GetInfo", {}, timeout=1) == {"id": "esp32_trickle"}
        time.sleep(0.4)
    channel.close()
    assert len(set(accepted)) == 1  # one keep-alive connection


def test_an_answer_closing_its_connection_is_read_whole(peer: Callable[[Reply], str]) -> None:
    """http.client closes the connection before the body is read: the socket stays open
    for the response still reading it."""

    def reply(conn: socket.socket, body: bytes) -> None:
        conn.sendall(_answer(_frame(body) + b" " * 70000, "Connection: close"))
        conn.shutdown(socket.SHUT_WR)

    url = peer(reply)
    t = LanTransport([url], timeout=2)
    channel = t.channel("esp32_trickle", url)
    for _ in range(2):
        assert channel.call("Sys.GetInfo", {}, timeout=2) == {"id": "esp32_trickle"}
    channel.close()
