"""mDash's REST API as a fleet link.

From mDash's REST reference (mdash.net/docs/api/rest.md): every call is authenticated
with ``Authorization: Bearer API_KEY`` (or ``?access_token=API_KEY``); with the prefix
``https://mdash.net/api/v2``, ``GET /devices`` returns every device and
``POST /devices/:id/rpc/:func`` calls a device's RPC function with the params as the
JSON body (mongoose-os.com/docs/mdash/architecture.md: "the dashboard acts as a
JSON-RPC / RESTful bridge"; the devices speak JSON-RPC over their WebSocket to
``wss://mdash.net/api/v2/rpc``, cesanta/mDash ``src/mDash.c`` ``s_mDashURL``).

Not spelled out by the reference, taken as follows (and so in the test stand-in):

- a device object carries its ``id`` and a boolean ``online`` (the dashboard shows
  online/offline state); without it the unit is simply asked;
- an RPC answer is the ``result`` as the body with status 200; an error answered by the
  device comes back with an ``{code, message}`` object (bare or under ``error``) and a
  non-2xx status, as Mongoose OS's own REST channel does
  (``rpc-common`` ``src/mg_rpc_channel_http.c``: 500, or 403/404 for those codes); a
  5xx without such an object means mDash could not reach the device.

The key is sent only in the header, never in a URL, so it cannot reach a log line.
"""

from __future__ import annotations

import difflib
import errno
import http.client
import ipaddress
import json
import socket
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from typing import Any
from urllib.parse import SplitResult, quote, urlsplit

from ..errors import AuthError, DeviceError, InputError, UnitRpcError, UnitUnreachable
from ..limits import human_size
from ..redact import remember, url_secrets
from ..spelling import PYTHON, Spelling
from ..text import plural, some
from .http import HttpPool, json_body, link_error
from .rpc import MAX_ANSWER_BYTES, READ_ONLY_METHODS, FrameShape, answer_error, load_answer
from .transport import LinkLost, Traffic, UnitRef
from .urls import split_url

__all__ = [
    "DEFAULT_MDASH_URL",
    "MDASH_FRAME_SIZE",
    "MdashTransport",
    "check_mdash_url",
    "key_in_clear",
]

DEFAULT_MDASH_URL = "https://mdash.net/api/v2"
# A device's frames travel over its WebSocket; keep them as small as Mongoose OS's.
MDASH_FRAME_SIZE = 4096
# GET /devices lists every device of the account (about 1 KiB each): room for ~30,000.
MAX_LISTING_BYTES = 32 << 20
# A call that cannot reach mDash itself: no unit's doing (mDash answers 504 for a unit it
# cannot reach), so the pass stops as for a lost MQTT broker, the units left uncharged.
_NO_ROUTE = frozenset({errno.ENETUNREACH, errno.EHOSTUNREACH, errno.ENETDOWN})


def _cloud_gone(e: BaseException) -> bool:
    """Whether ``e`` says mDash's API is not there (refused, no such host, no route),
    not that one call went unanswered (a timeout: the unit's relay may be slow)."""
    if isinstance(e, (ConnectionRefusedError, socket.gaierror)):
        return True
    return isinstance(e, OSError) and e.errno in _NO_ROUTE


def _not_listed(unknown: Sequence[str], listed: Sequence[str], spelling: Spelling) -> InputError:
    """Ids given that the account does not list: a usage error naming the devices it
    does list (and the closest id, for a typo), before any unit or ledger is touched."""
    if listed:
        has = f"the account lists {plural(len(listed), 'device')}: {some(listed)}"
    else:
        has = "the account lists no device at all (is it the account's key?)"
    near = [m for u in unknown[:5] for m in difflib.get_close_matches(u, listed, 1, 0.8)]
    if near:
        has += f"; did you mean {some(near)}?"
    return InputError(
        f"mDash lists no device {some(unknown)}: {has}",
        hint=f"check the ids given with {spelling.devices}; without them, "
        f"{spelling.list_units} lists every device of the account (its firmware and CA "
        "file; nothing written)",
    )


