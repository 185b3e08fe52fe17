"""Files a command reads without being told to (``./ca.pem``, ``./cabundle.yaml``, the
config's outputs, ``chains/NAME.pem``) are refused, never opened, when they are a FIFO,
a socket or a device (reviewer's item 2): opening a FIFO with no writer hung ``check``
and ``build``. Refused rather than ignored, as a link leading nowhere is: ignoring one
would judge or build from another bundle than the one kept under that name. Each case
runs in a child process with a time bound, so a hang fails the test instead of the run."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

DATA = Path(__file__).parent / "data"
CHAIN = DATA / "letsencrypt" / "2024-r10.pem"


def _run(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "esp_cabundle", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=20,
        check=False,
    )


def _special(path: Path, kind: str) -> None:
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "device":
        path.symlink_to("/dev/zero")
    else:
        with socket.socket(socket.AF_UNIX) as s:
            s.bind(str(path))


KINDS = {
    "fifo": "a FIFO (named pipe)",
    "device": "a character device",
    "socket": "a socket",
}


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_check_refuses_a_special_ca_pem(tmp_path: Path, kind: str) -> None:
    (tmp_path / "chain.pem").write_bytes(CHAIN.read_bytes())
    _special(tmp_path / "ca.pem", kind)
    r = _run(tmp_path, "check", "--chain", "chain.pem")
    assert r.returncode == 2, r.stderr
    assert f"{tmp_path}/ca.pem: is {KINDS[kind]}, not a bundle file" in r.stderr
    assert "--bundle" in r.stderr


@pytest.mark.parametrize("command", [["build", "--preset", "letsencrypt", "-o", "ca.pem"],
                                     ["check", "--chain", "chain.pem"]])  # fmt: skip
def test_a_fifo_config_is_refused(tmp_path: Path, command: list[str]) -> None:
    (tmp_path / "chain.pem").write_bytes(CHAIN.read_bytes())
    os.mkfifo(tmp_path / "cabundle.yaml")
    r = _run(tmp_path, *command)
    assert r.returncode == 2, r.stderr
    assert f"{tmp_path}/cabundle.yaml: is a FIFO (named pipe), not a config file" in r.stderr
    assert "-c" in r.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cabundle.yaml", "chain.pem"]


@pytest.mark.parametrize("command", [["build", "--dry-run"],
                                     ["build", "--preset", "letsencrypt", "-o", "ca.pem"],
                                     ["check", "--chain", "chain.pem"]])  # fmt: skip
def test_a_directory_named_like_the_config_is_refused(tmp_path: Path, command: list[str]) -> None:
    """A directory ./cabundle.yaml was passed over: 'build --dry-run' built the default
    preset, where -c cabundle.yaml said "is a directory"."""
    (tmp_path / "chain.pem").write_bytes(CHAIN.read_bytes())
    (tmp_path / "cabundle.yaml").mkdir()
    r = _run(tmp_path, *command)
    assert r.returncode == 2, r.stderr
    assert f"{tmp_path}/cabundle.yaml: is a directory, not a config file" in r.stderr
    assert "name one with -c" in r.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cabundle.yaml", "chain.pem"]
    assert list((tmp_path / "cabundle.yaml").iterdir()) == []


def test_a_directory_named_ca_pem_is_refused(tmp_path: Path) -> None:
    """A directory ./ca.pem was passed over as if absent ('check' judged the default
    preset instead), where a directory ./cabundle.yaml was refused: refused alike."""
    (tmp_path / "chain.pem").write_bytes(CHAIN.read_bytes())
    (tmp_path / "ca.pem").mkdir()
    r = _run(tmp_path, "check", "--chain", "chain.pem")
    assert r.returncode == 2, r.stderr
    assert f"{tmp_path}/ca.pem: is a directory, not a bundle file" in r.stderr
    assert "--bundle" in r.stderr and "Traceback" not in r.stderr
    assert _listing(tmp_path) == ["ca.pem", "chain.pem"]


def test_a_directory_saved_chain_is_refused_not_captured(tmp_path: Path) -> None:
    """A directory at chains/NAME.pem was passed over and the chain captured live."""
    (tmp_path / "chains" / "web.pem").mkdir(parents=True)
    (tmp_path / "cabundle.yaml").write_text(
        "preset: letsencrypt\ntargets:\n  - {name: web, host: 127.0.0.1, port: 9}\n"
    )
    before = _listing(tmp_path)
    r = _run(tmp_path, "check")
    assert r.returncode == 2, r.stderr
    assert "chains/web.pem: is a directory, not a saved chain of target 'web'" in r.stderr
    assert "capturing" not in r.stderr and "Traceback" not in r.stderr
    assert _listing(tmp_path) == before


def test_check_refuses_a_fifo_where_the_config_s_output_is(tmp_path: Path) -> None:
    (tmp_path / "chain.pem").write_bytes(CHAIN.read_bytes())
    (tmp_path / "data").mkdir()
    os.mkfifo(tmp_path / "data" / "ca.pem")
    (tmp_path / "cabundle.yaml").write_text(
        "preset: letsencrypt\noutputs:\n  - {format: pem, path: data/ca.pem}\n"
    )
    r = _run(tmp_path, "check", "--chain", "chain.pem")
    assert r.returncode == 2, r.stderr
    assert "data/ca.pem: is a FIFO (named pipe), not a pem output" in r.stderr


def test_a_fifo_saved_chain_is_refused_not_captured(tmp_path: Path) -> None:
    """A config's target with a FIFO at chains/NAME.pem: refused before any capture."""
    (tmp_path / "chains").mkdir()
    os.mkfifo(tmp_path / "chains" / "web.pem")
    (tmp_path / "cabundle.yaml").write_text(
        "preset: letsencrypt\ntargets:\n  - {name: web, host: 127.0.0.1, port: 9}\n"
    )
    r = _run(tmp_path, "check")
    assert r.returncode == 2, r.stderr
    assert "chains/web.pem: is a FIFO (named pipe), not a saved chain of target 'web'" in r.stderr


