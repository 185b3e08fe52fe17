"""``fs put`` and ``fs rm`` say what ``pack`` says and read no more than fits: a private
key put in an image is warned about in pack's words (one function), a SOURCE larger than
the whole image is refused before it is read, and removing the CA file warns that units
flashed with the image lose it."""

from __future__ import annotations

import base64
import json
import os
import threading
from pathlib import Path

import pytest
from click.testing import CliRunner

from esp_cabundle.boards import boards_dir
from esp_cabundle.cli import cli
from esp_cabundle.commands import _fsput
from esp_cabundle.fs import open_image
from esp_cabundle.fs.dirfiles import private_key_warning
from esp_cabundle.fs.edit import pack_image

DATA = Path(__file__).parent / "data"
CA = (DATA / "letsencrypt" / "isrgrootx1.pem").read_bytes()
# Found by its header; the body is base64 of a sentence, not a key.
KEY = (
    b"-----BEGIN PRIVATE KEY-----\n"
    + base64.b64encode(b"a stand-in for a device's key, made for this test")
    + b"\n-----END PRIVATE KEY-----\n"
)
KEY_BODY = KEY.splitlines()[1].decode()
SIZE = 64 * 1024


@pytest.fixture(params=["spiffs", "littlefs"])
def image(request: pytest.FixtureRequest, in_tmp: Path) -> Path:
    p = in_tmp / "fs.bin"
    p.write_bytes(pack_image(request.param, "esp-idf", SIZE, [("/ca.pem", CA)]).data)
    return p


def _files(directory: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(directory.iterdir()) if p.is_file()}


# --- a private key ------------------------------------------------------------------------


