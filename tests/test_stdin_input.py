"""``-`` as an input file: standard input, read once and bounded, never waited on at a
terminal; where a command does not take it, it stays a file's name."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from esp_cabundle.cli import cli
from esp_cabundle.errors import InputError
from esp_cabundle.fileio import read_input

DATA = Path(__file__).parent / "data"
ROOT = DATA / "letsencrypt" / "isrgrootx1.pem"
SHORT = (
    Path(__file__).resolve().parent.parent / "examples" / "chains" / "letsencrypt-2024-short.pem"
)


class _Stdin(io.TextIOWrapper):
    """A piped standard input that counts how often it is read."""

    reads = 0

    def __init__(self, data: bytes, *, tty: bool = False) -> None:
        super().__init__(io.BytesIO(data))
        self.tty = tty

    def isatty(self) -> bool:
        return self.tty


def _counting(monkeypatch: pytest.MonkeyPatch, data: bytes, *, tty: bool = False) -> list[int]:
    stream = _Stdin(data, tty=tty)
    reads: list[int] = []
    real = stream.buffer.read

    def read(n: int = -1) -> bytes:
        reads.append(n)
        return real(n)

    monkeypatch.setattr(stream.buffer, "read", read)
    monkeypatch.setattr(sys, "stdin", stream)
    return reads


def test_inspect_reads_a_piped_ca_file(runner: CliRunner) -> None:
    r = runner.invoke(cli, ["inspect", "-", "--fail-within", "30"], input=ROOT.read_bytes())
    assert r.exit_code == 0, r.output
    assert "ISRG Root X1" in r.stdout


def test_check_reads_a_piped_bundle_once(runner: CliRunner, in_tmp: Path) -> None:
    """A board whose CA is compiled in reads --bundle to sniff it, then loads it: the
    second read of a pipe would be empty, so standard input is read once."""
    r = runner.invoke(
        cli, ["check", "--bundle", "-", "--chain", str(SHORT)], input=ROOT.read_bytes()
    )
    assert r.exit_code == 0 and "1 pass" in " ".join(r.stdout.split()), r.output
    s_pem = (DATA / "mdash" / "mDash-1.2.16-s_pem.c").read_bytes()
    args = ["check", "--board", "mdash", "--bundle", "-", "--chain", str(SHORT)]
    r = runner.invoke(cli, [*args, "--at", "2026-01-01"], input=s_pem)
    assert r.exit_code == 0, r.output
    assert "judged as the CA of rebuilt firmware" in " ".join(r.stdout.split())


def test_standard_input_is_read_once_and_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    data = ROOT.read_bytes()
    reads = _counting(monkeypatch, data)
    for _ in range(2):
        assert read_input("-", what="CA file", stdin=True) == data
    assert len(reads) == 1 and reads[0] > 0  # one bounded read, not read(-1)
    _counting(monkeypatch, b"x" * 11)
    with pytest.raises(InputError, match="over the 10 bytes limit") as e:
        read_input("-", what="CA file", max_bytes=10, stdin=True)
    assert e.value.path == "-"
    # A later reader with a larger cap gets the same refusal, never the 11 bytes kept
    # (cut at the first cap: the input may be longer) as if they were all of it.
    with pytest.raises(InputError, match="over the 10 bytes limit"):
        read_input("-", what="CA file", max_bytes=1000, stdin=True)
    # A smaller cap than the first is its own limit, said as such.
    with pytest.raises(InputError, match="over the 5 bytes limit"):
        read_input("-", what="CA file", max_bytes=5, stdin=True)


def test_a_terminal_is_refused_unread(monkeypatch: pytest.MonkeyPatch) -> None:
    reads = _counting(monkeypatch, b"", tty=True)
    with pytest.raises(InputError, match="standard input is a terminal") as e:
        read_input("-", what="CA file", stdin=True)
    assert reads == [] and e.value.hint and "pipe the CA file in" in e.value.hint


@pytest.mark.skipif(not hasattr(os, "openpty"), reason="needs a pseudo-terminal")
def test_inspect_at_a_terminal_says_nothing_was_piped() -> None:
    main, tty = os.openpty()
    try:
        done = subprocess.run(
            [sys.executable, "-m", "esp_cabundle", "inspect", "-"],
            stdin=tty,
            capture_output=True,
            text=True,
            timeout=120,  # a guard against the hang this test is about, not a measure
        )
    finally:
        os.close(tty)
        os.close(main)
    assert done.returncode == 2
    assert "Error: -: standard input is a terminal: no image or CA file was piped in" in (
        done.stderr
    )


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["inspect", "-"], "Error: -: standard input is empty\n"),
        (
            ["check", "--bundle", "-", "--chain", str(SHORT)],
            "Error: -: standard input is empty, no certificate found",
        ),
    ],
    ids=["inspect", "check --bundle"],
)
def test_an_empty_pipe_is_said_to_be_standard_input(
    runner: CliRunner, in_tmp: Path, args: list[str], said: str
) -> None:
    """An empty pipe (the command before it failed) is no file: "-: empty file" read as
    a file named '-'. Still refused, exit 2."""
    r = runner.invoke(cli, args, input=b"")
    assert r.exit_code == 2, r.output
    assert said in r.stderr


def test_dash_stays_a_file_name_where_it_is_not_taken(in_tmp: Path) -> None:
    """A reader that does not take standard input (a lock file is rewritten where it
    lies) looks for a file named ``-``, and says how to read standard input instead."""
    with pytest.raises(InputError, match="no such lock file") as e:
        read_input("-", what="lock file")
    assert e.value.hint == "'-' is read as a file name here; read standard input as /dev/stdin"


def test_inspect_refuses_standard_input_named_twice(runner: CliRunner) -> None:
    """The pipe is read once and its bytes kept: a second ``-`` would show the same
    input again as if it were another. Refused before any input is shown."""
    r = runner.invoke(cli, ["inspect", "-", str(ROOT), "-"], input=ROOT.read_bytes())
    assert r.exit_code == 2, r.output
    assert "standard input is named twice" in r.stderr and "hint:" in r.stderr
    assert r.stdout == ""


@pytest.mark.parametrize(
    "names",
    [
        ["/dev/stdin", "-"],
        ["-", str(ROOT), "/dev/stdin"],
        ["/proc/self/fd/0", "-"],
        ["/dev/fd/0", "/dev/stdin"],
    ],
)
def test_inspect_refuses_standard_input_named_twice_in_any_spelling(names: list[str]) -> None:
    """``/dev/stdin`` is the pipe ``-`` reads: compared as files, not by name, the two
    are one input, refused before anything is read (the second read of a pipe is empty)."""
    if not Path("/proc/self/fd/0").exists():
        pytest.skip("no /proc: fd 0 has no path to name it by")
    done = subprocess.run(
        [sys.executable, "-m", "esp_cabundle", "inspect", *names],
        input=ROOT.read_bytes(),
        capture_output=True,
        timeout=120,
    )
    assert done.returncode == 2, done.stderr
    err = done.stderr.decode()
    assert f"standard input is named twice: {names[0]} and {names[-1]} are one input" in err
    assert "hint: name standard input once" in err and done.stdout == b""


def test_inspect_takes_a_file_and_a_regular_file_redirected_in(tmp_path: Path) -> None:
    """A regular file on standard input is named twice only where both names are fd 0:
    the same file by its own path, or another file, is read on its own."""
    with ROOT.open("rb") as f:
        done = subprocess.run(
            [sys.executable, "-m", "esp_cabundle", "inspect", str(ROOT), str(SHORT), "-"],
            stdin=f,
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert done.returncode == 0, done.stderr
    assert f"{ROOT}: pem, 1 certificate" in done.stdout
    assert f"{SHORT}: pem, 1 certificate" in done.stdout and "\n-: pem, 1 cert" in done.stdout
    with ROOT.open("rb") as f:
        done = subprocess.run(
            [sys.executable, "-m", "esp_cabundle", "inspect", "/dev/stdin", "-"],
            stdin=f,
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert done.returncode == 2 and "standard input is named twice" in done.stderr
