"""A required option or argument left out is said in the tool's words (exit 2, no
usage banner): which one, and a hint that is the command as typed with what its complete
example has and it lacks added, values from the command's own help. The hint runs: no
refusal of a missing or clashing option follows it. Under --json the document says the
same. Nothing is written."""

from __future__ import annotations

import json
import os
import shlex
import shutil
from pathlib import Path

import click
import pytest
from support.cli_commands import command_at
from support.dumps import DATA, arduino_dump

from esp_cabundle.boards import boards_dir
from esp_cabundle.cli import COMMANDS, cli, run
from esp_cabundle.commands._missing import EXAMPLES, example
from esp_cabundle.commands.options import Needed

BOARDS = boards_dir()

# (command line, the error, the hint) for every command with a required option or argument
CASES = [
    (
        ["pack", "--fs", "spiffs", "--bundle", "x.pem"],
        "-o/--output is required",
        "e.g. esp-cabundle pack --fs spiffs --bundle x.pem"
        " --profile esp-idf --size 1408K -o spiffs.bin",
    ),
    (  # a LittleFS image is not named spiffs.bin
        ["pack", "--fs", "littlefs", "--bundle", "x.pem"],
        "-o/--output is required",
        "e.g. esp-cabundle pack --fs littlefs --bundle x.pem"
        " --profile esp-idf --size 1408K -o littlefs.bin",
    ),
    (  # a --platform names its profile: esp-idf's would clash with arduino-2.0.17's
        ["pack", "--fs=littlefs", "--platform", "arduino-2.0.17", "--bundle", "x.pem"],
        "-o/--output is required",
        "e.g. esp-cabundle pack --fs=littlefs --platform arduino-2.0.17 --bundle x.pem"
        " --size 1408K -o littlefs.bin",
    ),
    (  # nor is a LittleFS board's
        ["pack", "--board", "mongoose-os-esp32@2.20.0", "--bundle", "x.pem"],
        "-o/--output is required",
        "e.g. esp-cabundle pack --board mongoose-os-esp32@2.20.0 --bundle x.pem -o littlefs.bin",
    ),
    (  # a board not found: the example's name, the board's error said when it is run
        ["pack", "--board", "no-such-board", "--bundle", "x.pem"],
        "-o/--output is required",
        "e.g. esp-cabundle pack --board no-such-board --bundle x.pem -o spiffs.bin",
    ),
    (
        ["flash"],
        "-p/--port is required",
        "e.g. esp-cabundle flash -p /dev/ttyUSB0 --board mdash-arduino --preset letsencrypt"
        " (mdash-arduino is only an example: give the board of the firmware on the unit, one"
        " of those esp-cabundle boards lists)",
    ),
    (
        ["flash", "-p", "/dev/ttyUSB1"],
        "--board is required: it says where the CA file lives,"
        " and flash does not read the board: key of cabundle.yaml",
        "e.g. esp-cabundle flash -p /dev/ttyUSB1 --board mdash-arduino --preset letsencrypt"
        " (mdash-arduino is only an example: give the board of the firmware on the unit, one"
        " of those esp-cabundle boards lists)",
    ),
    (
        ["read"],
        "-p/--port is required",
        "e.g. esp-cabundle read -p /dev/ttyUSB0 --partition spiffs -o spiffs.bin",
    ),
    (
        ["read", "--port", "u"],
        "-o/--output is required",
        "e.g. esp-cabundle read --port u --partition spiffs -o spiffs.bin",
    ),
    (["restore"], "-p/--port is required", "e.g. esp-cabundle restore -p /dev/ttyUSB0"),
    (
        ["update-dump"],
        "the DUMP argument is required (esp-cabundle update-dump [OPTIONS] DUMP)",
        "e.g. esp-cabundle update-dump --board mdash-arduino --preset mdash -o new.bin dump.bin"
        " (mdash-arduino is only an example: give the board of the firmware on the unit, one"
        " of those esp-cabundle boards lists)",
    ),
    (
        ["update-dump", "my dump.bin", "--board", "mdash"],
        "-o/--output is required",
        "e.g. esp-cabundle update-dump 'my dump.bin' --board mdash --preset mdash -o new.bin",
    ),
    (["fs", "ls"], "the IMAGE argument is required", "e.g. esp-cabundle fs ls fs.bin"),
    (
        ["fs", "cat", "a.bin"],
        "the PATH argument is required",
        "e.g. esp-cabundle fs cat a.bin /ca.pem",
    ),
    (
        ["fs", "put"],
        "the IMAGE argument is required (esp-cabundle fs put [OPTIONS] IMAGE SOURCE [DEST])",
        "e.g. esp-cabundle fs put fs.bin ca.pem",
    ),
    (
        ["fs", "put", "a.bin"],
        "the SOURCE argument is required",
        "e.g. esp-cabundle fs put a.bin ca.pem",
    ),
    (
        ["fs", "rm", "a.bin"],
        "the PATHS argument is required",
        "e.g. esp-cabundle fs rm a.bin /old-ca.pem",
    ),
    (
        ["journal", "prune", "--dry-run"],
        "--older-than is required",
        "e.g. esp-cabundle journal prune --dry-run --older-than 30d",
    ),
    (
        # journal prune takes no argument: '-- x' kept in the line failed it when copied
        ["journal", "prune", "--dry-run", "--", "x"],
        "--older-than is required",
        "e.g. esp-cabundle journal prune --dry-run --older-than 30d (x left out: journal "
        "prune takes no such argument, and after -- every word is one)",
    ),
]


