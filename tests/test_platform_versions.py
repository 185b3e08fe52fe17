"""Platform versions that were never released are refused, not read as a nearby one.

``arduino-2.017`` (meant 2.0.17) compared as 2.17 and ``arduino-2.05`` (meant 2.0.5, a
core that may run littlefs 2.5) as 2.5 >= 2.0.17: both got on-disk 2.1, which a 2.0.5
unit cannot mount and, with ``LittleFS.begin(true)``, formats away. Every spelling of
the platform (``--platform``, ``platform:`` in cabundle.yaml and board files, the
library's ``platform=``) is refused with the release meant, and nothing is written."""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest
from click.testing import CliRunner

from esp_cabundle.boards import boards_dir, load_board
from esp_cabundle.cli import cli
from esp_cabundle.errors import ConfigError, InputError
from esp_cabundle.fs.lfs_platforms import (
    DISK_VERSION_2_0,
    DISK_VERSION_2_1,
    PlatformVersionError,
    resolve_platform,
)
from esp_cabundle.fs.littlefs import LittleFsImage, build_littlefs_image

CA = (Path(__file__).parent / "data" / "letsencrypt" / "isrgrootx1.pem").read_bytes()

# (typed, the platform meant when the digits say it, words the message must have)
REFUSED = [
    ("arduino-2.017", "arduino-2.0.17", "X.Y.Z"),
    ("arduino-2.05", "arduino-2.0.5", "X.Y.Z"),
    ("arduino-2.0.017", "arduino-2.0.17", "X.Y.Z"),
    ("arduino-9.9", None, "X.Y.Z"),
    ("arduino-2", None, "X.Y.Z"),
    ("arduino-2.1.0", None, "no 2.1.x release line"),
    ("arduino-2.0.18", None, "2.0.x line ended at 2.0.17"),
    ("arduino-3.0.8", None, "3.0.x line ended at 3.0.7"),
    ("arduino-3.0.0-rc1", None, "X.Y.Z"),
    ("arduino-4.0.0", None, "newer than the release lines"),
    ("esp_littlefs-1.6", None, "1.Y.Z"),
    ("esp_littlefs-1.55", "esp_littlefs-1.5.5", "1.Y.Z"),
    ("esp_littlefs-2.0.0", None, "releases are 1.y.z"),
    ("platformio-6.80", "platformio-6.8.0", "X.Y.Z"),
    ("platformio-53.3.10", None, "end at 6.x"),
    ("mongoose-os-9.1", None, "1.x and 2.x"),
]


@pytest.mark.parametrize(("typed", "meant", "words"), REFUSED)
def test_unreleased_versions_are_refused(typed: str, meant: str | None, words: str) -> None:
    with pytest.raises(PlatformVersionError, match="unknown LittleFS platform") as err:
        resolve_platform(typed)
    assert err.value.meant == meant
    assert words in err.value.message
    # the library's hint names its own parameter, with the release meant or the family
    family = typed.split("-")[0] if not typed.startswith("mongoose") else "mongoose-os"
    assert f"platform={meant or family!r}" in (err.value.hint or "")


@pytest.mark.parametrize(
    ("typed", "disk"),
    [
        ("arduino-1.0.6", DISK_VERSION_2_0),
        ("arduino-2.0.5", DISK_VERSION_2_0),
        ("arduino-2.0.17", DISK_VERSION_2_1),
        ("arduino-3.2.1", DISK_VERSION_2_1),
        ("arduino-3.3.12", DISK_VERSION_2_1),
        ("arduino-3.3.13", DISK_VERSION_2_1),  # README: "3.3.13 on, 3.4.0 on" accepted
        ("arduino-3.4.0", DISK_VERSION_2_1),
        ("arduino-3.3.20", DISK_VERSION_2_1),  # a later 3.3.x: the 3.x line reads 2.1
        ("arduino-3.9.0", DISK_VERSION_2_1),  # a later 3.y, as README says
        ("esp_littlefs-1.5.5", DISK_VERSION_2_0),
        ("esp_littlefs-1.21.0", DISK_VERSION_2_1),
        ("platformio-6.13.0", DISK_VERSION_2_0),
        ("mongoose-os-2.20", DISK_VERSION_2_0),
        ("mongoose-os-2.20.0", DISK_VERSION_2_0),
    ],
)
def test_releases_are_accepted(typed: str, disk: int) -> None:
    assert resolve_platform(typed).writes == disk


