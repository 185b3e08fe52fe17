"""A file-system partition whose first sectors are garbled: judged by the eFuses when
known (a unit; or a dump whose other flagged partition holds a plain file system), and
called "damaged or encrypted" only when nothing tells; a dump cut short fails inspect as
update-dump refuses it."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from esp_cabundle.boards import load_board
from esp_cabundle.cli import cli
from esp_cabundle.flash.offline import inspect_dump
from esp_cabundle.partitions import PartitionTable
from esp_cabundle.virtual import VirtualESP32
from esp_cabundle.virtual.boards import board_image
from tests.support import dumps
from tests.support.flashing import NEW_CA

Start = Callable[..., VirtualESP32]
DAMAGED = "fs_0 is damaged (not a SPIFFS/LittleFS image; flash encryption is off)"


def _garbled(flash: bytes) -> bytes:
    """The tryout's damage: 0xff XORed over the first 64 bytes of fs_0's two blocks."""
    out = bytearray(flash)
    for at in (0x190000, 0x191000):
        out[at : at + 64] = bytes(b ^ 0xFF for b in out[at : at + 64])
    return bytes(out)


def _child(report: object, name: str) -> object:
    return next(c for c in report.children if c.source.endswith(f":{name}"))  # type: ignore[attr-defined]


def test_dump_whose_other_flagged_partition_is_plain_says_damaged() -> None:
    report = inspect_dump(_garbled(dumps.mongoose_dump()), "d.bin")
    assert report is not None
    note = _child(report, "fs_0").notes[0]  # type: ignore[attr-defined]
    assert DAMAGED in note and "esptool write-flash 0x190000" in note, note
    assert "encrypted" not in note.replace("encryption is off", "")
    assert "probably" not in json.dumps([c.notes for c in report.children])


def test_dump_with_no_evidence_says_damaged_or_encrypted() -> None:
    flash = dumps.with_random(dumps.mongoose_dump(), 0x190000, 0x40000)
    flash = dumps.with_random(flash, 0x350000, 0x40000, seed=5)
    report = inspect_dump(flash, "d.bin")
    assert report is not None
    for name in ("fs_0", "fs_1"):
        note = _child(report, name).notes[0]  # type: ignore[attr-defined]
        assert f"{name} is damaged or encrypted" in note and "eFuses are unknown" in note


def test_efuses_on_say_ciphertext() -> None:
    report = inspect_dump(_garbled(dumps.mongoose_dump()), "d.bin", encryption=True)
    assert report is not None
    assert "flash encryption is on" in _child(report, "fs_0").notes[0]  # type: ignore[attr-defined]


def test_flash_on_a_unit_follows_its_efuses(
    virtual_esp32: Start, runner: CliRunner, tmp_path: Path
) -> None:
    unit = virtual_esp32("esp32")
    flash = _garbled(dumps.mongoose_dump())
    unit.load(0, flash)
    ca = tmp_path / "ca.pem"
    ca.write_bytes(NEW_CA)
    args = ["flash", "--port", unit.url, "--board", "mongoose-os-esp32", "--bundle", str(ca)]
    args += ["--journal-dir", str(tmp_path / "j"), "--at", "2026-06-01"]
    r = runner.invoke(cli, args)
    assert r.exit_code == 2, r.output
    assert DAMAGED in r.stdout and "probably" not in r.stdout, r.output
    assert "esp-cabundle pack --board mongoose-os-esp32" in r.stdout
    assert unit.read(0, len(unit.flash)) == flash  # nothing written


def test_update_dump_without_efuses_says_damaged_or_encrypted(
    runner: CliRunner, tmp_path: Path
) -> None:
    flash = dumps.with_random(dumps.mongoose_dump(), 0x190000, 0x40000)
    (tmp_path / "d.bin").write_bytes(flash)
    (tmp_path / "ca.pem").write_bytes(NEW_CA)
    args = ["update-dump", str(tmp_path / "d.bin"), "--board", "mongoose-os-esp32"]
    r = runner.invoke(cli, [*args, "--bundle", str(tmp_path / "ca.pem"), "-o", "o.bin"])
    assert r.exit_code == 2 and "fs_0 is damaged or encrypted" in r.output, r.output
    assert not (tmp_path / "o.bin").exists() and not Path("o.bin").exists()


def test_inspect_fails_a_truncated_dump_as_update_dump_refuses_it(
    runner: CliRunner, tmp_path: Path
) -> None:
    cut = tmp_path / "t.bin"
    cut.write_bytes(dumps.mongoose_dump()[:3000000])
    r = runner.invoke(cli, ["inspect", str(cut), "--json"])
    doc = json.loads(r.stdout)
    assert r.exit_code == 1 and doc["ok"] is False, r.output
    assert "the dump looks truncated" in doc["error"]
    assert doc["reports"][0]["problems"]
    args = ["update-dump", str(cut), "--board", "mongoose-os-esp32", "--bundle", "x.pem"]
    u = runner.invoke(cli, [*args, "-o", str(tmp_path / "o.bin")])
    assert u.exit_code == 2 and "the dump looks truncated" in u.output
    whole = tmp_path / "w.bin"
    whole.write_bytes(dumps.mongoose_dump())
    assert runner.invoke(cli, ["inspect", str(whole)]).exit_code == 0


def test_inspect_port_follows_the_units_efuses(virtual_esp32: Start, runner: CliRunner) -> None:
    """No other flagged partition is plain here: only the eFuses tell it is damage."""
    unit = virtual_esp32("esp32")
    flash = dumps.with_random(dumps.mongoose_dump(), 0x190000, 0x40000)
    unit.load(0, dumps.with_random(flash, 0x350000, 0x40000, seed=5))
    r = runner.invoke(cli, ["inspect", "--port", unit.url, "--json"])
    assert r.exit_code == 0, r.output
    kids = json.loads(r.stdout)["reports"][0]["children"]
    notes = {k["source"].rsplit(":", 1)[1]: k["notes"] for k in kids}
    assert DAMAGED in notes["fs_0"][0] and "fs_1 is damaged (" in notes["fs_1"][0], notes


def test_inspect_json_gives_numbers_beside_the_prose(runner: CliRunner, tmp_path: Path) -> None:
    dump = tmp_path / "d.bin"
    dump.write_bytes(dumps.mongoose_dump())
    r = runner.invoke(cli, ["inspect", str(dump), "--json"])
    report = json.loads(r.stdout)["reports"][0]
    assert report["facts"]["flash_size"] == len(dumps.mongoose_dump())
    assert report["facts"]["size"].startswith("0x")  # the prose key stays
    fs0 = next(c for c in report["children"] if c["source"].endswith(":fs_0"))
    assert (fs0["facts"]["offset"], fs0["facts"]["size"]) == (0x190000, 0x40000)
    assert fs0["facts"]["partition"].startswith("data/spiffs at 0x190000, 0x40000 bytes")
    text = runner.invoke(cli, ["inspect", str(dump)]).output
    assert "flash_size" not in text and "offset: " not in text  # the text keeps its prose


def test_inspect_port_json_names_mac_and_flash_size_as_read_does(
    virtual_esp32: Start, runner: CliRunner, tmp_path: Path
) -> None:
    unit = virtual_esp32("esp32")
    unit.load(0, dumps.mongoose_dump())
    facts = json.loads(runner.invoke(cli, ["inspect", "--port", unit.url, "--json"]).stdout)[
        "reports"
    ][0]["facts"]
    out = tmp_path / "r.bin"
    read = json.loads(
        runner.invoke(cli, ["read", "--port", unit.url, "--all", "-o", str(out), "--json"]).stdout
    )
    assert (facts["mac"], facts["flash_size"]) == (read["mac"], read["flash_size"])
    assert isinstance(facts["flash_size"], int) and facts["mac"] in facts["unit"]


def test_efuses_on_leave_an_unflagged_partition_plain() -> None:
    """Flash encryption encrypts only flagged partitions: unflagged garbage is damage."""
    flash = dumps.with_random(dumps.arduino_dump(), 0x290000, 0x160000)
    report = inspect_dump(flash, "d.bin", encryption=True)
    assert report is not None
    note = _child(report, "spiffs").notes[0]  # type: ignore[attr-defined]
    assert "spiffs is damaged" in note and "stored plain" in note, note


def _shrunk(board: str) -> bytes:
    """A unit of ``board`` (Arduino's 1408 KiB LittleFS 'spiffs') whose table was edited
    to give 'spiffs' one 4 KiB block less (coredump one more): the file system is whole,
    its superblock counts a block past the partition."""
    flash = bytearray(board_image(load_board(board)).flash)
    csv = load_board(board).layout.to_csv()  # type: ignore[union-attr]
    csv = csv.replace("0x290000, 0x160000", "0x290000, 0x15f000")
    csv = csv.replace("0x3f0000, 0x10000", "0x3ef000, 0x11000")
    table = PartitionTable.from_csv(csv).to_binary()
    flash[0x8000 : 0x8000 + len(table)] = table
    return bytes(flash)


def test_a_partition_shrunk_under_a_whole_file_system_is_not_called_damaged(
    virtual_esp32: Start, runner: CliRunner, tmp_path: Path
) -> None:
    """flash said "the image is truncated (or --size too small)" (flash has no --size),
    and inspect of the unit called the partition damaged: "rewrite it with a fresh image
    ...; the files it held are lost". Both now say the table does not match the file
    system, whose files are likely whole; nothing is written."""
    board = "arduino-esp32-littlefs"
    unit = virtual_esp32("esp32")
    flash = _shrunk(board)
    unit.load(0, flash)
    args = ["flash", "--port", unit.url, "--board", board, "--preset", "letsencrypt"]
    r = runner.invoke(cli, [*args, "--journal-dir", str(tmp_path / "j")])
    assert r.exit_code == 2, r.output
    shrunk = "the partition is smaller than the file system in it: the partition table"
    assert shrunk in r.stdout and "--size" not in r.stdout, r.stdout
    assert unit.read(0, len(unit.flash)) == flash  # nothing written
    r = runner.invoke(cli, ["inspect", "--port", unit.url, "--no-apps", "--json"])
    assert r.exit_code == 0, r.output
    (report,) = json.loads(r.stdout)["reports"]
    (note,) = _child_doc(report, "spiffs")["notes"]
    assert shrunk in note and "damaged" not in note and "would lose the files" in note, note


def _child_doc(doc: dict[str, Any], name: str) -> dict[str, Any]:
    return next(c for c in doc["children"] if c["source"].endswith(f":{name}"))


def test_a_spiffs_partition_resized_under_its_file_system_is_not_called_damaged(
    virtual_esp32: Start, runner: CliRunner, tmp_path: Path
) -> None:
    """SPIFFS folds the block count into every block's magic: one block less in the
    table and no block carries the magic of the partition's size. flash and inspect
    called it damaged, to be rewritten with a fresh image (its files lost); block 0's
    magic tells the size it was made for, and both now say the table does not match."""
    board = "arduino-esp32-spiffs"
    unit = virtual_esp32("esp32")
    flash = _shrunk(board)
    unit.load(0, flash)
    args = ["flash", "--port", unit.url, "--board", board, "--preset", "letsencrypt"]
    r = runner.invoke(cli, [*args, "--journal-dir", str(tmp_path / "j")])
    assert r.exit_code == 2, r.output
    said = (
        "spiffs's blocks carry the esp-idf SPIFFS magic of a 0x160000-byte partition, but "
        "the table makes it 0x15f000 bytes: the partition table does not match"
    )
    assert said in r.stdout and "damaged" not in r.stdout, r.stdout
    assert unit.read(0, len(unit.flash)) == flash  # nothing written
    r = runner.invoke(cli, ["inspect", "--port", unit.url, "--no-apps", "--json"])
    assert r.exit_code == 0, r.output
    (report,) = json.loads(r.stdout)["reports"]
    (note,) = _child_doc(report, "spiffs")["notes"]
    assert said in note and "damaged" not in note, note
