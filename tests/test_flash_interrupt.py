"""Ctrl-C and SIGTERM with real signals: ``python -m esp_cabundle flash|restore`` runs in
a child process against virtual units served from this one, each unit held still
(``arm_pause``) at an exact point of the run while the signal is sent; the child's
"Stopping" line says its handler ran, then the unit is let go.

Before the first write nothing is written and the run stops at once; once writing, the
unit stops at a sector boundary and what the child reports it holds is checked against
the unit's flash, mounted here; a rerun finishes the update and restore undoes it."""

from __future__ import annotations

import json
import signal
import socket
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

import pytest
from click.testing import CliRunner
from support.layouts import load_mongoose

from esp_cabundle.cli import cli
from esp_cabundle.commands._bench import render_lines, stopped_line
from esp_cabundle.errors import FlashError, ImageError
from esp_cabundle.flash.base import Message
from esp_cabundle.flash.interrupt import Cancel, Interruption, UnitInterrupted
from esp_cabundle.flash.journal import Journal
from esp_cabundle.fs import open_image
from esp_cabundle.virtual import VirtualESP32
from tests.support.children import WAIT_S, Child, child_env, interrupt_at
from tests.support.flashing import NEW_CA, flash_mongoose, sector_states

Start = Callable[..., VirtualESP32]
MONGOOSE = {"fs_0": (0x190000, 0x1D0000), "fs_1": (0x350000, 0x390000)}
ARDUINO = {"spiffs": (0x290000, 0x3F0000)}

pytestmark = pytest.mark.timeout(300)


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return child_env(tmp_path)


@pytest.fixture
def ca_file(tmp_path: Path) -> Path:
    path = tmp_path / "ca.pem"
    path.write_bytes(NEW_CA)
    return path


def flash_args(units: list[VirtualESP32], board: str, ca: Path, journal: Path) -> list[str]:
    args = ["flash", "--board", board, "--bundle", str(ca), "--journal-dir", str(journal)]
    args += ["--at", "2026-06-01"]  # R10 in NEW_CA expires in 2027
    for unit in units:
        args += ["--port", unit.url]
    return args


def mounts_with(unit: VirtualESP32, span: tuple[int, int], old: dict[str, bytes]) -> str:
    """What a partition of the unit holds now: "old" or "new" CA file (every other file
    as it was), "mixed", or "unmountable"."""
    start, end = span
    try:
        image = open_image(unit.read(start, end - start))
        now = {f.path: image.read(f.path) for f in image.files()}
    except ImageError:
        return "unmountable"
    others = {k: v for k, v in old.items() if k != "/ca.pem"}
    if {k: v for k, v in now.items() if k != "/ca.pem"} != others:
        return "mixed"
    ca = now.get("/ca.pem")
    return "new" if ca == NEW_CA else "old" if ca == old.get("/ca.pem") else "mixed"


def files_of(flash: bytes, span: tuple[int, int]) -> dict[str, bytes]:
    image = open_image(flash[span[0] : span[1]])
    return {f.path: image.read(f.path) for f in image.files()}


def assert_report_true(
    unit: VirtualESP32, report: dict[str, Any], layout: dict[str, tuple[int, int]], original: bytes
) -> None:
    """Every partition the child reports holds what the unit's flash mounts with."""
    said = {p["name"]: p["holds"] for p in report["partitions"]}
    assert set(said) <= set(layout)
    for name, span in layout.items():
        truth = mounts_with(unit, span, files_of(original, span))
        assert said.get(name, "old") == truth, (name, said, truth)


# ---------------------------------------------------------------------------------------
# One unit


