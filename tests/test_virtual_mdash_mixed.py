"""``virtual-unit --mdash`` serving a mixed fleet, as 2024's was: mDash 1.2.13 units that
read /spiffs/ca.pem (DST Root CA X3 only: dark) beside a 1.2.16 unit whose CA is
compiled in (``--id m-3=mdash@1.2.16``). A push updates and verifies the first and
records the 1.2.16 unit "unused", its file untouched: writing it protects nothing."""

from __future__ import annotations

import json
import signal
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner
from support.doc_commands import UnitProcess
from support.fleet import mdash_unit

from esp_cabundle.boards import load_board
from esp_cabundle.cli import cli
from esp_cabundle.commands import virtual_unit
from esp_cabundle.commands._virtual_mdash import _fw_version
from esp_cabundle.commands._virtual_rpc import RpcOptions
from esp_cabundle.push.ledger import Ledger
from tests.test_virtual_unit_mdash import push

Start = Callable[..., UnitProcess]  # the start_unit fixture
M = ["--mdash", "http://127.0.0.1:0"]


def _stopped(err: str) -> dict[str, str]:
    return {
        ln.split(":")[0].removeprefix("stopped "): ln
        for ln in err.splitlines()
        if ln.startswith("stopped ")
    }


def test_a_mixed_fleet_pushes_the_file_readers_and_leaves_the_1_2_16_unit(
    start_unit: Start, tmp_path: Path
) -> None:
    fleet = ("--id", "m-1", "--id", "m-2", "--id", "m-3=mdash@1.2.16")
    unit = start_unit(*M, "--board", "mdash-arduino@1.2.13", *fleet, cwd=tmp_path)
    code, dry = push(tmp_path, unit.line, "--dry-run")
    assert code == 0, dry
    rows = {ln.split()[0]: ln.split() for ln in dry.splitlines() if ln.startswith("m-")}
    assert rows["m-1"][1:3] == rows["m-2"][1:3] == ["would-write", "1.2.13-a-10819-ESP32_DEV"], dry
    assert rows["m-3"][1:3] == ["unused", "1.2.16-a-10819-ESP32_DEV"], dry
    assert "mDash 1.2.16 does not read /spiffs/ca.pem" in dry
    code, pushed = push(tmp_path, unit.line)
    assert code == 0 and "2 of 3 units done (1 unused, 2 verified)" in pushed, pushed
    with Ledger(tmp_path / "c.db") as led:
        states = {r.id: (r.state, r.fw_version) for r in led.rows()}
    assert states == {
        "m-1": ("verified", "1.2.13-a-10819-ESP32_DEV"),
        "m-2": ("verified", "1.2.13-a-10819-ESP32_DEV"),
        "m-3": ("unused", "1.2.16-a-10819-ESP32_DEV"),
    }
    r = CliRunner().invoke(cli, ["push", "status", "--ledger", str(tmp_path / "c.db")])
    assert r.exit_code == 0, r.output
    assert any(ln.split()[:3] == ["verified", "2", "m-1,"] for ln in r.stdout.splitlines())
    assert any(ln.split() == ["unused", "1", "m-3"] for ln in r.stdout.splitlines()), r.stdout
    code, err = unit.stop(signal.SIGINT)
    assert code == 0, err
    stopped = _stopped(err)
    assert "/ca.pem changed" in stopped["m-1"] and "/ca.pem changed" in stopped["m-2"], err
    # Sys.GetInfo, once per run: its file never read nor written
    assert stopped["m-3"].endswith(": 2 RPC calls; /ca.pem unchanged"), err


def test_a_1_2_16_fleet_starts_and_names_the_board_push_takes(
    start_unit: Start, tmp_path: Path
) -> None:
    """``--board mdash@1.2.16`` alone: units holding the SPIFFS mdash-arduino left them
    (the old ca.pem, mdash.cfg), reporting 1.2.16; the push line names mdash-arduino
    (the board whose file the units keep), and a dry run finds them all unused."""
    unit = start_unit(*M, "--board", "mdash@1.2.16", "--id", "n-1", cwd=tmp_path)
    assert unit.proc.stderr is not None
    said = unit.proc.stderr.readline() + unit.proc.stderr.readline()
    assert "n-1 (board mdash@1.2.16)" in said, said
    assert "the firmware of n-1 never reads it: its CA is compiled in" in said, said
    assert said.rstrip().endswith("--board mdash-arduino --bundle ca.pem"), said
    code, dry = push(tmp_path, unit.line, "--dry-run")
    assert code == 0 and "n-1   unused  1.2.16-a-10819-ESP32_DEV" in dry, dry
    code, err = unit.stop(signal.SIGTERM)
    assert code == 0 and "stopped n-1: 1 RPC call; /ca.pem unchanged" in err, err


def test_each_id_runs_the_default_board_unless_it_names_its_own() -> None:
    from esp_cabundle.commands._virtual_mdash import _fleet  # deferred: new with ID=BOARD

    opts = RpcOptions(
        "http://127.0.0.1:0", ("a", "b=mdash", "c=mdash-arduino@1.2.12"), None, None, None, None
    )
    default, fleet = _fleet(opts)
    assert default.name == "mdash-arduino"
    assert [(uid, b.full_name) for uid, b in fleet] == [
        ("a", "mdash-arduino@1.2.13"),
        ("b", "mdash@1.2.16"),
        ("c", "mdash-arduino@1.2.12"),
    ]


