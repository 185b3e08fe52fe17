"""The push links' URL, frame-size and in-place hints in the caller's words: a script is
told of ``url=``, ``urls=``, ``frame_size=``, ``in_place=True``; the CLI keeps --mqtt,
--rpc, --frame-size and --in-place word for word; ``push status`` reads the in-place
offer back from a ledger in either spelling (every ledger before this one says
--in-place)."""

from __future__ import annotations

from typing import Any

import pytest

from esp_cabundle.errors import EspCabundleError, InputError, UnitRpcError
from esp_cabundle.push.files import UnitFiles
from esp_cabundle.push.http import LanTransport
from esp_cabundle.push.ledger_status import in_place_would_help
from esp_cabundle.push.mqtt import parse_mqtt_url
from esp_cabundle.spelling import CLI_SPELLING, PYTHON

FLAGS = ("--mqtt", "--rpc", "--frame-size", "--in-place")


def _said(e: pytest.ExceptionInfo[EspCabundleError]) -> str:
    said = f"{e.value.message} hint: {e.value.hint or ''}"
    assert not [f for f in FLAGS if f in said], said
    return said


def test_a_bad_broker_url_names_url() -> None:
    with pytest.raises(InputError) as e:
        parse_mqtt_url("http://broker.local")
    assert _said(e).endswith("hint: e.g. url='mqtt://broker.local:1883'")
    assert str(e.value).startswith("url takes mqtt://")
    with pytest.raises(InputError) as e:
        parse_mqtt_url("mqtt://broker.local:99999")
    assert "url: the port is not a number" in _said(e)
    with pytest.raises(InputError) as e:
        parse_mqtt_url("http://broker.local", CLI_SPELLING)
    assert e.value.hint == "e.g. --mqtt mqtt://broker.local:1883"
    assert e.value.message.startswith("--mqtt takes mqtt://")
    with pytest.raises(InputError) as e:
        parse_mqtt_url("mqtt://broker.local:99999", CLI_SPELLING)
    assert e.value.message == "--mqtt: the port is not a number in 1-65535"
    assert e.value.hint == (
        "e.g. --mqtt mqtt://broker.local:1883; an IPv6 address goes in brackets: [::1]"
    )


def test_a_bad_unit_url_names_urls() -> None:
    with pytest.raises(InputError) as e:
        LanTransport(["ftp://unit.local/rpc"], timeout=1.0)
    said = _said(e)
    assert said.startswith("urls 'ftp://unit.local/rpc' is not an http://")
    assert "e.g. urls='http://192.168.1.20/rpc' or urls='ws://192.168.1.20/rpc'" in said
    with pytest.raises(InputError) as e:
        LanTransport(["ftp://unit.local/rpc"], timeout=1.0, spelling=CLI_SPELLING)
    assert (
        e.value.message
        == "--rpc 'ftp://unit.local/rpc' is not an http://, https://, ws:// or wss:// URL"
    )
    assert e.value.hint == "e.g. --rpc http://192.168.1.20/rpc or --rpc ws://192.168.1.20/rpc"


class _Channel:
    unit_id, shape, src = "unit-1", "mongoose", None

    def call(self, *_: Any, **__: Any) -> Any:
        raise AssertionError("no call is made")


def test_a_frame_too_small_names_frame_size() -> None:
    for spelling, knob in ((PYTHON, "frame_size="), (CLI_SPELLING, "--frame-size")):
        files = UnitFiles(_Channel(), frame_budget=64, timeout=1.0, spelling=spelling)  # type: ignore[arg-type]
        with pytest.raises(UnitRpcError, match="leaves no room for file data") as e:
            files.put_chunk_size("/ca.pem")
        assert e.value.hint == f"raise {knob} (Mongoose OS rpc.max_frame_size is 4096 by default)"


def test_push_status_reads_the_in_place_offer_in_either_spelling() -> None:
    old = "unit u: out of space ...; push with --in-place: ca.pem is written directly"
    new = "unit u: out of space ...; push with in_place=True: ca.pem is written directly"
    assert in_place_would_help(old) and in_place_would_help(new)
    assert not in_place_would_help("unit u: out of space (free space on the unit)")
    assert not in_place_would_help(None)
