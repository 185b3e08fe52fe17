"""A real littlefs older than 2.6 (on-disk 2.0 only), as units before mid 2023 run it.

littlefs-python 0.4.0 bundles littlefs 2.4 (``littlefs.__LFS_VERSION__ == (2, 4)``,
disk version 2.0): the same on-disk format and the same version check at mount as the
littlefs 2.5 of Mongoose OS, esp_littlefs < 1.6 and Arduino-ESP32 2.0.x; a 2.1 image
fails there with -84, as on those units. It cannot share a process with the
littlefs-python the project uses, so ``.ci/run`` installs it into a directory of its own
(``pip install --no-deps --target DIR littlefs-python==0.4.0 'setuptools<81'``) and exports
``ESP_CABUNDLE_OLD_LITTLEFS=DIR``; each mount runs in a child interpreter with ``DIR``
first on its path. Without it, tests skip locally and fail under CI. littlefs-python
0.4.0 has wheels up to CPython 3.11 only, so the child may be another interpreter than
the suite's: ``ESP_CABUNDLE_OLD_LITTLEFS_PYTHON`` (the one that installed ``DIR``; default:
the suite's own).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ENV = "ESP_CABUNDLE_OLD_LITTLEFS"
PYTHON_ENV = "ESP_CABUNDLE_OLD_LITTLEFS_PYTHON"

# Runs in the child: mount like a unit, read every file, write one (the device keeps
# writing), mount again and read it back. Prints one JSON line.
_CHILD = r"""
import hashlib, json, sys
sys.path.insert(0, sys.argv[1])
import littlefs
from littlefs import LittleFS, LittleFSError
from littlefs.context import UserContext
image, rw, cache, lookahead = sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
data = open(image, "rb").read()
ctx = UserContext(len(data))
ctx.buffer[:] = data
def mount():
    fs = LittleFS(context=ctx, block_size=4096, block_count=len(data) // 4096, read_size=rw,
                  prog_size=rw, cache_size=cache, lookahead_size=lookahead, mount=False)
    fs.mount()
    return fs
out = {"littlefs": list(littlefs.__LFS_VERSION__)}
try:
    fs = mount()
except LittleFSError as e:
    out["error"] = e.code
    print(json.dumps(out))
    sys.exit(0)
def walk(fs, d):
    for name in fs.listdir(d):
        path = d.rstrip("/") + "/" + name
        if fs.stat(path).type == 2:
            yield from walk(fs, path)
        else:
            yield path
files = {}
for path in walk(fs, "/"):
    with fs.open(path, "rb") as f:
        files[path] = hashlib.sha256(f.read()).hexdigest()
out["files"] = files
with fs.open("/device-wrote.txt", "wb") as f:
    f.write(b"written by the unit\n" * 20)
# (littlefs 2.4 bindings have no unmount: the closed file is committed)
again = mount()
with again.open("/device-wrote.txt", "rb") as f:
    out["write_ok"] = f.read() == b"written by the unit\n" * 20
print(json.dumps(out))
"""


@dataclass(frozen=True)
class OldMount:
    littlefs: tuple[int, ...]
    error: int | None  # littlefs error code when the mount failed
    files: dict[str, str]  # path -> sha256 hex
    write_ok: bool


def old_littlefs_dir() -> Path:
    """The directory holding littlefs-python 0.4.0; skip (fail under CI) without it."""
    raw = os.environ.get(ENV)
    where = Path(raw) if raw else None
    if where is None or not (where / "littlefs").is_dir():
        message = (
            f"{ENV} is not set to a directory holding littlefs-python 0.4.0 (littlefs 2.4); "
            "run: pip install --no-deps --target DIR littlefs-python==0.4.0 'setuptools<81' "
            f"&& export {ENV}=DIR"
        )
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return where


def mount_old(image: bytes, tmp: Path, *, rw: int = 128, cache: int = 128) -> OldMount:
    """Mount ``image`` with littlefs 2.4 (unit-like config), read all, write one file."""
    where = old_littlefs_dir()
    path = tmp / "old-littlefs-image.bin"
    path.write_bytes(image)
    r = subprocess.run(
        [
            os.environ.get(PYTHON_ENV) or sys.executable,
            "-c",
            _CHILD,
            str(where),
            str(path),
            str(rw),
            str(cache),
            "64",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 0, r.stderr
    got = json.loads(r.stdout)
    return OldMount(
        littlefs=tuple(got["littlefs"]),
        error=got.get("error"),
        files=got.get("files", {}),
        write_ok=bool(got.get("write_ok")),
    )
