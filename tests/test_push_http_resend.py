"""A request on a kept-alive connection is sent again only when that cannot repeat it.

A server may take a request, act on it, then drop the connection unanswered: the client
sees the same RemoteDisconnected as on a connection the server closed while it was idle.
``HttpPool`` once sent every such request again on a new connection, so a unit behind
mDash's relay (or a keep-alive proxy before a Mongoose OS unit) could get an ``FS.Put``
with ``append`` twice (mDash ``src/mDash.c`` ``rpc_fs_put``: ``fopen(path, append ?
"ab" : "wb")``, the chunk written twice) or an ``FS.Rename`` twice (mDash's removes
``dst`` first: the new CA just renamed onto it, removed). Now a connection closed while
idle is found so before anything is sent on it, a request that only reads is sent again,
and any other is a link lost, which the campaign reads back at the next run.
"""

from __future__ import annotations

import http.client
import http.server
import json
import socket
import ssl
import struct
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from support.fleet import assert_updated, ca_bytes, mdash_unit, write_ca
from support.raw_http import read_request

from esp_cabundle.cli import cli
from esp_cabundle.errors import UnitUnreachable
from esp_cabundle.push.http import HttpPool, LanTransport
from esp_cabundle.push.ledger import Ledger

KEY = "resend-key-51c2"

# What the server does with one request: bytes answered (the connection kept), or None:
# the connection closed after the request was read, unanswered.
Behave = Callable[[int, int, bytes], bytes | None]


def _answer(body: bytes) -> bytes:
    """A kept-alive 200 carrying the RPC answer to the frame ``body``."""
    cid = json.loads(body)["id"] if body else 0
    frame = json.dumps({"id": cid, "result": True}).encode()
    head = f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {len(frame)}"
    return head.encode() + b"\r\n\r\n" + frame


class Peer:
    """A loopback HTTP server: ``behave(connection, request, body)`` says what it does
    with the request-th request on the connection-th connection; ``taken`` lists every
    request body it read, ``(connection, body)``. With ``close_after``, the first
    connection is closed after that many answers, once the test sets ``close_now`` (its
    answers read): by a TCP reset with ``reset``, else a FIN; ``idle_closed`` is set
    then."""

    def __init__(
        self,
        behave: Behave,
        *,
        close_after: int | None = None,
        reset: bool = False,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        self.behave = behave
        self.tls = tls
        self.close_after = close_after
        self.reset = reset
        self.taken: list[tuple[int, bytes]] = []
        self.close_now = threading.Event()
        self.idle_closed = threading.Event()
        self._srv = socket.create_server(("127.0.0.1", 0))
        self._conns = 0
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self) -> str:
        scheme = "https" if self.tls else "http"
        return f"{scheme}://localhost:{self._srv.getsockname()[1]}/rpc"

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self._srv.accept()
            except OSError:  # closed at the end of the test
                return
            self._conns += 1
            threading.Thread(target=self._serve, args=(conn, self._conns - 1), daemon=True).start()

    def _serve(self, conn: socket.socket, n: int) -> None:
        if self.tls is not None:
            try:
                conn = self.tls.wrap_socket(conn, server_side=True)
            except OSError:
                conn.close()
                return
        with conn:
            for i in range(1 << 20):
                if self.close_after is not None and n == 0 and i == self.close_after:
                    self.close_now.wait(10.0)
                    if self.reset:  # SO_LINGER 0: close() sends RST
                        conn.setsockopt(
                            socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
                        )
                    conn.close()  # idle: the client sent nothing since its answer
                    self.idle_closed.set()
                    return
                request = read_request(conn)
                if request is None:
                    return
                body = request[1]
                self.taken.append((n, body))
                out = self.behave(n, i, body)
                if out is None:
                    return  # read, acted on, closed unanswered
                conn.sendall(out)

    def close(self) -> None:
        self._srv.close()


@pytest.fixture(params=["http", "https"])
def peer(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[..., Peer]]:
    """``peer(behave, ...)`` starts a :class:`Peer`, over TLS in the ``https`` runs
    (its root in ``tmp_path/root.pem``, which :func:`_channel` trusts)."""
    from support.pki import issue

    made: list[Peer] = []
    tls: ssl.SSLContext | None = None
    if request.param == "https":
        root = issue("Resend Test Root", key_ids=True)  # key ids: Python 3.13's strict checks
        leaf = issue("localhost", issuer=root, ca=False, san="localhost", key_ids=True)
        (tmp_path / "root.pem").write_bytes(root.pem)
        (tmp_path / "leaf.pem").write_bytes(leaf.pem)
        (tmp_path / "leaf.key").write_bytes(leaf.key_pem())
        tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        tls.load_cert_chain(tmp_path / "leaf.pem", tmp_path / "leaf.key")

    def start(behave: Behave, **kw: Any) -> Peer:
        made.append(Peer(behave, tls=tls, **kw))
        return made[-1]

    yield start
    for p in made:
        p.close()


