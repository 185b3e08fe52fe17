"""An archive or compressed file given where a CA file is read is refused, naming the
command that unpacks it: a stored zip had been read as the PEM file it packs (its text
is there verbatim), a compressed one refused as "binary data" with no way out. Every
reader says the same, and nothing is written."""

from __future__ import annotations

import gzip
import io
import tarfile
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from esp_cabundle.certs import load_certificates
from esp_cabundle.cli import cli
from esp_cabundle.errors import CertificateError
from esp_cabundle.fs import create_image

X1 = Path(__file__).parent / "data" / "letsencrypt" / "isrgrootx1.pem"


def _zip(method: int) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", method) as z:
        z.writestr("ca.pem", X1.read_bytes())
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
