"""An archive or compressed file given where a CA file is read is refused, naming the
command that unpacks it: a stored zip had been read as the PEM file it packs (its text
is there verbatim), a compressed one refused as "binary data" with no way out. Every
reader says the same, and nothing is written."""

from __future__ import annotations

import gzip
import io
import os
import subprocess
import tarfile
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from esp_cabundle.certs import load_certificates
from esp_cabundle.cli import cli
from esp_cabundle.errors import CertificateError, InputError
from esp_cabundle.fileio import read_input, shell_path
from esp_cabundle.fs import create_image
from esp_cabundle.sniff import refuse_archive
from esp_cabundle.text import printable

X1 = Path(__file__).parent / "data" / "letsencrypt" / "isrgrootx1.pem"


def _zip(method: int) -> bytes:
    """The same bytes each call: a fixed date (writestr of a name takes the clock's, and
    two calls a 2-second tick apart differed, failing a comparison under load)."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", method) as z:
        info = zipfile.ZipInfo("ca.pem", date_time=(2024, 1, 1, 0, 0, 0))
        info.compress_type = method
        z.writestr(info, X1.read_bytes())
    return out.getvalue()


def _tar() -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as t:
        t.add(X1, arcname="ca.pem")
    return out.getvalue()


ARCHIVES = [
    ("a.zip", lambda: _zip(zipfile.ZIP_STORED), "a zip archive", "unzip a.zip"),
    ("c.zip", lambda: _zip(zipfile.ZIP_DEFLATED), "a zip archive", "unzip c.zip"),
    ("a.tar", _tar, "a tar archive", "tar -xf a.tar"),
    (
        "ca.pem.gz",
        lambda: gzip.compress(X1.read_bytes()),
        "a gzip-compressed file",
        "gunzip -k ca.pem.gz",
    ),
    ("ca.tgz", lambda: gzip.compress(_tar()), "a gzip-compressed file", "tar -xzf ca.tgz"),
]
PACK = ["pack", "--fs", "littlefs", "--profile", "esp-idf", "--size", "64K", "-o", "fs.bin"]


@pytest.mark.parametrize(("name", "make", "what", "unpack"), ARCHIVES, ids=lambda a: str(a)[:9])
@pytest.mark.parametrize(
    "line",
    [
        ["inspect", "{}"],
        ["inspect", "{}", "--json"],
        [*PACK, "--bundle", "{}"],
        ["check", "--bundle", "{}"],
        ["build", "--root", "{}", "-o", "out.pem"],
    ],
    ids=lambda line: " ".join(line[:2]),
)
def test_an_archive_given_as_a_ca_file_is_refused_with_its_unpacking(
    runner: CliRunner,
    in_tmp: Path,
    line: list[str],
    name: str,
    make: object,
    what: str,
    unpack: str,
) -> None:
    assert callable(make)
    (in_tmp / name).write_bytes(make())
    r = runner.invoke(cli, [w.format(name) for w in line])
    assert r.exit_code == 2, r.output
    assert f"{name}: {what} (" in r.output and "not a certificate file" in r.output, r.output
    command, _, _ = unpack.rpartition(" ")  # build --root names the file as resolved
    said = r.output.partition("unpack it first (")[2].partition("), then")[0]
    assert said.startswith(f"{command} ") and said.endswith(name), r.output
    assert sorted(p.name for p in in_tmp.iterdir()) == [name]  # nothing written


def test_the_library_refuses_a_stored_zip_it_is_given_as_bytes() -> None:
    with pytest.raises(CertificateError, match="a zip archive") as e:
        load_certificates(_zip(zipfile.ZIP_STORED), source="a.zip")
    assert e.value.hint == "unpack it first (unzip a.zip), then give the CA file it holds"


def test_a_zip_is_still_put_into_an_image_as_any_file(runner: CliRunner, in_tmp: Path) -> None:
    """fs put copies any file in (its SOURCE is no CA file): an archive stays allowed."""
    image = in_tmp / "fs.bin"
    image.write_bytes(create_image("littlefs", "esp-idf", 64 * 1024).to_bytes())
    (in_tmp / "a.zip").write_bytes(_zip(zipfile.ZIP_STORED))
    r = runner.invoke(cli, ["fs", "put", str(image), "a.zip", "/a.zip"])
    assert r.exit_code == 0, r.output
    r = runner.invoke(cli, ["fs", "cat", str(image), "/a.zip"])
    assert r.exit_code == 0 and r.stdout_bytes == _zip(zipfile.ZIP_STORED)


def test_the_refusal_follows_the_inputs_kind_not_its_label(tmp_path: Path) -> None:
    """read_input refused an archive when ``what`` was one of five labels ("CA file",
    "chain file" ...): a certificate reader worded otherwise read a stored zip as its
    PEM, and any other input worded so was refused. ``certificates=True`` decides."""
    p = tmp_path / "a.zip"
    p.write_bytes(_zip(zipfile.ZIP_STORED))
    with pytest.raises(InputError) as e:
        read_input(p, what="trust anchors", certificates=True)
    assert "a zip archive" in e.value.message and "unzip" in (e.value.hint or ""), e.value
    assert read_input(p, what="CA file") == p.read_bytes()


def test_an_archive_named_like_an_option_is_unpacked_by_its_path() -> None:
    """The hint's command takes the name for no option: fileio's shell_path, one rule."""
    with pytest.raises(CertificateError) as e:
        refuse_archive(_zip(zipfile.ZIP_STORED), source="-ca.zip")
    assert e.value.hint == "unpack it first (unzip ./-ca.zip), then give the CA file it holds"
    assert shell_path("-ca.zip") == "./-ca.zip" and shell_path("a b.zip") == "'a b.zip'"


@pytest.mark.parametrize(
    ("data", "said"),
    [
        (gzip.compress(X1.read_bytes()), "unpack it on the way in: ... | gunzip -c | esp-cabundle"),
        (_tar(), "unpack it on the way in: ... | tar -xOf - | esp-cabundle"),
        (_zip(zipfile.ZIP_DEFLATED), "save it to a file and unpack it (unzip FILE)"),
    ],
)
def test_an_archive_piped_in_is_unpacked_on_the_pipe(
    runner: CliRunner, data: bytes, said: str
) -> None:
    """``gzip -c ca.pem | esp-cabundle inspect -`` was told "gunzip -k ./-": there is no
    file named '-' to unpack."""
    r = runner.invoke(cli, ["inspect", "-"], input=data)
    assert r.exit_code == 2, r.output
    hint = " ".join(r.stderr.split())
    assert said in hint and "./-" not in hint, hint


@pytest.mark.parametrize("name", [b"o\xff.bin", b"-a\x1bb'c\\d.zip", "n\u2028é.bin".encode()])
def test_shell_path_gives_the_same_bytes_back(name: bytes) -> None:
    """shell_path's word, shown as every message is (printable), run through bash, names
    the bytes of the file: a name that is not UTF-8 or holds a control character was
    quoted as is, and the escape that made it printable named another file."""
    said = printable(shell_path(os.fsdecode(name)))
    out = subprocess.run(["bash", "-c", f"printf %s {said}"], capture_output=True, check=True)
    assert out.stdout == (b"./" + name if name.startswith(b"-") else name), said
