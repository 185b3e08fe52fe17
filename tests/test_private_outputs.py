"""Outputs holding a unit's flash contents (a dump, a partition, a file out of one: a
Mongoose OS /conf9.json holds the Wi-Fi password) are 0600 whatever the umask, an older
0644 file replaced included; so are images packing a file others may not read; images
made from a CA alone stay 0644; a file replaced is never made readable by more users
than it was; devices and FIFOs are written through, their modes untouched."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner
from support.layouts import load_mongoose

from esp_cabundle.cli import cli
from esp_cabundle.file_modes import content_mode
from esp_cabundle.fileio import PRIVATE, PUBLIC, write_atomic
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


def test_fs_cat_of_a_ca_file_keeps_it_public(runner: CliRunner, tmp_path: Path) -> None:
    """A CA file is public: fs cat -o ca.pem made an existing 0644 file 0600. Certificates
    alone keep the existing file's mode (0644, or 0600 when it was kept from others), or
    get 0644 when new; a file holding anything else stays 0600 (the test above)."""
    out = tmp_path / "ca.pem"
    out.write_bytes(b"old")
    out.chmod(0o644)
    for before, after in ((0o644, 0o644), (0o600, 0o600), (None, 0o644)):
        if before is None:
            out.unlink()
        else:
            out.chmod(before)
        r = runner.invoke(cli, ["fs", "cat", str(LFS_IMAGE), "/ca.pem", "-o", str(out)])
        assert r.exit_code == 0, r.output
        assert out.read_bytes().startswith(b"-----BEGIN CERTIFICATE-----")
        assert mode(out) == after, (before, oct(mode(out)))
        out.write_bytes(b"old")  # so the next run replaces it


@pytest.mark.parametrize(("path", "want"), [("/conf9.json", 0o600), ("/ca.pem", 0o666)])
def test_fs_cat_to_a_file_the_shell_opened_is_as_private_as_with_o(
    tmp_path: Path, path: str, want: int
) -> None:
    """``fs cat dump.bin /conf9.json > conf9.json``: the file the shell made (0666 under
    umask 000) kept the unit's Wi-Fi password readable by all, where ``-o -`` (and
    ``-o conf9.json``) keep it from group and others; a CA file keeps the shell's mode."""
    out = tmp_path / "out"
    fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o666)
    try:
        os.fchmod(fd, 0o666)
        done = subprocess.run(
            [sys.executable, "-m", "esp_cabundle", "fs", "cat", str(LFS_IMAGE), path],
            stdout=fd,
            stderr=subprocess.PIPE,
            timeout=120,
        )
    finally:
        os.close(fd)
    assert done.returncode == 0, done.stderr
    assert out.read_bytes().startswith(b"{" if path.endswith(".json") else b"-----BEGIN")
    assert mode(out) == want, oct(mode(out))


@pytest.mark.parametrize(
    ("extra", "want"),
    [
        (b"", PUBLIC),
        (b"\n\n", PUBLIC),
        (b"# ISRG Root X1\n\n", PRIVATE),  # a comment of its own may hold anything
        (b"# mdash token: 8f2a6c\n", PRIVATE),
        (b"password=hunter2\n", PRIVATE),
        (b"-----BEGIN PRIVATE KEY-----\nMIIB\n-----END PRIVATE KEY-----\n", PRIVATE),
        (
            b"-----BEGIN EC PARAMETERS-----\nBggqhkjOPQMBBw==\n-----END EC PARAMETERS-----\n",
            PRIVATE,
        ),
    ],
)
def test_only_certificates_are_public(extra: bytes, want: int) -> None:
    assert content_mode(extra + NEW_CA.read_bytes()) == want
    assert content_mode(b'{"wifi": {"pass": "x"}}') == PRIVATE
    assert content_mode(b"") == PRIVATE


def test_images_made_from_a_ca_alone_stay_public(in_tmp: Path, runner: CliRunner) -> None:
    r = runner.invoke(
        cli,
        ["pack", "--board", "mongoose-os-esp32", "--bundle", str(NEW_CA), "-o", "fs.bin", "-q"],
    )
    assert r.exit_code == 0, r.output
    assert mode(in_tmp / "fs.bin") == 0o644


def _data_dir(root: Path, conf_mode: int) -> Path:
    data = root / "data"
    data.mkdir()
    (data / "conf9.json").write_text('{"wifi": {"sta": {"pass": "hunter2"}}}')
    (data / "conf9.json").chmod(conf_mode)
    (data / "index.html").write_text("<p>hi</p>")
    (data / "index.html").chmod(0o644)
    return data


