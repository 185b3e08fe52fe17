"""mDash's cloud on this machine: the part of its REST API ``push --mdash`` uses, in
front of virtual mDash units (:class:`~.rpc.MdashUnit`). ``esp-cabundle virtual-unit
--mdash`` serves one to rehearse a push on; the test suite's mDash stand-in is this.

What it follows (the same sources as the client, :mod:`esp_cabundle.push.mdash`):

- mDash's REST reference (mdash.net/docs/api/rest.md): every call carries the API key
  as ``Authorization: Bearer KEY`` or ``?access_token=KEY``, and is refused ``401``
  without it; under the prefix ``/api/v2``, ``GET /devices`` lists the account's
  devices and ``POST /devices/:id/rpc/:func`` calls a device's RPC function with the
  JSON body as its params.
- mongoose-os.com/docs/mdash/architecture.md ("the dashboard acts as a JSON-RPC /
  RESTful bridge"): the call reaches the device as a JSON-RPC frame over its WebSocket
  (cesanta/mDash ``src/mDash.c``: ``{"id", "method", "params"}``), and the device's
  answer comes back: its ``result`` as the body with ``200``; its ``error`` object
  (``{code, message}``) with a non-2xx status (``500``), as Mongoose OS's own REST
  channel answers one (``rpc-common`` ``src/mg_rpc_channel_http.c``).

Taken as the client takes them, where the reference does not spell them out: a device
object carries its ``id`` and a boolean ``online``; a device that does not answer is a
``504`` without an error object (mDash could not reach it); an unknown device ``404``;
a body that is not JSON, or JSON but no object (``[1]``, ``5``: no params a device's
handlers can read), ``400`` with an error object, the device not reached.

The simulator's own guards: the key is judged before any body is read (a request
without it: ``401``, its body unread and the connection closed); a body is read only by
its ``Content-Length`` (one sent chunked: ``411``, closed), and one nesting deeper
than the unit reads (:data:`~esp_cabundle.limits.MAX_JSON_DEPTH`, with the frame around
it) is refused ``400`` before it is parsed; at most :data:`MAX_CONNECTIONS` connections
at once (one more is reset when accepted), served by :data:`WORKERS` threads (the others
wait their turn: while others wait, a keep-alive one is closed after its answer, and
one whose request line and headers are not whole :data:`~.rpc_http.YIELD_AFTER` after
its worker began waiting for them is closed unanswered, so a client sending a byte at a
time holds no worker), each closed after :data:`IDLE_TIMEOUT` without a whole request.

Not faithful: one key for the whole account (mDash also has per-device tokens); no
other endpoint (the dashboard's, OTA, the shadow's updates); the ``shadow`` listed is
empty. For the test suite: ``fail_next`` queues statuses answered (with no error
object) before anything else, as a failing cloud would.
"""

from __future__ import annotations

import hmac
import json
import logging
import threading
import time
from collections.abc import Iterable
from urllib.parse import parse_qs, unquote, urlsplit

from ..errors import InputError
from ..limits import MAX_JSON_DEPTH, JsonTooDeep, loads_json
from .link import listen_error
from .rpc import CALL_LOG_SIZE, MAX_FRAME_BYTES, SimUnit
from .rpc_http import JsonHandler, PoolHandler, PoolServer
from .rpc_links import url_host

__all__ = ["API_PREFIX", "MdashCloud"]

API_PREFIX = "/api/v2"  # the REST reference's https://mdash.net/api/v2
_MAX_ERRORS = 20  # handler failures recorded (more are counted)
# Connections open at once (one more is reset when accepted): push's most --concurrency
# (256) and its device listing, with a few to spare; mDash's cloud has no such limit.
# Those waiting for a worker hold a socket each, no thread.
MAX_CONNECTIONS = 264
# Threads serving them, whatever comes: a rehearsal's units answer from memory, so a few
# keep up with push (its keep-alive connections take turns), and a flood costs no more.
WORKERS = 8
IDLE_TIMEOUT = 60.0  # a connection without a whole request for this long is closed
_LOG = logging.getLogger(__name__)
_LOG.addHandler(logging.NullHandler())


