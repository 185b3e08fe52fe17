"""``esp-cabundle restore`` on several units at once, as ``flash`` updates a station:
repeated --port or a glob, each unit byte for byte back, one unit's failure leaving the
others restored, a line per unit and a summary, the exit code and the JSON of a
station."""

from __future__ import annotations

import json
import os
import selectors
import signal
import socket
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from support.layouts import load_mongoose

from esp_cabundle.cli import cli
from esp_cabundle.flash.journal import Journal
from esp_cabundle.virtual import VirtualESP32
from tests.support import dumps
from tests.support.children import Child, child_env, interrupt_at
from tests.support.gated import canonical

Start = Callable[..., VirtualESP32]
CA = canonical(dumps.pem("isrgrootx1.pem") + dumps.pem("isrg-root-x2.pem"))
BOARD = "mongoose-os-esp32"


def mac(n: int) -> str:
    return f"24:0a:c4:00:00:{n:02x}"


def station(start: Start, n: int) -> list[VirtualESP32]:
    """``n`` Mongoose OS units, each with its own MAC (the journal keeps updates per MAC)."""
    units = []
    for i in range(n):
        unit = start("esp32", mac=mac(i))
        load_mongoose(unit)
        units.append(unit)
    return units


def whole(unit: VirtualESP32) -> bytes:
    return unit.read(0, len(unit.flash))


def flash(runner: CliRunner, ports: list[str], ca: Path, journal: Path) -> None:
    args = ["flash", *(w for p in ports for w in ("-p", p)), "--board", BOARD]
    r = runner.invoke(cli, [*args, "--bundle", str(ca), "--journal-dir", str(journal)])
    assert r.exit_code == 0, r.output


def restore(runner: CliRunner, ports: list[str], journal: Path, *extra: str) -> Result:
    args = ["restore", *(w for p in ports for w in ("-p", p)), "--journal-dir", str(journal)]
    return runner.invoke(cli, [*args, *extra])


@pytest.fixture
def ca(tmp_path: Path) -> Path:
    path = tmp_path / "ca.pem"
    path.write_bytes(CA)
    return path


def test_two_units_restored_at_once(
    virtual_esp32: Start, runner: CliRunner, ca: Path, tmp_path: Path
) -> None:
    units = station(virtual_esp32, 2)
    original = [whole(u) for u in units]
    journal = tmp_path / "j"
    ports = [u.url for u in units]
    flash(runner, ports, ca, journal)
    assert [whole(u) for u in units] != original

    r = restore(runner, ports, journal, "--dry-run")
    assert r.exit_code == 0, r.output
    assert [line.split()[:3] for line in r.stdout.splitlines()[:2]] == [
        ["DRY", "RUN", u.url] for u in units
    ]
    assert r.stdout.splitlines()[2] == "2 of 2 units succeeded."
    assert [whole(u) for u in units] != original

    r = restore(runner, ports, journal)
    assert r.exit_code == 0, r.output
    *lines, summary = r.stdout.splitlines()
    assert summary == "2 of 2 units succeeded."
    for i, (unit, line) in enumerate(zip(units, lines, strict=True)):
        assert line.startswith(f"OK  {unit.url}  {mac(i)}  "), line
        assert "restored fs_0, fs_1 as they were before the update of" in line
        assert line.endswith(": +DST Root CA X3"), line  # the update had dropped it
    assert r.stderr.count("100%") == 2  # a bar per unit
    assert [whole(u) for u in units] == original
    for i in range(2):
        assert [e.status for e in Journal(journal).entries(mac(i))] == ["restored"]

    # nothing left to undo: each unit says so and counts as OK; --json as flash's
    r = restore(runner, ports, journal, "--json")
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    assert (doc["ok"], doc["exit_code"], doc["dry_run"]) == (True, 0, False)
    assert [u["port"] for u in doc["units"]] == ports
    assert [u["mac"] for u in doc["units"]] == [mac(0), mac(1)]
    for u in doc["units"]:
        assert u["ok"] is True and u["exit_code"] == 0 and u["error"] is None
        assert u["already_restored"] is True and u["sectors_written"] == 0
        assert u["message"].endswith("was already restored; nothing to do")
    assert [whole(u) for u in units] == original


