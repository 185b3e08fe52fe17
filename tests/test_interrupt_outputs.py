"""SIGTERM ends a command as Ctrl-C does (tester's report: a CI cancellation during a
multi-output ``build`` left staged ``*.esp-cabundle-tmp`` files, exit 143): exit 130,
"Interrupted.", no temporary file left, the outputs all replaced or none. And an
interrupt landing at any step of :func:`write_all_atomic` leaves the same."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from support.fresh_python import REPO, entry_started

from esp_cabundle.fileio import TEMP_SUFFIX, write_all_atomic

# ---------------------------------------------------------------------------------------
# An interrupt at every step of a write, in process


def _temporaries(d: Path) -> list[str]:
    return sorted(p.name for p in d.iterdir() if p.name.endswith(TEMP_SUFFIX))


OLD = {"a.pem": b"old a", "b.bin": b"old b"}  # c.h does not exist before
NEW = {"a.pem": b"new a", "b.bin": b"new b", "c.h": b"new c"}


def _state(d: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in d.iterdir() if not p.name.endswith(TEMP_SUFFIX)}


@pytest.mark.parametrize("after", [True, False], ids=["after", "before"])
@pytest.mark.parametrize("op", ["open", "fsync", "chmod", "link", "replace", "unlink"])
def test_an_interrupt_at_any_step_leaves_no_temporary_and_all_or_none(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, op: str, after: bool
) -> None:
    """The n-th call of ``op`` (n = 1, 2, ... until the write gets through) is followed,
    or preceded, by a KeyboardInterrupt, as a signal arriving right then raises one."""
    real = getattr(os, op)
    hit = 0
    for n in range(1, 20):
        d = tmp_path / f"{n}"
        d.mkdir()
        for name, data in OLD.items():
            (d / name).write_bytes(data)
        calls = 0

        def interrupted(*args: Any, n: int = n, **kwargs: Any) -> Any:
            nonlocal calls
            calls += 1
            if calls == n and not after:
                raise KeyboardInterrupt
            out = real(*args, **kwargs)
            if calls == n:
                raise KeyboardInterrupt
            return out

        monkeypatch.setattr(os, op, interrupted)
        try:
            write_all_atomic([(d / name, data) for name, data in NEW.items()])
            done = True
        except KeyboardInterrupt:
            done = False
            hit += 1
        finally:
            monkeypatch.setattr(os, op, real)
        assert _temporaries(d) == [], (op, n)
        assert _state(d) in (OLD, NEW), (op, n)
        if done:
            assert _state(d) == NEW
            break
    else:
        pytest.fail(f"os.{op} was called more than 19 times")
    assert hit > 0  # the interrupt did land inside the write


# ---------------------------------------------------------------------------------------
# Real signals against ``python -m esp_cabundle build``

_CONFIG = """\
preset: {preset}
outputs:
  - {{format: pem, path: cacrt_all.pem}}
  - {{format: pem, path: ca.pem}}
  - {{format: c, path: ca_pem.h, name: s_pem, style: s_pem}}
  - {{format: idf-bundle, path: x509_crt_bundle.bin}}
  - {{format: spiffs, path: spiffs.bin, board: mdash-arduino}}
  - {{format: littlefs, path: lfs.bin, profile: esp-idf, size: 64K}}
"""
_OUTPUTS = (
    "cacrt_all.pem",
    "ca.pem",
    "ca_pem.h",
    "x509_crt_bundle.bin",
    "spiffs.bin",
    "lfs.bin",
    "cabundle.lock",
)


def _build(cwd: Path) -> subprocess.Popen[str]:
    return entry_started(["build", "-q"], cwd)


def _outputs(d: Path) -> dict[str, bytes]:
    return {name: (d / name).read_bytes() for name in _OUTPUTS if (d / name).exists()}


@pytest.fixture
def built(tmp_path: Path) -> Callable[[], tuple[Path, dict[str, bytes], dict[str, bytes]]]:
    """A directory holding a finished build of one preset, its config now naming
    another; and both sets of outputs, to tell which one a directory holds."""
    count = 0

    def make() -> tuple[Path, dict[str, bytes], dict[str, bytes]]:
        nonlocal count
        count += 1
        d = tmp_path / f"run{count}"
        d.mkdir()
        sets = []
        for preset in ("default", "letsencrypt"):
            (d / "cabundle.yaml").write_text(_CONFIG.format(preset=preset))
            p = _build(d)
            _, err = p.communicate(timeout=120)
            assert p.returncode == 0, err
            sets.append(_outputs(d))
        (d / "cabundle.yaml").write_text(_CONFIG.format(preset="default"))
        return d, sets[1], sets[0]  # holding letsencrypt; the next build: default

    return make


def test_sigterm_while_outputs_are_replaced_puts_them_back(
    built: Callable[[], tuple[Path, dict[str, bytes], dict[str, bytes]]],
) -> None:
    """Held inside the commit: every file is renamed into place and an output that is
    a FIFO waits for a reader. SIGTERM then puts every old file back."""
    d, old, _new = built()
    os.mkfifo(d / "pipe.pem")
    with (d / "cabundle.yaml").open("a") as f:
        f.write("  - {format: pem, path: pipe.pem}\n")
    p = _build(d)
    deadline = time.monotonic() + 120
    backup = ".old" + TEMP_SUFFIX  # an old file kept aside, its new one in place
    while sum(n.endswith(backup) for n in _temporaries(d)) < len(_OUTPUTS):
        assert p.poll() is None and time.monotonic() < deadline, "no renames"
        time.sleep(0.01)
    time.sleep(0.1)  # into the open() of the FIFO, which waits for a reader
    assert all(n.endswith(backup) for n in _temporaries(d))
    assert _outputs(d) != old
    p.send_signal(signal.SIGTERM)
    _, err = p.communicate(timeout=60)
    assert p.returncode == 130, err
    assert err.endswith("Interrupted.\n") and "Traceback" not in err, err
    assert _temporaries(d) == []
    assert _outputs(d) == old


@pytest.mark.parametrize("delay", [0.0, 0.05, 0.1, 0.15, 0.2, 0.3, 0.5])
def test_a_real_sigterm_during_a_build(
    built: Callable[[], tuple[Path, dict[str, bytes], dict[str, bytes]]], delay: float
) -> None:
    """Whatever the signal hits: 130 and "Interrupted." with the old outputs, or a
    finished build; never a temporary file left or a mixed set."""
    d, old, new = built()
    p = _build(d)
    time.sleep(delay)
    p.send_signal(signal.SIGTERM)
    _, err = p.communicate(timeout=60)
    assert "Traceback" not in err, err
    assert p.returncode in (0, 130), err
    if p.returncode == 130:
        assert err.endswith("Interrupted.\n"), err
    assert _temporaries(d) == []
    assert _outputs(d) in (old, new)
    if p.returncode == 0:
        assert _outputs(d) == new


def test_sigterm_still_stops_only_the_module_not_the_library() -> None:
    """The handlers belong to the command line: importing the library sets none."""
    code = (
        "import signal, esp_cabundle, esp_cabundle.fileio\n"
        "print(signal.getsignal(signal.SIGTERM) is signal.SIG_DFL)"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60
    )
    assert out.stdout.strip() == "True", out.stderr
