"""``inspect`` on file-system images: every file listed, certificates of every CA file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from esp_cabundle.certs import load_certificates
from esp_cabundle.cli import cli
from esp_cabundle.fs.edit import pack_image
from esp_cabundle.fs.inspect import inspect_image

DATA = Path(__file__).parent / "data"
VECTOR = DATA / "littlefs" / "mongoose-lfs20-256k.bin"
SRC = DATA / "littlefs" / "src"
LE = DATA / "letsencrypt"


def test_littlefs_vector_report() -> None:
    report = inspect_image(VECTOR.read_bytes(), "fs.bin")
    assert report is not None
    assert report.kind == "littlefs image"
    facts = dict(report.facts)
    assert facts["files"] == 5
    for name in ("big.dat", "ca.pem", "conf0.json", "conf9.json", "log.txt"):
        assert f"file /{name}" in facts
    assert facts["file /log.txt"] == 60
    assert [c.source for c in report.children] == ["fs.bin:/ca.pem"]
    expected = load_certificates((SRC / "ca.pem").read_bytes())
    assert [f.sha256 for f in report.children[0].findings] == [c.sha256 for c in expected]


def test_certificates_found_by_content_and_name(tmp_path: Path) -> None:
    der = load_certificates((LE / "isrg-root-x2.pem").read_bytes())[0].der
    raw = pack_image(
        "spiffs",
        "esp-idf",
        64 * 1024,
        [
            ("/ca.pem", (LE / "isrgrootx1.pem").read_bytes()),
            ("/root.bin", der),  # no telling name: found by its bytes
            ("/broken.crt", b"not a certificate"),
            ("/device.key.pem", _key_pem()),
            ("/notes.txt", b"hello"),
        ],
    ).data
    report = inspect_image(raw, "s.bin")
    assert report is not None and report.kind == "spiffs image"
    assert sorted(c.source for c in report.children) == ["s.bin:/ca.pem", "s.bin:/root.bin"]
    notes = " ".join(report.notes)
    assert "/broken.crt: no certificate" in notes
    assert "/device.key.pem holds a private key" in notes
    assert "notes.txt" not in notes


def _key_pem() -> bytes:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    return ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def test_not_claimed() -> None:
    assert inspect_image((LE / "isrgrootx1.pem").read_bytes(), "x.pem") is None
    assert inspect_image(b"\xff" * 65536, "blank.bin") is None
    # a flash dump: bootloader at 0x1000, partition table at 0x8000, SPIFFS further on
    spiffs = (DATA / "spiffs" / "idf-64k.bin").read_bytes()
    dump = bytearray(b"\xff" * 0x10000 + spiffs)
    dump[0x1000] = 0xE9
    dump[0x8000:0x8002] = b"\xaa\x50"
    assert inspect_image(bytes(dump), "dump.bin") is None


def test_inspect_command(runner: CliRunner) -> None:
    r = runner.invoke(cli, ["inspect", str(VECTOR), "--at", "2026-01-01"])
    assert r.exit_code == 0, r.output
    assert "littlefs image" in r.output and "file /log.txt: 60 bytes" in r.output
    assert ":/ca.pem: pem" in r.output
    r = runner.invoke(cli, ["inspect", str(VECTOR), "--json", "--at", "2026-01-01"])
    doc = json.loads(r.stdout)["reports"]
    assert doc[0]["kind"] == "littlefs image"
    assert doc[0]["facts"]["disk version"] == "2.0"
    assert len(doc[0]["children"]) == 1 and doc[0]["children"][0]["certificates"]


def test_inspect_corrupt_image_is_a_clear_error(runner: CliRunner, tmp_path: Path) -> None:
    raw = bytearray(VECTOR.read_bytes())
    for block in (0, 1):
        raw[block * 4096 + 30] ^= 1
    bad = tmp_path / "bad.bin"
    bad.write_bytes(bytes(raw))
    r = runner.invoke(cli, ["inspect", str(bad)])
    assert r.exit_code == 2
    assert "superblock" in r.output and "Traceback" not in r.output


def test_a_broken_image_among_inputs_is_named(runner: CliRunner, in_tmp: Path) -> None:
    """The file-system layer knows no file name: inspect, given several inputs, names the
    one that is broken (a LittleFS image cut short), in text and in JSON."""
    (in_tmp / "ca.pem").write_bytes((LE / "isrg-root-x2.pem").read_bytes())
    (in_tmp / "cut.bin").write_bytes(VECTOR.read_bytes()[: 64 * 1024])
    r = runner.invoke(cli, ["inspect", "ca.pem", "cut.bin"])
    assert r.exit_code == 2, r.output
    assert "Error: cut.bin: LittleFS superblock" in r.stderr, r.stderr
    r = runner.invoke(cli, ["inspect", "ca.pem", "cut.bin", "--json"])
    doc = json.loads(r.stdout)
    assert doc["kind"] == "ImageError" and doc["error"].startswith("cut.bin: "), doc


@pytest.mark.parametrize("fs", ["spiffs", "littlefs"])
def test_gate_fails_on_an_image_with_no_ca_file(runner: CliRunner, tmp_path: Path, fs: str) -> None:
    """A gate that judged nothing does not pass: an image whose CA file was removed
    fails --fail-on/--fail-within (exit 1, with how to put one back); without a gate it
    stays a note."""
    image = tmp_path / "s2.bin"
    made = runner.invoke(
        cli,
        ["pack", "--fs", fs, "--profile", "esp-idf", "--size", "64K", "--bundle",
         str(LE / "isrgrootx1.pem"), "-o", str(image)],
    )  # fmt: skip
    assert made.exit_code == 0, made.output
    assert runner.invoke(cli, ["fs", "rm", str(image), "/ca.pem"]).exit_code == 0
    gate = ["--fail-on", "expired", "--fail-within", "365", "--at", "2026-01-01"]
    r = runner.invoke(cli, ["inspect", str(image), *gate])
    assert r.exit_code == 1, r.output
    assert "no certificates: the gate cannot be run" in r.stderr
    assert f"hint: put a CA file in the image (esp-cabundle fs put {image} ca.pem" in r.stderr
    doc = json.loads(runner.invoke(cli, ["inspect", str(image), "--json", *gate]).stdout)
    assert doc["ok"] is False and doc["exit_code"] == 1 and "fs put" in doc["hint"]
    assert doc["reports"][0]["kind"] == f"{fs} image"
    for only in (["--fail-on", "not-ca"], ["--fail-within", "30"]):
        assert runner.invoke(cli, ["inspect", str(image), *only]).exit_code == 1
    plain = runner.invoke(cli, ["inspect", str(image), "--at", "2026-01-01"])
    assert plain.exit_code == 0 and "note: no file in the image holds certificates" in plain.output


def _cut_short_spiffs(tmp_path: Path, length: int) -> tuple[Path, str]:
    """The first ``length`` bytes of a 1408K esp-idf SPIFFS holding a CA, and the hint
    fs ls gives for it."""
    whole = pack_image(
        "spiffs", "esp-idf", 1408 * 1024, [("/ca.pem", (LE / "isrgrootx1.pem").read_bytes())]
    ).data
    cut = tmp_path / "cut.bin"
    cut.write_bytes(whole[:length])
    return cut, "pass exactly 1,441,792 bytes (the whole partition)"


@pytest.mark.parametrize("length", [262144, 100000])
def test_inspect_of_a_spiffs_cut_short_says_what_fs_ls_says(tmp_path: Path, length: int) -> None:
    """``head -c 262144 spiffs-1408k.bin > cut.bin; inspect cut.bin`` said "binary data ...
    not a ... file-system image" while ``fs ls cut.bin`` named the 1,441,792-byte SPIFFS it
    was cut from: both say that now, from one detection, in the error itself; and a cut at
    no block boundary (100,000 bytes) is said the same, not "pass the whole partition"
    alone."""
    cut, hint = _cut_short_spiffs(tmp_path, length)
    runner = CliRunner()
    inspected = runner.invoke(cli, ["inspect", str(cut)])
    listed = runner.invoke(cli, ["fs", "ls", str(cut)])
    assert inspected.exit_code == listed.exit_code == 2, (inspected.output, listed.output)
    assert hint in inspected.output and hint in listed.output, (inspected.output, listed.output)
    assert "binary data" not in inspected.output, inspected.output
    error = listed.output.split("\n")[0]
    said = f"{length:,} bytes, where its first block carries the esp-idf magic of a 1,441,792"
    # the error itself says so; it began "neither LittleFS ... nor SPIFFS found", the
    # SPIFFS it is part of named only in the hint
    assert error.startswith(f"Error: {cut}: only part of a SPIFFS: {said}"), listed.output
    assert error in inspected.output, inspected.output
    hint_line = listed.output.split("\n")[1]  # not hedged "if ... cut short; otherwise"
    assert hint_line == f"  hint: {hint}", listed.output
    assert hint_line in inspected.output, inspected.output


def test_random_bytes_with_a_chance_spiffs_magic_in_block_0_are_not_called_spiffs(
    tmp_path: Path,
) -> None:
    """Block 0's magic alone named the SPIFFS size an image was cut from, and random bytes
    carry a plausible one 1 time in 16: the hint now also wants the other blocks present
    to carry that size's magic, so such bytes stay "binary data" (inspect) and get no
    "pass exactly that many bytes" (fs ls)."""
    import random

    from esp_cabundle.fs.spiffs import get_spiffs_profile
    from esp_cabundle.fs.spiffs_layout import U16, Geometry

    data = bytearray(random.Random(7).randbytes(64 * 4096))
    geo = Geometry.of(get_spiffs_profile("esp-idf"), 1408 * 1024)
    U16.pack_into(data, geo.magic_addr(0), geo.magic(0))
    rnd = tmp_path / "rnd.bin"
    rnd.write_bytes(bytes(data))
    runner = CliRunner()
    inspected = runner.invoke(cli, ["inspect", str(rnd)])
    listed = runner.invoke(cli, ["fs", "ls", str(rnd)])
    assert inspected.exit_code == listed.exit_code == 2, (inspected.output, listed.output)
    assert "binary data (262,144 bytes)" in inspected.output, inspected.output
    assert "neither LittleFS" in listed.output, listed.output
    assert "1,441,792-byte" not in listed.output + inspected.output, listed.output
