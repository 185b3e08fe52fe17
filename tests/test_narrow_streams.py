"""Output on a stream that is not UTF-8: the tool's own "—" and "←" were written as
UTF-8 bytes under PYTHONIOENCODING=ascii (click writes UTF-8 past an ASCII stream) and
as a literal ``\\u2014`` under latin-1; only "…" fell back. Now each is its ASCII form,
and a name the stream cannot carry stays escaped."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from esp_cabundle.narrow_streams import ASCII_FORMS

REPO = Path(__file__).resolve().parent.parent
CHAIN = REPO / "examples" / "chains" / "letsencrypt-2024-short.pem"


def _run(args: list[str], encoding: str, cwd: Path) -> subprocess.CompletedProcess[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LC_", "PYTHONIO"))}
    env.update(PYTHONIOENCODING=encoding, LANG="C", COLUMNS="200")
    return subprocess.run(
        [sys.executable, "-m", "esp_cabundle", *args],
        capture_output=True, env=env, cwd=cwd, timeout=120, check=False,
    )  # fmt: skip


@pytest.fixture(scope="module")
def ca_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    where = tmp_path_factory.mktemp("narrow")
    made = _run(["build", "--preset", "letsencrypt", "-o", "ca.pem", "-q"], "utf-8", where)
    assert made.returncode == 0, made.stderr
    (where / "caf\u00e9.pem").write_bytes((where / "ca.pem").read_bytes())
    # dated: a chain with no "# captured:" line is not taken as renewed (fails in 2027)
    (where / "chain.pem").write_bytes(b"# captured: 2026-05-01\n" + CHAIN.read_bytes())
    return where


@pytest.mark.parametrize("encoding", ["ascii", "latin-1", "ascii:strict", "latin-1:strict"])
def test_check_forecast_falls_back_to_ascii_forms(ca_dir: Path, encoding: str) -> None:
    args = ["check", "--bundle", "ca.pem", "--chain", "chain.pem", "--at", "2026-06-01"]
    r = _run([*args, "--until", "2040-01-01", "--device", "mbedtls-clock"], encoding, ca_dir)
    assert r.returncode == 1, r.stderr  # the forecast fails in 2035: its negative verdict
    out = (r.stdout + r.stderr).decode(encoding.split(":")[0])
    assert "UnicodeEncodeError" not in out and "Traceback" not in out, out
    assert "\\u" not in out, out
    assert not set(out) & set(ASCII_FORMS), out
    assert "Device: mbedtls-clock - mbedTLS CA list" in out, out
    assert "'R11' (sent) <- 'ISRG Root X1' (bundle)" in out, out
    assert "ISRG Root X1 expires - the device fails from then on" in out, out


@pytest.mark.parametrize("encoding", ["ascii", "latin-1"])
def test_help_is_plain_where_the_stream_is_narrow(ca_dir: Path, encoding: str) -> None:
    r = _run(["check", "--help"], encoding, ca_dir)
    assert r.returncode == 0, r.stderr
    out = r.stdout.decode("ascii")  # nothing but ASCII, not UTF-8 bytes past the stream
    assert "accept their servers' chains - now, and" in out, out


def test_a_name_the_stream_lacks_stays_escaped(ca_dir: Path) -> None:
    """A user's file name is escaped as before, not written as UTF-8 bytes."""
    r = _run(["inspect", "caf\u00e9.pem"], "ascii", ca_dir)
    assert r.returncode == 0, r.stderr
    assert "caf\\xe9.pem" in r.stdout.decode("ascii"), r.stdout
