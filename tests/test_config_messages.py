"""What a new user's slips in cabundle.yaml, cabundle.lock and -c are answered with: the
text as written, the line, and the fix (a name near a typo, the file meant), never a
silent fallback (``outputs: []`` wrote ca.pem)."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from esp_cabundle.boards import load_board
from esp_cabundle.cli import cli
from esp_cabundle.config import CONFIG_NAME, parse_config
from esp_cabundle.errors import ConfigError, InputError
from esp_cabundle.lockfile import Lock


def _config_error(text: str) -> ConfigError:
    with pytest.raises(ConfigError) as e:
        parse_config(text, path=Path("cabundle.yaml"))
    return e.value


def test_a_mistyped_preset_gets_the_cli_s_did_you_mean_at_its_line() -> None:
    e = _config_error("roots: [isrg-root-x1]\npreset: defualt\n")
    assert e.line == 2 and "'defualt' is not one of" in e.reason
    assert e.hint == "did you mean 'default'?"


@pytest.mark.parametrize(
    ("value", "number", "key"),
    [
        ("5.10", "the number 5.1", "idf_version"),  # YAML's 5.1 is another version
        ("5.4", "a number", "idf_version"),
        ("2.10", "the number 2.1", "platform"),
    ],
)
def test_a_version_yaml_reads_as_a_number_is_said_as_written(
    value: str, number: str, key: str
) -> None:
    board = ", board: arduino-esp32-littlefs" if key == "platform" else ""
    fmt = "littlefs" if key == "platform" else "idf-bundle"
    e = _config_error(f"preset: default\noutputs:\n  - {{format: {fmt}{board}, {key}: {value}}}\n")
    assert e.line == 3
    assert f"YAML reads {value} as {number}, not as the text {value}" in e.reason
    assert e.hint == f"quote it: {key}: '{value}'"


def test_a_version_yaml_reads_as_a_number_in_a_board_file(tmp_path: Path) -> None:
    board = tmp_path / "b.yaml"
    board.write_text(
        "name: b\ndescription: x\nframework: x\nchips: [esp32]\nflash_size: 4M\n"
        "output:\n  form: idf-bundle\n  idf_version: 5.10\n"
        "verify:\n  rules: idf-bundle\n  clock: none\n"
    )
    with pytest.raises(ConfigError, match=r"YAML reads 5\.10 as the number 5\.1") as e:
        load_board(board)
    assert e.value.line == 8 and e.value.hint == "quote it: idf_version: '5.10'"


@pytest.mark.parametrize(("value", "said"), [("[]", "an empty list names"), ("", "is empty:")])
def test_outputs_that_name_nothing_are_an_error_not_ca_pem(
    in_tmp: Path, runner: CliRunner, value: str, said: str
) -> None:
    (in_tmp / CONFIG_NAME).write_text(f"preset: default\noutputs: {value}\n")
    r = runner.invoke(cli, ["build", "--no-lock"])
    assert r.exit_code == 2, r.output
    assert f"cabundle.yaml:2: outputs: {said} no file to write" in r.stderr
    assert "remove 'outputs:' to write the default ca.pem" in r.stderr
    assert sorted(p.name for p in in_tmp.iterdir()) == [CONFIG_NAME]


def test_a_lock_that_is_not_json_names_its_line_and_the_way_back(
    in_tmp: Path, runner: CliRunner
) -> None:
    r = runner.invoke(cli, ["build", "--preset", "letsencrypt", "-q", "-o", "ca.pem"])
    assert r.exit_code == 0, r.output
    lock = in_tmp / "cabundle.lock"
    lines = lock.read_text().splitlines()
    lock.write_text("\n".join([*lines[:3], "<<<<<<< HEAD", *lines[3:]]) + "\n")
    before = lock.read_bytes()
    r = runner.invoke(cli, ["build", "--preset", "letsencrypt", "--locked", "-o", "x.pem"])
    assert r.exit_code == 2, r.output
    assert "cabundle.lock:4: lock file is not valid JSON (" in r.stderr
    assert (
        "hint: restore it from version control, or run 'esp-cabundle build --preset "
        "letsencrypt -o x.pem' without --locked" in r.stderr
    )
    assert lock.read_bytes() == before and not (in_tmp / "x.pem").exists()
    # an empty one (a cut write) gets the same way back
    with pytest.raises(InputError, match="empty file") as e:
        Lock.from_bytes(b"", path="cabundle.lock")
    assert "restore it from version control" in (e.value.hint or "")


def test_c_with_a_directory_suggests_its_cabundle_yaml(in_tmp: Path, runner: CliRunner) -> None:
    (in_tmp / "proj").mkdir()
    (in_tmp / "proj" / CONFIG_NAME).write_text("preset: default\n")
    (in_tmp / "empty").mkdir()
    r = runner.invoke(cli, ["build", "-c", "proj"])
    assert r.exit_code == 2, r.output
    assert "hint: name a file with -c, e.g. -c proj/cabundle.yaml" in r.stderr
    r = runner.invoke(cli, ["build", "-c", "empty/"])  # none there: a FILE placeholder
    assert r.exit_code == 2 and "e.g. -c empty/FILE" in r.stderr, r.output
    assert sorted(p.name for p in in_tmp.iterdir()) == ["empty", "proj"]


def test_c_naming_a_missing_file_says_how_to_write_one(in_tmp: Path, runner: CliRunner) -> None:
    # A new user's `build -c fleet.yaml` before any config exists: the error had no hint.
    r = runner.invoke(cli, ["build", "-c", "fleet.yaml"])
    assert r.exit_code == 2, r.output
    assert "fleet.yaml: no such config file" in r.stderr
    assert "hint: write one with: esp-cabundle init -o fleet.yaml" in r.stderr
    assert list(in_tmp.iterdir()) == []


@pytest.mark.parametrize(
    ("output", "reason", "hint"),
    [
        # a misspelt 'format' was "each output needs a 'format'", with no word on the typo
        ("{fromat: pem, path: a.pem}", "in outputs[0]: unknown key 'fromat'", "did you mean"),
        ("{path: include/ca_pem.h}", "outputs[0]: each output needs a 'format'", "format: c"),
        ("{path: a.pem}", "outputs[0]: each output needs a 'format'", "add format: pem"),
    ],
)
def test_an_output_without_its_format_says_the_key_meant(
    output: str, reason: str, hint: str
) -> None:
    e = _config_error(f"preset: default\noutputs:\n  - {output}\n")
    assert e.line == 3 and e.reason == reason, e
    assert e.hint is not None and hint in e.hint, e.hint
    if hint == "did you mean":
        assert e.hint == "did you mean 'format'?"


@pytest.mark.parametrize(
    "outputs",
    [
        "  - &pem {format: pem, path: a/ca.pem}\n  - {<<: *pem, path: b/ca.pem}\n",
        "  - &pem {format: pem, path: a/ca.pem}\n  - <<: [*pem]\n    path: b/ca.pem\n",
    ],
)
def test_a_yaml_merge_key_is_said_as_one(outputs: str) -> None:
    """``<<: *base`` was "tag !!merge is not supported", its hint to quote a string that
    starts with '!', which the file does not hold: now the merge key, and what to write."""
    e = _config_error(f"preset: default\noutputs:\n{outputs}")
    assert e.line == 4 and e.reason == "outputs[1]: merge key '<<' is not supported", e
    assert e.hint is not None and "keys out" in e.hint and "'!'" not in e.hint