def test_before_the_first_write_stops_at_once_writing_nothing(
    mongoose_unit: VirtualESP32, env: dict[str, str], ca_file: Path, tmp_path: Path
) -> None:
    original = mongoose_unit.read(0, len(mongoose_unit.flash))
    log = tmp_path / "station.csv"
    pause = mongoose_unit.arm_pause(command="READ_FLASH")  # the partition table, the first read
    child = Child(
        [
            *flash_args([mongoose_unit], "mongoose-os-esp32", ca_file, tmp_path / "j"),
            "--log",
            str(log),
        ],
        env,
    )
    code, out, err = interrupt_at(child, [pause], signal.SIGINT)
    assert code == 130, err
    # said once: its STOPPED line (a "PORT: interrupted: ..." block on stderr said it again)
    assert out.count("STOPPED") == 1, out
    line = " ".join(out.split())  # its wrapped lines joined
    assert "unchanged: holds its old CA file; next: " in line, out
    assert "run the same command again (with --journal-dir " in line
    assert " to update the unit" in line
    assert "interrupted:" not in err and "next:" not in err
    assert "Traceback" not in err
    # at once: the read in flight was the last thing done
    assert (
        mongoose_unit.stats.commands["READ_FLASH"] == 1
        and mongoose_unit.stats.commands["SPI_FLASH_MD5"] == 0
    )
    assert (
        mongoose_unit.stats.sectors_erased == 0
        and mongoose_unit.read(0, len(mongoose_unit.flash)) == original
    )
    assert not list((tmp_path / "j").rglob("*.json"))
    (row,) = log.read_text().splitlines()[1:]
    assert ",interrupted," in row and "24:0a:c4:12:34:56" in row


class SilentPort:
    """A ``socket://`` port that accepts and never answers (a unit not in download mode,
    a bridge with nothing behind it): esptool keeps retrying its SYNC there."""

    def __init__(self) -> None:
        self.server = socket.create_server(("127.0.0.1", 0))
        self.url = f"socket://127.0.0.1:{self.server.getsockname()[1]}"
        self.received = bytearray()
        self.lock = threading.Lock()
        self.first_sync = threading.Event()
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        conn, _ = self.server.accept()
        with conn:
            while data := conn.recv(4096):
                with self.lock:
                    self.received += data
                if self.syncs():
                    self.first_sync.set()

    def syncs(self) -> int:
        """SYNC commands received (SLIP frame start, request, command 0x08)."""
        with self.lock:
            return bytes(self.received).count(b"\xc0\x00\x08")


def test_a_stop_while_connecting_ends_at_once_writing_nothing(
    env: dict[str, str], ca_file: Path, tmp_path: Path
) -> None:
    """esptool retries a silent port for seconds, then fails (exit 3): the request ends
    it at the next attempt instead, as a stop before the first write (130)."""
    port = SilentPort()
    log = tmp_path / "station.csv"
    args = ["flash", "--board", "mongoose-os-esp32", "--bundle", str(ca_file), "--at"]
    args += ["2026-06-01", "--journal-dir", str(tmp_path / "j"), "--port", port.url]
    child = Child([*args, "--log", str(log)], env)
    try:
        assert port.first_sync.wait(WAIT_S), "esptool never tried to sync"
        child.signal(signal.SIGINT)
        child.wait_for("Stopping")
        sent = port.syncs()
        code, out, err = child.finish()
    finally:
        port.server.close()
    assert code == 130, err
    assert "Traceback" not in err and "interrupted:" not in err
    assert "STOPPED" in out and "unchanged: holds its old CA file" in out
    assert "no answer" not in out + err
    # at once: esptool's 7 attempts of 5 SYNCs each were not run out
    assert port.syncs() - sent <= 5 and port.syncs() < 35
    assert not list((tmp_path / "j").rglob("*.json"))
    (row,) = log.read_text().splitlines()[1:]
    assert ",interrupted," in row