class _MdashChannel:
    shape: FrameShape = "params"
    src: str | None = None

    def __init__(self, transport: MdashTransport, unit_id: str) -> None:
        self.unit_id = unit_id
        self._t = transport

    def call(self, method: str, params: Mapping[str, Any], *, timeout: float) -> Any:
        body = json.dumps(dict(params), separators=(",", ":")).encode()
        path = f"/devices/{quote(self.unit_id, safe='')}/rpc/{quote(method, safe='.')}"
        try:
            status, data = self._t.request(
                "POST", path, body=body, timeout=timeout, idempotent=method in READ_ONLY_METHODS
            )
        except (OSError, http.client.HTTPException) as e:
            if _cloud_gone(e):
                why = link_error(self.unit_id, method, e, timeout).message
                why = why.removeprefix(f"unit {self.unit_id}: ")
                raise LinkLost(
                    f"unit {self.unit_id}: mDash's API at {self._t.origin} cannot be reached "
                    f"({why})",
                    link=f"mDash's API ({self._t.origin})",
                    at=datetime.now(timezone.utc),
                ) from None
            raise link_error(self.unit_id, method, e, timeout) from None
        self._t.traffic.add(len(body), len(data))
        if 200 <= status < 300:
            return load_answer(data, unit=self.unit_id, method=method) if data.strip() else None
        parsed = json_body(data)
        error = parsed.get("error", parsed) if isinstance(parsed, dict) else None
        has_code = isinstance(error, dict) and isinstance(error.get("code"), int)
        if status >= 500 and not has_code:
            raise UnitUnreachable(f"unit {self.unit_id}: mDash could not reach it (HTTP {status})")
        if has_code:
            raise answer_error(error, unit=self.unit_id, method=method)
        if status == 404:
            raise UnitRpcError(f"unit {self.unit_id}: mDash knows no such device (HTTP 404)")
        raise UnitRpcError(f"unit {self.unit_id}: {method}: HTTP {status}")

    def close(self) -> None:
        pass


def check_mdash_url(url: str, option: str, spelling: Spelling = PYTHON) -> SplitResult:
    """``url`` split as mDash's base URL: http(s) with a host, no key in it and no query
    or fragment (each call's path is added to it). A key (``user:KEY@``, ``KEY@``, or a
    query or fragment key naming a secret, as :func:`~esp_cabundle.redact.url_secrets`
    finds it) is refused, unshown: the process list would show it, and every report
    and ledger naming the URL keep it. The CLI's ``--mdash`` and the transport's
    ``base_url`` are checked here alike; ``option`` is how the messages name it."""
    parts = split_url(url, option, example=DEFAULT_MDASH_URL)
    # Before any message quotes the URL: its secrets are remembered, then refused.
    keyed = url_secrets(parts.query, parts.fragment)
    if parts.username is not None or parts.password is not None or keyed:
        # A name beside a password is a user name, masked nowhere (a common word such as
        # "user" would be masked in every message); alone before the @ it is the key.
        name = parts.username if parts.password is None else None
        for piece in (name, parts.password):
            if piece:
                remember(piece)
        raise InputError(
            f"{option}: a key in the URL (user:KEY@ or ?access_token=) is visible in the "
            "process list and would be kept wherever the URL is shown or recorded",
            hint=f"give the base URL alone, e.g. {DEFAULT_MDASH_URL}, and the key in "
            f"{spelling.api_key}",
        )
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InputError(f"{option} takes an http(s):// URL, not {url!r}")
    if parts.query or parts.fragment or "#" in url:
        raise InputError(f"{option} takes the API's base URL, without a query or fragment")
    return parts


def key_in_clear(base_url: str, spelling: Spelling = PYTHON) -> str | None:
    """The warning an http:// ``base_url`` earns: every request carries the API key in
    its Authorization header, readable by anyone on the path to a host that is not this
    machine (None: https://, or a loopback host, such as a local stand-in or tunnel)."""
    try:
        parts = urlsplit(base_url)
        host = parts.hostname or ""
    except ValueError:  # refused where it is checked; nothing to warn of here
        return None
    if parts.scheme.lower() != "http" or _loopback(host):
        return None
    return (
        f"{spelling.mdash_url} is plain http:// to {host}: the API key is sent unencrypted "
        "with every request, readable by anyone on the network path (give the https:// URL)"
    )


def _loopback(host: str) -> bool:
    if host == "localhost" or host.endswith(".localhost"):  # RFC 6761: always loopback
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:  # a name: it may resolve anywhere
        return False