def test_a_failing_unit_leaves_the_others_restored(
    virtual_esp32: Start, runner: CliRunner, ca: Path, tmp_path: Path
) -> None:
    """The middle unit's file system changed since its update: it is refused (nothing
    written), the two others are put back; exit 3, its FAILED line with its next step."""
    units = station(virtual_esp32, 3)
    original = [whole(u) for u in units]
    journal = tmp_path / "j"
    ports = [u.url for u in units]
    flash(runner, ports, ca, journal)
    units[1].load(0x1A8000, b"\x00\x01\x02")  # the firmware wrote elsewhere in fs_0 since
    changed = whole(units[1])
    erased = units[1].stats.sectors_erased

    r = restore(runner, ports, journal)
    assert r.exit_code == 3, r.output
    first, middle, last, summary = r.stdout.splitlines()
    assert first.startswith(f"OK      {units[0].url}  {mac(0)}  ")
    assert middle.startswith(f"FAILED  {units[1].url}  {mac(1)}  ")
    assert "changed since the update" in middle and "next: " in middle
    assert last.startswith(f"OK      {units[2].url}  {mac(2)}  ")
    assert summary == "2 of 3 units succeeded."
    assert whole(units[0]) == original[0] and whole(units[2]) == original[2]
    assert whole(units[1]) == changed and units[1].stats.sectors_erased == erased
    assert [e.status for e in Journal(journal).entries(mac(1))] == ["complete"]

    # --quiet: only the failed unit's line, on stderr; --json: each unit's verdict
    r = restore(runner, ports, journal, "--quiet")
    assert r.exit_code == 3 and r.stdout == "", r.output
    (line,) = r.stderr.splitlines()
    assert line.startswith(f"FAILED  {units[1].url}  ")
    r = restore(runner, ports, journal, "--json")
    doc = json.loads(r.stdout)
    assert r.exit_code == doc["exit_code"] == 3 and doc["ok"] is False
    assert [u["ok"] for u in doc["units"]] == [True, False, True]
    bad = doc["units"][1]
    assert bad["exit_code"] == 3 and "changed since the update" in bad["error"]
    assert "--force only as a last resort" in bad["next"] and bad["mac"] == mac(1)
    assert whole(units[1]) == changed


def test_every_unit_failing_alike_gives_that_code(
    virtual_esp32: Start, runner: CliRunner, tmp_path: Path
) -> None:
    """No update journaled for either unit: both fail with exit 2, so the run exits 2
    (as flash's station does), nothing written."""
    units = station(virtual_esp32, 2)
    r = restore(runner, [u.url for u in units], tmp_path / "empty")
    assert r.exit_code == 2, r.output
    assert r.stdout.count("holds no update of the unit") == 2
    assert r.stdout.splitlines()[-1] == "0 of 2 units succeeded."
    assert [u.stats.sectors_erased for u in units] == [0, 0]


def test_two_ports_answering_with_one_mac_are_not_both_restored(
    virtual_esp32: Start, runner: CliRunner, ca: Path, tmp_path: Path
) -> None:
    """Both would undo the same journal entry; the second port to answer is refused,
    writing nothing, and the run warns as flash's does."""
    units = [virtual_esp32("esp32") for _ in range(2)]  # one default MAC
    for unit in units:
        load_mongoose(unit)
    original = whole(units[0])
    journal = tmp_path / "j"
    flash(runner, [units[0].url], ca, journal)
    before = [whole(u) for u in units]
    erased = [u.stats.sectors_erased for u in units]
    r = restore(runner, [u.url for u in units], journal)
    assert r.exit_code == 3, r.output
    assert r.stdout.count("OK  ") == 1 and r.stdout.count("FAILED  ") == 1, r.stdout
    assert "as socket://" in r.stdout and "nothing written here" in r.stdout
    assert "answered with the same MAC" in r.stderr
    # Which port answers first is the threads' race: the refused one is left as it was
    # (nothing erased), the other holds what it held before the update.
    (refused,) = (k for k, u in enumerate(units) if f"FAILED  {u.url}" in r.stdout)
    assert whole(units[refused]) == before[refused]
    assert units[refused].stats.sectors_erased == erased[refused]
    assert whole(units[1 - refused]) == original


@pytest.mark.timeout(300)
def test_ctrl_c_stops_every_unit_at_a_safe_point(
    virtual_esp32: Start, runner: CliRunner, ca: Path, tmp_path: Path
) -> None:
    """As for a flash station: a unit still reading stops at once, the others after
    the sector they write; each says what it holds, exit 130; running it again
    finishes every unit, byte for byte back."""
    units = station(virtual_esp32, 3)
    original = [whole(u) for u in units]
    journal = tmp_path / "j"
    ports = [u.url for u in units]
    flash(runner, ports, ca, journal)
    pauses = [
        units[0].arm_pause(command="READ_FLASH"),  # reading its table: stops at once
        units[1].arm_pause(sector_writes=0),  # in its first sector
        units[2].arm_pause(sector_writes=2),  # fs_1 back, in the first of fs_0's two
    ]
    programmed = [u.stats.sectors_programmed for u in units]
    args = ["restore", *(w for p in ports for w in ("-p", p)), "--journal-dir", str(journal)]
    child = Child([*args, "--json"], child_env(tmp_path))
    code, out, err = interrupt_at(child, pauses, signal.SIGINT)
    assert code == 130, err
    doc = json.loads(out)
    assert doc["exit_code"] == 130 and doc["ok"] is False, (doc, err)
    assert [u["status"] for u in doc["units"]] == ["interrupted"] * 3, (doc, err)
    written = [u["interrupted"]["sectors_written"] for u in doc["units"]]
    assert written == [0, 1, 3]
    assert [
        u.stats.sectors_programmed - n for u, n in zip(units, programmed, strict=True)
    ] == written
    assert [u["status"] for u in doc["units"]] == ["interrupted"] * 3
    assert [u["interrupted"]["what"] for u in doc["units"]] == ["restore"] * 3
    # --json says each stop once, in the document: not again on stderr
    assert "interrupted:" not in err and "next:" not in err, err
    nexts = [u["interrupted"]["next"] for u in doc["units"]]
    assert all(n.startswith("run 'esp-cabundle restore --port") for n in nexts), nexts
    first = doc["units"][0]["interrupted"]["description"]
    assert first.startswith("stopped before anything was written"), first
    # fs_1 back, fs_0 not yet; then fs_0's commit written back too: its original CA
    assert [u["interrupted"]["holds"] for u in doc["units"][1:]] == ["partial", "old"]
    assert whole(units[0]) != original[0]  # nothing written back yet
    r = restore(runner, ports, journal)
    assert r.exit_code == 0, r.output
    assert r.stdout.splitlines()[-1] == "3 of 3 units succeeded."
    assert [whole(u) for u in units] == original