def test_a_key_put_in_an_image_is_warned_about_in_packs_words(
    image: Path, in_tmp: Path, runner: CliRunner
) -> None:
    (in_tmp / "tls").mkdir()
    (in_tmp / "tls" / "leaf.key").write_bytes(KEY)
    r = runner.invoke(cli, ["fs", "put", "fs.bin", "tls/leaf.key", "/client.key"])
    assert r.exit_code == 0, r.output
    said = private_key_warning(Path("tls/leaf.key"), KEY, "/client.key")
    assert said is not None and f"warning: {said}" in r.stderr
    assert "tls/leaf.key holds a private key, PEM private-key header at line 1" in said
    assert open_image(image.read_bytes()).read("/client.key") == KEY
    # pack --from-dir says the same of the same file
    (in_tmp / "data").mkdir()
    (in_tmp / "data" / "client.key").write_bytes(KEY)
    (in_tmp / "ca.pem").write_bytes(CA)
    r2 = runner.invoke(
        cli,
        ["pack", "--fs", "littlefs", "--profile", "esp-idf", "--size", "64K",
         "--bundle", "ca.pem", "--from-dir", "data", "-o", "packed.bin"],
    )  # fmt: skip
    assert r2.exit_code == 0, r2.output
    assert f"warning: {private_key_warning(Path('data/client.key'), KEY, '/client.key')}" in (
        r2.stderr
    )
    r = runner.invoke(cli, ["fs", "put", "fs.bin", "tls/leaf.key", "/k2", "--json"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["warnings"] == [
        private_key_warning(Path("tls/leaf.key"), KEY, "/k2")
    ]
    assert KEY_BODY not in r.output + r2.output  # never the key itself


def test_a_key_already_in_the_image_leaves_it_0600_as_said(
    image: Path, in_tmp: Path, runner: CliRunner
) -> None:
    """Put again, the key changed no block, so the image was not written and stayed
    0644 under the warning "the image is written 0600": its mode is now made so."""
    (in_tmp / "leaf.key").write_bytes(KEY)
    assert runner.invoke(cli, ["fs", "put", "fs.bin", "leaf.key", "/client.key"]).exit_code == 0
    before = image.read_bytes()
    image.chmod(0o644)  # as a copy, or an image made before, may be
    r = runner.invoke(cli, ["fs", "put", "fs.bin", "leaf.key", "/client.key"])
    assert r.exit_code == 0 and " 0 of " in r.output and "written 0600" in r.stderr, r.output
    assert image.read_bytes() == before and (image.stat().st_mode & 0o777) == 0o600


def test_a_file_without_a_key_puts_quietly(image: Path, in_tmp: Path, runner: CliRunner) -> None:
    (in_tmp / "conf.json").write_text('{"wifi": {}}')
    r = runner.invoke(cli, ["fs", "put", "fs.bin", "conf.json", "--json"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["warnings"] == [] and "warning" not in r.stderr


# --- a SOURCE larger than the image -------------------------------------------------------


def test_a_source_larger_than_the_image_is_refused_unread(
    image: Path, in_tmp: Path, runner: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The tester's 130 MB file for a 256 KiB image was read whole (~160 MB resident)
    before it was found not to fit. A sparse file: its size, and no disk, no memory."""
    big = in_tmp / "big.bin"
    with big.open("wb") as f:
        f.truncate(130_000_000)
    read: list[str] = []
    real = _fsput.read_input

    def recording(path: str | Path, **kw: object) -> bytes:
        read.append(str(path))
        return real(path, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(_fsput, "read_input", recording)  # what reads SOURCE
    before = _files(in_tmp)
    r = runner.invoke(cli, ["fs", "put", "fs.bin", "big.bin", "/big"])
    assert r.exit_code == 2, r.output
    assert "big.bin is 130,000,000 bytes, more than the whole" in r.stderr
    assert f"image ({SIZE:,} bytes): it cannot fit; nothing written" in r.stderr
    assert "big.bin" not in read  # refused from its size alone
    assert _files(in_tmp) == before


def test_a_pipe_is_read_no_further_than_the_image_holds(
    image: Path, in_tmp: Path, runner: CliRunner
) -> None:
    fifo = in_tmp / "pipe"
    os.mkfifo(fifo)
    sent = {"bytes": 0}

    def feed() -> None:
        try:
            with open(fifo, "wb") as f:
                for _ in range(64):  # 4 MiB offered, 64 KiB wanted
                    f.write(b"x" * 65536)
                    sent["bytes"] += 65536
        except BrokenPipeError:
            pass

    writer = threading.Thread(target=feed, daemon=True)
    writer.start()
    before = image.read_bytes()
    r = runner.invoke(cli, ["fs", "put", "fs.bin", "pipe", "/big"])
    writer.join(timeout=10)
    assert r.exit_code == 2, r.output
    assert "over the 64 KiB limit" in r.stderr and "reading stopped there" in r.stderr
    assert sent["bytes"] < 4 << 20  # the reader stopped; the rest was never taken
    assert image.read_bytes() == before


def test_a_source_that_fits_the_image_but_not_its_free_space(
    image: Path, in_tmp: Path, runner: CliRunner
) -> None:
    """Below the image's size the file system's own answer stands (exit 2, unchanged)."""
    (in_tmp / "half.bin").write_bytes(os.urandom(SIZE - 4096))
    before = image.read_bytes()
    r = runner.invoke(cli, ["fs", "put", "fs.bin", "half.bin"])
    assert r.exit_code == 2, r.output
    assert "more than the whole" not in r.stderr and "Traceback" not in r.output
    assert image.read_bytes() == before


# --- removing the CA file -----------------------------------------------------------------


def test_removing_the_ca_file_warns(image: Path, runner: CliRunner) -> None:
    r = runner.invoke(cli, ["fs", "rm", "fs.bin", "/ca.pem"])
    assert r.exit_code == 0, r.output
    assert (
        "warning: /ca.pem is the CA file the firmware reads: units flashed with fs.bin have no "
        "CA file and cannot verify their servers until one is put back "
        "(esp-cabundle fs put fs.bin ca.pem /ca.pem)"
    ) in r.stderr
    assert not open_image(image.read_bytes()).exists("/ca.pem")


def test_removing_the_ca_file_warns_in_json_too(image: Path, runner: CliRunner) -> None:
    r = runner.invoke(cli, ["fs", "rm", "fs.bin", "ca.pem", "--json"])
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    assert doc["removed"] == ["/ca.pem"]
    assert [w.split(":")[0] for w in doc["warnings"]] == [
        "/ca.pem is the CA file the firmware reads"
    ]
    assert "warning" not in r.stderr


def test_removing_another_file_does_not_warn(image: Path, in_tmp: Path, runner: CliRunner) -> None:
    (in_tmp / "old.pem").write_bytes(CA)
    assert runner.invoke(cli, ["fs", "put", "fs.bin", "old.pem"]).exit_code == 0
    r = runner.invoke(cli, ["fs", "rm", "fs.bin", "/old.pem", "--json"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["warnings"] == [] and "warning" not in r.stderr


def test_a_failed_remove_does_not_warn(image: Path, runner: CliRunner) -> None:
    before = image.read_bytes()
    r = runner.invoke(cli, ["fs", "rm", "fs.bin", "/ca.pem", "/nope"])
    assert r.exit_code == 2 and "no file" in r.stderr, r.output
    assert "warning" not in r.stderr and image.read_bytes() == before


def test_the_boards_ca_path_warns_too(image: Path, in_tmp: Path, runner: CliRunner) -> None:
    fs_type = open_image(image.read_bytes()).fs_type  # a board of another one is refused
    text = (boards_dir() / f"arduino-esp32-{fs_type}.yaml").read_text()
    board = in_tmp / "mine.yaml"
    board.write_text(
        text.replace(f"name: arduino-esp32-{fs_type}", "name: mine").replace(
            "ca_path: /ca.pem", "ca_path: /certs.pem"
        )
    )
    (in_tmp / "certs.pem").write_bytes(CA)
    assert runner.invoke(cli, ["fs", "put", "fs.bin", "certs.pem", "/certs.pem"]).exit_code == 0
    r = runner.invoke(cli, ["fs", "rm", "fs.bin", "/certs.pem", "--board", str(board)])
    assert r.exit_code == 0, r.output
    assert "warning: /certs.pem is the CA file the firmware reads" in r.stderr


def test_put_refuses_a_platform_of_another_profile_than_the_board_s(in_tmp: Path) -> None:
    """``fs put mos-lfs.bin ca.pem --board mongoose-os-esp32 --platform arduino-3.0.0``
    was accepted without a word, while pack and update-dump refuse a --platform whose
    LittleFS profile is not the board's: fs put refuses it the same way (exit 2, in
    pack's words, the image unchanged); the board's own platform is taken."""
    image = in_tmp / "mos-lfs.bin"
    image.write_bytes(pack_image("littlefs", "mongoose-os", 256 * 1024, [("/ca.pem", CA)]).data)
    (in_tmp / "ca.pem").write_bytes(CA)
    before = image.read_bytes()
    put = ["fs", "put", str(image), "ca.pem", "--board", "mongoose-os-esp32", "--platform"]
    runner = CliRunner()
    refused = runner.invoke(cli, [*put, "arduino-3.0.0"])
    assert refused.exit_code == 2, refused.output
    assert (
        "Error: platform arduino-3.0.0 uses the LittleFS profile arduino; board "
        "mongoose-os-esp32 uses mongoose-os"
    ) in refused.output, refused.output
    assert image.read_bytes() == before
    pack = ["pack", "--board", "mongoose-os-esp32", "--bundle", "ca.pem", "-o", "other.bin"]
    packed = runner.invoke(cli, [*pack, "--platform", "arduino-3.0.0"])
    assert packed.exit_code == 2 and "board mongoose-os-esp32 uses" in packed.output
    taken = runner.invoke(cli, [*put, "mongoose-os"])
    assert taken.exit_code == 0, taken.output
