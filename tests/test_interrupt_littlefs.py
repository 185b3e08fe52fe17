"""Ctrl-C or SIGTERM while littlefs calls back into Python (tryout report: a pack of
8000 files interrupted printed a KeyboardInterrupt traceback from the device's read,
then went on, wrote its output and exited 0). littlefs-python drops an exception raised
in a callback, so the interrupt is held and raised once littlefs returns: "Interrupted.",
exit 130, no output, no traceback.

The signal is a real one, sent by the child to itself from inside the callback (a
signal from outside lands there only by chance), so each run tests the callback case.
"""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest
from support.fresh_python import REPO

CA = (Path(__file__).parent / "data" / "letsencrypt" / "isrgrootx1.pem").read_bytes()

# The child: the n-th call of BufferStore.<method> made from littlefs' callback (the
# frame above it is the device's) sends the signal first.
_CHILD = """
import os, sys
from esp_cabundle.fs import lfs_device
real = getattr(lfs_device.BufferStore, {method!r})
calls = [0]
def hooked(self, *args, **kwargs):
    if sys._getframe(1).f_globals is lfs_device.__dict__:
        calls[0] += 1
        if calls[0] == {nth}:
            os.kill(os.getpid(), {signum})
    return real(self, *args, **kwargs)
setattr(lfs_device.BufferStore, {method!r}, hooked)
sys.argv = ["esp-cabundle", *{argv!r}]
from esp_cabundle._entry import main
main()
"""


@pytest.mark.timeout(120)
@pytest.mark.parametrize("method", ["view", "prog"], ids=["read", "prog"])
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["INT", "TERM"])
def test_an_interrupt_inside_a_littlefs_callback_ends_the_pack(
    tmp_path: Path, method: str, signum: int
) -> None:
    src = tmp_path / "d"
    src.mkdir()
    for i in range(40):
        (src / f"f{i}").write_bytes(bytes([i]) * (100 * i))
    (tmp_path / "ca.pem").write_bytes(CA)
    argv = ["pack", "--fs", "littlefs", "--profile", "esp-idf", "--size", "1M"]
    argv += ["--bundle", "ca.pem", "--from-dir", "d", "-o", "p.bin"]
    code = _CHILD.format(method=method, nth=200, signum=int(signum), argv=argv)
    r = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=100,
    )
    assert r.returncode == 130, (r.returncode, r.stderr[-3000:])
    assert r.stderr.endswith("Interrupted.\n"), r.stderr[-3000:]
    assert "Traceback" not in r.stderr and "KeyboardInterrupt" not in r.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ca.pem", "d"]