@pytest.mark.parametrize("held_at", [1, 3])
def test_mid_write_stops_at_a_sector_boundary_and_says_what_the_unit_holds(
    mongoose_unit: VirtualESP32,
    runner: CliRunner,
    env: dict[str, str],
    ca_file: Path,
    tmp_path: Path,
    held_at: int,
) -> None:
    """Mongoose OS: fs_0's sectors (data, data, commit), then fs_1's. Held in the 2nd
    sector, the unit stops after it: both slots mount with the old CA file. Held in the
    4th (fs_0 done), fs_0 is new and fs_1 old: partly applied, both mount."""
    original = mongoose_unit.read(0, len(mongoose_unit.flash))
    journal = tmp_path / "j"
    pause = mongoose_unit.arm_pause(sector_writes=held_at)
    child = Child(
        [*flash_args([mongoose_unit], "mongoose-os-esp32", ca_file, journal), "--json"], env
    )
    code, out, err = interrupt_at(child, [pause], signal.SIGINT)
    assert code == 130, err
    assert mongoose_unit.stats.sectors_programmed == held_at + 1  # the sector in flight, then stop
    (u,) = json.loads(out)["units"]
    stop = u["interrupted"]
    assert u["status"] == "interrupted" and stop["sectors_written"] == held_at + 1
    assert stop["what"] == "update" and stop["sectors_total"] == 6
    assert_report_true(mongoose_unit, stop, MONGOOSE, original)
    assert stop["holds"] == ("old" if held_at < 2 else "partial")
    # --json says it once, in the document: stderr has the stop notice only
    assert f"stopped after {held_at + 1} of 6 sectors of the update" in stop["description"]
    # both name the journal: run as printed, restore reads it, not the default one
    again = f"run the same command again (with --journal-dir {journal}) to finish the update"
    assert again in stop["next"], stop["next"]
    restore = f"'esp-cabundle restore --port {mongoose_unit.url} --journal-dir {journal}'"
    assert restore in stop["next"], stop["next"]
    assert "interrupted:" not in err and "next:" not in err, err
    # the rerun finishes it from the journal; restore then puts the original back
    r = runner.invoke(cli, flash_args([mongoose_unit], "mongoose-os-esp32", ca_file, journal))
    assert r.exit_code == 0 and "finished the interrupted update: +R10" in r.stdout, r.output
    for name, span in MONGOOSE.items():
        assert mounts_with(mongoose_unit, span, files_of(original, span)) == "new", name
    r = runner.invoke(cli, ["restore", "-p", mongoose_unit.url, "--journal-dir", str(journal)])
    assert r.exit_code == 0, r.output
    assert mongoose_unit.read(0, len(mongoose_unit.flash)) == original


def test_spiffs_mid_write_reports_the_state_it_leaves(
    arduino_unit: VirtualESP32,
    runner: CliRunner,
    env: dict[str, str],
    ca_file: Path,
    tmp_path: Path,
) -> None:
    """Whatever the SPIFFS order leaves between two sectors, the report says it (checked
    against the unit), in words too, and the rerun completes it."""
    original = arduino_unit.read(0, len(arduino_unit.flash))
    journal = tmp_path / "j"
    pause = arduino_unit.arm_pause(sector_writes=0)
    child = Child([*flash_args([arduino_unit], "mdash-arduino", ca_file, journal), "--json"], env)
    code, out, err = interrupt_at(child, [pause], signal.SIGTERM)
    assert code == 130, err
    assert arduino_unit.stats.sectors_programmed == 1
    (u,) = json.loads(out)["units"]
    assert_report_true(arduino_unit, u["interrupted"], ARDUINO, original)
    holds = u["interrupted"]["partitions"][0]["holds"]
    words = {
        "unmountable": "NOT whole: 'spiffs' does not mount; do not restart the unit",
        "old": "the unit mounts with its old CA file",
        "new": "the unit mounts with the new CA file",
    }
    assert words[holds] in u["interrupted"]["description"]
    r = runner.invoke(cli, flash_args([arduino_unit], "mdash-arduino", ca_file, journal))
    assert r.exit_code == 0, r.output
    assert (
        mounts_with(arduino_unit, ARDUINO["spiffs"], files_of(original, ARDUINO["spiffs"])) == "new"
    )


