"""Image parameters from a board: what ``pack --board`` and image outputs build."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from esp_cabundle.boards import load_board
from esp_cabundle.cli import cli
from esp_cabundle.errors import InputError
from esp_cabundle.fs import open_image
from esp_cabundle.fs.littlefs import DISK_VERSION_2_1, LittleFsImage
from esp_cabundle.images import image_spec


@pytest.mark.parametrize(
    ("board", "expected"),
    [
        # Arduino-ESP32 1.0.x default.csv: spiffs 0x16F000 at 0x291000.
        ("mdash-arduino", ("spiffs", "esp-idf", 0x16F000, "/ca.pem", ("spiffs", 0x291000))),
        # Arduino-ESP32 2.x+ default.csv: spiffs 0x160000 at 0x290000.
        ("arduino-esp32-littlefs",
         ("littlefs", "arduino", 0x160000, "/ca.pem", ("spiffs", 0x290000))),
        ("mongoose-os-esp32", ("littlefs", "mongoose-os", 0x40000, "/ca.pem", ("fs_0", 0x190000))),
    ],
)  # fmt: skip
def test_a_board_gives_every_parameter(board: str, expected: tuple[object, ...]) -> None:
    spec = image_spec(load_board(board))
    fs_type, profile, size, ca_path, (part, offset) = expected  # type: ignore[misc]
    assert (spec.fs_type, spec.profile, spec.size, spec.ca_path) == (
        fs_type, profile, size, ca_path,
    )  # fmt: skip
    assert (spec.partitions[0].name, spec.partitions[0].offset) == (part, offset)
    assert spec.board == board


def test_mongoose_os_image_is_for_both_slots() -> None:
    spec = image_spec(load_board("mongoose-os-esp32"))
    assert spec.where == "fs_0 at 0x190000, fs_1 at 0x350000"


def test_given_size_and_ca_path_replace_the_boards() -> None:
    spec = image_spec(load_board("mdash-arduino"), size=0x160000, ca_path="/certs/ca.pem")
    assert (spec.size, spec.ca_path) == (0x160000, "/certs/ca.pem")
    assert spec.partitions == ()  # not the default table's partition any more


@pytest.mark.parametrize(
    ("board", "kwargs", "message"),
    [
        ("mdash-arduino", {"fs_type": "littlefs"}, "reads its CA from spiffs, not littlefs"),
        ("mongoose-os-esp32", {"profile": "esp-idf"}, "profile mongoose-os, not esp-idf"),
        (
            "mongoose-os-esp32",
            {"platform": "arduino-3.0.0"},
            "arduino-3.0.0 uses the LittleFS profile arduino; board mongoose-os-esp32 uses",
        ),
        ("mdash", {}, "not in a file system: there is no image to make"),
        ("esp-idf-bundle", {}, "not in a file system"),
    ],
)
def test_contradictions_and_boards_without_a_file_system(
    board: str, kwargs: dict[str, str], message: str
) -> None:
    with pytest.raises(InputError, match=message) as e:
        image_spec(load_board(board), **kwargs)  # type: ignore[arg-type]
    assert e.value.exit_code == 2 and e.value.hint


def test_a_platform_of_another_profile_than_the_boards_is_said_of_the_board(
    runner: CliRunner, tmp_path: Path
) -> None:
    """The profile is the board's: "omit --profile" named a flag nobody typed."""
    out = tmp_path / "fs.bin"
    args = ["pack", "--board", "mongoose-os-esp32", "--preset", "letsencrypt"]
    r = runner.invoke(cli, [*args, "--platform", "arduino-3.0.0", "-o", str(out)])
    assert r.exit_code == 2, r.output
    assert "board mongoose-os-esp32 uses mongoose-os" in r.output, r.output
    assert "hint: drop --platform, or name the board your units run" in r.output, r.output
    assert "--profile" not in r.output and not out.exists()


def test_without_a_board_everything_is_given() -> None:
    spec = image_spec(fs_type="littlefs", platform="arduino-2.0.17", size=0x40000)
    assert spec.profile == "arduino" and spec.ca_path is None
    with pytest.raises(InputError, match="needs the size"):
        image_spec(fs_type="spiffs", profile="esp-idf")
    with pytest.raises(InputError, match="needs a profile"):
        image_spec(fs_type="spiffs", size=0x10000)
    # an unknown file system is said first: no profile would help it
    with pytest.raises(InputError, match="unknown file system 'fat'"):
        image_spec(fs_type="fat", size=0x10000)


# --- images under outputs: in cabundle.yaml ----------------------------------------------


