"""Usage errors a command finds itself are said as click's missing options are
(cli.py, commands/_missing.py): the tool's words, no usage banner, a hint giving the
command line mended, exit 2, and under --json one document of kind InputError."""

from __future__ import annotations

import json
import shlex
from pathlib import Path

import click
import pytest

from esp_cabundle.cli import run
from esp_cabundle.commands._usage import (
    cluster,
    option_spellings,
    split_option,
    unclustered,
    with_option,
)
from esp_cabundle.dates import parse_when

DATA = Path(__file__).parent / "data"
MQTT = ["--mqtt", "mqtt://127.0.0.1:9", "--device", "a", "--board", "mdash-arduino"]


@pytest.mark.parametrize(
    ("args", "said", "mended"),
    [
        (["push"], "say how to reach the units: --mdash, --mqtt or --rpc", ["push", "--mdash"]),
        (["push", *MQTT, "--poll", "30"], "--poll only applies with --watch",
         ["push", *MQTT, "--poll", "30", "--watch"]),
        (["push", *MQTT, "--until", "2099-01-01"], "--until only applies with --watch",
         ["push", *MQTT, "--until", "2099-01-01", "--watch"]),
        (["push", "--ledger", "l.db", "--mdash", "https://x.example/api", "status"],
         "given before 'status': options there are push's own",
         ["push", "status", "--ledger", "l.db"]),
        # --mdash's URL may be left out: the next word is then an option, not its URL
        (["push", "--mdash", "--ledger", "l.db", "status"], "given before 'status'",
         ["push", "status", "--ledger", "l.db"]),
        # ...and a URL typed that is --mdash's default is its value all the same
        (["push", "--mdash", "https://mdash.net/api/v2", "--ledger", "l.db", "status"],
         "given before 'status'", ["push", "status", "--ledger", "l.db"]),
        (["push", "--mdash=https://mdash.net/api/v2", "--ledger", "l.db", "status"],
         "given before 'status'", ["push", "status", "--ledger", "l.db"]),
        # a cluster of short options is read as click reads it, each found in it
        (["push", "-qc", "cfg.yaml", "--ledger", "l.db", "status"], "given before 'status'",
         ["push", "status", "--ledger", "l.db"]),
        # after the subcommand, not before a -- that comes before it (the line unchanged)
        (["push", "--ledger", "l.db", "--", "status"], "given before 'status'",
         ["push", "--", "status", "--ledger", "l.db"]),
        # outside a project: chains named, or "nothing to check" followed the copy
        (["check", "--forecast"], "check has no --forecast",
         ["check", "--roadmap", "letsencrypt", "--until", "2035-01-01"]),
        # the port typed is kept, not replaced by a placeholder; the unit is not opened to
        # name its partitions (a reboot, or an unreachable port's connect attempts)
        (["read", "--port", "socket://127.0.0.1:9", "-o", "x.bin"], "say what to read",
         ["read", "--port", "socket://127.0.0.1:9", "-o", "x.bin", "--partition", "NAME"]),
        (["read", "-p", "u", "--all", "--partition", "nvs", "-o", "x.bin"], "(not both)",
         ["read", "-p", "u", "--partition", "nvs", "-o", "x.bin"]),
        # only what is missing is named: --fs was given
        (["pack", "--fs", "littlefs", "--bundle", "ca.pem", "-o", "x.bin"],
         "--size is required without --board",
         ["pack", "--fs", "littlefs", "--bundle", "ca.pem", "-o", "x.bin",
          "--profile", "esp-idf", "--size", "1408K"]),
        (["pack", "--size", "1M", "--bundle", "ca.pem", "-o", "x.bin"],
         "--fs is required without --board",
         ["pack", "--size", "1M", "--bundle", "ca.pem", "-o", "x.bin",
          "--fs", "spiffs", "--profile", "esp-idf"]),
        # an option without its value: the value from the command's examples
        (["build", "--preset"], "--preset needs a value (NAME)",
         ["build", "--preset", "letsencrypt"]),
        (["pack", "-o", "x.bin", "--fs"], "--fs needs a value (littlefs or spiffs)",
         ["pack", "-o", "x.bin", "--fs", "spiffs"]),
        (["update-dump", "d.bin", "--bundle"], "--bundle needs a value (FILE)",
         ["update-dump", "d.bin", "--bundle", "ca.pem"]),
        (["push", *MQTT[:2], *MQTT[4:]], "--mqtt needs the units' ids",
         ["push", *MQTT[:2], *MQTT[4:], "--devices", "units.txt"]),
    ],
)  # fmt: skip
def test_a_commands_own_usage_error_is_said_in_the_tools_words(
    in_tmp: Path,
    capsys: pytest.CaptureFixture[str],
    args: list[str],
    said: str,
    mended: list[str],
) -> None:
    assert run(args) == 2
    out = capsys.readouterr()
    assert out.err.startswith("Error: ") and said in out.err and "Usage:" not in out.err, out.err
    assert f"  hint: e.g. esp-cabundle {shlex.join(mended)}" in out.err, out.err
    assert out.out == "" and list(in_tmp.iterdir()) == []
    # --json: one document, the same words, the mended line keeping --json
    assert run([args[0], "--json", *args[1:]]) == 2
    out = capsys.readouterr()
    doc = json.loads(out.out)
    assert doc["kind"] == "InputError" and doc["exit_code"] == 2 and said in doc["error"]
    assert doc["hint"].startswith("e.g. esp-cabundle ") and "--json" in doc["hint"], doc
    assert "Try '" not in doc["hint"] and out.err == "" and list(in_tmp.iterdir()) == []


