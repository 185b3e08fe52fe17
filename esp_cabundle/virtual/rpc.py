"""Virtual units in the field: the RPC file services of Mongoose OS and mDash on top
of the project's own LittleFS and SPIFFS images, held in memory, so every result can be
mounted and checked file by file. ``esp-cabundle virtual-unit --rpc`` serves one to
rehearse ``push`` on (:mod:`.rpc_links` carries the frames), ``--mdash`` mDash units
behind mDash's REST API (:mod:`.mdash_cloud`); the test suite pushes to fleets of them.

One simulator per frame shape, each faithful to the public source it names:

- :class:`MongooseUnit` (``args`` frames): ``mongoose-os-libs/rpc-service-fs``
  ``src/mgos_service_fs.c`` (FS.Get/Put/Rename/Remove/List/ListExt with their exact
  error codes and texts), ``rpc-common`` ``src/mg_rpc.c`` (answers ``{id, src, dst,
  result|error}``, 404 "No handler for ..."), ``src/mgos_rpc.c`` (Sys.GetInfo,
  Sys.Reboot, RPC.List). Renames are in place, no data copied: LittleFS
  ``lfs_rename`` replaces the target; SPIFFS (``vfs-fs-spiffs``) removes it first,
  then ``SPIFFS_rename`` rewrites the index header alone.
- :class:`MdashUnit` (``params`` frames): cesanta/mDash ``src/mDash.c`` 1.2.16 (paths
  joined to ``/spiffs``, FS.Get ``len`` default 512 and ``{filename, offset, left,
  data}``, FS.Put ``{filename, written}``, FS.Rename removes ``dst`` first, errors 500
  and -32601 "... not found"); ``has_rename=False`` stands for firmware without it.

Faults, per unit: ``delay`` (answers slowly), ``drop_after`` calls then silent for
``back_after`` seconds (drops mid-transfer, then returns), ``online_at`` (comes online
later), a small image (runs out of space), ``malformed`` (answers broken JSON),
``hostile`` (``"nested"``: answers nesting 100,000 brackets deep; ``"huge"``: a valid
answer of 3 MiB),
``silent`` (never answers), ``corrupt_writes`` (the first N puts store a flipped bit),
and ``Sys.Reboot`` (offline for ``reboot_time`` seconds, uptime restarts).

Faults are for the test suite; a unit started by ``virtual-unit`` has none.

A frame rpc-common refuses (``mg_rpc_parse_frame``, ``mg_rpc_handle_frame``: "INVALID
FRAME") raises :class:`InvalidFrame`, and each link does what its channel does with it
(:mod:`.rpc_links`); a frame without a method is an answer to a request of the unit's:
one without an id is invalid, any other is ignored (no answer). An mDash unit's frames
come whole from mDash's relay, which builds them; the same rules are applied.

Every call answered is counted; the call log keeps the last :data:`CALL_LOG_SIZE`
(``max_calls``), each with its parameters cut to a bounded size, so a unit serving for
days, or flooded, holds a bounded log.

Not faithful: no RAM limits (a frame is refused over :data:`MAX_FRAME_BYTES`, where the
firmware would run out of memory first; the tests check frame sizes from the recorded
calls), no file-system timing, one request at a time per unit, ``dst`` is not checked,
and the JSON is read strictly (UTF-8, at most 32 levels deep), where frozen's scanner
is laxer: parameters of the wrong type get a generic 400.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from esp_cabundle.errors import ImageError, InputError
from esp_cabundle.fs import FileSystemImage, open_image
from esp_cabundle.limits import loads_json

__all__ = [
    "CALL_LOG_SIZE",
    "MAX_FRAME_BYTES",
    "MDASH_ARDUINO_FRAMEWORK",
    "Call",
    "InvalidFrame",
    "MdashUnit",
    "MongooseUnit",
    "SimUnit",
]

# Twice push's largest --frame-size: a request beyond it is refused unread (a unit's RAM,
# about 150 KB free, would have run out long before).
MAX_FRAME_BYTES = 2 << 20
# Calls a unit's log keeps (the last ones; older ones are only counted): a push to one
# unit takes a few dozen.
CALL_LOG_SIZE = 1000
# A logged call's parameters: at most this many, strings and names up to this long.
_LOGGED_PARAMS = 16
_LOGGED_TEXT = 256
# The keys rpc-common's mg_rpc_parse_frame scans for; a frame with none is invalid.
_FRAME_KEYS = frozenset(
    ("v", "id", "src", "dst", "tag", "method", "args", "params", "auth", "result", "error")
)
_MDASH_RAM_FREE = 150_000  # what Sys.GetInfo reports; a larger FS.Get buffer is "OOM"
# The framework an Arduino build of the mDash library names after its release in
# Sys.GetInfo's fw_version. cesanta/mDash src/mDash.c (1.2.16) rpc_get_info formats it
# "%s-%s" from MDASH_VERSION and the framework mDashInit() was given (libmDash.a of
# 1.2.12-1.2.15 holds the same format string); src/mDash.h (1.2.12-1.2.16) passes
# MDASH_FRAMEWORK, "a-" STR(ARDUINO) "-" ARDUINO_BOARD under Arduino, "idf" otherwise.
# espressif/arduino-esp32 platform.txt compiles with -DARDUINO={runtime.ide.version}
# -DARDUINO_BOARD="{build.board}": 10819 from Arduino IDE 1.8.19 (mDash 5b1b436, "Make
# it work with Arduino 1.8.19"), ESP32_DEV for the ESP32 Dev Module (boards.txt
# esp32.build.board). So a unit reports e.g. "1.2.16-a-10819-ESP32_DEV".
MDASH_ARDUINO_FRAMEWORK = "a-10819-ESP32_DEV"


@dataclass
class Call:
    """One call answered, as the log keeps it: ``params`` cut by :func:`_logged`."""

    method: str
    params: dict[str, Any]
    size: int  # bytes of the request frame


class InvalidFrame(ValueError):
    """A frame rpc-common refuses ("INVALID FRAME", ``mg_rpc_ev_handler``): no JSON
    object, none of a frame's keys, an ``id`` neither number nor string, or an answer
    without an id. Over HTTP the unit answers 400 "Invalid request" and closes, over
    WebSocket it drops the connection, over MQTT it only logs it."""


def _logged(params: dict[str, Any]) -> dict[str, Any]:
    """``params`` as the call log keeps them: numbers, booleans and short strings as
    sent, a long string or a nested value by its size, at most :data:`_LOGGED_PARAMS`:
    a call costs the log a few KB at most, whatever the frame held."""
    out: dict[str, Any] = {}
    for n, (key, value) in enumerate(params.items()):
        if n == _LOGGED_PARAMS:
            out["..."] = f"<{len(params) - n} more>"
            break
        if isinstance(value, str) and len(value) > _LOGGED_TEXT:
            value = f"<{len(value)} characters>"
        elif isinstance(value, (dict, list)):
            value = f"<{'object' if isinstance(value, dict) else 'array'} of {len(value)}>"
        elif isinstance(value, int) and value.bit_length() > 64:
            value = f"<a number of {value.bit_length()} bits>"
        out[key[:_LOGGED_TEXT]] = value
    return out


class _Error(Exception):
    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass
class SimUnit:
    """Common state and faults; subclasses implement one firmware's handlers."""

    unit_id: str
    image: FileSystemImage
    fw_version: str = "1.0"
    delay: float = 0.0
    drop_after: int | None = None
    back_after: float = 3600.0
    online_at: float = 0.0  # time.monotonic() from which it answers
    malformed: bool = False
    hostile: str | None = None  # "nested" or "huge": answers meant to exhaust the caller
    silent: bool = False
    corrupt_writes: int = 0
    reboot_time: float = 1.0
    has_rename: bool = True
    # called as hook(method, params, "before"|"after") around each handled request
    hook: Callable[[str, dict[str, Any], str], None] | None = None
    calls: list[Call] = field(default_factory=list)  # the last max_calls answered
    max_calls: int = CALL_LOG_SIZE
    calls_dropped: int = 0  # answered, then let go from the log
    invalid_frames: int = 0  # refused as rpc-common's "INVALID FRAME"
    boots: int = 1
    _booted: float = field(default_factory=time.monotonic)
    _answered: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    shape = "args"

    def __post_init__(self) -> None:
        if self.max_calls < 0:
            raise ValueError(f"max_calls {self.max_calls}: not a number of calls")

    # -- state --------------------------------------------------------------------------

    @property
    def calls_total(self) -> int:
        """Every call answered, the log's and those it let go."""
        with self._lock:
            return len(self.calls) + self.calls_dropped

    @property
    def online(self) -> bool:
        return not self.silent and time.monotonic() >= self.online_at

    def files(self) -> dict[str, bytes]:
        """Every file of the image as it would be flashed, read back by mounting it anew."""
        with self._lock:
            data = self.image.to_bytes()
        img = open_image(data)
        return {f.path: img.read(f.path) for f in img.files()}

    def image_bytes(self) -> bytes:
        with self._lock:
            return self.image.to_bytes()

    def count(self, method: str, **match: Any) -> int:
        """Calls of ``method`` in the log whose parameters match (a snapshot: units keep
        answering while a test counts)."""
        with self._lock:
            calls = list(self.calls)
        return sum(
            1
            for c in calls
            if c.method == method and all(c.params.get(k) == v for k, v in match.items())
        )

    # -- one frame ----------------------------------------------------------------------

    def handle(self, frame: bytes) -> bytes | None:
        """The answer to one request frame, or None when the unit gives none (offline,
        or an answer frame it did not ask for). Raises :class:`InvalidFrame` for a frame
        rpc-common refuses."""
        if not self.online:
            return None
        if self.drop_after is not None and self._answered >= self.drop_after:
            self.online_at = time.monotonic() + self.back_after
            self.drop_after = None
            return None
        if self.delay:
            time.sleep(self.delay)
        try:
            req = self._request(frame)
        except InvalidFrame:
            with self._lock:
                self.invalid_frames += 1
            raise
        if req.get("method", "") == "":  # mg_rpc_handle_response: not asked for, ignored
            return None
        params = req.get(self.shape)
        if not isinstance(params, dict):
            params = req.get("params") if self.shape == "args" else None
        params = params if isinstance(params, dict) else {}
        m = req["method"]  # frozen's %T: a method that is no string reads as its JSON
        method = m if isinstance(m, str) else json.dumps(m, separators=(",", ":"))
        if self.hook is not None:
            self.hook(method, params, "before")
        with self._lock:
            self.calls.append(Call(method, _logged(params), len(frame)))
            if len(self.calls) > self.max_calls:
                gone = len(self.calls) - self.max_calls
                del self.calls[:gone]
                self.calls_dropped += gone
            self._answered += 1
            if self.malformed:
                return b'{"id":' + str(req.get("id")).encode() + b',"result":{"data":"Zm9v'
            if self.hostile == "nested":
                deep = 100_000
                head = self.envelope(req, {"result": None})
                return json.dumps(head).encode()[:-5] + b"[" * deep + b"]" * deep + b"}"
            if self.hostile == "huge":
                return json.dumps(
                    self.envelope(req, {"result": {"data": "A" * (3 << 20)}})
                ).encode()
            try:
                result: Any = self.dispatch(method, params)
                body: dict[str, Any] = {"result": result}
            except _Error as e:
                body = {"error": {"code": e.code, "message": e.message}}
            except (TypeError, ValueError, OverflowError):  # "offset": "x", "len": 1e999
                body = {"error": {"code": 400, "message": "invalid parameters"}}
            answer = self.envelope(req, body)
            if method == "Sys.Reboot":
                self.online_at = time.monotonic() + self.reboot_time
                self._booted = self.online_at
                self.boots += 1
        if self.hook is not None:
            self.hook(method, params, "after")
        return json.dumps(answer).encode()

    def _request(self, frame: bytes) -> dict[str, Any]:
        """The frame as rpc-common's ``mg_rpc_parse_frame`` and ``mg_rpc_handle_frame``
        accept it, or :class:`InvalidFrame`."""
        try:
            req = loads_json(frame, what="frame", path=None, cap=MAX_FRAME_BYTES)
        except InputError as e:
            raise InvalidFrame(e.reason) from None
        if not isinstance(req, dict) or not _FRAME_KEYS & req.keys():
            raise InvalidFrame("not a JSON object holding any of a frame's keys")
        rid = req.get("id")
        if "id" in req and (isinstance(rid, bool) or not isinstance(rid, (int, float, str))):
            raise InvalidFrame("an id that is neither a number nor a string")
        if req.get("method", "") == "" and rid in (None, ""):
            raise InvalidFrame("an answer frame without an id")  # "Response without an ID"
        return req

    def envelope(self, req: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
        return {"id": req.get("id"), **body}

    def dispatch(self, method: str, params: dict[str, Any]) -> Any:
        raise NotImplementedError

    # -- file helpers (the image's own API) ----------------------------------------------

    def _path(self, name: str) -> str:
        return "/" + name.lstrip("/")

    def _read(self, name: str) -> bytes | None:
        """The file's bytes, None when there is none; a name no file can have (``/``, a
        ``//`` or ``..`` part) is no file, as the firmware's ``fopen`` fails on it."""
        p = self._path(name)
        try:
            return self.image.read(p) if self.image.exists(p) else None
        except ImageError:
            return None

    def _write(self, name: str, data: bytes, *, append: bool) -> bool:
        """fopen "wb"/"ab" then fwrite: the truncation happens even when the write fails."""
        p = self._path(name)
        old = self._read(name) if append else b""
        if self.corrupt_writes > 0 and data:
            self.corrupt_writes -= 1
            data = bytes([data[0] ^ 0x01]) + data[1:]
        try:
            self.image.write(p, (old or b"") + data)
        except ImageError:
            if not append:
                with contextlib.suppress(ImageError):
                    self.image.write(p, b"")
            return False
        return True

    def _rename(self, src: str, dst: str) -> bool:
        """``rename(src, dst)`` as Mongoose OS's VFS runs it, in place (no data copied).
        ``vfs-fs-lfs`` ``src/mgos_vfs_lfs.c``: ``lfs_rename``, which replaces ``dst``.
        ``vfs-fs-spiffs`` ``src/mgos_vfs_fs_spiffs.c`` (``mgos_vfs_fs_spiffs_rename``):
        ``src == dst`` is a no-op; an existing ``dst`` is ``SPIFFS_remove``d ("at least
        we can do replace", even when ``src`` then turns out missing), then
        ``SPIFFS_rename``, which rewrites only the index header with the new name
        (pellepl/spiffs ``spiffs_hydrogen.c``; refuses a name in use)."""
        p, q = self._path(src), self._path(dst)
        spiffs = self.image.profile.fs_type == "spiffs"
        if spiffs and p == q:
            return True
        return self._rename_over(p, q, remove_dst=spiffs)

    def _rename_over(self, p: str, q: str, *, remove_dst: bool) -> bool:
        """``remove(q)`` first if ``remove_dst`` (its failure ignored), then the image's
        own rename; False if that fails."""
        with contextlib.suppress(ImageError):
            if remove_dst and self.image.exists(q):
                self.image.remove(q)
        try:
            self.image.rename(p, q)
        except ImageError:
            return False
        return True

    def _read_named(self, name: Any, unnamed: _Error, absent: _Error) -> bytes:
        """A named file's bytes as both firmwares check FS.Get and FS.Remove, each raising
        its own errors."""
        if not isinstance(name, str):
            raise unnamed
        data = self._read(name)
        if data is None:
            raise absent
        return data

    def _remove_named(self, name: Any, unnamed: _Error, absent: _Error) -> None:
        """FS.Remove as both firmwares check it, each raising its own errors."""
        self._read_named(name, unnamed, absent)
        self.image.remove(self._path(name))

    def _rename_named(
        self, p: dict[str, Any], unnamed: _Error, failed: Callable[[str, str], _Error]
    ) -> None:
        """FS.Rename as both firmwares check it; a failed rename raises ``failed(src, dst)``."""
        src, dst = p.get("src"), p.get("dst")
        if not isinstance(src, str) or not isinstance(dst, str):
            raise unnamed
        if not self._rename(src, dst):
            raise failed(src, dst)

    def _fs_space(self) -> dict[str, int]:  # Mongoose OS's only; here beside _uptime
        """``fs_size`` and ``fs_free`` as Mongoose OS reports them (``mgos_rpc.c``:
        ``mgos_get_fs_size()``, ``mgos_get_free_fs_size()``, the root file system's
        space). LittleFS: free counted in whole blocks (``lfs_fs_size``). SPIFFS:
        ``vfs-fs-spiffs`` ``src/mgos_vfs_fs_spiffs.c`` answers with ``SPIFFS_info``'s
        ``total`` (``get_space_total``) and ``total - used`` (``get_space_free``), in
        ``u32_t``: below zero (files in the spare blocks, as spiffsgen leaves them) it
        wraps, and ``%u`` prints it so (2**32 - 7,279 on spiffsgen's full 64 KiB)."""
        space = self.image.device_space()
        return {} if space is None else {"fs_size": space[0], "fs_free": space[1] % (1 << 32)}

    def _uptime(self) -> int:
        return int(time.monotonic() - self._booted)

    @staticmethod
    def _b64(value: Any) -> bytes:
        if not isinstance(value, str):
            raise _Error(400, "data is required")
        try:
            return base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            raise _Error(400, "bad base64") from None


@dataclass
class MongooseUnit(SimUnit):
    """A Mongoose OS unit (rpc-service-fs, rpc-common)."""

    shape = "args"
    fw_version: str = "2.20.0"  # the application's
    mg_version: str = "2.20.0"  # Mongoose OS's
    # Sys.GetInfo reports fs_size/fs_free as Mongoose OS does; False: as a firmware that
    # does not say (then only a refused write tells that the file did not fit).
    reports_space: bool = True

    def envelope(self, req: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {"id": req.get("id"), "src": self.unit_id}
        if req.get("src"):
            out["dst"] = req["src"]
        return {**out, **body}

    def methods(self) -> list[str]:
        m = ["FS.Get", "FS.Put", "FS.List", "FS.ListExt", "FS.Remove", "Sys.GetInfo"]
        m += ["Sys.Reboot", "RPC.List"] + (["FS.Rename"] if self.has_rename else [])
        return m

    def dispatch(self, method: str, p: dict[str, Any]) -> Any:
        if method not in self.methods():
            raise _Error(404, f"No handler for {method}")
        name = p.get("filename")
        if method == "FS.Get":
            if not isinstance(name, str):
                raise _Error(400, "filename is required")
            if int(p.get("offset", 0)) < 0:
                raise _Error(400, "illegal offset")
            data = self._read_named(
                name,
                _Error(400, "filename is required"),
                _Error(400, f'failed to open file "{name}"'),
            )
            offset = min(int(p.get("offset", 0)), len(data))
            n = int(p.get("len", -1))
            if n < 0 or offset + n > len(data):
                n = len(data) - offset
            chunk = data[offset : offset + n]
            return {"data": base64.b64encode(chunk).decode(), "left": len(data) - offset - n}
        if method == "FS.Put":
            if not isinstance(name, str):
                raise _Error(400, "filename is required")
            if not self._write(name, self._b64(p.get("data", "")), append=bool(p.get("append"))):
                raise _Error(500, "failed to write data")
            return None
        if method == "FS.Rename":
            failed = _Error(500, "rename failed")
            self._rename_named(p, _Error(400, "src and dst are required"), lambda s, d: failed)
            return None
        if method == "FS.Remove":
            self._remove_named(
                name, _Error(400, "filename is required"), _Error(500, "remove failed")
            )
            return None
        if method in ("FS.List", "FS.ListExt"):
            files = self.image.files()
            if method == "FS.List":
                return [f.path.lstrip("/") for f in files]
            return [{"name": f.path.lstrip("/"), "size": f.size} for f in files]
        if method == "Sys.GetInfo":
            return {
                "id": self.unit_id,
                "app": "demo",
                "fw_version": self.fw_version,
                "fw_id": "20240101-000000",
                "mg_version": self.mg_version,
                "arch": "esp32",
                "uptime": self._uptime(),
                **(self._fs_space() if self.reports_space else {}),
            }
        if method == "Sys.Reboot":
            return None
        return self.methods()  # RPC.List


@dataclass
class MdashUnit(SimUnit):
    """An mDash library unit (cesanta/mDash src/mDash.c): JSON-RPC ``params`` frames."""

    shape = "params"
    fw_version: str = f"1.2.14-{MDASH_ARDUINO_FRAMEWORK}"

    def methods(self) -> list[str]:
        m = ["RPC.List", "Sys.GetInfo", "Sys.Reboot", "Sys.Set", "FS.List", "FS.Remove"]
        m += ["FS.Get", "FS.Put", "FS.Mount", "FS.Format"]
        return m + (["FS.Rename"] if self.has_rename else [])

    def _rename(self, src: str, dst: str) -> bool:
        """mDash.c ``rpc_fs_rename``: ``remove(dst)`` then ``rename(src, dst)``, ESP-IDF's
        ``vfs_spiffs_rename``: ``SPIFFS_rename`` alone (so ``src == dst`` loses the file)."""
        return self._rename_over(self._path(src), self._path(dst), remove_dst=True)

    def dispatch(self, method: str, p: dict[str, Any]) -> Any:
        if method not in self.methods():
            raise _Error(-32601, f"{method} not found")
        name = p.get("filename")
        if method == "FS.Get":
            if not isinstance(name, str):
                raise _Error(500, "filename required")
            offset, n = int(p.get("offset", 0)), int(p.get("len", 512))
            if not 0 <= n <= _MDASH_RAM_FREE:
                raise _Error(500, "OOM")  # malloc(len) fails
            data = self._read_named(
                name, _Error(500, "filename required"), _Error(500, f"fopen(/spiffs/{name}): 2")
            )
            start = max(offset, 0)  # fseek to a negative offset fails: read from the start
            chunk = data[start : start + n]
            left = len(data) - (len(chunk) + offset)
            return {
                "filename": name,
                "offset": offset,
                "left": left,
                "data": base64.b64encode(chunk).decode(),
            }
        if method == "FS.Put":
            if not isinstance(name, str) or not isinstance(p.get("data"), str):
                raise _Error(500, "data and filename required")
            data = self._b64(p["data"])
            if not self._write(name, data, append=bool(p.get("append"))):
                raise _Error(500, f"fwrite(/spiffs/{name}) {len(data)}, errno 28")
            return {"filename": name, "written": len(data)}
        if method == "FS.Rename":
            self._rename_named(
                p,
                _Error(500, "src and dst missing"),
                lambda src, _dst: _Error(500, f"rename(/spiffs/{src}, /spiffs/{src}) failed: 2"),
            )
            return True
        if method == "FS.Remove":
            self._remove_named(name, _Error(500, "filename required"), _Error(500, ""))
            return True
        if method == "FS.List":
            return [f.path.lstrip("/") for f in self.image.files()]
        if method == "Sys.GetInfo":
            return {
                "fw_version": self.fw_version,
                "arch": "esp32",
                "fw_id": "20210506-101010",
                "app": "mdash-demo",
                "uptime": self._uptime(),
                "ram_free": _MDASH_RAM_FREE,
                "reboot_reason": "power on",
                "id": "a1b2c3d4e5f60708",
                "public_key": "",
            }
        if method in ("Sys.Reboot", "FS.Mount", "FS.Format", "Sys.Set"):
            return True
        return self.methods()  # RPC.List
