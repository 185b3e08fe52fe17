"""Replacing ca.pem on a unit: what crosses the serial link, what the flash goes through,
and a modeled time at 921600 baud, for ``esp-cabundle flash`` and two baselines.

Scenarios (the vendor vectors, on a virtual ESP32 driven by real esptool):
  * Mongoose OS, the 256 KiB LittleFS 2.0 partition fs_0 (and, on a second line, the
    whole board: fs_0 and fs_1);
  * Arduino-ESP32 + mDash, the 1408 KiB SPIFFS partition ``spiffs``.

Methods, each in one connection (connecting and loading the stub, the same for all, is
shown once per scenario and left out of the figures):
  * flash: ``esp-cabundle flash`` (flash_ca): table, sparse reads, journal MD5s, the
    changed sectors, verification and read-back;
  * full write: write a freshly built partition image whole (loses files made on the unit);
  * careful: read the whole partition, rebuild it on the host, write it whole (what a
    careful technician does with esptool read-flash / write-flash).

Cost model (documented, not measured: the virtual unit is instant):
  * wire: every byte both ways at 921600 baud, 10 bits per byte (start, 8 data, stop);
  * 2 ms per command round trip (USB-serial latency; an FTDI adapter's default 16 ms
    latency timer would favour fewer commands even more);
  * 45 ms per 4 KiB sector erase and 0.7 ms per 256-byte page program (typical of the
    25Q32-class NOR flash on ESP32 modules); a second line gives the baselines 64 KiB
    block erases (150 ms) where they write whole blocks, as esptool's stub does;
  * the stub's MD5: 8 MB/s of flash hashed (SPI read and software MD5 on the chip).

Targets: flash erases <= 6 sectors per partition, moves <= 10 % of the careful
baseline's bytes, and is modeled >= 15x faster. Run:
    python benchmarks/bench_flash.py
    python benchmarks/bench_flash.py --quick    # the first scenario only (a few seconds)
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT))

from support.gated import gated  # noqa: E402
from support.layouts import load_arduino, load_mongoose  # noqa: E402

from esp_cabundle.boards import Board, load_board  # noqa: E402
from esp_cabundle.flash.flasher import flash_ca  # noqa: E402
from esp_cabundle.flash.journal import Journal  # noqa: E402
from esp_cabundle.flash.offline import update_dump  # noqa: E402
from esp_cabundle.flash.serial import SerialUnit, open_unit  # noqa: E402
from esp_cabundle.virtual import VirtualESP32  # noqa: E402

LETSENCRYPT = ROOT / "tests" / "data" / "letsencrypt"
NEW_CA = b"".join(
    (LETSENCRYPT / n).read_bytes() for n in ("isrgrootx1.pem", "isrg-root-x2.pem", "2024-r10.pem")
)
BAUD = 921600
BITS_PER_BYTE = 10
COMMAND_S = 0.002
ERASE_S = 0.045
BLOCK_ERASE_S = 0.150
PAGE_PROGRAM_S = 0.0007
MD5_BYTES_PER_S = 8_000_000


@dataclasses.dataclass
class Figures:
    bytes_in: int = 0  # host -> unit
    bytes_out: int = 0  # unit -> host
    commands: int = 0
    erased: int = 0
    programmed: int = 0
    hashed: int = 0
    wall: float = 0.0

    @property
    def total(self) -> int:
        return self.bytes_in + self.bytes_out

    @property
    def modeled(self) -> float:
        return (
            self.total * BITS_PER_BYTE / BAUD
            + self.commands * COMMAND_S
            + self.erased * ERASE_S
            + self.programmed * 16 * PAGE_PROGRAM_S
            + self.hashed / MD5_BYTES_PER_S
        )


def measure(unit: VirtualESP32, session: SerialUnit, op: Callable[[], Any]) -> Figures:
    """Run ``op`` on a connected unit; the link and flash counters' difference."""
    hashed = [0]
    esp = session._esp  # count what the stub hashes: every MD5 goes through here
    real = esp.flash_md5sum

    def counting(addr: int, size: int) -> Any:
        hashed[0] += size
        return real(addr, size)

    esp.flash_md5sum = counting
    s = unit.stats
    before = (
        s.bytes_in,
        s.bytes_out,
        sum(s.commands.values()),
        s.sectors_erased,
        s.sectors_programmed,
    )
    t0 = time.perf_counter()
    try:
        op()
    finally:
        esp.flash_md5sum = real
    wall = time.perf_counter() - t0
    return Figures(
        s.bytes_in - before[0],
        s.bytes_out - before[1],
        sum(s.commands.values()) - before[2],
        s.sectors_erased - before[3],
        s.sectors_programmed - before[4],
        hashed[0],
        wall,
    )


