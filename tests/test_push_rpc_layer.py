"""The RPC layer's bounds: answers parsed within limits, reads and writes in frames
that fit, link failures said in the system's words, and the file a campaign writes
carrying only a CA gated for the units' board."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from support.fleet import ca_bytes

from esp_cabundle.errors import UnitRpcError
from esp_cabundle.push.files import UnitFiles
from esp_cabundle.push.rpc import MAX_ANSWER_BYTES, parse_answer


def test_answers_are_bounded_and_checked() -> None:
    with pytest.raises(UnitRpcError, match="over the"):
        parse_answer(b" " * (MAX_ANSWER_BYTES + 1), unit="u", method="FS.Get")
    with pytest.raises(UnitRpcError, match="not valid JSON"):
        parse_answer(b'{"id": 1, "result": ', unit="u", method="FS.Get")
    deep = b'{"id": 1, "result": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    with pytest.raises(UnitRpcError, match="nests deeper than 32 levels"):
        parse_answer(deep, unit="u", method="FS.Get")
    with pytest.raises(UnitRpcError, match="nests deeper than 32 levels"):
        parse_answer(deep.decode(), unit="u", method="FS.Get")  # a WebSocket text message
    with pytest.raises(UnitRpcError, match="not UTF-8"):
        parse_answer(b'{"id": 1, "result": "\xff"}', unit="u", method="FS.Get")
    with pytest.raises(UnitRpcError, match="not an RPC frame"):
        parse_answer(b"[1, 2]", unit="u", method="FS.Get")
    with pytest.raises(UnitRpcError, match=r"FS.Put failed \(500\): no space") as e:
        parse_answer(b'{"id":1,"error":{"code":500,"message":"no space"}}', unit="u",
                     method="FS.Put")  # fmt: skip
    assert e.value.code == 500
    assert parse_answer(b'{"id":7,"result":null}', unit="u", method="m") == (7, None)


class _Channel:
    """A unit answering FS.Get with whatever the test scripted."""

    shape = "args"
    src = "esp-cabundle"
    unit_id = "u1"

    def __init__(self, answers: list[Any]) -> None:
        self.answers = answers
        self.sent: list[tuple[str, dict[str, Any]]] = []

    def call(self, method: str, params: Mapping[str, Any], *, timeout: float) -> Any:
        self.sent.append((method, dict(params)))
        return self.answers.pop(0)

    def close(self) -> None:
        pass


def test_reads_refuse_answers_that_make_no_progress_or_are_not_base64() -> None:
    files = UnitFiles(_Channel([{"data": "", "left": 10}]), frame_budget=4096, timeout=1)
    with pytest.raises(UnitRpcError, match="no progress"):
        files.get("ca.pem")
    files = UnitFiles(_Channel([{"data": "***", "left": 0}]), frame_budget=4096, timeout=1)
    with pytest.raises(UnitRpcError, match="not base64"):
        files.get("ca.pem")
    files = UnitFiles(_Channel([{"data": "YQ==", "left": "x"}]), frame_budget=4096, timeout=1)
    with pytest.raises(UnitRpcError, match="malformed"):
        files.get("ca.pem")
    with pytest.raises(UnitRpcError, match="no room"):
        UnitFiles(_Channel([]), frame_budget=150, timeout=1).put("ca.pem", b"x")


def test_writes_fit_the_frame_budget() -> None:
    for budget in (512, 3000, 4096):
        ch = _Channel([None] * 100)
        UnitFiles(ch, frame_budget=budget, timeout=1).put("ca.pem.new", b"\x00" * 9000)
        from esp_cabundle.push.rpc import request_frame

        sizes = [len(request_frame(1 << 40, m, p, shape="args", src=ch.src)) for m, p in ch.sent]
        assert max(sizes) <= budget and [p["append"] for _, p in ch.sent][:2] == [False, True]


def test_a_push_file_carries_a_ca_gated_for_the_units_board() -> None:
    """The campaign writes only what the gate let through for the units' board."""
    from support.gated import gated

    from esp_cabundle.boards import load_board
    from esp_cabundle.errors import InputError
    from esp_cabundle.push.campaign import PushFile

    pem = ca_bytes()
    with pytest.raises(TypeError, match="GatedCA"):
        PushFile(pem)  # type: ignore[arg-type]
    with pytest.raises(InputError, match="gated for no board"):
        PushFile(gated(pem))
    with pytest.raises(InputError, match="not of mdash-arduino"):
        PushFile.for_board(gated(pem, "mongoose-os-esp32"), load_board("mdash-arduino"))
    push = PushFile.for_board(gated(pem, "mdash-arduino"), load_board("mdash-arduino"))
    assert (push.name, push.temp_name, push.board) == ("ca.pem", "ca.pem.new", "mdash-arduino")
    assert push.data == gated(pem).pem and push.sha256 == push.ca.sha256


def test_link_failures_are_said_in_the_systems_words(tmp_path: Path) -> None:
    """A LAN unit whose host does not resolve was "link lost during Sys.GetInfo
    (gaierror)", and mDash refusing the connection "ConnectionRefusedError"."""
    import socket

    from esp_cabundle.errors import DeviceError
    from esp_cabundle.push.http import link_error
    from esp_cabundle.push.mdash import MdashTransport

    gai = socket.gaierror(socket.EAI_NONAME, "Name or service not known")
    said = str(link_error("http://lamp.local/rpc", "Sys.GetInfo", gai, 10.0))
    assert said == "unit http://lamp.local/rpc: host not found (Name or service not known)"
    reset = ConnectionResetError(104, "Connection reset by peer")
    said = str(link_error("u1", "FS.Put", reset, 10.0))
    assert said == "unit u1: link lost during FS.Put (Connection reset by peer)"
    t = MdashTransport("k", base_url="http://127.0.0.1:1/api/v2", timeout=2.0)
    try:
        with pytest.raises(DeviceError) as err:
            t.units()
    finally:
        t.close()
    assert err.value.message == "cannot reach mDash at http://127.0.0.1:1: Connection refused"
    # A server that accepts the connection and never answers: how long it waited.
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)
        port = silent.getsockname()[1]
        t = MdashTransport("k", base_url=f"http://127.0.0.1:{port}/api/v2", timeout=0.5)
        try:
            with pytest.raises(DeviceError) as err:
                t.units()
        finally:
            t.close()
    assert err.value.message == f"cannot reach mDash at http://127.0.0.1:{port}: no answer in 0.5 s"
