"""A board file's ``partition_table: layout:`` naming a partitions CSV (an ESP-IDF or
PlatformIO project's own table), read beside the board file: ``layout: partitions.csv``
was parsed as CSV text and refused with "the type field is empty"."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

from esp_cabundle.boards import load_board, parse_board
from esp_cabundle.cli import cli
from esp_cabundle.errors import ConfigError
from esp_cabundle.partitions import PartitionTable

R10 = Path(__file__).parent / "data" / "letsencrypt" / "2024-r10.pem"
CSV = "# Name, Type, SubType, Offset, Size\nnvs, data, nvs, , 16K\nfs, data, spiffs, , 64K\n"

BOARD = """\
name: {name}
chips: [esp32]
flash_size: 4MB
partition_table:
  offset: 0x8000
  layout: {layout}
filesystem:
  partitions: [fs]
  type: spiffs
  profile: esp-idf
  ca_path: /ca.pem
output:
  form: filesystem
verify:
  rules: mbedtls
  clock: none
"""
LAYOUT_LINE = 6
INLINE = "|\n" + "".join(f"    {row}\n" for row in CSV.splitlines())


def _board(where: Path, name: str, layout: str) -> Path:
    where.mkdir(parents=True, exist_ok=True)
    p = where / f"{name}.yaml"
    p.write_text(BOARD.format(name=name, layout=layout))
    return p


@pytest.mark.parametrize("layout", ["partitions.csv", "tables/partitions.csv", "./p.csv"])
def test_a_layout_path_is_read_beside_the_board_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, layout: str
) -> None:
    project = tmp_path / "project"
    (project / layout).parent.mkdir(parents=True, exist_ok=True)
    (project / layout).write_text(CSV)
    board = _board(project, "mine", layout)
    inline = load_board(_board(tmp_path / "inline", "mine", INLINE))
    monkeypatch.chdir(tmp_path)  # elsewhere: the path is the board file's, not the cwd's
    b = load_board(board)
    assert b.layout is not None and b.layout == inline.layout
    assert [p.name for p in b.layout] == ["nvs", "fs"]
    r = CliRunner().invoke(cli, ["boards", "show", "project/mine.yaml"])
    assert r.exit_code == 0, r.output
    assert " ".join(r.output.split()).count("fs data spiffs 0xd000 0x10000") == 1


def test_an_absolute_layout_path(tmp_path: Path) -> None:
    (tmp_path / "p.csv").write_text(CSV)
    b = load_board(_board(tmp_path / "boards", "mine", str(tmp_path / "p.csv")))
    assert b.layout is not None and [p.offset for p in b.layout] == [0x9000, 0xD000]


@pytest.mark.parametrize(
    ("make", "said"),
    [
        (lambda p: None, "no such partitions CSV"),
        (lambda p: p.mkdir(), "is a directory, expected a partitions CSV"),
        (lambda p: p.write_bytes(b"nvs, data, nvs, , 16K\n\xff\n"), "not UTF-8"),
        (lambda p: os.mkfifo(p), "not a regular partitions CSV"),
        (lambda p: p.write_text("#" * (300 << 10)), "256 KiB"),
    ],
)
def test_a_layout_file_that_cannot_be_read_names_the_board_line_and_the_path(
    tmp_path: Path, make: Callable[[Path], object], said: str
) -> None:
    board = _board(tmp_path / "b", "mine", "partitions.csv")
    make(tmp_path / "b" / "partitions.csv")
    before = sorted(tmp_path.rglob("*"))
    with pytest.raises(ConfigError) as e:
        load_board(board)
    text = str(e.value)
    assert text.startswith(
        f"{board}:{LAYOUT_LINE}: partition_table.layout: {tmp_path / 'b' / 'partitions.csv'}"
    ), text
    assert said in text and e.value.exit_code == 2
    if "no such" in said:
        assert "'layout: |' block" in text and "relative to the board file" in text
    assert sorted(tmp_path.rglob("*")) == before


def test_a_missing_layout_file_from_the_cli_exits_2(runner: CliRunner, in_tmp: Path) -> None:
    _board(in_tmp, "mine", "partitions.csv")
    r = runner.invoke(cli, ["boards", "show", "mine.yaml"])
    assert r.exit_code == 2
    assert f"mine.yaml:{LAYOUT_LINE}: partition_table.layout: partitions.csv: no such" in r.stderr
    assert "type field" not in r.stderr  # the file name was parsed as CSV text
    assert sorted(p.name for p in in_tmp.iterdir()) == ["mine.yaml"]


def test_a_bad_row_in_a_layout_file_names_the_csv_line_and_the_board(tmp_path: Path) -> None:
    (tmp_path / "p.csv").write_text("nvs, data, nvs, , 16K\nfs, data, spifs, , 64K\n")
    board = _board(tmp_path, "mine", "p.csv")
    with pytest.raises(ConfigError) as e:
        load_board(board)
    text = str(e.value)
    assert text.startswith(f"{tmp_path / 'p.csv'}:2: unknown subtype 'spifs'"), text
    assert f"(the partition_table.layout of {board}:{LAYOUT_LINE})" in text


@pytest.mark.parametrize(
    ("layout", "said"),
    [
        ('"nvs, data"', "partition_table.layout: partition 'nvs' has no size"),
        ("'fs, data, spifs, , 64K'", "unknown subtype 'spifs'"),
    ],
)
def test_a_bad_inline_layout_says_it_is_csv_text_or_a_path(layout: str, said: str) -> None:
    with pytest.raises(ConfigError) as e:
        parse_board(BOARD.format(name="t", layout=layout), source="t.yaml")
    text = str(e.value)
    # a one-line value is on the layout's own line
    assert text.startswith(f"t.yaml:{LAYOUT_LINE}: ") and said in text, text
    assert "'layout: |' block" in text and "path of a partitions CSV" in text


def test_a_depfile_lists_the_layout_file_an_image_takes_its_size_from(in_tmp: Path) -> None:
    """Reviewer item: ``build --depfile`` listed the board file but not the partitions
    CSV its layout names, so make never rebuilt fs.bin when the CSV grew it (64K to
    128K)."""
    _board(in_tmp, "mine", "tables/partitions.csv")
    (in_tmp / "tables").mkdir()
    (in_tmp / "tables" / "partitions.csv").write_text(CSV)
    (in_tmp / "cabundle.yaml").write_text(
        "preset: letsencrypt\noutputs:\n  - {format: spiffs, path: fs.bin, board: ./mine.yaml}\n"
    )
    argv = ["build", "--quiet", "--depfile", "ca.d"]
    r = CliRunner().invoke(cli, argv)
    assert r.exit_code == 0, r.output
    assert (in_tmp / "fs.bin").stat().st_size == 64 << 10
    deps = (in_tmp / "ca.d").read_text().partition("\n\n")[0]
    assert deps.endswith("  mine.yaml \\\n  tables/partitions.csv"), deps
    (in_tmp / "Makefile").write_text("fs.bin: cabundle.yaml\n\t@echo rebuilt\n-include ca.d\n")

    def make() -> str:
        argv = ["make", "fs.bin"]
        return subprocess.run(argv, cwd=in_tmp, capture_output=True, text=True, check=True).stdout

    assert "rebuilt" not in make()  # up to date: the build just wrote it
    (in_tmp / "tables" / "partitions.csv").write_text(CSV.replace("64K", "128K"))
    later = (in_tmp / "fs.bin").stat().st_mtime + 60
    os.utime(in_tmp / "tables" / "partitions.csv", (later, later))
    assert "rebuilt" in make()
    r = CliRunner().invoke(cli, argv)
    assert r.exit_code == 0, r.output
    assert (in_tmp / "fs.bin").stat().st_size == 128 << 10


@pytest.mark.parametrize("argv", [["boards", "./t.yaml"], ["boards", "show", "t.yaml"]])
def test_a_layout_in_an_unknown_users_home_exits_2(
    runner: CliRunner, in_tmp: Path, argv: list[str]
) -> None:
    """``layout: ~nouser/x.csv``: Path.expanduser's RuntimeError was a traceback."""
    _board(in_tmp, "t", "~no-such-user-esp/x.csv")
    r = runner.invoke(cli, argv)
    assert r.exit_code == 2, r.output
    said = f"t.yaml:{LAYOUT_LINE}: partition_table.layout: no user 'no-such-user-esp' for "
    assert said + "~no-such-user-esp/x.csv" in r.stderr, r.stderr
    assert sorted(p.name for p in in_tmp.iterdir()) == ["t.yaml"]


