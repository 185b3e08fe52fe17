"""``read -o /dev/stdout >> backups.bin``: an -o file holding other bytes is kept
(another unit's backup), but a descriptor open for appending loses none of them, so the
read is added after them rather than refused. A ``>`` the shell opened is empty before
the command starts; ``<>`` (written from its start) still replaces, so it is refused."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner
from support.layouts import MONGOOSE_LFS, load_mongoose

from esp_cabundle.cli import cli
from esp_cabundle.virtual import VirtualESP32

pytestmark = pytest.mark.skipif(
    not Path("/proc/self/fd").is_dir(), reason="needs /proc/self/fd (Linux)"
)

Start = Callable[..., VirtualESP32]
EARLIER = b"another unit's backup\n"


def _unit(start: Start) -> VirtualESP32:
    unit = start("esp32")
    load_mongoose(unit)
    return unit


def _shell(cwd: Path, unit: VirtualESP32, redirect: str) -> subprocess.CompletedProcess[bytes]:
    """``read`` of fs_0 to ``-o /dev/stdout`` under a real shell's ``redirect``."""
    argv = [sys.executable, "-m", "esp_cabundle", "read", "-p", unit.url]
    argv += ["--partition", "fs_0", "-o", "/dev/stdout"]
    line = f"{shlex.join(argv)} {redirect}"
    return subprocess.run(["sh", "-c", line], cwd=cwd, capture_output=True, timeout=120)


@pytest.mark.parametrize("earlier", [EARLIER, MONGOOSE_LFS.read_bytes()], ids=["other", "same"])
def test_appended_through_dev_stdout_keeps_what_the_file_held(
    virtual_esp32: Start, tmp_path: Path, earlier: bytes
) -> None:
    """Other bytes were refused ("already holds other bytes"), and a file holding the
    same dump already was left as it was ("unchanged"): neither is lost by ``>>``."""
    unit = _unit(virtual_esp32)
    backups = tmp_path / "backups.bin"
    backups.write_bytes(earlier)
    backups.chmod(0o600)  # as a read saves it: the same dump was then left "unchanged"
    inode = backups.stat().st_ino
    r = _shell(tmp_path, unit, ">> backups.bin")
    assert r.returncode == 0, r.stderr.decode()
    assert backups.read_bytes() == earlier + MONGOOSE_LFS.read_bytes()
    assert backups.stat().st_ino == inode
    assert b"Read partition 'fs_0'" in r.stderr and b"unchanged" not in r.stderr
    assert r.stdout == b""
    assert [p.name for p in tmp_path.iterdir()] == ["backups.bin"]


def test_appended_through_dev_fd_n_keeps_what_the_file_held(
    virtual_esp32: Start, runner: CliRunner, tmp_path: Path
) -> None:
    unit = _unit(virtual_esp32)
    backups = tmp_path / "backups.bin"
    backups.write_bytes(EARLIER)
    fd = os.open(backups, os.O_WRONLY | os.O_APPEND)
    try:
        args = ["read", "-p", unit.url, "--partition", "fs_0", "-o", f"/dev/fd/{fd}"]
        r = runner.invoke(cli, args)
    finally:
        os.close(fd)
    assert r.exit_code == 0, r.output
    assert backups.read_bytes() == EARLIER + MONGOOSE_LFS.read_bytes()
    assert [p.name for p in tmp_path.iterdir()] == ["backups.bin"]


def test_a_file_the_shell_truncated_takes_the_read(virtual_esp32: Start, tmp_path: Path) -> None:
    """``> dump.bin``: the shell emptied it before the command ran; nothing to guard."""
    unit = _unit(virtual_esp32)
    dump = tmp_path / "dump.bin"
    dump.write_bytes(EARLIER)
    r = _shell(tmp_path, unit, "> dump.bin")
    assert r.returncode == 0, r.stderr.decode()
    assert dump.read_bytes() == MONGOOSE_LFS.read_bytes()


def test_a_descriptor_written_from_its_start_still_keeps_other_bytes(
    virtual_esp32: Start, tmp_path: Path
) -> None:
    """``1<> dump.bin`` writes over the file from its start: its bytes would be lost,
    so they are kept, as for the file named, and nothing is read or written."""
    unit = _unit(virtual_esp32)
    dump = tmp_path / "dump.bin"
    dump.write_bytes(EARLIER)
    r = _shell(tmp_path, unit, "1<> dump.bin")
    assert r.returncode == 2, r.stderr.decode()
    assert b"already holds other bytes (22): not replaced" in r.stderr
    assert b"nothing was read" in r.stderr
    assert dump.read_bytes() == EARLIER
    assert [p.name for p in tmp_path.iterdir()] == ["dump.bin"]