# ---------------------------------------------------------------------------------------
# A glob: device paths standing for the virtual units


class PtyBridge:
    """A pseudo-terminal relaying to a virtual unit's socket: a device path that a
    glob can match and pyserial opens as a serial port."""

    def __init__(self, url: str) -> None:
        host, port = url.removeprefix("socket://").rsplit(":", 1)
        self.sock = socket.create_connection((host, int(port)))
        self.master, slave = os.openpty()
        self.path = os.ttyname(slave)
        self.slave = slave  # kept open: a pty whose last slave closes drops its data
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._relay, daemon=True)
        self.thread.start()

    def _relay(self) -> None:
        sel = selectors.DefaultSelector()
        sel.register(self.master, selectors.EVENT_READ)
        sel.register(self.sock, selectors.EVENT_READ)
        while not self.stop.is_set():
            for key, _ in sel.select(timeout=0.1):
                try:
                    if key.fileobj is self.sock:
                        data = self.sock.recv(65536)
                        if not data:
                            return
                        os.write(self.master, data)
                    else:
                        self.sock.sendall(os.read(self.master, 65536))
                except OSError:
                    return

    def close(self) -> None:
        self.stop.set()
        self.thread.join(timeout=5)
        self.sock.close()
        os.close(self.master)
        os.close(self.slave)


@pytest.fixture
def bridges() -> Iterator[list[PtyBridge]]:
    made: list[PtyBridge] = []
    yield made
    for b in made:
        b.close()


def test_a_glob_restores_every_unit_it_matches(
    virtual_esp32: Start, runner: CliRunner, ca: Path, tmp_path: Path, bridges: list[PtyBridge]
) -> None:
    units = station(virtual_esp32, 2)
    original = [whole(u) for u in units]
    journal = tmp_path / "j"
    flash(runner, [u.url for u in units], ca, journal)
    devices = tmp_path / "dev"
    devices.mkdir()
    for i, unit in enumerate(units):
        bridges.append(PtyBridge(unit.url))
        (devices / f"ttyVU{i}").symlink_to(bridges[-1].path)
    link = ["--before", "no-reset", "--after", "no-reset"]
    r = restore(runner, [str(devices / "ttyVU*")], journal, *link)
    assert r.exit_code == 0, r.output
    *lines, summary = r.stdout.splitlines()
    assert summary == "2 of 2 units succeeded."
    for i, line in enumerate(lines):
        assert line.startswith(f"OK  {devices / f'ttyVU{i}'}  {mac(i)}  "), line
    assert [whole(u) for u in units] == original


def test_every_unit_object_has_the_same_keys_whatever_its_outcome(
    virtual_esp32: Start, runner: CliRunner, ca: Path, tmp_path: Path
) -> None:
    """As ``flash --json``'s: a script reads a failed or already restored unit with the
    keys of a restored one, null (or empty) where not known."""
    units = station(virtual_esp32, 2)
    journal = tmp_path / "j"
    ports = [u.url for u in units]
    flash(runner, ports, ca, journal)
    assert restore(runner, ports[1:], journal).exit_code == 0
    missing = str(tmp_path / "ttyUSB9")  # no such port
    r = restore(runner, [*ports, missing], journal, "--json")
    assert r.exit_code == 3, r.output
    restored, already, failed = json.loads(r.stdout)["units"]
    assert [u["status"] for u in (restored, already, failed)] == [
        "restored",
        "already restored",
        "failed",
    ]
    assert set(restored) == set(already) == set(failed)
    assert (restored["already_restored"], already["already_restored"]) == (False, True)
    assert failed["already_restored"] is None and failed["message"] is None
    assert already["journal"] is None and already["partitions"] == []
    assert failed["interrupted"] is None and failed["sectors_written"] == 0
    assert restored["message"] is None and restored["partitions"] == ["fs_0", "fs_1"]
    assert all(u["dry_run"] is False for u in (restored, already, failed))