BAD = [
    ([*M, "--id", "m-3=nosuch"], "--id m-3=nosuch: unknown board 'nosuch'"),
    (
        [*M, "--id", "m-3=mongoose-os-esp32"],
        "--id m-3=mongoose-os-esp32: --mdash serves mDash units through mDash's REST API; "
        "board mongoose-os-esp32 runs mongoose-os",
    ),
    ([*M, "--id", "m-3=mdash@1.2.3"], "--id m-3=mdash@1.2.3: board mdash does not run mDash 1.2.3"),
    (
        [*M, "--id", "m-3=mdash-arduino@1.2.16"],
        "board mdash-arduino does not run mDash 1.2.16",
    ),
    ([*M, "--id", "m-3="], "--id m-3=: name the unit's board after '='"),
    ([*M, "--id", "m-3", "--id", "m-3=mdash"], "--id: the same device id is given twice"),
    ([*M, "--id", "=mdash"], "--id '': not a device id"),
    ([*M, "--id", "a", "--id", "b=mdash", "--save-fs", "o.bin"], "one --id with it"),
]


@pytest.mark.parametrize(("args", "message"), BAD, ids=[" ".join(a) for a, _ in BAD])
def test_a_bad_unit_board_is_refused_and_nothing_started(
    args: list[str], message: str, in_tmp: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a fleet started by mistake stops at once (exit 0) instead of serving for ever
    monkeypatch.setattr(virtual_unit, "wait_for_signal", lambda: None)
    r = CliRunner().invoke(cli, ["virtual-unit", *args, "--api-key-file", "k.key"])
    assert r.exit_code == 2, r.output
    assert message in r.stderr, r.stderr
    assert r.stdout == "" and "Traceback" not in r.output  # no push line: nothing served
    assert list(in_tmp.iterdir()) == []


def test_a_unit_board_is_refused_over_rpc_not_taken_for_an_id(
    in_tmp: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``virtual-unit --rpc URL --id m-3=mdash@1.2.16`` started a Mongoose OS unit whose
    device id was "m-3=mdash@1.2.16", unsaid: ID=BOARD is --mdash's. Refused, nothing
    started; an id that merely holds '=' (no board after it) is still an id."""
    monkeypatch.setattr(virtual_unit, "wait_for_signal", lambda: None)
    rpc = ["virtual-unit", "--rpc", "http://127.0.0.1:0"]
    r = CliRunner().invoke(cli, [*rpc, "--id", "m-1", "--id", "m-3=mdash@1.2.16"])
    assert r.exit_code == 2 and r.stdout == "", r.output
    assert "--id m-3=mdash@1.2.16: ID=BOARD gives a unit its own board with --mdash" in r.stderr
    r = CliRunner().invoke(cli, [*rpc, "--id", "a=b"])
    assert r.exit_code == 0 and "--rpc http://127.0.0.1:" in r.stdout, r.output
    assert list(in_tmp.iterdir()) == []


@pytest.mark.parametrize(
    ("fw_version", "unused"),
    [
        ("1.2.16-a-10819-ESP32_DEV", True),  # src/mDash.h MDASH_FRAMEWORK, Arduino IDE 1.8.19
        ("1.2.15-idf", True),
        ("1.2.16-Arduino", True),  # what the virtual units said before
        ("1.2.13-a-10819-ESP32_DEV", False),
    ],
)
def test_push_places_the_release_as_real_units_report_it(fw_version: str, unused: bool) -> None:
    """A real Arduino build reports ``MDASH_VERSION "-" MDASH_FRAMEWORK``, the framework
    ``a-ARDUINO-ARDUINO_BOARD`` (cesanta/mDash src/mDash.h): push reads the release the
    same from it, from ``idf`` builds and from the ``-Arduino`` older stand-ins said."""
    from esp_cabundle.boards import load_board
    from esp_cabundle.push.files import UnitInfo
    from esp_cabundle.push.firmware_use import not_read_by, wrong_board

    info = UnitInfo(fw_version, "m-1", "app", 5)
    board = load_board("mdash-arduino")
    assert wrong_board(board, info) is None
    assert (not_read_by(board, info) is not None) is unused


@pytest.mark.parametrize(
    ("board", "fw_version"),
    [
        ("mdash-arduino@1.2.13", "1.2.13-a-10819-ESP32_DEV"),
        ("mdash-arduino@1.2.12", "1.2.12-a-10819-ESP32_DEV"),
        ("mdash@1.2.16", "1.2.16-a-10819-ESP32_DEV"),
        ("mdash@1.2.15", "1.2.15-a-10819-ESP32_DEV"),
    ],
)
def test_a_virtual_unit_reports_fw_version_as_a_real_arduino_build(
    board: str, fw_version: str
) -> None:
    """``Sys.GetInfo``'s ``fw_version`` is ``MDASH_VERSION "-" MDASH_FRAMEWORK``, the
    framework ``"a-" STR(ARDUINO) "-" ARDUINO_BOARD`` (cesanta/mDash src/mDash.h), not
    ``Arduino``: an Arduino IDE 1.8.19 build for the ESP32 Dev Module."""
    frame = b'{"id":1,"src":"t","method":"Sys.GetInfo","params":{}}'
    units = {
        fw_version: mdash_unit("m-1", fw_version=_fw_version(load_board(board))),
        "1.2.14-a-10819-ESP32_DEV": mdash_unit("m-2"),  # MdashUnit's default
    }
    for want, unit in units.items():
        answer = unit.handle(frame)
        assert answer is not None
        assert json.loads(answer)["result"]["fw_version"] == want
