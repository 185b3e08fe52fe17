"""A unit's files over RPC: the adapter the campaign is written against.

Both firmware families take the same method and argument names, so one adapter serves
them (only the frame envelope differs, see :mod:`.rpc`):

- Mongoose OS, ``mongoose-os-libs/rpc-service-fs`` ``src/mgos_service_fs.c``:
  ``FS.Get {filename, offset, len}`` -> ``{data (base64), left}``;
  ``FS.Put {filename, offset, data (base64), append}`` (``fopen`` "wb" or "ab": a put
  without ``append`` truncates); ``FS.Rename {src, dst}`` (``rename()``: LittleFS
  replaces ``dst`` atomically; ``vfs-fs-spiffs`` removes ``dst`` first);
  ``FS.Remove {filename}``; a missing file answers 400 "failed to open file".
  ``Sys.GetInfo`` -> ``{id, app, fw_version, fw_id, uptime, ...}`` and
  ``Sys.Reboot {delay_ms}`` (``rpc-common`` ``src/mgos_rpc.c``).
- mDash 1.2.16 (cesanta/mDash ``src/mDash.c``): the same ``FS.Get`` (``len`` default
  512, answer ``{filename, offset, left, data}``), ``FS.Put {filename, data, append}``,
  ``FS.Rename {src, dst}`` (``remove(dst)`` then ``rename()``), ``FS.Remove``,
  ``FS.List``, ``Sys.GetInfo`` -> ``{fw_version, arch, fw_id, app, uptime, ...}``,
  ``Sys.Reboot``; every file name is joined to ``/spiffs`` (``"%s/%s"``), so names are
  given without a leading slash. A missing file answers 500 "fopen(...)". The
  1.2.13/1.2.14 binary libraries (``src/esp32/libmDash.a``, ``src/linux-x64/libmDash.a``)
  register the same handlers: their ``fsrename`` reads ``$.src``/``$.dst``, builds
  ``/spiffs/%s`` paths, calls ``remove(dst)`` then ``rename(src, dst)`` (objdump of the
  x86-64 build), and ``fsget``/``fsput`` read ``$.filename``, ``$.offset``, ``$.len``,
  ``$.append``.

Every transfer is cut into frames that fit the unit's budget (Mongoose OS
``rpc.max_frame_size`` 4096; over MQTT ``mqtt.recv_mbuf_limit`` 3072), base64 included.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..errors import UnitRpcError
from ..spelling import PYTHON, Spelling
from .rpc import RpcChannel, request_frame

__all__ = [
    "INFO_METHOD",
    "LEAST_FRAME_BUDGET",
    "MAX_FILE_BYTES",
    "UnitFiles",
    "UnitInfo",
    "device_name",
]

# What :meth:`UnitFiles.info` calls: a campaign's first call to each unit.
INFO_METHOD = "Sys.GetInfo"

# A CA file is a few KiB; refuse to read more than this from a unit (bounded memory).
MAX_FILE_BYTES = 1 << 20
_MIN_CHUNK = 48
# The least frame budget of all: the base64 of the smallest chunk, before any envelope
# (method, file name, the unit's id), which :meth:`UnitFiles.min_budget` adds per unit.
LEAST_FRAME_BUDGET = 4 * -(-_MIN_CHUNK // 3)
# Answer-frame bytes beside the data: {"id":..,"src":..,"dst":..,"result":{"filename":..,
# "offset":..,"left":..,"data":""}} with generous room for ids and numbers.
_ANSWER_OVERHEAD = 128


@dataclass(frozen=True, slots=True)
class UnitInfo:
    """What ``Sys.GetInfo`` says about a unit (fields it omits are None)."""

    fw_version: str | None
    device_id: str | None
    app: str | None
    uptime: int | None
    mg_version: str | None = None  # Mongoose OS: the OS release (fw_version is the app's)
    # Mongoose OS (rpc-common mgos_rpc.c): mgos_get_fs_size() and mgos_get_free_fs_size()
    # of the root file system, in bytes; mDash's Sys.GetInfo has neither.
    fs_size: int | None = None
    fs_free: int | None = None  # None too above fs_size: no count (a wrapped one)

    @classmethod
    def from_result(cls, result: Any) -> UnitInfo:
        r = result if isinstance(result, Mapping) else {}

        def text(key: str) -> str | None:
            v = r.get(key)
            return v[:120] if isinstance(v, str) else None

        def count(key: str) -> int | None:
            v = r.get(key)  # a bool is no count; a negative one is no size
            if isinstance(v, bool) or not isinstance(v, (int, float)):
                return None
            return int(v) if 0 <= v < 1 << 53 else None

        uptime = r.get("uptime")
        size, free = count("fs_size"), count("fs_free")
        if size is not None and free is not None and free > size:
            free = None  # SPIFFS past its spare blocks: vfs-fs-spiffs's u32 total - used wrapped
        return cls(
            text("fw_version"),
            text("id"),
            text("app"),
            int(uptime) if isinstance(uptime, (int, float)) else None,
            text("mg_version"),
            size,
            free,
        )


def device_name(path: str) -> str:
    """The file name the RPC services take for a board's CA path (no leading slash:
    mDash joins it to ``/spiffs/``, Mongoose OS resolves it from ``/``)."""
    return path.strip().lstrip("/")


class UnitFiles:
    """get / put / rename / remove / info on one unit, in frames within its budget."""

    def __init__(
        self,
        channel: RpcChannel,
        *,
        frame_budget: int,
        timeout: float,
        spelling: Spelling = PYTHON,
    ) -> None:
        """``spelling``: how the hints name the frame size (see :mod:`~esp_cabundle.spelling`)."""
        self.channel = channel
        self.spelling = spelling
        self.frame_budget = frame_budget
        self.timeout = timeout

    @property
    def unit_id(self) -> str:
        return self.channel.unit_id

    def call(self, method: str, params: Mapping[str, Any] | None = None) -> Any:
        return self.channel.call(method, params or {}, timeout=self.timeout)

    def info(self) -> UnitInfo:
        return UnitInfo.from_result(self.call(INFO_METHOD))

    # -- chunk sizes ----------------------------------------------------------------

    def put_chunk_size(self, name: str) -> int:
        """The most raw bytes one ``FS.Put`` frame carries for ``name``."""
        empty = request_frame(
            1 << 40,
            "FS.Put",
            {"filename": name, "data": "", "append": False},  # "false": the longer
            shape=self.channel.shape,
            src=self.channel.src,
        )
        return self._chunk(self.frame_budget - len(empty))

    def get_chunk_size(self, name: str) -> int:
        """The most raw bytes one ``FS.Get`` answer carries for ``name``."""
        fixed = _ANSWER_OVERHEAD + len(name) + 2 * len(self.unit_id) + len(self.channel.src or "")
        return self._chunk(self.frame_budget - fixed)

    def min_budget(self, name: str) -> int:
        """The smallest frame budget that carries a frame of file data both ways for
        ``name`` on this unit (what :meth:`put_chunk_size` and :meth:`get_chunk_size`
        need)."""
        empty = request_frame(
            1 << 40,
            "FS.Put",
            {"filename": name, "data": "", "append": False},
            shape=self.channel.shape,
            src=self.channel.src,
        )
        fixed = _ANSWER_OVERHEAD + len(name) + 2 * len(self.unit_id) + len(self.channel.src or "")
        return max(len(empty), fixed) + LEAST_FRAME_BUDGET

    def _chunk(self, room: int) -> int:
        n = (room // 4) * 3
        if n < _MIN_CHUNK:
            raise UnitRpcError(
                f"a frame budget of {self.frame_budget} bytes leaves no room for file data",
                hint=f"raise {self.spelling.frame_size} (Mongoose OS rpc.max_frame_size is 4096 by "
                "default)",
            )
        return n

    # -- files ----------------------------------------------------------------------

    def get(self, name: str) -> bytes | None:
        """The whole file, or None when the unit has no such file."""
        size = self.get_chunk_size(name)
        out = bytearray()
        while True:
            try:
                result = self.call("FS.Get", {"filename": name, "offset": len(out), "len": size})
            except UnitRpcError as e:
                if not out and _is_missing_file(e):
                    return None
                raise
            data, left = self._get_result(result, name)
            out += data
            if left <= 0:
                return bytes(out)
            if not data or len(out) + left > MAX_FILE_BYTES:
                raise UnitRpcError(
                    f"unit {self.unit_id}: reading {name} makes no progress or exceeds "
                    f"{MAX_FILE_BYTES} bytes ({len(out)} read, {left} left)"
                )

    def _get_result(self, result: Any, name: str) -> tuple[bytes, int]:
        if not isinstance(result, Mapping):
            raise UnitRpcError(f"unit {self.unit_id}: FS.Get {name}: the result is not an object")
        raw, left = result.get("data", ""), result.get("left", 0)
        if raw is None:
            raw = ""
        if not isinstance(raw, str) or not isinstance(left, int) or isinstance(left, bool):
            raise UnitRpcError(f"unit {self.unit_id}: FS.Get {name}: malformed data or left")
        try:
            return base64.b64decode(raw, validate=True), left
        except (binascii.Error, ValueError):
            raise UnitRpcError(f"unit {self.unit_id}: FS.Get {name}: data is not base64") from None

    def holds(self, name: str, data: bytes) -> bool:
        """Whether ``name`` is ``data`` whole (False when absent or unreadable)."""
        try:
            return self.get(name) == data
        except UnitRpcError:
            return False

    def ends_with(self, name: str, data: bytes) -> bool:
        """Whether ``name`` is exactly ``len(data)`` long and ends with ``data``'s last
        bytes: one small ``FS.Get`` (after a rename of a file already read back whole)."""
        tail = min(len(data), 48)
        try:
            result = self.call(
                "FS.Get", {"filename": name, "offset": len(data) - tail, "len": tail}
            )
        except UnitRpcError as e:
            if _is_missing_file(e):
                return False
            raise
        got, left = self._get_result(result, name)
        return left == 0 and got == data[len(data) - tail :]

    def put(self, name: str, data: bytes) -> int:
        """Write ``name`` whole: the first frame truncates, the next ones append.
        Returns the number of frames sent."""
        size = self.put_chunk_size(name)
        chunks = [data[i : i + size] for i in range(0, len(data), size)] or [b""]
        for n, chunk in enumerate(chunks):
            params = {"filename": name, "data": base64.b64encode(chunk).decode(), "append": n > 0}
            self.call("FS.Put", params)
        return len(chunks)

    def rename(self, src: str, dst: str) -> None:
        self.call("FS.Rename", {"src": src, "dst": dst})

    def remove(self, name: str) -> None:
        self.call("FS.Remove", {"filename": name})

    def reboot(self) -> None:
        self.call("Sys.Reboot", {"delay_ms": 500})


def _is_missing_file(e: UnitRpcError) -> bool:
    """A failed open of the file: Mongoose OS "failed to open file", mDash "fopen(".
    (Both return the same error for a missing file and any other open failure; a unit
    whose CA file cannot be opened is one that needs it written.)"""
    text = e.message
    return "failed to open file" in text or "fopen(" in text
