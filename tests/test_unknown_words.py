"""An option or subcommand a command has not got (``check --server x``, ``push
stauts``) is said in the tool's words (cli.py, commands/_unknown.py): no usage banner,
which commands have the option, a hint giving the line as typed with the option or
command meant in its place (else the command's --help), exit 2, and under --json one
InputError document."""

from __future__ import annotations

import json
import shlex
from collections.abc import Iterator, Sequence
from pathlib import Path

import click
import pytest
from support.cli_commands import command_at

from esp_cabundle import _typed_line as typed_line
from esp_cabundle import cli as cli_module
from esp_cabundle._typed_line import without_group_ends
from esp_cabundle.cli import COMMANDS, cli, run


def _paths(cmd: click.Command, path: list[str]) -> Iterator[list[str]]:
    yield path
    if isinstance(cmd, click.Group):
        for name, sub in cmd.commands.items():
            yield from _paths(sub, [*path, name])


CTX = click.Context(cli)
PATHS = [p for name in COMMANDS if (c := cli.get_command(CTX, name)) for p in _paths(c, [name])]


def _said(capsys: pytest.CaptureFixture[str]) -> tuple[str, str]:
    out = capsys.readouterr()
    assert out.out == "" and "Usage:" not in out.err, out
    error, _, hint = out.err.partition("\n  hint: ")
    assert error.startswith("Error: ") and hint.endswith("\n") and "\n" not in hint[:-1], out.err
    return error.removeprefix("Error: "), hint[:-1]


def _copied(hint: str) -> list[str]:
    """The command line a hint gives (after its 'e.g. esp-cabundle')."""
    return shlex.split(hint.partition("e.g. esp-cabundle ")[2])


@pytest.mark.parametrize("path", PATHS, ids=[" ".join(p) for p in PATHS])
def test_every_command_says_an_unknown_option_in_its_words(
    in_tmp: Path, capsys: pytest.CaptureFixture[str], path: list[str]
) -> None:
    assert run([*path, "--no-such-option"]) == 2
    error, hint = _said(capsys)
    assert error == f"{' '.join(path)} has no --no-such-option option", error
    assert hint == f"{' '.join(path)}'s options: esp-cabundle {' '.join(path)} --help", hint
    assert run([*path, "--no-such-option", "--json"]) == 2
    out = capsys.readouterr()
    doc = json.loads(out.out)
    assert out.err == "" and doc["kind"] == "InputError" and doc["exit_code"] == 2, doc
    assert doc["error"] == error and doc["hint"] == hint, doc
    assert list(in_tmp.iterdir()) == []


@pytest.mark.parametrize(
    ("typed", "said", "meant"),
    [
        # a synonym the command has: --concurrency is not near --jobs in spelling
        (["push", "--jobs", "2"], "push has no --jobs option", ["push", "--concurrency", "2"]),
        (
            ["init", "--years=3", "-q"],
            "init has no --years option",
            ["init", "--service-years=3", "-q"],
        ),
        # another command has it: said which, and check's own option offered
        (
            ["check", "--server", "x"],
            "check has no --server option (--server is an option of push)",
            ["check", "--host", "x"],
        ),
        # nearest by spelling, taking a value as the typed one was given (not --json)
        (
            ["fs", "ls", "--sise", "4K", "x.bin"],
            "fs ls has no --sise option",
            ["fs", "ls", "--size", "4K", "x.bin"],
        ),
    ],
)
def test_an_unknown_option_hints_the_line_with_the_one_meant(
    in_tmp: Path,
    capsys: pytest.CaptureFixture[str],
    typed: list[str],
    said: str,
    meant: list[str],
) -> None:
    assert run(typed) == 2
    error, hint = _said(capsys)
    assert error == said
    assert hint.startswith("did you mean --"), hint
    assert _copied(hint) == meant, hint


def test_an_option_of_other_commands_names_them(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["pack", "--host", "x"]) == 2
    error, hint = _said(capsys)
    assert error == "pack has no --host option (--host is an option of chains show and check)"
    assert hint == "pack's options: esp-cabundle pack --help"


@pytest.mark.parametrize(
    ("typed", "said", "meant"),
    [
        (["buidl", "-q"], "esp-cabundle has no command 'buidl'", ["build", "-q"]),
        (["--debug", "buidl"], "esp-cabundle has no command 'buidl'", ["--debug", "build"]),
        (
            ["journal", "show"],
            "journal has no command 'show' (its commands: list, prune)",
            ["journal", "list"],
        ),
        (
            ["push", "stauts"],
            "push has no command 'stauts' (its commands: status)",
            ["push", "status"],
        ),
        # push's options go after its subcommand (before it they are push's own)
        (
            ["push", "--ledger", "l.db", "stauts"],
            "push has no command 'stauts'",
            ["push", "status", "--ledger", "l.db"],
        ),
        (["fs", "lss", "x.bin"], "fs has no command 'lss'", ["fs", "ls", "x.bin"]),
    ],
)
def test_a_command_typo_hints_the_line_mended(
    in_tmp: Path,
    capsys: pytest.CaptureFixture[str],
    typed: list[str],
    said: str,
    meant: list[str],
) -> None:
    assert run(typed) == 2
    error, hint = _said(capsys)
    assert error.startswith(said), error
    assert _copied(hint) == meant, hint
    assert run([*typed, "--json"]) == 2
    doc = json.loads(capsys.readouterr().out)
    assert doc["kind"] == "InputError" and _copied(doc["hint"]) == [*meant, "--json"], doc


