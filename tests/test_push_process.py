"""``push`` as a process: killed at any point and resumed, two processes on one ledger,
secrets kept out of the process list, output and ledger, and the ledger's own file."""

from __future__ import annotations

import os
import signal
import sqlite3
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from support.fleet import assert_updated, ca_bytes, mdash_unit, mongoose_unit, write_ca
from support.fleet_links import MdashStandIn, Mosquitto, mosquitto_binary, unit_hosts, unit_ids

from esp_cabundle.cli import cli
from esp_cabundle.push.ledger import STATES, Ledger
from esp_cabundle.virtual.rpc_links import MqttUnitHost


def fleet(k: int, **kw: Any) -> list[Any]:
    return [mongoose_unit(uid, **kw) for uid in unit_ids("proc", k)]


def argv(broker: Any, tmp: Path, units: list[Any], *extra: str) -> list[str]:
    write_ca(tmp)
    out = ["push", "--mqtt", broker.url, "--board", "mongoose-os-esp32", "--allow", "unjudged"]
    out += ["--bundle", str(tmp / "ca.pem"), "--ledger", str(tmp / "c.db"), "--timeout", "2"]
    for u in units:
        out += ["--device", u.unit_id]
    return [*out, *extra]


def spawn(args: list[str], env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "esp_cabundle", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **(env or {})},
    )


@pytest.fixture
def host(mosquitto: Any) -> Iterator[Any]:
    yield from unit_hosts(mosquitto.port)


@pytest.mark.parametrize(
    "method,phase",
    [("Sys.GetInfo", "after"), ("FS.Put", "after"), ("FS.Rename", "after"), ("FS.Get", "before")],
)
def test_kill_9_at_any_point_then_resume(
    mosquitto: Any, host: Any, tmp_path: Path, method: str, phase: str
) -> None:
    units = fleet(3)
    victim = units[1]
    proc: dict[str, subprocess.Popen[str]] = {}
    seen = {"n": 0}

    def hook(m: str, params: dict[str, Any], ph: str) -> None:
        if m == method and ph == phase:
            seen["n"] += 1
            # FS.Get "before": the read-back of the staged file (the third FS.Get)
            if method != "FS.Get" or params.get("filename") == "ca.pem.new":
                os.kill(proc["p"].pid, signal.SIGKILL)
                victim.hook = None

    victim.hook = hook
    host(units)
    proc["p"] = spawn(argv(mosquitto, tmp_path, units, "--concurrency", "1", "-q"))
    proc["p"].wait(60)
    assert proc["p"].returncode == -signal.SIGKILL
    # The ledger is consistent and the unit holds the old or the new CA file whole.
    with Ledger(tmp_path / "c.db") as led:
        rows = {r.id: r for r in led.rows()}
    assert set(rows) == {u.unit_id for u in units}
    assert all(r.state in STATES for r in rows.values())
    assert rows[units[2].unit_id].state == "pending"
    held = victim.files()["/ca.pem"]
    assert held in (mongoose_unit("x").files()["/ca.pem"], ca_bytes())
    # Resume: the next run finishes every unit, taking over the dead process's lease.
    r = CliRunner().invoke(cli, argv(mosquitto, tmp_path, units))
    assert r.exit_code == 0, r.output
    for u in units:
        assert_updated(u, ca_bytes())


def test_two_processes_never_write_the_same_unit_twice(
    mosquitto: Any, host: Any, tmp_path: Path
) -> None:
    units = fleet(12, delay=0.01)
    host(units)
    args = argv(mosquitto, tmp_path, units, "--concurrency", "3", "-q")
    Ledger(tmp_path / "c.db").close()  # both start on an existing ledger
    a, b = spawn(args), spawn(args)
    assert a.wait(120) == 0 and b.wait(120) == 0, a.stderr.read() if a.stderr else ""
    for u in units:
        assert u.count("FS.Put", filename="ca.pem.new", append=False) == 1, u.unit_id
        assert u.count("FS.Rename") == 1
        assert_updated(u, ca_bytes())
    with Ledger(tmp_path / "c.db") as led:
        assert {r.state for r in led.rows()} == {"verified"}
        assert all(r.attempts == 1 for r in led.rows())


