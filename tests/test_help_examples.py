"""Examples in ``--help`` are commands users paste: the ones that can run offline here
run as printed."""

from __future__ import annotations

import shlex
from pathlib import Path

from click.testing import CliRunner

from esp_cabundle.cli import cli
from tests.support import dumps


def help_examples(runner: CliRunner, command: str) -> list[list[str]]:
    text = runner.invoke(cli, [command, "--help"]).stdout
    joined = text.replace("\\\n", " ")
    return [
        shlex.split(line.strip())[1:]
        for line in joined.splitlines()
        if line.strip().startswith(f"esp-cabundle {command} ")
    ]


def test_update_dump_first_example_runs_without_a_config(runner: CliRunner, in_tmp: Path) -> None:
    (in_tmp / "dump.bin").write_bytes(dumps.arduino_dump())
    first = help_examples(runner, "update-dump")[0]
    assert "mdash-arduino" in first
    r = runner.invoke(cli, [*first, "--at", "2026-11-27"])
    assert r.exit_code == 0, r.output
    assert (in_tmp / "new.bin").is_file()
