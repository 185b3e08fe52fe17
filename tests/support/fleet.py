"""Fleets of simulated units for the push tests: factories, the CA to push, and the
file-by-file check of a unit's image after a campaign."""

from __future__ import annotations

import functools
import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from esp_cabundle.cli import cli
from esp_cabundle.fs import create_image, open_image
from esp_cabundle.virtual.mdash_cloud import MdashCloud
from esp_cabundle.virtual.rpc import MdashUnit, MongooseUnit, SimUnit

__all__ = [
    "LFS_IMAGE",
    "SPIFFS_IMAGE",
    "assert_updated",
    "ca_bytes",
    "full_mongoose_unit",
    "invoke",
    "mdash_unit",
    "mongoose_unit",
    "write_ca",
]

DATA = Path(__file__).resolve().parent.parent / "data" / "serial"
LFS_IMAGE = DATA / "mongoose-lfs20-256k.bin"  # Mongoose OS LittleFS 2.0, lived-in
SPIFFS_IMAGE = DATA / "idf-arduino-1408k.bin"  # ESP-IDF spiffsgen, mDash-style files


@functools.cache
def _image(path: Path) -> bytes:
    return path.read_bytes()


@functools.cache
def ca_bytes(preset: str = "letsencrypt") -> bytes:
    """The CA file a campaign pushes: ``esp-cabundle build --preset PRESET``."""
    from esp_cabundle.bundle import BundleSpec
    from esp_cabundle.dates import now
    from esp_cabundle.gate import CaSource, gate_ca

    return gate_ca(CaSource.build(BundleSpec(presets=(preset,))), at=now()).pem


def write_ca(directory: Path, preset: str = "letsencrypt") -> Path:
    p = directory / "ca.pem"
    p.write_bytes(ca_bytes(preset))
    return p


def dst_mdash_fleet(directory: Path, key: str, *, dst: Sequence[int]) -> MdashCloud:
    """The fleet whose "goes dark" push says: mDash units dev1 and dev2 (whose writes
    never read back whole, so the campaign stays unsettled), those at ``dst`` holding
    DST Root CA X3 alone, behind a cloud taking ``key``; in ``directory``, the CA to push
    (ca.pem) and mdash.net's chain saved as 2024's Let's Encrypt short chain."""
    repo = DATA.parent.parent.parent
    (directory / "chains").mkdir()
    chain = repo / "examples/chains/letsencrypt-2024-short.pem"
    shutil.copy(chain, directory / "chains/mdash.net.pem")
    write_ca(directory)
    units = [mdash_unit("dev1"), mdash_unit("dev2", corrupt_writes=100)]
    for i in dst:
        units[i].image.write(
            "/ca.pem", (DATA.parent / "letsencrypt/dst-root-ca-x3.pem").read_bytes()
        )
    return MdashCloud(units, key)


def invoke(*argv: str, env: Mapping[str, str | None] | None = None) -> tuple[int, str]:
    """``esp-cabundle ARGV`` in this process: its exit code and all it printed. An
    exception other than click's exit is raised, so a crash is no mere exit code."""
    r = CliRunner().invoke(cli, list(argv), env=env)
    if r.exception and not isinstance(r.exception, SystemExit):
        raise r.exception
    return r.exit_code, r.stdout + r.stderr


def mongoose_unit(uid: str, **kw: Any) -> MongooseUnit:
    return MongooseUnit(uid, open_image(_image(LFS_IMAGE)), **kw)


def mdash_unit(uid: str, **kw: Any) -> MdashUnit:
    return MdashUnit(uid, open_image(_image(SPIFFS_IMAGE)), **kw)


def full_mongoose_unit(
    uid: str, *, blocks: int = 8, old_ca: bytes = b"old CA\n" * 64, spare: int = 0, **kw: Any
) -> MongooseUnit:
    """A unit whose small LittleFS (``blocks`` of 4 KiB) holds ``old_ca`` and is filled up
    but for ``spare`` 4 KiB files removed again: by default room for its CA file, not for a
    second copy."""
    image = create_image("littlefs", "mongoose-os", blocks * 4096)
    image.write("/ca.pem", old_ca)
    image.write("/conf9.json", b'{"wifi": {"sta": {"pass": "hunter2"}}}')
    filler = 0
    while True:
        try:
            image.write(f"/fill{filler}.bin", b"\xa5" * 4096)
        except Exception:
            break
        filler += 1
    for n in range(filler - spare, filler):
        image.remove(f"/fill{n}.bin")
    return MongooseUnit(uid, open_image(image.to_bytes()), **kw)


def assert_updated(unit: SimUnit, ca: bytes, *, original: bytes | None = None) -> None:
    """The unit's image mounts anew, holds ``ca`` at /ca.pem, no staging file, and
    every other file exactly as before."""
    before_img = open_image(original if original is not None else _original(unit))
    before = {f.path: before_img.read(f.path) for f in before_img.files()}
    after = unit.files()
    assert after.get("/ca.pem") == ca, f"{unit.unit_id}: /ca.pem is not the new CA"
    assert "/ca.pem.new" not in after, f"{unit.unit_id}: staging file left behind"
    before.pop("/ca.pem", None)
    after.pop("/ca.pem")
    assert after == before, f"{unit.unit_id}: other files changed"


def _original(unit: SimUnit) -> bytes:
    return _image(LFS_IMAGE if isinstance(unit, MongooseUnit) else SPIFFS_IMAGE)
