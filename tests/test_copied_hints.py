"""Hints a new user copied that failed (tryout): a stray CA file echoed into pack's line,
a bad value carried into a missing option's hint, a flag taken for an option's value,
check's --forecast hint outside a project, an example without the program's name. Each
hint now runs when copied, and the error said first is the one to fix first."""

from __future__ import annotations

import json
import shlex
from pathlib import Path

import pytest
from support.dumps import arduino_dump

from esp_cabundle.cli import run

DATA = Path(__file__).parent / "data"
CA = DATA / "letsencrypt" / "isrgrootx1.pem"


def _said(capsys: pytest.CaptureFixture[str]) -> tuple[str, list[str], str]:
    """The error line, the hint's command line (after esp-cabundle) and why."""
    err = capsys.readouterr().err
    error = err.partition("Error: ")[2].partition("\n")[0]
    hint = err.partition("  hint: e.g. esp-cabundle ")[2].strip()
    line, _, why = hint.partition(" (")
    return error, shlex.split(line), why


def test_a_stray_ca_file_is_given_with_bundle(
    in_tmp: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (in_tmp / "ca.pem").write_bytes(CA.read_bytes())
    assert run(["pack", "ca.pem", "stray"]) == 2
    error, line, why = _said(capsys)
    assert error == "-o/--output is required"
    assert line == [
        "pack", "--bundle", "ca.pem", "--fs", "spiffs", "--profile", "esp-idf",
        "--size", "1408K", "-o", "spiffs.bin",
    ]  # fmt: skip
    assert "ca.pem is the CA file" in why and "stray left out" in why, why
    assert sorted(p.name for p in in_tmp.iterdir()) == ["ca.pem"]
    assert run([*line, "-q"]) == 0, capsys.readouterr().err
    assert (in_tmp / "spiffs.bin").stat().st_size == 1408 * 1024


def test_an_unknown_profile_is_said_before_the_missing_output(
    in_tmp: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(["pack", "--profile", "mongoos"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("Error: unknown spiffs profile 'mongoos'\n"), err
    assert "hint: did you mean 'mongoose-os'?" in err and "--output" not in err, err
    assert run(["pack", "--fs", "littlefs", "--profile", "mongoos", "--json"]) == 2
    doc = json.loads(capsys.readouterr().out)
    assert doc["error"] == "unknown littlefs profile 'mongoos'" and doc["exit_code"] == 2
    assert list(in_tmp.iterdir()) == []


def test_a_file_given_to_from_dir_is_said_first_with_a_line_that_runs(
    in_tmp: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (in_tmp / "ca.pem").write_bytes(CA.read_bytes())
    assert run(["pack", "--from-dir", "ca.pem"]) == 2
    error, line, _ = _said(capsys)
    assert error.startswith("--from-dir ca.pem: a regular file, not a directory"), error
    assert line[:3] == ["pack", "--bundle", "ca.pem"] and "--from-dir" not in line, line
    assert sorted(p.name for p in in_tmp.iterdir()) == ["ca.pem"]
    assert run([*line, "-q"]) == 0, capsys.readouterr().err


@pytest.mark.parametrize(
    ("after", "until"), [([], "2035-01-01"), (["5"], "2035-01-01"), (["2036-01-01"], "2036-01-01")]
)
def test_checks_forecast_hint_runs_outside_a_project(
    in_tmp: Path, capsys: pytest.CaptureFixture[str], after: list[str], until: str
) -> None:
    """No cabundle.yaml: the line names chains (``check --until`` alone was "nothing to
    check"); a horizon typed after --forecast is --until's, another word left out."""
    assert run(["check", "--forecast", *after]) == 2
    error, line, _ = _said(capsys)
    assert error.startswith("check has no --forecast"), error
    assert line == ["check", "--roadmap", "letsencrypt", "--until", until], line
    assert list(in_tmp.iterdir()) == []
    assert run([*line, "-q"]) == 0, capsys.readouterr().err


@pytest.mark.parametrize("flag", ["--json", "--help"])
def test_a_flag_taken_for_a_value_is_a_missing_value(
    in_tmp: Path, capsys: pytest.CaptureFixture[str], flag: str
) -> None:
    """``build --preset --json``: click made --json the preset's name ("unknown preset
    '--json'", as text); the option is said to lack its value, --json honoured."""
    assert run(["build", "--preset", flag]) == 2
    out = capsys.readouterr()
    if flag == "--json":
        doc = json.loads(out.out)
        assert doc["error"] == "--preset needs a value (NAME)" and out.err == "", out
        assert doc["hint"] == "e.g. esp-cabundle build --preset letsencrypt --json"
    else:
        assert out.err.startswith("Error: --preset needs a value (NAME)\n"), out.err
    assert list(in_tmp.iterdir()) == []


def test_chains_shows_hint_gives_whole_command_lines(
    in_tmp: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(["chains", "show"]) == 2
    _, line, why = _said(capsys)
    assert line == ["chains", "show", "--host", "mdash.net"]
    assert why.startswith("or a saved chain: esp-cabundle chains show chains/"), why


@pytest.mark.parametrize(
    ("typed", "code"),
    [
        (["pack", "--fs", "spiffs", "--profile", "esp-idf", "--size", "64K", "-o", "fs.bin"], 0),
        (["update-dump", "dump.bin", "--board", "mdash-arduino", "-o", "new.bin"], 0),
        (["flash", "-p", "no-tty", "--board", "mdash-arduino"], 3),
        (["push", "--mdash", "--board", "mdash-arduino"], None),  # run: mdash.net's chain
    ],
)
def test_a_write_without_a_ca_hints_the_line_with_a_preset(
    in_tmp: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    typed: list[str],
    code: int | None,
) -> None:
    """ "no CA given" hinted the fragment "e.g. --preset default": the line as typed with
    it added runs (flash then wants its port: another refusal, not this one)."""
    # A key, as push reads it before the CA (the push line is never run: no network).
    monkeypatch.setenv("MDASH_API_KEY", "k3y-never-sent")
    monkeypatch.setenv("ESP_CABUNDLE_JOURNAL", str(in_tmp / "journal"))
    (in_tmp / "dump.bin").write_bytes(arduino_dump())
    assert run(typed) == 2
    error, line, why = _said(capsys)
    assert error.startswith(f"no CA given: '{typed[0]}' puts a CA on devices"), error
    assert line == [*typed, "--preset", "default"], line
    assert why == "or run 'esp-cabundle build' and pass --bundle ca.pem)", why
    assert sorted(p.name for p in in_tmp.iterdir()) == ["dump.bin"]
    if code is not None:
        assert run([*line, "-q"]) == code
        assert "no CA given" not in capsys.readouterr().err
    assert run([*typed, "--json"]) == 2  # --json: one document, the line keeping --json
    out = capsys.readouterr()
    doc = json.loads(out.out)
    assert doc["hint"].startswith(f"e.g. esp-cabundle {shlex.join(typed)} --json --preset "), doc


@pytest.mark.parametrize(
    ("mqtt", "env", "why"),
    [
        (["--mqtt", "bad"], None, ""),
        (["--mqtt=mqtt://[::1"], None, "an IPv6 address goes in brackets: [::1])"),
        ([], "bad", "or set ESP_CABUNDLE_MQTT to such a URL)"),
    ],
)
def test_a_bad_broker_url_hints_the_line_with_a_broker(
    in_tmp: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    mqtt: list[str],
    env: str | None,
    why: str,
) -> None:
    """A bad --mqtt (or ESP_CABUNDLE_MQTT) hinted "e.g. --mqtt mqtt://broker.local:1883"
    alone: the line as typed, the URL mended, runs (here against a closed loopback port:
    the broker cannot be reached, exit 3, and nothing is refused)."""
    if env is not None:
        monkeypatch.setenv("ESP_CABUNDLE_MQTT", env)
    (in_tmp / "ca.pem").write_bytes(CA.read_bytes())
    typed = ["push", *mqtt, "--board", "mongoose-os-esp32", "--bundle", "ca.pem", "--device", "a",
             "--allow", "unjudged"]  # fmt: skip
    assert run(typed) == 2
    error, line, said = _said(capsys)
    assert "mqtt://[user@]host[:port]" in error or "IPv6" in said, error
    rest = [w for w in typed if w not in mqtt]
    url = "mqtt://broker.local:1883"
    assert line in ([*rest[:1], "--mqtt", url, *rest[1:]], [*rest, "--mqtt", url]), line
    assert said == why, said
    assert sorted(p.name for p in in_tmp.iterdir()) == ["ca.pem"]
    copied = [w.replace("broker.local:1883", "127.0.0.1:9") for w in line]
    assert run([*copied, "-q"]) == 3
    assert "cannot reach the MQTT broker mqtt://127.0.0.1:9" in capsys.readouterr().err
    assert run([*typed, "--json"]) == 2  # --json: one document, the line keeping --json
    doc = json.loads(capsys.readouterr().out)
    assert doc["hint"].startswith("e.g. esp-cabundle push ") and " --json" in doc["hint"], doc


@pytest.mark.parametrize(
    ("typed", "hinted", "why"),
    [
        (["fs", "put", "ca.pem"], ["fs", "put", "fs.bin", "ca.pem"],
         "ca.pem is the SOURCE: the IMAGE comes first)"),
        (["fs", "put", "ca.pem", "--json"], ["fs", "put", "fs.bin", "ca.pem", "--json"],
         "ca.pem is the SOURCE: the IMAGE comes first)"),
        (["fs", "ls", "--profile", "--json"],
         ["fs", "ls", "--profile", "esp-idf", "--json", "fs.bin"], ""),
        (["fs", "ls", "--profile"], ["fs", "ls", "--profile", "esp-idf", "fs.bin"], ""),
    ],
)  # fmt: skip
def test_a_missing_image_is_named_in_the_hint(
    in_tmp: Path,
    capsys: pytest.CaptureFixture[str],
    typed: list[str],
    hinted: list[str],
    why: str,
) -> None:
    """``fs put ca.pem`` hinted "fs put ca.pem ca.pem" (the CA file taken for the image),
    ``fs ls --profile --json`` a line without the image: both name it now, and run."""
    (in_tmp / "ca.pem").write_bytes(CA.read_bytes())
    assert run(typed) == 2
    out = capsys.readouterr()
    if "--json" in typed:
        doc = json.loads(out.out)
        assert out.err == "" and doc["exit_code"] == 2, out
        hint = doc["hint"].removeprefix("e.g. esp-cabundle ")
        line, _, said = hint.partition(" (")
        words = shlex.split(line)
    else:
        hint = out.err.partition("  hint: e.g. esp-cabundle ")[2].strip()
        line, _, said = hint.partition(" (")
        words = shlex.split(line)
    assert words == hinted and said == why, hint
    assert sorted(p.name for p in in_tmp.iterdir()) == ["ca.pem"]
    image = DATA / (
        "spiffs/idf-arduino-1408k.bin" if "put" in typed else "littlefs/mongoose-lfs20-256k.bin"
    )
    (in_tmp / "fs.bin").write_bytes(image.read_bytes())
    assert run(words) == 0, capsys.readouterr()


@pytest.mark.parametrize(
    ("typed", "fs"),
    [
        (["--fs", "littlefs", "--profile", "spiffs", "--size", "64K"], "spiffs"),
        (["--profile=littlefs", "--size", "64K"], "littlefs"),
    ],
)
def test_a_file_system_given_as_the_profile_hints_it_as_fs(
    in_tmp: Path, capsys: pytest.CaptureFixture[str], typed: list[str], fs: str
) -> None:
    """``pack --fs littlefs --profile spiffs`` hinted the littlefs profiles: the fix (--fs
    spiffs, --profile left out) is now the line typed, and runs."""
    (in_tmp / "ca.pem").write_bytes(CA.read_bytes())
    assert run(["pack", *typed, "--bundle", "ca.pem", "-o", "fs.bin"]) == 2
    error, line, why = _said(capsys)
    assert error.endswith("is a file system, not a profile"), error
    assert " profiles: esp-idf, " in why, why
    assert line[line.index("--fs") + 1] == fs and line.count("--fs") == 1, line
    assert not {"spiffs", "littlefs"} - {fs} & set(line), line
    assert sorted(p.name for p in in_tmp.iterdir()) == ["ca.pem"]
    assert run([*line, "-q"]) == 0, capsys.readouterr().err
    assert (in_tmp / "fs.bin").stat().st_size == 64 * 1024


def _hint(capsys: pytest.CaptureFixture[str]) -> str:
    return capsys.readouterr().err.partition("  hint: ")[2].replace("\n", " ")


def test_a_missing_dump_is_read_not_packed(
    in_tmp: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``fs ls arduino-dump.bin`` (no such file) hinted "pack (... -o arduino-dump.bin)":
    an image made under a dump's name. A name saying dump is read whole from a unit; any
    other's pack line runs as copied."""
    assert run(["fs", "ls", "arduino-dump.bin"]) == 2
    hint = _hint(capsys)
    assert "esp-cabundle read --port PORT --all -o arduino-dump.bin" in hint, hint
    assert "pack" not in hint, hint
    assert run(["fs", "ls", "units.bin"]) == 2
    pack = _hint(capsys).partition("make a new image (esp-cabundle ")[2].partition(")")[0]
    assert run([*shlex.split(pack), "-q"]) == 0, capsys.readouterr().err
    assert run(["fs", "ls", "units.bin"]) == 0, capsys.readouterr().err


def test_a_file_that_is_no_image_hints_what_is_read(
    in_tmp: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Random bytes: ``fs ls`` hinted "pass the whole partition" alone, ``inspect`` an
    arduino dump's layout for a FILE. Both now say what they read; fs ls the inspect of
    the file typed, which runs (and names what the bytes are)."""
    (in_tmp / "junk data.bin").write_bytes(bytes(range(256)) * 37)
    assert run(["fs", "ls", "junk data.bin"]) == 2
    hint = _hint(capsys)
    assert "fs commands read a LittleFS or SPIFFS partition image" in hint, hint
    assert "--port PORT --partition spiffs -o fs.bin;" in hint and "NAME" not in hint, hint
    assert hint.startswith("pass the whole partition, if 'junk data.bin' is a partition cut"), hint
    line = hint.rpartition(": esp-cabundle ")[2].strip()
    assert shlex.split(line) == ["inspect", "junk data.bin"], line
    assert run(shlex.split(line)) == 2
    hint = _hint(capsys)
    assert hint.startswith("inspect reads certificate files (PEM, DER, C source)"), hint
    assert "FILE" not in hint and "0x290000" not in hint, hint


def test_a_missing_from_dir_hints_no_missing_folder(
    in_tmp: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``pack --from-dir data/`` (the help's example, copied where there is no data/)
    hinted "e.g. --from-dir data/": the same missing folder. Now: the directory near its
    name as a line that runs, else how to make it or a line without it, which runs."""
    (in_tmp / "ca.pem").write_bytes(CA.read_bytes())
    typed = ["pack", "--bundle", "ca.pem", "--from-dir", "data/", "--size", "64K"]
    assert run(typed) == 2
    hint = _hint(capsys)
    assert "mkdir -p data" in hint and "no directories here" in hint, hint
    line = shlex.split(hint.partition("e.g. esp-cabundle ")[2])
    assert "--from-dir" not in line, line
    assert run([*line, "-q"]) == 0, capsys.readouterr().err
    (in_tmp / "spiffs.bin").unlink()
    (in_tmp / "dta").mkdir()
    (in_tmp / "dta" / "app.cfg").write_bytes(b"x")
    assert run(typed) == 2
    error, line, why = _said(capsys)
    assert error == "--from-dir data: no such directory; nothing was written", error
    assert line[line.index("--from-dir") + 1] == "dta/" and why.startswith("dta/ is"), line
    assert run([*line, "-q"]) == 0, capsys.readouterr().err
    assert sorted(p.name for p in in_tmp.iterdir()) == ["ca.pem", "dta", "spiffs.bin"]


def test_a_name_after_a_double_dash_is_hinted_as_a_path(
    in_tmp: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``fs ls -- --size`` (after ``--`` a word is a file name) hinted ``pack ... -o
    --size``, refused when copied (--size taken for -o's value). The name is now given as
    ``./--size``: the copied line makes that image, which the line typed then lists."""
    assert run(["fs", "ls", "--", "--size"]) == 2
    hint = _hint(capsys)
    assert "-o ./--size" in hint and "-o --size" not in hint, hint
    line = shlex.split(hint.partition("or make a new image (esp-cabundle ")[2].strip().rstrip(")"))
    assert line[-2:] == ["-o", "./--size"], line
    assert run([*line, "-q"]) == 0, capsys.readouterr().err
    assert run(["fs", "ls", "-q", "--", "--size"]) == 0, capsys.readouterr().err
    assert run(["inspect", "--", "--x.pem"]) == 2
    assert _hint(capsys).strip() == "build one: esp-cabundle build --preset default -o ./--x.pem"


@pytest.mark.parametrize(
    ("typed", "error"),
    [
        (["pack", "--", "--size", "12X"], "-o/--output is required"),
        (
            ["pack", "-o", "x.bin", "--", "--size", "12X"],
            "pack takes no arguments: --size 12X",
        ),
    ],
)
def test_words_after_a_double_dash_a_command_cannot_take_are_left_out(
    in_tmp: Path, capsys: pytest.CaptureFixture[str], typed: list[str], error: str
) -> None:
    """After ``--`` every word is an argument, and pack takes none: the hint kept
    ``-- --size 12X``, which failed when copied with click's "unexpected extra
    arguments" and its usage banner (said so for a line with -o, too). Now they are
    left out, saying why, and the line runs."""
    assert run(typed) == 2
    said, line, why = _said(capsys)
    assert said == error
    assert "--" not in line and "12X" not in line, line
    assert (
        why == "--size 12X left out: pack takes no such arguments, and after -- every word is one)"
    )
    assert run([*line, "-q"]) == 0, capsys.readouterr().err
    image = line[line.index("-o") + 1]
    assert run(["fs", "ls", "--", image, "--size", "12X"]) == 2
    said, line, why = _said(capsys)
    assert said.startswith("fs ls takes no more arguments") and line == ["fs", "ls", "--", image]
    assert run(line) == 0, capsys.readouterr().err