@pytest.mark.parametrize(
    ("conf_mode", "image_mode"), [(0o600, 0o600), (0o640, 0o600), (0o644, 0o644)]
)
def test_pack_from_dir_is_as_private_as_what_it_packs(
    in_tmp: Path, runner: CliRunner, conf_mode: int, image_mode: int
) -> None:
    """An image holding a file others may not read is written 0600, as ``fs put`` of
    that file into an image is; one of public files only stays 0644."""
    _data_dir(in_tmp, conf_mode)
    args = ["pack", "--fs", "littlefs", "--profile", "mongoose-os", "--size", "256K"]
    r = runner.invoke(
        cli, [*args, "--bundle", str(NEW_CA), "--from-dir", "data", "-o", "fs.bin", "-q"]
    )
    assert r.exit_code == 0, r.output
    assert mode(in_tmp / "fs.bin") == image_mode


def test_pack_of_a_private_ca_file_is_private(in_tmp: Path, runner: CliRunner) -> None:
    shutil.copyfile(NEW_CA, in_tmp / "ca.pem")
    (in_tmp / "ca.pem").chmod(0o600)
    args = ["pack", "--board", "mongoose-os-esp32", "--bundle", "ca.pem", "-o", "fs.bin", "-q"]
    r = runner.invoke(cli, args)
    assert r.exit_code == 0, r.output
    assert mode(in_tmp / "fs.bin") == 0o600


def test_build_image_output_from_a_private_dir_is_private(in_tmp: Path, runner: CliRunner) -> None:
    _data_dir(in_tmp, 0o600)
    (in_tmp / "cabundle.yaml").write_text(
        "preset: letsencrypt\n"
        "outputs:\n"
        "  - {format: pem, path: ca.pem}\n"
        "  - {format: littlefs, path: fs.bin, profile: mongoose-os, size: 256K,"
        " from_dir: data}\n"
        "  - {format: spiffs, path: spiffs.bin, board: mdash-arduino}\n"
    )
    r = runner.invoke(cli, ["build", "-q"])
    assert r.exit_code == 0, r.output
    assert mode(in_tmp / "fs.bin") == 0o600
    assert mode(in_tmp / "ca.pem") == mode(in_tmp / "spiffs.bin") == 0o644


@pytest.mark.parametrize(
    ("before", "wanted", "after"),
    [
        (0o640, PUBLIC, 0o640),
        (0o600, PUBLIC, 0o600),
        (0o604, PUBLIC, 0o604),
        (0o644, PRIVATE, 0o600),
        (0o664, PUBLIC, 0o644),
        (0o755, PUBLIC, 0o644),
        (0o400, PUBLIC, 0o600),
    ],
)
def test_a_replaced_file_is_never_opened_wider(
    tmp_path: Path, before: int, wanted: int, after: int
) -> None:
    """What the old file denied group and others stays denied; nothing is granted that
    the wanted mode does not grant; the owner keeps reading and writing its output."""
    p = tmp_path / "ca.pem"
    p.write_bytes(b"old")
    p.chmod(before)
    write_atomic(p, b"new", mode=wanted)
    assert mode(p) == after and p.read_bytes() == b"new"


def test_build_keeps_a_narrower_mode_of_the_file_it_replaces(
    in_tmp: Path, runner: CliRunner
) -> None:
    r = runner.invoke(cli, ["build", "--preset", "default", "-o", "ca.pem", "--no-lock", "-q"])
    assert r.exit_code == 0, r.output
    before = (in_tmp / "ca.pem").read_bytes()
    (in_tmp / "ca.pem").chmod(0o640)
    args = ["build", "--preset", "letsencrypt", "-o", "ca.pem", "--no-lock", "-q"]
    r = runner.invoke(cli, args)
    assert r.exit_code == 0, r.output
    assert mode(in_tmp / "ca.pem") == 0o640
    assert (in_tmp / "ca.pem").read_bytes() != before  # replaced, not left alone


def test_a_file_build_wrote_is_public_its_comments_checked(in_tmp: Path, runner: CliRunner) -> None:
    """build's four comment lines before each certificate are public when their SHA-256
    is the certificate's below; a secret in a comment line of its own, or a header whose
    hash is not the certificate's, makes the file private (the reviewer's '# wifi psk=')."""
    r = runner.invoke(cli, ["build", "--preset", "letsencrypt", "--no-lock", "-o", "ca.pem"])
    assert r.exit_code == 0, r.output
    built = (in_tmp / "ca.pem").read_bytes()
    assert built.startswith(b"# ") and b"\n# SHA-256: " in built
    assert content_mode(built) == PUBLIC
    assert content_mode(built.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")) == PUBLIC
    assert content_mode(built + b"# wifi psk=hunter2\n") == PRIVATE
    first = built.index(b"# SHA-256: ") + len(b"# SHA-256: ")
    wrong = (
        built[:first] + (b"0" if built[first : first + 1] != b"0" else b"1") + built[first + 1 :]
    )
    assert content_mode(wrong) == PRIVATE
