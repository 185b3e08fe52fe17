"""RPC frames as Mongoose OS and mDash units speak them, and the channel every transport
provides.

A request is one JSON object ``{"id", "src", "method", "args"|"params"}``; the answer
carries the same ``id`` and either ``result`` or ``error: {code, message}``.

- Mongoose OS (``mongoose-os-libs/rpc-common`` ``src/mg_rpc.c``, ``mg_rpc_parse_frame``):
  ``{v, id, src, dst, tag, method, args|params, auth}``; ``args`` is the historical
  name and ``params`` is accepted too. Answers are ``{id, src, dst, result}`` or
  ``{id, src, dst, error: {code, message}}``; a request without ``id`` gets no answer.
- mDash (cesanta/mDash ``src/mongoose.c`` ``mg_rpc_process``/``mg_rpc_ok``/``mg_rpc_err``
  in 1.2.16; mjson ``jsonrpc_*`` in the 1.2.13/1.2.14 binaries): JSON-RPC 2.0 style
  ``{id, method, params}`` answered ``{id, result}`` or ``{id, error: {code, message}}``.
  Unknown methods answer code -32601 (mDash) or 404 "No handler for" (Mongoose OS).
"""

from __future__ import annotations

import itertools
import json
import random
from collections.abc import Mapping
from typing import Any, Literal, Protocol

from ..errors import InputError, UnitRpcError
from ..limits import loads_json

__all__ = [
    "MAX_ANSWER_BYTES",
    "READ_ONLY_METHODS",
    "FrameShape",
    "RpcChannel",
    "is_unknown_method",
    "load_answer",
    "next_call_id",
    "parse_answer",
    "request_frame",
]

FrameShape = Literal["args", "params"]
# An answer larger than this is refused before parsing: a unit's frames are a few KiB
# (rpc.max_frame_size 4096 on Mongoose OS), so 1 MiB bounds memory and time.
MAX_ANSWER_BYTES = 1 << 20
# Methods that only read (the handlers the files module cites): sent again after a
# link lost mid-call, unlike one that writes, which may have been done unanswered.
READ_ONLY_METHODS = frozenset({"Sys.GetInfo", "FS.Get", "FS.List", "FS.ListExt", "RPC.List"})
# mDash's "method not found" (JSON-RPC 2.0) and Mongoose OS's "No handler for ...".
_UNKNOWN_METHOD_CODES = (-32601, 404)

_ids = itertools.count(random.randrange(1, 1 << 30))


def next_call_id() -> int:
    """A fresh request id (unique within this process)."""
    return next(_ids)


class RpcChannel(Protocol):
    """One unit's end of a transport: call a method, get its ``result``.

    Raises :class:`~esp_cabundle.errors.UnitUnreachable` when no answer comes (offline,
    link dropped, timeout) and :class:`~esp_cabundle.errors.UnitRpcError` when the unit
    answers with an error or with something that is not an answer.
    """

    unit_id: str
    shape: FrameShape  # "args" (Mongoose OS) or "params" (mDash)
    src: str | None  # the caller's id in frames, where the transport needs one

    def call(self, method: str, params: Mapping[str, Any], *, timeout: float) -> Any: ...

    def close(self) -> None: ...


def request_frame(
    call_id: int,
    method: str,
    params: Mapping[str, Any],
    *,
    shape: FrameShape,
    src: str | None = None,
) -> bytes:
    """The compact JSON of one request frame."""
    frame: dict[str, Any] = {"id": call_id}
    if src is not None:
        frame["src"] = src
    frame["method"] = method
    frame[shape] = dict(params)
    return json.dumps(frame, separators=(",", ":")).encode()


def parse_answer(data: bytes | str, *, unit: str, method: str) -> tuple[Any, Any]:
    """``(id, result)`` of an answer frame; UnitRpcError for an error answer or bytes
    that are not an answer (malformed JSON, no id, neither result nor error)."""
    frame = load_answer(data, unit=unit, method=method)
    if not isinstance(frame, dict) or "id" not in frame:
        raise UnitRpcError(f"unit {unit}: the answer to {method} is not an RPC frame")
    error = frame.get("error")
    if error is not None:
        raise answer_error(error, unit=unit, method=method)
    if "result" not in frame:
        raise UnitRpcError(f"unit {unit}: the answer to {method} has neither result nor error")
    return frame["id"], frame["result"]


def load_answer(data: bytes | str, *, unit: str, method: str) -> Any:
    """The JSON a unit (or mDash for it) answered, read as every untrusted JSON is
    (:func:`~esp_cabundle.limits.loads_json`): at most :data:`MAX_ANSWER_BYTES` and
    ``MAX_JSON_DEPTH`` deep, so a hostile or broken unit costs bounded time and memory
    and fails alone, with UnitRpcError."""
    raw = data.encode() if isinstance(data, str) else data
    if len(raw) > MAX_ANSWER_BYTES:
        raise UnitRpcError(
            f"unit {unit}: the answer to {method} is over the {MAX_ANSWER_BYTES}-byte limit "
            "for one answer frame"
        )
    try:
        return loads_json(raw, what=f"the answer to {method}", path=None, cap=MAX_ANSWER_BYTES)
    except InputError as e:
        raise UnitRpcError(
            f"unit {unit}: {e.message}",
            hint="is this an RPC endpoint of a Mongoose OS or mDash unit?",
        ) from None


def answer_error(error: Any, *, unit: str, method: str) -> UnitRpcError:
    """The UnitRpcError an ``error`` member (or a bare error value) stands for."""
    code: int | None = None
    message = error
    if isinstance(error, Mapping):
        raw_code = error.get("code")
        code = raw_code if isinstance(raw_code, int) else None
        message = error.get("message", "")
    text = message if isinstance(message, str) else json.dumps(message)
    where = f"unit {unit}: {method} failed"
    if code is not None:
        where += f" ({code})"
    return UnitRpcError(f"{where}: {text[:200]}", code=code)


def is_unknown_method(e: UnitRpcError) -> bool:
    """True when the unit says it has no such method (so a fallback applies)."""
    return e.code in _UNKNOWN_METHOD_CODES
