"""CI's guard against tests that quietly stop running: with ESP_CABUNDLE_NO_SKIPS=1 a
skip fails the run (naming the test and its reason), except a skip for another Python
version."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from support.no_skips import ENV, EXPECTED

TESTS = Path(__file__).resolve().parent

BODY = f"""
import pytest

def test_runs():
    pass

@pytest.mark.skipif(True, reason={sorted(EXPECTED)[0]!r})
def test_for_another_python():
    pass
"""


def _run(
    tmp_path: Path, body: str, *, guard: bool, extra: tuple[str, ...] = ()
) -> subprocess.CompletedProcess[str]:
    (tmp_path / "test_sample.py").write_text(body)
    env = {**os.environ, "PYTHONPATH": str(TESTS)}
    env.pop(ENV, None)
    if guard:
        env[ENV] = "1"
    argv = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-p", "support.no_skips"]
    return subprocess.run(
        [*argv, *extra, "-q", "test_sample.py"], cwd=tmp_path, env=env, capture_output=True,
        text=True, timeout=60, check=False,
    )  # fmt: skip


def test_a_skip_ci_should_have_run_fails_the_run_and_is_named(tmp_path: Path) -> None:
    body = BODY + '\ndef test_needs_a_tool():\n    pytest.skip("mosquitto is not installed")\n'
    p = _run(tmp_path, body, guard=True)
    assert p.returncode == 1, p.stdout + p.stderr
    assert "1 skipped test CI should have run" in p.stdout
    assert "test_sample.py::test_needs_a_tool: mosquitto is not installed" in p.stdout
    assert "test_for_another_python" not in p.stdout.split("CI should have run")[1]
    assert _run(tmp_path, body, guard=False).returncode == 0  # outside CI: a skip is a skip


def test_a_skip_for_another_python_passes(tmp_path: Path) -> None:
    p = _run(tmp_path, BODY, guard=True)
    assert p.returncode == 0, p.stdout + p.stderr


def test_a_skip_in_a_worker_process_fails_the_run(tmp_path: Path) -> None:
    """The suite runs in worker processes (pyproject's -n auto): the skip a worker reports
    reaches the main process's guard, which fails the run there."""
    body = BODY + '\ndef test_needs_a_tool():\n    pytest.skip("cmake is not installed")\n'
    p = _run(tmp_path, body, guard=True, extra=("-n", "2", "--dist", "loadfile"))
    assert p.returncode == 1, p.stdout + p.stderr
    assert "bringing up nodes" in p.stdout, p.stdout  # xdist's workers ran it
    assert "test_sample.py::test_needs_a_tool: cmake is not installed" in p.stdout