@pytest.mark.parametrize(
    ("typed", "name", "meant"),
    [
        (["--json", "buidl"], "buidl", ["build", "--json"]),
        (["--json", "buidl", "-q"], "buidl", ["build", "--json", "-q"]),
        (["--port", "x", "flsh"], "flsh", ["flash", "--port", "x"]),
        # misspelt options are put right, the tool's in place, the command's after it
        (["--debug", "--jsn", "buidl"], "buidl", ["--debug", "build", "--json"]),
        (["--debgu", "--forma", "c", "buidl"], "buidl", ["--debug", "build", "--format", "c"]),
        # one nothing is near is left out, with its value
        (["--zzzzzz=1", "--debug", "buidl"], "buidl", ["--debug", "build"]),
    ],
)
def test_a_command_typo_is_said_before_an_option_typed_before_it(
    in_tmp: Path,
    capsys: pytest.CaptureFixture[str],
    typed: list[str],
    name: str,
    meant: list[str],
) -> None:
    """Click fails the option before it reaches the command: ``--json buidl`` was told
    "--json goes after a command: esp-cabundle build --json", the typo never named."""
    assert run(typed) == 2
    if "--json" in typed:
        out = capsys.readouterr()
        doc = json.loads(out.out)
        assert out.err == "" and doc["kind"] == "InputError", out
        error, hint = doc["error"], doc["hint"]
    else:
        error, hint = _said(capsys)
    assert error == f"esp-cabundle has no command {name!r}", error
    command = next(w for w in meant if w in COMMANDS)
    assert hint.startswith(f"did you mean {command!r}? ") and _copied(hint) == meant, hint
    assert list(in_tmp.iterdir()) == []


