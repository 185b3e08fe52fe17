"""A reader of stdout or stderr that leaves early (``esp-cabundle build | head -1``):
the command still finishes its work, prints no traceback or message about it, and
exits with its own code (never 1); only output meant for stdout itself (``-o -``)
that was cut short exits 141, as ``cat`` would. Real pipes, real child processes."""

from __future__ import annotations

import errno
import os
import subprocess
import sys
from pathlib import Path

import pytest
from support.tools import requires

from esp_cabundle import _pipes

# What differs between interpreters: run on every CI Python (tests/support/shards.py).
pytestmark = pytest.mark.every_python

DATA = Path(__file__).resolve().parent / "data"
LE = DATA / "letsencrypt"
CLI = [sys.executable, "-m", "esp_cabundle"]


def _run_writing_to(
    out: int, args: list[str], cwd: Path, *, stderr_too: bool
) -> subprocess.CompletedProcess[bytes]:
    """Run with stdout (and with ``stderr_too`` stderr) on the descriptor ``out``."""
    return subprocess.run(
        [*CLI, *args],
        stdout=out,
        stderr=out if stderr_too else subprocess.PIPE,
        cwd=cwd,
        timeout=120,
        check=False,
    )


def _run_into_closed_pipe(
    args: list[str], cwd: Path, *, stderr_too: bool = False
) -> subprocess.CompletedProcess[bytes]:
    """Run with stdout (and with ``stderr_too`` stderr) on a pipe whose reader has
    already left: the first write there fails with EPIPE."""
    r, w = os.pipe()
    os.close(r)
    try:
        return _run_writing_to(w, args, cwd, stderr_too=stderr_too)
    finally:
        os.close(w)


def _says_nothing_of_it(stderr: bytes) -> bool:
    """stderr holds the command's usual notes: no traceback, no error, no word of pipes."""
    return not any(w in stderr.lower() for w in (b"traceback", b"error", b"pipe"))


@pytest.fixture
def bundle(tmp_path: Path) -> Path:
    ca = tmp_path / "ca.pem"
    ca.write_bytes((LE / "isrgrootx1.pem").read_bytes() + (LE / "isrg-root-x2.pem").read_bytes())
    return ca


def test_build_finishes_when_stdout_is_closed(tmp_path: Path) -> None:
    ref = subprocess.run([*CLI, "build", "--no-lock", "-q", "-o", "ref.pem"], cwd=tmp_path)
    assert ref.returncode == 0
    done = _run_into_closed_pipe(["build", "--no-lock", "-o", "sp.pem"], tmp_path)
    assert done.returncode == 0 and _says_nothing_of_it(done.stderr)
    assert (tmp_path / "sp.pem").read_bytes() == (tmp_path / "ref.pem").read_bytes()


def test_pack_finishes_when_stdout_and_stderr_are_closed(tmp_path: Path, bundle: Path) -> None:
    args = ["pack", "--fs", "littlefs", "--profile", "esp-idf", "--size", "64K",
            "--bundle", bundle.name, "--mtime", "0"]  # fmt: skip
    ref = subprocess.run([*CLI, *args, "-q", "-o", "ref.bin"], cwd=tmp_path)
    assert ref.returncode == 0
    done = _run_into_closed_pipe([*args, "-o", "x.bin"], tmp_path, stderr_too=True)
    assert done.returncode == 0
    assert (tmp_path / "x.bin").read_bytes() == (tmp_path / "ref.bin").read_bytes()


def test_a_failure_keeps_its_code_when_stderr_is_closed(tmp_path: Path) -> None:
    done = _run_into_closed_pipe(["build", "--preset", "nope", "-o", "x.pem"], tmp_path,
                                 stderr_too=True)  # fmt: skip
    assert done.returncode == 2 and not (tmp_path / "x.pem").exists()


def test_output_on_stdout_cut_short_exits_141(tmp_path: Path) -> None:
    done = _run_into_closed_pipe(["build", "--no-lock", "-o", "-"], tmp_path)
    assert done.returncode == 141 and _says_nothing_of_it(done.stderr)
    assert b"Wrote standard output" in done.stderr  # its report on stderr, as ever


