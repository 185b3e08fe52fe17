"""open_unit's first eFuse read, the MAC: whatever ends it closes the port, a unit silent
there costs one timeout (not one more for the stub), and a unit whose MAC is not known
is shown as "-" beside the real error."""

from __future__ import annotations

import csv
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from esptool.util import FatalError

from esp_cabundle.cli import cli
from esp_cabundle.errors import DeviceError
from esp_cabundle.flash import serial as flash_serial
from esp_cabundle.flash.serial import open_unit
from esp_cabundle.virtual import VirtualESP32

Start = Callable[..., VirtualESP32]


def _opened_ports(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """The socket:// ports open_unit opens, to see whether it closed them."""
    opened: list[Any] = []
    real = flash_serial.open_socket_port

    def spy(url: str) -> Any:
        opened.append(real(url))
        return opened[-1]

    monkeypatch.setattr(flash_serial, "open_socket_port", spy)
    return opened


def _first_mac_read(monkeypatch: pytest.MonkeyPatch, before: Callable[[], None]) -> None:
    """Run ``before`` as open_unit reads the MAC the first time (later reads as they are)."""
    real = flash_serial._mac
    calls = []

    def mac(esp: Any) -> str:
        calls.append(1)
        if len(calls) == 1:
            before()
        return real(esp)

    monkeypatch.setattr(flash_serial, "_mac", mac)


def _stub_loads(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    import esptool.cmds

    loads: list[int] = []
    real = esptool.cmds.run_stub

    def run_stub(esp: Any) -> Any:
        loads.append(1)
        return real(esp)

    monkeypatch.setattr(esptool.cmds, "run_stub", run_stub)
    return loads


@pytest.mark.parametrize("stop", [KeyboardInterrupt, SystemExit])
def test_an_interrupted_mac_read_closes_the_port(
    virtual_esp32: Start, monkeypatch: pytest.MonkeyPatch, stop: type[BaseException]
) -> None:
    """Ctrl-C (or an exit) during the MAC read, before the try that closes the port on
    any exception, left the port (a socket here) open."""
    unit = virtual_esp32("esp32")
    opened = _opened_ports(monkeypatch)

    def interrupt() -> None:
        raise stop

    _first_mac_read(monkeypatch, interrupt)
    with pytest.raises(stop):
        open_unit(unit.url)
    assert len(opened) == 1 and not opened[0].is_open


def test_a_silent_mac_read_is_said_after_one_timeout(
    virtual_esp32: Start, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A unit silent at the MAC read was taken for one whose MAC is unknown: the stub
    was loaded anyway, waiting out another timeout before the same link failure."""
    unit = virtual_esp32("esp32")
    opened = _opened_ports(monkeypatch)
    loads = _stub_loads(monkeypatch)
    pause = None

    def go_silent() -> None:
        nonlocal pause
        pause = unit.arm_pause(command="READ_REG")  # the MAC's eFuse word: no answer

    _first_mac_read(monkeypatch, go_silent)
    with pytest.raises(DeviceError) as caught:
        open_unit(unit.url)
    assert pause is not None and pause.reached.is_set()
    assert "link lost while reading the MAC" in str(caught.value), caught.value
    assert caught.value.unit is None  # nothing known of it: "-" in a station's line
    assert loads == [] and not opened[0].is_open
    pause.release()


def test_a_refused_mac_read_leaves_the_real_error_and_a_dash(
    virtual_esp32: Start, runner: CliRunner, in_tmp: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The ROM refusing the MAC read is no reason to stop: the chip check that follows
    says what is wrong (another chip), the unit's line and log show "-" for its MAC."""
    unit = virtual_esp32("esp32s3", mac="24:0a:c4:00:00:07")

    def refuse() -> None:
        raise FatalError("Failed to read target memory (result was 01070000)")

    _first_mac_read(monkeypatch, refuse)
    r = runner.invoke(cli, ["build", "-o", "ca.pem", "-q"])
    assert r.exit_code == 0, r.output
    argv = ["flash", "-p", unit.url, "--board", "mongoose-os-esp32", "--bundle", "ca.pem"]
    r = runner.invoke(cli, [*argv, "--log", "log.csv"])
    assert r.exit_code == 3, r.output
    lines = r.output.replace("\n  ", " ").splitlines()
    line = next(x for x in lines if f" {unit.url} " in x and "FAILED" in x)
    assert line.split()[2] == "-" and "the unit is an ESP32-S3" in line, line
    assert "24:0a:c4:00:00:07" not in r.output
    with (in_tmp / "log.csv").open() as f:
        (row,) = csv.DictReader(f)
    assert row["mac"] in ("", "-") and row["error"].startswith("the unit is an ESP32-S3"), row


def test_a_refused_mac_read_is_read_again_once_connected(
    virtual_esp32: Start, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A unit whose first MAC read is refused still opens, its MAC read after the stub."""
    unit = virtual_esp32("esp32", mac="24:0a:c4:00:00:08")

    def refuse() -> None:
        raise FatalError("Failed to read target memory (result was 01070000)")

    _first_mac_read(monkeypatch, refuse)
    with open_unit(unit.url) as opened:
        assert opened.info.mac == "24:0a:c4:00:00:08"
