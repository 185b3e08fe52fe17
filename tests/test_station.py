"""The factory station: several units flashed by one command in parallel, one failing;
the summary, the exit code, and the per-unit log (CSV and JSON lines) say which and why."""

from __future__ import annotations

import csv
import hashlib
import json
import socket
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path

import pytest
from click.testing import CliRunner
from support.layouts import load_arduino, load_mongoose

from esp_cabundle import __version__
from esp_cabundle.cli import cli
from esp_cabundle.errors import DeviceError, ImageError, InputError, PartitionTableError
from esp_cabundle.flash.station import (
    LOG_FIELDS,
    UnitOutcome,
    append_log,
    check_log,
    expand_ports,
    log_format_for,
    next_step,
    one_port,
    run_parallel,
    station_exit_code,
)
from esp_cabundle.fs import open_image
from esp_cabundle.virtual import VirtualESP32
from tests.support import dumps
from tests.support.gated import canonical

Start = Callable[..., VirtualESP32]
NEW_CA = canonical(dumps.pem("isrgrootx1.pem") + dumps.pem("isrg-root-x2.pem"))


@pytest.fixture
def ca_file(tmp_path: Path) -> Path:
    path = tmp_path / "ca.pem"
    path.write_bytes(NEW_CA)
    return path


def mongoose_units(start: Start, n: int) -> list[VirtualESP32]:
    units = []
    for i in range(n):
        unit = start("esp32", mac=f"24:0a:c4:00:00:{i:02x}")
        load_mongoose(unit)
        units.append(unit)
    return units


def ca_on(unit: VirtualESP32) -> bytes:
    return open_image(unit.read(0x190000, 0x40000)).read("/ca.pem")


def station_args(
    units: list[VirtualESP32], ca_file: Path, tmp_path: Path, *extra: str
) -> list[str]:
    args = ["flash", "--board", "mongoose-os-esp32", "--bundle", str(ca_file)]
    args += ["--journal-dir", str(tmp_path / "journal"), *extra]
    for unit in units:
        args += ["--port", unit.url]
    return args


def test_two_ports_with_one_mac_are_warned_of(
    virtual_esp32: Start, runner: CliRunner, ca_file: Path, tmp_path: Path
) -> None:
    """Two virtual units started without --mac share the default MAC; the journal keeps
    updates per MAC, and 'restore' on the first then marked the second's update undone
    while the second still held the new CA. The station's run says so, naming both."""
    twins = [virtual_esp32("esp32", mac="24:0a:c4:12:34:56") for _ in range(2)]
    other = virtual_esp32("esp32", mac="24:0a:c4:00:00:07")
    for unit in (*twins, other):
        load_mongoose(unit)
    r = runner.invoke(cli, station_args([*twins, other], ca_file, tmp_path))
    assert r.exit_code == 0, r.output
    warned = [line for line in r.stderr.splitlines() if "the same MAC" in line]
    assert warned == [
        f"warning: {twins[0].url} and {twins[1].url} answered with the same MAC "
        "24:0a:c4:12:34:56: the journal keeps updates per MAC, so 'restore' cannot tell "
        "these units apart; give each virtual unit its own --mac (on real units, a cloned MAC)"
    ]
    r = runner.invoke(cli, station_args(mongoose_units(virtual_esp32, 2), ca_file, tmp_path))
    assert r.exit_code == 0 and "the same MAC" not in r.output, r.output


def test_verbose_messages_keep_one_line_each_in_a_captured_log(
    virtual_esp32: Start, runner: CliRunner, ca_file: Path, tmp_path: Path
) -> None:
    """stderr captured to a file or a pipe is 80 columns to rich: a message was cut
    mid-value ("MAC" at the end of one line, the address on the next), so grep for a
    unit's MAC in a station's log missed it."""
    (unit,) = mongoose_units(virtual_esp32, 1)
    r = runner.invoke(cli, station_args([unit], ca_file, tmp_path, "--verbose"))
    assert r.exit_code == 0, r.output
    connected = [line for line in r.stderr.splitlines() if ": Connected: " in line]
    assert len(connected) == 1 and len(connected[0]) > 80, r.stderr
    assert connected[0].startswith(f"{unit.url}: ") and "MAC 24:0a:c4:00:00:00" in connected[0]