def _channel(url: str, tmp_path: Path) -> Any:
    """``push --rpc URL``'s channel to the unit at ``url`` (kept alive here; an https
    one verified with the peer's root)."""
    ca = str(tmp_path / "root.pem") if url.startswith("https:") else None
    return LanTransport([url], timeout=5.0, ca_file=ca).channel("u1", url)


def _methods(p: Peer) -> list[str]:
    return [json.loads(body)["method"] for _, body in p.taken]


def test_a_write_the_server_acted_on_then_dropped_unanswered_is_not_sent_again(
    peer: Callable[..., Peer],
    tmp_path: Path,
) -> None:
    """The second call, an FS.Put appending a chunk, is read and the connection then
    closed unanswered: a link lost, the chunk sent once (it was sent twice)."""
    p = peer(lambda n, i, body: None if (n, i) == (0, 1) else _answer(body))
    channel = _channel(p.url, tmp_path)
    put = {"filename": "ca.pem.new", "data": "QUJD", "append": True}
    assert channel.call("FS.Put", {**put, "append": False}, timeout=5.0) is True
    with pytest.raises(UnitUnreachable, match=r"link lost during FS.Put \(RemoteDisconnected\)"):
        channel.call("FS.Put", put, timeout=5.0)
    assert _methods(p) == ["FS.Put", "FS.Put"], p.taken
    channel.close()


@pytest.mark.parametrize("method", ["FS.Rename", "FS.Remove", "Sys.Reboot"])
def test_no_write_is_repeated_after_a_dropped_answer(
    peer: Callable[..., Peer], tmp_path: Path, method: str
) -> None:
    p = peer(lambda n, i, body: None if (n, i) == (0, 1) else _answer(body))
    channel = _channel(p.url, tmp_path)
    channel.call("Sys.GetInfo", {}, timeout=5.0)
    with pytest.raises(UnitUnreachable, match=f"link lost during {method}"):
        channel.call(method, {}, timeout=5.0)
    assert _methods(p) == ["Sys.GetInfo", method]
    channel.close()


def test_a_read_whose_answer_was_dropped_is_asked_again(
    peer: Callable[..., Peer], tmp_path: Path
) -> None:
    """FS.Get only reads: asked again on a new connection, answered there."""
    p = peer(lambda n, i, body: None if (n, i) == (0, 1) else _answer(body))
    channel = _channel(p.url, tmp_path)
    channel.call("Sys.GetInfo", {}, timeout=5.0)
    assert channel.call("FS.Get", {"filename": "ca.pem"}, timeout=5.0) is True
    assert [(n, json.loads(b)["method"]) for n, b in p.taken] == [
        (0, "Sys.GetInfo"),
        (0, "FS.Get"),
        (1, "FS.Get"),
    ]
    channel.close()


def test_a_connection_the_server_closed_while_idle_is_not_written_to(
    peer: Callable[..., Peer],
    tmp_path: Path,
) -> None:
    """The server closes the kept-alive connection after its first answer: the write
    that comes next goes over a new connection, once, and is answered. (Over https the
    write went onto the closed connection and failed, "TLS failed (SSLEOFError)".)"""
    p = peer(lambda n, i, body: _answer(body), close_after=1)
    channel = _channel(p.url, tmp_path)
    channel.call("Sys.GetInfo", {}, timeout=5.0)
    p.close_now.set()
    assert p.idle_closed.wait(5.0)
    assert channel.call("FS.Rename", {"src": "a", "dst": "b"}, timeout=5.0) is True
    assert [(n, json.loads(b)["method"]) for n, b in p.taken] == [
        (0, "Sys.GetInfo"),
        (1, "FS.Rename"),
    ]
    channel.close()


