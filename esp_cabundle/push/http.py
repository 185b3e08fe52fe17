"""HTTP plumbing for the REST (mDash) and LAN (Mongoose OS ``/rpc``) transports, and
the LAN transports themselves.

Mongoose OS serves RPC on its web server (``mongoose-os-libs/rpc-common``
``src/mgos_rpc.c``, ``mgos_rpc_http_handler`` on ``MGOS_RPC_HTTP_URI_PREFIX`` "/rpc"):
``POST /rpc`` with a whole frame as the body is answered with the whole answer frame;
a WebSocket upgrade of the same URI carries one frame per text message
(``mongoose-os-libs/rpc-ws``). ``rpc.max_frame_size`` defaults to 4096.

The WebSocket client is ``websockets`` (its synchronous client): a maintained,
typed, RFC 6455 implementation without a native build step; the standard library has
no WebSocket client, and writing frames by hand would be a second, untested copy.
"""

from __future__ import annotations

import contextlib
import http.client
import socket
import ssl
import threading
import time
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import SplitResult

from ..errors import InputError, UnitRpcError, UnitUnreachable
from ..limits import loads_json
from ..redact import MASK, remember_query_values
from ..spelling import PYTHON, Spelling, set_to
from .http_conn import Connection, DeadlineSocket, TlsConnection
from .rpc import (
    MAX_ANSWER_BYTES,
    READ_ONLY_METHODS,
    FrameShape,
    next_call_id,
    parse_answer,
    request_frame,
)
from .transport import Traffic, UnitRef
from .urls import (
    WrongScheme,
    bare_url,
    masked_values,
    refuse_url_secrets,
    split_url,
)

__all__ = ["MONGOOSE_FRAME_SIZE", "HttpPool", "LanTransport", "checked_rpc_urls", "tls_context"]

# rpc-common mos.yml: ["rpc.max_frame_size", "i", 4096]
MONGOOSE_FRAME_SIZE = 4096
# RFC 6455 7.4.1: the close code a WebSocket client sends for a message over its limit.
_MESSAGE_TOO_BIG = 1009
_SRC = "esp-cabundle"


def tls_context(ca_file: str | None = None, *, spelling: Spelling = PYTHON) -> ssl.SSLContext:
    """A verifying TLS context: ``ca_file`` when given, else the system's roots. A file
    OpenSSL finds no certificate in is the user's input error (exit 2), named, never a
    traceback from deep inside the first connection; ``spelling``: how the message names
    ``ca_file`` (see :mod:`~esp_cabundle.spelling`)."""
    try:
        return ssl.create_default_context(cafile=ca_file)
    except ssl.SSLError as e:
        reason = e.reason or str(e)
        raise InputError(
            f"{spelling.tls_ca}: OpenSSL reads no CA certificate from it ({reason})",
            path=ca_file,
            hint="give the PEM file of the CA that signed the broker's or server's certificate",
        ) from None