class MdashCloud:
    """mDash's REST API on ``host:port`` (0: any free port) for ``units``, which only
    ``api_key`` opens. ``requests`` keeps the last :data:`~.rpc.CALL_LOG_SIZE` requests
    as ``(method, path, auth)``, auth ``"bearer"``, ``"access_token"`` or ``"none"``
    (a wrong key is none); ``refused`` counts those answered 401. At most
    ``max_connections`` connections at once, served by ``workers`` threads, each closed
    after ``idle_timeout`` seconds without a whole request (``dropped`` counts those
    reset at accept)."""

    def __init__(
        self,
        units: Iterable[SimUnit],
        api_key: str,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        relay_timeout: float = 2.0,
        max_connections: int = MAX_CONNECTIONS,
        idle_timeout: float = IDLE_TIMEOUT,
        workers: int = WORKERS,
    ) -> None:
        self.units = {u.unit_id: u for u in units}
        self.api_key = api_key
        self.fail_next: list[int] = []
        self.requests: list[tuple[str, str, str]] = []
        self.requests_total = 0
        self.refused = 0
        self.errors: list[str] = []  # handler failures (the tests insist it stays empty)
        self.error_count = 0
        self.relay_timeout = relay_timeout
        self.max_connections = max_connections
        self.idle_timeout = idle_timeout
        self.open_connections = 0
        self.dropped = 0  # connections reset at accept: all slots taken
        self._locks = {u: threading.Lock() for u in self.units}  # one call at a time each
        self._log_lock = threading.Lock()
        self._ids = iter(range(1, 1 << 30))
        outer = self

        class Handler(PoolHandler):
            def do_GET(self) -> None:
                self.close_connection |= self.server.waiting()  # its turn is over
                outer.serve(self, "GET")

            def do_POST(self) -> None:
                self.close_connection |= self.server.waiting()
                outer.serve(self, "POST")

        try:
            self.server = PoolServer((host, port), Handler, self, workers)
        except OSError as e:
            raise listen_error(host, port, e) from None
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        """The base URL ``push --mdash`` takes."""
        host, port = self.server.server_address[:2]
        return f"http://{url_host(str(host))}:{port}{API_PREFIX}"

    def _auth(self, h: JsonHandler, query: dict[str, list[str]]) -> str | None:
        """How the request carried the key, None without it (constant-time compares).
        The scheme is matched in any case (RFC 7235 2.1: ``bearer KEY`` too)."""
        key = self.api_key.encode()
        scheme, _, token = h.headers.get("Authorization", "").strip(" \t").partition(" ")
        given = token.strip(" ").encode("utf-8", "replace")
        if scheme.lower() == "bearer" and hmac.compare_digest(given, key):
            return "bearer"
        token_q = query.get("access_token", [])
        if len(token_q) == 1 and hmac.compare_digest(token_q[0].encode("utf-8", "replace"), key):
            return "access_token"
        return None

    def admit(self) -> bool:
        """Take a connection slot; False (counted in ``dropped``) when all are taken."""
        with self._log_lock:
            if self.open_connections >= self.max_connections:
                self.dropped += 1
                return False
            self.open_connections += 1
            return True

    def release(self) -> None:
        with self._log_lock:
            self.open_connections -= 1

    def failed(self, e: BaseException) -> None:
        with self._log_lock:
            self.error_count += 1
            if len(self.errors) < _MAX_ERRORS:
                self.errors.append(f"{type(e).__name__}: {e}")
        _LOG.debug("mDash API handler failed", exc_info=e)

    def _log(self, verb: str, path: str, auth: str) -> None:
        with self._log_lock:
            self.requests_total += 1
            self.refused += auth == "none"
            self.requests.append((verb, path, auth))
            if len(self.requests) > CALL_LOG_SIZE:  # a cloud serving for days: bounded
                del self.requests[0]

    def serve(self, h: JsonHandler, verb: str) -> None:
        parts = urlsplit(h.path)
        auth = self._auth(h, parse_qs(parts.query))
        self._log(verb, parts.path, auth or "none")
        if auth is None:  # judged before any body is read: none is, the link then closed
            h.close_connection = h.close_connection or h.has_body()
            h.reply(401, b'{"error":{"code":401,"message":"unauthorized"}}')
            return
        body = h.body()  # a GET's too: left unread, it would be taken for the next request
        if body is None:
            return
        if self.fail_next:
            h.reply(self.fail_next.pop(0), b"<html>upstream error</html>")
            return
        path = parts.path.removeprefix(API_PREFIX)
        if verb == "GET" and path == "/devices":
            devices = [
                {"id": uid, "name": uid, "online": u.online, "shadow": {"state": {"reported": {}}}}
                for uid, u in self.units.items()
            ]
            h.reply(200, json.dumps(devices).encode())
            return
        segs = path.strip("/").split("/")
        if verb != "POST" or len(segs) != 4 or segs[0] != "devices" or segs[2] != "rpc":
            h.reply(404, b'{"error":{"code":404,"message":"not found"}}')
            return
        unit = self.units.get(unquote(segs[1]))
        if unit is None:
            h.reply(404, b'{"error":{"code":404,"message":"device not found"}}')
            return
        try:  # depth checked before parsing: the frame wraps params one level deeper
            params = loads_json(
                body or b"{}",
                what="request body",
                path=None,
                cap=MAX_FRAME_BYTES,
                max_depth=MAX_JSON_DEPTH - 1,
            )
        except InputError as e:
            message = e.message if isinstance(e, JsonTooDeep) else "bad JSON"
            h.reply(400, json.dumps({"error": {"code": 400, "message": message}}).encode())
            return
        if not isinstance(params, dict):  # [1], 5, "x", null: no params object
            h.reply(400, b'{"error":{"code":400,"message":"params must be a JSON object"}}')
            return
        frame = json.dumps({"id": next(self._ids), "method": unquote(segs[3]), "params": params})
        with self._locks[unit.unit_id]:
            answer = unit.handle(frame.encode())
        if answer is None:
            time.sleep(min(self.relay_timeout, 0.2))
            h.reply(504, b'{"message":"device did not answer"}')
            return
        try:
            parsed = json.loads(answer)
        except (ValueError, RecursionError):
            h.reply(200, answer)  # relayed as received
            return
        if "error" in parsed:
            h.reply(500, json.dumps(parsed["error"]).encode())
        else:
            h.reply(200, json.dumps(parsed.get("result")).encode())

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
