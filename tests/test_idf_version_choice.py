"""Which ESP-IDF / Arduino-ESP32 versions pick a bundle layout, which are refused and
which are warned about: a bare major whose releases read both layouts (5, arduino-3)
gave v1 to a 5.4 firmware, and a patch release past the newest known (6.0.9) passed
in silence."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from esp_cabundle.boards import load_board
from esp_cabundle.cli import cli
from esp_cabundle.config import parse_config
from esp_cabundle.errors import ConfigError, InputError
from esp_cabundle.firmware import load_firmware
from esp_cabundle.formats import idf_versions
from esp_cabundle.formats.idf_versions import bundle_format_for, idf_version_warning
from esp_cabundle.spelling import CLI_SPELLING

_BUILD = ["build", "--preset", "default", "--no-lock", "-q", "-f", "idf-bundle", "-o", "b.bin"]


@pytest.mark.parametrize(
    ("version", "choices", "example"),
    [
        ("5", "5.3 or earlier: v1; 5.4 or later: v2", "--idf-version 5.4"),
        ("idf-5", "5.3 or earlier: v1; 5.4 or later: v2", "--idf-version 5.4"),
        ("v5", "5.3 or earlier: v1; 5.4 or later: v2", "--idf-version 5.4"),
        ("arduino-3", "3.1 or earlier: v1; 3.2 or later: v2", "--idf-version arduino-3.2.0"),
    ],
)
def test_a_bare_major_of_both_layouts_is_refused_and_nothing_written(
    in_tmp: Path, runner: CliRunner, version: str, choices: str, example: str
) -> None:
    with pytest.raises(InputError, match="does not say which bundle layout") as e:
        bundle_format_for(version, CLI_SPELLING)
    assert choices in (e.value.hint or "") and example in (e.value.hint or "")
    r = runner.invoke(cli, [*_BUILD, "--idf-version", version])
    assert r.exit_code == 2, r.output
    assert "does not say which bundle layout" in r.stderr and example in r.stderr
    assert list(in_tmp.iterdir()) == []


@pytest.mark.parametrize(("version", "fmt"), [("4", "v1"), ("6", "v2"), ("arduino-2", "v1")])
def test_a_bare_major_of_one_layout_is_taken(version: str, fmt: str) -> None:
    assert bundle_format_for(version) == fmt


def test_a_bare_major_in_cabundle_yaml_is_refused_at_its_line() -> None:
    text = "preset: default\noutputs:\n  - format: idf-bundle\n    idf_version: 5\n"
    with pytest.raises(ConfigError, match="does not say which bundle layout") as e:
        parse_config(text, path=Path("cabundle.yaml"))
    assert e.value.line == 4 and "idf_version: '5.4'" in (e.value.hint or "")


def test_a_bare_major_in_a_board_file_or_version_is_refused(tmp_path: Path) -> None:
    board = tmp_path / "b.yaml"
    board.write_text(
        "name: b\ndescription: x\nframework: x\nchips: [esp32]\nflash_size: 4M\n"
        "output:\n  form: idf-bundle\n  idf_version: arduino-3\n"
        "verify:\n  rules: idf-bundle\n  clock: none\n"
    )
    with pytest.raises(ConfigError, match="does not say which bundle layout") as e:
        load_board(board)
    assert e.value.line == 7 and "arduino-3.2.0" in (e.value.hint or "")
    # esp-idf-bundle@5 was ESP-IDF 5.0 (v1): its hint names the board line to write
    with pytest.raises(InputError, match="does not say which bundle layout") as e2:
        load_board("esp-idf-bundle@5")
    assert "esp-idf-bundle@5.4" in (e2.value.hint or "")
    assert load_board("esp-idf-bundle@5.4").output.options["idf_version"] == "5.4"


@pytest.mark.parametrize(
    ("version", "said"),
    [
        ("6.0.9", "the newest known 6.0.x is 6.0.2): the layout of 6.0 (v2) is used"),
        ("5.5.9", "the newest known 5.5.x is 5.5.5): the layout of 5.5 (v2) is used"),
        ("v5.3.6", "the newest known 5.3.x is 5.3.5): the layout of 5.3 (v1) is used"),
    ],
)
def test_a_patch_past_the_newest_known_is_warned_about(
    in_tmp: Path, runner: CliRunner, version: str, said: str
) -> None:
    assert f"is not a release known to this tool ({said}" in (idf_version_warning(version) or "")
    r = runner.invoke(cli, [*_BUILD, "--idf-version", version])
    assert r.exit_code == 0, r.output
    assert f"warning: ESP-IDF {version.removeprefix('v')} is not a release known" in r.stderr
    assert (in_tmp / "b.bin").is_file()


@pytest.mark.parametrize("version", ["6.0.2", "5.5.5", "4.4.8", "5.4", "4.3.7", "5.0.9"])
def test_a_known_patch_is_taken_silently(version: str) -> None:
    assert idf_version_warning(version) is None


def test_the_newest_patches_are_the_firmware_data_s() -> None:
    """The table the warning reads is the releases data/firmware/esp-idf.yaml covers."""
    newest: dict[tuple[int, int], int] = {}
    for release in load_firmware("esp-idf").releases:
        for _lo, hi in release.covers:
            newest[hi[:2]] = max(newest.get(hi[:2], 0), hi[2])
    assert newest == idf_versions._NEWEST_PATCH
