"""``python -m esp_cabundle`` in a child process, stopped by real signals while its units
are held still at a pause (tests of Ctrl-C and SIGTERM for ``flash`` and ``restore``)."""

from __future__ import annotations

import os
import queue
import subprocess
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from esp_cabundle.virtual import Pause

WAIT_S = 60  # generous: the machine is shared; every wait ends as soon as its event comes


class Child:
    """``python -m esp_cabundle ARGS``; its stderr read line by line as it comes."""

    def __init__(self, args: list[str], env: dict[str, str]) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "esp_cabundle", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.err: list[str] = []
        self.out: list[str] = []
        self._readers = [
            threading.Thread(target=self._read_err, daemon=True),
            threading.Thread(target=self._read_out, daemon=True),
        ]
        for t in self._readers:
            t.start()

    def _read_err(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.lines.put(line)
        self.lines.put(None)

    def _read_out(self) -> None:
        assert self.proc.stdout is not None
        self.out.append(self.proc.stdout.read())

    def wait_for(self, text: str) -> str:
        """The first stderr line holding ``text`` (fails if the child ends first)."""
        while True:
            try:
                line = self.lines.get(timeout=WAIT_S)
            except queue.Empty:
                pytest.fail(f"no {text!r} on stderr in {WAIT_S}s; so far: {''.join(self.err)}")
            if line is None:
                pytest.fail(f"the child ended without {text!r}: {''.join(self.err)}")
            self.err.append(line)
            if text in line:
                return line

    def signal(self, sig: int) -> None:
        self.proc.send_signal(sig)

    def finish(self) -> tuple[int, str, str]:
        code = self.proc.wait(timeout=WAIT_S)
        for t in self._readers:
            t.join(timeout=WAIT_S)
        while (line := self.lines.get(timeout=WAIT_S)) is not None:
            self.err.append(line)
        return code, "".join(self.out), "".join(self.err)


def child_env(tmp_path: Path) -> dict[str, str]:
    """The environment of a child that talks to virtual units held still at a pause."""
    e = dict(os.environ)
    e["ESP_CABUNDLE_JOURNAL"] = str(tmp_path / "default-journal")
    e["COLUMNS"] = "200"
    # A unit held still waits for the others of a station: esptool's own config file
    # (ESPTOOL_CFGFILE) lifts its 3 s reply timeout so it is not taken for a dead one.
    cfg = tmp_path / "esptool.cfg"
    cfg.write_text("[esptool]\ntimeout = 120\n")
    e["ESPTOOL_CFGFILE"] = str(cfg)
    return e


def interrupt_at(child: Child, pauses: list[Pause], *signals: int) -> tuple[int, str, str]:
    """Once every unit is held: send the signals (each acknowledged by the child), let
    the units go, and wait for the child to end."""
    for pause in pauses:
        assert pause.reached.wait(WAIT_S), "a unit never reached its pause"
    for n, sig in enumerate(signals):
        child.signal(sig)
        child.wait_for("Stopping" if n == 0 else "Still stopping")
    for pause in pauses:
        pause.release()
    return child.finish()