def test_four_units_one_wrong_chip(
    virtual_esp32: Start, runner: CliRunner, ca_file: Path, tmp_path: Path
) -> None:
    units = mongoose_units(virtual_esp32, 3)
    odd = virtual_esp32("esp32s3", flash_size=8 << 20, mac="30:ae:a4:00:00:99")
    load_mongoose(odd)
    units.insert(2, odd)
    log = tmp_path / "station.csv"
    r = runner.invoke(cli, station_args(units, ca_file, tmp_path, "--log", str(log)))
    assert r.exit_code == 3, r.output
    out = r.stdout
    assert "3 of 4 units succeeded." in out
    failed = [line for line in out.splitlines() if "FAILED" in line]
    assert len(failed) == 1 and odd.url in failed[0] and "ESP32-S3" in failed[0]
    for unit in units:
        if unit is odd:
            assert unit.stats.sectors_erased == 0
        else:
            assert ca_on(unit) == NEW_CA
    with log.open() as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 4 and tuple(rows[0]) == LOG_FIELDS
    by_port = {row["port"]: row for row in rows}
    bad = by_port[odd.url]
    assert bad["result"] == "failed" and "ESP32-S3" in bad["error"]
    good = by_port[units[0].url]
    assert good["result"] == "updated" and good["mac"] == "24:0a:c4:00:00:00"
    assert good["chip"] == "ESP32" and good["partitions"] == "fs_0 fs_1"
    assert len(good["ca_before"].split()) == 3 and len(good["ca_after"].split()) == 2
    assert int(good["sectors_written"]) >= 2 and int(good["bytes_written"]) > 0
    datetime.fromisoformat(good["time"])
    # what was shipped, by name and digest, and by which version of the tool
    assert good["tool_version"] == __version__
    assert good["bundle"] == str(ca_file)
    assert good["bundle_sha256"] == hashlib.sha256(NEW_CA).hexdigest()
    assert good["roots_before"] == "ISRG Root X1; ISRG Root X2; DST Root CA X3"
    assert good["roots_after"] == "ISRG Root X1; ISRG Root X2"
    assert "flagged encrypted" in good["notes"]
    # one line per unit: OK or FAILED, port, MAC, seconds, roots (or what to do next)
    lines = {line.split()[1]: line for line in out.splitlines() if line.startswith(("OK", "F"))}
    assert lines[units[0].url].startswith("OK ") and lines[units[0].url].endswith("-DST Root CA X3")
    assert lines[odd.url].startswith("FAILED ") and "; next: " in lines[odd.url]

    # the same command again: the three are up to date, the log grows (no second header)
    r = runner.invoke(cli, station_args(units, ca_file, tmp_path, "--log", str(log)))
    assert r.exit_code == 3
    with log.open() as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 8
    assert sorted(row["result"] for row in rows[4:]) == ["failed"] + ["up-to-date"] * 3


def test_a_cut_link_on_one_unit_json_log_and_summary(
    virtual_esp32: Start, runner: CliRunner, ca_file: Path, tmp_path: Path
) -> None:
    units = mongoose_units(virtual_esp32, 4)
    units[1].arm_cut(sector_writes=1)
    log = tmp_path / "station.log"
    r = runner.invoke(cli, station_args(units, ca_file, tmp_path, "--log", str(log), "--json"))
    assert r.exit_code == 3
    report = json.loads(r.stdout)
    assert report["exit_code"] == 3 and [u["ok"] for u in report["units"]] == [
        True,
        False,
        True,
        True,
    ]
    broken = report["units"][1]
    assert "link lost" in broken["error"] and broken["mac"] == "24:0a:c4:00:00:01"
    # its next step names the port to restore and the journal, as a stopped unit's does
    journal = tmp_path / "journal"
    restore = f"'esp-cabundle restore --port {units[1].url} --journal-dir {journal}'"
    assert restore in json.dumps(broken), broken
    records = [json.loads(line) for line in log.read_text().splitlines()]
    assert len(records) == 4 and set(records[0]) == set(LOG_FIELDS)
    assert sorted(rec["result"] for rec in records) == ["failed", "updated", "updated", "updated"]
    # plugging it back in and running the same command finishes that unit: "resumed",
    # not "up-to-date", in the log, and the roots it brought in the line
    r = runner.invoke(cli, station_args(units[1:2], ca_file, tmp_path, "--log", str(log)))
    assert r.exit_code == 0 and "finished the interrupted update" in r.stdout
    assert "-DST Root CA X3" in r.stdout
    assert ca_on(units[1]) == NEW_CA
    last = json.loads(log.read_text().splitlines()[-1])
    assert last["result"] == "resumed" and last["mac"] == "24:0a:c4:00:00:01"


