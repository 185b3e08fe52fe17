"""A SIGTERM early in a ``--json`` run (a CI job cancelled, ``timeout``) said ``"kind":
"KeyboardInterrupt"`` and nothing else, as if someone had pressed Ctrl-C: the signal is
turned into a KeyboardInterrupt inside (esp_cabundle._signals). The document now names
it, ``"signal": "SIGTERM"``, beside the documented keys, ``kind`` kept as scripts read it.

The child is held still reading ``--bundle`` from a FIFO nobody writes to (it says so on
stderr), before flash or push installs its own stop handlers."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import pytest
from support.children import Child, child_env

RUNS = {
    "flash": ["flash", "--port", "socket://127.0.0.1:1", "--board", "mdash-arduino"],
    "push": [
        *("push", "--mqtt", "mqtt://127.0.0.1:1", "--board", "mongoose-os-esp32"),
        *("--device", "u1", "--ledger", "c.db"),
    ],
}


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP, signal.SIGINT])
@pytest.mark.parametrize("command", sorted(RUNS))
def test_a_signal_early_in_a_json_run_is_named(
    tmp_path: Path, command: str, sig: signal.Signals
) -> None:
    fifo = tmp_path / "ca.pem"
    os.mkfifo(fifo)
    argv = [*RUNS[command], "--bundle", str(fifo), "--json"]
    child = Child(argv, child_env(tmp_path))
    child.wait_for("is a FIFO: waiting")
    child.signal(sig)
    code, out, err = child.finish()
    assert code == 130 and "Traceback" not in err, err
    doc = json.loads(out)
    assert (doc["error"], doc["exit_code"], doc["signal"]) == ("interrupted", 130, sig.name)
    assert doc["kind"] == "KeyboardInterrupt"  # README's shape: added to, not renamed
