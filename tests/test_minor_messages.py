"""Error messages that say what the option really takes, and nothing untrue about what
was (not) written."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

from esp_cabundle.cli import cli
from esp_cabundle.virtual import VirtualESP32
from tests.support import dumps


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["build", "--idf-filter", "on"], "cmn_crt_authorities.csv (components"),
        (
            ["pack", "--fs", "spiffs", "--platform", "arduino-2.0.17", "--size", "64K",
             "--preset", "default", "-o", "x.bin"],
            "picks a LittleFS profile only",
        ),
        (
            ["pack", "--fs", "littlefs", "--platform", "arduino-2.0.17", "--size", "8K",
             "--preset", "default", "-o", "x.bin"],
            "nothing was written to x.bin",
        ),
    ],
)  # fmt: skip
def test_messages_say_what_is_true(
    in_tmp: Path, runner: CliRunner, args: list[str], words: str
) -> None:
    r = runner.invoke(cli, [*args, "--at", "2026-11-27"])
    assert r.exit_code == 2, r.output
    assert words in r.stderr
    assert "the image was not changed" not in r.stderr
    assert list(in_tmp.iterdir()) == []


def test_fs_ls_takes_the_size_from_the_dumps_partition_table(
    in_tmp: Path, runner: CliRunner
) -> None:
    from tests.support import dumps

    (in_tmp / "dump.bin").write_bytes(dumps.arduino_dump())
    before = (in_tmp / "dump.bin").read_bytes()
    r = runner.invoke(cli, ["fs", "ls", "dump.bin", "--offset", "0x290000", "--json"])
    assert r.exit_code == 0, r.output
    assert '"size": 1441792' in r.stdout and "/ca.pem" in r.stdout
    # An offset no entry starts at still asks for --size.
    r = runner.invoke(cli, ["fs", "ls", "dump.bin", "--offset", "0x291000"])
    assert r.exit_code == 2 and "give --size" in r.stderr
    assert (in_tmp / "dump.bin").read_bytes() == before


def test_flash_without_a_partition_table_advises_what_flash_takes(
    virtual_esp32: Callable[..., VirtualESP32], runner: CliRunner, tmp_path: Path
) -> None:
    """flash has no --table-offset: the advice names the board file's
    partition_table.offset (which flash does take), not an option it lacks."""
    unit = virtual_esp32("esp32")  # erased: no table at 0x8000
    ca = tmp_path / "ca.pem"
    ca.write_bytes(dumps.pem("isrgrootx1.pem"))
    args = ["flash", "-p", unit.url, "--board", "mongoose-os-esp32", "--bundle", str(ca)]
    r = runner.invoke(cli, [*args, "--journal-dir", str(tmp_path / "j")])
    assert r.exit_code == 2 and "no partition table at 0x8000" in r.output, r.output
    assert "partition_table: {offset: ...}' in a board file given as --board FILE" in r.output
    assert unit.stats.sectors_erased == 0