def test_a_csv_log_with_other_columns_is_refused_before_any_unit(
    virtual_esp32: Start, runner: CliRunner, ca_file: Path, tmp_path: Path
) -> None:
    """Records of this version would not line up under an older header."""
    units = mongoose_units(virtual_esp32, 1)
    log = tmp_path / "old.csv"
    log.write_text("time,port,mac,result\n2025-01-01T00:00:00,/dev/ttyUSB0,aa,updated\n")
    before = log.read_text()
    r = runner.invoke(cli, station_args(units, ca_file, tmp_path, "--log", str(log)))
    assert r.exit_code == 2 and "other columns" in r.stderr and "new file" in r.stderr
    assert log.read_text() == before and units[0].stats.connections == 0


@pytest.mark.parametrize("log_name", ["ca.pem", "link.pem", "mongoose-os-esp32.yaml"])
def test_a_log_that_is_an_input_of_the_command_is_refused(
    virtual_esp32: Start, runner: CliRunner, ca_file: Path, tmp_path: Path, log_name: str
) -> None:
    """A record appended to the bundle being flashed (or a link to it, or the board
    file) would corrupt it: refused before any unit, the file unchanged."""
    units = mongoose_units(virtual_esp32, 1)
    (tmp_path / "link.pem").symlink_to(ca_file)
    board = tmp_path / "mongoose-os-esp32.yaml"
    board.write_text((Path(__file__).parents[1] / "boards" / board.name).read_text())
    args = station_args(units, ca_file, tmp_path, "--log", str(tmp_path / log_name))
    args[args.index("mongoose-os-esp32")] = str(board)
    before = {p: p.read_bytes() for p in (ca_file, board)}
    r = runner.invoke(cli, args)
    assert r.exit_code == 2, r.output
    assert "this command reads" in r.stderr and "no unit was touched" in r.stderr, r.stderr
    assert {p: p.read_bytes() for p in before} == before
    assert units[0].stats.connections == 0 and not (tmp_path / "journal").exists()


@pytest.mark.parametrize(
    ("name", "content", "kind"),
    [
        ("g.bin", bytes(range(256)) * 4, "JSON-lines"),
        ("notes.txt", b"buy milk\n", "JSON-lines"),
        ("other.jsonl", b'{"name": "not a station record"}\n', "JSON-lines"),
        ("sheet.csv", b"name,price\nmilk,1\n", "CSV"),
        ("blob.csv", b"\xff\xfe\x00binary", "CSV"),
    ],
)
def test_appending_to_a_file_that_is_not_a_log_is_refused(
    virtual_esp32: Start,
    runner: CliRunner,
    ca_file: Path,
    tmp_path: Path,
    name: str,
    content: bytes,
    kind: str,
) -> None:
    """Only a log of the chosen kind (CSV with our header, JSON lines of our records)
    is appended to; another file stays as it is, and no unit is touched."""
    units = mongoose_units(virtual_esp32, 1)
    log = tmp_path / name
    log.write_bytes(content)
    r = runner.invoke(cli, station_args(units, ca_file, tmp_path, "--log", str(log)))
    assert r.exit_code == 2, r.output
    assert f"is not a {kind} log written by esp-cabundle flash" in r.stderr, r.stderr
    assert "give --log a new file" in r.stderr
    assert log.read_bytes() == content and units[0].stats.connections == 0