def new_images(load: Callable[[VirtualESP32], None], board: Board) -> dict[int, bytes]:
    """The target partition images, built offline from the same layout (host work)."""
    scratch = VirtualESP32("esp32")
    load(scratch)
    dump = bytes(scratch.flash)
    result = update_dump(dump, board, gated(NEW_CA, board))
    return {
        u.partition.offset: result.flash[u.partition.offset : u.partition.end]
        for u in result.plan.changes
    }


def scenario(name: str, load: Callable[[VirtualESP32], None], board: Board) -> None:
    fs = board.filesystem
    assert fs is not None
    images = new_images(load, board)
    rows: dict[str, Figures] = {}
    connect = Figures()
    for method in ("flash", "full write", "careful"):
        unit = VirtualESP32("esp32").start()
        try:
            load(unit)
            s = unit.stats
            with open_unit(unit.url, connect_attempts=1) as session:
                connect = Figures(s.bytes_in, s.bytes_out, sum(s.commands.values()))
                if method == "flash":
                    with tempfile.TemporaryDirectory() as journal:

                        def op() -> None:
                            flash_ca(
                                session,
                                board,
                                gated(NEW_CA, board),
                                mac=session.info.mac,
                                journal=Journal(journal),
                            )

                        rows[method] = measure(unit, session, op)
                elif method == "full write":

                    def op() -> None:
                        for offset, image in images.items():
                            session.write(offset, image)

                    rows[method] = measure(unit, session, op)
                else:

                    def op() -> None:
                        for offset, image in images.items():
                            session.read(offset, len(image))
                            session.write(offset, image)

                    rows[method] = measure(unit, session, op)
        finally:
            unit.stop()
    size = sum(len(i) for i in images.values())
    print(
        f"\n{name}: replace ca.pem ({len(gated(NEW_CA, board).pem)} bytes) "
        f"in {len(images)} partition(s) "
        f"of {size // 1024} KiB"
    )
    print(
        f"  (connect + stub, the same for every method: {connect.bytes_in:,} B in, "
        f"{connect.bytes_out:,} B out, {connect.commands} commands)"
    )
    print(
        f"  {'method':<11} {'host->unit':>11} {'unit->host':>11} {'commands':>9} {'erased':>7} "
        f"{'hashed':>10} {'modeled':>9}"
    )
    for method, f in rows.items():
        print(
            f"  {method:<11} {f.bytes_in:>10,}B {f.bytes_out:>10,}B {f.commands:>9} {f.erased:>7} "
            f"{f.hashed:>9,}B {f.modeled:>8.2f}s"
        )
    ours, careful = rows["flash"], rows["careful"]
    per_partition = ours.erased / len(images)
    share = ours.total / careful.total
    speedup = careful.modeled / ours.modeled
    print(
        f"  flash: {per_partition:.0f} sector(s) erased per partition (target <= 6), "
        f"{share:.1%} of the careful baseline's bytes (target <= 10 %), "
        f"{speedup:.0f}x faster modeled (target >= 15x)"
    )
    with_connect = (ours.total + connect.total) / (careful.total + connect.total)
    print(f"  counting the connection for both: {with_connect:.1%} of the careful baseline's bytes")
    # The stub erases whole 64 KiB blocks where a write covers them; a whole-partition
    # write then pays 150 ms per block instead of 16 x 45 ms. Our scattered sectors gain
    # nothing from it. The same comparison under that kinder model for the baselines:
    block = careful.modeled - careful.erased * ERASE_S + careful.erased / 16 * BLOCK_ERASE_S
    print(
        f"  with 64 KiB block erases ({BLOCK_ERASE_S * 1000:.0f} ms) for the whole-partition "
        f"writes: careful {block:.2f}s, {block / ours.modeled:.0f}x"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="the Mongoose OS fs_0 scenario only")
    quick = ap.parse_args().quick
    print(__doc__.split("Cost model")[0].splitlines()[0])
    mongoose = load_board("mongoose-os-esp32")
    fs = mongoose.filesystem
    assert fs is not None
    fs_0_only = dataclasses.replace(
        mongoose, filesystem=dataclasses.replace(fs, partitions=("fs_0",))
    )
    scenario("Mongoose OS fs_0 (LittleFS 2.0, 256 KiB)", load_mongoose, fs_0_only)
    if quick:
        return
    scenario(
        "Arduino-ESP32 + mDash spiffs (SPIFFS, 1408 KiB)", load_arduino, load_board("mdash-arduino")
    )
    scenario("Mongoose OS board: fs_0 and fs_1", load_mongoose, mongoose)


if __name__ == "__main__":
    main()