def test_a_second_ctrl_c_does_not_cut_the_sector_in_flight(
    mongoose_unit: VirtualESP32, env: dict[str, str], ca_file: Path, tmp_path: Path
) -> None:
    original = mongoose_unit.read(0, len(mongoose_unit.flash))
    journal = tmp_path / "j"
    pause = mongoose_unit.arm_pause(sector_writes=2)  # fs_0's metadata commit
    child = Child(flash_args([mongoose_unit], "mongoose-os-esp32", ca_file, journal), env)
    code, out, err = interrupt_at(child, [pause], signal.SIGINT, signal.SIGINT)
    assert code == 130, err
    assert "Still stopping" in err and "Traceback" not in err
    assert mongoose_unit.stats.sectors_programmed == 3
    # every journaled sector holds exactly its old or its new content: none torn
    (entry,) = Journal(journal).entries("24:0a:c4:12:34:56")
    assert entry.status == "pending"
    assert sector_states(mongoose_unit, entry) == ["new"] * 3 + ["old"] * 3
    assert (
        mounts_with(mongoose_unit, MONGOOSE["fs_0"], files_of(original, MONGOOSE["fs_0"])) == "new"
    )
    # what each partition mounts with, said once: on the STOPPED line
    assert "partly updated, every file system mounts (fs_0 new, fs_1 old); next: " in out
    assert "fs_0 new" not in err


def test_a_signal_during_the_last_sector_lets_the_update_complete(
    mongoose_unit: VirtualESP32, env: dict[str, str], ca_file: Path, tmp_path: Path
) -> None:
    """Nothing is left to stop: the unit is updated and verified, and says so (exit 0)."""
    pause = mongoose_unit.arm_pause(sector_writes=5)
    child = Child(flash_args([mongoose_unit], "mongoose-os-esp32", ca_file, tmp_path / "j"), env)
    code, out, err = interrupt_at(child, [pause], signal.SIGINT)
    assert code == 0, err
    assert out.startswith("OK  ") and out.rstrip().endswith("+R10, -DST Root CA X3"), out


# ---------------------------------------------------------------------------------------
# A station and restore


def test_station_every_unit_reaches_a_safe_point_and_gets_its_row_and_line(
    virtual_esp32: Start, env: dict[str, str], ca_file: Path, tmp_path: Path
) -> None:
    units = []
    for i in range(3):
        unit = virtual_esp32("esp32", mac=f"24:0a:c4:00:00:{i:02x}")
        load_mongoose(unit)
        units.append(unit)
    original = units[0].read(0, len(units[0].flash))
    pauses = [
        units[0].arm_pause(command="READ_FLASH", nth=2),  # still reading: stops at once
        units[1].arm_pause(sector_writes=0),  # in its first sector
        units[2].arm_pause(sector_writes=3),  # fs_0 done, first sector of fs_1
    ]
    log = tmp_path / "station.jsonl"
    args = flash_args(units, "mongoose-os-esp32", ca_file, tmp_path / "j")
    child = Child([*args, "--log", str(log), "--json"], env)
    code, out, err = interrupt_at(child, pauses, signal.SIGTERM)
    assert code == 130, err
    report = json.loads(out)
    assert report["exit_code"] == 130
    written = [u["interrupted"]["sectors_written"] for u in report["units"]]
    assert written == [0, 1, 4]
    assert [u.stats.sectors_programmed for u in units] == written
    assert units[0].read(0, len(original)) == original
    for unit, u in zip(units, report["units"], strict=True):
        assert u["status"] == "interrupted" and not u["ok"]
        assert_report_true(unit, u["interrupted"], MONGOOSE, original)
    assert [u["interrupted"]["holds"] for u in report["units"]] == ["old", "old", "partial"]
    records = [json.loads(line) for line in log.read_text().splitlines()]
    assert sorted(r["mac"] for r in records) == [f"24:0a:c4:00:00:{i:02x}" for i in range(3)]
    assert {r["result"] for r in records} == {"interrupted"}
    by_mac = {r["mac"]: r for r in records}
    assert by_mac["24:0a:c4:00:00:02"]["sectors_written"] == 4
    assert "next: run the same command again" in by_mac["24:0a:c4:00:00:02"]["error"]
    for unit in units:  # --json: said once, in the document, not again on stderr
        assert not any(line.startswith(f"{unit.url}: interrupted") for line in err.splitlines())
    # the same command finishes every unit
    r = CliRunner().invoke(cli, args)
    assert r.exit_code == 0, r.output
    for unit in units:
        assert mounts_with(unit, MONGOOSE["fs_1"], files_of(original, MONGOOSE["fs_1"])) == "new"


