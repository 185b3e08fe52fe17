"""A board's ``partition_table: layout: FILE`` may name any readable file, and a parse
error of it quoted the field it refused: a board naming /etc/shadow (or a .env) echoed
the file's secrets in the error, text and ``--json``. A field is now quoted only when its
line looks like a partitions row and the value is at most 16 letters, digits or
``_ . + -`` (esp_cabundle.partition_csv._parse_csv_row); else the line and column say
where, and the hint what was expected."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from esp_cabundle.cli import cli
from esp_cabundle.errors import PartitionTableError
from esp_cabundle.partitions import PartitionTable

BOARD = """\
name: mine
chips: [esp32]
flash_size: 4MB
partition_table:
  offset: 0x8000
  layout: s.csv
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
HASH = "x6xQkZ9rT2pLmN8vWcY4"  # a shadow line's hash (a $ would be refused as a $VARIABLE)

SECRET_LINES = [
    (f"root:{HASH}:19000:0:99999:7:::", HASH, "the name (column 1) is 44 bytes"),
    (f"password,{HASH}", HASH, "column 2 is not a partition type"),
    ("user,hunter2", "hunter2", "column 2 is not a partition type"),  # short: not a row
    (f"nvs,data,{HASH},,16K", HASH, "column 3 is not a partition subtype"),
    (f"nvs,data,nvs,{HASH},16K", HASH, "column 4 is not a partition offset"),
    (f"nvs,data,nvs,,tok={HASH[:8]}", HASH[:8], "column 5 is not a partition size"),
    (f"nvs,data,nvs,,16K,{HASH}", HASH, "unknown flag in column 6"),
    (f"nvs,data,nvs,,16K,a/{HASH[:6]}", HASH[:6], "unknown flag in column 6"),
]


@pytest.mark.parametrize(("line", "secret", "said"), SECRET_LINES)
def test_a_layout_files_secret_looking_field_is_not_quoted(
    in_tmp: Path, runner: CliRunner, line: str, secret: str, said: str
) -> None:
    (in_tmp / "mine.yaml").write_text(BOARD)
    (in_tmp / "s.csv").write_text(f"# a comment\n{line}\n")
    for argv in ([], ["--json"]):
        r = runner.invoke(cli, ["boards", "show", "mine.yaml", *argv])
        assert r.exit_code == 2, r.output
        out = r.stdout + r.stderr
        assert secret not in out, out
        assert f"s.csv:2: {said}" in out, out
        if argv:
            assert said in json.loads(r.stdout or r.stderr)["error"]
    assert sorted(p.name for p in in_tmp.iterdir()) == ["mine.yaml", "s.csv"]


@pytest.mark.parametrize(
    ("row", "said"),
    [
        ("a, blob, nvs, , 4K", "unknown partition type 'blob'"),
        ("a, data, nvss, , 4K", "unknown subtype 'nvss'"),
        ("a, data, nvs, 0x9zz, 4K", "offset '0x9zz'"),
        ("a, data, nvs, , 4Q", "size '4Q'"),
        ("a, data, nvs, , 4K, secret", "unknown flag 'secret'"),
        ("a, data", "partition 'a' has no size"),
    ],
)
def test_a_partitions_rows_short_fields_are_still_quoted(row: str, said: str) -> None:
    with pytest.raises(PartitionTableError) as e:
        PartitionTable.from_csv(row + "\n", source="p.csv")
    assert said in str(e.value), str(e.value)


def test_a_field_not_shown_says_what_the_column_takes() -> None:
    with pytest.raises(PartitionTableError) as e:
        PartitionTable.from_csv("a, data, nvs, , size:lots\n", source="p.csv")
    assert e.value.message == "p.csv:1: column 5 is not a partition size (9 characters, not shown)"
    assert e.value.hint is not None and "0x40000" in e.value.hint
