"""A config that is no regular file (``-c /dev/stdin``, ``-c /dev/null``, ``-c <(...)``,
a FIFO) has no "beside": its relative paths, its lock and its default ``ca.pem`` are the
working directory's. They went to its parent: ``/dev/ca.pem`` and ``/dev/cabundle.lock``
(written, as root), or "no new file can be made in /dev/fd" for a process substitution.

No test here may write into /dev even with the rule undone: /dev/stdin and /dev/null are
run with ``--dry-run`` (which writes nothing, and names where it would write); the runs
that write use a descriptor (/dev/fd/N, where no file can be made) or a FIFO in tmp.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from esp_cabundle.config import load_config, parse_config

CONFIG = "preset: letsencrypt\n"
DATA = Path(__file__).parent / "data"
PARTS = "# Name, Type, SubType, Offset, Size\nnvs, data, nvs, , 16K\nfs, data, spiffs, , 64K\n"
# A board file as tests/test_config_board_path.py writes one; its layout is beside it.
BOARD = """\
name: myb
chips: [esp32]
flash_size: 4MB
partition_table:
  offset: 0x8000
  layout: parts.csv
filesystem:
  partitions: [fs]
  type: spiffs
  profile: esp-idf
  ca_path: /ca.pem
output:
  form: filesystem
verify:
  rules: mbedtls
  clock: none
"""


def _run(cwd: Path, *args: str, **kwargs: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # type: ignore[call-overload,no-any-return]
        [sys.executable, "-m", "esp_cabundle", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        **kwargs,
    )


@pytest.mark.parametrize("name", ["/dev/stdin", "/dev/null", "/dev/fd/0", "/proc/self/fd/0"])
def test_a_config_read_from_a_device_or_descriptor_is_based_in_the_working_directory(
    name: str,
) -> None:
    text = "preset: letsencrypt\noutputs:\n  - {format: pem, path: out/ca.pem}\n"
    config = parse_config(text, path=Path(name))
    assert config.base_dir == Path(".")
    assert [o.path for o in config.outputs] == [Path("out/ca.pem")]


def test_every_path_in_a_piped_config_is_read_in_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Not only the lock and outputs: the idf_filter CSV, a target's saved chain and a
    board file are the working directory's too (each was read from /dev/...)."""
    (tmp_path / "cmn.csv").write_bytes(
        (DATA / "idf-bundle" / "input" / "cmn_crt_authorities.csv").read_bytes()
    )
    (tmp_path / "myb.yaml").write_text(BOARD)
    (tmp_path / "parts.csv").write_text(PARTS)
    monkeypatch.chdir(tmp_path)
    text = (
        "preset: letsencrypt\nidf_filter: cmn.csv\nboard: myb.yaml\n"
        "targets:\n  - {chain: chains/x.pem}\n"
    )
    config = parse_config(text, path=Path("/dev/stdin"))
    assert config.files == (Path("cmn.csv"),)
    assert [t.chain for t in config.section("targets")] == [Path("chains/x.pem")]
    assert config.board is not None and config.board.source == "myb.yaml"


def test_load_config_of_dev_null_is_based_in_the_working_directory() -> None:
    assert load_config("/dev/null").base_dir == Path(".")


def test_a_regular_config_is_still_based_beside_itself(tmp_path: Path) -> None:
    (tmp_path / "fleet").mkdir()
    path = tmp_path / "fleet" / "cabundle.yaml"
    path.write_text(CONFIG)
    assert load_config(path).base_dir == tmp_path / "fleet"
    # named through a descriptor, the same file has no "beside": /dev/fd is no project
    fd = os.open(path, os.O_RDONLY)
    try:
        assert load_config(f"/dev/fd/{fd}").base_dir == Path(".")
    finally:
        os.close(fd)


@pytest.mark.parametrize("name", ["/dev/stdin", "/dev/null"])
def test_build_dry_run_of_a_piped_config_would_write_in_the_working_directory(
    tmp_path: Path, name: str
) -> None:
    """It said "Would write /dev/ca.pem (...), /dev/cabundle.lock" (and, run, wrote them)."""
    r = _run(tmp_path, "build", "-c", name, "--dry-run", input=CONFIG)
    assert r.returncode == 0, r.stderr
    assert "Would write ca.pem (" in r.stdout
    assert r.stdout.rstrip().endswith(", cabundle.lock")
    assert "/dev/" not in r.stdout + r.stderr
    assert list(tmp_path.iterdir()) == []


def test_build_of_a_process_substitution_writes_in_the_working_directory(
    tmp_path: Path,
) -> None:
    """``build -c <(echo 'preset: letsencrypt')``: a pipe read as /dev/fd/N. It failed:
    "cannot write: no new file can be made in /dev/fd"."""
    read_end, write_end = os.pipe()
    os.write(write_end, CONFIG.encode())
    os.close(write_end)
    try:
        r = _run(tmp_path, "build", "-c", f"/dev/fd/{read_end}", pass_fds=(read_end,))
    finally:
        os.close(read_end)
    assert r.returncode == 0, r.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ca.pem", "cabundle.lock"]
    assert "# ISRG Root X1 (isrg-root-x1)" in (tmp_path / "ca.pem").read_text()


def test_build_of_a_fifo_config_writes_in_the_working_directory_not_beside_it(
    tmp_path: Path,
) -> None:
    """A FIFO's folder is where its writer put it, no project: nothing is made there."""
    conf, work = tmp_path / "conf", tmp_path / "work"
    conf.mkdir()
    work.mkdir()
    fifo = conf / "cabundle.yaml"
    os.mkfifo(fifo)

    def feed() -> None:
        with open(fifo, "w") as f:  # blocks until the build opens it to read
            f.write(CONFIG)

    writer = threading.Thread(target=feed, daemon=True)
    writer.start()
    r = _run(work, "build", "-c", str(fifo))
    if writer.is_alive():  # never opened: let the writer's open return
        os.close(os.open(fifo, os.O_RDONLY | os.O_NONBLOCK))
    writer.join(timeout=5)
    assert r.returncode == 0, r.stderr
    assert sorted(p.name for p in work.iterdir()) == ["ca.pem", "cabundle.lock"]
    assert [p.name for p in conf.iterdir()] == ["cabundle.yaml"]
