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


def test_dev_stdout_appended_to_a_file_keeps_its_earlier_bytes(tmp_path: Path) -> None:
    """``-o /dev/stdout >> all.pem``: written through the descriptor the shell opened,
    so the file grows in place (same inode); replacing it by name dropped its bytes."""
    want, work = _bundle(tmp_path), _empty_dir(tmp_path)
    target = tmp_path / "all.pem"
    target.write_bytes(b"# earlier content\n")
    inode = target.stat().st_ino
    with target.open("ab") as out:
        p = _cli(work, "build", "--no-lock", "-o", "/dev/stdout", stdout=out)
        _, err = p.communicate(timeout=60)
    assert p.returncode == 0, err.decode()
    assert target.read_bytes() == b"# earlier content\n" + want
    assert target.stat().st_ino == inode
    assert b"roots from preset" in err  # the report on stderr, as with -o -
    assert list(work.iterdir()) == []


def test_dev_fd_n_of_a_file_is_written_where_it_stands(tmp_path: Path) -> None:
    """``-o /dev/fd/3 3>> log``: the same for any descriptor; nothing left beside it."""
    want, work = _bundle(tmp_path), _empty_dir(tmp_path)
    target = tmp_path / "log"
    target.write_bytes(b"kept\n")
    fd = os.open(target, os.O_WRONLY | os.O_APPEND)
    try:
        p = _cli(work, "build", "--no-lock", "-q", "-o", f"/dev/fd/{fd}", pass_fds=(fd,))
        _, err = p.communicate(timeout=60)
    finally:
        os.close(fd)
    assert p.returncode == 0, err.decode()
    assert target.read_bytes() == b"kept\n" + want
    assert sorted(f.name for f in tmp_path.iterdir()) == ["dash", "log", "work"]


def test_a_descriptor_open_for_reading_is_refused(tmp_path: Path) -> None:
    """``-o /dev/stdin < ca.pem``: refused before anything is written; the file read
    from is left as it was (replacing it by name once overwrote it)."""
    work = _empty_dir(tmp_path)
    source = tmp_path / "in.pem"
    source.write_bytes(b"not to be touched\n")
    inode = source.stat().st_ino
    with source.open("rb") as f:
        p = _cli(work, "build", "--no-lock", "-o", "/dev/stdin", stdin=f)
        out, err = p.communicate(timeout=60)
    assert p.returncode == 3, err.decode()
    assert b"/dev/stdin: file descriptor 0 is open for reading only; nothing written" in err
    assert out == b""
    assert source.read_bytes() == b"not to be touched\n"
    assert source.stat().st_ino == inode
    assert list(work.iterdir()) == []


def test_a_plain_output_file_is_still_replaced_whole(tmp_path: Path) -> None:
    """A file named by its own name is written beside it and renamed over it (a new
    inode, no earlier bytes), never written in place."""
    want, work = _bundle(tmp_path), _empty_dir(tmp_path)
    target = work / "ca.pem"
    target.write_bytes(b"# old bundle, longer than nothing\n")
    inode = target.stat().st_ino
    keep = os.open(target, os.O_RDONLY)  # holds the old inode: its number is not reused
    try:
        p = _cli(work, "build", "--no-lock", "-q", "-o", "ca.pem")
        _, err = p.communicate(timeout=60)
        assert p.returncode == 0, err.decode()
        assert target.read_bytes() == want
        assert target.stat().st_ino != inode
        assert os.read(keep, 100) == b"# old bundle, longer than nothing\n"
    finally:
        os.close(keep)
    assert [f.name for f in work.iterdir()] == ["ca.pem"]
