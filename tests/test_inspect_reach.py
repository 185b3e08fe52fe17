"""inspect on an mDash unit or its dump whose /ca.pem holds DST Root CA X3 alone: the
row said EXPIRED, exit 0, and nothing said the unit can no longer reach mdash.net, nor
what to run. One note now says it, on the write gate's own verdict (the chains mdash.net
sends over time, under the board's rules), with since when and the command that fixes
it; a CA file that verifies the server gets none; the exit code stays 0."""

from __future__ import annotations

import json
import shlex
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from esp_cabundle.cli import cli
from esp_cabundle.fs import open_image
from tests.support import dumps

DST = (dumps.DATA / "letsencrypt" / "dst-root-ca-x3.pem").read_bytes()
SPIFFS = (0x290000, 0x3F0000)  # the Arduino table's spiffs partition
AT = ["--at", "2026-12-04"]


def dst_only(flash: bytes) -> bytes:
    """``flash`` with its mDash SPIFFS /ca.pem holding DST Root CA X3 alone (every other
    file kept), as units left unfixed since 2021 hold it."""
    start, end = SPIFFS
    image = open_image(flash[start:end])
    image.write("/ca.pem", DST)
    return flash[:start] + bytes(image.to_bytes()) + flash[end:]


def _notes(r: Any) -> list[str]:
    return [n for n in json.loads(r.stdout)["reports"][0]["notes"] if "TLS handshake" in n]


@pytest.mark.parametrize("as_json", [False, True])
def test_a_dst_only_dump_says_it_depends_on_the_firmware_version(
    in_tmp: Path, runner: CliRunner, as_json: bool
) -> None:
    """/mdash.cfg marks mDash, but mDash 1.2.15+ (board mdash, no file system, CA
    compiled in) keeps the files of the 1.2.14 it was upgraded from: the note said such a
    unit 'fails its TLS handshake ... fix: update-dump'. The dump alone does not tell, so
    the note gives no verdict: which versions read /ca.pem, and the fix for those."""
    (in_tmp / "dump.bin").write_bytes(dst_only(dumps.arduino_dump()))
    r = runner.invoke(cli, ["inspect", "dump.bin", *AT, *(["--json"] if as_json else [])])
    assert r.exit_code == 0, r.output
    if as_json:
        (note,) = _notes(r)
    else:
        (note,) = [ln for ln in r.output.splitlines() if "TLS handshake" in ln]
        note = note.strip().removeprefix("note: ")
    assert note.startswith(
        "whether a unit holding this flash completes its TLS handshake to mdash.net depends "
        "on its firmware version: mdash 1.2.12-1.2.14 (board mdash-arduino) reads /ca.pem, "
        "which does not verify the chain mdash.net sends (-0x2700) since 2024-06-06 "
    ), note
    assert "fails" not in note, note
    assert "; mdash 1.2.15-1.2.16 (board mdash) never reads it (its CA is compiled in);" in note
    fix = "esp-cabundle update-dump dump.bin --board mdash-arduino --preset mdash -o new.bin"
    assert note.endswith(f"; for mdash 1.2.12-1.2.14, fix: {fix}"), note


def test_the_fix_line_runs_and_the_updated_dump_has_no_such_note(
    in_tmp: Path, runner: CliRunner
) -> None:
    (in_tmp / "dump.bin").write_bytes(dst_only(dumps.arduino_dump()))
    r = runner.invoke(cli, ["inspect", "dump.bin", *AT, "--json"])
    fix = _notes(r)[0].split(", fix: esp-cabundle ")[1]
    done = runner.invoke(cli, [*shlex.split(fix), *AT])
    assert done.exit_code == 0, done.output
    again = runner.invoke(cli, ["inspect", "new.bin", *AT, "--json"])
    assert again.exit_code == 0 and _notes(again) == [], again.output


def test_a_ca_file_that_verifies_the_server_gets_no_note(in_tmp: Path, runner: CliRunner) -> None:
    """The test dump's /ca.pem holds ISRG Root X1 beside DST: mdash.net's chains verify."""
    (in_tmp / "dump.bin").write_bytes(dumps.arduino_dump())
    r = runner.invoke(cli, ["inspect", "dump.bin", *AT, "--json"])
    assert r.exit_code == 0 and _notes(r) == [], r.output


def test_a_dump_of_no_board_with_servers_gets_no_note(in_tmp: Path, runner: CliRunner) -> None:
    (in_tmp / "mos.bin").write_bytes(dumps.mongoose_dump())
    r = runner.invoke(cli, ["inspect", "mos.bin", *AT, "--json"])
    assert r.exit_code == 0 and _notes(r) == [], r.output


def test_fail_on_expired_still_decides_the_exit_code(in_tmp: Path, runner: CliRunner) -> None:
    (in_tmp / "dump.bin").write_bytes(dst_only(dumps.arduino_dump()))
    r = runner.invoke(cli, ["inspect", "dump.bin", *AT, "--fail-on", "expired", "--json"])
    assert r.exit_code == 1, r.output
    assert "TLS handshake to mdash.net" in " ".join(json.loads(r.stdout)["reports"][0]["notes"])