# cabundle.lock: build reads it (--locked) and writes it beside the config without being
# told to; a FIFO there blocked build forever (written through, or read with no writer).
LOCK_KINDS = {
    **KINDS,
    "loop": "a symbolic link that loops (Too many levels of symbolic links)",
    "directory": "a directory",
}


def _special_lock(path: Path, kind: str) -> None:
    if kind == "loop":
        path.symlink_to(path.name)
    elif kind == "directory":
        path.mkdir()
    else:
        _special(path, kind)


def _listing(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


@pytest.mark.parametrize("flags", [[], ["--locked"], ["--dry-run"]], ids=["write", "locked", "dry"])
@pytest.mark.parametrize("kind", sorted(LOCK_KINDS))
def test_build_refuses_a_special_lock_file(tmp_path: Path, kind: str, flags: list[str]) -> None:
    """Refused at once (exit 2, the path and what it is named), whether build would write
    the lock, read it (--locked) or only say it would (--dry-run); nothing written. The
    child's timeout turns a regression (a hang) into a failure."""
    _special_lock(tmp_path / "cabundle.lock", kind)
    before = _listing(tmp_path)
    r = _run(tmp_path, "build", "--preset", "letsencrypt", *flags)
    assert r.returncode == 2, r.stderr
    assert f"cabundle.lock: is {LOCK_KINDS[kind]}, not a lock file; nothing was" in r.stderr
    assert "--no-lock" in r.stderr and "Traceback" not in r.stderr
    assert _listing(tmp_path) == before


def test_build_refuses_a_fifo_lock_beside_a_config_elsewhere(tmp_path: Path) -> None:
    """The lock beside ``-c sub/cabundle.yaml`` is sub/cabundle.lock: that one is checked."""
    sub = tmp_path / "sub"
    sub.mkdir()
    (sub / "cabundle.yaml").write_text("preset: letsencrypt\n")
    os.mkfifo(sub / "cabundle.lock")
    before = _listing(tmp_path)
    r = _run(tmp_path, "build", "-c", "sub/cabundle.yaml")
    assert r.returncode == 2, r.stderr
    assert "sub/cabundle.lock: is a FIFO (named pipe), not a lock file" in r.stderr
    assert _listing(tmp_path) == before


def test_no_lock_leaves_a_fifo_lock_alone(tmp_path: Path) -> None:
    """--no-lock neither reads nor writes the lock: the FIFO is no obstacle, and stays."""
    os.mkfifo(tmp_path / "cabundle.lock")
    r = _run(tmp_path, "build", "--preset", "letsencrypt", "--no-lock")
    assert r.returncode == 0, r.stderr
    assert _listing(tmp_path) == ["ca.pem", "cabundle.lock"]
    assert (tmp_path / "cabundle.lock").is_fifo()


def test_write_build_refuses_a_fifo_made_after_the_build(tmp_path: Path) -> None:
    """A Python caller that builds, then writes later: a FIFO made at the lock path in
    between is refused by write_build too (it would be written through, blocking)."""
    from esp_cabundle.build import build_bundle, write_build
    from esp_cabundle.bundle import BundleSpec
    from esp_cabundle.config import OutputSpec
    from esp_cabundle.errors import InputError

    lock = tmp_path / "cabundle.lock"
    spec = BundleSpec(presets=("letsencrypt",))
    result = build_bundle(spec, (OutputSpec("pem", tmp_path / "ca.pem"),), lock_path=lock)
    os.mkfifo(lock)
    reader = os.open(lock, os.O_RDONLY | os.O_NONBLOCK)  # a regression writes, not hangs
    try:
        with pytest.raises(InputError, match="is a FIFO"):
            write_build(result)
        assert os.read(reader, 1) == b""  # nothing came through
    finally:
        os.close(reader)
    assert _listing(tmp_path) == ["cabundle.lock"]