def test_a_json_lines_log_is_appended_to_run_after_run(
    virtual_esp32: Start, runner: CliRunner, ca_file: Path, tmp_path: Path
) -> None:
    """The check for a foreign file lets the station's own log grow."""
    log = tmp_path / "station.log"
    for _ in range(2):
        units = mongoose_units(virtual_esp32, 1)
        r = runner.invoke(cli, station_args(units, ca_file, tmp_path, "--log", str(log)))
        assert r.exit_code == 0, r.output
    assert [json.loads(line)["result"] for line in log.read_text().splitlines()] == [
        "updated",
        "updated",
    ]


@pytest.mark.parametrize(
    ("where", "code", "message"),
    [
        ("under a file", 3, "(its directory is a file); no unit was touched"),
        ("a directory", 2, "names a directory, not a file"),
        ("in a missing directory", 2, "does not exist; no unit was touched"),
    ],
)
def test_a_log_that_cannot_be_written_is_refused_before_any_unit(
    virtual_esp32: Start,
    runner: CliRunner,
    ca_file: Path,
    tmp_path: Path,
    where: str,
    code: int,
    message: str,
) -> None:
    """A unit flashed and not logged would be lost track of: the log is tried first."""
    units = mongoose_units(virtual_esp32, 1)
    before = ca_on(units[0])
    (tmp_path / "file").write_text("not a directory")
    (tmp_path / "dir.csv").mkdir()
    log = {
        "under a file": tmp_path / "file" / "station.csv",
        "a directory": tmp_path / "dir.csv",
        "in a missing directory": tmp_path / "missing" / "sub" / "station.csv",
    }[where]
    r = runner.invoke(cli, station_args(units, ca_file, tmp_path, "--log", str(log)))
    assert r.exit_code == code, r.output
    assert message in r.stderr
    assert units[0].stats.connections == 0 and ca_on(units[0]) == before
    assert not (tmp_path / "journal").exists() and not (tmp_path / "missing").exists()
    if where == "in a missing directory":
        assert "create the directory first (mkdir -p " in r.stderr


def test_each_failed_unit_keeps_its_own_next_step(
    virtual_esp32: Start, runner: CliRunner, ca_file: Path, tmp_path: Path
) -> None:
    """A station's lines, its JSON and its log each say per unit what to do next, in
    the same words, whatever else failed beside it."""
    good, odd, arduino = (
        virtual_esp32("esp32", mac="24:0a:c4:00:02:00"),
        virtual_esp32("esp32s3", flash_size=8 << 20, mac="30:ae:a4:00:02:01"),
        virtual_esp32("esp32", mac="24:0a:c4:00:02:02"),
    )
    load_mongoose(good)
    load_mongoose(odd)
    load_arduino(arduino)  # no fs_0
    free = socket.create_server(("127.0.0.1", 0))
    dead = f"socket://127.0.0.1:{free.getsockname()[1]}"
    free.close()  # nothing listens there now
    log = tmp_path / "station.jsonl"
    args = [*station_args([good, odd, arduino], ca_file, tmp_path), "--port", dead]
    r = runner.invoke(cli, [*args, "--log", str(log)])
    assert r.exit_code == 3, r.output
    lines = {line.split()[1]: line for line in r.stdout.splitlines() if line.startswith("F")}
    said = {port: line.split("; next: ", 1)[1] for port, line in lines.items()}
    assert set(said) == {odd.url, arduino.url, dead}
    assert "choose the board made for this chip" in said[odd.url]
    assert "--board" in said[arduino.url]
    assert "start the serial bridge" in said[dead]
    assert "1 of 4 units succeeded." in r.stdout
    r = runner.invoke(cli, [*args, "--json"])
    units = {u["port"]: u for u in json.loads(r.stdout)["units"]}
    # A wrong board's step is the line typed with the right one: this run typed --json.
    typed = {p: step.replace(f"--log {log}", "--json") for p, step in said.items()}
    assert {p: units[p]["next"] for p in said} == typed and units[good.url]["next"] is None
    records = {rec["port"]: rec for rec in map(json.loads, log.read_text().splitlines())}
    for port, step in said.items():
        assert records[port]["error"].endswith(f"; next: {step}")


