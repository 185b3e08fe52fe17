"""A hint's command names a file whose name is not UTF-8 (``o\\xff``: a surrogate escape
in Python's str) by the same bytes when pasted into bash: build, init, chains pull,
push, virtual-unit and update-dump quoted it with shlex.quote, shown as ``'o\\xff'``, a
file with a backslash, an x and two letters in its name. Now bash's ``$'o\\xff'``
(file_kinds.shell_word, as the fs hints in test_fs_hint_quoting.py)."""

from __future__ import annotations

import ast
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from esp_cabundle.bundle import BundleSpec, resolve_bundle
from esp_cabundle.catalog import Catalog
from esp_cabundle.cli import cli
from esp_cabundle.commands import virtual_unit
from esp_cabundle.errors import InputError
from esp_cabundle.fs.edit import pack_image
from tests.support import dumps
from tests.support.fleet import invoke, mdash_unit, write_ca
from tests.support.fleet_links import refusing_ports
from tests.test_inspect_reach import dst_only

NAME = b"o\xff"
BOARDS = Path(__file__).parent.parent / "esp_cabundle" / "data" / "boards"
BOARD_FILE = b"./d\x01/mdash-arduino.yaml"
ODD = os.fsdecode(NAME)
CA = Path(__file__).parent / "data" / "letsencrypt" / "isrgrootx1.pem"
CHAIN = Path(__file__).parent.parent / "examples" / "chains" / "letsencrypt-2024-short.pem"
KEY = "shell-hint-bytes-key-5e6f7a"  # the stand_in fixture's mDash API key
_WORD = re.compile(r"\$'(?:[^'\\]|\\.)*'")


def _pasted(text: str, after: str) -> bytes:
    """The ``$'...'`` word right after ``after`` in ``text``, as bash gives it back."""
    assert after in text, text
    word = _WORD.match(text.split(after, 1)[1])
    assert word, text
    run = ["bash", "-c", f"printf %s {word.group()}"]
    return subprocess.run(run, capture_output=True, check=True).stdout


# Outputs a project's config lists: an -o whose name says no format picks none of them.
TWO = "preset: letsencrypt\noutputs:\n  - {format: pem, path: a.pem}\n  - {format: c, path: a.h}\n"


@pytest.mark.parametrize(
    ("config", "args", "after", "meant"),
    [
        ("", ["-f", "pem", "-f", "c", "-o", ODD], "(-f pem -o ", NAME),
        (TWO, ["-o", ODD], "e.g. -f pem -o ", NAME),
        ("", ["-o", ODD + "/"], "e.g. -o ", NAME + b"/FILE"),  # errors.directory_refused
        # a board file in a folder whose name holds a control character (a board's own
        # name cannot: a mistyped one gets no init step, e619b08)
        ("", ["--board", "./d\x01/mdash-arduino.yaml"], "init --board ", BOARD_FILE),
    ],
    ids=["several-formats", "configs-outputs", "a-directory", "board"],
)
def test_build(config: str, args: list[str], after: str, meant: bytes, in_tmp: Path) -> None:
    if config:
        (in_tmp / "cabundle.yaml").write_text(config)
    (in_tmp / "d\x01").mkdir()
    shutil.copy(BOARDS / "mdash-arduino.yaml", in_tmp / "d\x01")
    r = CliRunner().invoke(cli, ["build", "--no-lock", "-q", *args])
    assert r.exit_code == 2, r.output
    assert _pasted(r.stderr, after) == meant


def test_init(in_tmp: Path) -> None:
    r = CliRunner().invoke(cli, ["init", "--yes", "--at", "2026-01-01", "-o", ODD + ".yaml"])
    assert r.exit_code == 0, r.output
    assert _pasted(r.stderr, "esp-cabundle build -c ") == NAME + b".yaml"


def test_chains_pull(in_tmp: Path) -> None:
    with refusing_ports() as port:
        (in_tmp / ODD).write_text(f"targets:\n  - {{name: a, host: 127.0.0.1, port: {port()}}}\n")
        r = CliRunner().invoke(cli, ["chains", "pull", "-c", ODD, "--timeout", "2"])
    assert r.exit_code == 3, r.output
    assert _pasted(r.stderr, "once it answers: esp-cabundle chains pull -c ") == NAME


@pytest.mark.parametrize("what", ["devices", "status"])
def test_push(what: str, in_tmp: Path) -> None:
    if what == "devices":
        args = ["push", "--mqtt", "mqtt://127.0.0.1:9", "--board", "mongoose-os-esp32"]
        args += ["--bundle", "ca.pem", "--allow", "unjudged", "--devices", ODD]
        after, meant = "> ", NAME
    else:  # not a ledger, beside the one a push run there wrote
        (in_tmp / ODD).mkdir()
        (in_tmp / ODD / "cabundle-campaign.db").write_bytes(b"")
        (in_tmp / ODD / "bad.db").write_bytes(b"not a ledger")
        args = ["push", "status", "--ledger", f"{ODD}/bad.db"]
        after, meant = "e.g. --ledger ", NAME + b"/cabundle-campaign.db"
    r = CliRunner().invoke(cli, args)
    assert r.exit_code == 2, r.output
    assert _pasted(r.stderr, after) == meant