@pytest.fixture
def flashed(mongoose_unit: VirtualESP32, ca_file: Path, tmp_path: Path) -> tuple[bytes, Path]:
    """The Mongoose OS unit updated with NEW_CA: its flash before, and the journal."""
    original = mongoose_unit.read(0, len(mongoose_unit.flash))
    journal = tmp_path / "j"
    r = CliRunner().invoke(cli, flash_args([mongoose_unit], "mongoose-os-esp32", ca_file, journal))
    assert r.exit_code == 0, r.output
    return original, journal


def test_restore_interrupted_then_run_again(
    mongoose_unit: VirtualESP32,
    runner: CliRunner,
    env: dict[str, str],
    flashed: tuple[bytes, Path],
) -> None:
    original, journal = flashed
    # restore writes fs_1's 3 sectors back first (the reverse order); hold it in its 3rd
    pause = mongoose_unit.arm_pause(sector_writes=2)
    child = Child(
        ["restore", "-p", mongoose_unit.url, "--journal-dir", str(journal), "--json"], env
    )
    code, out, err = interrupt_at(child, [pause], signal.SIGINT)
    assert code == 130, err
    doc = json.loads(out)  # as flash reports a station and its units
    assert doc["ok"] is False and doc["exit_code"] == 130
    (report,) = doc["units"]  # ok, exit_code, error, next, as flash's
    assert report["ok"] is False and report["exit_code"] == 130
    assert report["status"] == "interrupted" and report["mac"] == "24:0a:c4:12:34:56"
    assert "stopped after 3 of 6 sectors" in report["error"] and "again" in report["next"]
    stop = report["interrupted"]
    assert stop["what"] == "restore" and stop["sectors_written"] == 3
    # fs_1 is back to its original; fs_0 still holds the update's CA (the "new" one)
    said = {p["name"]: p["holds"] for p in stop["partitions"]}
    assert said == {"fs_0": "new", "fs_1": "old"}
    for name, span in MONGOOSE.items():
        assert mounts_with(mongoose_unit, span, files_of(original, span)) == said[name], name
    assert "stopped after 3 of 6 sectors of the restore" in stop["description"]
    assert "partly applied, every file system mounts (fs_0 new, fs_1 old)" in stop["description"]
    assert "run 'esp-cabundle restore --port" in stop["next"] and "again" in stop["next"]
    assert "interrupted:" not in err, err
    # the journal does not call the update complete: the unit is half way back
    listed = runner.invoke(cli, ["journal", "list", "--journal-dir", str(journal)])
    assert listed.exit_code == 0, listed.output
    assert " restoring " in listed.output and " complete " not in listed.output
    assert "1 restore interrupted (run 'restore' again)" in listed.output
    # stopped again, without --json: the STOPPED line on stdout, as flash prints it
    pause = mongoose_unit.arm_pause(sector_writes=1)
    child = Child(["restore", "-p", mongoose_unit.url, "--journal-dir", str(journal)], env)
    code, out, err = interrupt_at(child, [pause], signal.SIGINT)
    assert code == 130, err
    # one line, wrapped at the terminal's width under its message: said as it reads
    first, *wrapped = out.splitlines()
    line = " ".join([first, *(w.strip() for w in wrapped)])
    assert line.startswith(f"STOPPED  {mongoose_unit.url}  24:0a:c4:12:34:56  ")
    assert "back to its original CA file; next: run 'esp-cabundle restore --port" in line
    assert f" --journal-dir {journal}' again to finish putting the original back" in line
    r = runner.invoke(cli, ["restore", "-p", mongoose_unit.url, "--journal-dir", str(journal)])
    assert r.exit_code == 0, r.output
    assert mongoose_unit.read(0, len(mongoose_unit.flash)) == original
    (entry,) = Journal(journal).entries("24:0a:c4:12:34:56")
    assert entry.status == "restored"