def _build(runner: CliRunner, *args: str) -> tuple[int, str]:
    r = runner.invoke(cli, ["build", "--at", "2026-12-01", "--no-lock", *args])
    return r.exit_code, r.output


def test_image_outputs_are_built_with_the_other_outputs(runner: CliRunner, in_tmp: Path) -> None:
    (in_tmp / "data").mkdir()
    (in_tmp / "data" / "conf9.json").write_text('{"x": 1}')
    (in_tmp / "cabundle.yaml").write_text(
        "preset: letsencrypt\n"
        "outputs:\n"
        "  - {format: pem, path: ca.pem}\n"
        "  - {format: spiffs, path: spiffs.bin, board: mdash-arduino}\n"
        "  - {format: littlefs, path: fs.bin, board: mongoose-os-esp32, from_dir: data}\n"
        "  - {format: littlefs, path: lfs.bin, platform: arduino-2.0.17, size: 256K}\n"
    )
    code, out = _build(runner)
    assert code == 0, out
    pem = (in_tmp / "ca.pem").read_bytes()
    spiffs = open_image((in_tmp / "spiffs.bin").read_bytes(), fs_type="spiffs")
    assert spiffs.size == 0x16F000 and spiffs.read("/ca.pem") == pem
    mos = open_image((in_tmp / "fs.bin").read_bytes(), profile="mongoose-os", fs_type="littlefs")
    assert mos.size == 0x40000 and mos.read("/ca.pem") == pem
    assert mos.read("/conf9.json") == b'{"x": 1}'
    lfs = LittleFsImage.open((in_tmp / "lfs.bin").read_bytes())
    assert lfs.disk_version == DISK_VERSION_2_1  # arduino-2.0.17 mounts 2.1
    first = {p: (in_tmp / p).read_bytes() for p in ("spiffs.bin", "fs.bin", "lfs.bin")}
    assert _build(runner)[0] == 0
    assert {p: (in_tmp / p).read_bytes() for p in first} == first  # reproducible


def test_an_image_output_goes_through_the_gate(runner: CliRunner, in_tmp: Path) -> None:
    """A policy that fails stops every output, the image too."""
    (in_tmp / "cabundle.yaml").write_text(
        "preset: letsencrypt\nservice_until: 2050-01-01\n"
        "outputs:\n  - {format: spiffs, path: spiffs.bin, board: mdash-arduino}\n"
    )
    code, out = _build(runner)
    assert code == 1 and "before the devices' end of service" in out, out
    assert not (in_tmp / "spiffs.bin").exists()


def test_an_image_for_a_board_is_gated_under_that_board(runner: CliRunner, in_tmp: Path) -> None:
    """An expired DST-only CA (allowed by the config) may go into ca.pem and a Mongoose OS
    image, but not into an mdash-arduino image: mDash 1.2.13 reads it for mdash.net, whose
    chain no longer ends at DST Root CA X3. Nothing at all is written."""
    head = "roots: [dst-root-ca-x3]\nallow: [expired]\noutputs:\n  - {format: pem, path: ca.pem}\n"
    mos = "  - {format: littlefs, path: fs.bin, board: mongoose-os-esp32}\n"
    mdash = "  - {format: spiffs, path: spiffs.bin, board: mdash-arduino@1.2.14}\n"
    (in_tmp / "cabundle.yaml").write_text(head + mos + mdash)
    code, out = _build(runner)
    assert code == 1, out
    assert "would cut mdash-arduino@1.2.14 units off mdash.net" in out
    assert sorted(p.name for p in in_tmp.iterdir()) == ["cabundle.yaml"]
    (in_tmp / "cabundle.yaml").write_text(head + mos)
    code, out = _build(runner)
    assert code == 0, out
    assert "CA: 1 root; no targets to judge" in out
    assert "CA in mongoose-os-esp32 images: 1 root; no targets to judge" in out


def test_images_for_two_boards_each_get_their_gate(runner: CliRunner, in_tmp: Path) -> None:
    (in_tmp / "cabundle.yaml").write_text(
        "preset: letsencrypt\noutputs:\n"
        "  - {format: spiffs, path: spiffs.bin, board: mdash-arduino}\n"
        "  - {format: littlefs, path: fs.bin, board: mongoose-os-esp32}\n"
        "  - {format: littlefs, path: fs2.bin, board: mongoose-os-esp32}\n"
    )
    r = runner.invoke(cli, ["build", "--at", "2026-12-01", "--no-lock", "--json"])
    assert r.exit_code == 0, r.output
    gates = json.loads(r.stdout)["board_gates"]
    assert [g["board"] for g in gates] == ["mdash-arduino", "mongoose-os-esp32"]
    assert gates[0]["summary"] == (
        "4 roots, accepted by mdash.net under mdash-arduino rules (the device does not check dates)"
    )
    assert gates[1]["targets"] is None