class MdashTransport:
    """Devices of one mDash account, through its REST API."""

    name = "mdash"

    def __init__(
        self,
        api_key: str,
        *,
        base_url: str = DEFAULT_MDASH_URL,
        devices: Sequence[str] = (),
        timeout: float = 10.0,
        frame_size: int | None = None,
        ca_file: str | None = None,
        spelling: Spelling = PYTHON,
    ) -> None:
        """``spelling``: how the hints name the options (see :mod:`~esp_cabundle.spelling`)."""
        self._spelling = spelling
        if not api_key:
            raise InputError("the mDash API key is empty")
        if not all("!" <= c <= "~" for c in api_key):  # Authorization: Bearer KEY
            raise InputError(
                "the mDash API key holds characters an HTTP header cannot carry (it is not shown)",
                hint="one line of visible ASCII, as the Keys tab shows it",
            )
        check_mdash_url(base_url, "base_url", spelling)  # as the CLI checks --mdash
        self._key = api_key
        self.base_url = base_url
        self._pool = HttpPool(base_url, timeout=timeout, ca_file=ca_file, option="--mdash")
        self.only = list(dict.fromkeys(devices))
        self.frame_budget = frame_size or MDASH_FRAME_SIZE
        self.traffic = Traffic()
        self._listed = False  # mDash answered a listing: its loss since is an outage
        warning = key_in_clear(base_url, spelling)
        self._notes = [warning] if warning else []  # in the report, the JSON's notes too

    def request(
        self,
        method: str,
        path: str,
        *,
        body: bytes | None = None,
        timeout: float | None = None,
        max_bytes: int = MAX_ANSWER_BYTES,
        idempotent: bool = False,
    ) -> tuple[int, bytes]:
        """``idempotent``: see :meth:`~esp_cabundle.push.http.HttpPool.request`."""
        status, data = self._pool.request(
            method,
            path,
            body=body,
            headers={"Authorization": f"Bearer {self._key}"},
            timeout=timeout,
            max_bytes=max_bytes,
            idempotent=idempotent,
        )
        if status in (401, 403):
            raise AuthError(
                f"mDash ({self._pool.origin}) refused the API key (HTTP {status})",
                hint=f"check {self._spelling.api_key}: a master key from the Keys tab",
            )
        return status, data

    def units(self) -> list[UnitRef]:
        """The units to push to. mDash gone after a listing succeeded (a ``--watch``'s
        later pass): LinkLost, the pass skipped and no unit touched or called offline,
        as over a lost MQTT broker, and the watch tries again at its next pass."""
        try:
            status, data = self.request("GET", "/devices", max_bytes=MAX_LISTING_BYTES)
        except (OSError, http.client.HTTPException) as e:
            if isinstance(e, TimeoutError):  # socket.timeout too: connected, then silence
                why = f"no answer in {self._pool.timeout:g} s"
            else:
                why = getattr(e, "strerror", None) or type(e).__name__
            if self._listed and (_cloud_gone(e) or isinstance(e, TimeoutError)):
                raise LinkLost(
                    f"cannot reach mDash's API at {self._pool.origin}: {why}",
                    link=f"mDash's API ({self._pool.origin})",
                    at=datetime.now(timezone.utc),
                ) from None
            raise DeviceError(
                f"cannot reach mDash at {self._pool.origin}: {why}",
                hint=f"check {self._spelling.mdash_url} and the network",
            ) from None
        if len(data) > MAX_LISTING_BYTES:
            raise DeviceError(
                f"mDash GET /devices answered more than {human_size(MAX_LISTING_BYTES)}: "
                "refused unread",
                hint=f"name the units with {self._spelling.devices} instead of the whole account",
            )
        devices = json_body(data, cap=MAX_LISTING_BYTES)
        if status != 200 or not isinstance(devices, list):
            raise DeviceError(f"mDash GET /devices answered HTTP {status} without a device list")
        listed: dict[str, UnitRef] = {}
        for d in devices:
            if isinstance(d, Mapping) and isinstance(d.get("id"), str):
                online = d.get("online")
                listed[d["id"]] = UnitRef(d["id"], online if isinstance(online, bool) else None)
        if not self.only:
            self._listed = True
            return list(listed.values())
        unknown = [u for u in self.only if u not in listed]
        if unknown:
            raise _not_listed(unknown, list(listed), self._spelling)
        self._listed = True
        return [listed[u] for u in self.only]

    @property
    def origin(self) -> str:
        """The API's scheme, host and port, as messages name it (no key, no path)."""
        return self._pool.origin

    def channel(self, unit_id: str, address: str | None = None) -> _MdashChannel:
        return _MdashChannel(self, unit_id)

    def notes(self) -> list[str]:
        return list(self._notes)

    def close(self) -> None:
        self._pool.close()
