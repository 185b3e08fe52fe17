"""One virtual unit's ``/rpc`` over HTTP as a Mongoose OS unit serves it: mongoose
6.18's request parser (the version ``mongoose-os-libs/mongoose`` builds), rpc-common's
``mgos_rpc_http_handler`` and ``mg_rpc_channel_http``. :class:`~.rpc_links.LanUnitServer`
serves it; :class:`LoopbackServer` and :class:`JsonHandler` also serve mDash's REST API
(:mod:`.mdash_cloud`).

What the unit does with a request, and so what this does:

- A frame: the answer, ``200``, with rpc-common's headers (``Content-Type:
  application/json``, CORS), the frame and CRLF. ``Connection: keep-alive`` only to a
  request that asked for it (``is_keepalive``), ``close`` otherwise, and then closed.
- A frame rpc-common refuses (:class:`~.rpc.InvalidFrame`), an empty body among them
  (any method reaches the handler: a GET brings none): ``400 Bad Request``,
  ``text/plain`` body "Invalid request", ``Connection: close``, then closed
  (``mg_rpc_channel_http_ch_close``, ``mg_http_send_error``).
- A request line or headers mongoose cannot parse, or that reach
  :data:`MAX_HEAD_BYTES` unfinished: closed unanswered ("invalid request",
  ``MG_F_CLOSE_IMMEDIATELY``). So is a body over :data:`~.rpc.MAX_FRAME_BYTES` (the
  unit's RAM runs out first; mongoose then reads nothing more and drops the link), a
  POST without ``Content-Length`` (its body runs to the end of the connection, so no
  answer can follow; chunked bodies included) and a ``Content-Length`` that is no
  number.
- A connection beyond the unit's slots (``max_connections``) is reset when accepted.

Not faithful (the simulator's own guards): a request not whole within
``idle_timeout`` of its connection's last one is closed (a unit would wait until TCP
gives up); paths other than ``/rpc`` get ``mg_http_send_error``'s 404 (a unit serves
``/rpc/METHOD`` as a REST call, other paths from its file system); an answer frame it
did not ask for closes the connection (a unit sends nothing and keeps it).
"""

from __future__ import annotations

import contextlib
import http.server
import io
import queue
import select
import socket
import struct
import sys
import threading
import time
from collections.abc import Callable
from typing import Any, Protocol
from urllib.parse import urlsplit

from .rpc import MAX_FRAME_BYTES, InvalidFrame, SimUnit

__all__ = [
    "MAX_HEAD_BYTES",
    "SERVER_HEADER",
    "Gate",
    "JsonHandler",
    "Lan",
    "LoopbackServer",
    "PoolHandler",
    "PoolServer",
    "SlotServer",
    "UnitHttpServer",
    "reset_connection",
]

# mongoose-os-libs/mongoose mos.yml: MG_MAX_HTTP_REQUEST_SIZE. A request whose line and
# headers reach this size unfinished is "invalid request": closed unanswered.
MAX_HEAD_BYTES = 3072
SERVER_HEADER = "Mongoose/6.18"  # mg_send_response_line: "Server: %s", mg_version_header
# While connections wait for a pool's worker, one whose next request line and headers
# are not whole this long after its worker began waiting for them is closed unanswered.
YIELD_AFTER = 0.5
_POLL = 0.05  # how often a hurried read looks whether others still wait


class Gate(Protocol):
    """What a :class:`SlotServer` needs of its owner: connection slots, failures, and
    how long a connection may go without a whole request."""

    idle_timeout: float

    def admit(self) -> bool: ...

    def release(self) -> None: ...

    def failed(self, e: BaseException) -> None: ...


class Lan(Gate, Protocol):
    """What the HTTP side needs of the server it belongs to (its slots, its counts)."""

    unit: SimUnit
    unit_lock: threading.Lock

    def refuse(self, reason: str) -> None: ...