def test_every_unit_failing_the_same_way_keeps_that_exit_code(
    virtual_esp32: Start, runner: CliRunner, ca_file: Path, tmp_path: Path
) -> None:
    units = [virtual_esp32("esp32", mac=f"24:0a:c4:00:01:{i:02x}") for i in range(2)]
    for unit in units:
        load_arduino(unit)  # no fs_0: a partition-table refusal on both
    r = runner.invoke(cli, station_args(units, ca_file, tmp_path))
    assert r.exit_code == 2 and r.stdout.count("no partition 'fs_0'") == 2
    assert all(u.stats.sectors_erased == 0 for u in units)
    r = runner.invoke(cli, [*station_args(units, ca_file, tmp_path), "--quiet"])
    assert r.exit_code == 2 and r.stdout == "" and r.stderr.count("no partition 'fs_0'") == 2


# ---------------------------------------------------------------------------------------
# The pieces


def _outcome(code: int | None) -> UnitOutcome[str]:
    error = None
    if code == 2:
        error = PartitionTableError("no table")
    elif code == 3:
        error = DeviceError("gone")
    return UnitOutcome("p", None if error else "ok", error, datetime.now(timezone.utc), 0.1)


@pytest.mark.parametrize(
    ("codes", "expected"),
    [
        ([None, None], 0),
        ([None, 3], 3),
        ([None, 2], 3),
        ([2, 2], 2),
        ([3, 3, 3], 3),
        ([2, 3], 3),
        ([2], 2),
    ],
)
def test_station_exit_code(codes: list[int | None], expected: int) -> None:
    assert station_exit_code([_outcome(c) for c in codes]) == expected


def test_expand_ports_globs_and_urls(tmp_path: Path) -> None:
    for name in ("ttyUSB1", "ttyUSB0", "ttyACM0"):
        (tmp_path / name).touch()
    got = expand_ports(
        [str(tmp_path / "ttyUSB*"), "socket://127.0.0.1:1", str(tmp_path / "ttyUSB0")]
    )
    assert got == [str(tmp_path / "ttyUSB0"), str(tmp_path / "ttyUSB1"), "socket://127.0.0.1:1"]
    with pytest.raises(DeviceError, match=r"no serial port matches .*: no unit is plugged in"):
        expand_ports([str(tmp_path / "ttyXYZ*")])


def test_flash_with_a_glob_matching_no_port_says_so_first(
    runner: CliRunner, tmp_path: Path
) -> None:
    """Exit 3, as for a port that does not exist, and before the CA's verdict: no unit is
    plugged in, whatever the CA; nothing is written (the log neither)."""
    log = tmp_path / "station.csv"
    pattern = str(tmp_path / "ttyUSB*")
    r = runner.invoke(cli, ["flash", "-p", pattern, "--board", "mdash-arduino", "--preset",
                            "letsencrypt", "--log", str(log)])  # fmt: skip
    assert r.exit_code == 3, r.output
    assert r.stderr.startswith(f"Error: no serial port matches '{pattern}'"), r.stderr
    assert "CA:" not in r.output
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("name", ["station.csv", "station.jsonl"])
def test_a_ca_refused_after_the_log_is_checked_leaves_no_log(
    runner: CliRunner, tmp_path: Path, name: str
) -> None:
    """The log is checked before the CA's gate: proving it can be appended to made an
    empty log that a refused CA ("nothing written", exit 1) left behind."""
    log = tmp_path / name
    args = ["flash", "-p", "socket://127.0.0.1:1", "--board", "mdash-arduino", "--preset",
            "letsencrypt", "--at", "2060-01-01", "--log"]  # fmt: skip
    r = runner.invoke(cli, [*args, str(log)])
    assert r.exit_code == 1, r.output
    assert "expired on 2035-06-04" in r.stderr
    assert list(tmp_path.iterdir()) == []
    # a log that is there already is kept as it was
    log.write_text("")
    r = runner.invoke(cli, [*args, str(log)])
    assert r.exit_code == 1 and log.read_text() == "", r.output