def test_an_interrupted_restore_json_says_how_far_it_went(
    mongoose_unit: VirtualESP32, env: dict[str, str], flashed: tuple[bytes, Path]
) -> None:
    """As ``flash --json`` for a stopped update: the unit object carries what the stop's
    error holds (the sectors written back, the entry, its partitions), not nulls."""
    _, journal = flashed
    (entry,) = Journal(journal).entries("24:0a:c4:12:34:56")
    pause = mongoose_unit.arm_pause(sector_writes=2)  # fs_1's 3 sectors back, fs_0's not
    child = Child(
        ["restore", "-p", mongoose_unit.url, "--journal-dir", str(journal), "--json"], env
    )
    code, out, err = interrupt_at(child, [pause], signal.SIGINT)
    assert code == 130, err
    (u,) = json.loads(out)["units"]
    assert (u["status"], u["interrupted"]["sectors_written"]) == ("interrupted", 3)
    assert u["sectors_written"] == 3
    assert (u["journal"], u["update"]) == (str(entry.path), entry.when)
    assert u["partitions"] == ["fs_0", "fs_1"] and u["board"] == "mongoose-os-esp32"
    assert [f["name"] for f in u["found"]] == ["fs_0", "fs_1"]
    assert (u["already_restored"], u["already_original"], u["journal_error"]) == (
        False,
        False,
        None,
    )


# ---------------------------------------------------------------------------------------
# The library, without signals: a Cancel token set at an exact step


def stopped_on(unit: VirtualESP32, text: str, journal: Path) -> UnitInterrupted:
    """Flash a Mongoose OS unit with a Cancel token requested when a progress message
    holding ``text`` is said; the UnitInterrupted it must end with."""
    cancel = Cancel()

    def progress(event: object) -> None:
        if isinstance(event, Message) and text in event.text:
            cancel.request("test")

    with pytest.raises(UnitInterrupted) as stopped:
        flash_mongoose(unit, journal, progress=progress, cancel=cancel)
    return stopped.value


def test_a_stop_while_planning_writes_nothing_and_journals_nothing(
    mongoose_unit: VirtualESP32, tmp_path: Path
) -> None:
    original = mongoose_unit.read(0, len(mongoose_unit.flash))
    stopped = stopped_on(mongoose_unit, "hashing the ranges the update leaves alone", tmp_path)
    assert stopped.exit_code == 130 and stopped.interruption.written == 0
    assert (
        mongoose_unit.stats.sectors_erased == 0
        and mongoose_unit.read(0, len(mongoose_unit.flash)) == original
    )
    assert not list(tmp_path.rglob("*.json"))


def test_a_stop_while_finishing_an_interrupted_update(
    mongoose_unit: VirtualESP32, tmp_path: Path
) -> None:
    original = mongoose_unit.read(0, len(mongoose_unit.flash))
    mongoose_unit.arm_cut(sector_writes=1)  # the link dies in the 2nd sector, leaving it torn
    with pytest.raises(FlashError):
        flash_mongoose(mongoose_unit, tmp_path)
    i = stopped_on(mongoose_unit, "finishing the interrupted update: sector", tmp_path).interruption
    # the torn sector may already read as new (the half cut off held only 0xFF)
    assert (i.what, i.written) == ("finishing", 1) and i.total in (4, 5)
    assert "of the interrupted update" in i.describe()
    assert_report_true(mongoose_unit, i.to_json(), MONGOOSE, original)
    assert i.holds in ("old", "partial")
    result = flash_mongoose(mongoose_unit, tmp_path)
    assert [r.action for r in result.resumed] == ["finished"]
    for name, span in MONGOOSE.items():
        assert mounts_with(mongoose_unit, span, files_of(original, span)) == "new", name


