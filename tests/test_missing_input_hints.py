"""A missing CA file, devices file or ``fs put`` SOURCE was said with no hint ("no such
CA file"): each says how to get one (a near name beside it comes first, as before)."""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest
from click.testing import CliRunner

from esp_cabundle.cli import cli
from esp_cabundle.fs import create_image

X1 = Path(__file__).parent / "data" / "letsencrypt" / "isrgrootx1.pem"


def _hint(runner: CliRunner, *args: str) -> str:
    r = runner.invoke(cli, list(args))
    assert r.exit_code == 2, r.output
    assert r.output.count("  hint: ") == 1, r.output
    return r.output.split("  hint: ")[1].strip()


@pytest.mark.parametrize("name", ["nosuch.pem", "my ca.pem"])
def test_a_missing_ca_file_is_told_how_to_build_one(
    runner: CliRunner, in_tmp: Path, name: str
) -> None:
    missing = in_tmp / "certs" / name
    missing.parent.mkdir()
    for line in (
        ["flash", "--port", "/dev/null", "--board", "mdash-arduino"],
        ["pack", "--fs", "littlefs", "--profile", "esp-idf", "--size", "64K", "-o", "x.bin"],
    ):
        hint = _hint(runner, *line, "--bundle", str(missing))
        assert (
            hint == f"build one: esp-cabundle build --preset default -o {shlex.quote(str(missing))}"
        )
    # the hinted line makes the file
    words = shlex.split(hint.removeprefix("build one: esp-cabundle "))
    assert runner.invoke(cli, words).exit_code == 0 and missing.is_file()


def test_a_missing_devices_file_says_what_it_holds(runner: CliRunner, tmp_path: Path) -> None:
    missing = tmp_path / "no such.txt"
    line = ["push", "--rpc", "http://127.0.0.1:9/rpc", "--board", "mongoose-os-esp32"]
    hint = _hint(runner, *line, "--bundle", str(X1), "--devices", str(missing))
    assert "device ids, one a line" in hint and "--device ID" in hint
    assert f"> {shlex.quote(str(missing))};" in hint


def test_a_missing_fs_put_source_says_what_is_read(runner: CliRunner, tmp_path: Path) -> None:
    image = tmp_path / "fs.bin"
    image.write_bytes(create_image("littlefs", "esp-idf", 64 * 1024).to_bytes())
    hint = _hint(runner, "fs", "put", str(image), str(tmp_path / "nosuch.pem"), "/x")
    assert hint.startswith("SOURCE is a file on this computer, copied into the image")
    (tmp_path / "ca.pem").write_bytes(X1.read_bytes())  # a near name is said instead
    assert _hint(runner, "fs", "put", str(image), str(tmp_path / "ca.pen"), "/x") == (
        "did you mean 'ca.pem'?"
    )


@pytest.mark.parametrize("name", ["src/mDash.c", "main.cpp", "sketch.ino"])
def test_a_missing_source_file_is_not_hinted_to_be_built(
    runner: CliRunner, in_tmp: Path, name: str
) -> None:
    """``inspect src/mDash.c`` (its --help's example) names a library's source to read:
    "build one ... -o src/mDash.c" would overwrite what the user meant to read."""
    pack = ["pack", "--fs", "littlefs", "--profile", "esp-idf", "--size", "64K", "-o", "x.bin"]
    for line in (["inspect", name], [*pack, "--bundle", name]):
        hint = _hint(runner, *line)
        assert "build" not in hint and f"working directory ({in_tmp})" in hint, hint
        assert f"has no {Path(name).name};" in hint or "has no src/;" in hint, hint
    assert not list(in_tmp.iterdir())  # nothing written


def test_a_missing_c_output_name_is_still_hinted_to_be_built(
    runner: CliRunner, in_tmp: Path
) -> None:
    """build's own C output (ca_pem.h) is a name the tool makes: its build is hinted."""
    assert _hint(runner, "inspect", "ca_pem.h") == (
        "build one: esp-cabundle build --preset default -o ca_pem.h"
    )


def test_a_missing_root_file_says_it_once_with_a_hint(runner: CliRunner, in_tmp: Path) -> None:
    """'missing.pem: root file 'missing.pem' does not exist' named it twice, no hint."""
    r = runner.invoke(cli, ["build", "--root", "missing.pem", "-o", "ca.pem"])
    assert r.exit_code == 2 and not (in_tmp / "ca.pem").exists(), r.output
    assert r.output.count("missing.pem") == 1, r.output
    assert "no such root file" in r.output
    assert "hint: " in r.output and "esp-cabundle roots" in r.output


def test_dash_where_standard_input_is_not_read_says_dev_stdin(
    runner: CliRunner, in_tmp: Path
) -> None:
    """README: for --chain, --root and fs put's source "the error says to read standard
    input as /dev/stdin"; check said how to save a chain, build guessed aliases."""
    said = "'-' is read as a file name here; read standard input as /dev/stdin"
    image = in_tmp / "fs.bin"
    image.write_bytes(create_image("littlefs", "esp-idf", 64 * 1024).to_bytes())
    (in_tmp / "cabundle.yaml").write_text("preset: letsencrypt\n")  # check's save hint
    assert _hint(runner, "check", "--chain", "-") == said
    assert _hint(runner, "build", "--dry-run", "--root", "-") == said
    assert _hint(runner, "build", "--dry-run", "--exclude", "-") == said
    assert _hint(runner, "fs", "put", str(image), "-", "/ca.pem") == said
    # A file named '-' is still read, as the file it is.
    (in_tmp / "-").write_bytes(X1.read_bytes())
    assert runner.invoke(cli, ["build", "--dry-run", "--root", "-"]).exit_code == 0
