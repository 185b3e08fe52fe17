"""``esp-cabundle flash`` end to end with real esptool against virtual units preloaded with
the vendor layouts: the new CA file in every target partition, every other file and every
byte outside the target partitions unchanged, LittleFS still 2.0; every refusal leaves
the unit untouched (its erase and program counters stay at 0)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner
from support.layouts import load_mongoose

from esp_cabundle.blocks import SectorWrite
from esp_cabundle.boards import load_board
from esp_cabundle.cli import cli
from esp_cabundle.errors import FlashError
from esp_cabundle.flash import flasher
from esp_cabundle.flash.base import JOB, Message, Step
from esp_cabundle.flash.flasher import flash_unit
from esp_cabundle.fs import open_image
from esp_cabundle.limits import human_size
from esp_cabundle.virtual import VirtualESP32
from tests.support import dumps
from tests.support.flashing import (
    ARDUINO,
    MONGOOSE,
    NEW_CA,
    assert_updated,
    flash_mongoose,
)
from tests.support.gated import gated, huge

Start = Callable[..., VirtualESP32]


@pytest.fixture(autouse=True)
def _no_home_journal(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Nothing may land in the real ~/.local/state, whatever a test forgets to pass."""
    monkeypatch.setenv("ESP_CABUNDLE_JOURNAL", str(tmp_path / "default-journal"))


@pytest.fixture
def ca_file(tmp_path: Path) -> Path:
    path = tmp_path / "ca.pem"
    path.write_bytes(NEW_CA)
    return path


def snapshot(unit: VirtualESP32) -> bytes:
    return unit.read(0, len(unit.flash))


def untouched(unit: VirtualESP32) -> bool:
    return unit.stats.sectors_erased == 0 and unit.stats.sectors_programmed == 0


def flash_args(unit: VirtualESP32, board: str, ca_file: Path, journal: Path) -> list[str]:
    return [
        "flash",
        "--port",
        unit.url,
        "--board",
        board,
        "--bundle",
        str(ca_file),
        "--journal-dir",
        str(journal),
        "--at",
        "2026-06-01",  # R10 in NEW_CA expires in 2027
    ]


# ---------------------------------------------------------------------------------------
# Updates


def test_mongoose_unit_both_slots_updated_littlefs_stays_2_0(
    mongoose_unit: VirtualESP32, runner: CliRunner, ca_file: Path, tmp_path: Path
) -> None:
    before = snapshot(mongoose_unit)
    r = runner.invoke(cli, flash_args(mongoose_unit, "mongoose-os-esp32", ca_file, tmp_path / "j"))
    assert r.exit_code == 0, r.output
    (line,) = r.stdout.splitlines()  # one line per unit: OK, port, MAC, seconds, roots
    assert line.startswith(f"OK  {mongoose_unit.url}  24:0a:c4:12:34:56  ") and line.endswith(
        " s  +R10, -DST Root CA X3"
    ), line
    assert "100%" in r.stderr and "0x1" not in r.stdout  # a bar; no sector addresses
    after = snapshot(mongoose_unit)
    assert_updated(before, after, MONGOOSE)
    for start, end in MONGOOSE:
        facts = open_image(after[start:end]).describe()
        assert facts["disk version"] == "2.0" and facts["block count"] == 64
    changed = [
        s for s in range(0, len(before), 0x1000) if before[s : s + 0x1000] != after[s : s + 0x1000]
    ]
    per_slot = [sum(1 for s in changed if a <= s < b) for a, b in MONGOOSE]
    assert all(1 <= n <= 6 for n in per_slot)
    assert mongoose_unit.stats.sectors_erased == len(changed)  # nothing rewritten needlessly
    # the journal holds the update, complete
    (entry,) = (tmp_path / "j" / "240ac4123456").glob("*.json")
    saved = json.loads(entry.read_text())
    assert saved["status"] == "complete" and saved["board"] == "mongoose-os-esp32"
    assert sorted(s["offset"] for p in saved["partitions"] for s in p["sectors"]) == changed

    erased = mongoose_unit.stats.sectors_erased
    again = runner.invoke(
        cli, [*flash_args(mongoose_unit, "mongoose-os-esp32", ca_file, tmp_path / "j"), "--verbose"]
    )
    assert again.exit_code == 0 and "Already up to date: nothing written." in again.stdout
    assert again.stdout.splitlines()[0].endswith(
        "up to date: already holds the 3 CAs (2 roots, 1 intermediate)"
    )
    assert mongoose_unit.stats.sectors_erased == erased and snapshot(mongoose_unit) == after
    assert len(list((tmp_path / "j" / "240ac4123456").glob("*.json"))) == 1  # no new entry


