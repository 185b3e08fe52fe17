"""A file that is not UTF-8 is refused at the line and column an editor shows, as
cabundle.yaml's reader says it: "(byte 1234)" sent the user to a hex viewer."""

from __future__ import annotations

from pathlib import Path

import pytest

from esp_cabundle.cli import run
from esp_cabundle.errors import ConfigError, InputError
from esp_cabundle.formats.idf_filter import load_cmn_filter
from esp_cabundle.limits import loads_json
from esp_cabundle.text import decoded_utf8, utf8_fault

BAD = b'{\n  "roots": ["caf\xe9"]\n}\n'  # Latin-1 e-acute on line 2, column 17


def test_utf8_fault_counts_lines_and_columns_as_an_editor_shows_them() -> None:
    assert utf8_fault(BAD, BAD.index(b"\xe9")) == (2, 17, 0xE9)
    # a character of several bytes takes one column, a BOM none
    data = "\ufeffé\n  ü x".encode() + b"\xff"
    assert utf8_fault(data, len(data) - 1) == (2, 6, 0xFF)


def test_json_says_line_and_column() -> None:
    with pytest.raises(InputError) as e:
        loads_json(BAD, what="lock file", path="cabundle.lock", cap=1 << 20)
    assert (
        e.value.message == "cabundle.lock:2: lock file is not UTF-8 text at column 17 (byte 0xe9)"
    )
    with pytest.raises(InputError) as e:
        loads_json(BAD, what="unit's answer", path=None, cap=1 << 20)
    assert e.value.message == "unit's answer is not UTF-8 text at line 2, column 17 (byte 0xe9)"


def test_filter_csv_says_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "cmn.csv"
    path.write_bytes(b"Owner,Common Name\nAcme,Caf\xe9 Root\n")
    with pytest.raises(InputError) as e:
        load_cmn_filter(path)
    assert e.value.message == f"{path}:2: the filter CSV is not UTF-8 text at column 9 (byte 0xe9)"


def test_devices_file_says_line_and_column(
    in_tmp: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (in_tmp / "units.txt").write_bytes(b"\xef\xbb\xbfdev1\n# the caf\xe9's unit\ndev2\n")
    argv = ["push", "--mqtt", "mqtt://127.0.0.1:9", "--board", "mdash-arduino"]
    assert run([*argv, "--devices", "units.txt"]) == 2
    err = capsys.readouterr().err
    said = "units.txt:2: the devices file is not UTF-8 text at column 10 (byte 0xe9)"
    assert err.startswith(f"Error: {said}\n"), err
    assert sorted(p.name for p in in_tmp.iterdir()) == ["units.txt"]


def test_one_helper_gives_every_reader_its_own_sentence() -> None:
    """decoded_utf8 is the refusal each reader above uses, in that reader's words."""
    assert decoded_utf8("\ufeffok".encode(), what="x", path="f", strip_bom=True) == "ok"
    assert decoded_utf8("\ufeffok".encode(), what="x", path="f") == "\ufeffok"
    wording = "cannot read {what}: not UTF-8 at {at}"
    with pytest.raises(ConfigError) as e:
        decoded_utf8(BAD, what="config file", path="c.yaml", error=ConfigError, wording=wording)
    assert (
        e.value.message == "c.yaml:2: cannot read config file: not UTF-8 at column 17 (byte 0xe9)"
    )
