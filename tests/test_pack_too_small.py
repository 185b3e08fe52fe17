"""A new image smaller than its file system can be (LittleFS: 2 blocks, SPIFFS: 3) is
refused: ``pack`` (and a library pack), knowing the files, gives the line as typed with
the ``--size`` that holds them with room to rewrite them (``size=N`` for a library
caller), so the hinted line runs; a check without files names the least size."""

from __future__ import annotations

import json
import shlex
from datetime import datetime, timezone
from pathlib import Path

import pytest
from click.testing import CliRunner

from esp_cabundle import BundleSpec, CaSource, GatedCA, gate_ca
from esp_cabundle.cli import cli
from esp_cabundle.errors import ImageError
from esp_cabundle.fs import check_new_image, create_image
from esp_cabundle.fs.spiffs import build_spiffs_image
from esp_cabundle.images import image_spec, new_image, pack_ca
from esp_cabundle.sizes import parse_size
from esp_cabundle.spelling import CLI_SPELLING, CONFIG_SPELLING

X1 = Path(__file__).parent / "data" / "letsencrypt" / "isrgrootx1.pem"
# the file system, the fewest blocks it takes, and that many 4 KiB blocks as typed
SMALLEST = [("littlefs", 2, "8K"), ("spiffs", 3, "12K")]
AT = datetime(2026, 1, 1, tzinfo=timezone.utc)


@pytest.fixture(scope="module")
def default_ca() -> GatedCA:
    """The default preset (13 KB): more than either file system's fewest blocks hold."""
    return gate_ca(CaSource.build(BundleSpec()), at=AT)


@pytest.mark.parametrize(("fs", "blocks"), [(fs, blocks) for fs, blocks, _ in SMALLEST])
@pytest.mark.parametrize("size", ["4K", "--size=4K"])
def test_pack_hints_the_line_with_the_size_that_holds_the_files(
    runner: CliRunner, tmp_path: Path, default_ca: GatedCA, fs: str, blocks: int, size: str
) -> None:
    """The hint is the size that holds the files with room to rewrite them, as a pack
    that ran out of room says (the fewest blocks hold no CA: that line failed again)."""
    out, ca = tmp_path / "x.bin", tmp_path / "ca.pem"
    ca.write_bytes(default_ca.pem)
    sized = ["--size", size] if size == "4K" else [size]
    line = ["pack", "--profile", "esp-idf", "--fs", fs, *sized, "--bundle", str(ca)]
    r = runner.invoke(cli, [*line, "-o", str(out)])
    assert r.exit_code == 2, r.output
    assert f"needs at least {blocks} blocks; 4,096 bytes" in r.output
    hint = r.output.split("  hint: e.g. esp-cabundle ")[1]
    typed = hint.split("--size ")[1].split()[0]
    assert parse_size(typed) > blocks * 4096, hint
    mended = ["pack", "--profile", "esp-idf", "--fs", fs, "--size", typed, "--bundle", str(ca)]
    assert hint.startswith(f"{shlex.join([*mended, '-o', str(out)])} (the least that holds")
    assert not out.exists()
    # the mended line makes the image, with no warning that a CA update will not fit
    again = runner.invoke(cli, [*mended, "-o", str(out)])
    assert again.exit_code == 0 and "warning" not in again.output, again.output
    assert out.stat().st_size == parse_size(typed)


def test_pack_json_carries_the_hint(runner: CliRunner, tmp_path: Path) -> None:
    out = tmp_path / "x.bin"
    args = ["pack", "--fs", "littlefs", "--profile", "esp-idf", "--size", "4K", "--bundle"]
    r = runner.invoke(cli, [*args, str(X1), "-o", str(out), "--json"])
    doc = json.loads(r.output)
    assert r.exit_code == 2 and doc["ok"] is False
    assert doc["hint"].startswith(
        "e.g. esp-cabundle pack --fs littlefs --profile esp-idf --size 20K"
    )
    assert not out.exists()


@pytest.mark.parametrize(("fs", "blocks", "typed"), SMALLEST)
def test_library_is_told_of_its_parameter(fs: str, blocks: int, typed: str) -> None:
    smallest = blocks * 4096
    for call in (
        lambda: check_new_image(fs, "esp-idf", 4096),
        lambda: create_image(fs, "esp-idf", 4096),
    ):
        with pytest.raises(ImageError) as e:
            call()
        assert e.value.hint == f"give size={smallest} or more", e.value.hint
    with pytest.raises(ImageError) as cli_words:
        check_new_image(fs, "esp-idf", 4096, spelling=CLI_SPELLING)
    assert cli_words.value.hint == f"give --size {typed} or more"
    with pytest.raises(ImageError) as config:
        check_new_image(fs, "esp-idf", 4096, spelling=CONFIG_SPELLING)
    assert config.value.hint == f"give size: {typed} or more"


@pytest.mark.parametrize("fs", ["littlefs", "spiffs"])
def test_library_pack_is_told_the_size_that_holds_its_files(default_ca: GatedCA, fs: str) -> None:
    """new_image leaves a size under the fewest blocks to its pack, which knows the
    files: the size it names packs them, with room to rewrite the CA."""
    spec = image_spec(fs_type=fs, profile="esp-idf", size=4096)
    ca = default_ca
    with pytest.raises(ImageError, match="needs at least") as e:
        new_image(spec).pack(ca)
    fits = int(e.value.hint.removeprefix("give size=").removesuffix(" or more"))
    assert fits > 3 * 4096, e.value.hint
    packed = pack_ca(ca, fs_type=fs, profile="esp-idf", size=fits)
    assert packed.cramped is None and len(packed.data) == fits


def test_building_a_spiffs_is_told_its_size_parameter() -> None:
    with pytest.raises(ImageError) as e:
        build_spiffs_image([], size=4096, profile="esp-idf")
    assert e.value.hint == "give size=12288 or more"