def test_library_refuses_before_making_anything() -> None:
    with pytest.raises(PlatformVersionError, match=r"2\.05") as err:
        build_littlefs_image([("/ca.pem", CA)], size=64 * 1024, platform="arduino-2.05")
    assert "did you mean arduino-2.0.5? platform='arduino-2.0.5'" in (err.value.hint or "")


@pytest.mark.parametrize("typed", ["arduino-2.05", "arduino-9.9"])
def test_cli_and_library_give_the_same_advice(
    runner: CliRunner, tmp_path: Path, typed: str
) -> None:
    """The words before the command line come from the library's refusal alone."""
    with pytest.raises(PlatformVersionError) as err:
        resolve_platform(typed)
    advice = err.value.advice
    assert (err.value.hint or "").startswith(advice)
    _, text = _pack(runner, tmp_path, typed, tmp_path / "p.bin")
    assert " ".join(advice.split()) in " ".join(text.split())


def _pack(runner: CliRunner, tmp_path: Path, platform: str, out: Path) -> tuple[int, str]:
    ca = tmp_path / "ca.pem"
    ca.write_bytes(CA)
    args = ["pack", "--fs", "littlefs", "--platform", platform, "--size", "64K"]
    r = runner.invoke(cli, [*args, "--bundle", str(ca), "-o", str(out)])
    return r.exit_code, r.output


@pytest.mark.parametrize(
    ("typed", "fixed", "disk"),
    [
        ("arduino-2.05", "arduino-2.0.5", DISK_VERSION_2_0),
        ("arduino-2.017", "arduino-2.0.17", DISK_VERSION_2_1),
        ("arduino-9.9", "arduino", DISK_VERSION_2_0),
        ("esp_littlefs-1.6", "esp_littlefs", DISK_VERSION_2_0),
    ],
)
def test_cli_refuses_writes_nothing_and_its_hint_runs(
    runner: CliRunner, tmp_path: Path, typed: str, fixed: str, disk: int
) -> None:
    out = tmp_path / "p.bin"
    code, text = _pack(runner, tmp_path, typed, out)
    assert code == 2, text
    assert "unknown LittleFS platform" in text and f"--platform {fixed} " in text
    assert not out.exists()
    line = text.split("e.g. esp-cabundle ", 1)[1].strip()
    r = runner.invoke(cli, shlex.split(line))  # the hint, copied
    assert r.exit_code == 0, r.output
    assert LittleFsImage.open(out.read_bytes()).disk_version == disk


def test_cabundle_yaml_platform_is_refused(runner: CliRunner, in_tmp: Path) -> None:
    (in_tmp / "cabundle.yaml").write_text(
        "preset: letsencrypt\noutputs:\n"
        "  - {format: pem, path: ca.pem}\n"
        "  - {format: littlefs, path: lfs.bin, platform: arduino-2.017, size: 256K}\n"
    )
    r = runner.invoke(cli, ["build", "--at", "2026-12-01", "--no-lock"])
    assert r.exit_code == 2, r.output
    assert "unknown LittleFS platform 'arduino-2.017'" in r.output
    assert "platform: arduino-2.0.17" in r.output  # the config's own key
    assert sorted(p.name for p in in_tmp.iterdir()) == ["cabundle.yaml"]


def test_board_file_platform_is_refused(tmp_path: Path) -> None:
    text = (boards_dir() / "arduino-esp32-littlefs.yaml").read_text()
    board = tmp_path / "typo.yaml"
    board.write_text(
        text.replace(
            "  profile: arduino\n", "  profile: arduino\n  platform: arduino-2.05\n"
        ).replace("name: arduino-esp32-littlefs", "name: typo")
    )
    with pytest.raises(ConfigError, match=r"has no release '2\.05'") as err:
        load_board(board)
    assert err.value.line is not None
    assert "platform: arduino-2.0.5" in (err.value.hint or "")


def test_board_versions_keep_their_own_check() -> None:
    """``--board NAME@VERSION`` names the firmware's own release (checked by the board's
    version table); an Arduino LittleFS board has none, so a version there is refused."""
    with pytest.raises(InputError, match="has no firmware versions"):
        load_board("arduino-esp32-littlefs@2.017")
