"""A new image smaller than its file system can be (LittleFS: 2 blocks, SPIFFS: 3) is
refused with the smallest size it takes: ``pack`` gives the line as typed with that
``--size``, a library caller the parameter it passes (``size=8192``); nothing is written."""

from __future__ import annotations

import json
import shlex
from pathlib import Path

import pytest
from click.testing import CliRunner

from esp_cabundle.cli import cli
from esp_cabundle.errors import ImageError
from esp_cabundle.fs import check_new_image, create_image
from esp_cabundle.fs.spiffs import build_spiffs_image
from esp_cabundle.images import image_spec, new_image
from esp_cabundle.spelling import CLI_SPELLING, CONFIG_SPELLING

X1 = Path(__file__).parent / "data" / "letsencrypt" / "isrgrootx1.pem"
# the file system, the fewest blocks it takes, and that many 4 KiB blocks as typed
SMALLEST = [("littlefs", 2, "8K"), ("spiffs", 3, "12K")]


@pytest.mark.parametrize(("fs", "blocks", "typed"), SMALLEST)
@pytest.mark.parametrize("size", ["4K", "--size=4K"])
def test_pack_hints_the_line_with_the_smallest_size(
    runner: CliRunner, tmp_path: Path, fs: str, blocks: int, typed: str, size: str
) -> None:
    out = tmp_path / "x.bin"
    sized = ["--size", size] if size == "4K" else [size]
    line = ["pack", "--profile", "esp-idf", "--fs", fs, *sized, "--bundle", str(X1)]
    r = runner.invoke(cli, [*line, "-o", str(out)])
    assert r.exit_code == 2, r.output
    assert f"needs at least {blocks} blocks; 4,096 bytes" in r.output
    mended = ["pack", "--profile", "esp-idf", "--fs", fs, "--size", typed, "--bundle", str(X1)]
    assert f"  hint: e.g. esp-cabundle {shlex.join([*mended, '-o', str(out)])} (" in r.output
    assert not out.exists() and "CA:" not in r.output  # said before the CA is judged
    # the mended line makes the image (SPIFFS), or is refused only for room (LittleFS's
    # two blocks are its superblock pair: a CA needs more, as the hint's reason says)
    again = runner.invoke(cli, [*mended, "-o", str(out)])
    assert "blocks" not in again.output, again.output
    if fs == "spiffs":
        assert again.exit_code == 0 and out.stat().st_size == blocks * 4096, again.output
    else:
        assert again.exit_code != 0 and "no space left" in again.output, again.output
        assert not out.exists()


def test_pack_json_carries_the_hint(runner: CliRunner, tmp_path: Path) -> None:
    out = tmp_path / "x.bin"
    args = ["pack", "--fs", "littlefs", "--profile", "esp-idf", "--size", "4K", "--bundle"]
    r = runner.invoke(cli, [*args, str(X1), "-o", str(out), "--json"])
    doc = json.loads(r.output)
    assert r.exit_code == 2 and doc["ok"] is False
    assert doc["hint"].startswith(
        "e.g. esp-cabundle pack --fs littlefs --profile esp-idf --size 8K"
    )
    assert not out.exists()


@pytest.mark.parametrize(("fs", "blocks", "typed"), SMALLEST)
def test_library_is_told_of_its_parameter(fs: str, blocks: int, typed: str) -> None:
    smallest = blocks * 4096
    spec = image_spec(fs_type=fs, profile="esp-idf", size=4096)
    for call in (
        lambda: new_image(spec),
        lambda: check_new_image(fs, "esp-idf", 4096),
        lambda: create_image(fs, "esp-idf", 4096),
    ):
        with pytest.raises(ImageError) as e:
            call()
        assert e.value.hint == f"give size={smallest} or more", e.value.hint
    with pytest.raises(ImageError) as cli_words:
        new_image(spec, spelling=CLI_SPELLING)
    assert cli_words.value.hint == f"give --size {typed} or more"
    with pytest.raises(ImageError) as config:
        new_image(spec, spelling=CONFIG_SPELLING)
    assert config.value.hint == f"give size: {typed} or more"


def test_building_a_spiffs_is_told_its_size_parameter() -> None:
    with pytest.raises(ImageError) as e:
        build_spiffs_image([], size=4096, profile="esp-idf")
    assert e.value.hint == "give size=12288 or more"
