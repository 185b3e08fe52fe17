"""README's "From Python" stays true: its ```python block runs as a script, as a user
would run it, in a scratch directory holding a copy of examples/ plus the two files it
names that a user brings (their own root, a unit's whole-flash dump), and passes
``mypy --strict``: every name it uses is public, typed, and imported from
``esp_cabundle`` itself.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from support import dumps
from support.doc_commands import REPO, child_env, copy_examples, fenced_blocks

from esp_cabundle import open_image

README = REPO / "README.md"
# What the block's user brings: their own root (a test server's CA), and a unit's flash.
MY_ROOT = REPO / "tests/data/letsencrypt/staging-letsencrypt-stg-root-x1.pem"


def python_block() -> str:
    """The one ```python block of README's "From Python" section."""
    text = README.read_text()
    section = text.split("\n## From Python\n", 1)[1].split("\n## ", 1)[0]
    blocks = fenced_blocks(section, "python")
    assert len(blocks) == 1, "From Python has one python block"
    return blocks[0][1] + "\n"


@pytest.fixture
def script(tmp_path: Path) -> Path:
    copy_examples(tmp_path / "examples")
    shutil.copy(MY_ROOT, tmp_path / "my-root.pem")
    (tmp_path / "dump.bin").write_bytes(dumps.arduino_dump())
    path = tmp_path / "readme_api.py"
    path.write_text(python_block())
    return path


@pytest.mark.timeout(180)
def test_the_python_block_runs_as_shown(script: Path) -> None:
    scratch = script.parent
    r = subprocess.run(
        [sys.executable, script.name],
        cwd=scratch, env=child_env(), capture_output=True, text=True, timeout=150, check=False,
    )  # fmt: skip
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stderr == "", r.stderr  # a library call that printed to stderr
    # What it says it does: outputs written, an image of the board, the dump's CA read.
    for name in ("out/ca.pem", "out/ca_pem.h", "out/spiffs.bin", "spiffs.bin"):
        assert (scratch / name).is_file(), name
    image = open_image((scratch / "spiffs.bin").read_bytes())
    assert image.read("/ca.pem") == (scratch / "out/ca.pem").read_bytes()
    # the build's image and pack_ca's are the same bytes: one engine behind both
    assert (scratch / "out/spiffs.bin").read_bytes() == (scratch / "spiffs.bin").read_bytes()
    out = r.stdout
    assert "accepted by mdash.net under mdash-arduino rules" in out
    assert "spiffs ['ISRG Root X1', 'ISRG Root X2', 'DST Root CA X3']" in out  # the dump's
    assert "1 1 policy violated" in out  # PolicyError: exit code 1 and its message
    assert "2 missing.pem None" in out  # InputError: exit code 2, the path


@pytest.mark.timeout(180)
def test_the_python_block_passes_mypy_strict(script: Path) -> None:
    """As a user's build script would be checked: errors inside the package itself are
    mypy's own run's business (``--follow-imports=silent``), the block's are this test's."""
    env = dict(os.environ, MYPYPATH=str(REPO))  # the source under test, even if installed
    r = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--follow-imports=silent",
         "--cache-dir", str(script.parent / ".mypy_cache"), script.name],
        cwd=script.parent, env=env, capture_output=True, text=True, timeout=150, check=False,
    )  # fmt: skip
    assert r.returncode == 0, r.stdout + r.stderr