@requires("head")
def test_head_under_pipefail(tmp_path: Path) -> None:
    """As CI runs it: ``set -o pipefail; esp-cabundle build ... | head -1``."""
    cmd = " ".join([*CLI, "build", "--no-lock", "-o", "sp.pem"])
    for tail in ("", " 2>&1"):
        done = subprocess.run(
            ["bash", "-c", f"set -o pipefail; {cmd}{tail} | head -1"],
            cwd=tmp_path,
            capture_output=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr
        assert len(done.stdout.splitlines()) == 1 and b"Traceback" not in done.stderr
        assert (tmp_path / "sp.pem").stat().st_size > 0


def _run_into_full_device(
    args: list[str], cwd: Path, *, stderr_too: bool = False
) -> subprocess.CompletedProcess[bytes]:
    """Run with stdout (and with ``stderr_too`` stderr) on /dev/full: every write there
    fails with ENOSPC, as on a full disk."""
    with open("/dev/full", "wb") as full:
        return _run_writing_to(full.fileno(), args, cwd, stderr_too=stderr_too)


needs_dev_full = pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")


@needs_dev_full
@pytest.mark.parametrize(
    "args",
    [["roots"], ["boards"], ["--help"], ["build", "--no-lock", "-o", "sp.pem"]],
    ids=["roots", "boards", "help", "build"],
)
def test_a_full_stdout_is_an_io_failure_said_once(tmp_path: Path, args: list[str]) -> None:
    """Not the reader's choice, unlike a closed pipe: exit 3 and one error on stderr, no
    traceback; the work itself (the file) is still done."""
    done = _run_into_full_device(args, tmp_path)
    assert done.returncode == 3, done.stderr
    assert b"Traceback" not in done.stderr
    assert done.stderr.count(b"Error: cannot write to standard output") == 1
    assert b"No space left on device" in done.stderr
    assert b"hint: send standard output to a file or device with room" in done.stderr
    if args[0] == "build":
        assert (tmp_path / "sp.pem").stat().st_size > 0


@needs_dev_full
def test_output_itself_to_a_full_stdout_exits_3(tmp_path: Path) -> None:
    done = _run_into_full_device(["build", "--no-lock", "-o", "-"], tmp_path)
    assert done.returncode == 3 and b"Traceback" not in done.stderr
    assert b"cannot write" in done.stderr


@needs_dev_full
def test_a_failure_keeps_its_code_when_stdout_is_full(tmp_path: Path) -> None:
    done = _run_into_full_device(["build", "--preset", "nope", "-o", "x.pem"], tmp_path)
    assert done.returncode == 2 and b"Traceback" not in done.stderr
    assert not (tmp_path / "x.pem").exists()


@needs_dev_full
def test_a_full_stderr_too_still_exits_3(tmp_path: Path) -> None:
    done = _run_into_full_device(["build", "--no-lock", "-o", "sp.pem"], tmp_path,
                                 stderr_too=True)  # fmt: skip
    assert done.returncode == 3 and (tmp_path / "sp.pem").stat().st_size > 0


@pytest.mark.parametrize(
    ("code", "hint"),
    [
        (errno.ENOSPC, "send standard output to a file or device with room"),
        (errno.EFBIG, "send standard output to a file or device with room"),
        (errno.EIO, "check the device or file standard output went to"),
        (errno.ENXIO, "check the device or file standard output went to"),
    ],
)
def test_a_failed_write_is_hinted_by_its_errno(
    monkeypatch: pytest.MonkeyPatch, code: int, hint: str
) -> None:
    """An I/O error on the device was hinted "send it to a file or device with room",
    as a full disk is: room is not what it lacks."""
    failed = OSError(code, os.strerror(code))
    monkeypatch.setattr(_pipes, "_FAILED", {"standard output": failed})
    said = _pipes.write_failure()
    assert said is not None and said[:2] == ("standard output", os.strerror(code))
    assert said[2].startswith(hint), said
    assert ("with room" in said[2]) == (code in (errno.ENOSPC, errno.EFBIG)), said