class _DeadlineReader:
    """A connection's ``rfile`` whose reads all end by one deadline (:meth:`start`): each
    receive waits only what is left, so a client dripping a byte at a time cannot hold
    the connection past it (:class:`TimeoutError` then). :meth:`hurry` adds an earlier
    deadline that holds only while ``pressed()`` (others wait for the worker)."""

    def __init__(self, raw: Any, sock: socket.socket) -> None:
        self.raw, self.sock, self.deadline = raw, sock, time.monotonic()
        self.buf = bytearray()  # received, not yet read: select() cannot see it in raw
        self.hurry_by: float | None = None
        self.pressed: Callable[[], bool] = bool

    def start(self, seconds: float) -> None:
        self.deadline = time.monotonic() + seconds

    def hurry(self, seconds: float, pressed: Callable[[], bool]) -> None:
        """Until :meth:`calm`, give up ``seconds`` from now whenever ``pressed()``."""
        self.hurry_by, self.pressed = time.monotonic() + seconds, pressed

    def calm(self) -> None:
        self.hurry_by = None

    def _fill(self) -> bool:
        """One receive into :attr:`buf`; False at the connection's end."""
        while True:
            now = time.monotonic()
            left = self.deadline - now
            if left <= 0:
                raise TimeoutError("the request did not come in time")
            if self.hurry_by is None:
                break
            if now >= self.hurry_by and self.pressed():
                raise TimeoutError("the request was too slow while others waited")
            if select.select([self.sock], [], [], min(left, _POLL))[0]:
                break
        self.sock.settimeout(max(self.deadline - time.monotonic(), 0.001))
        data = self.sock.recv(1 << 16)
        self.buf += data
        return bool(data)

    def readline(self, limit: int = -1) -> bytes:
        while True:
            end = self.buf.find(b"\n", 0, None if limit < 0 else limit)
            if end >= 0:
                return self._take(end + 1)
            if 0 <= limit <= len(self.buf) or not self._fill():
                return self._take(len(self.buf) if limit < 0 else limit)

    def read(self, n: int) -> bytes:
        while len(self.buf) < n and self._fill():
            pass
        return self._take(n)

    def _take(self, n: int) -> bytes:
        out = bytes(self.buf[:n])
        del self.buf[:n]
        return out

    def close(self) -> None:
        self.raw.close()


class JsonHandler(http.server.BaseHTTPRequestHandler):
    """A request handler that logs nothing and answers JSON (mDash's API's), on a
    :class:`SlotServer`: a connection without a whole request for its ``idle_timeout``
    is closed; a body is read only when :meth:`body` is called (after the request is
    judged), and one it does not read closes the connection."""

    protocol_version = "HTTP/1.1"
    server: SlotServer

    def setup(self) -> None:
        super().setup()
        self.rfile = _DeadlineReader(self.rfile, self.connection)  # type: ignore[assignment]

    def handle_one_request(self) -> None:
        self.rfile.start(self.server.gate.idle_timeout)  # type: ignore[attr-defined]
        super().handle_one_request()  # a TimeoutError in it closes the connection

    def handle_expect_100(self) -> bool:
        return True  # "100 Continue" only from body(): no body is asked for unjudged

    def log_message(self, *args: Any) -> None:
        pass

    def reply(self, status: int, body: bytes) -> None:
        self.connection.settimeout(self.server.gate.idle_timeout)  # the answer's own time
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)

    def has_body(self) -> bool:
        """Whether the request declares a body (which must be read, or the connection
        closed, before another request can follow on it)."""
        length = self.headers.get("Content-Length", "0").strip(" \t")
        return "Transfer-Encoding" in self.headers or length.strip("0") != ""

    def body(self) -> bytes | None:
        """The request's body; None (the error sent, the connection closed) for one sent
        chunked or without a length (411: only a ``Content-Length`` is read), a length
        that is no number (400) or over :data:`MAX_FRAME_BYTES` (413)."""
        length = self.headers.get("Content-Length")
        if "Transfer-Encoding" in self.headers:
            self._refuse(411, b"length required")
            return None
        if length is None:
            return b""  # RFC 9112 6.3: a request with neither has no body
        digits = length.strip(" \t")
        if not (digits.isascii() and digits.isdigit()):  # not "+5", "1_0", "-1"
            self._refuse(400, b"bad Content-Length")
            return None
        if len(digits) > 9 or int(digits) > MAX_FRAME_BYTES:
            self._refuse(413, b"request too large")
            return None
        if self.headers.get("Expect", "").strip().lower() == "100-continue" and int(digits):
            self.send_response_only(100)
            self.end_headers()
        body = self.rfile.read(int(digits))
        if len(body) < int(digits):  # the client left mid-body
            self.close_connection = True
            return None
        return body

    def _refuse(self, status: int, message: bytes) -> None:
        self.close_connection = True
        self.reply(status, b'{"error":{"code":%d,"message":"%s"}}' % (status, message))


