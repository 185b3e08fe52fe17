"""``fs ls`` of a LittleFS image whose bytes fit several profiles names them all on the
profile line (it said ``profile: esp-idf`` and, a line below, that this was a guess),
while the JSON's ``profile`` stays the one assumed and ``profiles`` lists them all; an
image ``pack`` wrote for Arduino is listed with the profile pack named."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

from click.testing import CliRunner

from esp_cabundle.cli import cli
from esp_cabundle.fs.lfs_platforms import DISK_VERSION_2_1
from esp_cabundle.fs.littlefs import LITTLEFS_PROFILES, LittleFsImage, build_littlefs_image

X1 = Path(__file__).parent / "data" / "letsencrypt" / "isrgrootx1.pem"


def _pack(runner: CliRunner, out: Path, *options: str) -> str:
    line = ["pack", "--fs", "littlefs", "--size", "64K", "--bundle", str(X1), "-o", str(out)]
    r = runner.invoke(cli, [*line, *options])
    assert r.exit_code == 0, r.output
    return r.output


def test_an_ambiguous_profile_is_named_on_its_line(runner: CliRunner, tmp_path: Path) -> None:
    out = tmp_path / "a.bin"
    packed = _pack(runner, out, "--platform", "arduino-2.0.17")
    assert "profile arduino, disk 2.1" in packed
    r = runner.invoke(cli, ["fs", "ls", str(out)])
    assert r.exit_code == 0, r.output
    line = next(x for x in r.output.splitlines() if x.strip().startswith("profile:"))
    assert line == "  profile: esp-idf, arduino or platformio (the bytes do not tell)"
    doc = json.loads(runner.invoke(cli, ["fs", "ls", str(out), "--json"]).output)
    assert doc["profile"] == "esp-idf" and doc["facts"]["profile"] == "esp-idf"
    assert doc["profiles"] == ["esp-idf", "arduino", "platformio"]


def test_an_esp_littlefs_build_is_esp_idf_then_arduino(runner: CliRunner, tmp_path: Path) -> None:
    """name_max 64 was read as esp-idf alone: it is esp_littlefs' image build
    (--name-max=CONFIG_LITTLEFS_OBJ_NAME_LEN), which Arduino-ESP32 built as an ESP-IDF
    component uses too, and whose units (esp_littlefs) mount it."""
    out = tmp_path / "e.bin"
    _pack(runner, out, "--profile", "esp-idf")
    r = runner.invoke(cli, ["fs", "ls", str(out)])
    assert "  profile: esp-idf or arduino (the bytes do not tell)\n" in r.output, r.output
    doc = json.loads(runner.invoke(cli, ["fs", "ls", str(out), "--json"]).output)
    assert doc["profile"] == "esp-idf" and doc["profiles"] == ["esp-idf", "arduino"]


def test_a_2_1_image_of_another_name_limit_is_no_mklittlefs_build() -> None:
    """A 2.1 image whose name_max is neither 64 nor 255 was called "a mklittlefs build
    (arduino or platformio)": mklittlefs writes 2.1 only from 4.0.0, with name_max 255
    (32 before, on 2.0); another limit is esp_littlefs' build with its Kconfig changed."""
    profile = replace(LITTLEFS_PROFILES["esp-idf"], name_max=32)
    data = build_littlefs_image([], size=64 << 10, profile=profile, disk_version=DISK_VERSION_2_1)
    img = LittleFsImage.open(data)
    assert img.name_max == 32
    assert [p.name for p in img.candidates] == ["esp-idf", "arduino"]
    assert "mklittlefs" not in img.detection


def test_an_image_many_profiles_write_is_not_said_detected_as_one() -> None:
    """A PlatformIO image (2.0, the whole image's block count) listed "profile:
    mongoose-os, esp-idf, arduino or platformio (the bytes do not tell)" above
    "detection: profile mongoose-os detected": the line now says what the bytes show and
    which profile it is read as."""
    data = build_littlefs_image([], size=64 << 10, profile=LITTLEFS_PROFILES["platformio"])
    img = LittleFsImage.open(data)
    assert len(img.candidates) > 1
    assert "detected" not in img.detection
    assert img.detection.endswith(f"; read as profile {img.profile.name}"), img.detection
    alone = LittleFsImage.open(data, "platformio")
    assert alone.detection == "profile platformio (given)"
