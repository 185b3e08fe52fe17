"""Error messages that say what the option really takes, and nothing untrue about what
was (not) written."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from esp_cabundle.cli import cli


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