class LoopbackServer(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def reset_connection(sock: socket.socket) -> None:
    """Close ``sock`` with a reset, as lwIP aborts a connection it has no socket for."""
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    with contextlib.suppress(OSError):
        sock.close()


class SlotServer(LoopbackServer):
    """An HTTP server whose connections take ``gate``'s slots: one beyond them is reset
    when accepted; a request whose handling failed is recorded (``gate.failed``), not
    printed as a traceback."""

    def __init__(self, address: tuple[str, int], handler: Any, gate: Gate) -> None:
        self.gate = gate
        super().__init__(address, handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        if not self.gate.admit():
            reset_connection(request)
            return
        try:
            super().process_request(request, client_address)
        except BaseException:
            self.gate.release()
            raise

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        # ThreadingMixIn's, with the slot freed before the connection is shut down: a
        # client that sees the close may connect again at once (see PoolServer._work)
        try:
            self.finish_request(request, client_address)
        except Exception:
            self.handle_error(request, client_address)
        finally:
            self.gate.release()
            self.shutdown_request(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        e = sys.exc_info()[1]
        if e is not None:
            self.gate.failed(e)


class PoolServer(SlotServer):
    """A :class:`SlotServer` served by ``workers`` threads, however many connections
    come: an admitted connection waits its turn in a queue (a socket, no thread) and one
    beyond the slots is reset when accepted. A handler should close its connection after
    an answer while others wait (:meth:`waiting`), so keep-alive clients take turns."""

    # listen()'s backlog: socketserver's 5 overflows when push opens its connections
    # at once, and the kernel then retries each handshake seconds later
    request_queue_size = 256

    def __init__(self, address: tuple[str, int], handler: Any, gate: Gate, workers: int) -> None:
        self._queue: queue.SimpleQueue[tuple[Any, Any] | None] = queue.SimpleQueue()
        self._workers = [
            threading.Thread(target=self._work, daemon=True, name=f"pool-{i}")
            for i in range(workers)
        ]
        super().__init__(address, handler, gate)  # a failed bind closes: none started
        for t in self._workers:
            t.start()

    def waiting(self) -> bool:
        """Whether admitted connections wait for a worker."""
        return not self._queue.empty()

    def process_request(self, request: Any, client_address: Any) -> None:
        if not self.gate.admit():
            reset_connection(request)
            return
        self._queue.put((request, client_address))

    def _work(self) -> None:
        while (item := self._queue.get()) is not None:
            request, client_address = item
            try:
                self.finish_request(request, client_address)
            except Exception:
                self.handle_error(request, client_address)
            finally:
                # the slot first: a client that sees its connection closed may connect
                # again at once, and found the slot still taken (reset) on a busy machine
                self.gate.release()
                self.shutdown_request(request)

    def server_close(self) -> None:
        super().server_close()
        for t in self._workers:  # each ends after the connections queued before it
            if t.is_alive():
                self._queue.put(None)


class PoolHandler(JsonHandler):
    """A :class:`JsonHandler` on a :class:`PoolServer` that gives its worker up to a
    waiting connection: closed after an answer while others wait, and closed unanswered
    when its next request line and headers are not whole :data:`YIELD_AFTER` after its
    worker began waiting for them while others wait (a keep-alive connection idle
    between requests, or a client sending its request a byte at a time, would hold the
    worker until its idle timeout)."""

    server: PoolServer

    def handle_one_request(self) -> None:
        reader: _DeadlineReader = self.rfile  # type: ignore[assignment]
        reader.hurry(YIELD_AFTER, self.server.waiting)
        try:
            super().handle_one_request()  # a TimeoutError in it closes the connection
        finally:
            reader.calm()

    def parse_request(self) -> bool:
        parsed = super().parse_request()  # reads the headers
        self.rfile.calm()  # type: ignore[attr-defined]  # the head is whole: no hurry
        return parsed


class UnitHttpServer(SlotServer):
    """The HTTP side of a :class:`~.rpc_links.LanUnitServer`: connections counted against
    its slots."""

    def __init__(self, address: tuple[str, int], lan: Lan) -> None:
        self.lan = lan
        super().__init__(address, _UnitHttpHandler, lan)


class _UnitHttpHandler(http.server.BaseHTTPRequestHandler):
    """``/rpc`` as mongoose 6.18 parses a request and rpc-common answers it."""

    protocol_version = "HTTP/1.1"
    server: UnitHttpServer

    def setup(self) -> None:
        super().setup()
        self.connection.settimeout(self.server.lan.idle_timeout)

    def log_message(self, *args: Any) -> None:
        pass

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """mongoose answers no request it cannot parse: it closes the connection."""
        self.server.lan.refuse("unparsed request")
        self.close_connection = True

    def handle_expect_100(self) -> bool:
        return True  # mongoose sends no "100 Continue": the client waits, then sends

    def handle_one_request(self) -> None:
        self.close_connection = True  # unless a whole request asking to keep it comes
        try:
            self._one_request(time.monotonic() + self.server.lan.idle_timeout)
        except TimeoutError:  # silent, or too slow with its request
            self.server.lan.refuse("idle")
            self.close_connection = True
        except OSError:  # reset, broken pipe
            self.close_connection = True

    def _one_request(self, deadline: float) -> None:
        head = self._read_head(deadline)
        if head is None:
            return
        line, _, headers = head.lstrip().partition(b"\n")  # mongoose skips leading space
        self.raw_requestline = line + b"\n"
        stream, self.rfile = self.rfile, io.BytesIO(headers)
        try:
            parsed = self.parse_request()
        finally:
            self.rfile = stream
        if not parsed or self.request_version == "HTTP/0.9":  # no version: mongoose misreads
            if parsed:
                self.server.lan.refuse("unparsed request")
            self.close_connection = True
            return
        frame = self._read_body(deadline)
        if frame is None:
            self.close_connection = True
            return
        if urlsplit(self.path).path not in ("/rpc", "/rpc/"):
            self._error(404, b"Not Found")
            return
        try:
            with self.server.lan.unit_lock:
                answer = self.server.lan.unit.handle(frame)
        except InvalidFrame:
            self.server.lan.refuse("invalid frame")
            self._error(400, b"Invalid request")
            return
        if answer is None:  # offline, or nothing to answer: the connection just dies
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)
            return
        self._answer(answer)

    def _left(self, deadline: float) -> float:
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("the request did not come in time")
        self.connection.settimeout(left)
        return left

    def _read_head(self, deadline: float) -> bytes | None:
        """The request line and headers, up to the blank line; None when the client
        closed, or when :data:`MAX_HEAD_BYTES` came without their end (refused)."""
        head = b""
        while True:
            self._left(deadline)
            line = self.rfile.readline(MAX_HEAD_BYTES - len(head))
            if not line:
                return None  # closed (between requests, or mid-head: either way, gone)
            head += line
            if line in (b"\r\n", b"\n") and head != line:
                return head
            if len(head) >= MAX_HEAD_BYTES:
                self.server.lan.refuse("request head too large")
                return None

    def _read_body(self, deadline: float) -> bytes | None:
        """The body mongoose would hand to the handler; None for one it never would."""
        length = self.headers.get("Content-Length")
        if length is None:
            if self.command in ("POST", "PUT"):  # runs to the end of the connection
                self.server.lan.refuse("no length")
                return None
            return b""
        digits = length.strip(" \t")
        if not (digits.isascii() and digits.isdigit()):  # not "³", not "-1"
            self.server.lan.refuse("bad length")
            return None
        if len(digits) > 9 or int(digits) > MAX_FRAME_BYTES:
            self.server.lan.refuse("body too large")
            return None
        want, parts = int(digits), []
        while want:
            self._left(deadline)
            part = self.rfile.read1(min(want, 1 << 16))
            if not part:
                return None
            parts.append(part)
            want -= len(part)
        return b"".join(parts)

    def _answer(self, frame: bytes) -> None:
        """mg_rpc_channel_http_send_frame: its headers, the frame and CRLF; the connection
        kept only when the request asked (``is_keepalive``)."""
        keep = self.headers.get("Connection", "").strip().lower() == "keep-alive"
        body = frame + b"\r\n"
        self.send_response_only(200)
        self.send_header("Server", SERVER_HEADER)
        self.send_header("Content-Type", "application/json")
        self.send_header("Access-Control-Allow-Origin", "*")
        self.send_header("Access-Control-Allow-Headers", "*")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "keep-alive" if keep else "close")
        self.end_headers()
        self.wfile.write(body)
        self.wfile.flush()

    def _error(self, status: int, reason: bytes) -> None:
        """mg_http_send_error: the reason as plain text, then closed."""
        self.send_response_only(status)
        self.send_header("Server", SERVER_HEADER)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Connection", "close")
        self.send_header("Content-Length", str(len(reason)))
        self.end_headers()
        self.wfile.write(reason)
        self.wfile.flush()
