"""``inspect DUMP --board NAME``: refused before ("--board needs --port"), so a dump
marked only by /mdash.cfg kept the note that its verdict depends on the firmware version
even once the user knew it. The named board now replaces what the files mark (a firm
verdict), a note says where it contradicts them, and --json carries the board used and
how (named or inferred); the reach note carries the roadmap's date beside the proven one
as check does (a saved chains/mdash.net.pem, judged as update-dump judges it)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from esp_cabundle.cli import cli
from tests.support import dumps
from tests.test_inspect_reach import AT, dst_only

CHAINS = Path(__file__).resolve().parent.parent / "examples" / "chains"


def _doc(runner: CliRunner, *args: str) -> dict[str, Any]:
    r = runner.invoke(cli, ["inspect", "dump.bin", *AT, *args, "--json"])
    assert r.exit_code == 0, r.output
    doc: dict[str, Any] = json.loads(r.stdout)["reports"][0]
    return doc


def _text(runner: CliRunner, *args: str) -> str:
    r = runner.invoke(cli, ["inspect", "dump.bin", *AT, *args])
    assert r.exit_code == 0, r.output
    return " ".join(r.output.split())


@pytest.fixture
def dst_dump(in_tmp: Path) -> Path:
    (in_tmp / "dump.bin").write_bytes(dst_only(dumps.arduino_dump()))
    return in_tmp / "dump.bin"


def test_a_named_board_gives_a_marked_dump_a_firm_verdict(
    dst_dump: Path, runner: CliRunner
) -> None:
    doc = _doc(runner, "--board", "mdash-arduino@1.2.13")
    (note,) = [n for n in doc["notes"] if "TLS handshake" in n]
    assert note.startswith(
        "a unit holding this flash fails its TLS handshake to mdash.net since 2024-06-06 "
    ), note
    assert "depends on its firmware version" not in note, note
    fix = "esp-cabundle update-dump dump.bin --board mdash-arduino@1.2.13 --preset mdash"
    assert note.endswith(f"; fix: {fix} -o new.bin"), note
    board = (doc["board"], doc["board_version"], doc["board_how"])
    assert board == ("mdash-arduino", "1.2.13", "named"), board
    assert doc["reach"]["ok"] is False and doc["reach"]["firm"] is True, doc["reach"]
    assert doc["reach"]["ca_file"] == "dump.bin:spiffs:/ca.pem"
    assert doc["reach"]["hostname"] == "mdash.net" and "server" not in doc["reach"]
    assert doc["reach"]["failing_since"]["date"] == "2024-06-06"
    assert doc["reach"]["chain_file"] is None  # the shipped roadmap's chains
    assert "a unit holding this flash fails its TLS handshake" in _text(
        runner, "--board", "mdash-arduino"
    )


def test_the_text_says_the_board_judged_and_how_it_was_known(
    dst_dump: Path, runner: CliRunner
) -> None:
    """--json had board and board_how; the text named no board at all."""
    named = _text(runner, "--board", "mdash-arduino@1.2.13")
    assert " board: mdash-arduino@1.2.13 (named with --board) note: " in named, named
    inferred = _text(runner)
    assert " board: mdash-arduino (inferred from /mdash.cfg in partition spiffs) " in inferred
    assert "board: mdash (named with --board)" in _text(runner, "--board", "mdash")
    doc = _doc(runner, "--board", "mdash-arduino@1.2.13")
    assert doc["facts"]["board"] == doc["board"] == "mdash-arduino"  # as a unit's fact


def test_json_says_an_inferred_board_and_a_verdict_that_is_not_firm(
    dst_dump: Path, runner: CliRunner
) -> None:
    """The board's name is a string, as every other command's "board"; its version is
    null: the files do not tell which of mdash 1.2.12-1.2.14 runs (the note says so)."""
    doc = _doc(runner)
    board = (doc["board"], doc["board_version"], doc["board_how"])
    assert board == ("mdash-arduino", None, "inferred"), board
    assert doc["reach"]["ok"] is False and doc["reach"]["firm"] is False, doc["reach"]


def test_a_board_named_without_a_version_has_a_null_version(
    dst_dump: Path, runner: CliRunner
) -> None:
    doc = _doc(runner, "--board", "mdash-arduino")
    assert (doc["board"], doc["board_version"], doc["board_how"]) == (
        "mdash-arduino", None, "named"
    )  # fmt: skip


def test_a_ca_file_that_verifies_is_said_ok_in_json(in_tmp: Path, runner: CliRunner) -> None:
    (in_tmp / "dump.bin").write_bytes(dumps.arduino_dump())
    doc = _doc(runner, "--board", "mdash-arduino")
    assert doc["reach"] == {"ok": True, "ca_file": "dump.bin:spiffs:/ca.pem", "firm": True}


def test_naming_the_compiled_in_mdash_says_the_file_is_not_read(
    dst_dump: Path, runner: CliRunner
) -> None:
    """mDash 1.2.15+ keeps the /ca.pem of the version it was upgraded from, unread."""
    doc = _doc(runner, "--board", "mdash")
    assert not [n for n in doc["notes"] if "TLS handshake to" in n], doc["notes"]
    assert (
        "mDash 1.2.16 (board mdash) reads no CA file from a file system: it verifies "
        "mdash.net with its built-in ISRG Root X1; the CA files shown here do not decide its "
        "TLS handshakes"
    ) in doc["notes"]
    assert doc["board_how"] == "named" and doc["reach"] is None


def test_a_board_with_no_ca_file_in_the_dump_is_said_to_contradict_it(
    dst_dump: Path, runner: CliRunner
) -> None:
    doc = _doc(runner, "--board", "mongoose-os-esp32")
    assert (
        "board mongoose-os-esp32 reads /ca.pem on littlefs in partitions fs_0+fs_1: this "
        "dump holds no /ca.pem there, so its TLS handshakes are not judged (esp-cabundle "
        "boards lists the others)"
    ) in doc["notes"], doc["notes"]
    assert (
        "its spiffs partition holds /mdash.cfg, which marks mdash (board mdash-arduino), "
        "not board mongoose-os-esp32's firmware: the board named may be the wrong one"
    ) in doc["notes"], doc["notes"]
    assert doc["reach"] is None
    assert "board mongoose-os-esp32 reads /ca.pem" in _text(runner, "--board", "mongoose-os-esp32")


def test_a_board_of_another_file_system_is_said_not_to_fit_the_dump(
    dst_dump: Path, runner: CliRunner
) -> None:
    """The note says update-dump would refuse it: it does, writing nothing."""
    doc = _doc(runner, "--board", "arduino-esp32-littlefs")
    assert (
        "board arduino-esp32-littlefs does not fit this dump: its spiffs partition holds "
        "spiffs (esp-idf), not littlefs; 'update-dump --board arduino-esp32-littlefs' would "
        "refuse it (esp-cabundle boards lists the others)"
    ) in doc["notes"], doc["notes"]
    assert not [n for n in doc["notes"] if "holds no /ca.pem" in n], doc["notes"]
    isrg = dumps.DATA / "letsencrypt" / "isrgrootx1.pem"
    refused = runner.invoke(cli, ["update-dump", "dump.bin", "--board", "arduino-esp32-littlefs",
                                  "--bundle", str(isrg), "-o", "new.bin", *AT])  # fmt: skip
    assert refused.exit_code != 0 and not (dst_dump.parent / "new.bin").exists(), refused.output


@pytest.mark.parametrize(
    ("name", "error", "said"),
    [
        ("mdash-ardino", "unknown board 'mdash-ardino'", "hint: did you mean 'mdash-arduino'?"),
        ("xyzzy", "unknown board 'xyzzy'", "hint: boards: arduino-esp32-littlefs, "),
        ("mdash-arduino@1.2.15", "board mdash-arduino does not run mDash 1.2.15", "mdash@1.2.15"),
    ],
)
def test_an_unknown_board_is_refused_before_reading(
    dst_dump: Path, runner: CliRunner, name: str, error: str, said: str
) -> None:
    before = dst_dump.read_bytes()
    r = runner.invoke(cli, ["inspect", "dump.bin", "--board", name, *AT])
    assert r.exit_code == 2, r.output
    assert f"Error: {error}" in r.stderr and said in r.stderr, r.stderr
    assert r.stdout == "" and dst_dump.read_bytes() == before


def test_board_applies_to_the_dump_among_other_files(dst_dump: Path, runner: CliRunner) -> None:
    """A CA file beside the dump is no unit or dump: --board leaves it alone."""
    shutil.copy(dumps.DATA / "letsencrypt" / "isrgrootx1.pem", "ca.pem")
    r = runner.invoke(cli, ["inspect", "ca.pem", "dump.bin", "--board", "mdash-arduino",
                            *AT, "--json"])  # fmt: skip
    assert r.exit_code == 0, r.output
    pem, dump = json.loads(r.stdout)["reports"]
    assert "board" not in pem and dump["board_how"] == "named"


def test_the_reach_note_carries_the_roadmap_date_as_check_does(
    dst_dump: Path, runner: CliRunner
) -> None:
    """A saved chains/mdash.net.pem (Let's Encrypt's 2024 short chain) is judged as
    update-dump judges it: failing at least since its newest certificate's first day, and
    the roadmap's servers' date beside it, the very failing_since check --json gives."""
    (dst_dump.parent / "chains").mkdir()
    shutil.copy(CHAINS / "letsencrypt-2024-short.pem", "chains/mdash.net.pem")
    doc = _doc(runner, "--board", "mdash-arduino@1.2.13")
    since = doc["reach"]["failing_since"]
    assert since["date"] == "2024-03-13" and since["roadmap_since"]["date"] == "2024-06-06"
    checked = runner.invoke(cli, ["check", "--board", "mdash-arduino@1.2.13", "--bundle",
                                  str(dumps.DATA / "letsencrypt" / "dst-root-ca-x3.pem"),
                                  *AT, "--json"])  # fmt: skip
    results = json.loads(checked.stdout)["results"]
    assert since in [res["failing_since"] for res in results], results
    text = _text(runner, "--board", "mdash-arduino@1.2.13")
    assert (
        "fails its TLS handshake to mdash.net at least since 2024-03-13 (this device does "
        "not check dates, so the chain fails whenever it is sent; servers a shipped roadmap "
        "says send this chain fail from 2024-06-06 (letsencrypt rsa-default since 2024-02-08"
    ) in text, text


def test_help_and_readme_say_it(runner: CliRunner) -> None:
    readme = " ".join((Path(__file__).parent.parent / "README.md").read_text().split())
    assert "esp-cabundle inspect dump.bin --board mdash-arduino@1.2.13" in readme
    assert '`"board"` (its name, as other commands give it), `"board_version"`' in readme
    assert '`"reach"` (`ok`, `ca_file`, `firm`' in readme and "`hostname`" in readme
    text = " ".join(runner.invoke(cli, ["inspect", "--help"]).stdout.split())
    assert "esp-cabundle inspect dump.bin --board mdash-arduino@1.2.13" in text, text
    assert "--board also names the board of a whole-flash dump" in text, text


def test_config_names_the_project_whose_saved_chains_are_judged(
    dst_dump: Path, runner: CliRunner
) -> None:
    """Saved chains were read from the working directory only: inspect had no -c to name
    a project elsewhere, as check has (chains/ beside the config)."""
    project = dst_dump.parent / "proj"
    (project / "chains").mkdir(parents=True)
    (project / "cabundle.yaml").write_text("preset: default\n")
    shutil.copy(CHAINS / "letsencrypt-2024-short.pem", project / "chains" / "mdash.net.pem")
    doc = _doc(runner, "--board", "mdash-arduino@1.2.13", "-c", "proj/cabundle.yaml")
    assert doc["reach"]["chain_file"] == "proj/chains/mdash.net.pem", doc["reach"]
    assert doc["reach"]["failing_since"]["date"] == "2024-03-13"
    assert _doc(runner, "--board", "mdash-arduino@1.2.13")["reach"]["chain_file"] is None
    text = " ".join(runner.invoke(cli, ["inspect", "--help"]).stdout.split())
    assert "inspect reads only the saved chains/ beside it (and its targets' chain: files)" in text


def test_config_target_chain_path_is_read_for_its_host(dst_dump: Path, runner: CliRunner) -> None:
    """A config target on the board's server with its own chain: path is what check
    reads for that host; inspect -c read chains/HOST.pem beside the config instead."""
    project = dst_dump.parent / "proj"
    (project / "saved").mkdir(parents=True)
    (project / "cabundle.yaml").write_text(
        "preset: default\ntargets:\n  - {host: mdash.net, chain: saved/mdash-2024.pem}\n"
    )
    shutil.copy(CHAINS / "letsencrypt-2024-short.pem", project / "saved" / "mdash-2024.pem")
    doc = _doc(runner, "--board", "mdash-arduino@1.2.13", "-c", "proj/cabundle.yaml")
    assert doc["reach"]["chain_file"] == "proj/saved/mdash-2024.pem", doc["reach"]
    assert doc["reach"]["failing_since"]["date"] == "2024-03-13"


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["-c", "cabundle.yaml"], "Error: -c/--config needs --board: inspect reads a project's"),
        (["-c", "bad.yaml", "--board", "mdash-arduino"], "Error: bad.yaml"),
        (["-c", "none.yaml", "--board", "mdash-arduino"], "none.yaml"),
    ],
    ids=["without-board", "bad-config", "missing-config"],
)
def test_a_config_that_cannot_serve_is_refused_before_reading(
    dst_dump: Path, runner: CliRunner, args: list[str], said: str
) -> None:
    (dst_dump.parent / "cabundle.yaml").write_text("preset: default\n")
    (dst_dump.parent / "bad.yaml").write_text("preset: [\n")
    before = sorted(p.name for p in dst_dump.parent.iterdir())
    r = runner.invoke(cli, ["inspect", "dump.bin", *AT, *args])
    assert r.exit_code == 2, r.output
    assert said in r.stderr and r.stdout == "", r.stderr
    assert sorted(p.name for p in dst_dump.parent.iterdir()) == before