def test_run_parallel_isolates_failures_and_bugs() -> None:
    def job(port: str, progress: object, on_connect: object) -> str:
        if port == "bad":
            raise DeviceError("bad port")
        if port == "bug":
            raise ZeroDivisionError("oops")
        return port.upper()

    seen: list[str] = []
    outcomes = run_parallel(["a", "bad", "bug", "b"], job, on_done=lambda o: seen.append(o.port))
    assert [o.port for o in outcomes] == ["a", "bad", "bug", "b"]
    assert [o.result for o in outcomes] == ["A", None, None, "B"]
    assert outcomes[1].exit_code == 3 and "bad port" in str(outcomes[1].error)
    assert outcomes[2].error is not None and "unexpected error" in outcomes[2].error.message
    assert sorted(seen) == ["a", "b", "bad", "bug"]


@pytest.mark.parametrize(
    "url", ["socket://127.0.0.1:560*", "socket://127.0.0.1:560?", "rfc2217://h:[12]"]
)
def test_a_url_with_glob_characters_is_refused(
    runner: CliRunner, ca_file: Path, tmp_path: Path, url: str
) -> None:
    with pytest.raises(InputError, match="a URL cannot be a glob"):
        expand_ports([url])
    r = runner.invoke(cli, station_args([], ca_file, tmp_path, "--port", url))
    assert r.exit_code == 2 and "a URL cannot be a glob" in r.output, r.output
    assert "Could not open port" not in r.output
    out = str(tmp_path / "x.bin")
    for args in (["restore"], ["inspect"], ["read", "-o", out]):
        r = runner.invoke(cli, [*args, "--port", url])
        assert r.exit_code == 2 and "a URL cannot be a glob" in r.output, (args, r.output)
    assert not (tmp_path / "journal").exists()


def test_log_formats(tmp_path: Path) -> None:
    assert log_format_for(tmp_path / "x.CSV", None) == "csv"
    assert log_format_for(tmp_path / "x.log", None) == "jsonl"
    assert log_format_for(tmp_path / "x.csv", "jsonl") == "jsonl"
    record = {k: "" for k in LOG_FIELDS} | {"partitions": ["fs_0", "fs_1"], "result": "ok"}
    path = tmp_path / "log.csv"
    append_log(path, [record], "csv")
    append_log(path, [record], "csv")
    lines = path.read_text().splitlines()
    assert lines[0] == ",".join(LOG_FIELDS) and len(lines) == 3 and "fs_0 fs_1" in lines[1]


@pytest.mark.parametrize(
    "notes",
    [
        ["journal: /j/x.json: cannot mark it complete (full); and /j/y.json: too; next: df"],
        ["one; two", "three", ""],
        ['a "quoted", comma\\separated note \u00e9', "[not, json]", "line\nbreak"],
        [],
    ],
)
def test_csv_notes_split_back_as_written(tmp_path: Path, notes: list[str]) -> None:
    """A note may hold "; " (a journal entry and its next step do): the notes were
    joined with "; " and could not be split back. The cell is a JSON array, as README
    says: json.loads of the cell csv reads gives the notes, one record one line."""
    record = {k: "" for k in LOG_FIELDS} | {"notes": notes, "roots_after": ["ISRG Root X1"]}
    path = tmp_path / "log.csv"
    append_log(path, [record, record], "csv")
    with path.open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(path.read_text(encoding="utf-8").splitlines()) == 3
    assert [json.loads(row["notes"]) for row in rows] == [notes, notes]
    assert rows[0]["roots_after"] == "ISRG Root X1"


