"""Running out of memory is one clean error (exit 3, no traceback) in every command that
writes, and leaves no file behind: cli.py handles MemoryError for all commands, but only
``fs put`` was tested (tests/test_fs_memory.py). Here each command runs out while
building its image, or while its output is being written (its temporary file made and
filled, not yet renamed: the temporary file must go too)."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from esp_cabundle.cli import cli
from esp_cabundle.fs import edit

DATA = Path(__file__).parent / "data"
PEM = DATA / "letsencrypt" / "isrgrootx1.pem"


def _no_memory(*args: object, **kwargs: object) -> None:
    raise MemoryError


def _pack(fs: str) -> list[str]:
    return ["pack", "--bundle", "ca-in.pem", "--fs", fs, "--profile", "esp-idf", "--size", "64K",
            "-o", "out.bin"]  # fmt: skip


CASES = {
    "build": (["build", "--root", "ca-in.pem", "-o", "out.pem"], (os, "fsync")),
    "pack": (_pack("littlefs"), (edit, "_packed_image")),
    "pack-spiffs": (_pack("spiffs"), (os, "fsync")),
}


@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("as_json", [False, True], ids=["text", "json"])
def test_running_out_of_memory_is_one_clean_error_and_writes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, case: str, as_json: bool
) -> None:
    args, where = CASES[case]
    shutil.copyfile(PEM, tmp_path / "ca-in.pem")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(*where, _no_memory)
    r = CliRunner().invoke(cli, args + (["--json"] if as_json else []))
    assert r.exit_code == 3, r.output
    assert "Traceback" not in r.output and "MemoryError" not in r.output
    message = f"the machine ran out of memory running 'esp-cabundle {args[0]}'"
    if as_json:
        doc = json.loads(r.stdout)
        assert (doc["ok"], doc["kind"], doc["error"]) == (False, "OutOfMemory", message)
    else:
        assert f"Error: {message}" in r.stderr.splitlines()
    assert sorted(os.listdir(tmp_path)) == ["ca-in.pem"]
    assert (tmp_path / "ca-in.pem").read_bytes() == PEM.read_bytes()