@pytest.mark.parametrize(("argv", "error", "hint"), CASES, ids=lambda c: " ".join(c)[:40])
def test_a_missing_option_is_named_with_an_example(
    argv: list[str], error: str, hint: str, in_tmp: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(argv) == 2
    err = capsys.readouterr().err
    assert f"Error: {error}" in err and f"  hint: {hint}\n" in err, err
    assert "Usage:" not in err and "Missing option" not in err
    assert list(in_tmp.iterdir()) == []


@pytest.mark.parametrize(("argv", "error", "hint"), CASES[:7], ids=lambda c: " ".join(c)[:40])
def test_json_says_the_same(
    argv: list[str], error: str, hint: str, in_tmp: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run([*argv, "--json"]) == 2
    doc = json.loads(capsys.readouterr().out)
    assert doc["ok"] is False and doc["exit_code"] == 2 and error in doc["error"]
    typed = f"e.g. esp-cabundle {' '.join(argv)}"
    assert doc["hint"] == f"{typed} --json{hint.removeprefix(typed)}"


def test_a_board_file_names_the_image_and_a_fifo_is_not_waited_on(
    in_tmp: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    shutil.copy(BOARDS / "esp-idf-littlefs.yaml", in_tmp / "esp-idf-littlefs.yaml")
    os.mkfifo(in_tmp / "fifo.yaml")  # nothing writes it: a read would block the test
    for board, image in (("./esp-idf-littlefs.yaml", "littlefs.bin"), ("fifo.yaml", "spiffs.bin")):
        assert run(["pack", "--board", board, "--bundle", "x.pem"]) == 2
        err = capsys.readouterr().err
        assert f"--board {board} --bundle x.pem -o {image}\n" in err, err
    assert sorted(p.name for p in in_tmp.iterdir()) == ["esp-idf-littlefs.yaml", "fifo.yaml"]


def _required(cmd: click.Command, path: str) -> list[tuple[str, click.Parameter]]:
    found = [(path, p) for p in cmd.params if p.required or isinstance(p, Needed)]
    if isinstance(cmd, click.Group):
        for name, sub in cmd.commands.items():
            found += _required(sub, f"{path} {name}")
    return found


def test_every_required_value_is_in_its_commands_example_from_its_help() -> None:
    ctx = click.Context(cli)
    required = [
        r for name in COMMANDS if (c := cli.get_command(ctx, name)) for r in _required(c, name)
    ]
    assert len(required) >= 15 and EXAMPLES
    for path, param in required:
        options, arguments = example(path, command_at(path))
        arg_params = [p for p in command_at(path).params if isinstance(p, click.Argument)]
        listed = (
            arg_params.index(param) < len(arguments)
            if isinstance(param, click.Argument)
            else any(p is param for p, _ in options)
        )
        assert listed, (path, param.name)
    for path in EXAMPLES:
        cmd = command_at(path)
        options, arguments = example(path, cmd)
        assert options or arguments, path
        shown = cmd.get_help(click.Context(cmd, info_name=path.split()[-1]))
        for value in [*arguments, *(ws[1] for _, ws in options if len(ws) == 2)]:
            assert value in shown, (path, value)


# What each hint's run ends in once its options are all accepted: done (0), or, for a
# unit on a serial port, the port that is not there (3, a device error, not usage).
ENDS = {
    "pack": 0,
    "flash": 3,
    "read": 3,
    "restore": 3,
    "update-dump": 0,
    "fs ls": 0,
    "fs cat": 0,
    "fs put": 0,
    "fs rm": 0,
    "journal prune": 0,
}
# Beyond the bare commands: starts where an option typed stands for the example's own.
TYPED = [
    ["pack", "--fs", "spiffs", "--bundle", "ca.pem"],
    ["pack", "--fs", "littlefs", "--platform", "arduino-2.0.17", "--bundle", "ca.pem"],
    ["pack", "--board", "mongoose-os-esp32", "--bundle", "ca.pem"],
    ["flash", "-p", "/dev/ttyUSB1", "--bundle", "ca.pem"],
    ["read", "-p", "/dev/ttyUSB0", "--all"],
    ["update-dump", "dump.bin", "--board", "mdash-arduino", "--bundle", "ca.pem"],
]


@pytest.mark.parametrize(
    "typed", [p.split() for p in EXAMPLES] + TYPED, ids=lambda t: " ".join(t)[:40]
)
def test_the_hint_runs(
    typed: list[str],
    in_tmp: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Copying the hint meets no next refusal (a board, a layout, a CA, what to read):
    its files made real here, its serial ports paths that hold none."""
    monkeypatch.setenv("ESP_CABUNDLE_JOURNAL", str(in_tmp / "journal"))
    shutil.copy(DATA / "letsencrypt" / "isrgrootx1.pem", "ca.pem")
    shutil.copy(DATA / "spiffs" / "idf-arduino-1408k.bin", "fs.bin")
    Path("dump.bin").write_bytes(arduino_dump())
    assert run(["fs", "put", "fs.bin", "ca.pem", "/old-ca.pem", "-q"]) == 0
    assert run(typed) == 2
    hint = capsys.readouterr().err.partition("  hint: e.g. esp-cabundle ")[2].strip()
    if hint.endswith(")"):  # why the example's words are as they are, said after it
        hint = hint.rpartition(" (")[0]
    words = shlex.split(hint)
    assert words[: len(typed)] == typed
    words = [str(in_tmp / "no-tty") if w.startswith("/dev/tty") else w for w in words]
    end = ENDS[next(p for p in EXAMPLES if words[: len(p.split())] == p.split())]
    code = run(words)
    out, err = capsys.readouterr()
    assert code == end, (hint, err)
    assert "required" not in err and "needs" not in err and "no CA given" not in err, err
    if end == 3:
        assert "no such serial port" in out + err, (hint, out, err)


@pytest.mark.parametrize(
    ("output", "error"),
    [(["-o", ""], "bad --output: an empty path names no file"), (["-o"], "-o/--output needs")],
)
@pytest.mark.parametrize(
    ("layout", "image"),
    [
        (["--fs", "littlefs", "--profile", "esp-idf", "--size", "64K"], "littlefs.bin"),
        (["--board", "mongoose-os-esp32@2.20.0"], "littlefs.bin"),
        (["--fs", "spiffs", "--profile", "esp-idf", "--size", "64K"], "spiffs.bin"),
    ],
)
def test_an_empty_or_valueless_output_hints_a_name_for_the_fs_given(
    in_tmp: Path,
    capsys: pytest.CaptureFixture[str],
    layout: list[str],
    image: str,
    output: list[str],
    error: str,
) -> None:
    """``pack --fs littlefs -o ''`` was hinted ``--output spiffs.bin`` (the example's),
    as a missing -o is not: every filled-in name follows the --fs (or board) typed."""
    assert run(["pack", *layout, "--preset", "default", *output]) == 2
    err = capsys.readouterr().err
    hint = err.partition("  hint: ")[2]
    assert f"Error: {error}" in err and shlex.split(hint)[-1] == image, err
    assert list(in_tmp.iterdir()) == []