def test_ledger_file_is_0600_and_holds_no_content(
    mosquitto: Any, host: Any, tmp_path: Path
) -> None:
    units = fleet(2)
    host(units)
    old = os.umask(0o022)
    try:
        r = CliRunner().invoke(cli, argv(mosquitto, tmp_path, units))
    finally:
        os.umask(old)
    assert r.exit_code == 0
    for name in ("c.db", "c.db-wal", "c.db-shm"):
        p = tmp_path / name
        if p.exists():
            assert stat.S_IMODE(p.stat().st_mode) == 0o600, name
    blob = b"".join(p.read_bytes() for p in tmp_path.glob("c.db*"))
    assert b"BEGIN CERTIFICATE" not in blob  # fingerprints only, never the file
    db = sqlite3.connect(tmp_path / "c.db")
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


SECRET_KEY = "mdash-secret-7f3a9c2e11d0"


def _watch_cmdline(proc: subprocess.Popen[str]) -> list[bytes]:
    seen = []
    while proc.poll() is None:
        try:
            seen.append(Path(f"/proc/{proc.pid}/cmdline").read_bytes())
        except OSError:
            break
        time.sleep(0.02)
    return seen


@pytest.mark.skipif(not Path("/proc/self/cmdline").exists(), reason="needs /proc")
def test_api_key_never_in_process_list_output_or_ledger(tmp_path: Path) -> None:
    units = [mdash_unit("dev1", delay=0.05), mdash_unit("dev2", delay=0.05)]
    stand_in = MdashStandIn(units, SECRET_KEY)
    try:
        write_ca(tmp_path)
        args = ["push", "--mdash", stand_in.url, "--board", "mdash-arduino"]
        args += ["--bundle", str(tmp_path / "ca.pem"), "--ledger", str(tmp_path / "c.db")]
        p = spawn(args, env={"MDASH_API_KEY": SECRET_KEY})
        cmdlines = _watch_cmdline(p)
        out, err = p.communicate(timeout=60)
    finally:
        stand_in.close()
    assert p.returncode == 0, err
    assert cmdlines and all(SECRET_KEY.encode() not in c for c in cmdlines)
    assert SECRET_KEY not in out + err
    blob = b"".join(f.read_bytes() for f in tmp_path.glob("c.db*"))
    assert SECRET_KEY.encode() not in blob
    assert all(SECRET_KEY not in path for _, path, _ in stand_in.requests)


@pytest.mark.skipif(mosquitto_binary() is None, reason="mosquitto is not installed")
def test_mqtt_password_never_in_process_list_output_or_ledger(tmp_path: Path) -> None:
    password = "mqtt-secret-5b8e0d"
    with Mosquitto(users={"fleet": password}) as broker:
        units = fleet(2, delay=0.05)
        h = _authed_host(broker.port, units, "fleet", password)
        try:
            url = f"mqtt://fleet@127.0.0.1:{broker.port}"
            args = argv(broker, tmp_path, units)
            args[args.index(broker.url)] = url
            p = spawn(args, env={"MQTT_PASSWORD": password})
            cmdlines = _watch_cmdline(p)
            out, err = p.communicate(timeout=60)
            assert p.returncode == 0, err
            assert cmdlines and all(password.encode() not in c for c in cmdlines)
            assert password not in out + err
            blob = b"".join(f.read_bytes() for f in tmp_path.glob("c.db*"))
            assert password.encode() not in blob
            # From a file, too.
            (tmp_path / "pw").write_text(password + "\n")
            r = CliRunner().invoke(
                cli,
                [*args, "--mqtt-password-file", str(tmp_path / "pw")],
                env={"MQTT_PASSWORD": ""},
            )
            assert r.exit_code == 0, r.output
            # A wrong password: exit 2, the password not echoed.
            r = CliRunner().invoke(cli, args, env={"MQTT_PASSWORD": "wrong-pw-123"})
            assert r.exit_code == 2 and "refused the login" in r.output
            assert "wrong-pw-123" not in r.output
            # The whole URL from the environment is fine; on the command line it is refused.
            args2 = [a for a in args if a not in ("--mqtt", url)]
            full = f"mqtt://fleet:{password}@127.0.0.1:{broker.port}"
            r = CliRunner().invoke(cli, args2, env={"ESP_CABUNDLE_MQTT": full})
            assert r.exit_code == 0, r.output
            r = CliRunner().invoke(cli, [*args2, "--mqtt", full])
            assert r.exit_code == 2 and "process list" in r.output and password not in r.output
        finally:
            h.close()


