"""A hint's command names a file whose name is not UTF-8 (``o\\xff``: a surrogate escape
in Python's str) by the same bytes when pasted into bash: build, init, chains pull,
push, virtual-unit and update-dump quoted it with shlex.quote, shown as ``'o\\xff'``, a
file with a backslash, an x and two letters in its name. Now bash's ``$'o\\xff'``
(file_kinds.shell_word, as the fs hints in test_fs_hint_quoting.py)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from esp_cabundle.cli import cli
from esp_cabundle.commands import virtual_unit
from tests.support.fleet_links import refusing_ports

NAME = b"o\xff"
ODD = os.fsdecode(NAME)
CA = Path(__file__).parent / "data" / "letsencrypt" / "isrgrootx1.pem"
_WORD = re.compile(r"\$'(?:[^'\\]|\\.)*'")


def _pasted(text: str, after: str) -> bytes:
    """The first ``$'...'`` word after ``after`` in ``text``, as bash gives it back."""
    assert after in text, text
    word = _WORD.search(text.split(after, 1)[1].split("\n", 1)[0])
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
        ("", ["--board", "x\x1by"], "init --board ", b"x\x1by"),
    ],
    ids=["several-formats", "configs-outputs", "a-directory", "board"],
)
def test_build(config: str, args: list[str], after: str, meant: bytes, in_tmp: Path) -> None:
    if config:
        (in_tmp / "cabundle.yaml").write_text(config)
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
