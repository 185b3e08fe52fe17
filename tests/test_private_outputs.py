"""Outputs holding a unit's flash contents (a dump, a partition, a file out of one: a
Mongoose OS /conf9.json holds the Wi-Fi password) are 0600 whatever the umask, an older
0644 file replaced included; images made from a CA alone stay 0644; devices and FIFOs
are written through, their modes untouched."""

from __future__ import annotations

import os
import shutil
import stat
import threading
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner
from support.layouts import load_mongoose

from esp_cabundle.cli import cli
from esp_cabundle.fileio import PRIVATE, write_atomic
from esp_cabundle.virtual import VirtualESP32
from tests.support import dumps

DATA = Path(__file__).parent / "data"
LFS_IMAGE = DATA / "littlefs" / "mongoose-lfs20-256k.bin"
NEW_CA = DATA / "letsencrypt" / "isrgrootx1.pem"


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture(autouse=True)
def open_umask(request: pytest.FixtureRequest) -> None:
    """The widest umask: nothing but the writer's own mode keeps others out."""
    old = os.umask(0)
    request.addfinalizer(lambda: os.umask(old))


def test_private_mode_whatever_the_umask_and_on_replacing(tmp_path: Path) -> None:
    new, old = tmp_path / "new.bin", tmp_path / "old.bin"
    old.write_bytes(b"old")
    old.chmod(0o644)
    for p in (new, old):
        write_atomic(p, b"secret", mode=PRIVATE)
        assert mode(p) == 0o600 and p.read_bytes() == b"secret"
    write_atomic(tmp_path / "public.pem", b"ca")
    assert mode(tmp_path / "public.pem") == 0o644


def test_a_fifo_is_written_through_its_mode_kept(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo, 0o640)
    got: list[bytes] = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_bytes()))
    reader.start()
    write_atomic(fifo, b"through", mode=PRIVATE)
    reader.join(timeout=10)
    assert got == [b"through"]
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode) and mode(fifo) == 0o640


@pytest.mark.parametrize("what", [["--all"], ["--partition", "fs_0"]])
def test_read_writes_a_private_file(
    virtual_esp32: Callable[..., VirtualESP32], runner: CliRunner, tmp_path: Path, what: list[str]
) -> None:
    unit = virtual_esp32("esp32")
    load_mongoose(unit)
    out = tmp_path / "dump.bin"
    r = runner.invoke(cli, ["read", "-p", unit.url, *what, "-o", str(out), "-q"])
    assert r.exit_code == 0, r.output
    assert mode(out) == 0o600


def test_update_dump_writes_a_private_file(in_tmp: Path, runner: CliRunner) -> None:
    (in_tmp / "dump.bin").write_bytes(dumps.arduino_dump())
    args = ["update-dump", "dump.bin", "--board", "mdash-arduino", "--bundle", str(NEW_CA)]
    r = runner.invoke(cli, [*args, "-o", "new.bin", "-q"])
    assert r.exit_code == 0, r.output
    assert mode(in_tmp / "new.bin") == 0o600


def test_fs_cat_output_and_fs_put_in_place_are_private(runner: CliRunner, tmp_path: Path) -> None:
    image = tmp_path / "fs0.bin"
    shutil.copyfile(LFS_IMAGE, image)
    image.chmod(0o644)
    conf = tmp_path / "conf9.json"
    r = runner.invoke(cli, ["fs", "cat", str(image), "/conf9.json", "-o", str(conf)])
    assert r.exit_code == 0, r.output
    assert mode(conf) == 0o600
    r = runner.invoke(cli, ["fs", "put", str(image), str(NEW_CA), "/ca.pem", "-q"])
    assert r.exit_code == 0, r.output
    assert mode(image) == 0o600
    image.chmod(0o644)
    r = runner.invoke(cli, ["fs", "rm", str(image), "/log.txt", "-q"])
    assert r.exit_code == 0, r.output
    assert mode(image) == 0o600


def test_images_made_from_a_ca_alone_stay_public(in_tmp: Path, runner: CliRunner) -> None:
    r = runner.invoke(
        cli,
        ["pack", "--board", "mongoose-os-esp32", "--bundle", str(NEW_CA), "-o", "fs.bin", "-q"],
    )
    assert r.exit_code == 0, r.output
    assert mode(in_tmp / "fs.bin") == 0o644
