"""YAML 1.1 numbers and booleans nobody writing them means: ``190:20:30`` read as the
base-60 number 685230, ``010`` as the octal 8, ``no`` as false where text is expected.
Refused naming file:line, said as written, and nothing is built or written."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from esp_cabundle.cli import cli


@pytest.mark.parametrize(
    ("line", "said", "hint"),
    [
        (
            "max_bytes: 190:20:30",
            "max_bytes: YAML 1.1 reads 190:20:30 as the base-60 (sexagesimal) number 685230",
            "write the number meant in decimal (without ':'), or quote it to keep it as "
            "text: max_bytes: '190:20:30'",
        ),
        (
            "max_bytes: 010",
            "max_bytes: YAML 1.1 reads 010 as the octal number 8",
            "without the leading 0",
        ),
        (
            "exclude: [no]",
            "exclude[0]: expected a string, but YAML 1.1 reads no as the boolean false",
            "quote it to keep it as text: 'no'",
        ),
        (
            "max_bytes: off",
            "max_bytes: expected an integer, but YAML 1.1 reads off as the boolean false",
            "write an integer there",
        ),
    ],
)
def test_yaml11_surprises_are_refused_at_their_line(
    in_tmp: Path, runner: CliRunner, line: str, said: str, hint: str
) -> None:
    (in_tmp / "cabundle.yaml").write_text(f"preset: letsencrypt\n{line}\n")
    r = runner.invoke(cli, ["build"])
    assert r.exit_code == 2, r.output
    assert f"Error: {in_tmp}/cabundle.yaml:2: {said}\n" in r.stderr, r.stderr
    assert hint in r.stderr
    assert sorted(p.name for p in in_tmp.iterdir()) == ["cabundle.yaml"]  # nothing written


@pytest.mark.parametrize("line", ["max_bytes: 16384", "max_bytes: '16K'", "max_bytes: 0x4000"])
def test_plain_numbers_still_read(in_tmp: Path, runner: CliRunner, line: str) -> None:
    (in_tmp / "cabundle.yaml").write_text(f"preset: letsencrypt\n{line}\n")
    r = runner.invoke(cli, ["build", "--no-lock", "--dry-run"])
    assert r.exit_code == 0, r.output


def test_a_quoted_word_is_text(in_tmp: Path, runner: CliRunner) -> None:
    (in_tmp / "cabundle.yaml").write_text("preset: letsencrypt\nexclude: ['no']\n")
    r = runner.invoke(cli, ["build", "--no-lock", "--dry-run"])
    assert r.exit_code == 2 and "exclude[0]: unknown root 'no'" in r.stderr, r.output


@pytest.mark.parametrize(
    ("line", "said"),
    [
        ("010: 1", "unknown key '010'"),
        ("1:30: 1", "unknown key '1:30'"),
        ("yes: 1", "unknown key 'yes'"),
        ("1.5: 1", "unknown key '1.5'"),  # not "in 1: ...": a key may hold a '.'
        ("'foo.bar': 1", "unknown key 'foo.bar'"),
        ("outputs:\n  - {format: pem, 010: x}", "in outputs[0]: unknown key '010'"),
    ],
)
def test_a_number_like_key_is_an_unknown_key_as_written(
    in_tmp: Path, runner: CliRunner, line: str, said: str
) -> None:
    """No cabundle.yaml key is a number: a key YAML 1.1 would read as one (octal,
    base-60) is a misspelt key, said as written with the known keys, not as a number."""
    (in_tmp / "cabundle.yaml").write_text(f"preset: letsencrypt\n{line}\n")
    r = runner.invoke(cli, ["build"])
    assert r.exit_code == 2, r.output
    assert re.search(rf"cabundle\.yaml:\d+: {re.escape(said)}\n", r.stderr), r.stderr
    assert "YAML 1.1 reads" not in r.stderr and "known keys:" in r.stderr, r.stderr
    assert sorted(p.name for p in in_tmp.iterdir()) == ["cabundle.yaml"]  # nothing written


def test_a_free_key_keeps_its_name_as_written() -> None:
    """Where keys are names (a roadmap's sources, a firmware's connections), ``010`` and
    ``1:30`` are those names, not 8 and 90."""
    from esp_cabundle.yamlnodes import compose_nodes

    m = compose_nodes("010: a\n1:30: b\n'7': c\n", "names.yaml").as_mapping()
    assert {k: n.as_str() for k, n in m.items()} == {"010": "a", "1:30": "b", "7": "c"}


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ("?\n: 1\n", "keys must be strings, got nothing (an empty key)"),  # was "a list or mapping"
        ("[a]: 1\n", "keys must be strings, got a list or mapping"),
    ],
)
def test_a_key_that_is_no_name_is_said_as_what_it_is(
    in_tmp: Path, runner: CliRunner, text: str, said: str
) -> None:
    (in_tmp / "cabundle.yaml").write_text("preset: letsencrypt\n" + text)
    r = runner.invoke(cli, ["build"])
    assert r.exit_code == 2 and f"cabundle.yaml:2: {said}\n" in r.stderr, r.stderr
    assert sorted(p.name for p in in_tmp.iterdir()) == ["cabundle.yaml"]