def test_fs_cat_json_hint_names_fs_ls(in_tmp: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (in_tmp / "fs.bin").write_bytes((DATA / "littlefs" / "mongoose-lfs20-256k.bin").read_bytes())
    assert run(["fs", "cat", "fs.bin", "/conf0.json", "--json", "-o", "c.json"]) == 2
    doc = json.loads(capsys.readouterr().out)
    assert doc["kind"] == "InputError" and "Try '" not in doc["hint"]
    assert doc["hint"] == "e.g. esp-cabundle fs ls fs.bin --json (lists the files as JSON)"
    assert sorted(p.name for p in in_tmp.iterdir()) == ["fs.bin"]


def test_chains_show_without_or_with_both_sources_mends_the_line(
    in_tmp: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``chains show`` alone said "give a chain FILE or --host HOST[:PORT]" with no e.g.,
    where fs ls and inspect give one (tryout, item 6); with both, the line without --host."""
    assert run(["chains", "show"]) == 2
    err = capsys.readouterr().err
    assert "hint: e.g. esp-cabundle chains show --host mdash.net" in err, err
    assert run(["chains", "show", "--host=x.example", "saved.pem", "--json"]) == 2
    doc = json.loads(capsys.readouterr().out)
    assert doc["hint"].startswith("e.g. esp-cabundle chains show saved.pem --json"), doc
    assert list(in_tmp.iterdir()) == []


def test_split_option_takes_the_option_and_its_value_in_every_spelling() -> None:
    words = ["push", "--until", "x", "--watch", "--until=y", "-u", "--", "--until", "z"]
    rest, taken = split_option(words, ("--until",), takes_value=True)
    assert rest == ["push", "--watch", "-u", "--", "--until", "z"]
    assert taken == ["--until", "x", "--until=y"]
    assert split_option(["a", "--json", "b"], ("--json",), takes_value=False) == (
        ["a", "b"],
        ["--json"],
    )
    assert with_option(["a", "--", "b"], "--watch") == ["a", "--watch", "--", "b"]


def test_packs_mended_line_runs(in_tmp: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Copying pack's hint for a missing layout makes the image: nothing else is refused."""
    (in_tmp / "ca.pem").write_bytes((DATA / "letsencrypt" / "isrgrootx1.pem").read_bytes())
    assert run(["pack", "--fs", "littlefs", "--bundle", "ca.pem", "-o", "x.bin"]) == 2
    err = capsys.readouterr().err
    assert "--fs and" not in err and not (in_tmp / "x.bin").exists(), err
    hint = err.partition("  hint: e.g. esp-cabundle ")[2].partition(" (or name")[0]
    assert run([*shlex.split(hint), "-q"]) == 0, capsys.readouterr().err
    assert (in_tmp / "x.bin").stat().st_size == 1408 * 1024


def test_a_missing_value_in_a_subcommand_and_click_words_for_other_misuse(
    in_tmp: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(["journal", "prune", "--dry-run", "--older-than"]) == 2
    err = capsys.readouterr().err
    assert err == (
        "Error: --older-than needs a value (AGE)\n"
        "  hint: e.g. esp-cabundle journal prune --dry-run --older-than 30d\n"
    )
    for typed in (["--debug", "build", "--preset"], ["build", "--debug", "--preset"]):
        assert run(typed) == 2  # --debug may come first: the command is the word naming one
        assert capsys.readouterr().err == (
            "Error: --preset needs a value (NAME)\n"
            f"  hint: e.g. esp-cabundle {' '.join(typed)} letsencrypt\n"
        )
    assert list(in_tmp.iterdir()) == []


def test_an_end_of_options_before_a_subcommand_leaves_its_options_checked(
    in_tmp: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``push -- status --ledger --json``: that -- ends push's options only (click gives
    status the rest), yet status was run with a ledger named '--json', and a --ledger
    typed twice after it was not refused."""
    assert run(["push", "--", "status", "--ledger", "--json"]) == 2
    doc = json.loads(capsys.readouterr().out)
    assert doc["error"] == "--ledger needs a value (FILE)", doc
    assert doc["hint"] == "e.g. esp-cabundle push status --ledger campaign.db --json", doc
    assert run(["push", "--", "status", "--json", "--ledger", "a", "--ledger", "b"]) == 2
    doc = json.loads(capsys.readouterr().out)
    assert doc["error"] == "--ledger given 2 times (a, b); it takes one value", doc
    assert list(in_tmp.iterdir()) == []


@pytest.mark.parametrize(
    ("args", "said", "mended"),
    [
        # no argument follows: the words after the -- were options, and it is left out
        (["pack", "--from-dir", "--", "-o", "x.bin"], "--from-dir needs a value (DIR)",
         ["pack", "--from-dir", "fs/", "-o", "x.bin"]),
        (["pack", "-o", "x.bin", "--json", "--from-dir", "--"], "--from-dir needs a value (DIR)",
         ["pack", "-o", "x.bin", "--json", "--from-dir", "fs/"]),
        # inspect's files follow it: the -- stays
        (["inspect", "--board", "--", "x.pem"], "--board needs a value (NAME[@VERSION]|FILE)",
         ["inspect", "--board", "mongoose-os-esp32", "--", "x.pem"]),
        # the -- left out, a --json after it is pack's: the error says so in JSON
        (["pack", "--from-dir", "--", "-o", "x.bin", "--json"], "--from-dir needs a value (DIR)",
         ["pack", "--from-dir", "fs/", "-o", "x.bin", "--json"]),
    ],
)  # fmt: skip
def test_an_option_given_the_end_of_options_for_its_value(
    in_tmp: Path, capsys: pytest.CaptureFixture[str], args: list[str], said: str, mended: list[str]
) -> None:
    """``pack --from-dir -- -o x``: click took the -- for the directory ("--from-dir --:
    no such directory", mkdir -p ./-- offered); --board took it for a board's name."""
    assert run(args) == 2
    out = capsys.readouterr()
    if "--json" in args:
        doc = json.loads(out.out)
        assert doc["kind"] == "InputError" and out.err == "", out
        error, hint = doc["error"], doc["hint"]
    else:
        error, _, hint = out.err.removeprefix("Error: ").partition("\n  hint: ")
        hint = hint.rstrip("\n")
    assert error == f"{said}, not the -- after it: a -- ends the options", out
    assert hint == f"e.g. esp-cabundle {shlex.join(mended)}", out
    assert list(in_tmp.iterdir()) == []


@pytest.mark.parametrize(
    ("args", "said", "mended"),
    [
        (["build", "--locked=yes"], "--locked", ["build", "--locked"]),
        (["--debug=1", "build", "-q"], "--debug", ["--debug", "build", "-q"]),
        (["push", "status", "--wide=3"], "--wide", ["push", "status", "--wide"]),
    ],
)
def test_a_flag_given_a_value_is_said_in_the_tools_words(
    in_tmp: Path, capsys: pytest.CaptureFixture[str], args: list[str], said: str, mended: list[str]
) -> None:
    """Click said it ("Option '--locked' does not take a value."), with no hint, and
    under --json with its kind (BadOptionUsage): now an InputError, the value left out."""
    assert run(args) == 2
    assert capsys.readouterr().err == (
        f"Error: {said} takes no value: it is a flag\n"
        f"  hint: e.g. esp-cabundle {shlex.join(mended)}\n"
    )
    assert run([*args, "--json"]) == 2
    doc = json.loads(capsys.readouterr().out)
    assert doc["kind"] == "InputError" and doc["exit_code"] == 2, doc
    assert doc["hint"] == f"e.g. esp-cabundle {shlex.join([*mended, '--json'])}", doc
    assert list(in_tmp.iterdir()) == []


@pytest.mark.parametrize(
    ("args", "said", "mended"),
    [
        (["check", "--until", "2030-13-01"], "there is no month 13",
         ["check", "--until", "2030-01-13"]),  # day and month swapped: a real date
        (["check", "--until", "2034-31-12"], "there is no month 31 (01 to 12); e.g. '2034-12-31'",
         ["check", "--until", "2034-12-31"]),
        (["check", "--until=2030-02-30", "--at", "2026-01-01"], "has 28 days, no day 30",
         ["check", "--until", "2030-02-28", "--at", "2026-01-01"]),
        (["push", "--watch", "--until", "notadate", "--rpc", "http://127.0.0.1:9/rpc"],
         "bad --until date 'notadate'", None),
        (["init", "--at", "never", "--yes"], "bad --at date 'never'", None),
    ],
)  # fmt: skip
def test_a_bad_date_is_said_with_the_forms_and_a_line_that_parses(
    in_tmp: Path,
    capsys: pytest.CaptureFixture[str],
    args: list[str],
    said: str,
    mended: list[str] | None,
) -> None:
    """``check --until 2030-13-01`` was click's usage banner and "Invalid value", with
    no hint: now the tool's error, the forms taken, and the line with a date that parses
    (day and month swapped when that is a real date, else the nearest real day, else
    one a year ahead, as a config's dates are hinted)."""
    assert run(args) == 2
    out = capsys.readouterr()
    assert out.err.startswith("Error: ") and said in out.err and "Usage:" not in out.err, out.err
    hint = out.err.partition("  hint: ")[2]
    assert hint.startswith("a date is YYYY-MM-DD, an ISO date-time"), out.err
    line = shlex.split(hint.partition(": e.g. esp-cabundle ")[2])
    flag = next(a.partition("=")[0] for a in args if a.startswith(("--until", "--at")))
    assert line[0] == args[0] and line.count(flag) == 1, line
    if mended is not None:
        assert line == mended, line
    parse_when(line[line.index(flag) + 1])  # the date in the hint parses
    assert run([args[0], "--json", *args[1:]]) == 2
    doc = json.loads(capsys.readouterr().out)
    assert doc["kind"] == "InputError" and said in doc["error"] and "--json" in doc["hint"]
    assert list(in_tmp.iterdir()) == []


def test_build_board_says_where_build_takes_the_board(
    in_tmp: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``build --board X`` was click's bare "No such option: --board": now where build
    takes a board (board: in cabundle.yaml), and the steps that give it one, each a line
    that runs as copied: init with that board, then the line typed without --board."""
    typed = ["build", "--board", "mdash-arduino", "-o", "x.pem", "-q"]
    assert run(typed) == 2
    out = capsys.readouterr()
    assert out.err.startswith("Error: build has no --board: it takes the board from board:")
    assert "Usage:" not in out.err and out.out == "" and list(in_tmp.iterdir()) == []
    hint = out.err.partition("  hint: e.g. esp-cabundle ")[2]
    init, _, rest = hint.partition(" (a cabundle.yaml with that board), then esp-cabundle ")
    assert shlex.split(init) == ["init", "--board", "mdash-arduino", "--yes"], out.err
    assert shlex.split(rest) == ["build", "-o", "x.pem", "-q"], out.err
    assert run([*shlex.split(init), "-q"]) == 0, capsys.readouterr().err
    assert run(shlex.split(rest)) == 0, capsys.readouterr().err
    assert (in_tmp / "x.pem").exists()
    # with a config here, the hint says to add the board to it
    assert run(["build", "--json", "--board=mdash-arduino"]) == 2
    doc = json.loads(capsys.readouterr().out)
    assert doc["kind"] == "InputError" and doc["hint"] == (
        "add 'board: mdash-arduino' to the config, then: esp-cabundle build --json"
    ), doc


def test_build_board_mistyped_gives_steps_with_the_board_meant(
    in_tmp: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``build --board mdash-arduno`` gave ``init --board mdash-arduno --yes`` as the step
    to run, which init refuses (unknown board): now the board meant, in a line that runs
    as copied; a name near no board says why it is none, with no step that fails."""
    assert run(["build", "--board", "mdash-arduno", "-o", "x.pem", "-q"]) == 2
    out = capsys.readouterr()
    hint = out.err.partition("  hint: ")[2]
    assert hint.startswith("did you mean 'mdash-arduino'? e.g. esp-cabundle "), out.err
    init = hint.partition("e.g. esp-cabundle ")[2].partition(" (a cabundle.yaml")[0]
    assert shlex.split(init) == ["init", "--board", "mdash-arduino", "--yes"], out.err
    assert run([*shlex.split(init), "-q"]) == 0, capsys.readouterr().err
    # with the config init wrote, the board line to add is the board meant too
    assert run(["build", "--json", "--board", "mdash-arduno"]) == 2
    doc = json.loads(capsys.readouterr().out)
    assert "add 'board: mdash-arduino' to the config" in doc["hint"], doc
    assert run(["build", "--json", "--board", "zzz-no-board"]) == 2
    doc = json.loads(capsys.readouterr().out)
    assert "unknown board 'zzz-no-board'" in doc["error"], doc
    assert "init --board zzz-no-board" not in doc["hint"] and "mdash-arduino" in doc["hint"]


def test_one_option_table_reads_clusters_as_click_does() -> None:
    """_repeated, _missing and unclustered read a line from one table and one cluster
    reader: each spelling (a negation too), flags until one taking a value, the rest
    its value, and a letter the command lacks leaves the word whole."""
    cmd = click.Command(
        "c",
        params=[
            click.Option(["-q", "--quiet"], is_flag=True),
            click.Option(["-o", "--output"]),
            click.Option(["--color/--no-color"]),
        ],
    )
    table = option_spellings(cmd)
    assert sorted(table) == ["--color", "--no-color", "--output", "--quiet", "-o", "-q"]
    assert cluster("-qoX", table) == (["-q"], ("-o", table["-o"]), "X")
    assert cluster("-qq", table) == (["-q", "-q"], None, "")
    assert cluster("-qz", table) is None
    assert cluster("q", table) is None
    words = ["-qo", "f", "-qz", "--", "-qoY"]
    assert unclustered(words, cmd) == ["-q", "-o", "f", "-qz", "--", "-qoY"]
    assert unclustered(["-qoX"], cmd) == ["-q", "-o", "X"]


@pytest.mark.parametrize("typed", [["build", "--board"], ["build", "-q", "--board", "--json"]])
def test_build_board_without_a_value_says_builds_rule_at_once(
    typed: list[str], in_tmp: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``build --board`` was told "--board needs a value" with the line mended to
    ``build --board BOARD``, which build then refused: now build's rule the first time,
    its steps with an example board, the line typed without --board (its --json kept)."""
    assert run(typed) == 2
    out = capsys.readouterr()
    said = json.loads(out.out) if "--json" in typed else None
    error = said["error"] if said else out.err.partition("\n")[0].removeprefix("Error: ")
    hint = said["hint"] if said else out.err.partition("  hint: ")[2].strip()
    assert error.startswith("build has no --board: it takes the board from board:"), out
    init, _, rest = hint.removeprefix("e.g. esp-cabundle ").partition(
        " (a cabundle.yaml with that board), then esp-cabundle "
    )
    assert shlex.split(init) == ["init", "--board", "mdash-arduino", "--yes"], hint
    assert shlex.split(rest) == [w for w in typed if w != "--board"], hint
    assert run([*shlex.split(init), "-q"]) == 0, capsys.readouterr().err
    assert run(shlex.split(rest)) == 0, capsys.readouterr().err


def test_another_commands_flag_given_a_value_is_taken_for_this_commands_option(
    in_tmp: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``build --presets letsencrypt`` got only build's --help, as if copied from roots
    (whose --presets is a flag, taking no value): given a value, it is a typo of build's
    --preset, offered in a line that runs. A flag typed as such stays unmended."""
    assert run(["build", "--presets", "letsencrypt", "-q", "-o", "x.pem"]) == 2
    err = capsys.readouterr().err
    assert "build has no --presets option (--presets is an option of roots)" in err, err
    hint = err.partition("  hint: did you mean --preset? e.g. esp-cabundle ")[2]
    assert shlex.split(hint) == ["build", "--preset", "letsencrypt", "-q", "-o", "x.pem"], err
    assert run(shlex.split(hint)) == 0 and (in_tmp / "x.pem").exists()
    capsys.readouterr()
    assert run(["build", "--presets", "-q"]) == 2
    assert "hint: build's options: esp-cabundle build --help" in capsys.readouterr().err
