"""Every ``fs`` hint that names a command to type quotes the image as a shell reads it
(one helper, ``fs_command``): an image called ``my fs.bin`` is copied back whole, as
``fs cat``'s and ``fs rm``'s "no such file" hints already did."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from esp_cabundle.cli import cli
from esp_cabundle.fs.edit import pack_image

CA = (Path(__file__).parent / "data" / "letsencrypt" / "isrgrootx1.pem").read_bytes()
IMAGE = "my fs.bin"

# (arguments, what the hint or warning says, exit code); the image is left unchanged
# by each refusal, and rm's warning is the one case that changes it. Under --json the
# hint is the JSON document's (on stdout), as every refusal under --json is.
CASES = [
    (["cat", IMAGE, "/ca.pem", "--json"], "e.g. esp-cabundle fs ls 'my fs.bin' --json", 2),
    (["cat", IMAGE, "/nope.pem"], "esp-cabundle fs ls 'my fs.bin'", 2),
    (["put", IMAGE, IMAGE, "/x.bin"], "esp-cabundle fs put 'my fs.bin' ca.pem", 2),
    (
        ["put", "ca.pem", IMAGE, "/ca.pem"],
        "the image comes first: esp-cabundle fs put 'my fs.bin' ca.pem /ca.pem",
        2,
    ),
    (
        ["put", IMAGE, IMAGE, "--fs", "spiffs"],
        "esp-cabundle fs put 'my fs.bin' ca.pem --fs spiffs",
        2,
    ),
    (["rm", IMAGE, "/ca.pem"], "(esp-cabundle fs put 'my fs.bin' ca.pem /ca.pem)", 0),
]


@pytest.mark.parametrize(("args", "said", "code"), CASES, ids=lambda c: str(c)[:40])
def test_fs_hints_quote_the_image(
    args: list[str], said: str, code: int, in_tmp: Path, runner: CliRunner
) -> None:
    image = in_tmp / IMAGE
    before = pack_image("spiffs", "esp-idf", 64 * 1024, [("/ca.pem", CA)]).data
    image.write_bytes(before)
    (in_tmp / "ca.pem").write_bytes(CA)
    r = runner.invoke(cli, ["fs", *args])
    assert r.exit_code == code, r.output
    if "--json" in args:
        assert said in json.loads(r.stdout)["hint"], r.stdout
    else:
        assert said in r.stderr, r.stderr
    if code:
        assert image.read_bytes() == before


@pytest.mark.parametrize(
    "name",
    [b"o\xff.bin", b"tab\there.bin", b"it's\x1b[31m.bin", b"caf\xc3\xa9 \\x41.bin"],
    ids=repr,
)
def test_hint_names_the_same_bytes_through_bash(
    name: bytes, in_tmp: Path, runner: CliRunner
) -> None:
    """A name that is not UTF-8 or holds a control character was hinted as
    ``'o\\xff.bin'``: pasted into a shell, that names a file with a backslash, an x and
    two letters in its name. The hint's word, run through bash, gives the name's bytes."""
    image = os.fsdecode(name)
    Path(image).write_bytes(pack_image("spiffs", "esp-idf", 64 * 1024, [("/ca.pem", CA)]).data)
    r = runner.invoke(cli, ["fs", "rm", "--", image, "/nope"])
    assert r.exit_code == 2, r.output
    said = r.stderr.split("esp-cabundle fs ls ", 1)[1].split("\n", 1)[0].strip()
    out = subprocess.run(["bash", "-c", f"printf %s {said}"], capture_output=True, check=True)
    assert out.stdout == name, (said, out.stdout)


def test_a_mended_command_line_names_the_same_bytes_through_bash(
    in_tmp: Path, runner: CliRunner
) -> None:
    """The line typed, mended (``e.g. esp-cabundle fs ls IMAGE --partition fs_0``), was
    shlex.join's: the image ``o\\xff.bin`` came back as ``'o\\xff.bin'``, another name."""
    name = b"o\xff.bin"
    image = os.fsdecode(name)
    Path(image).write_bytes(pack_image("spiffs", "esp-idf", 64 * 1024, [("/ca.pem", CA)]).data)
    r = runner.invoke(cli, ["fs", "ls", image, "--partition", "fs_0", "--offset", "0x1000"])
    assert r.exit_code == 2, r.output
    said = r.stderr.split("e.g. esp-cabundle fs ls ", 1)[1].split(" --partition", 1)[0]
    out = subprocess.run(["bash", "-c", f"printf %s {said}"], capture_output=True, check=True)
    assert out.stdout == name, (said, out.stdout)