@pytest.mark.parametrize(
    ("argv", "said"),
    [
        (
            ["pack", "--board", "./mine.yaml", "--preset", "letsencrypt", "-o", "partitions.csv"],
            "the image partitions.csv would replace the board's partitions CSV partitions.csv",
        ),
        (["build", "-c", "csv.yaml"], "would replace the board's partitions CSV partitions.csv"),
        (["build", "-c", "board.yaml"], "would replace the board file mine.yaml"),
    ],
)
def test_no_output_replaces_the_board_file_or_its_layout_file(
    runner: CliRunner, in_tmp: Path, argv: list[str], said: str
) -> None:
    """``pack -o partitions.csv`` wrote the image over the CSV its board's layout names
    (and a build output could replace the board file): refused, nothing written."""
    _board(in_tmp, "mine", "partitions.csv")
    (in_tmp / "partitions.csv").write_text(CSV)
    fs = "  - {format: spiffs, path: fs.bin, board: ./mine.yaml}\n"
    for name, over in (("csv", "partitions.csv"), ("board", "mine.yaml")):
        text = f"preset: letsencrypt\noutputs:\n{fs}  - {{format: pem, path: {over}}}\n"
        (in_tmp / f"{name}.yaml").write_text(text)
    before = {p: p.read_bytes() for p in in_tmp.iterdir()}
    r = runner.invoke(cli, argv)
    assert r.exit_code == 2, r.output
    assert said in r.stderr and "nothing written" in r.stderr, r.stderr
    assert {p: p.read_bytes() for p in in_tmp.iterdir()} == before


