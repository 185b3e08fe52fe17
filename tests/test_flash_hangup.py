"""SIGHUP (the terminal closed, an SSH session dropped) stops ``flash`` as SIGTERM does
(tryout report: it killed the run at once, with no ``interrupted`` records, no --log,
and a sector in flight possibly torn). The child runs ``python -m esp_cabundle flash``
against a virtual unit served from this process, held still in a sector while the
signal comes; its terminal (a pseudo-terminal) is then closed, so every later write to
stdout and stderr fails with EIO, as after a real hang-up."""

from __future__ import annotations

import json
import os
import pty
import select
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from esp_cabundle.flash.journal import Journal
from esp_cabundle.virtual import VirtualESP32
from tests.support.children import WAIT_S, Child, child_env, interrupt_at
from tests.support.flashing import NEW_CA, sector_states

pytestmark = [
    pytest.mark.timeout(300),
    pytest.mark.skipif(not hasattr(signal, "SIGHUP"), reason="no SIGHUP on this platform"),
]

MAC = "24:0a:c4:12:34:56"


def _args(unit: VirtualESP32, tmp_path: Path) -> list[str]:
    ca = tmp_path / "ca.pem"
    ca.write_bytes(NEW_CA)
    return [
        "flash",
        "--board",
        "mongoose-os-esp32",
        "--bundle",
        str(ca),
        "--journal-dir",
        str(tmp_path / "j"),
        "--at",
        "2026-06-01",
        "--port",
        unit.url,
        "--log",
        str(tmp_path / "station.jsonl"),
    ]


class _Terminal:
    """A pseudo-terminal as the child's stdout and stderr, read here until closed."""

    def __init__(self) -> None:
        self.master, self.slave = pty.openpty()
        self.seen = b""
        self._stop = threading.Event()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        while not self._stop.is_set():
            ready, _, _ = select.select([self.master], [], [], 0.05)
            if ready:
                try:
                    self.seen += os.read(self.master, 65536)
                except OSError:
                    return

    def wait_for(self, text: bytes) -> None:
        deadline = time.monotonic() + WAIT_S
        while text not in self.seen:
            assert time.monotonic() < deadline, f"no {text!r} on the terminal: {self.seen!r}"
            time.sleep(0.02)

    def hang_up(self) -> None:
        """Close the terminal: the child's writes to it fail with EIO from now on."""
        self._stop.set()
        self._reader.join(WAIT_S)
        os.close(self.master)


def test_sighup_with_the_terminal_gone_finishes_the_sector_log_and_journal(
    mongoose_unit: VirtualESP32, tmp_path: Path
) -> None:
    pause = mongoose_unit.arm_pause(sector_writes=2)  # fs_0's metadata commit
    term = _Terminal()
    proc = subprocess.Popen(
        [sys.executable, "-m", "esp_cabundle", *_args(mongoose_unit, tmp_path)],
        stdin=subprocess.DEVNULL,
        stdout=term.slave,
        stderr=term.slave,
        env=child_env(tmp_path),
        start_new_session=True,  # the pty is not its controlling terminal: one SIGHUP, ours
    )
    os.close(term.slave)
    try:
        assert pause.reached.wait(WAIT_S), "the unit never reached its pause"
        proc.send_signal(signal.SIGHUP)
        term.wait_for(b"Stopping (SIGHUP)")
        term.hang_up()
    finally:
        pause.release()
    code = proc.wait(WAIT_S)
    assert code == 130, (code, term.seen)  # as for SIGTERM, not killed by the signal
    assert mongoose_unit.stats.sectors_programmed == 3  # the sector in flight, then stop
    (entry,) = Journal(tmp_path / "j").entries(MAC)
    assert entry.status == "pending"
    assert sector_states(mongoose_unit, entry) == ["new"] * 3 + ["old"] * 3  # none torn
    (record,) = [json.loads(x) for x in (tmp_path / "station.jsonl").read_text().splitlines()]
    assert record["result"] == "interrupted" and record["mac"] == MAC
    assert record["sectors_written"] == 3
    assert "next: run the same command again" in record["error"]


def test_sighup_with_json_names_the_signal_and_says_each_stop_once(
    mongoose_unit: VirtualESP32, tmp_path: Path
) -> None:
    """--json: the stop notice is stderr's only line; the stop itself is in the document
    (tryout report: per-unit "interrupted: ... next: ..." blocks beside it)."""
    pause = mongoose_unit.arm_pause(sector_writes=0)
    child = Child([*_args(mongoose_unit, tmp_path), "--json"], child_env(tmp_path))
    code, out, err = interrupt_at(child, [pause], signal.SIGHUP)
    assert code == 130, err
    (line,) = err.splitlines()
    assert line.startswith("Stopping (SIGHUP): "), err
    doc = json.loads(out)
    assert doc["exit_code"] == 130
    (u,) = doc["units"]
    assert u["status"] == "interrupted" and u["interrupted"]["sectors_written"] == 1
    assert "run the same command again" in u["interrupted"]["next"]
    (record,) = [json.loads(x) for x in (tmp_path / "station.jsonl").read_text().splitlines()]
    assert record["result"] == "interrupted"
