"""An output named by a descriptor (``-o /dev/fd/3 3> dump.bin``) that leads to a regular
file is written where the descriptor stands, yet ends as a replaced file would: of the
mode asked (a flash dump stays 0600, it holds Wi-Fi passwords) and without an old tail
past the new end (``3<> FILE`` writes from its start without truncating)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from esp_cabundle.fileio import PRIVATE, write_atomic

pytestmark = pytest.mark.skipif(
    not Path("/dev/fd").is_dir() or not hasattr(os, "fchmod"), reason="needs /dev/fd (POSIX)"
)


def _through(path: Path, flags: int, data: bytes, mode: int) -> None:
    fd = os.open(path, flags, 0o644)
    try:
        os.fchmod(fd, 0o644)  # whatever the umask
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