@pytest.mark.parametrize("whole", [True, False])
def test_a_unit_stopped_not_whole_is_not_restarted(
    virtual_esp32: Start, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, whole: bool
) -> None:
    """Firmware that cannot mount its file system may format it (SPIFFS.begin(true)):
    a unit left in a state that does not mount stays in its bootloader. The state is
    forced here (LittleFS never passes through one), over rfc2217 where resets travel."""
    from esp_cabundle.flash import flasher

    if not whole:
        real = flasher.sector_outcomes
        monkeypatch.setattr(
            flasher,
            "sector_outcomes",
            lambda cache, plan: dict.fromkeys(real(cache, plan), "unmountable"),
        )
    unit = virtual_esp32("esp32", transport="rfc2217")
    load_mongoose(unit)
    stopped = stopped_on(unit, "update: sector 0x1c1000 (2 of 6)", tmp_path)
    i = stopped.interruption
    assert i.written == 2 and i.holds == ("old" if whole else "broken")
    assert unit.stats.boots == (["download", "app"] if whole else ["download"])
    assert ("left in its bootloader, not restarted" in str(stopped)) is not whole


def test_a_signal_after_the_last_restored_sector_lets_the_restore_complete(
    mongoose_unit: VirtualESP32,
    runner: CliRunner,
    env: dict[str, str],
    flashed: tuple[bytes, Path],
) -> None:
    """As for flash: a restore already writing its last sector finishes it and reads the
    unit back; the stop request is not taken for a unit that does not read back."""
    original, journal = flashed
    pause = mongoose_unit.arm_pause(sector_writes=5)  # the 6th and last sector written back
    child = Child(["restore", "-p", mongoose_unit.url, "--journal-dir", str(journal)], env)
    code, out, err = interrupt_at(child, [pause], signal.SIGTERM)
    assert code == 0, err
    assert out.startswith(f"OK  {mongoose_unit.url}") and "restored fs_0, fs_1" in out, out
    assert "does not read back" not in out + err
    assert mongoose_unit.read(0, len(mongoose_unit.flash)) == original
    (entry,) = Journal(journal).entries("24:0a:c4:12:34:56")
    assert entry.status == "restored"


def test_a_signal_while_reading_back_a_unit_already_restored_leaves_the_entry_restorable(
    mongoose_unit: VirtualESP32,
    runner: CliRunner,
    env: dict[str, str],
    flashed: tuple[bytes, Path],
) -> None:
    """Nothing to write (the unit already holds the old sectors, as after a restore killed
    before it could record itself): a stop while it reads the unit back ends at once
    (exit 130), and the entry stays; the rerun finds the old CA and, no restore of it
    under way, leaves it complete."""
    original, journal = flashed
    mongoose_unit.load(0, original)  # the saved sectors are back; the journal says complete
    # the partition table is the 1st read; the 2nd opens a file system to read it back
    pause = mongoose_unit.arm_pause(command="READ_FLASH", nth=2)
    child = Child(["restore", "-p", mongoose_unit.url, "--journal-dir", str(journal)], env)
    code, out, err = interrupt_at(child, [pause], signal.SIGINT)
    assert code == 130, err
    assert out.startswith(f"STOPPED  {mongoose_unit.url}"), out
    assert "does not read back" not in out + err and "stale" not in out + err
    (entry,) = Journal(journal).entries("24:0a:c4:12:34:56")
    assert entry.status == "complete"
    r = runner.invoke(cli, ["restore", "-p", mongoose_unit.url, "--journal-dir", str(journal)])
    assert r.exit_code == 0 and "already hold what they held before" in r.output, r.output
    # nothing written and no restore of it under way: left complete (a clone may hold it)
    assert "its journal entry is left complete" in r.output, r.output
    (entry,) = Journal(journal).entries("24:0a:c4:12:34:56")
    assert entry.status == "complete"
    assert mongoose_unit.read(0, len(mongoose_unit.flash)) == original


