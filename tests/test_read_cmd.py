"""``esp-cabundle read``: a partition or the whole flash of a (virtual) unit into a file."""

from __future__ import annotations

import hashlib
import json
import os
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from support.layouts import MONGOOSE_LFS, load_mongoose

from esp_cabundle.cli import cli
from esp_cabundle.virtual import VirtualESP32

Start = Callable[..., VirtualESP32]


def mongoose_unit(start: Start) -> VirtualESP32:
    unit = start("esp32")
    load_mongoose(unit)
    return unit


def test_read_a_partition(virtual_esp32: Start, runner: CliRunner, tmp_path: Path) -> None:
    unit = mongoose_unit(virtual_esp32)
    out = tmp_path / "fs_0.bin"
    r = runner.invoke(cli, ["read", "--port", unit.url, "--partition", "fs_0", "-o", str(out)])
    assert r.exit_code == 0, r.output
    assert out.read_bytes() == MONGOOSE_LFS.read_bytes()
    assert "Read partition 'fs_0' (0x190000, 0x40000 bytes) from ESP32-D0WD-V3" in r.stdout
    assert hashlib.md5(MONGOOSE_LFS.read_bytes()).hexdigest() in r.stdout
    assert "unchanged" not in r.stdout
    # The same bytes again: the file is left as it was (make sees nothing new), and said so.
    before = out.stat()
    args = ["read", "--port", unit.url, "--partition", "fs_0", "-o", str(out)]
    r = runner.invoke(cli, args)
    assert r.exit_code == 0, r.output
    assert "(unchanged: it already held these bytes; not rewritten)" in r.stdout
    after = out.stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)
    r = runner.invoke(cli, [*args, "--json"])
    assert json.loads(r.stdout)["unchanged"] is True


