"""A whole-flash dump's length is a flash's (tryout report: a 4 MiB + 100-byte file was
inspected as fine, shown as "4096 KiB", updated into a 4,194,404-byte output and served
by a virtual unit; ``cat dump.bin dump.bin`` passed as an 8 MiB flash without a word).

update-dump and virtual-unit refuse a length no flash has, writing nothing; inspect
fails on it as on a dump cut short, showing its size to the byte; a file that looks
like two dumps appended gets a note."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from esp_cabundle.cli import cli
from esp_cabundle.flash.dump_size import appended_note, exact_size, size_problem
from esp_cabundle.inspect import inspect_bytes
from tests.support import dumps
from tests.support.flashing import NEW_CA

EXTRA = dumps.arduino_dump() + b"\x00" * 100  # 4 MiB + 100 bytes


def test_sizes_are_said_to_the_byte() -> None:
    assert exact_size(0x400000) == "0x400000 bytes (4096 KiB)"
    assert exact_size(0x400064) == "0x400064 bytes (4096 KiB + 100 bytes)"
    assert exact_size(0x9001) == "0x9001 bytes (36 KiB + 1 byte)"
    assert size_problem(0x400000) is None and size_problem(1 << 27) is None
    assert size_problem(0x400064) is not None
    assert "100 bytes more than a 4096 KiB flash" in (size_problem(0x400064) or "")
    assert "4,096 bytes less than a 4096 KiB flash" in (size_problem(0x3FF000) or "")


def test_inspect_fails_a_dump_with_bytes_added(tmp_path: Path, runner: CliRunner) -> None:
    p = tmp_path / "d.bin"
    p.write_bytes(EXTRA)
    r = runner.invoke(cli, ["inspect", str(p)])
    assert r.exit_code == 1, r.output
    assert "0x400064 bytes (4096 KiB + 100 bytes)" in r.output
    assert "100 bytes more than a 4096 KiB flash" in r.output
    j = runner.invoke(cli, ["inspect", str(p), "--json"])
    doc = json.loads(j.stdout)
    assert j.exit_code == 1 and doc["ok"] is False, j.output
    assert "100 bytes more than a 4096 KiB flash" in doc["error"]
    (report,) = doc["reports"]
    assert report["problems"] and report["facts"]["flash_size"] == 0x400064
    assert sorted(x.name for x in tmp_path.iterdir()) == ["d.bin"]


def test_a_dump_cut_after_its_last_partition_is_failed_and_refused(
    in_tmp: Path, runner: CliRunner
) -> None:
    """Every partition inside (Mongoose OS's table ends at 0x390000), but the file ends
    before the flash does: not a whole read either."""
    (in_tmp / "m.bin").write_bytes(dumps.mongoose_dump()[:0x3F0000])
    r = runner.invoke(cli, ["inspect", "m.bin"])
    assert r.exit_code == 1, r.output
    assert "65,536 bytes less than a 4096 KiB flash" in r.output
    assert "0x3f0000 bytes (4032 KiB)" in r.output
    (in_tmp / "ca.pem").write_bytes(NEW_CA)
    args = ["update-dump", "m.bin", "--board", "mongoose-os-esp32", "--bundle", "ca.pem"]
    u = runner.invoke(cli, [*args, "-o", "o.bin"])
    assert u.exit_code == 2 and "65,536 bytes less than a 4096 KiB flash" in u.output
    assert sorted(x.name for x in in_tmp.iterdir()) == ["ca.pem", "m.bin"]


def test_two_identical_dumps_appended_get_a_note(tmp_path: Path, runner: CliRunner) -> None:
    p = tmp_path / "double.bin"
    p.write_bytes(dumps.arduino_dump() * 2)
    r = runner.invoke(cli, ["inspect", str(p), "--json"])
    assert r.exit_code == 0, r.output
    (report,) = json.loads(r.stdout)["reports"]
    assert report["facts"]["flash_size"] == 0x800000
    notes = [n for n in report["notes"] if "two dumps appended" in n]
    assert notes == [
        "its two halves are identical, 0x400000 bytes (4096 KiB) each: it looks like two "
        "dumps appended; the first 0x400000 bytes are one whole dump"
    ]
    text = runner.invoke(cli, ["inspect", str(p)])
    assert "it looks like two dumps appended" in text.output


def test_a_second_dump_of_another_state_appended_gets_a_note() -> None:
    """Two reads of one unit, before and after an update: the table starts again."""
    first = dumps.arduino_dump()
    second = dumps.with_random(first, 0x290000, 0x1000)
    note = appended_note(first + second, 0x8000)
    assert note is not None
    assert note.startswith("the same partition table starts again at 0x408000 (0x400000 bytes in)")
    report = inspect_bytes(first + second, source="two.bin")
    assert any("two dumps appended" in n for n in report.notes)
    assert appended_note(first, 0x8000) is None


def test_update_dump_refuses_a_length_no_flash_has(tmp_path: Path, runner: CliRunner) -> None:
    (tmp_path / "d.bin").write_bytes(EXTRA)
    (tmp_path / "ca.pem").write_bytes(NEW_CA)
    out = tmp_path / "o.bin"
    args = ["update-dump", str(tmp_path / "d.bin"), "--board", "mdash-arduino"]
    args += ["--bundle", str(tmp_path / "ca.pem"), "-o", str(out)]
    r = runner.invoke(cli, args)
    assert r.exit_code == 2, r.output
    assert "0x400064 bytes (4096 KiB + 100 bytes) is 100 bytes more than a 4096 KiB flash" in (
        r.output
    )
    assert "nothing written" in r.output and "read the whole flash again" in r.output
    assert "CA: " not in r.output
    assert sorted(x.name for x in tmp_path.iterdir()) == ["ca.pem", "d.bin"]
    out.write_bytes(b"kept")  # an output already there stays as it was
    assert runner.invoke(cli, args).exit_code == 2 and out.read_bytes() == b"kept"


@pytest.mark.timeout(60)
def test_virtual_unit_refuses_a_length_no_flash_has(in_tmp: Path, runner: CliRunner) -> None:
    (in_tmp / "d.bin").write_bytes(EXTRA)
    r = runner.invoke(cli, ["virtual-unit", "--dump", "d.bin"])
    assert r.exit_code == 2, r.output
    assert "d.bin: 0x400064 bytes (4096 KiB + 100 bytes) is 100 bytes more" in r.stderr
    assert "no unit started" in r.stderr, r.stderr
    assert "socket://" not in r.stdout
    assert sorted(x.name for x in in_tmp.iterdir()) == ["d.bin"]
    assert (in_tmp / "d.bin").read_bytes() == EXTRA


def _two(kind: str) -> bytes:
    first = dumps.arduino_dump()
    return first * 2 if kind == "same" else first + dumps.with_random(first, 0x290000, 0x1000)


@pytest.mark.parametrize(
    ("kind", "said"),
    [
        ("same", "its two halves are identical, 0x400000 bytes (4096 KiB) each"),
        ("other", "the same partition table starts again at 0x408000 (0x400000 bytes in)"),
    ],
)
def test_update_dump_refuses_two_dumps_appended(
    tmp_path: Path, runner: CliRunner, kind: str, said: str
) -> None:
    """``cat old.bin old.bin > two.bin`` is 8 MiB, a flash's size: inspect noted it, but
    update-dump wrote an 8 MiB output without a word."""
    (tmp_path / "two.bin").write_bytes(_two(kind))
    (tmp_path / "ca.pem").write_bytes(NEW_CA)
    out = tmp_path / "o.bin"
    args = ["update-dump", str(tmp_path / "two.bin"), "--board", "mdash-arduino"]
    args += ["--bundle", str(tmp_path / "ca.pem"), "-o", str(out)]
    r = runner.invoke(cli, args)
    assert r.exit_code == 2, r.output
    assert f"two.bin: 0x800000 bytes (8192 KiB): {said}: it looks like two dumps appended" in (
        " ".join(r.output.split())
    )
    assert "nothing written" in r.output and "read the whole flash once again" in r.output
    assert sorted(x.name for x in tmp_path.iterdir()) == ["ca.pem", "two.bin"]
    assert (tmp_path / "two.bin").read_bytes() == _two(kind)


@pytest.mark.timeout(60)
def test_virtual_unit_refuses_two_dumps_appended(in_tmp: Path, runner: CliRunner) -> None:
    (in_tmp / "two.bin").write_bytes(_two("same"))
    r = runner.invoke(cli, ["virtual-unit", "--dump", "two.bin"])
    assert r.exit_code == 2, r.output
    said = " ".join(r.stderr.split())
    assert "two.bin: 0x800000 bytes (8192 KiB): its two halves are identical" in said, said
    assert "looks like two dumps appended" in said and "no unit started" in said
    assert "read the whole flash once again" in said
    assert "socket://" not in r.stdout
    assert sorted(x.name for x in in_tmp.iterdir()) == ["two.bin"]


def test_a_whole_8mib_flash_is_not_taken_for_two_dumps(tmp_path: Path, runner: CliRunner) -> None:
    """A real 8 MiB read has its table once, the rest erased or other data (here a 4 MiB
    dump grown with erased flash, and one whose second half holds the first's bytes from
    0x10000 on, no table): updated as before."""
    first = dumps.arduino_dump()
    grown = first + b"\xff" * len(first)
    shifted = first + first[0x10000:] + b"\xff" * 0x10000
    assert appended_note(grown, 0x8000) is None and appended_note(shifted, 0x8000) is None
    (tmp_path / "big.bin").write_bytes(grown)
    (tmp_path / "ca.pem").write_bytes(NEW_CA)
    args = ["update-dump", str(tmp_path / "big.bin"), "--board", "mdash-arduino"]
    args += ["--bundle", str(tmp_path / "ca.pem"), "-o", str(tmp_path / "o.bin")]
    r = runner.invoke(cli, args)
    assert r.exit_code == 0, r.output
    assert (tmp_path / "o.bin").stat().st_size == 0x800000
