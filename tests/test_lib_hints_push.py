"""The push links' hints name the caller's knobs: a script is told of ``ca_file=``,
``device_ids=``, ``api_key=``, ``base_url=`` and ``devices=``, never of ``--tls-ca``,
``--mqtt``, ``--api-key-file``, ``--mdash`` or ``--device``; the CLI, passing
CLI_SPELLING, keeps its texts word for word (texts taken from the CLI before)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from support.fleet import mdash_unit, write_ca

from esp_cabundle.errors import EspCabundleError, InputError
from esp_cabundle.push.http import tls_context
from esp_cabundle.push.mdash import MdashTransport
from esp_cabundle.push.mqtt import MqttTransport, parse_mqtt_url

KEY = "mdash-key-0c1d2e3f4a5b"
FLAGS = ("--tls-ca", "--mqtt", "--device", "--api-key-file", "MDASH_API_KEY", "--mdash", "push")


def _said(e: pytest.ExceptionInfo[EspCabundleError]) -> str:
    """The whole error as a script sees it, checked to name no CLI flag."""
    said = f"{e.value} {e.value.hint or ''}"
    assert not [f for f in FLAGS if f in said], said
    return said


def _cli(tmp: Path, *argv: str, board: str = "mdash-arduino") -> tuple[int, str]:
    from esp_cabundle.cli import cli  # deferred: the library half never loads the CLI

    write_ca(tmp)
    args = ["push", *argv, "--board", board, "--bundle", str(tmp / "ca.pem")]
    r = CliRunner().invoke(cli, [*args, "--ledger", str(tmp / "c.db"), "--timeout", "2"])
    assert not (tmp / "c.db").exists()
    return r.exit_code, r.stderr


def test_a_tls_ca_without_a_certificate_names_ca_file(tmp_path: Path) -> None:
    ca = tmp_path / "broker-ca.pem"
    ca.write_text("not a certificate\n")
    with pytest.raises(InputError) as e:
        tls_context(str(ca))
    assert f"{ca}: ca_file=: OpenSSL reads no CA certificate from it (" in e.value.message
    _said(e)
    code, err = _cli(tmp_path, "--rpc", "https://127.0.0.1:9/rpc", "--tls-ca", str(ca),
                     board="mongoose-os-esp32")  # fmt: skip
    assert code == 2 and "broker-ca.pem: --tls-ca: OpenSSL reads no CA certificate from it (" in err


def test_a_broker_without_unit_ids_names_device_ids() -> None:
    with pytest.raises(InputError) as e:
        MqttTransport(parse_mqtt_url("mqtt://127.0.0.1:1"), [])
    assert e.value.message == "MqttTransport needs the units' ids: device_ids="
    _said(e)


def test_mdash_hints_name_the_parameters(
    stand_in: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    s = stand_in([mdash_unit("up")])
    with pytest.raises(EspCabundleError, match="refused the API key") as key:
        MdashTransport("wrong-key", base_url=s.url, timeout=2).units()
    assert key.value.hint == "check api_key=: a master key from the Keys tab"
    with pytest.raises(InputError, match="mDash lists no device nope") as ids:
        MdashTransport(KEY, base_url=s.url, devices=["nope"], timeout=2).units()
    assert (ids.value.hint or "").startswith(
        "check the ids given with devices=; without them, MdashTransport.units() lists"
    )
    _said(ids)
    with pytest.raises(EspCabundleError, match="cannot reach mDash") as down:
        MdashTransport(KEY, base_url="http://127.0.0.1:9/api", timeout=2).units()
    assert down.value.hint == "check base_url= and the network"
    # The CLI, word for word.
    code, err = _cli(tmp_path, "--mdash", s.url, "--device", "nope")
    assert code == 2 and "  hint: check the ids given with --device/--devices; without them, " \
        "push --dry-run lists every device" in err  # fmt: skip
    code, err = _cli(tmp_path, "--mdash", "http://127.0.0.1:9/api")
    assert code == 3 and "  hint: check the --mdash URL and the network\n" in err
    monkeypatch.setenv("MDASH_API_KEY", "wrong-key-value")
    code, err = _cli(tmp_path, "--mdash", s.url)
    assert code == 2
    assert "  hint: check MDASH_API_KEY or --api-key-file: a master key from the Keys tab\n" in err