def test_a_write_that_failed_before_a_byte_went_out_is_sent_again(
    peer: Callable[..., Peer], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The race the idle check cannot see: the server resets the connection just after
    it was found open. The first send fails with nothing taken, so the server has none
    of the request: it is sent on a new connection, once."""
    from esp_cabundle.push.http_conn import DeadlineSocket

    monkeypatch.setattr(DeadlineSocket, "dropped", lambda self: False)
    p = peer(lambda n, i, body: _answer(body), close_after=1, reset=True)
    channel = _channel(p.url, tmp_path)
    channel.call("Sys.GetInfo", {}, timeout=5.0)
    p.close_now.set()
    assert p.idle_closed.wait(5.0)
    assert channel.call("FS.Rename", {"src": "a", "dst": "b"}, timeout=5.0) is True
    assert [(n, json.loads(b)["method"]) for n, b in p.taken] == [
        (0, "Sys.GetInfo"),
        (1, "FS.Rename"),
    ]
    channel.close()


def test_a_get_is_sent_again_a_post_is_not(peer: Callable[..., Peer], tmp_path: Path) -> None:
    """The pool itself: a GET dropped unanswered is asked again (mDash's device list);
    a POST is not, unless the caller says it only reads."""
    p = peer(lambda n, i, body: None if i == 1 else _answer(body))
    ca = str(tmp_path / "root.pem") if p.url.startswith("https:") else None
    pool = HttpPool(p.url, timeout=5.0, ca_file=ca)
    frame = b'{"id":1}'
    assert pool.request("GET", "", body=frame)[0] == 200
    assert pool.request("GET", "", body=frame)[0] == 200  # dropped, asked again
    with pytest.raises(http.client.RemoteDisconnected):
        pool.request("POST", "", body=frame)
    assert pool.request("POST", "", body=frame)[0] == 200  # on a new connection
    assert pool.request("POST", "", body=frame, idempotent=True)[0] == 200  # asked again
    assert [n for n, _ in p.taken] == [0, 0, 1, 1, 2, 2, 3]
    pool.close()


# --- push --mdash, a whole campaign -------------------------------------------------


class DroppingProxy:
    """mDash's API as reached through a keep-alive proxy that forwards every request
    to ``upstream``, but for the first one ``drop(path, body)`` picks: forwarded (the
    unit acts on it), then its connection closed unanswered."""

    def __init__(self, upstream: str, drop: Callable[[str, bytes], bool]) -> None:
        host, _, port = upstream.split("//")[1].split("/")[0].partition(":")
        self.dropped: list[str] = []
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _relay(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                up = http.client.HTTPConnection(host, int(port), timeout=10)
                headers = {k: v for k, v in self.headers.items() if k.lower() != "connection"}
                up.request(self.command, self.path, body=body, headers=headers)
                resp = up.getresponse()
                data = resp.read()
                up.close()
                if not outer.dropped and drop(self.path, body):
                    outer.dropped.append(self.path)
                    self.close_connection = True  # acted on upstream, never answered
                    return
                self.send_response(resp.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = _relay

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/api/v2"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _push(tmp: Path, url: str) -> tuple[int, str]:
    args = ["push", "--mdash", url, "--board", "mdash-arduino", "--bundle", str(tmp / "ca.pem")]
    args += ["--ledger", str(tmp / "c.db"), "--timeout", "5"]
    r = CliRunner().invoke(cli, args, env={"MDASH_API_KEY": KEY})
    if r.exception and not isinstance(r.exception, SystemExit):
        raise r.exception
    return r.exit_code, r.stdout + r.stderr


def _row(tmp: Path) -> Any:
    with Ledger(tmp / "c.db") as led:
        return {r.id: r for r in led.rows()}["m-1"]


@pytest.mark.parametrize(
    "method,appending",
    [("FS.Rename", False), ("FS.Put", True)],
    ids=["rename", "append"],
)
def test_a_push_whose_write_was_done_but_not_answered_does_it_once_then_finishes_next_run(
    stand_in: Any, tmp_path: Path, method: str, appending: bool
) -> None:
    """mDash relays the write to the unit, the answer is lost on the way back: the unit
    got it once (an FS.Rename sent again removed the CA just renamed, an append added
    its chunk twice), the run leaves the unit ``writing`` with the link lost, and the
    next run reads it back and finishes it."""
    unit = mdash_unit("m-1")
    cloud = stand_in([unit])
    write_ca(tmp_path)

    def drop(path: str, body: bytes) -> bool:
        return path.endswith(f"/rpc/{method}") and (
            not appending or json.loads(body).get("append") is True
        )

    proxy = DroppingProxy(cloud.url, drop)
    try:
        code, out = _push(tmp_path, proxy.url)
        assert proxy.dropped, out
        # FS.Rename once; FS.Put twice: the first chunk, then the appended one dropped
        assert [c.params.get("append") for c in unit.calls if c.method == method] == (
            [False, True] if appending else [None]
        ), out
        row = _row(tmp_path)
        assert code != 0 and row.state == "writing", out
        assert f"link lost during {method}" in (row.last_error or ""), row.last_error
        code, out = _push(tmp_path, proxy.url)
        assert code == 0 and _row(tmp_path).state == "verified", out
    finally:
        proxy.close()
    assert_updated(unit, ca_bytes())
