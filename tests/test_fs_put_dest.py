"""``fs put`` with a DEST meant as the CA file but not it: ``/CA.pem`` or
``/spiffs/ca.pem`` under ``--board mdash-arduino`` went in as a new file, exit 0, not a
word, and units kept reading their old ``/ca.pem``."""

from __future__ import annotations

import json
import shlex
from pathlib import Path

import pytest
from click.testing import CliRunner

from esp_cabundle.cli import cli
from esp_cabundle.fs import open_image
from esp_cabundle.fs.edit import pack_image
from tests.support import dumps

PEM = dumps.pem("isrgrootx1.pem")
OLD = b"the units' old CA file\n"
MDASH = ["--board", "mdash-arduino"]


def _hint(output: str) -> str:
    return output.split("hint: ", 1)[1].replace("\n  ", " ").strip()


@pytest.fixture
def image(in_tmp: Path) -> Path:
    """An mDash (SPIFFS, esp-idf) image holding its CA file, and def.pem beside it."""
    (in_tmp / "def.pem").write_bytes(PEM)
    made = pack_image("spiffs", "esp-idf", 256 << 10, [("/ca.pem", OLD), ("/mdash.cfg", b"{}")])
    (in_tmp / "fs.bin").write_bytes(made.data)
    return in_tmp / "fs.bin"


@pytest.mark.parametrize("dest", ["/spiffs/ca.pem", "/SPIFFS/ca.pem", "/littlefs/CA.pem"])
@pytest.mark.parametrize("board", [MDASH, []])
def test_a_mount_point_before_the_ca_path_is_refused(
    image: Path, runner: CliRunner, dest: str, board: list[str]
) -> None:
    """README names mDash's CA file /spiffs/ca.pem (where the firmware mounts it); in
    the image it is /ca.pem, whatever board is named, so the put is refused and the
    hint's put (the CA path) replaces the units' CA file."""
    before = image.read_bytes()
    r = runner.invoke(cli, ["fs", "put", "fs.bin", "def.pem", dest, *board])
    assert r.exit_code == 2, r.output
    said = r.stderr.replace("\n  ", " ")
    assert f"{dest} is the path the firmware opens" in said, said
    assert "its CA file is /ca.pem" in said and "nothing written" in said
    assert image.read_bytes() == before
    run = _hint(r.output).split(": ", 1)[1]
    assert run == "esp-cabundle fs put fs.bin def.pem /ca.pem" + (
        " --board mdash-arduino" if board else ""
    )
    r = runner.invoke(cli, shlex.split(run)[1:])
    assert r.exit_code == 0, r.output
    fs = open_image(image.read_bytes())
    assert b"ISRG Root X1" in fs.read("/ca.pem")  # as the gate wrote it
    assert {f.path for f in fs.files()} == {"/ca.pem", "/mdash.cfg"}


def test_a_folder_the_image_has_is_its_own_only_in_the_case_typed(
    image: Path, runner: CliRunner
) -> None:
    """README: an image with a /spiffs/ folder of its own takes /spiffs/ca.pem as asked.
    Its names are case-sensitive: beside /spiffs/, /SPIFFS/ca.pem would be a new folder
    the firmware reads as /spiffs/SPIFFS/ca.pem, so it is refused as without the folder
    (it went in, exit 0, when the folder was matched in any case)."""
    (image.parent / "log.txt").write_bytes(b"log\n")
    r = runner.invoke(cli, ["fs", "put", "fs.bin", "log.txt", "/spiffs/log.txt"])
    assert r.exit_code == 0, r.output
    said = r.stderr.replace("\n  ", " ")
    assert "units would open /spiffs/spiffs/log.txt" in said, said  # in, as asked
    r = runner.invoke(cli, ["fs", "put", "fs.bin", "def.pem", "/spiffs/ca.pem", *MDASH])
    said = r.stderr.replace("\n  ", " ")
    assert r.exit_code == 0 and "where the firmware mounts" not in said, said
    assert "is the path the firmware opens" not in said, said
    before = image.read_bytes()
    r = runner.invoke(cli, ["fs", "put", "fs.bin", "def.pem", "/SPIFFS/ca.pem", *MDASH])
    assert r.exit_code == 2, r.output
    said = r.stderr.replace("\n  ", " ")
    assert "/SPIFFS/ca.pem is the path the firmware opens" in said, said
    assert "nothing written" in said and image.read_bytes() == before
    fs = open_image(image.read_bytes())
    assert fs.read("/spiffs/ca.pem") == PEM and fs.read("/ca.pem") == OLD