@pytest.mark.parametrize(
    ("report", "said"),
    [
        ("mine.yaml", "the report mine.yaml would replace the board file mine.yaml"),
        ("partitions.csv", "would replace the board's partitions CSV partitions.csv"),
    ],
)
def test_check_report_replaces_neither_the_board_file_nor_its_layout_file(
    runner: CliRunner, in_tmp: Path, report: str, said: str
) -> None:
    """``check --board mine.yaml --report mine.yaml`` wrote the HTML report over the board
    file (and over the CSV its layout names): refused, nothing written."""
    _board(in_tmp, "mine", "partitions.csv")
    (in_tmp / "partitions.csv").write_text(CSV)
    (in_tmp / "c.pem").write_bytes(R10.read_bytes())
    before = {p: p.read_bytes() for p in in_tmp.iterdir()}
    argv = ["check", "--board", "./mine.yaml", "--chain", "c.pem", "--report", report]
    r = runner.invoke(cli, argv)
    assert r.exit_code == 2, r.output
    assert said in r.stderr and "nothing written" in r.stderr, r.stderr
    assert {p: p.read_bytes() for p in in_tmp.iterdir()} == before


@pytest.mark.parametrize("csv", [CSV, CSV.split("\n", 1)[1]])  # a comment first, or a row
def test_a_byte_order_mark_is_no_part_of_the_first_name(tmp_path: Path, csv: str) -> None:
    """A CSV saved as "UTF-8 with BOM": '\\ufeffnvs' was the first partition's name (or
    a first comment line was read as a row). gen_esp32part.py decodes such a file as
    'utf-8-sig'."""
    (tmp_path / "p.csv").write_bytes(b"\xef\xbb\xbf" + csv.encode())
    b = load_board(_board(tmp_path, "mine", "p.csv"))
    assert b.layout is not None and [p.name for p in b.layout] == ["nvs", "fs"]
    assert [p.offset for p in b.layout] == [0x9000, 0xD000]
    table = PartitionTable.from_csv("\ufeff" + csv, source="t.csv")
    assert [p.name for p in table] == ["nvs", "fs"]
