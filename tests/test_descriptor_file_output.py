"""An output named by a descriptor (``-o /dev/fd/3 3> dump.bin``) that leads to a regular
file is written where the descriptor stands, without an old tail past the new end
(``3<> FILE`` writes from its start without truncating). Its mode is the shell's (a
shared 0664 log stays 0664, another user's file is written as before) unless the output
is private (a flash dump holds Wi-Fi passwords): then it is kept from group and others,
or refused, nothing written, when its mode cannot be narrowed."""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

import pytest

from esp_cabundle.errors import OutputError
from esp_cabundle.fileio import PRIVATE, PUBLIC, write_all_atomic, write_atomic

pytestmark = pytest.mark.skipif(
    not Path("/dev/fd").is_dir() or not hasattr(os, "fchmod"), reason="needs /dev/fd (POSIX)"
)


APPEND = os.O_WRONLY | os.O_CREAT | os.O_APPEND
TRUNCATE = os.O_WRONLY | os.O_CREAT | os.O_TRUNC


def _through(path: Path, flags: int, data: bytes, mode: int, old: int = 0o644) -> None:
    fd = os.open(path, flags, old)
    try:
        os.fchmod(fd, old)  # whatever the umask
        write_atomic(Path(f"/dev/fd/{fd}"), data, mode=mode)
    finally:
        os.close(fd)


def test_private_data_through_a_descriptor_leaves_the_file_0600(tmp_path: Path) -> None:
    dump = tmp_path / "dump.bin"
    _through(dump, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, b"secret", PRIVATE)
    assert dump.read_bytes() == b"secret"
    assert stat.S_IMODE(dump.stat().st_mode) == 0o600


def test_read_write_descriptor_leaves_no_old_tail(tmp_path: Path) -> None:
    out = tmp_path / "ca.pem"
    out.write_bytes(b"an older and much longer content")
    _through(out, os.O_RDWR, b"new", 0o644)
    assert out.read_bytes() == b"new"
    assert stat.S_IMODE(out.stat().st_mode) == 0o644


def test_appended_descriptor_keeps_earlier_bytes(tmp_path: Path) -> None:
    out = tmp_path / "all.pem"
    out.write_bytes(b"earlier\n")
    _through(out, os.O_WRONLY | os.O_APPEND, b"later\n", 0o644)
    assert out.read_bytes() == b"earlier\nlater\n"


@pytest.mark.parametrize("flags", [APPEND, TRUNCATE], ids=["append", "truncate"])
def test_public_output_keeps_the_mode_the_shell_gave(tmp_path: Path, flags: int) -> None:
    """``>> shared.log`` (0664) or a ``>`` file made under umask 002 keeps group write:
    it was narrowed to 0644 (and another user's file refused: fchmod, EPERM)."""
    out = tmp_path / "shared.log"
    out.write_bytes(b"earlier\n")
    _through(out, flags, b"later\n", PUBLIC, old=0o664)
    assert out.read_bytes() == (b"earlier\n" if flags == APPEND else b"") + b"later\n"
    assert stat.S_IMODE(out.stat().st_mode) == 0o664


def test_private_append_narrows_a_file_others_read(tmp_path: Path) -> None:
    out = tmp_path / "dumps.bin"
    out.write_bytes(b"earlier")
    _through(out, APPEND, b"secret", PRIVATE, old=0o644)
    assert out.read_bytes() == b"earliersecret"
    assert stat.S_IMODE(out.stat().st_mode) == 0o600


def _no_fchmod(fd: int, mode: int) -> None:
    raise PermissionError(errno.EPERM, os.strerror(errno.EPERM))


@pytest.mark.parametrize("flags", [APPEND, os.O_RDWR], ids=["append", "read-write"])
def test_private_output_to_a_file_that_cannot_be_narrowed_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, flags: int
) -> None:
    """Another user's 0644 file (fchmod: EPERM): the secrets would be readable by
    others, so nothing is written to it, nor to the other output of the same write."""
    out = tmp_path / "dump.bin"
    out.write_bytes(b"earlier")
    out.chmod(0o644)
    other = tmp_path / "other.bin"
    fd = os.open(out, flags)
    monkeypatch.setattr(os, "fchmod", _no_fchmod)
    try:
        with pytest.raises(OutputError) as e:
            write_all_atomic([(Path(f"/dev/fd/{fd}"), b"secret"), (other, b"x")], mode=PRIVATE)
    finally:
        os.close(fd)
    said = str(e.value)
    assert "would be readable by others (mode 0644)" in said and "nothing written" in said
    assert "chmod go=" in (e.value.hint or "")
    assert out.read_bytes() == b"earlier" and stat.S_IMODE(out.stat().st_mode) == 0o644
    assert not other.exists()


def test_private_output_to_a_private_file_needs_no_chmod(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "dump.bin"
    fd = os.open(out, TRUNCATE, 0o600)
    monkeypatch.setattr(os, "fchmod", _no_fchmod)
    try:
        write_atomic(Path(f"/dev/fd/{fd}"), b"secret", mode=PRIVATE)
    finally:
        os.close(fd)
    assert out.read_bytes() == b"secret"