def test_virtual_unit_mdash(in_tmp: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The first line, push's options to reach the units, is pasted (or read by a
    script) whole: its key file is the one given."""
    monkeypatch.setattr(virtual_unit, "wait_for_signal", lambda: None)  # stop at once
    args = ["virtual-unit", "--mdash", "http://127.0.0.1:0", "--id", "m-1"]
    r = CliRunner().invoke(cli, [*args, "--api-key-file", ODD])
    assert r.exit_code == 0, r.output
    assert _pasted(r.stdout, "--api-key-file ") == NAME


def test_update_dump(in_tmp: Path) -> None:
    """A Spelling's quote (the CLI's: ``--bundle {}``) of a name that is not UTF-8."""
    shutil.copy(CA, ODD)
    args = ["update-dump", ODD, "--bundle", ODD, "-o", "out.bin", "--board", "mdash-arduino"]
    r = CliRunner().invoke(cli, args)
    assert r.exit_code == 2, r.output
    assert _pasted(r.stderr, "given as the CA (--bundle ") == NAME


# A project whose build writes an ESP-IDF bundle alone (no dates: check and inspect
# --fail-within are told to gate the roots it is built from).
IDF_PROJECT = "preset: letsencrypt\noutputs:\n  - {format: idf-bundle, path: b.bin}\n"


# --- the other hints that print a command with a path or a word the user typed --------


def test_update_dump_lines(in_tmp: Path) -> None:
    """An image given as the dump: its 'fs put' line; a dump updated: the 'flash' line
    that does the same on the unit (both quoted by shlex.quote)."""
    (in_tmp / ODD).write_bytes(pack_image("spiffs", "esp-idf", 64 << 10, []).data)
    shutil.copy(CA, "ca.pem")
    args = ["update-dump", ODD, "--board", "mdash-arduino", "--bundle", "ca.pem"]
    r = CliRunner().invoke(cli, [*args, "-o", "new.bin"])
    assert r.exit_code == 2, r.output
    assert _pasted(r.stderr, "esp-cabundle fs put ") == NAME
    (in_tmp / "dump.bin").write_bytes(dumps.arduino_dump())
    shutil.copy(CA, ODD + ".pem")
    args = ["update-dump", "dump.bin", "--board", "mdash-arduino", "--bundle", ODD + ".pem"]
    r = CliRunner().invoke(cli, [*args, "-o", "new.bin"])
    assert r.exit_code == 0, r.output
    assert (
        _pasted(r.stdout, "esp-cabundle flash --port PORT --board mdash-arduino --bundle ")
        == NAME + b".pem"
    )


def test_check_roots_line(in_tmp: Path) -> None:
    """An ESP-IDF bundle under a dating device: the same check on the roots the project
    (its config given by -c) builds, piped, with the chain file as typed."""
    (in_tmp / f"{ODD}.yaml").write_text(IDF_PROJECT)
    assert CliRunner().invoke(cli, ["build", "-q", "-c", f"{ODD}.yaml"]).exit_code == 0
    shutil.copy(CHAIN, ODD)
    args = ["check", "-c", f"{ODD}.yaml", "--bundle", "b.bin", "--device", "mbedtls-clock"]
    r = CliRunner().invoke(cli, [*args, "--chain", ODD])
    assert r.exit_code == 1 and "expiry cannot be judged" in r.stderr, r.output
    assert _pasted(r.stderr, "in its project: esp-cabundle build -c ") == NAME + b".yaml"
    assert _pasted(r.stderr, "| esp-cabundle check -c ") == NAME + b".yaml"
    assert _pasted(r.stderr, "--device mbedtls-clock --chain ") == NAME


def test_inspect_lines(in_tmp: Path) -> None:
    """A missing file its project builds: the build with that project's -c; that file,
    built (an ESP-IDF bundle), under --fail-within: the gate on the project's roots,
    piped; a dump whose CA no longer verifies mdash.net: the update-dump that fixes it."""
    project = in_tmp / ODD
    project.mkdir()
    (project / "cabundle.yaml").write_text(IDF_PROJECT)
    r = CliRunner().invoke(cli, ["inspect", f"{ODD}/b.bin"])
    assert r.exit_code == 2, r.output
    assert _pasted(r.stderr, "esp-cabundle build -c ") == NAME + b"/cabundle.yaml"
    assert CliRunner().invoke(cli, ["build", "-q", "-c", f"{ODD}/cabundle.yaml"]).exit_code == 0
    r = CliRunner().invoke(cli, ["inspect", f"{ODD}/b.bin", "--fail-within", "3650", "-q"])
    assert r.exit_code == 1, r.output
    assert _pasted(r.stderr, "esp-cabundle build -c ") == NAME + b"/cabundle.yaml"
    (project / "dump.bin").write_bytes(dst_only(dumps.arduino_dump()))
    r = CliRunner().invoke(cli, ["inspect", f"{ODD}/dump.bin", "--at", "2026-12-04"])
    assert r.exit_code == 0, r.output
    assert _pasted(" ".join(r.stdout.split()), "fix: esp-cabundle update-dump ") == (
        NAME + b"/dump.bin"
    )


def test_chains_show_lines(in_tmp: Path) -> None:
    """Each 'chains show --host ... -o PATH' names the file that every path reads: a
    missing chain file; a --target not captured (its chains/ beside the config), or
    saved there and stale; the board's own server (own_servers and the stale one made
    the path printable before quoting it)."""
    r = CliRunner().invoke(cli, ["check", "--bundle", str(CA), "--target", f"{ODD}/mdash.net.pem"])
    assert r.exit_code == 2, r.output
    assert _pasted(r.stderr, "chains show --host mdash.net -o ") == NAME + b"/mdash.net.pem"
    (in_tmp / ODD).mkdir()
    (in_tmp / ODD / "cabundle.yaml").write_text("preset: letsencrypt\n")
    config = ["-c", f"{ODD}/cabundle.yaml", "--bundle", str(CA)]
    with refusing_ports() as port:
        address = f"127.0.0.1:{port()}"
        r = CliRunner().invoke(cli, ["check", *config, "--target", address, "--timeout", "2"])
    assert r.exit_code == 3, r.output
    saved = NAME + f"/chains/{address.replace(':', '_')}.pem".encode()
    assert _pasted(r.stderr, f"chains show --host {address} -o ") == saved
    (in_tmp / ODD / "chains").mkdir()  # a stale chain saved for a --target: refresh it
    shutil.copy(CHAIN, in_tmp / ODD / "chains" / "127.0.0.1_9.pem")
    args = ["check", *config, "--target", "127.0.0.1:9", "--at", "2030-01-01"]
    r = CliRunner().invoke(cli, args)
    assert r.exit_code == 1, r.output
    stale = _pasted(r.stderr, "chains show --host 127.0.0.1:9 -o ")
    assert stale == NAME + b"/chains/127.0.0.1_9.pem"
    args = ["check", *config, "--board", "mdash-arduino@1.2.13", "--at", "2027-06-01"]
    r = CliRunner().invoke(cli, args)  # the shipped roadmap is stale by then
    assert r.exit_code == 0, r.output
    text = " ".join(r.stdout.split())
    assert _pasted(text, "chains show --host mdash.net -o ") == NAME + b"/chains/mdash.net.pem"


def test_push_again(stand_in: Any, in_tmp: Path) -> None:
    """A unit of another board: the push to it alone, on a ledger beside the one given."""
    s = stand_in([mdash_unit("dev-a")])
    write_ca(in_tmp)
    args = ["push", "--mdash", s.url, "--device", "dev-a", "--board", "mongoose-os-esp32"]
    args += ["--bundle", "ca.pem", "--allow", "unjudged", "--ledger", ODD, "--timeout", "2"]
    code, out = invoke(*args)
    assert code == 3, out
    assert _pasted(out, "--ledger ") == NAME + b"-mdash-arduino"


def test_missing_input_hints(in_tmp: Path) -> None:
    """Words click had no slot for, said back: the error's, and its hint's "left out"."""
    r = CliRunner().invoke(cli, ["pack", "-o", "x.bin", "--", ODD])
    assert r.exit_code == 2, r.output
    assert _pasted(r.stderr, "pack takes no arguments: ") == NAME
    assert _pasted(r.stderr, "--preset letsencrypt (") == NAME


def test_fs_profile(in_tmp: Path) -> None:
    """fs's command line names --profile as typed (here before it is found unknown)."""
    (in_tmp / "img").write_bytes(pack_image("spiffs", "esp-idf", 64 << 10, []).data)
    r = CliRunner().invoke(cli, ["fs", "put", "img", "img", "--profile", "x\x1by"])
    assert r.exit_code == 2, r.output
    assert _pasted(r.stderr, "--profile ") == b"x\x1by"


def test_a_root_directory_in_python_and_yaml(in_tmp: Path) -> None:
    """A root named as a directory: the library's hint is a Python literal (its repr, not
    the printable escape: 'o\\xff' is another file), a config's a YAML item ("a: b" plain
    was a mapping)."""
    (in_tmp / ODD).mkdir()
    with pytest.raises(InputError) as e:
        resolve_bundle(BundleSpec(roots=(ODD,), base_dir=in_tmp), Catalog.load())
    literal = e.value.hint.split("BundleSpec(roots=[", 1)[1].rsplit("])", 1)[0]
    assert os.fsencode(ast.literal_eval(literal)) == NAME + b"/FILE"
    (in_tmp / "a: b").mkdir()
    (in_tmp / "cabundle.yaml").write_text("preset: letsencrypt\nroots: ['a: b']\n")
    r = CliRunner().invoke(cli, ["build", "--dry-run"])
    assert r.exit_code == 2, r.output
    item = r.stderr.split("e.g. '- ", 1)[1].split("'\n", 1)[0]
    assert yaml.safe_load(f"- {item}") == ["a: b/FILE"]