class HttpPool:
    """Keep-alive HTTP(S) connections to one origin, one per thread."""

    def __init__(
        self, base_url: str, *, timeout: float, ca_file: str | None = None, option: str = "URL"
    ) -> None:
        parts = split_url(base_url, option, example="https://host/api")
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise InputError(f"{base_url!r} is not an http:// or https:// URL")
        self.scheme = parts.scheme
        self.host = parts.hostname
        self.port = parts.port or (443 if parts.scheme == "https" else 80)
        self.base_path = parts.path.rstrip("/")
        # Carried on every request, never dropped unsaid: a unit's own path takes none
        # (Mongoose OS ignores it), but a gateway or proxy before it may (as ws:// URLs,
        # which websockets opens whole, always did). A secret in it was refused before.
        self.query = f"?{parts.query}" if parts.query else ""
        self.timeout = timeout
        self._ctx = tls_context(ca_file) if parts.scheme == "https" else None
        self._local = threading.local()

    @property
    def origin(self) -> str:
        return f"{self.scheme}://{self.host}:{self.port}"

    def _conn(self, deadline: float) -> http.client.HTTPConnection:
        """This thread's connection, its socket's reads and writes all ending by
        ``deadline`` (opened by http.client on its first send, after its headers passed)."""
        conn: Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            kind = TlsConnection if self._ctx is not None else Connection
            conn = kind(self.host, self.port, self._ctx)
            self._local.conn = conn
        conn.deadline = deadline
        if isinstance(conn.sock, DeadlineSocket):
            conn.sock.deadline = deadline
        return conn

    def _drop(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
        self._local.conn = None

    def request(
        self,
        method: str,
        path: str,
        *,
        body: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: float | None = None,
        max_bytes: int = MAX_ANSWER_BYTES,
        idempotent: bool = False,
    ) -> tuple[int, bytes]:
        """(status, body) of one request; OSError/HTTPException on a link failure,
        TimeoutError when the whole of it (connect, request, answer) took over ``timeout``.
        At most ``max_bytes`` + 1 bytes of the body are read (more: the caller refuses it).

        A keep-alive connection the server closed while idle is found closed before the
        request is sent, and a new one opened. A request that failed once it began to go
        out on a kept-alive connection is sent again once only when ``idempotent`` (a GET,
        or an RPC that only reads): the server may have acted on it, then dropped the
        connection unanswered (RFC 9110 9.2.2), and an ``FS.Put`` with ``append`` would
        add its chunk twice, an mDash ``FS.Rename`` remove the file just renamed. Any
        other such failure is raised, the link lost, for the caller to read back.
        """
        hdrs = {"Content-Type": "application/json", **(headers or {})}
        # One deadline for the whole call, the reopened connection's too: a socket's
        # timeout bounds one read, and a peer answering a byte at a time is never silent.
        deadline = time.monotonic() + (timeout or self.timeout)
        resend = idempotent or method in ("GET", "HEAD")
        for attempt in (1, 2):
            conn = self._conn(deadline)
            sock = conn.sock
            if isinstance(sock, DeadlineSocket) and sock.dropped():
                self._drop()  # nothing of this request sent: a new connection is safe
                conn, sock = self._conn(deadline), None
            reused = sock is not None
            if isinstance(sock, DeadlineSocket):
                sock.sent = 0
            try:
                target = (self.base_path + path or "/") + self.query
                conn.request(method, target, body=body, headers=hdrs)
                resp = conn.getresponse()
                data = resp.read(max_bytes + 1)
                if resp.will_close or len(data) > max_bytes:  # the rest is never read
                    self._drop()
                return resp.status, data
            except (
                http.client.RemoteDisconnected,
                BrokenPipeError,
                ConnectionResetError,
                ssl.SSLEOFError,  # TLS's word for a connection reset under it
            ):
                self._drop()
                # not a byte taken: the server cannot have read any of it
                unsent = isinstance(sock, DeadlineSocket) and sock.sent == 0
                if attempt == 2 or not reused or not (resend or unsent):
                    raise
            except ValueError:  # http.client refuses a header (its value is not shown)
                self._drop()
                raise InputError(
                    f"a request to {self.origin} could not be sent: a header or the path "
                    "holds characters HTTP cannot carry",
                    hint="check the API key (one line of visible ASCII) and the URL",
                ) from None
            except BaseException:
                self._drop()
                raise
        raise AssertionError("unreachable")  # pragma: no cover

    def close(self) -> None:
        self._drop()


def _os_reason(e: BaseException) -> str:
    """The system's words for a socket failure, else the exception's name."""
    return getattr(e, "strerror", None) or type(e).__name__


def link_error(unit: str, method: str, e: BaseException, timeout: float) -> UnitUnreachable:
    """The UnitUnreachable a socket-level failure stands for (never with credentials)."""
    if isinstance(e, (socket.timeout, TimeoutError)):
        text = f"no answer to {method} within {timeout:g} s"
    elif isinstance(e, ConnectionRefusedError):
        text = "connection refused"
    elif isinstance(e, ssl.SSLError):
        text = f"TLS failed ({e.reason or type(e).__name__})"
    elif isinstance(e, socket.gaierror):  # said "link lost during Sys.GetInfo (gaierror)"
        text = f"host not found ({e.strerror or 'its name does not resolve'})"
    else:
        text = f"link lost during {method} ({_os_reason(e)})"
    return UnitUnreachable(f"unit {unit}: {text}")


class _LanChannel:
    """What a unit's channel over HTTP and over WebSocket share: Mongoose OS's frame
    shape, the caller's id, and the transport that counts the traffic."""

    shape: FrameShape = "args"
    src: str | None = _SRC

    def __init__(self, transport: LanTransport, unit_id: str) -> None:
        self.unit_id = unit_id
        self._t = transport

    def _frame(self, method: str, params: Mapping[str, Any]) -> tuple[int, bytes]:
        """A new call id and the request frame that carries it."""
        cid = next_call_id()
        return cid, request_frame(cid, method, params, shape=self.shape, src=self.src)


class _HttpChannel(_LanChannel):
    def __init__(self, transport: LanTransport, url: str, unit_id: str) -> None:
        super().__init__(transport, unit_id)
        self._pool = HttpPool(
            url,
            timeout=transport.timeout,
            ca_file=transport.ca_file,
            option=transport.spelling.rpc_urls.removesuffix("="),
        )

    def call(self, method: str, params: Mapping[str, Any], *, timeout: float) -> Any:
        cid, frame = self._frame(method, params)
        try:
            status, body = self._pool.request(
                "POST", "", body=frame, timeout=timeout, idempotent=method in READ_ONLY_METHODS
            )
        except (OSError, http.client.HTTPException) as e:
            raise link_error(self.unit_id, method, e, timeout) from None
        self._t.traffic.add(len(frame), len(body))
        if status != 200:
            hint = "RPC authentication (rpc.auth_file) is not supported" if status == 401 else None
            raise UnitRpcError(f"unit {self.unit_id}: {method}: HTTP {status}", hint=hint)
        answered, result = parse_answer(body, unit=self.unit_id, method=method)
        if answered != cid:
            raise UnitRpcError(f"unit {self.unit_id}: answer to another request ({answered})")
        return result

    def close(self) -> None:
        self._pool.close()


class _WsChannel(_LanChannel):
    def __init__(self, transport: LanTransport, url: str, unit_id: str) -> None:
        super().__init__(transport, unit_id)
        self.url = url
        self._ws: Any = None
        self._stack = contextlib.ExitStack()

    def _socket(self, timeout: float) -> Any:
        if self._ws is None:
            from websockets.exceptions import InvalidHandshake, InvalidURI
            from websockets.sync.client import connect

            stack = contextlib.ExitStack()
            try:
                self._ws = stack.enter_context(
                    connect(
                        self.url,
                        open_timeout=timeout,
                        close_timeout=1,
                        max_size=MAX_ANSWER_BYTES,
                        compression=None,  # Mongoose OS does not negotiate permessage-deflate
                        proxy=None,  # units on the LAN: never through a proxy
                        ssl=self._t.tls if self.url.startswith("wss:") else None,
                    )
                )
                self._stack = stack
            except (OSError, InvalidHandshake, InvalidURI) as e:
                raise link_error(self.unit_id, "connect", e, timeout) from None
        return self._ws

    def call(self, method: str, params: Mapping[str, Any], *, timeout: float) -> Any:
        from websockets.exceptions import ConnectionClosed

        ws = self._socket(timeout)
        cid, frame = self._frame(method, params)
        deadline = time.monotonic() + timeout
        try:
            ws.send(frame.decode())
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError
                message = ws.recv(timeout=left)
                self._t.traffic.add(0, len(message))
                answered, result = parse_answer(message, unit=self.unit_id, method=method)
                if answered == cid:
                    self._t.traffic.add(len(frame), 0)
                    return result
        except (OSError, ConnectionClosed) as e:
            self.close()
            sent = getattr(e, "sent", None)
            if sent is not None and sent.code == _MESSAGE_TOO_BIG:  # max_size: we closed
                raise UnitRpcError(
                    f"unit {self.unit_id}: the answer to {method} is over the "
                    f"{MAX_ANSWER_BYTES}-byte limit for one answer frame"
                ) from None
            raise link_error(self.unit_id, method, e, timeout) from None

    def close(self) -> None:
        if self._ws is not None:
            with contextlib.suppress(Exception):  # closing a dead socket
                self._stack.close()
            self._ws = None


def checked_rpc_urls(urls: Sequence[str], spelling: Spelling = PYTHON) -> list[SplitResult]:
    """``urls`` split, each an http(s):// or ws(s):// URL with a host and no credentials;
    a CLI checks them before it judges the CA, as it does its other usage errors."""
    option = spelling.rpc_urls
    name = option.removesuffix("=")
    split = [
        split_url(
            u,
            option,
            example="http://192.168.1.20/rpc",
            which=f" (URL {i} of {len(urls)})" if len(urls) > 1 else "",
        )
        for i, u in enumerate(urls, 1)
    ]
    shown: dict[str, str] = {}  # as reported -> as given
    for u, parts in zip(urls, split, strict=True):
        # Before any message quotes the URL: its secret is remembered, then refused.
        refuse_url_secrets(parts, name, hint=_no_unit_login(spelling))
        remember_query_values(parts.query)  # nor any line that repeats the typed one
        said = bare_url(u)  # no message shows a query value
        if parts.scheme not in ("http", "https", "ws", "wss") or not parts.hostname:
            raise WrongScheme(
                f"{name} {said!r} is not an http://, https://, ws:// or wss:// URL",
                url=u,
                hint=f"e.g. {set_to(option, 'http://192.168.1.20/rpc')} or "
                f"{set_to(option, 'ws://192.168.1.20/rpc')}",
            )
        if parts.username or parts.password:
            raise InputError(
                f"{name} {parts.hostname}: credentials in URLs are not supported",
                hint=_no_unit_login(spelling),
            )
        # Checked here, not met as an offline unit: websockets refuses a fragment
        # (InvalidURI) and http.client a space or control character, on every call.
        if "#" in u:
            whole = parts._replace(fragment="").geturl()
            bare = bare_url(whole)
            raise InputError(
                f"{name} {bare}: a unit's URL has no fragment (#...)",
                # the query's values are never shown: masked, the line would be refused
                hint=f"give it without the # part: {set_to(option, bare)}"
                if bare == whole
                else "give it again without the # part (everything from #)",
            )
        if any(c.isspace() or not c.isprintable() for c in parts.path + parts.query):
            raise InputError(
                f"{name} {said!r}: the path holds a space or a control character",
                hint=f"e.g. {set_to(option, 'http://192.168.1.20/rpc')} (a space as %20)",
            )
        masked = masked_values(parts.query)
        if masked:  # copied from the ledger or a report: the unit would be sent the mask
            raise InputError(
                f"{name} {said}: its query holds {MASK}, the mark the ledger and reports "
                "show in place of each query value",
                hint=_query_hint(option),
            )
        if shown.setdefault(said, u) != u:
            raise InputError(
                f"{name} {said}: two URLs differ only in their query values, which the "
                "ledger and reports do not show: they could not tell the units apart",
                hint="give each unit's own address (its host, port or path)",
            )
    return split


def _query_hint(option: str) -> str:
    return (
        f"give the URL with its real values ({set_to(option, 'URL')}): the ledger keeps a "
        "unit's URL without its query values, so a unit reached with them needs its URL on "
        "the command line each run"
    )


def _no_unit_login(spelling: Spelling) -> str:
    """What a unit's URL with a login in it is told: no unit on the LAN is sent one."""
    return (
        "give the unit's URL without it: no login is sent to a unit on the LAN (Mongoose "
        "OS rpc.auth_file is not supported); a unit that needs one is reached through "
        f"mDash ({spelling.api_key}) or MQTT ({spelling.mqtt_password})"
    )


class LanTransport:
    """Mongoose OS units on a LAN, one ``--rpc`` URL each (``http://host/rpc`` or
    ``ws://host/rpc``; https/wss verified against the system roots or ``ca_file``).

    A unit is known by the device id its ``Sys.GetInfo`` reports (``device.id``), asked
    once per URL when listing; the URL is its address. So the same unit given over http
    and ws is one unit, and a unit whose address changed (DHCP) keeps its ledger row. A
    URL that does not answer is listed under the URL until it does."""

    frame_budget = MONGOOSE_FRAME_SIZE

    def __init__(
        self,
        urls: Sequence[str],
        *,
        timeout: float,
        frame_size: int | None = None,
        ca_file: str | None = None,
        concurrency: int = 8,
        spelling: Spelling = PYTHON,
    ) -> None:
        """``spelling``: how the errors name the URLs (see :mod:`~esp_cabundle.spelling`)."""
        split = checked_rpc_urls(urls, spelling)
        schemes = {parts.scheme for parts in split}
        self.name = "ws" if schemes <= {"ws", "wss"} else "http"
        # The scheme as urlsplit reads it (any case): WS:// is a WebSocket URL too.
        self._ws_urls = {u for u, p in zip(urls, split, strict=True) if p.scheme in ("ws", "wss")}
        self.urls = list(dict.fromkeys(urls))
        # A URL as the ledger keeps it and reports show it (no query values) -> as given:
        # the query values live in memory for this run only.
        self._given = {bare_url(u): u for u in self.urls}
        self.timeout = timeout
        self.frame_budget = frame_size or MONGOOSE_FRAME_SIZE
        self.ca_file = ca_file
        self.spelling = spelling
        self.tls = tls_context(ca_file) if schemes & {"https", "wss"} else None
        self.traffic = Traffic()
        self.concurrency = concurrency
        self._ids: dict[str, str] = {}  # URL -> the device id it reported
        self._address: dict[str, str] = {}  # device id -> the URL it is reached at
        self._notes: list[str] = []

    def units(self) -> list[UnitRef]:
        from concurrent.futures import ThreadPoolExecutor  # deferred: LAN listings only

        asking = [u for u in self.urls if u not in self._ids]
        if asking:
            with ThreadPoolExecutor(max(1, min(self.concurrency, len(asking)))) as pool:
                for url, uid in zip(asking, pool.map(self._device_id, asking), strict=True):
                    if uid is not None:
                        self._ids[url] = uid
        out: dict[str, UnitRef] = {}
        self._notes = []
        for given in self.urls:
            url = bare_url(given)
            uid = self._ids.get(given, url)
            if uid in out:
                first = out[uid].address
                self._notes.append(
                    f"{url} is unit {uid}, already listed at {first}: taken once, at {first}"
                )
                continue
            self._address[uid] = url
            out[uid] = UnitRef(uid, None, url, via="ws" if given in self._ws_urls else "http")
        return list(out.values())

    def notes(self) -> list[str]:
        return list(self._notes)

    def _device_id(self, url: str) -> str | None:
        """The id ``Sys.GetInfo`` reports at ``url``; None when it does not answer or
        reports none (the URL stands for it until then)."""
        channel = self._channel_at(bare_url(url), url)
        try:
            result = channel.call("Sys.GetInfo", {}, timeout=self.timeout)
        except (UnitUnreachable, UnitRpcError):
            return None
        finally:
            channel.close()
        uid = result.get("id") if isinstance(result, Mapping) else None
        if not isinstance(uid, str) or not uid.strip() or len(uid) > 128:
            return None
        if any(ord(c) < 0x20 or c == "\x7f" for c in uid):
            return None
        return uid.strip()

    def address_of(self, unit_id: str) -> str:
        return self._address.get(unit_id, unit_id)

    def channel(self, unit_id: str, address: str | None = None) -> _HttpChannel | _WsChannel:
        return self._channel_at(unit_id, address or self.address_of(unit_id))

    def _channel_at(self, unit_id: str, url: str) -> _HttpChannel | _WsChannel:
        """``url``: as given, or as shown (the listing's, the ledger's), then as given."""
        given = self._given.get(url)
        if given is None and masked_values(url.partition("?")[2]):  # not given this run
            raise UnitUnreachable(
                f"unit {unit_id}: the ledger keeps its URL without the query values "
                f"({url}); not given again this run",
                hint=_query_hint(self.spelling.rpc_urls),
            )
        url = given or url
        if url in self._ws_urls:
            return _WsChannel(self, url, unit_id)
        return _HttpChannel(self, url, unit_id)

    def close(self) -> None:
        pass


def json_body(data: bytes, *, cap: int = MAX_ANSWER_BYTES) -> Any:
    """Parsed JSON, or None when ``data`` is not JSON, is over ``cap`` bytes or nests
    too deep (:func:`~esp_cabundle.limits.loads_json`)."""
    try:
        return loads_json(data, what="HTTP body", path=None, cap=cap)
    except InputError:
        return None