def test_a_log_begun_by_an_earlier_release_reads_back_by_readmes_rule(tmp_path: Path) -> None:
    """Earlier releases joined the notes by "; " (none: an empty cell) under the same
    header, so a station's log mixes both forms: README's rule reads each row back."""
    path = tmp_path / "log.csv"
    old = {k: "" for k in LOG_FIELDS}
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=LOG_FIELDS)
        writer.writeheader()
        writer.writerow(old | {"notes": "spiffs: 3 sectors; journal: kept"})
        writer.writerow(old)
    check_log(path, "csv")  # the same columns: appended to, as before
    append_log(path, [old | {"notes": ["a; b", "[x]"]}, old | {"notes": []}], "csv")

    def notes(cell: str) -> list[str]:  # README: "a notes cell that does not open with ["
        return json.loads(cell) if cell.startswith("[") else cell.split("; ") if cell else []

    with path.open(encoding="utf-8", newline="") as f:
        rows = [notes(row["notes"]) for row in csv.DictReader(f)]
    assert rows == [["spiffs: 3 sectors", "journal: kept"], [], ["a; b", "[x]"], []]


def test_a_unit_whose_image_does_not_read_is_pointed_at_its_own_port() -> None:
    """The next step said 'inspect --port PORT' for a unit whose port it knows."""
    for error in (ImageError("no file system"), PartitionTableError("no table")):
        said = next_step(error, "/dev/ttyUSB3")
        assert said.endswith("'esp-cabundle inspect --port /dev/ttyUSB3'"), said
    assert next_step(ImageError("x", hint="do this"), "/dev/ttyUSB3") == "do this"


def test_a_device_named_twice_through_a_link_is_one_unit(tmp_path: Path) -> None:
    """/dev/serial/by-id/x and the /dev/ttyUSB0 it links to are one unit: opened twice,
    the second job failed on the first one's lock ("in use by another program")."""
    (tmp_path / "ttyUSB0").touch()
    (tmp_path / "ttyUSB1").touch()
    by_id = tmp_path / "by-id"
    by_id.mkdir()
    (by_id / "usb-Silicon_Labs_CP2102-if00").symlink_to(tmp_path / "ttyUSB0")
    link = str(by_id / "usb-Silicon_Labs_CP2102-if00")
    assert expand_ports([link, str(tmp_path / "ttyUSB0")]) == [link]  # first spelling kept
    assert expand_ports([link, str(tmp_path / "ttyUSB*")]) == [link, str(tmp_path / "ttyUSB1")]
    assert one_port([link, str(tmp_path / "ttyUSB0")], command="read") == link


def test_a_url_spelt_twice_is_one_unit(
    virtual_esp32: Start, runner: CliRunner, ca_file: Path, tmp_path: Path
) -> None:
    """URL schemes and host names are case-insensitive: SOCKET://h:1 and socket://h:1
    were two units to the station, compared as typed, so the one unit was opened twice
    and its second job failed. One unit now, as a device path named twice is, kept as
    first spelt; another host, port or scheme is another unit."""
    got = expand_ports(["SOCKET://LocalHost:5601", "socket://localhost:5601",
                        "socket://localhost:05601", "socket://localhost:5602",
                        "RFC2217://H:7", "rfc2217://h:7", "socket://h:7"])  # fmt: skip
    assert got == ["SOCKET://LocalHost:5601", "socket://localhost:5602", "RFC2217://H:7",
                   "socket://h:7"]  # fmt: skip
    assert one_port(["SOCKET://h:1", "socket://H:1"], command="read") == "SOCKET://h:1"
    (unit,) = mongoose_units(virtual_esp32, 1)
    before = ca_on(unit)
    twice = ["--port", "SOCKET" + unit.url[len("socket") :], "--port", unit.url]
    r = runner.invoke(cli, station_args([], ca_file, tmp_path, *twice))
    assert r.exit_code == 0, r.output
    assert _unit_lines(r.stdout) == [("OK", twice[1])] and ca_on(unit) == NEW_CA, r.output
    r = runner.invoke(cli, ["restore", *twice, "--journal-dir", str(tmp_path / "journal")])
    assert r.exit_code == 0, r.output
    assert _unit_lines(r.stdout) == [("OK", twice[1])] and ca_on(unit) == before, r.output


def _unit_lines(out: str) -> list[tuple[str, str]]:
    """The (result, port) of each unit's line: one unit has no "N of M" count."""
    return [tuple(line.split()[:2]) for line in out.splitlines()  # type: ignore[misc]
            if line.startswith(("OK ", "FAILED ", "STOPPED "))]  # fmt: skip
