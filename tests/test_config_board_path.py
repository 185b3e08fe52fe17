"""A board a config names by path (an image output's ``board: ./myb.yaml``, the top-level
``board:``) is read beside the config, as its other paths are: an output's board was
read from the working directory, so ``build -c ../w10/cabundle.yaml`` run from w11
packed the CA where w11's look-alike myb.yaml put it, exit 0."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from esp_cabundle.cli import cli
from esp_cabundle.config import load_config
from esp_cabundle.fs import open_image

CSV = "# Name, Type, SubType, Offset, Size\nnvs, data, nvs, , 16K\nfs, data, spiffs, , 64K\n"

BOARD = """\
name: myb
chips: [esp32]
flash_size: 4MB
partition_table:
  offset: 0x8000
  layout: parts.csv
filesystem:
  partitions: [fs]
  type: spiffs
  profile: esp-idf
  ca_path: {ca_path}
output:
  form: filesystem
verify:
  rules: mbedtls
  clock: none
"""


def _board(where: Path, ca_path: str) -> None:
    where.mkdir(parents=True, exist_ok=True)
    (where / "myb.yaml").write_text(BOARD.format(ca_path=ca_path))
    (where / "parts.csv").write_text(CSV)


@pytest.mark.parametrize("look_alike", [True, False])
def test_an_outputs_board_file_is_read_beside_the_config(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, look_alike: bool
) -> None:
    w10, w11 = tmp_path / "w10", tmp_path / "w11"
    _board(w10, "/ca.pem")
    (w10 / "cabundle.yaml").write_text(
        "preset: letsencrypt\noutputs:\n  - {format: spiffs, path: sp.bin, board: ./myb.yaml}\n"
    )
    w11.mkdir()
    if look_alike:  # a board file of the same name where the command runs
        _board(w11, "/other.pem")
    monkeypatch.chdir(w11)
    before = sorted(w11.rglob("*"))
    argv = ["build", "--quiet", "-c", "../w10/cabundle.yaml", "--depfile", "../w10/ca.d"]
    r = CliRunner().invoke(cli, argv)
    assert r.exit_code == 0, r.output
    files = [f.path for f in open_image((w10 / "sp.bin").read_bytes()).files()]
    assert files == ["/ca.pem"]
    deps = (w10 / "ca.d").read_text().partition("\n\n")[0]
    assert "  ../w10/myb.yaml \\\n  ../w10/parts.csv" in deps, deps
    assert "w11" not in deps and sorted(w11.rglob("*")) == before


@pytest.mark.parametrize("look_alike", [True, False])
def test_the_top_level_board_file_is_read_beside_the_config(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, look_alike: bool
) -> None:
    _board(tmp_path / "w10", "/ca.pem")
    (tmp_path / "w10" / "cabundle.yaml").write_text("preset: letsencrypt\nboard: myb.yaml\n")
    (tmp_path / "w11").mkdir()
    if look_alike:
        _board(tmp_path / "w11", "/other.pem")
    monkeypatch.chdir(tmp_path / "w11")
    board = load_config("../w10/cabundle.yaml").board
    assert board is not None and board.filesystem is not None
    assert board.filesystem.ca_path == "/ca.pem"
    assert board.source == str(Path("../w10/myb.yaml"))


def test_a_missing_board_file_names_the_config_line_and_the_path_beside_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Nothing beside the config: refused at the entry's line, even with a myb.yaml in
    the working directory, and nothing written."""
    (tmp_path / "w10").mkdir()
    (tmp_path / "w10" / "cabundle.yaml").write_text(
        "preset: letsencrypt\noutputs:\n  - {format: spiffs, path: sp.bin, board: ./myb.yaml}\n"
    )
    _board(tmp_path / "w11", "/other.pem")
    monkeypatch.chdir(tmp_path / "w11")
    before = sorted(tmp_path.rglob("*"))
    r = CliRunner().invoke(cli, ["build", "-c", "../w10/cabundle.yaml"])
    assert r.exit_code == 2, r.output
    assert "../w10/cabundle.yaml:3:" in r.stderr and "../w10/myb.yaml" in r.stderr, r.stderr
    assert sorted(tmp_path.rglob("*")) == before


def test_a_shipped_board_name_stays_a_name(tmp_path: Path) -> None:
    """A board's name is not made a path beside the config (a file of that name there
    is not read)."""
    (tmp_path / "mdash-arduino").write_text("not a board")
    (tmp_path / "cabundle.yaml").write_text(
        "preset: letsencrypt\nboard: mdash-arduino\n"
        "outputs:\n  - {format: spiffs, path: sp.bin, board: mdash-arduino}\n"
    )
    config = load_config(tmp_path / "cabundle.yaml")
    assert config.board is not None and config.board.name == "mdash-arduino"
    image = config.outputs[0].options["image"]
    assert image.board is not None and image.board.name == "mdash-arduino"
