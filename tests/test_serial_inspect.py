"""``inspect --port``: a unit is reported exactly as ``inspect`` reports its flash dump."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from support.layouts import MONGOOSE_LFS, MONGOOSE_TABLE, load_arduino, load_mongoose

from esp_cabundle.boards import load_board
from esp_cabundle.cli import cli
from esp_cabundle.flash.reading import inspect_port
from esp_cabundle.virtual import VirtualESP32
from esp_cabundle.virtual.boards import board_image

Start = Callable[..., VirtualESP32]
AT = "2026-01-01"
# "board" is no unit fact: a dump's report says the board it was judged as too, alike
UNIT_FACTS = ("unit", "flash", "flash encryption (eFuse)", "secure boot (eFuse)", "mac")


def as_source(doc: Any, source: str) -> Any:
    return json.loads(json.dumps(doc).replace(source, "SOURCE"))


def inspect_json(runner: CliRunner, *args: str) -> dict[str, Any]:
    r = runner.invoke(cli, ["inspect", *args, "--json", "--at", AT])
    assert r.exit_code == 0, r.output
    docs = json.loads(r.stdout)["reports"]
    assert len(docs) == 1
    doc: dict[str, Any] = docs[0]
    return doc


@pytest.mark.parametrize(
    ("load", "board"),
    [(load_arduino, None), (load_mongoose, "mongoose-os-esp32")],
    ids=["arduino-spiffs", "mongoose-littlefs"],
)
def test_unit_reported_as_its_dump(
    virtual_esp32: Start,
    runner: CliRunner,
    tmp_path: Path,
    load: Callable[[VirtualESP32], None],
    board: str | None,
) -> None:
    unit = virtual_esp32("esp32")
    load(unit)
    dump = tmp_path / "dump.bin"
    dump.write_bytes(unit.read(0, 4 << 20))
    named = ["--board", board] if board else []  # a dump takes --board as a unit does
    from_dump = inspect_json(runner, str(dump), *named)
    from_unit = inspect_json(runner, "--port", unit.url, *named, "--baud", "921600")
    # a live unit is said to be one, not a "flash dump" (its JSON kind, and the text)
    assert (from_unit.pop("kind"), from_dump.pop("kind")) == ("unit", "flash dump")
    facts = from_unit["facts"]
    assert facts["unit"] == "ESP32-D0WD-V3 (revision v3.0), MAC 24:0a:c4:12:34:56"
    assert facts["flash encryption (eFuse)"] == "off"
    for key in UNIT_FACTS:
        facts.pop(key, None)
    assert as_source(from_unit, unit.url) == as_source(from_dump, str(dump))
    # ... and the dump report is the real thing: the CA files and their roots.
    text = json.dumps(from_dump)
    assert "ISRG Root X1" in text and "DST Root CA X3" in text and "/ca.pem" in text


def test_human_report_matches_the_dumps(
    virtual_esp32: Start, runner: CliRunner, tmp_path: Path
) -> None:
    unit = virtual_esp32("esp32")
    unit.load(0x8000, MONGOOSE_TABLE.read_bytes())
    unit.load(0x350000, MONGOOSE_LFS.read_bytes())  # fs_1 only: fs_0 reported empty
    dump = tmp_path / "dump.bin"
    dump.write_bytes(unit.read(0, 4 << 20))
    a = runner.invoke(cli, ["inspect", str(dump), "--at", AT])
    b = runner.invoke(cli, ["inspect", "-p", unit.url, "--at", AT])
    assert a.exit_code == b.exit_code == 0
    unit_lines = tuple(f"  {k}: " for k in UNIT_FACTS)
    lines = [x for x in b.stdout.splitlines() if not x.startswith(unit_lines)]
    assert lines[0].startswith(f"{unit.url}: unit, ")
    assert "\n".join(lines).replace(unit.url, "SRC") == a.stdout.rstrip("\n").replace(
        str(dump), "SRC"
    ).replace("SRC: flash dump, ", "SRC: unit, ", 1)
    assert "Read" in b.stderr  # progress bars went to stderr


def test_no_apps_says_what_was_not_read(virtual_esp32: Start) -> None:
    unit = virtual_esp32("esp32")
    unit.load(0x8000, MONGOOSE_TABLE.read_bytes())
    unit.load(0x190000, MONGOOSE_LFS.read_bytes())  # fs_0 only; fs_1 erased
    report = inspect_port(unit.url, apps=False)
    apps = {c.source.rsplit(":", 1)[1]: c for c in report.children if "app partition" in c.kind}
    assert set(apps) == {"app_0", "app_1"}
    assert all(c.notes == ("not read from the unit (--no-apps)",) for c in apps.values())
    assert sum(1 for _ in report.all_findings()) == 3  # ca.pem in fs_0


def test_flash_encryption_on_is_said(virtual_esp32: Start) -> None:
    unit = virtual_esp32("esp32", flash_encryption=True)
    unit.load(0x8000, MONGOOSE_TABLE.read_bytes())
    report = inspect_port(unit.url, board=load_board("mongoose-os-esp32"), apps=False)
    assert dict(report.facts)["flash encryption (eFuse)"] == "on"
    assert report.notes[0].startswith("flash encryption is on: these reads are ciphertext")


def test_board_chip_must_match(virtual_esp32: Start, runner: CliRunner) -> None:
    unit = virtual_esp32("esp32s3")
    r = runner.invoke(cli, ["inspect", "--port", unit.url, "--board", "mongoose-os-esp32"])
    assert r.exit_code == 3
    assert "the unit is an ESP32-S3, but ESP32 was expected" in r.stderr
    assert unit.stats.commands["READ_FLASH"] == 0


def test_board_flash_size_mismatch_is_noted(virtual_esp32: Start) -> None:
    unit = virtual_esp32("esp32", flash_size=8 << 20)
    unit.load(0x8000, MONGOOSE_TABLE.read_bytes())
    report = inspect_port(unit.url, board=load_board("mongoose-os-esp32"), apps=False)
    assert "the unit has 8 MB of flash; board mongoose-os-esp32 expects 4 MB" in report.notes


def test_a_board_whose_partitions_the_unit_lacks_is_warned(
    virtual_esp32: Start, runner: CliRunner
) -> None:
    unit = virtual_esp32("esp32")
    load_arduino(unit)  # mdash-arduino: one 'spiffs' partition, no fs_0/fs_1
    r = runner.invoke(cli, ["inspect", "--port", unit.url, "--board", "mongoose-os-esp32"])
    assert r.exit_code == 0, r.output
    (note,) = [line for line in r.stdout.splitlines() if "does not fit this unit" in line]
    assert "board mongoose-os-esp32 does not fit this unit: " in note and "fs_0" in note
    assert "'flash --board mongoose-os-esp32' would refuse it" in note
    report = inspect_port(unit.url, board=load_board("mdash-arduino"), apps=False)
    assert not [n for n in report.notes if "does not fit" in n]


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (
            ["PEM", "--board", "mongoose-os-esp32"],
            2,
            "Error: --board names the board of a unit or of a whole-flash dump, and no input "
            "is one (",
        ),
        (["PEM", "--board", "mdash-ardino"], 2, "hint: did you mean 'mdash-arduino'?"),
        (["PEM", "--no-apps"], 2, "Error: --no-apps needs --port: "),
        # the serial link's options, even at their default values: a forgotten --port
        (["PEM", "-b", "115200"], 2, "Error: -b/--baud needs --port: it says how to read"),
        (["PEM", "--baud", "460800"], 2, "Error: -b/--baud needs --port: "),
        (["PEM", "--before", "no-reset"], 2, "Error: --before needs --port: "),
        (["PEM", "--after", "no-reset"], 2, "Error: --after needs --port: "),
        (["--after", "no-reset"], 2, "Error: --after needs --port: "),
        (
            ["PEM", "--board", "mdash-arduino", "-b", "115200", "--after", "no-reset"],
            2,
            "-b/--baud, --after need --port: they say how to read a unit, and "
            "without --port no unit is read\n  hint: add --port PORT to read a unit, or leave "
            "-b/--baud, --after out to inspect files only",
        ),
        (["--port", "PORT", "--board", "no-such-board"], 2, "unknown board 'no-such-board'"),
    ],
)
def test_option_errors(
    virtual_esp32: Start, runner: CliRunner, args: list[str], code: int, message: str
) -> None:
    unit = virtual_esp32("esp32")
    pem = str(Path(__file__).parent / "data" / "letsencrypt" / "isrgrootx1.pem")
    values = {"PORT": unit.url, "PEM": pem}
    r = runner.invoke(cli, ["inspect", *[values.get(a, a) for a in args]])
    assert r.exit_code == code, r.output
    assert message in r.stderr
    assert r.stdout == "" and unit.stats.connections == 0


@pytest.mark.parametrize(
    ("link", "code", "boots"),
    [
        (["--after", "no-reset"], 0, ["download"]),  # left in its loader, not restarted
        (["--before", "no-reset"], 3, []),  # running firmware, not reset: no loader
    ],
)
def test_reset_options_reach_the_unit(
    virtual_esp32: Start, runner: CliRunner, link: list[str], code: int, boots: list[str]
) -> None:
    """--before and --after, as read, flash and restore take them (over rfc2217, where
    the reset lines travel)."""
    unit = virtual_esp32("esp32", transport="rfc2217", mode="app")
    load_mongoose(unit)
    r = runner.invoke(cli, ["inspect", "--port", unit.url, "--no-apps", "-b", "921600", *link])
    assert r.exit_code == code, r.output
    assert unit.stats.boots == boots
    if code:
        assert "not in download mode" in r.stderr


def test_unit_without_a_partition_table(virtual_esp32: Start, runner: CliRunner) -> None:
    unit = virtual_esp32("esp32")
    r = runner.invoke(cli, ["inspect", "--port", unit.url])
    assert r.exit_code == 2
    assert "no partition table at 0x8000" in r.stderr


def test_a_table_past_the_units_flash_is_shown_as_flash_hints(
    virtual_esp32: Start, runner: CliRunner, tmp_path: Path
) -> None:
    """A 4 MiB ESP32-S3 flashed with the 8 MiB table of arduino-esp32s3-littlefs:
    ``flash`` refuses it and points at ``inspect --port``, which used to refuse the
    table too (exit 2, no hint). It shows the table and says what is wrong, exit 1,
    without the dump's "read the whole flash again" (the unit's flash is whole)."""
    board = "arduino-esp32s3-littlefs"
    unit = virtual_esp32("esp32s3", flash_size=4 << 20)
    unit.load(0, board_image(load_board(board)).flash[: 4 << 20])
    flash = runner.invoke(
        cli,
        [
            "flash",
            "-p",
            unit.url,
            "--board",
            board,
            "--preset",
            "letsencrypt",
            "--journal-dir",
            str(tmp_path),
        ],
    )
    assert flash.exit_code == 2, flash.output
    hinted = f"look at the unit with 'esp-cabundle inspect --port {unit.url}'"
    assert hinted in flash.stdout
    r = runner.invoke(cli, ["inspect", "--port", unit.url, "--no-apps", "--json"])
    assert r.exit_code == 1, r.output
    doc = json.loads(r.stdout)
    (report,) = doc["reports"]
    assert report["kind"] == "unit"
    assert report["facts"]["partition spiffs"] == "data/spiffs at 0x670000, 0x180000 bytes"
    beyond = "partition 'spiffs' ends at 0x7f0000, beyond the unit's 4 MiB flash (not read)"
    assert beyond in report["notes"]
    assert not any("-byte dump" in n for n in report["notes"]), report["notes"]
    assert doc["error"] == (
        f"{unit.url}: partition 'app1' ends at 0x670000, beyond the unit's 4 MiB flash "
        "(and 2 more after it): its partition table was made for a larger flash than the "
        "chip has"
    )
    assert "built for its flash size" in doc["hint"] and "read the whole" not in doc["hint"]


def test_a_moved_partition_table_is_found_and_its_offset_named(
    virtual_esp32: Start, runner: CliRunner, tmp_path: Path
) -> None:
    """A unit whose firmware moved its table (CONFIG_PARTITION_TABLE_OFFSET=0x6000): the
    refusal said "say where", leaving the technician to guess the offset; it names the
    one the flash holds, and the board file the hint describes then reaches the unit."""
    flash = bytearray(board_image(load_board("arduino-esp32-spiffs")).flash)
    flash[0x6000:0x7000], flash[0x8000:0x9000] = flash[0x8000:0x9000], b"\xff" * 0x1000
    unit = virtual_esp32("esp32")
    unit.load(0, bytes(flash))
    r = runner.invoke(cli, ["inspect", "--port", unit.url, "--no-apps"])
    assert r.exit_code == 2, r.output
    said = "no partition table at 0x8000 (found ff ff, expected aa 50); the flash holds one"
    assert f"{said} at 0x6000" in r.stderr, r.stderr
    assert "CONFIG_PARTITION_TABLE_OFFSET=0x6000" in r.stderr
    assert "'partition_table: {offset: 0x6000}' in a board file" in r.stderr
    text = Path(load_board("arduino-esp32-spiffs").source).read_text()  # type: ignore[arg-type]
    board = tmp_path / "moved.yaml"
    board.write_text(
        text.replace("name: arduino-esp32-spiffs", "name: moved").replace(
            "offset: 0x8000", "offset: 0x6000"
        )
    )
    r = runner.invoke(cli, ["inspect", "--port", unit.url, "--no-apps", "--board", str(board)])
    assert r.exit_code == 0, r.output
    assert "partition table: at 0x6000, 6 partitions" in r.stdout