def test_an_image_for_a_board_takes_only_a_ca_gated_for_it() -> None:
    from esp_cabundle.images import ImageOutput, render_image_output
    from tests.support.gated import gated

    board = load_board("mdash-arduino")
    output = ImageOutput(image_spec(board), board=board)
    pem = (Path(__file__).parent / "data/letsencrypt/isrgrootx1.pem").read_bytes()
    with pytest.raises(InputError, match="checked under the rules of no board"):
        render_image_output(gated(pem), output)
    with pytest.raises(
        InputError, match=r"board mdash-arduino@1\.2\.13, not of mdash-arduino@1\.2\.12"
    ):
        render_image_output(gated(pem, "mdash-arduino"), ImageOutput(
            output.spec, board=load_board("mdash-arduino@1.2.12")
        ))  # fmt: skip
    assert render_image_output(gated(pem, board), output).image.read("/ca.pem") == gated(pem).pem


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ("spiffs", "needs a board, or its profile and size"),
        ("{format: spiffs, path: s.bin}", "an image needs the size"),
        ("{format: spiffs, path: s.bin, size: 64K}", "the image needs a profile"),
        ("{format: littlefs, path: s.bin, board: mdash-arduino}", "reads its CA from spiffs"),
        ("{format: spiffs, path: s.bin, board: mdash}", "there is no image to make"),
        ("{format: spiffs, path: s.bin, board: no-such-board}", "unknown board"),
        ("{format: spiffs, path: s.bin, profile: esp-idf, size: big}", "is not a number"),
        ("{format: spiffs, path: s.bin, board: mdash-arduino, fs: x}", "unknown key"),
        # geometry the file system refuses, at the entry's line too
        ("{format: spiffs, path: s.bin, size: 1, profile: esp-idf}", "not a positive multiple"),
        ("{format: spiffs, path: s.bin, size: 4097, profile: esp-idf}", "of the 4096-byte block"),
        ("{format: spiffs, path: s.bin, board: mdash-arduino, size: 4K}", "at least 3 blocks"),
        ("{format: littlefs, path: s.bin, size: 1, profile: esp-idf}", "not a positive multiple"),
        ("{format: littlefs, path: s.bin, size: 4K, profile: esp-idf}", "at least 2 blocks"),
    ],
)
def test_bad_image_outputs_name_file_and_line(
    runner: CliRunner, in_tmp: Path, entry: str, message: str
) -> None:
    (in_tmp / "cabundle.yaml").write_text(f"preset: letsencrypt\noutputs:\n  - {entry}\n")
    code, out = _build(runner)
    assert code == 2 and "cabundle.yaml:3:" in out and message in out, out
    assert sorted(p.name for p in in_tmp.iterdir()) == ["cabundle.yaml"]


@pytest.mark.parametrize("fs", ["spiffs", "littlefs"])
def test_an_image_format_on_the_command_line_points_at_pack(
    runner: CliRunner, in_tmp: Path, fs: str
) -> None:
    """``build -f spiffs -o x.bin`` has no image parameters: the hint names the config's
    outputs: and the one-off command, and that command works as given."""
    code, out = _build(runner, "--preset", "letsencrypt", "-f", fs, "-o", "x.bin")
    assert code == 2 and "needs its image's parameters" in out, out
    assert list(in_tmp.iterdir()) == []
    m = re.search(r"'esp-cabundle (pack [^']*)'", out)
    assert m is not None and f"--fs {fs}" in m.group(1), out
    args = m.group(1).replace("NAME", "esp-idf").replace("SIZE", "64K").split()
    r = runner.invoke(cli, [*args, "--preset", "letsencrypt"])
    assert r.exit_code == 0, r.output
    assert open_image((in_tmp / "fs.bin").read_bytes(), fs_type=fs).read("/ca.pem")


def test_a_bin_name_without_a_format_points_at_pack(runner: CliRunner, in_tmp: Path) -> None:
    code, out = _build(runner, "--preset", "letsencrypt", "-o", "ca.bin")
    assert code == 2 and "under outputs: in cabundle.yaml" in out, out
    assert "'esp-cabundle pack --fs littlefs|spiffs'" in out
    assert list(in_tmp.iterdir()) == []