def test_an_options_value_near_a_command_name_is_no_command_typo(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """``chain.pem`` is near ``chains``, but it is --chain's file, not a command."""
    assert run(["--chain", "chain.pem"]) == 2
    assert _said(capsys)[0] == "esp-cabundle has no --chain option (--chain is an option of check)"


def test_an_unknown_option_after_a_leading_end_of_options_answers_json(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """``esp-cabundle -- build --bogus --json``: that -- ends the tool's options only,
    so --json is build's and a script waits for a document; it was answered in text."""
    assert run(["--", "build", "--bogus", "--json"]) == 2
    out = capsys.readouterr()
    doc = json.loads(out.out)
    assert out.err == "" and doc["kind"] == "InputError" and doc["exit_code"] == 2, doc
    assert doc["error"] == "build has no --bogus option", doc
    assert run(["build", "--", "--json"]) == 2  # after build's own --, an argument
    assert capsys.readouterr().out == ""


def test_a_command_typos_mended_line_runs(in_tmp: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """``--debug --jsn buidl``: the line printed kept --jsn, and failed again on it."""
    assert run(["--debug", "--jsn", "buidl", "--dry-run"]) == 2
    line = _copied(_said(capsys)[1])
    assert run(line) == 0, line
    assert json.loads(capsys.readouterr().out)["ok"] is True


@pytest.mark.parametrize(
    ("typed", "meant"),
    [
        (["buidl", "--jsn", "--dry-run"], ["build", "--json", "--dry-run"]),
        (["fs", "lss", "--sise", "4K", "x.bin"], ["fs", "ls", "--size", "4K", "x.bin"]),
        (["fss", "ls", "--sise=4K", "x.bin"], ["fs", "ls", "--size=4K", "x.bin"]),
        (["push", "stauts", "--ledgr", "l.db"], ["push", "status", "--ledger", "l.db"]),
        # its own options, a cluster of them, help, and one nothing is near: as typed
        (["buidl", "-qo", "x.pem", "--help"], ["build", "-qo", "x.pem", "--help"]),
        (["buidl", "--zzzzzz"], ["build", "--zzzzzz"]),
        (["buidl", "--", "--jsn"], ["build", "--", "--jsn"]),  # an argument
    ],
)
def test_a_command_typo_mends_the_options_typed_after_it(
    capsys: pytest.CaptureFixture[str], typed: list[str], meant: list[str]
) -> None:
    """``buidl --jsn`` offered ``build --jsn``, which failed again on --jsn."""
    assert run(typed) == 2
    assert _copied(_said(capsys)[1]) == meant


def test_a_command_typos_mended_line_with_an_option_typo_after_it_runs(
    in_tmp: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(["buidl", "--jsn", "--dry-run"]) == 2
    line = _copied(_said(capsys)[1])
    assert run(line) == 0, line
    assert json.loads(capsys.readouterr().out)["ok"] is True
    assert list(in_tmp.iterdir()) == []


def test_json_before_a_word_naming_no_command_names_that_word(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """``--json zzzz`` was told "--json goes after a command", zzzz never named."""
    assert run(["--json", "zzzz"]) == 2
    out = capsys.readouterr()
    doc = json.loads(out.out)
    assert out.err == "" and doc["kind"] == "InputError" and doc["exit_code"] == 2, doc
    assert doc["error"] == "esp-cabundle has no command 'zzzz'", doc
    assert doc["hint"] == "the commands: esp-cabundle --help", doc


@pytest.mark.parametrize(
    ("typed", "meant"), [(["--jsn", "zzzz"], "--json"), (["--debgu", "zzzz"], "--debug")]
)
def test_a_mistyped_flag_before_a_word_naming_no_command_names_both(
    capsys: pytest.CaptureFixture[str], typed: list[str], meant: str
) -> None:
    """``--jsn zzzz`` was told only "its options: esp-cabundle --help": read as a value
    of --jsn, zzzz left no option near it. Near a flag only, zzzz is a command word."""
    assert run(typed) == 2
    assert _said(capsys) == (
        "esp-cabundle has no command 'zzzz'",
        f"{typed[0]} is no option either: did you mean {meant}? the commands: esp-cabundle --help",
    )
    assert run([*typed, "--json"]) == 2
    doc = json.loads(capsys.readouterr().out)
    assert doc["error"] == "esp-cabundle has no command 'zzzz'" and meant in doc["hint"], doc


def test_an_end_of_options_before_a_subcommand_ends_the_groups_only(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """``push -- status --bogus --json``: that -- ends push's options only (click runs
    status with --json), so a script waits for a document; it was answered in text."""
    assert run(["push", "--", "status", "--bogus", "--json"]) == 2
    out = capsys.readouterr()
    doc = json.loads(out.out)
    assert out.err == "" and doc["error"] == "push status has no --bogus option", out
    assert run(["push", "--", "stauts", "--json"]) == 2
    doc = json.loads(capsys.readouterr().out)
    # the group's -- left out of the line mended, as for its option just below
    assert _copied(doc["hint"]) == ["push", "status", "--json"], doc
    assert run(["push", "--", "status", "--ledgr", "l.db"]) == 2  # its option mended
    assert _copied(_said(capsys)[1]) == ["push", "status", "--ledger", "l.db"]
    assert run(["push", "status", "--", "--bogus", "--json"]) == 2  # status's own --
    assert capsys.readouterr().out == ""


def test_a_command_typo_after_the_tools_end_of_options_answers_json(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """``esp-cabundle -- buidl --json``: that -- ends the tool's options only, so --json
    is the command's and a script waits for a document; it was answered in text, with
    no line mended (the command looked for before that --, where none is)."""
    assert run(["--", "buidl", "--json"]) == 2
    out = capsys.readouterr()
    doc = json.loads(out.out)
    assert out.err == "" and doc["error"] == "esp-cabundle has no command 'buidl'", out
    assert _copied(doc["hint"]) == ["build", "--json"], doc
    assert run(["--debug", "--", "buidl", "-q"]) == 2
    assert _copied(_said(capsys)[1]) == ["--debug", "build", "-q"]


def test_a_command_typo_with_nothing_near_hints_the_help(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert run(["journal", "zzz"]) == 2
    assert _said(capsys)[1] == "journal's commands: esp-cabundle journal --help"
    assert run(["zzzzz"]) == 2
    assert _said(capsys)[1] == "the commands: esp-cabundle --help"


LEAVES = [p for p in PATHS if not isinstance(command_at(" ".join(p)), click.Group)]


@pytest.mark.parametrize("path", LEAVES, ids=[" ".join(p) for p in LEAVES])
def test_every_command_says_words_it_has_no_argument_for_in_its_words(
    in_tmp: Path, capsys: pytest.CaptureFixture[str], path: list[str]
) -> None:
    """Words after ``--`` are arguments: more than a command takes was click's "Got
    unexpected extra arguments" below its usage banner, with no hint."""
    assert run([*path, "--", *"abcdefg"]) == 2
    out = capsys.readouterr()
    assert "Got unexpected" not in out.err and out.err.startswith("Error: "), out.err
    _said_once(out.err)
    assert list(in_tmp.iterdir()) == []


def _said_once(err: str) -> None:
    """One error and one hint, in the tool's words."""
    assert "Usage:" not in err and err.count("\n  hint: ") == 1, err


def test_the_line_is_read_for_its_group_ends_once(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each reading of a line (two options in a row, one typed twice, --json wanted) took
    the ``--`` ending a group's options out of it anew: up to four times a run."""
    reads: list[tuple[str, ...]] = []

    def counted(argv: Sequence[str]) -> tuple[str, ...]:
        reads.append(tuple(argv))
        return without_group_ends(argv)

    monkeypatch.setattr(cli_module, "without_group_ends", counted)
    monkeypatch.setattr(typed_line, "without_group_ends", counted)
    typed = ["push", "--", "status", "--ledger", "a", "--ledger", "b", "--json"]
    assert run(typed) == 2
    assert json.loads(capsys.readouterr().out)["error"].startswith("--ledger given 2 times")
    assert reads == [tuple(typed)]