def test_arduino_mdash_unit_spiffs_updated(arduino_unit: VirtualESP32, tmp_path: Path) -> None:
    before = snapshot(arduino_unit)
    result = flash_unit(
        arduino_unit.url,
        load_board("mdash-arduino"),
        gated(NEW_CA, "mdash-arduino"),
        journal_dir=tmp_path,
        connect_attempts=1,
    )
    assert result.status == "updated" and result.partitions == ("spiffs",)
    after = snapshot(arduino_unit)
    assert_updated(before, after, ARDUINO)
    assert result.sectors_written == arduino_unit.stats.sectors_erased <= 6
    assert result.bytes_read < 64 * 1024  # of a 1408 KiB partition
    assert result.ca_after != result.ca_before and len(result.ca_after) == 3
    assert open_image(after[0x290000:0x3F0000]).profile.name == "esp-idf"


def test_one_progress_for_the_whole_job(mongoose_unit: VirtualESP32, tmp_path: Path) -> None:
    """Connecting, reading, writing, verifying: one count whose total is known from the
    first event on, never going back."""
    steps: list[Step] = []
    flash_mongoose(
        mongoose_unit, tmp_path, progress=lambda e: steps.append(e) if isinstance(e, Step) else None
    )
    assert steps[0] == Step("connecting", 0, JOB) and {s.total for s in steps} == {JOB}
    done = [s.done for s in steps]
    assert done == sorted(done) and done[-1] == JOB
    doing = [s.doing for s in steps]
    for phase in ("reading partition 'fs_1'", "update: sector 6 of 6", "verifying"):
        assert phase in doing
    assert doing.index("reading partition 'fs_1'") < doing.index("verifying")


def test_each_partition_says_what_was_read_of_it(
    mongoose_unit: VirtualESP32, tmp_path: Path
) -> None:
    """The partition's size is not what crossed the link: the file system reads a few
    blocks, and the message says how much."""
    said: list[str] = []
    result = flash_mongoose(
        mongoose_unit,
        tmp_path,
        progress=lambda e: said.append(e.text) if isinstance(e, Message) else None,
    )
    assert result.plan is not None
    for c in result.plan.changes:
        p = c.partition
        assert 0 < c.bytes_read < p.size // 4
        line = f"opening partition '{p.name}' (256 KiB at {p.offset:#x}); read "
        assert line + human_size(c.bytes_read) in said, said
    assert not [text for text in said if "0x40000 bytes" in text]


def test_dry_run_reads_only_and_says_what_would_change(
    arduino_unit: VirtualESP32, runner: CliRunner, ca_file: Path, tmp_path: Path
) -> None:
    args = [*flash_args(arduino_unit, "mdash-arduino", ca_file, tmp_path / "j"), "--dry-run"]
    r = runner.invoke(cli, args)
    assert r.exit_code == 0, r.output
    (line,) = r.stdout.splitlines()
    assert line.startswith("DRY RUN") and line.endswith("would change: +R10, -DST Root CA X3")
    r = runner.invoke(cli, [*args, "--verbose"])  # the details: partitions and sectors
    out = r.stdout
    assert "/ca.pem would be replaced" in out and "Dry run: nothing written." in out
    assert "+ R10" in out and "sectors, " in out and "KiB" in out and "order: " in out
    assert "0x29" in out  # sector addresses
    assert untouched(arduino_unit) and not (tmp_path / "j").exists()
    r = runner.invoke(
        cli,
        [
            *flash_args(arduino_unit, "mdash-arduino", ca_file, tmp_path / "j"),
            "--dry-run",
            "--json",
        ],
    )
    report = json.loads(r.stdout)
    (u,) = report["units"]
    assert report["dry_run"] and u["status"] == "dry run" and u["ok"]
    (part,) = u["partitions"]
    assert (
        part["name"] == "spiffs"
        and part["sectors"]
        and part["bytes"] == 4096 * len(part["sectors"])
    )
    assert [x["label"] for x in part["roots_added"]] == ["R10"]
    assert untouched(arduino_unit)


