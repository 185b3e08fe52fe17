"""Seeded fuzzing of LittleFS metadata with every commit's CRC valid, in a child process.

Byte mutations (tests/test_fs_fuzz.py) mostly break a CRC, and littlefs then ignores
the commit. Here words of tag payloads in metadata blocks (superblock fields, names,
directory and CTZ pointers, sizes) are set to values littlefs trusts, and each CRC is
made valid again (tests/support/lfs_meta.py). littlefs is C: a division by zero or an
assertion kills the process (SIGFPE, SIGABRT, no message), which no ``except`` sees.
So the variants run in a child, and a death fails the test naming the variant; every
call must end in a result or an exit-2 error within the limit.
"""

from __future__ import annotations

import random
import subprocess
import sys
import time
from pathlib import Path

import pytest

TESTS = Path(__file__).parent
SEED = "lfs-commit-fuzz-1"
VARIANTS = 3000
BUDGET_S = 30.0  # the child stops early past this (a loaded machine runs fewer)
CALL_LIMIT_S = 10.0
SIZE = 64 * 1024


def _base() -> bytes:
    """A lived-in image: directories (pairs of their own), inline and CTZ files, a file
    rewritten and one removed."""
    from esp_cabundle.fs import open_image
    from esp_cabundle.fs.edit import pack_image

    files = [("/ca.pem", b"-----BEGIN CERTIFICATE-----\n" * 200), ("/cfg", b"k=v\n")]
    files += [(f"/d{i % 2}/f{i}", bytes([i]) * (700 * i + 1)) for i in range(1, 6)]
    img = open_image(pack_image("littlefs", "esp-idf", SIZE, files).data)
    img.write("/cfg", b"k=other\n" * 30)
    img.remove("/d1/f3")
    return img.to_bytes()


def _use(data: bytes) -> None:
    """What the commands do with an image: list, read, put the CA, remove; and mount
    it as a unit's partition is mounted (through a store, the profile given)."""
    from esp_cabundle.fs import open_image
    from esp_cabundle.fs.lfs_device import BufferStore
    from esp_cabundle.fs.littlefs import LittleFsImage

    img = open_image(data)
    for f in img.files():
        img.read(f.path)
    img.write("/ca.pem", b"-----BEGIN CERTIFICATE-----\nnew\n" * 30)
    img.remove(img.files()[-1].path)
    open_image(img.to_bytes())
    unit = LittleFsImage.mount(BufferStore(data), len(data), "esp-idf")
    for f in unit.files():
        unit.read(f.path)


def child() -> None:
    """Run in the child: one line per variant before it is tried (the last one names a
    variant that killed the process), BAD lines for wrong outcomes."""
    from support.fuzzing import timed
    from support.lfs_meta import metadata_blocks, mutate_commits

    from esp_cabundle.errors import EspCabundleError

    base = _base()
    metas = metadata_blocks(base)
    rng = random.Random(SEED)
    start = time.monotonic()
    for i in range(VARIANTS):
        if time.monotonic() - start > BUDGET_S:
            break
        data = mutate_commits(base, rng, metas)
        if rng.random() < 0.3:
            data = mutate_commits(data, rng, metas)
        print(f"TRY {i}", flush=True)
        _result, error, seconds = timed(lambda data=data: _use(data))  # type: ignore[misc]
        if seconds > CALL_LIMIT_S:
            print(f"BAD {i}: took {seconds:.1f} s", flush=True)
        if error is not None and not (isinstance(error, EspCabundleError) and error.exit_code == 2):
            print(f"BAD {i}: {type(error).__name__}: {error!r}", flush=True)
    print(f"DONE {i + 1}", flush=True)


@pytest.mark.slow
@pytest.mark.timeout(180)
def test_fuzz_littlefs_commits_with_valid_crcs() -> None:
    code = f"import sys; sys.path.insert(0, {str(TESTS)!r}); import {__name__} as t; t.child()"
    r = subprocess.run(
        [sys.executable, "-c", code],
        cwd=TESTS.parent,
        capture_output=True,
        text=True,
        timeout=170,
    )
    lines = r.stdout.splitlines()
    tried = [line for line in lines if line.startswith("TRY ")]
    last = tried[-1] if tried else "before the first variant"
    assert r.returncode == 0, f"the child died ({r.returncode}) at {last}: {r.stderr[-2000:]}"
    bad = [line for line in lines if line.startswith("BAD ")]
    assert not bad, bad[:10]
    assert lines[-1].startswith("DONE ") and len(tried) >= 50, (lines[-1:], len(tried))