def test_a_folder_in_another_case_is_no_exception(in_tmp: Path, runner: CliRunner) -> None:
    """An image holding /SPIFFS/x: /spiffs/ca.pem is still the firmware's /ca.pem."""
    (in_tmp / "def.pem").write_bytes(PEM)
    files = [("/ca.pem", OLD), ("/SPIFFS/x", b"x")]
    made = pack_image("spiffs", "esp-idf", 256 << 10, files)
    (in_tmp / "fs.bin").write_bytes(made.data)
    r = runner.invoke(cli, ["fs", "put", "fs.bin", "def.pem", "/spiffs/ca.pem", *MDASH])
    assert r.exit_code == 2, r.output
    assert "its CA file is /ca.pem" in r.stderr.replace("\n  ", " "), r.output
    assert (in_tmp / "fs.bin").read_bytes() == made.data


@pytest.mark.parametrize("dest", ["/CA.pem", "/certs/def.pem", "/def.crt", "/Ca.PEM"])
def test_a_ca_looking_dest_names_the_path_the_firmware_reads(
    image: Path, runner: CliRunner, dest: str
) -> None:
    """With the board (or --profile) known, a certificate-looking DEST goes in as asked
    (it may be meant) with a warning naming /ca.pem and the put that replaces it."""
    r = runner.invoke(cli, ["fs", "put", "fs.bin", "def.pem", dest, *MDASH, "--json"])
    assert r.exit_code == 0, r.output
    (warning,) = json.loads(r.stdout)["warnings"]
    assert warning.startswith(f"{dest} is not the CA file: the firmware reads /ca.pem")
    assert "keep their old one" in warning
    assert warning.endswith("esp-cabundle fs put fs.bin def.pem /ca.pem --board mdash-arduino")
    fs = open_image(image.read_bytes())
    assert fs.read(dest) == PEM and fs.read("/ca.pem") == OLD
    r = runner.invoke(cli, ["fs", "put", "fs.bin", "def.pem", dest, "--profile", "esp-idf"])
    assert r.exit_code == 0 and f"warning: {dest} is not the CA file" in r.stderr, r.output


def test_other_files_go_in_as_before(image: Path, runner: CliRunner) -> None:
    """A file that is no CA, the CA path itself, and (no board nor profile naming the CA
    path) a .pem under another name: no warning; under /spiffs/ only a warning naming
    the path without the mount point, and none once the image has that folder."""
    (image.parent / "notes.txt").write_bytes(b"hello\n")
    for argv in (
        ["notes.txt", "/notes.txt", *MDASH],
        ["def.pem", "/ca.pem", *MDASH],
        ["def.pem", "/certs/def.pem"],
    ):
        r = runner.invoke(cli, ["fs", "put", "fs.bin", *argv])
        assert r.exit_code == 0 and "warning" not in r.stderr, (argv, r.output)
    r = runner.invoke(cli, ["fs", "put", "fs.bin", "notes.txt", "/spiffs/notes.txt", *MDASH])
    assert r.exit_code == 0, r.output
    said = r.stderr.replace("\n  ", " ")
    assert "units would open /spiffs/spiffs/notes.txt" in said, said
    assert "esp-cabundle fs put fs.bin notes.txt /notes.txt --board mdash-arduino" in said
    assert open_image(image.read_bytes()).read("/spiffs/notes.txt") == b"hello\n"
    r = runner.invoke(cli, ["fs", "put", "fs.bin", "notes.txt", "/spiffs/b.txt", *MDASH])
    assert r.exit_code == 0 and "warning" not in r.stderr, r.output


def test_a_file_with_no_certificate_at_the_ca_path_says_what_that_path_is(
    image: Path, runner: CliRunner
) -> None:
    """``fs put fs.bin notes.txt /ca.pem`` said only "no certificate found", as if
    notes.txt were broken: the hint says /ca.pem is the CA file, checked as one, and
    gives the put that stores the file elsewhere, which works as given."""
    Path("notes.txt").write_text("not a certificate\n")
    before = image.read_bytes()
    r = runner.invoke(cli, ["fs", "put", "fs.bin", "notes.txt", "/ca.pem"])
    assert r.exit_code == 2, r.output
    assert "notes.txt: no certificate found" in r.stderr
    hint = _hint(r.output)
    assert hint.startswith("/ca.pem is the image's CA file: what is put there is checked as")
    assert image.read_bytes() == before
    run = hint.rsplit(": ", 1)[1]
    assert run == "esp-cabundle fs put fs.bin notes.txt /notes.txt"
    assert runner.invoke(cli, shlex.split(run)[1:]).exit_code == 0
    fs = open_image(image.read_bytes())
    assert fs.read("/notes.txt") == b"not a certificate\n" and fs.read("/ca.pem") == OLD
