"""The device's reading of a PEM CA file (verify/pem_read) agrees with real mbedTLS 2.28's
``mbedtls_x509_crt_parse_file`` (the C harness against Debian's libmbedtls-dev) on the
shapes editors, scripts and copy-paste give a ca.pem."""

from __future__ import annotations

import pytest

from esp_cabundle.verify.pem_read import parse_file_result, read_as_mbedtls
from tests.support import c_harness
from tests.support.verify_pki import mint

A, B, C = mint("Pem Read Root A").pem, mint("Pem Read Root B").pem, mint("Pem Read Root C").pem
BEGIN, END = b"-----BEGIN CERTIFICATE-----", b"-----END CERTIFICATE-----"


def _body_lines(pem: bytes, f: object) -> bytes:
    lines = pem.split(b"\n")
    return b"\n".join([ln if ln.startswith(b"-----") or not ln else f(ln) for ln in lines])  # type: ignore[operator]


VARIANTS: dict[str, bytes] = {
    "plain": A + B + C,
    "crlf": (A + B + C).replace(b"\n", b"\r\n"),
    "cr-only": (A + B).replace(b"\n", b"\r"),
    "glued": A.rstrip(b"\n") + B.rstrip(b"\n") + C,
    "comments-between": b"# roots\n" + A + b"\n# Subject: B\n\n" + B,
    "one-space-after-begin": A + B.replace(BEGIN + b"\n", BEGIN + b" \n"),
    "two-spaces-after-begin": A + B.replace(BEGIN + b"\n", BEGIN + b"  \n") + C,
    "tab-after-begin": A.replace(BEGIN + b"\n", BEGIN + b"\t\n") + B,
    "indented-body": A + _body_lines(B, lambda ln: b"  " + ln) + C,
    "trailing-spaces": A + _body_lines(B, lambda ln: ln + b"  ") + C,
    "tab-in-body": A + _body_lines(B, lambda ln: ln + b"\t") + C,
    "six-dashes": A + B.replace(BEGIN, b"-" + BEGIN + b"-") + C,
    "trusted-label": A + B.replace(b"CERTIFICATE", b"TRUSTED CERTIFICATE") + C,
    "end-quoted-before": A + b"# each block ends with " + END + b"\n" + B,
    "empty-block": A + BEGIN + b"\n" + END + b"\n" + B,
    "missing-end": A + B.replace(END, b"") + C.replace(BEGIN, b""),
    "nul-inside": A + b"\0" + B,
    "utf16": (A + B).decode().encode("utf-16"),
    "garbage-base64": A + B.replace(b"\nMII", b"\nM!I", 1) + C,
    "extra-digit": A + B.replace(b"\n-----END", b"Q\n-----END", 1) + C,
}


@pytest.fixture(scope="module")
def harness() -> c_harness.Harness:
    return c_harness.debian_or_skip()


@pytest.mark.parametrize("name", sorted(VARIANTS))
def test_the_device_reads_a_ca_file_as_mbedtls_does(harness: c_harness.Harness, name: str) -> None:
    data = VARIANTS[name]
    assert parse_file_result(data) == harness.parse_file(data), name


def test_where_the_loop_stops_and_which_blocks_fail() -> None:
    read = read_as_mbedtls(VARIANTS["two-spaces-after-begin"])
    assert len(read.ders) == 1 and read.stop_offset == len(A)
    assert "line end" in read.stop_reason
    glued = read_as_mbedtls(VARIANTS["glued"])
    assert len(glued.ders) == 3 and glued.stop_offset is None
    bad = read_as_mbedtls(VARIANTS["indented-body"])
    assert len(bad.ders) == 2 and [b.error for b in bad.pem_failures] == [-0x112C]
    assert not read_as_mbedtls(VARIANTS["utf16"]).pem


def test_inspect_fails_the_parse_gate_for_roots_the_device_never_loads(
    tmp_path: object,
) -> None:
    """`inspect --fail-on unparseable` (the CI gate) fails a file whose second root mbedTLS
    never reaches, and names why; a file it reads as written passes."""
    from pathlib import Path

    from click.testing import CliRunner

    from esp_cabundle.cli import cli

    d = Path(str(tmp_path))
    (d / "stop.pem").write_bytes(VARIANTS["two-spaces-after-begin"])
    (d / "plain.pem").write_bytes(VARIANTS["plain"])
    r = CliRunner().invoke(cli, ["inspect", str(d / "stop.pem"), "--fail-on", "unparseable"])
    assert r.exit_code == 1
    out = " ".join(r.output.split())
    assert "mbedTLS stops reading the file at this BEGIN" in out
    assert "not loaded by mbedTLS from this file" in out
    assert "the unit's mbedTLS does not load it from this file as stored (see the note)" in out
    r = CliRunner().invoke(cli, ["inspect", str(d / "plain.pem"), "--fail-on", "unparseable"])
    assert r.exit_code == 0, r.output
