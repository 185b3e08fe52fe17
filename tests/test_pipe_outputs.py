"""An output named by a descriptor that is a pipe or socket (``-o /dev/stdout`` piped on,
bash's ``-o >(cmd)``, which is ``/dev/fd/63``) is written through, as a FIFO is: its
link leads to ``pipe:[INODE]``, and writing beside it to rename failed (exit 3, "no new
file can be made in /proc/NNN/fd"), nothing written. Each run is the real CLI in a
child process, its descriptors as a shell would leave them."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(
    not Path("/proc/self/fd").is_dir(), reason="needs /proc/self/fd (Linux)"
)


def _cli(cwd: Path, *args: str, **kw: object) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "esp_cabundle", *args],
        cwd=cwd,
        stdout=kw.pop("stdout", subprocess.PIPE),
        stderr=subprocess.PIPE,
        **kw,  # type: ignore[call-overload]
    )


def _bundle(tmp_path: Path) -> bytes:
    """The bundle ``build -o -`` writes, to compare the others with."""
    where = tmp_path / "dash"
    where.mkdir()
    out, err = _cli(where, "build", "--no-lock", "-o", "-").communicate(timeout=60)
    assert b"-----BEGIN CERTIFICATE-----" in out, err
    return out


def _empty_dir(tmp_path: Path) -> Path:
    """Where the command runs: nothing may be left in it."""
    work = tmp_path / "work"
    work.mkdir()
    return work


def test_dev_stdout_on_a_pipe_gets_the_bundle_and_nothing_else(tmp_path: Path) -> None:
    want, work = _bundle(tmp_path), _empty_dir(tmp_path)
    p = _cli(work, "build", "--no-lock", "-o", "/dev/stdout")
    out, err = p.communicate(timeout=60)
    assert p.returncode == 0, err.decode()
    assert out == want  # the roots table went to stderr, as with -o -
    assert b"roots from preset" in err
    assert list(work.iterdir()) == []


def test_dev_fd_n_of_a_pipe_is_written_through(tmp_path: Path) -> None:
    want, work = _bundle(tmp_path), _empty_dir(tmp_path)
    r, w = os.pipe()
    try:
        p = _cli(work, "build", "--no-lock", "-o", f"/dev/fd/{w}", pass_fds=(w,))
        os.close(w)
        w = -1
        with os.fdopen(r, "rb") as f:
            r = -1
            got = f.read()  # to its end: the child's end closes when it exits
        _, err = p.communicate(timeout=60)
    finally:
        for fd in (r, w):
            if fd >= 0:
                os.close(fd)
    assert p.returncode == 0, err.decode()
    assert got == want
    assert list(work.iterdir()) == []


def test_dev_fd_n_of_a_socket_is_written_through(tmp_path: Path) -> None:
    want, work = _bundle(tmp_path), _empty_dir(tmp_path)
    ours, theirs = socket.socketpair()
    with ours:
        with theirs:
            fd = theirs.fileno()
            p = _cli(work, "build", "--no-lock", "-o", f"/dev/fd/{fd}", pass_fds=(fd,))
        got = b""
        while chunk := ours.recv(65536):
            got += chunk
    _, err = p.communicate(timeout=60)
    assert p.returncode == 0, err.decode()
    assert got == want
    assert list(work.iterdir()) == []


def test_fs_cat_to_dev_stdout_on_a_pipe(tmp_path: Path) -> None:
    p = _cli(tmp_path, "build", "--no-lock", "-q", "-o", "ca.pem")
    assert p.communicate(timeout=60) and p.returncode == 0
    pack = ("pack", "--board", "mdash-arduino", "--bundle", "ca.pem", "-o", "img.bin")
    p = _cli(tmp_path, *pack)
    assert p.communicate(timeout=60) and p.returncode == 0
    p = _cli(tmp_path, "fs", "cat", "img.bin", "/ca.pem", "-o", "/dev/stdout")
    out, err = p.communicate(timeout=60)
    assert p.returncode == 0, err.decode()
    assert out == (tmp_path / "ca.pem").read_bytes()
    assert sorted(f.name for f in tmp_path.iterdir()) == ["ca.pem", "img.bin"]


def test_a_descriptor_not_open_is_said(tmp_path: Path) -> None:
    p = _cli(tmp_path, "build", "--no-lock", "-o", "/dev/fd/9")  # close_fds: 9 is shut
    out, err = p.communicate(timeout=60)
    assert p.returncode == 3
    assert b"/dev/fd/9: file descriptor 9 is not open" in err
    assert out == b""
    assert list(tmp_path.iterdir()) == []