# ---------------------------------------------------------------------------------------
# Refusals: a clear reason and no write


def test_wrong_chip(virtual_esp32: Start, runner: CliRunner, ca_file: Path, tmp_path: Path) -> None:
    unit = virtual_esp32("esp32s3", flash_size=8 << 20)
    load_mongoose(unit)
    r = runner.invoke(cli, flash_args(unit, "mongoose-os-esp32", ca_file, tmp_path))
    assert r.exit_code == 3 and "ESP32-S3" in r.stdout and "ESP32 was expected" in r.stdout
    assert r.stdout.startswith(f"FAILED  {unit.url}  ") and "; next: " in r.stdout
    assert untouched(unit)


def test_partition_missing(
    arduino_unit: VirtualESP32, runner: CliRunner, ca_file: Path, tmp_path: Path
) -> None:
    r = runner.invoke(cli, flash_args(arduino_unit, "mongoose-os-esp32", ca_file, tmp_path))
    assert r.exit_code == 2 and "no partition 'fs_0'" in r.stdout
    assert untouched(arduino_unit)


@pytest.mark.parametrize("board", ["platformio-esp32", "esp-idf-spiffs"])
def test_a_board_picking_one_of_the_units_file_systems_is_refused(
    mongoose_unit: VirtualESP32, runner: CliRunner, ca_file: Path, tmp_path: Path, board: str
) -> None:
    """PlatformIO's profile would mount Mongoose OS's fs_1 and leave fs_0 behind."""
    args = [*flash_args(mongoose_unit, board, ca_file, tmp_path / "j"), "--dry-run"]
    r = runner.invoke(cli, args)
    assert r.exit_code == 2, r.output
    assert "2 file-system partitions ('fs_0', 'fs_1')" in r.stdout
    assert f"board {board} takes only the" in r.stdout and "holding the old CA" in r.stdout
    assert untouched(mongoose_unit) and not (tmp_path / "j").exists()


def test_file_system_not_mounting_is_never_formatted(
    mongoose_unit: VirtualESP32, runner: CliRunner, ca_file: Path, tmp_path: Path
) -> None:
    noise = dumps.with_random(b"\xff" * 0x40000, 0, 0x40000)
    mongoose_unit.load(0x350000, noise)
    before = snapshot(mongoose_unit)
    r = runner.invoke(cli, flash_args(mongoose_unit, "mongoose-os-esp32", ca_file, tmp_path))
    assert r.exit_code == 2 and "fs_1" in r.stdout and "nothing formatted" in r.stdout
    assert untouched(mongoose_unit) and snapshot(mongoose_unit) == before


def test_flash_encryption_on_the_chip(
    virtual_esp32: Start, runner: CliRunner, ca_file: Path, tmp_path: Path
) -> None:
    unit = virtual_esp32("esp32s3", flash_size=8 << 20, flash_encryption=True)
    load_mongoose(unit)  # plaintext in the virtual flash: only the eFuses say "encrypted"
    board = tmp_path / "board.yaml"
    text = (Path(load_board("mongoose-os-esp32").source)).read_text()
    board.write_text(
        text.replace("name: mongoose-os-esp32", "name: board")
        .replace("chips: [esp32]", "chips: [esp32s3]")
        .replace("flash_size: 4MB", "flash_size: 8MB")
    )
    r = runner.invoke(cli, flash_args(unit, str(board), ca_file, tmp_path / "j"))
    assert r.exit_code == 3 and "flash encryption is on" in r.stdout, r.output
    assert untouched(unit)


