"""A NUL in a file name a config or board file gives (YAML's ``"\\0"`` escape) is refused
with exit 2, naming the line, never a ValueError: os.path.realpath, os.stat and open
raise ValueError("embedded null byte") on one. Found by a local fuzz campaign that
swapped config and board values for hostile ones (an output's ``path:`` was a traceback
from realpath, a board's ``layout:`` file one from read_input's stat)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from esp_cabundle.boards import load_board, parse_board
from esp_cabundle.cli import cli
from esp_cabundle.config import parse_config
from esp_cabundle.errors import ConfigError, InputError

BOARDS = Path(__file__).parent.parent / "esp_cabundle" / "data" / "boards"


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ('outputs:\n  - {format: pem, path: "a\\0b.pem"}\n', "outputs[0].path"),
        ('targets:\n  - {chain: "a\\0b.pem"}\n', "targets[0].chain"),
        ('idf_filter: "a\\0b.csv"\n', "idf_filter"),
        ('board: "./a\\0b.yaml"\n', "board"),
        ('outputs:\n  - {format: spiffs, path: fs.bin, board: "./a\\0b.yaml"}\n', "outputs[0]"),
    ],
)
def test_a_nul_in_a_config_file_name(tmp_path: Path, text: str, key: str) -> None:
    with pytest.raises(InputError) as e:
        parse_config(text, path=tmp_path / "cabundle.yaml")
    assert e.value.exit_code == 2
    assert f"{key}:" in str(e.value) and "NUL" in str(e.value)


def test_a_nul_in_a_board_layout_file_name() -> None:
    text = (BOARDS / "mdash-arduino.yaml").read_text()
    text, n = re.subn(r"layout: \|\n(    .*\n)+", 'layout: "parts\\\\0.csv"\n', text)
    assert n == 1
    with pytest.raises(ConfigError, match=r"partition_table.layout: .*NUL") as e:
        parse_board(text, source="b.yaml")
    assert e.value.line == 22


def test_a_nul_in_a_board_file_name_given_to_the_library(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="NUL") as e:
        load_board(str(tmp_path / "a\x00b.yaml"))
    assert e.value.exit_code == 2


def test_build_with_a_nul_in_an_output_path(in_tmp: Path, runner: CliRunner) -> None:
    (in_tmp / "cabundle.yaml").write_text(
        'roots: [isrg-root-x1]\noutputs:\n  - {format: pem, path: "ca\\0.pem"}\n'
    )
    r = runner.invoke(cli, ["build", "-c", "cabundle.yaml"])
    assert r.exit_code == 2, r.output
    assert "outputs[0].path: a file name cannot hold a NUL byte" in r.stderr
    assert "Traceback" not in r.output and sorted(p.name for p in in_tmp.iterdir()) == [
        "cabundle.yaml"
    ]


@pytest.mark.parametrize(
    ("key", "text"),
    [
        ("roots[1]", 'roots: [isrg-root-x1, "a\\0b.pem"]\n'),
        ("exclude[0]", 'roots: [isrg-root-x1]\nexclude: ["x/a\\0b"]\n'),
    ],
)
def test_a_nul_in_a_root_file_name_says_so(
    in_tmp: Path, runner: CliRunner, key: str, text: str
) -> None:
    # It said "no such root file", as for a name a file could have but none has.
    (in_tmp / "cabundle.yaml").write_text(text)
    r = runner.invoke(cli, ["build", "-c", "cabundle.yaml"])
    assert r.exit_code == 2, r.output
    assert f"{key}: root file" in r.stderr and "holds a NUL byte" in r.stderr, r.stderr
    assert "no such root file" not in r.stderr
