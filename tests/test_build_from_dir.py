"""``build`` never packs what it writes itself into an image's ``from_dir``: its other
outputs and its lock file found there are the last run's, so packing them made the
second build fail (a ``ca.pem`` there would replace the bundle) or the image hold the
previous bundle (reviewer's item 1). Each shape is built twice: the image holds the same
files both times, byte for byte."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from esp_cabundle.cli import cli
from esp_cabundle.fs import open_image

IMAGE = "profile: esp-idf, size: 256K, from_dir: data"


def _files(path: Path) -> dict[str, bytes]:
    image = open_image(path.read_bytes())
    return {f.path: image.read(f.path) for f in image.files()}


def _build_twice(in_tmp: Path, runner: CliRunner, outputs: str) -> list[str]:
    """Build twice with ``outputs``; the stderr of the second run."""
    (in_tmp / "data").mkdir(exist_ok=True)
    (in_tmp / "data" / "conf.json").write_text('{"wifi": {}}')
    (in_tmp / "cabundle.yaml").write_text(f"preset: letsencrypt\noutputs:\n{outputs}")
    images: list[dict[str, bytes]] = []
    for _ in range(2):
        r = runner.invoke(cli, ["build"])
        assert r.exit_code == 0, r.output
        images.append({p.name: p.read_bytes() for p in sorted(in_tmp.rglob("*.bin"))})
    assert images[0] == images[1]
    return r.stderr.splitlines()


@pytest.mark.parametrize("name", ["ca.pem", "roots.pem"])
def test_a_pem_output_in_from_dir_is_not_packed(in_tmp: Path, runner: CliRunner, name: str) -> None:
    notes = _build_twice(
        in_tmp,
        runner,
        f"  - {{format: pem, path: data/{name}}}\n"
        f"  - {{format: littlefs, path: fs.bin, {IMAGE}}}\n",
    )
    files = _files(in_tmp / "fs.bin")
    assert sorted(files) == ["/ca.pem", "/conf.json"]
    assert files["/ca.pem"] == (in_tmp / "data" / name).read_bytes()
    left_out = f"{in_tmp}/data/{name}: the pem output of this run (as the last run left it)"
    assert any(left_out in n for n in notes), notes


def test_two_images_sharing_a_from_dir_do_not_pack_each_other(
    in_tmp: Path, runner: CliRunner
) -> None:
    _build_twice(
        in_tmp,
        runner,
        f"  - {{format: littlefs, path: data/a.bin, {IMAGE}}}\n"
        f"  - {{format: spiffs, path: data/b.bin, {IMAGE}}}\n",
    )
    for name in ("a.bin", "b.bin"):
        assert sorted(_files(in_tmp / "data" / name)) == ["/ca.pem", "/conf.json"]


def test_the_lock_file_in_from_dir_is_not_packed(in_tmp: Path, runner: CliRunner) -> None:
    """from_dir: . holds the config's directory, lock file and all."""
    _build_twice(
        in_tmp, runner, "  - {format: littlefs, path: fs.bin, profile: esp-idf, size: 256K, "
        "from_dir: .}\n"
    )  # fmt: skip
    assert (in_tmp / "cabundle.lock").exists()
    assert sorted(_files(in_tmp / "fs.bin")) == ["/ca.pem", "/cabundle.yaml", "/data/conf.json"]
    r = runner.invoke(cli, ["build", "--locked"])  # the lock read, not written: still left out
    assert r.exit_code == 0, r.output
    assert "/cabundle.lock" not in _files(in_tmp / "fs.bin")


def test_a_users_ca_pem_in_from_dir_is_refused_without_moving_the_ca(
    in_tmp: Path, runner: CliRunner
) -> None:
    (in_tmp / "data").mkdir()
    (in_tmp / "data" / "ca.pem").write_text("the user's own file\n")
    (in_tmp / "cabundle.yaml").write_text(
        f"preset: letsencrypt\noutputs:\n  - {{format: littlefs, path: fs.bin, {IMAGE}}}\n"
    )
    r = runner.invoke(cli, ["build"])
    assert r.exit_code == 2, r.output
    assert "would replace the bundle" in r.stderr
    assert "hint: remove data/ca.pem, or make it one of the config's outputs (format: pem)" in (
        r.stderr
    )
    assert "ca_path" not in r.stderr and "elsewhere" not in r.stderr
    assert not (in_tmp / "fs.bin").exists()
