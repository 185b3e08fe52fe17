"""The virtual units in the field at their edges: a call log that stays bounded however
long a unit serves or however hard it is flooded."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from support.fleet import mongoose_unit

from esp_cabundle.virtual.rpc import SimUnit

GET_INFO = b'{"id":1,"src":"t","method":"Sys.GetInfo"}'


def frame(method: str, params: dict[str, Any] | None = None, *, cid: int = 1) -> bytes:
    return json.dumps({"id": cid, "src": "t", "method": method, "args": params or {}}).encode()


def answer(unit: SimUnit, data: bytes) -> dict[str, Any]:
    out = unit.handle(data)
    assert out is not None
    doc = json.loads(out)
    assert isinstance(doc, dict)
    return doc


# ---------------------------------------------------------------------------------------
# The call log


def test_the_call_log_keeps_the_last_calls_and_counts_every_one() -> None:
    unit = mongoose_unit("log", max_calls=5)
    for n in range(12):
        unit.handle(frame("FS.Get", {"filename": f"f{n}"}))
    assert [c.params["filename"] for c in unit.calls] == [f"f{n}" for n in range(7, 12)]
    assert (unit.calls_dropped, unit.calls_total) == (7, 12)
    assert unit.count("FS.Get") == 5


def test_a_call_log_of_none_still_counts() -> None:
    unit = mongoose_unit("none", max_calls=0)
    unit.handle(GET_INFO)
    assert unit.calls == [] and unit.calls_total == 1
    with pytest.raises(ValueError, match="max_calls -1"):
        mongoose_unit("neg", max_calls=-1)


def test_a_logged_call_costs_a_bounded_few_kb_whatever_the_frame_held() -> None:
    """FS.Put's data (32 KiB here, up to a frame), nested values and a hundred
    parameters: the file is written whole, the log keeps sizes, not contents."""
    unit = mongoose_unit("big")
    data = bytes(range(256)) * 128
    params: dict[str, Any] = {"filename": "big.bin", "data": base64.b64encode(data).decode()}
    params |= {"nested": {"a": [1] * 10_000}, "list": list(range(10_000)), "n": 1 << 200}
    params |= {f"k{n}": n for n in range(100)}
    assert answer(unit, frame("FS.Put", params)).get("error") is None
    assert unit.files()["/big.bin"] == data
    (call,) = unit.calls
    assert call.params["filename"] == "big.bin"
    assert call.params["data"] == f"<{len(params['data'])} characters>"
    assert call.params["nested"] == "<object of 1>" and call.params["list"] == "<array of 10000>"
    assert call.params["n"] == "<a number of 201 bits>"
    assert len(call.params) == 17 and call.params["..."] == f"<{len(params) - 16} more>"
    assert len(json.dumps(call.params)) < 4096
    assert call.size > len(data)
