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
``504`` without an error object (mDash could not reach it); an unknown device ``404``.

Not faithful: one key for the whole account (mDash also has per-device tokens); no
other endpoint (the dashboard's, OTA, the shadow's updates); the ``shadow`` listed is
empty. For the test suite: ``fail_next`` queues statuses answered (with no error
object) before anything else, as a failing cloud would.
"""

from __future__ import annotations

import hmac
import json
import logging
import sys
import threading
import time
from collections.abc import Iterable
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from .rpc import CALL_LOG_SIZE, SimUnit
from .rpc_http import JsonHandler, LoopbackServer
from .rpc_links import listen_error, url_host

__all__ = ["API_PREFIX", "MdashCloud"]

API_PREFIX = "/api/v2"  # the REST reference's https://mdash.net/api/v2
_MAX_ERRORS = 20  # handler failures recorded (more are counted)
_LOG = logging.getLogger(__name__)
_LOG.addHandler(logging.NullHandler())


class _Server(LoopbackServer):
    """The API's HTTP server: a request whose handling failed (a client gone before its
    answer) is recorded in the cloud's ``errors``, not printed as a traceback."""

    def __init__(self, address: tuple[str, int], handler: Any, cloud: MdashCloud) -> None:
        self.cloud = cloud
        super().__init__(address, handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        e = sys.exc_info()[1]
        if e is not None:
            self.cloud.failed(e)


class MdashCloud:
    """mDash's REST API on ``host:port`` (0: any free port) for ``units``, which only
    ``api_key`` opens. ``requests`` keeps the last :data:`~.rpc.CALL_LOG_SIZE` requests
    as ``(method, path, auth)``, auth ``"bearer"``, ``"access_token"`` or ``"none"``
    (a wrong key is none); ``refused`` counts those answered 401."""

    def __init__(
        self,
        units: Iterable[SimUnit],
        api_key: str,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        relay_timeout: float = 2.0,
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
        self._locks = {u: threading.Lock() for u in self.units}  # one call at a time each
        self._log_lock = threading.Lock()
        self._ids = iter(range(1, 1 << 30))
        outer = self

        class Handler(JsonHandler):
            def do_GET(self) -> None:
                outer.serve(self, "GET")

            def do_POST(self) -> None:
                outer.serve(self, "POST")

        try:
            self.server = _Server((host, port), Handler, self)
        except OSError as e:
            raise listen_error(host, port, e) from None
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        """The base URL ``push --mdash`` takes."""
        host, port = self.server.server_address[:2]
        return f"http://{url_host(str(host))}:{port}{API_PREFIX}"

    def _auth(self, h: JsonHandler, query: dict[str, list[str]]) -> str | None:
        """How the request carried the key, None without it (constant-time compares)."""
        key = self.api_key.encode()
        header = h.headers.get("Authorization", "").encode("utf-8", "replace")
        if hmac.compare_digest(header, b"Bearer " + key):
            return "bearer"
        token = query.get("access_token", [])
        if len(token) == 1 and hmac.compare_digest(token[0].encode("utf-8", "replace"), key):
            return "access_token"
        return None

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
        body = h.body() if verb == "POST" else b""
        if body is None:
            return
        auth = self._auth(h, parse_qs(parts.query))
        self._log(verb, parts.path, auth or "none")
        if auth is None:
            h.reply(401, b'{"error":{"code":401,"message":"unauthorized"}}')
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
        try:
            params = json.loads(body or b"{}")
        except (ValueError, RecursionError):
            h.reply(400, b'{"error":{"code":400,"message":"bad JSON"}}')
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