@pytest.mark.parametrize(
    ("what", "earlier", "written", "holds"),
    [
        ("update", 0, 0, "unchanged: holds its old CA file"),
        ("update", 3, 0, "finished the interrupted update first: holds its CA file"),
        ("finishing", 0, 0, "unchanged: holds its old CA file"),
        # before its first write a restore has changed nothing: the update's CA is there
        ("restore", 0, 0, "unchanged: nothing was written back"),
        # sectors written but not in use yet: the CA file is as it was, the flash is not
        ("update", 0, 3, "holds its old CA file (3 of 5 sectors written, not in use yet)"),
        (
            "restore",
            0,
            2,
            "holds the CA file of the update (2 of 5 sectors written, not in use yet)",
        ),
    ],
)
def test_flash_and_restore_say_stopped_in_one_line_shape(
    what: Literal["update", "finishing", "restore"], earlier: int, written: int, holds: str
) -> None:
    """One helper renders both commands' STOPPED line, in the words of the job stopped."""
    from esp_cabundle.flash.interrupt import PartitionHolding

    parts: tuple[PartitionHolding, ...] = ()
    if written:  # what the partition mounts with is still what it was before this run
        parts = (PartitionHolding("fs_0", "old" if what == "update" else "new", written, 5),)
    stop = Interruption("/dev/ttyUSB0", what, written, 5 if written else 0, parts, earlier=earlier)
    (line,) = render_lines([stopped_line("/dev/ttyUSB0", "24:0a:c4:12:34:56", stop, 1.25)])
    assert line == (
        f"STOPPED  /dev/ttyUSB0  24:0a:c4:12:34:56  1.2 s  {holds}; next: {stop.next_step()}"
    )


def test_a_stop_before_the_first_write_says_unchanged_in_one_sentence() -> None:
    """Stopped before the plan knew the partitions, or after it but before the first
    write: the unit is the same either way, and so are the words."""
    from esp_cabundle.flash.interrupt import PartitionHolding

    before_plan = Interruption("/dev/ttyUSB0", "update", 0, 0)
    planned = Interruption(
        "/dev/ttyUSB0", "update", 0, 5, partitions=(PartitionHolding("fs", "old", 0, 5),)
    )
    said = {before_plan.describe(), planned.describe()}
    assert said == {
        "stopped before anything was written: the unit is unchanged, holding the CA file it had"
    }


@pytest.mark.parametrize("kept", [True, False])
def test_a_stopped_line_not_whole_says_why_not_to_restart_it(kept: bool) -> None:
    """The STOPPED line is the one place a stop is said: a unit NOT whole keeps what the
    removed "interrupted:" block told, that it is left in its bootloader and that
    firmware formatting a file system it cannot mount would wipe every other file."""
    from esp_cabundle.flash.interrupt import PartitionHolding

    parts = (PartitionHolding("spiffs", "unmountable", 1, 5),)
    stop = Interruption("/dev/ttyUSB0", "update", 1, 5, parts, kept_in_loader=kept)
    (line,) = render_lines([stopped_line("/dev/ttyUSB0", "24:0a:c4:12:34:56", stop, 1.25)])
    text = " ".join(line.split())
    assert "NOT whole: do not restart it (spiffs does not mount" in text, text
    assert ("left in its bootloader" in text) is kept
    assert "would wipe every other file; next: " in text, text
    # a whole unit (partly applied, every file system mounts) is not warned
    whole = Interruption(
        "/dev/ttyUSB0",
        "update",
        1,
        5,
        (PartitionHolding("fs_0", "new", 1, 1), PartitionHolding("fs_1", "old", 0, 4)),
    )
    (line,) = render_lines([stopped_line("/dev/ttyUSB0", "24:0a:c4:12:34:56", whole, 1.25)])
    assert "wipe" not in line and "bootloader" not in line