def test_the_same_backup_read_again_is_compared_once(
    virtual_esp32: Start, runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The file at -o was read whole to see it held no other bytes, then again by the
    atomic write to see it need not be rewritten: a 16 MiB backup read twice per run.
    A file of a wider mode holding the same bytes is still narrowed to 0600."""
    unit = mongoose_unit(virtual_esp32)
    out = tmp_path / "fs_0.bin"
    args = ["read", "--port", unit.url, "--partition", "fs_0", "-o", str(out)]
    assert runner.invoke(cli, args).exit_code == 0
    reads: list[str] = []
    real_open, real_read_bytes = os.open, Path.read_bytes

    def counting_open(path: Any, flags: int, *a: Any, **k: Any) -> int:
        if Path(path) == out and not flags & (os.O_WRONLY | os.O_RDWR):
            reads.append("os.open")
        return real_open(path, flags, *a, **k)

    def counting_read_bytes(self: Path) -> bytes:
        if self == out:
            reads.append("read_bytes")
        return real_read_bytes(self)

    monkeypatch.setattr(os, "open", counting_open)
    monkeypatch.setattr(Path, "read_bytes", counting_read_bytes)
    for mode in (0o600, 0o644):
        out.chmod(mode)
        reads.clear()
        r = runner.invoke(cli, args)
        assert r.exit_code == 0, r.output
        assert len(reads) == 1, reads
        assert ("unchanged" in r.stdout) is (mode == 0o600)
        assert stat.S_IMODE(out.stat().st_mode) == 0o600


def test_a_file_holding_other_bytes_is_kept_without_force(
    virtual_esp32: Start, runner: CliRunner, tmp_path: Path
) -> None:
    """A technician reading unit after unit into dump.bin replaced each unit's backup
    with the next one's, silently. Other bytes at -o are kept (exit 2) unless --force;
    an empty file, or the same bytes again, go ahead as before."""
    unit = mongoose_unit(virtual_esp32)
    other = virtual_esp32("esp32", mac="24:0a:c4:00:00:09")
    load_mongoose(other)
    other.load(0x190000, b"\x00" * 16)  # this unit's fs_0 differs
    out = tmp_path / "fs_0.bin"
    args = ["read", "--partition", "fs_0", "-o", str(out)]
    r = runner.invoke(cli, [*args, "--port", unit.url])
    assert r.exit_code == 0, r.output
    backup = out.read_bytes()
    before = out.stat()
    r = runner.invoke(cli, [*args, "--port", other.url])
    assert r.exit_code == 2, r.output
    assert "already holds other bytes (262,144): not replaced" in r.stderr
    assert "-o dump-240ac4000009.bin" in r.stderr and "--force" in r.stderr
    assert out.read_bytes() == backup and out.stat().st_mtime_ns == before.st_mtime_ns
    assert [p.name for p in tmp_path.iterdir()] == ["fs_0.bin"]  # no temporary file left
    r = runner.invoke(cli, [*args, "--port", other.url, "--json"])
    assert r.exit_code == 2 and json.loads(r.stdout)["ok"] is False
    r = runner.invoke(cli, [*args, "--port", other.url, "--force"])
    assert r.exit_code == 0 and out.read_bytes() == other.read(0x190000, 0x40000), r.output
    empty = tmp_path / "empty.bin"
    empty.touch()
    r = runner.invoke(cli, ["read", "--partition", "fs_0", "-o", str(empty), "-p", unit.url])
    assert r.exit_code == 0 and empty.read_bytes() == backup, r.output


def test_read_all_skips_what_the_unit_says_is_erased(
    virtual_esp32: Start, runner: CliRunner, tmp_path: Path
) -> None:
    unit = mongoose_unit(virtual_esp32)
    out = tmp_path / "dump.bin"
    r = runner.invoke(cli, ["read", "-p", unit.url, "--all", "-o", str(out), "--json"])
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    assert doc["partition"] is None and doc["size"] == 4 << 20 and doc["mac"] == "24:0a:c4:12:34:56"
    assert doc["md5"] == hashlib.md5(out.read_bytes()).hexdigest()
    assert out.read_bytes() == unit.read(0, 4 << 20)  # the whole flash, byte for byte
    # Erased ranges were judged by the unit's MD5, not sent: two 256 KiB file systems (a
    # quarter of each erased) and the table crossed the link, not 4 MiB.
    assert unit.stats.bytes_out < 500_000


def test_quiet_prints_nothing(virtual_esp32: Start, runner: CliRunner, tmp_path: Path) -> None:
    unit = mongoose_unit(virtual_esp32)
    out = tmp_path / "nvs.bin"
    r = runner.invoke(cli, ["read", "-p", unit.url, "--partition", "nvs", "-o", str(out), "-q"])
    assert r.exit_code == 0 and r.stdout == "" and r.stderr == ""
    assert out.read_bytes() == b"\xff" * 0x4000


@pytest.mark.parametrize(
    ("args", "message", "connects"),
    [
        # usage errors: refused before any connection (neither: the unit is not opened
        # to name its partitions, which would reboot it for a usage error)
        ([], "--partition NAME or --all", False),
        (["--partition", "fs_0", "--all"], "--partition NAME or --all", False),
        (["--partition", "fs_0", "--table-offset", "0x8800"], "not a multiple of 4 KiB", False),
        (["--partition", "fs_0", "--table-offset", "eight"], "not a number", False),
        # what only the unit's partition table can say
        (
            ["--partition", "spiffs"],
            "no partition named 'spiffs' (the table has nvs, otadata, app_0",
            True,
        ),
        (["--partition", "fs_0", "--table-offset", "0x9000"], "no partition table at 0x9000", True),
    ],
)
def test_bad_options_write_nothing(
    virtual_esp32: Start,
    runner: CliRunner,
    tmp_path: Path,
    args: list[str],
    message: str,
    connects: bool,
) -> None:
    unit = mongoose_unit(virtual_esp32)
    out = tmp_path / "out.bin"
    r = runner.invoke(cli, ["read", "-p", unit.url, "-o", str(out), *args])
    assert r.exit_code == 2, r.output
    assert message in r.stderr and "Traceback" not in r.output
    assert not out.exists()
    assert (unit.stats.connections > 0) is connects


def test_link_cut_keeps_the_previous_file(
    virtual_esp32: Start, runner: CliRunner, tmp_path: Path
) -> None:
    unit = mongoose_unit(virtual_esp32)
    unit.arm_cut(bytes_out=60_000)  # after the connect, early in fs_0
    out = tmp_path / "fs_0.bin"
    out.write_bytes(b"previous backup")
    # --force: a file of another size is refused before the read without it
    args = ["read", "-p", unit.url, "--partition", "fs_0", "-o", str(out), "--force"]
    r = runner.invoke(cli, args)
    assert r.exit_code == 3, r.output
    assert "link lost while reading" in r.stderr and "nothing was written" in r.stderr
    assert out.read_bytes() == b"previous backup"
    assert [p.name for p in tmp_path.iterdir()] == ["fs_0.bin"]  # no temporary file left


def test_nothing_listening(runner: CliRunner, tmp_path: Path, refused_port: int) -> None:
    port = refused_port
    out = tmp_path / "out.bin"
    r = runner.invoke(cli, ["read", "-p", f"socket://127.0.0.1:{port}", "--all", "-o", str(out)])
    assert r.exit_code == 3
    assert "nothing is listening there" in r.stderr and not out.exists()
    # The error is the first thing said: no blank line left by a progress display.
    assert r.stderr.startswith("Error: socket://"), repr(r.stderr[:40])
    r = runner.invoke(cli, ["inspect", "-p", f"socket://127.0.0.1:{port}"])
    assert r.exit_code == 3 and r.stderr.startswith("Error: socket://"), repr(r.stderr[:40])


def test_help_has_examples(runner: CliRunner) -> None:
    r = runner.invoke(cli, ["read", "--help"])
    assert r.exit_code == 0 and "Examples:" in r.stdout and "--partition" in r.stdout


def _read_bytes_out(unit: VirtualESP32, runner: CliRunner, *args: str) -> tuple[Any, int]:
    """The result of ``read`` on ``unit``, and the flash bytes the unit sent for it."""
    before = unit.stats.bytes_out
    r = runner.invoke(cli, ["read", "-p", unit.url, *args])
    return r, unit.stats.bytes_out - before


@pytest.mark.parametrize("size", ["same", "other"])
def test_another_units_backup_is_kept_before_the_read(
    virtual_esp32: Start, runner: CliRunner, tmp_path: Path, size: str
) -> None:
    """An -o that holds other bytes was said only after the whole read (about 90 s a
    unit on a serial link): by its size, else by the unit's MD5 of the range, it is
    said before, and nothing is read or written."""
    unit = mongoose_unit(virtual_esp32)
    fresh, full = _read_bytes_out(unit, runner, "--partition", "fs_0", "-o", str(tmp_path / "a"))
    assert fresh.exit_code == 0, fresh.output
    out = tmp_path / "fs_0.bin"
    out.write_bytes(b"\x00" * (0x40000 if size == "same" else 1000))
    r, sent = _read_bytes_out(unit, runner, "--partition", "fs_0", "-o", str(out))
    assert r.exit_code == 2, r.output
    assert "already holds other bytes" in r.stderr and "nothing was read" in r.stderr
    assert sent < full // 4, (sent, full)  # the table and an MD5, not the partition
    assert out.read_bytes()[:1] == b"\x00" and len(os.listdir(tmp_path)) == 2


def test_a_directory_that_takes_no_file_is_said_before_the_read(
    virtual_esp32: Start, runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A read-only directory was found only when the read was saved. os.access answers
    as for a user (root may write anywhere); nothing is created, the unit not reached."""
    unit = mongoose_unit(virtual_esp32)
    ro = tmp_path / "ro"
    ro.mkdir()
    real = os.access
    monkeypatch.setattr(
        "esp_cabundle.commands._paths.os.access",
        lambda p, mode, **k: False if Path(p) == ro else real(p, mode, **k),
    )
    r = runner.invoke(cli, ["read", "-p", unit.url, "--all", "-o", str(ro / "sub" / "d.bin")])
    assert r.exit_code == 3, r.output
    assert f"no new file can be made in {ro} (not writable); nothing was read" in r.stderr
    assert unit.stats.connections == 0 and os.listdir(ro) == []
