"""``build -o -`` of a binary output (DER, an ESP-IDF bundle) when standard output is a
terminal (a ``> file`` forgotten) is refused before anything is written, the lock
included, as gzip and openssl refuse: before, the bundle's bytes garbled the terminal
and were kept nowhere, and the lock was rewritten."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(not hasattr(os, "openpty"), reason="needs a pseudo-terminal")


def _at_terminal(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    main, tty = os.openpty()
    try:
        return subprocess.run(
            [sys.executable, "-m", "esp_cabundle", "build", "--preset", "letsencrypt", *args],
            cwd=cwd,
            stdout=tty,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            text=True,
            timeout=120,
        )
    finally:
        os.close(tty)
        os.close(main)


@pytest.mark.parametrize(
    ("fmt", "dest", "name"),
    [
        ("der", "-", "ca.der"),
        ("idf-bundle", "/dev/stdout", "x509_crt_bundle.bin"),
        ("spiffs", "-", "spiffs.bin"),
    ],
)
def test_a_binary_output_is_not_written_to_a_terminal(
    tmp_path: Path, fmt: str, dest: str, name: str
) -> None:
    done = _at_terminal(tmp_path, "-f", fmt, "-o", dest)
    assert done.returncode == 2, done.stderr
    assert (
        f"Error: -o {dest}: standard output is a terminal, and the {fmt} output is binary; "
        "nothing written"
    ) in done.stderr
    assert f"hint: redirect it (-o - > {name}, or | xxd) or name a file: -o {name}" in done.stderr
    assert list(tmp_path.iterdir()) == []  # no cabundle.lock either


def test_a_binary_output_still_goes_down_a_pipe(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "esp_cabundle", "build", "--preset", "letsencrypt",
         "-f", "der", "-o", "-", "--no-lock", "-q"],
        cwd=tmp_path, capture_output=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout[:1] == b"\x30" and list(tmp_path.iterdir()) == []
