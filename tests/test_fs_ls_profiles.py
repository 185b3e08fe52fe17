"""``fs ls`` of a LittleFS image whose bytes fit several profiles names them all on the
profile line (it said ``profile: esp-idf`` and, a line below, that this was a guess),
while the JSON's ``profile`` stays the one assumed and ``profiles`` lists them all; an
image ``pack`` wrote for Arduino is listed with the profile pack named."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from esp_cabundle.cli import cli

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


def test_a_profile_the_bytes_tell_is_named_alone(runner: CliRunner, tmp_path: Path) -> None:
    out = tmp_path / "e.bin"
    _pack(runner, out, "--profile", "esp-idf")
    r = runner.invoke(cli, ["fs", "ls", str(out)])
    assert "  profile: esp-idf\n" in r.output, r.output
    doc = json.loads(runner.invoke(cli, ["fs", "ls", str(out), "--json"]).output)
    assert doc["profile"] == "esp-idf" and doc["profiles"] == ["esp-idf"]
