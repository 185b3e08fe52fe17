"""A port in a hint is one literal of the caller's language: pyserial URL ports
(``rfc2217://host:4000?ign_set_control``, the virtual units' ``socket://``) hold ``?``,
which zsh globs (and refuses when nothing matches), and a device name may hold a quote.
The CLI's command, set off in single quotes, splits back to the port; a script's call
evaluates to it."""

from __future__ import annotations

import re
import shlex
import subprocess
from pathlib import Path

import pytest

from esp_cabundle.boards import load_board
from esp_cabundle.errors import FlashError, ImageError
from esp_cabundle.flash import readback
from esp_cabundle.flash.dump import DumpFile
from esp_cabundle.flash.flasher import flash_ca
from esp_cabundle.flash.journal import Journal
from esp_cabundle.flash.station import next_step
from esp_cabundle.spelling import BOARD_SPELLING, CLI_SPELLING, CONFIG_SPELLING, PYTHON, Spelling
from tests.support import dumps
from tests.support.flashing import NEW_CA, stopped_restore
from tests.support.gated import gated

BOARD = "mongoose-os-esp32"
PORTS = (
    "rfc2217://host:4000?ign_set_control",
    "socket://127.0.0.1:5001?x=1&y=2",
    "/dev/o'clock",
    "/dev/tty weird?'*",
    'socket://h:1?a"b$HOME`x`\\!',
)
SHELLS = (CLI_SPELLING, BOARD_SPELLING)
SCRIPTS = (PYTHON, CONFIG_SPELLING)


def _argv(command: str) -> list[str]:
    """``command`` as bash reads it, a glob with no match refused as zsh refuses it."""
    run = subprocess.run(
        ["bash", "-O", "failglob", "-c", 'eval "set -- $1" && printf "%s\\0" "$@"', "_", command],
        capture_output=True,
        text=True,
        check=True,
    )
    return run.stdout.split("\0")[:-1]


@pytest.mark.parametrize("port", PORTS)
@pytest.mark.parametrize("spelling", SHELLS)
def test_a_shell_command_names_the_port_whole(spelling: Spelling, port: str) -> None:
    for command, head in (
        # the text inside the quotes that set the command off
        (spelling.restore_for(port)[1:-1], ["esp-cabundle", "restore", "--port"]),
        (spelling.inspect_for(port), ["esp-cabundle", "inspect", "--port"]),
    ):
        assert shlex.split(command) == [*head, port], command
        assert _argv(command) == [*head, port], command


@pytest.mark.parametrize("port", PORTS)
@pytest.mark.parametrize("spelling", SCRIPTS)
def test_a_call_names_the_port_as_python_reads_it(spelling: Spelling, port: str) -> None:
    assert eval(spelling.restore_for(port), {"restore_unit": lambda p: p}) == port
    inspect = spelling.inspect_for(port).split(" with unit = ")
    assert eval(inspect[1], {"open_unit": lambda p: p}) == port


def test_a_plain_port_is_written_as_it_is() -> None:
    """Nothing to quote, nothing added: the hints users know stay byte for byte."""
    for port in ("/dev/ttyUSB0", "socket://127.0.0.1:5001", "COM3"):
        assert CLI_SPELLING.restore_for(port) == f"'esp-cabundle restore --port {port}'"
        assert BOARD_SPELLING.inspect_for(port) == f"esp-cabundle inspect --port {port}"


def _said_port(hint: str, spelling: Spelling) -> str:
    """The port the restore named in ``hint`` reaches."""
    if spelling.cli:
        (command,) = re.findall(r"'(esp-cabundle restore --port .*)'", hint)
        *_, port = shlex.split(command)
        return port
    (call,) = re.findall(r"restore_unit\(.*\)", hint)
    said: str = eval(call, {"restore_unit": lambda p: p})
    return said


@pytest.mark.parametrize("spelling", [PYTHON, BOARD_SPELLING])
def test_a_failed_read_back_names_the_url_port_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, spelling: Spelling
) -> None:
    """readback's hint, flash_ca's wording for a unit on a URL port."""
    port = PORTS[0] + "&o'k"
    monkeypatch.setattr(readback, "reread_problems", lambda cache, change: ["/ca.pem differs"])
    with pytest.raises(FlashError, match="does not hold what was planned") as e:
        flash_ca(
            DumpFile(dumps.mongoose_dump(), name=port),
            load_board(BOARD),
            gated(NEW_CA, BOARD),
            mac="aa:bb:cc:dd:ee:ff",
            journal=Journal(tmp_path),
            spelling=spelling,
        )
    assert _said_port(e.value.hint or "", spelling) == port


@pytest.mark.parametrize("spelling", [PYTHON, BOARD_SPELLING])
def test_a_stopped_restore_names_the_url_port_whole(tmp_path: Path, spelling: Spelling) -> None:
    """interrupt's next step, for a restore stopped before it wrote."""
    port = PORTS[0] + "&o'k"
    unit = DumpFile(dumps.mongoose_dump(), name=port)
    stopped = stopped_restore(unit, tmp_path, spelling)
    assert _said_port(stopped.hint or "", spelling) == port


def test_a_station_s_next_step_names_the_url_port_whole() -> None:
    said = next_step(ImageError("no file system"), PORTS[0])
    (command,) = re.findall(r"'(esp-cabundle inspect --port .*)'", said)
    assert _argv(command)[-1] == PORTS[0]
