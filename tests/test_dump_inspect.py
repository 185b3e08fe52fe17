"""inspect of whole-flash dumps: table, file systems judged by content, embedded certs."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from esp_cabundle.cli import cli
from esp_cabundle.errors import PartitionTableError
from esp_cabundle.flash.offline import find_embedded_certificates, inspect_dump
from esp_cabundle.fs.inspect import inspect_image
from esp_cabundle.inspect import INSPECTORS, Report, inspect_bytes
from esp_cabundle.partitions import PartitionTable
from tests.support import dumps


def child(report: Report, name: str) -> Report:
    for c in report.children:
        if c.source.endswith(f":{name}"):
            return c
    raise AssertionError(f"no child for {name}: {[c.source for c in report.children]}")


def labels(report: Report) -> list[str]:
    return [f.label for f in report.all_findings()]


def test_dump_inspector_comes_before_image_inspectors() -> None:
    assert INSPECTORS[0] is inspect_dump
    assert INSPECTORS.index(inspect_image) > 0


def test_arduino_dump() -> None:
    report = inspect_bytes(dumps.arduino_dump(), source="dump.bin")
    assert report.kind == "flash dump"
    facts = dict(report.facts)
    assert facts["partition table"] == "at 0x8000, 6 partitions"
    assert facts["chip (bootloader header)"] == "esp32"
    assert facts["partition spiffs"].startswith("data/spiffs at 0x290000, 0x160000")
    fs = child(report, "spiffs")
    assert fs.kind == "spiffs image in partition 'spiffs'"
    fs_facts = dict(fs.facts)
    assert fs_facts["profile"] == "esp-idf"
    assert "file /mdash.cfg" in fs_facts and "file /ca.pem" in fs_facts
    ca = next(c for c in fs.children if c.source.endswith(":/ca.pem"))
    assert [f.label for f in ca.findings] == ["ISRG Root X1", "ISRG Root X2", "DST Root CA X3"]
    app = child(report, "app0")
    assert [(f.location, f.label) for f in app.findings] == [
        ("+0x6000 (0x16000) PEM", "ISRG Root X1"),
        ("+0x8000 (0x18000) DER", "ISRG Root X2"),
    ]
    # erased app1 is reported as such; NVS without certificates is not a child
    assert child(report, "app1").notes == ("erased",)
    assert not any(c.source.endswith(":nvs") for c in report.children)


def test_mongoose_dump_flags_prove_nothing() -> None:
    report = inspect_bytes(dumps.mongoose_dump(), source="mos.bin")
    for name in ("fs_0", "fs_1"):
        fs = child(report, name)
        assert fs.kind == f"littlefs image in partition '{name}'"
        assert dict(fs.facts)["disk version"] == "2.0"
        assert any("flash encryption is off" in n for n in fs.notes)
        assert "file /conf9.json" in dict(fs.facts)
    assert labels(report).count("DST Root CA X3") == 2


def test_encrypted_looking_partition_is_not_misread() -> None:
    flash = dumps.with_random(dumps.mongoose_dump(), 0x190000, 0x40000)
    flash = dumps.with_random(flash, 0x1D0000, 0x10000, seed=3)
    report = inspect_bytes(flash, source="enc.bin")
    fs0 = child(report, "fs_0")
    assert fs0.kind == "unreadable partition" and not fs0.findings
    # fs_1, flagged too, holds a plain file system: encryption is off, so fs_0 is damaged
    assert "fs_0 is damaged (not a SPIFFS/LittleFS image; flash encryption is off)" in fs0.notes[0]
    app1 = child(report, "app_1")
    assert not any("encrypted" in n for n in app1.notes)
    # fs_1 is still read: judged by content, partition by partition
    assert child(report, "fs_1").kind.startswith("littlefs image")


def test_unflagged_garbage_is_not_called_encrypted() -> None:
    flash = dumps.with_random(dumps.arduino_dump(), 0x290000, 0x160000)
    part = child(inspect_bytes(flash, source="d"), "spiffs")
    assert part.kind == "unreadable partition"
    assert "encrypted" not in part.notes[0]


def test_erased_fs_partition() -> None:
    report = inspect_bytes(dumps.mongoose_dump(fs_1=False), source="d")
    assert child(report, "fs_1").kind == "empty partition"


def test_table_found_at_another_offset() -> None:
    t = PartitionTable.from_csv(
        "nvs, data, nvs, , 16K\nfactory, app, factory, , 64K\nstorage, data, spiffs, , 0x10000\n",
        offset=0xA000,
    )
    flash = bytearray(b"\xff" * 0x100000)
    flash[0xA000 : 0xA000 + 0xC00] = t.to_binary()
    storage = t.by_name("storage")
    assert storage is not None
    image = (dumps.DATA / "spiffs" / "idf-64k.bin").read_bytes()
    flash[storage.offset : storage.offset + len(image)] = image
    report = inspect_bytes(bytes(flash), source="d")
    assert dict(report.facts)["partition table"] == "at 0xa000, 3 partitions"
    assert "ISRG Root X1" in labels(report)


def test_broken_table_at_0x8000_is_an_error_not_a_fallthrough() -> None:
    flash = bytearray(dumps.arduino_dump())
    flash[0x8000 + 0x28] ^= 0xFF
    with pytest.raises(PartitionTableError, match="MD5 mismatch"):
        inspect_bytes(bytes(flash), source="d")


def test_a_broken_table_names_the_dump(in_tmp: Path) -> None:
    """inspect said "Error: no valid partition table ..." naming no file, where fs and
    update-dump name the dump (and inspect takes many)."""
    flash = bytearray(dumps.arduino_dump())
    flash[0x8000 + 0x28] ^= 0xFF
    (in_tmp / "dump.bin").write_bytes(flash)
    r = CliRunner().invoke(cli, ["inspect", "dump.bin"])
    assert r.exit_code == 2 and r.stderr.startswith("Error: dump.bin: "), r.output
    assert "MD5 mismatch" in r.stderr
    r = CliRunner().invoke(cli, ["inspect", "dump.bin", "--json"])
    doc = json.loads(r.stdout)
    assert doc["kind"] == "PartitionTableError" and doc["error"].startswith("dump.bin: ")
    assert sorted(p.name for p in in_tmp.iterdir()) == ["dump.bin"]


def test_partition_beyond_a_short_dump_is_noted() -> None:
    report = inspect_bytes(dumps.arduino_dump()[:0x300000], source="d")
    assert any("'coredump' ends at 0x400000, beyond" in n for n in report.notes)


def test_non_dumps_are_not_claimed() -> None:
    spiffs = (dumps.DATA / "spiffs" / "idf-arduino-1408k.bin").read_bytes()
    assert inspect_dump(spiffs, "img") is None
    assert inspect_dump(dumps.pem("isrgrootx1.pem"), "x.pem") is None
    assert inspect_dump(b"\xff" * 0x20000, "blank") is None
    stray = bytearray(0x20000)
    stray[0x8000:0x8002] = b"\xaa\x50"  # two bytes that happen to read like the magic
    assert inspect_dump(bytes(stray), "stray") is None
    assert inspect_bytes(spiffs, source="img").kind == "spiffs image"


def test_embedded_certificates_in_c_source_text() -> None:
    c_text = (dumps.DATA / "mdash" / "mDash-1.2.16-s_pem.c").read_bytes()
    blob = b"\x00" * 100 + c_text + b"\x00" * 50
    found = find_embedded_certificates(blob)
    assert [(e.offset, e.encoding, e.certificate.label) for e in found] == [
        (100 + c_text.index(b"-----BEGIN"), "PEM", "ISRG Root X1")
    ]


def test_embedded_certificates_skip_truncated_der() -> None:
    der = dumps.der("isrg-root-x2.pem")
    blob = b"\x30\x82\x01" + der[:200] + b"\xff" * 600 + der
    found = find_embedded_certificates(blob)
    assert [(e.encoding, e.certificate.label) for e in found] == [("DER", "ISRG Root X2")]
    assert found[0].offset == len(blob) - len(der)


@settings(max_examples=60, deadline=None)
@given(st.binary(min_size=0, max_size=4000))
def test_scanner_never_crashes(noise: bytes) -> None:
    found = find_embedded_certificates(noise + dumps.der("isrg-root-x2.pem") + noise)
    assert any(e.certificate.label == "ISRG Root X2" for e in found)


def test_cli_inspect_dump_json(tmp_path: Path, runner: CliRunner) -> None:
    p = tmp_path / "dump.bin"
    p.write_bytes(dumps.arduino_dump())
    r = runner.invoke(cli, ["inspect", str(p), "--json"])
    assert r.exit_code == 0, r.output
    doc = json.loads(r.output)["reports"][0]
    assert doc["kind"] == "flash dump"
    spiffs = next(c for c in doc["children"] if c["source"].endswith(":spiffs"))
    ca = next(c for c in spiffs["children"] if c["source"].endswith("/ca.pem"))
    assert [c["label"] for c in ca["certificates"]][-1] == "DST Root CA X3"
    r = runner.invoke(cli, ["inspect", str(p), "--fail-on", "expired"])
    assert r.exit_code == 1 and "DST Root CA X3" in r.output


def _reports(r: Report) -> list[Report]:
    return [r, *(d for c in r.children for d in _reports(c))]


@pytest.mark.parametrize("make", [dumps.arduino_dump, dumps.mongoose_dump])
def test_every_fact_is_said_once(
    tmp_path: Path, runner: CliRunner, make: Callable[[], bytes]
) -> None:
    """SPIFFS counts its files among its own facts; the report does not count them again."""
    report = inspect_bytes(make(), source="dump.bin")
    for r in _reports(report):
        keys = [k for k, _ in r.facts]
        assert len(keys) == len(set(keys)), (r.source, keys)
    p = tmp_path / "dump.bin"
    p.write_bytes(make())
    r = runner.invoke(cli, ["inspect", str(p), "--at", "2026-01-01"])
    assert r.exit_code == 0, r.output
    fs = child(report, "spiffs" if make is dumps.arduino_dump else "fs_0")
    block = r.stdout.split(f"{fs.source}: ", 1)[1].split(f"{fs.source}:/", 1)[0]
    files = sum(1 for k, _ in fs.facts if k.startswith("file /"))
    assert files and block.count("    files: ") == 1, block
    assert f"    files: {files}\n" in block


def test_gate_names_the_file_in_the_dump(tmp_path: Path, runner: CliRunner) -> None:
    """fs_0 and fs_1 hold the same CA file: each failure names its partition and file,
    not twice the same 'dump.bin #3' (new user's report)."""
    p = tmp_path / "dump.bin"
    p.write_bytes(dumps.mongoose_dump())
    r = runner.invoke(cli, ["inspect", str(p), "--fail-on", "expired", "--json"])
    assert r.exit_code == 1
    violations = json.loads(r.stdout)["violations"]
    assert [v.split(" #")[0] for v in violations] == [f"{p}:fs_0:/ca.pem", f"{p}:fs_1:/ca.pem"]


def test_fail_within_calls_an_expired_root_expired(tmp_path: Path, runner: CliRunner) -> None:
    p = tmp_path / "dump.bin"
    p.write_bytes(dumps.arduino_dump())
    r = runner.invoke(cli, ["inspect", str(p), "--fail-within", "365", "--at", "2026-12-01"])
    assert r.exit_code == 1
    assert "DST Root CA X3: expired 2021-09-30" in r.stderr
    assert "within 365 days" not in r.stderr