def test_new_content_not_fitting(
    mongoose_unit: VirtualESP32, runner: CliRunner, tmp_path: Path
) -> None:
    big = tmp_path / "big.pem"
    big.write_bytes(huge("mongoose-os-esp32").pem)
    r = runner.invoke(cli, flash_args(mongoose_unit, "mongoose-os-esp32", big, tmp_path / "j"))
    assert r.exit_code == 2 and "does not fit" in r.stdout
    assert untouched(mongoose_unit)


def test_board_without_file_system_and_bad_options_fail_before_connecting(
    virtual_esp32: Start, runner: CliRunner, ca_file: Path, tmp_path: Path
) -> None:
    unit = virtual_esp32("esp32")
    r = runner.invoke(cli, flash_args(unit, "esp-idf-bundle", ca_file, tmp_path))
    assert r.exit_code == 2 and "not in a file system" in r.stderr
    r = runner.invoke(
        cli, [*flash_args(unit, "mdash-arduino", ca_file, tmp_path), "--preset", "letsencrypt"]
    )
    assert r.exit_code == 2 and "cannot be combined" in r.stderr
    key = tmp_path / "key.pem"
    key.write_text("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")
    r = runner.invoke(cli, flash_args(unit, "mdash-arduino", key, tmp_path))
    assert r.exit_code == 2
    assert unit.stats.connections == 0


def test_journal_that_cannot_be_saved_means_no_write(
    mongoose_unit: VirtualESP32, runner: CliRunner, ca_file: Path, tmp_path: Path
) -> None:
    """A directory the journal cannot be made in, found only when it is written (a link
    to nowhere looks like a directory not yet made): nothing is written to the unit. A
    file in the journal directory's path is refused before the unit is opened."""
    dangling = tmp_path / "journal"
    dangling.symlink_to(tmp_path / "gone" / "journal")
    r = runner.invoke(cli, flash_args(mongoose_unit, "mongoose-os-esp32", ca_file, dangling))
    assert r.exit_code == 3 and "cannot write" in r.stdout, r.output
    assert untouched(mongoose_unit)
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where the journal directory should go")
    connections = mongoose_unit.stats.connections
    r = runner.invoke(
        cli, flash_args(mongoose_unit, "mongoose-os-esp32", ca_file, blocker / "journal")
    )
    assert r.exit_code == 2 and "cannot read the journal directory" in r.stderr, r.output
    assert untouched(mongoose_unit) and mongoose_unit.stats.connections == connections


def test_a_write_outside_the_partition_is_refused(
    virtual_esp32: Start, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Whatever the planner returned, the flasher checks bounds before the first write."""
    import dataclasses

    real = flasher.plan_ca_update

    def stray_plan(*args: object, **kwargs: object) -> object:
        plan = real(*args, **kwargs)  # type: ignore[arg-type]
        c = plan.changes[0]
        nvs = SectorWrite(0x9000, b"\xff" * 4096, b"\x00" * 4096, "stray")
        return dataclasses.replace(
            plan, changes=(dataclasses.replace(c, writes=(*c.writes, nvs)), *plan.changes[1:])
        )

    monkeypatch.setattr(flasher, "plan_ca_update", stray_plan)
    unit = virtual_esp32("esp32")
    load_mongoose(unit)
    with pytest.raises(FlashError, match="outside partition 'fs_0'"):
        flash_mongoose(unit, tmp_path)
    assert untouched(unit)


def test_help_has_examples(runner: CliRunner) -> None:
    for name in ("flash", "restore"):
        r = runner.invoke(cli, [name, "--help"])
        assert r.exit_code == 0 and "Examples:" in r.stdout and f"esp-cabundle {name}" in r.stdout
