"""What a new user's tryout found writing outputs: an option taking one value given twice
was silently the last (only build refused a second -o), ``fs put ca.pem ca.pem`` blamed
SOURCE for a PEM given as the image, and ``pack -o x.pem`` wrote an image into a file
named as a CA. Each is a usage error now, with nothing written."""

from __future__ import annotations

import json
import shlex
from pathlib import Path

import pytest

from esp_cabundle.cli import run
from esp_cabundle.commands._repeated import repeated_option
from esp_cabundle.commands.pack import pack

DATA = Path(__file__).parent / "data"
PEM = (DATA / "letsencrypt" / "isrgrootx1.pem").read_bytes()
IMAGE = (DATA / "littlefs" / "mongoose-lfs20-256k.bin").read_bytes()
LAYOUT = ["--fs", "littlefs", "--profile", "esp-idf", "--size", "64K", "--bundle", "ca.pem"]


def _files(root: Path) -> dict[str, bytes]:
    """Every file under ``root`` and its bytes: what a refused command must leave."""
    return {p.name: p.read_bytes() for p in sorted(root.iterdir())}


@pytest.fixture
def inputs(in_tmp: Path) -> Path:
    """A CA file and a LittleFS image to name, in an otherwise empty directory."""
    (in_tmp / "ca.pem").write_bytes(PEM)
    (in_tmp / "fs.bin").write_bytes(IMAGE)
    return in_tmp


@pytest.mark.parametrize(
    ("args", "said", "mended"),
    [
        (["pack", *LAYOUT, "-o", "x2.bin", "-o", "x3.bin"],
         "-o/--output given 2 times (x2.bin, x3.bin)", ["pack", *LAYOUT, "-o", "x3.bin"]),
        (["update-dump", "dump.bin", "--board", "mdash-arduino", "--bundle", "ca.pem",
          "-o", "n1.bin", "-o", "n2.bin"], "-o/--output given 2 times (n1.bin, n2.bin)",
         ["update-dump", "dump.bin", "--board", "mdash-arduino", "--bundle", "ca.pem",
          "-o", "n2.bin"]),
        (["fs", "cat", "fs.bin", "/conf0.json", "-o", "c1", "-o", "c2"],
         "-o/--output given 2 times (c1, c2)", ["fs", "cat", "fs.bin", "/conf0.json", "-o", "c2"]),
        (["read", "--port", "socket://127.0.0.1:9", "--all", "-o", "r1.bin", "-o", "r2.bin"],
         "-o/--output given 2 times (r1.bin, r2.bin)",
         ["read", "--port", "socket://127.0.0.1:9", "--all", "-o", "r2.bin"]),
        (["chains", "show", "saved.pem", "-o", "k1.pem", "-o", "k2.pem"],
         "-o/--output given 2 times (k1.pem, k2.pem)",
         ["chains", "show", "saved.pem", "-o", "k2.pem"]),
        # push's campaign ledger: one run writes one ledger (the first was silently dropped)
        (["push", "--ledger", "a.db", "--rpc", "http://127.0.0.1:9/rpc", "--ledger=b.db"],
         "--ledger given 2 times (a.db, b.db)",
         ["push", "--rpc", "http://127.0.0.1:9/rpc", "--ledger=b.db"]),
        (["push", "status", "--ledger", "a.db", "--ledger", "b.db"],
         "--ledger given 2 times (a.db, b.db)", ["push", "status", "--ledger", "b.db"]),
        # --output=value and a cluster of short flags ending in -o (its value glued on)
        (["pack", *LAYOUT, "-qox2.bin", "--output=x3.bin"],
         "-o/--output given 2 times (x2.bin, x3.bin)",
         ["pack", *LAYOUT, "-q", "--output=x3.bin"]),
    ],
)  # fmt: skip
def test_a_single_value_option_given_twice_is_a_usage_error(
    inputs: Path,
    capsys: pytest.CaptureFixture[str],
    args: list[str],
    said: str,
    mended: list[str],
) -> None:
    before = _files(inputs)
    assert run(args) == 2
    out = capsys.readouterr()
    assert out.err == (
        f"Error: {said}; it takes one value\n"
        f"  hint: e.g. esp-cabundle {shlex.join(mended)} (give it once)\n"
    )
    assert out.out == "" and _files(inputs) == before
    # --json: one document, the same words
    assert run([*args, "--json"]) == 2
    out = capsys.readouterr()
    doc = json.loads(out.out)
    assert doc["kind"] == "InputError" and doc["exit_code"] == 2 and said in doc["error"]
    assert doc["hint"] == f"e.g. esp-cabundle {shlex.join([*mended, '--json'])} (give it once)"
    assert out.err == "" and _files(inputs) == before


