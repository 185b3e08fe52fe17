"""Whole-flash dumps assembled from the vendors' vectors: real tables, real file systems."""

from __future__ import annotations

import random
from pathlib import Path

from esp_cabundle.blocks import SECTOR_SIZE, SectorWrite
from esp_cabundle.flash.dump import DumpFile

DATA = Path(__file__).resolve().parent.parent / "data"
FLASH_4M = 0x400000

# A fake but well-formed ESP image header: magic, 3 segments, DIO, 4 MB | 40 MHz, then
# entry point, the extended header (wp pin, drive settings, chip id 0 = ESP32).
BOOTLOADER_HEADER = bytes([0xE9, 3, 2, 0x20]) + b"\x00" * 8 + b"\x00\x00" + b"\x00" * 10


def table(name: str) -> bytes:
    return (DATA / "partitions" / f"{name}.bin").read_bytes()


def pem(name: str) -> bytes:
    return (DATA / "letsencrypt" / name).read_bytes()


def der(name: str) -> bytes:
    from esp_cabundle.certs import load_certificates

    return load_certificates(pem(name))[0].der


def app_image(seed: int = 1) -> bytes:
    """An app-like blob: image magic, noise, an embedded PEM (ISRG Root X1 at 0x6000),
    a DER certificate (ISRG Root X2 at 0x8000), and mbedTLS-like header strings."""
    rnd = random.Random(seed)
    blob = bytearray(b"\xe9" + bytes(rnd.getrandbits(8) for _ in range(0x9FFF)))
    x1 = pem("isrgrootx1.pem")
    blob[0x6000 : 0x6000 + len(x1) + 1] = x1 + b"\x00"
    x2 = der("isrg-root-x2.pem")
    blob[0x8000 : 0x8000 + len(x2)] = x2
    lib = b"-----BEGIN CERTIFICATE-----\x00-----END CERTIFICATE-----\x00"
    blob[0x9000 : 0x9000 + len(lib)] = lib
    return bytes(blob)


def arduino_dump() -> bytes:
    """Arduino default layout: app0 with embedded certificates, the mDash SPIFFS image
    (ca.pem, mdash.cfg, big.dat, certs/extra.pem) at 0x290000, some NVS bytes."""
    flash = bytearray(b"\xff" * FLASH_4M)
    flash[0x1000 : 0x1000 + len(BOOTLOADER_HEADER)] = BOOTLOADER_HEADER
    t = table("arduino-default")
    flash[0x8000 : 0x8000 + len(t)] = t
    nvs = b"NVS: wifi-ssid=lab; device-key=secret" * 20
    flash[0x9000 : 0x9000 + len(nvs)] = nvs
    app = app_image()
    flash[0x10000 : 0x10000 + len(app)] = app
    image = (DATA / "spiffs" / "idf-arduino-1408k.bin").read_bytes()
    assert len(image) == 0x160000
    flash[0x290000 : 0x290000 + len(image)] = image
    return bytes(flash)


def mongoose_dump(*, fs_1: bool = True) -> bytes:
    """Mongoose OS layout with the lived-in LittleFS 2.0 image in fs_0 (and fs_1)."""
    flash = bytearray(b"\xff" * FLASH_4M)
    t = table("mongoose-os-esp32")
    flash[0x8000 : 0x8000 + len(t)] = t
    flash[0x9000:0x9100] = bytes(range(256))
    app = app_image(2)
    flash[0x10000 : 0x10000 + len(app)] = app
    image = (DATA / "littlefs" / "mongoose-lfs20-256k.bin").read_bytes()
    assert len(image) == 0x40000
    flash[0x190000 : 0x190000 + len(image)] = image
    if fs_1:
        flash[0x350000 : 0x350000 + len(image)] = image
    return bytes(flash)


def with_random(flash: bytes, offset: int, size: int, seed: int = 7) -> bytes:
    """``flash`` with ``size`` bytes of noise at ``offset`` (ciphertext look-alike)."""
    rnd = random.Random(seed)
    out = bytearray(flash)
    out[offset : offset + size] = bytes(rnd.getrandbits(8) for _ in range(size))
    return bytes(out)


def outside_equal(a: bytes, b: bytes, ranges: list[tuple[int, int]]) -> bool:
    """True when ``a`` and ``b`` agree on every byte outside ``ranges`` (offset, end)."""
    if len(a) != len(b):
        return False
    pos = 0
    for start, end in sorted(ranges):
        if a[pos:start] != b[pos:start]:
            return False
        pos = end
    return a[pos:] == b[pos:]


def differing_sectors(a: bytes, b: bytes) -> list[int]:
    return [o for o in range(0, len(a), 0x1000) if a[o : o + 0x1000] != b[o : o + 0x1000]]


class CountingDump(DumpFile):
    """A dump that records every read and MD5 (offset, length), as a serial link would
    carry them."""

    def __init__(self, data: bytes) -> None:
        super().__init__(data, name="dump")
        self.reads: list[tuple[int, int]] = []
        self.md5s: list[tuple[int, int]] = []

    def read(self, offset: int, length: int) -> bytes:
        self.reads.append((offset, length))
        return super().read(offset, length)

    def md5(self, offset: int, length: int) -> str:
        self.md5s.append((offset, length))
        return super().md5(offset, length)

    @property
    def bytes_read(self) -> int:
        return sum(n for _, n in self.reads)


def cut_states(
    old: bytes, writes: tuple[SectorWrite, ...], *, torn: bool
) -> list[tuple[str, bytes]]:
    """The dump after a cut at every sector boundary of the plan's order, and with
    ``torn`` inside every sector too (erased, half programmed, half erased)."""
    states = [("before any write", old)]
    done = bytearray(old)
    half = SECTOR_SIZE // 2
    for i, w in enumerate(writes):
        if torn:
            for name, content in (
                ("erased", b"\xff" * SECTOR_SIZE),
                ("half programmed", w.new[:half] + b"\xff" * half),
                ("half erased", b"\xff" * half + w.old[half:]),
            ):
                state = bytearray(done)
                state[w.offset : w.offset + SECTOR_SIZE] = content
                states.append((f"sector {i} {name}", bytes(state)))
        assert done[w.offset : w.offset + SECTOR_SIZE] == w.old
        done[w.offset : w.offset + SECTOR_SIZE] = w.new
        states.append((f"after sector {i}", bytes(done)))
    return states
