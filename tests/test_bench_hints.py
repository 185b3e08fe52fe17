"""A repair bench's tryout of 'flash' over several units (virtual units on loopback):
the next step a unit's line gives is that unit's, runnable as printed."""

from __future__ import annotations

import shlex
from collections.abc import Callable
from pathlib import Path

from click.testing import CliRunner
from support.doc_commands import UnitProcess

from esp_cabundle.cli import cli


def _unit_line(output: str, url: str) -> str:
    """The result line of the unit at ``url`` (a wrapped line joined)."""
    lines = output.replace("\n  ", " ").splitlines()
    return next(line for line in lines if f" {url} " in line and "FAILED" in line)


def test_wrong_board_line_of_one_unit_names_its_port_alone(
    start_unit: Callable[..., UnitProcess], runner: CliRunner, in_tmp: Path
) -> None:
    """Four ports, --board mdash-arduino: the Mongoose OS unit's line reran all four
    with mongoose-os-esp32; the LittleFS unit's said "pick a board whose file system is
    littlefs", naming none. Each names its own port, and the boards that fit."""
    mdash = start_unit("--board", "mdash-arduino")
    mos = start_unit("--board", "mongoose-os-esp32")
    lfs = start_unit("--board", "arduino-esp32-littlefs")
    r = runner.invoke(cli, ["build", "-o", "ca.pem", "-q"])
    assert r.exit_code == 0, r.output
    ports = [w for u in (mdash, mos, lfs) for w in ("-p", u.url)]
    tail = ["--board", "mdash-arduino", "--bundle", "ca.pem", "--dry-run"]
    r = runner.invoke(cli, ["flash", *ports, *tail])
    assert r.exit_code == 3, r.output

    line = _unit_line(r.output, mos.url)
    run = line.split("(LittleFS on fs_0, fs_1): ", 1)[1]
    assert shlex.split(run) == [
        "esp-cabundle", "flash", "-p", mos.url, "--board", "mongoose-os-esp32",
        *tail[2:],
    ]  # fmt: skip

    line = _unit_line(r.output, lfs.url)
    assert "pick a board whose file system" not in line
    said = line.split("the partition holds a littlefs file system; ", 1)[1]
    names, run = said.split(" (name the one the unit runs): ")
    # the unit is an ESP32: the ESP32-S3 board is no candidate
    assert names == "boards that fit it: arduino-esp32-littlefs, platformio-esp32"
    assert shlex.split(run) == ["esp-cabundle", "flash", "-p", lfs.url, "--board", "BOARD",
                                *tail[2:]]  # fmt: skip


def test_one_port_keeps_the_line_as_typed(
    start_unit: Callable[..., UnitProcess], runner: CliRunner, in_tmp: Path
) -> None:
    """One unit: the line is the one typed (its --port spelling kept), the board mended."""
    mos = start_unit("--board", "mongoose-os-esp32")
    r = runner.invoke(cli, ["build", "-o", "ca.pem", "-q"])
    assert r.exit_code == 0, r.output
    argv = ["flash", "--port", mos.url, "--board", "mdash-arduino", "--bundle", "ca.pem"]
    r = runner.invoke(cli, [*argv, "--dry-run"])
    assert r.exit_code == 2, r.output
    run = _unit_line(r.output, mos.url).split("(LittleFS on fs_0, fs_1): ", 1)[1]
    fixed = [*argv[:4], "mongoose-os-esp32", *argv[5:], "--dry-run"]
    assert shlex.split(run) == ["esp-cabundle", *fixed]
