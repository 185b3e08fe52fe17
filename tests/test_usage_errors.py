"""Usage errors a command finds itself are said as click's missing options are
(cli.py, commands/_missing.py): the tool's words, no usage banner, a hint giving the
command line mended, exit 2, and under --json one document of kind InputError."""

from __future__ import annotations

import json
import shlex
from pathlib import Path

import pytest

from esp_cabundle.cli import run
from esp_cabundle.commands._usage import split_option, with_option

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
        (["check", "--forecast"], "check has no --forecast",
         ["check", "--until", "2035-01-01"]),
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