def test_a_unit_with_board_says_it_and_names_its_port(
    virtual_esp32: Any, runner: CliRunner, in_tmp: Path
) -> None:
    unit = virtual_esp32("esp32")
    unit.load(0, dst_only(dumps.arduino_dump()))
    args = ["inspect", "--port", unit.url, "--board", "mdash-arduino", "--no-apps", *AT]
    r = runner.invoke(cli, [*args, "--json"])
    assert r.exit_code == 0, r.output
    (note,) = _notes(r)
    assert note.startswith("this unit fails its TLS handshake to mdash.net since 2024-06-06")
    assert "depends on its firmware version" not in note, note  # --board says which
    fix = f"esp-cabundle flash --port {unit.url} --board mdash-arduino --preset mdash"
    assert note.endswith(f"; fix: {fix}"), note
    text = runner.invoke(cli, args)
    assert text.exit_code == 0 and "this unit fails its TLS handshake" in text.output


def test_the_fix_line_says_a_cabundle_yaml_here_would_be_merged_in(
    in_tmp: Path, runner: CliRunner
) -> None:
    """'--preset default' merged with an unrelated ./cabundle.yaml (its roots, excludes and
    policies); no option ignores it, so the line says so where there is one."""
    (in_tmp / "dump.bin").write_bytes(dst_only(dumps.arduino_dump()))
    r = runner.invoke(cli, ["inspect", "dump.bin", *AT, "--json"])
    assert "cabundle.yaml" not in _notes(r)[0], _notes(r)
    (in_tmp / "cabundle.yaml").write_text("preset: aws-iot\n")
    r = runner.invoke(cli, ["inspect", "dump.bin", *AT, "--json"])
    assert r.exit_code == 0, r.output
    (note,) = _notes(r)
    assert note.endswith(
        "--preset mdash -o new.bin (run where no cabundle.yaml is: the one here would add "
        "its roots, excludes and policies to the preset)"
    ), note


def test_a_unit_the_board_does_not_fit_gets_no_flash_line(
    virtual_esp32: Any, runner: CliRunner, in_tmp: Path
) -> None:
    """A unit whose spiffs partition holds LittleFS (a DST-only /ca.pem): 'flash --board
    mdash-arduino' refuses it, so the note names no flash line, but why the board does
    not fit."""
    (in_tmp / "dst.pem").write_bytes(DST)
    pack = ["pack", "--fs", "littlefs", "--profile", "esp-idf", "--size", "1408K"]
    made = runner.invoke(cli, [*pack, "--bundle", "dst.pem", "--allow", "expired", "-o", "l.bin"])
    assert made.exit_code == 0, made.output
    start, end = SPIFFS
    flash = dumps.arduino_dump()
    unit = virtual_esp32("esp32")
    unit.load(0, flash[:start] + (in_tmp / "l.bin").read_bytes() + flash[end:])
    args = ["inspect", "--port", unit.url, "--board", "mdash-arduino", "--no-apps", *AT]
    r = runner.invoke(cli, [*args, "--json"])
    assert r.exit_code == 0, r.output
    (note,) = _notes(r)
    assert "esp-cabundle flash" not in note and "fix:" not in note, note
    assert note.endswith(
        "; board mdash-arduino does not fit this unit: its spiffs partition holds littlefs, "
        "not spiffs (esp-idf); 'flash --board mdash-arduino' would refuse it (esp-cabundle "
        "boards lists the others)"
    ), note
    flash = ["flash", "--port", unit.url, "--board", "mdash-arduino", "--preset", "mdash"]
    refused = runner.invoke(cli, [*flash, "--dry-run", *AT])
    assert refused.exit_code != 0 and "littlefs" in refused.output, refused.output


def test_the_verdict_follows_at(in_tmp: Path, runner: CliRunner) -> None:
    """Before Let's Encrypt stopped sending the DST chain (2024-06-06) the unit connected."""
    (in_tmp / "dump.bin").write_bytes(dst_only(dumps.arduino_dump()))
    r = runner.invoke(cli, ["inspect", "dump.bin", "--at", "2023-01-01", "--json"])
    assert r.exit_code == 0 and _notes(r) == [], r.output


def test_help_and_readme_say_it(runner: CliRunner) -> None:
    readme = " ".join((Path(__file__).parent.parent / "README.md").read_text().split())
    assert "this unit fails its TLS handshake to mdash.net since 2024-06-06" in readme
    assert "mdash 1.2.15-1.2.16 (board mdash) never reads it" in readme
    text = " ".join(runner.invoke(cli, ["inspect", "--help"]).stdout.split())
    assert "no longer verifies its own servers (a DST-only /ca.pem), a note says" in text, text