def test_the_same_value_twice_and_options_meant_to_repeat_are_taken(
    inputs: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The same value twice has one meaning (a script may repeat a default): taken.
    Options other than outputs keep the last value: a script's defaults come first and
    are overridden after them."""
    over = ["--size", "128K", "--fs", "spiffs", "--profile", "esp-idf"]
    assert run(["pack", *LAYOUT, *over, "-o", "last.bin", "-q"]) == 0, capsys.readouterr().err
    assert (inputs / "last.bin").stat().st_size == 128 << 10
    assert run(["fs", "cat", "fs.bin", "/conf0.json", "-o", "c.json", "-o", "c.json"]) == 0
    assert (inputs / "c.json").stat().st_size > 0
    roots = ["--root", "isrg-root-x1", "--root", "isrg-root-x2"]
    assert run(["build", *roots, "-o", "two.pem", "-q"]) == 0, capsys.readouterr().err
    assert (inputs / "two.pem").read_bytes().count(b"-----BEGIN CERTIFICATE-----") == 2
    # help is shown whatever else the line holds; after -- words are arguments
    assert run(["pack", "-o", "a.bin", "-o", "b.bin", "--help"]) == 0
    assert "Usage: esp-cabundle pack" in capsys.readouterr().out
    assert repeated_option(pack, ["--fs", "littlefs", "--", "--fs", "spiffs"], ["pack"]) is None
    assert not (inputs / "a.bin").exists() and not (inputs / "b.bin").exists()


def test_fs_put_of_a_pem_given_as_the_image_says_so(
    inputs: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``fs put ca.pem ca.pem /ca.pem`` said "SOURCE ca.pem is the image itself" and hinted
    the same line; the mistake is the image, and the hint never repeats the line."""
    before = _files(inputs)
    assert run(["fs", "put", "ca.pem", "ca.pem", "/ca.pem"]) == 2
    err = capsys.readouterr().err
    assert err == (
        "Error: ca.pem: PEM text (certificates), not a file-system image\n"
        "  hint: give a partition image or a whole-flash dump\n"
    )
    # an image named ca.pem put into itself: the example names another file
    (inputs / "ca.pem").write_bytes(IMAGE)
    assert run(["fs", "put", "ca.pem", "ca.pem"]) == 2
    err = capsys.readouterr().err
    assert "SOURCE ca.pem is the image itself; nothing written" in err
    hint = "hint: name the file to put into the image: esp-cabundle fs put ca.pem build/ca.pem\n"
    assert hint in err, err
    assert (inputs / "ca.pem").read_bytes() == IMAGE and _files(inputs)["fs.bin"] == IMAGE
    (inputs / "ca.pem").write_bytes(PEM)
    assert _files(inputs) == before


@pytest.mark.parametrize(
    ("args", "name", "says", "writes"),
    [
        (["pack", *LAYOUT], "x2.pem", "a .pem name says PEM text",
         "pack writes a file-system image"),
        (["pack", *LAYOUT], "x2.crt", "a .crt name says a certificate", "pack writes"),
        (["pack", *LAYOUT], "ca_pem.h", "a .h name says C source", "pack writes"),
        (["update-dump", "dump.bin", "--board", "mdash-arduino", "--bundle", "ca.pem"],
         "new.json", "a .json name says JSON text", "update-dump writes a whole-flash dump"),
        (["read", "-p", "socket://127.0.0.1:9", "--all"], "r.der",
         "a .der name says a DER certificate", "read writes a unit's raw flash bytes"),
    ],
)  # fmt: skip
def test_an_image_or_dump_into_a_file_named_as_a_ca_is_refused(
    inputs: Path,
    capsys: pytest.CaptureFixture[str],
    args: list[str],
    name: str,
    says: str,
    writes: str,
) -> None:
    before = _files(inputs)
    assert run([*args, "-o", name]) == 2
    err = capsys.readouterr().err
    fitting = shlex.join([*args, "-o", str(Path(name).with_suffix(".bin"))])
    assert err.startswith(f"Error: -o {name}: {says}, but ") and writes in err, err
    assert f"; nothing written\n  hint: e.g. esp-cabundle {fitting} (a .bin name)\n" in err
    assert _files(inputs) == before
    assert run([*args, f"--output={name}", "--json"]) == 2
    doc = json.loads(capsys.readouterr().out)
    assert doc["kind"] == "InputError" and says in doc["error"] and ".bin" in doc["hint"]
    assert _files(inputs) == before


def test_packs_mended_name_runs_and_a_missing_pem_image_is_not_sent_to_pack(
    inputs: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(["pack", *LAYOUT, "-o", "x2.pem"]) == 2
    hint = capsys.readouterr().err.partition("hint: e.g. esp-cabundle ")[2].partition(" (")[0]
    assert run([*shlex.split(hint), "-q"]) == 0
    assert (inputs / "x2.bin").stat().st_size == 64 * 1024
    # fs's hint for a missing image made it with "pack -o my.pem", which is refused
    assert run(["fs", "put", "my.pem", "ca.pem"]) == 2
    err = capsys.readouterr().err
    assert "-o my.pem" not in err and "give the image first" in err and "-o fs.bin" in err