def _authed_host(port: int, units: list[Any], user: str, password: str) -> MqttUnitHost:
    import paho.mqtt.client as mqtt

    orig = mqtt.Client.connect

    def connect(self: Any, *a: Any, **kw: Any) -> Any:
        self.username_pw_set(user, password)
        return orig(self, *a, **kw)

    mqtt.Client.connect = connect  # type: ignore[method-assign]
    try:
        return MqttUnitHost(port, units)
    finally:
        mqtt.Client.connect = orig  # type: ignore[method-assign]


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_signal_stops_after_the_units_in_hand(
    mosquitto: Any, host: Any, tmp_path: Path, sig: signal.Signals
) -> None:
    units = fleet(8, delay=0.05)
    host(units)
    p = spawn(argv(mosquitto, tmp_path, units, "--concurrency", "1", "-q"))
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not any(u.count("FS.Rename") for u in units):
        time.sleep(0.02)
    p.send_signal(sig)
    out, err = p.communicate(timeout=60)
    assert p.returncode == 130, err
    assert "Stopping" in err and "units in hand" in err
    # what is left and what to do next: said with -q too, on stderr (stdout stays empty)
    said = " ".join(err.split())
    assert not out and "Interrupted:" in said and "pending" in said, err
    assert "next: run the same command again to finish them" in said, err
    with Ledger(tmp_path / "c.db") as led:
        states = [r.state for r in led.rows()]
    assert "verified" in states and "pending" in states  # stopped early, not at once
    assert "writing" not in states  # the unit in hand was finished and recorded
    for u in units:
        held = u.files()["/ca.pem"]
        assert held in (mongoose_unit("x").files()["/ca.pem"], ca_bytes())


def test_a_third_signal_quits_at_once_and_the_next_run_finishes(
    mosquitto: Any, host: Any, tmp_path: Path
) -> None:
    """A unit that does not answer holds a stopping push for its whole --timeout (120 s
    with --reboot): the second Ctrl-C says a third quits at once, and the third does,
    exit 130, leaving the ledger as a kill would; the same command then finishes."""
    ghost, *units = fleet(3)
    host(units)  # nothing answers to the ghost's id
    args = argv(mosquitto, tmp_path, [ghost, *units], "--concurrency", "1", "-q")
    p = spawn([*args, "--timeout", "60"])
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not (tmp_path / "c.db").exists():
        time.sleep(0.05)
    time.sleep(0.5)  # asking the ghost now, for up to 60 s
    assert p.stderr is not None
    stderr = p.stderr

    def line_starting(head: str) -> str:
        for _ in range(50):  # the CA line and the progress come first
            line = stderr.readline()
            if head in line or not line:
                return line[line.index(head) :] if head in line else line
        return ""

    p.send_signal(signal.SIGINT)
    assert line_starting("Stopping (SIGINT)")
    p.send_signal(signal.SIGINT)
    line = line_starting("Still stopping (SIGINT)")
    assert line and "Once more quits at once." in line, line
    started = time.monotonic()
    p.send_signal(signal.SIGINT)
    _out, err = p.communicate(timeout=30)
    assert p.returncode == 130, err
    assert time.monotonic() - started < 10  # not the ghost's 60 s
    assert "Quitting now (SIGINT)" in err and "Traceback" not in err
    # The next run (the ghost still silent) does the units that answer.
    r = subprocess.run([sys.executable, "-m", "esp_cabundle", *args], capture_output=True,
                       text=True, timeout=120)  # fmt: skip
    assert r.returncode == 3, r.stderr
    with Ledger(tmp_path / "c.db") as led:
        states = {row.id: row.state for row in led.rows()}
    assert states == {ghost.unit_id: "offline", **{u.unit_id: "verified" for u in units}}
    for u in units:
        assert_updated(u, ca_bytes())
