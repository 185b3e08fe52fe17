"""Sizes in the file-system and partition messages are grouped by thousands
(``text.byte_count``), as sizes are in every other message: ``12,288 bytes``."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from esp_cabundle.cli import cli
from esp_cabundle.errors import PartitionTableError
from esp_cabundle.partitions import PartitionTable

PACK = ["pack", "--bundle", "ca.pem", "-o", "fs.bin", "--profile", "esp-idf"]
CA = Path(__file__).parent / "data" / "letsencrypt" / "isrgrootx1.pem"


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["--fs", "spiffs", "--size", "12345"], "SPIFFS image size 12,345 bytes is not"),
        (["--fs", "littlefs", "--size", "12345"], "LittleFS image size 12,345 bytes is not"),
        (["--fs", "spiffs", "--size", "8K"], "8,192 bytes hold 2"),
        (
            ["--fs", "littlefs", "--size", "4K"],
            "LittleFS needs at least 2 blocks; 4,096 bytes is 1",
        ),
    ],
)
def test_pack_says_sizes_grouped(
    args: list[str], said: str, in_tmp: Path, runner: CliRunner
) -> None:
    (in_tmp / "ca.pem").write_bytes(CA.read_bytes())
    r = runner.invoke(cli, [*PACK, *args])
    assert r.exit_code == 2 and said in r.stderr, r.output
    assert not (in_tmp / "fs.bin").exists()


def test_a_table_cut_short_says_where_grouped() -> None:
    rows = "".join(f"p{i}, data, nvs, {0x10000 + i * 0x1000:#x}, 0x1000\n" for i in range(40))
    table = PartitionTable.from_csv(rows).to_binary()
    with pytest.raises(PartitionTableError, match="ends 1,120 bytes into it"):
        PartitionTable.from_binary(table[:1120], offset=0x8000)
