"""SPIFFS: time to build a 1408 KiB image (the Arduino-ESP32 default ``spiffs`` partition)
from the ESP-IDF vector's files, for each profile, how many 4 KiB sectors replacing
``ca.pem`` touches on each vendor image (tests/data/spiffs), and how long writes that
need garbage collection over and over take: a file nearly filling the 1408 KiB image,
and 10 MB and 12 MB files into an empty 15 MiB image (the 12 MB one refused: the
index-header pages each 256-byte append leaves deleted do not fit).

Targets: the esp-idf build no slower than spiffsgen.py (about 0.11 s here); a ca.pem
replacement touches <= 6 sectors; the 12 MB write answered in seconds (the victim
search that scored every block per collection took 42 s here). Run:
    python benchmarks/bench_spiffs.py [--runs N]
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

from esp_cabundle.errors import ImageError
from esp_cabundle.fs.spiffs import SpiffsImage, build_spiffs_image

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "tests" / "data"
SIZE = 1408 * 1024
ORDER = ["ca.pem", "mdash.cfg", "big.dat", "certs/extra.pem"]
VECTORS = ["idf-64k.bin", "idf-arduino-1408k.bin", "mongoose-256k.bin"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=9)
    args = parser.parse_args()

    files = [(n, (DATA / "spiffs" / "idf_src" / n).read_bytes()) for n in ORDER]
    print(f"build {SIZE // 1024} KiB SPIFFS image ({len(files)} files, median of {args.runs}):")
    for profile in ("esp-idf", "mongoose-os"):
        times = []
        for _ in range(args.runs):
            t0 = time.perf_counter()
            build_spiffs_image(files, size=SIZE, profile=profile)
            times.append(time.perf_counter() - t0)
        print(
            f"  {profile:12s} {statistics.median(times) * 1000:8.2f} ms   (spiffsgen.py: ~110 ms)"
        )

    new_ca = (DATA / "letsencrypt" / "isrgrootx1.pem").read_bytes() + (
        DATA / "letsencrypt" / "isrg-root-x2.pem"
    ).read_bytes()
    print(f"replace ca.pem ({len(new_ca)} bytes) in place:")
    for name in VECTORS:
        img = SpiffsImage.open((DATA / "spiffs" / name).read_bytes())
        old = len(img.read("/ca.pem"))
        t0 = time.perf_counter()
        img.write("/ca.pem", new_ca)
        elapsed = time.perf_counter() - t0
        blocks = img.changed_blocks()
        print(
            f"  {name:24s} {img.profile.name:12s} old {old} bytes: {len(blocks)} sectors "
            f"touched {blocks} (target <= 6), {elapsed * 1000:.1f} ms"
        )

    print("writes that collect garbage again and again (one run each):")
    lived = build_spiffs_image(files, size=SIZE, profile="esp-idf")
    for label, image, size in (
        ("1 MB into the 1408 KiB image", lived, 1_000_000),
        ("10 MB into an empty 15 MiB image", None, 10_000_000),
        ("12 MB into an empty 15 MiB image", None, 12_000_000),
    ):
        img = SpiffsImage.open(image) if image else SpiffsImage.create(15 << 20, "esp-idf")
        data = (bytes(range(251)) * (size // 251 + 1))[:size]
        t0 = time.perf_counter()
        try:
            img.write("/big.bin", data)
            result = f"written, {img.gc_runs} collections"
        except ImageError as e:
            result = "refused: " + str(e).splitlines()[0].split("(", 2)[-1].rstrip(")")
        print(f"  {label:34s} {time.perf_counter() - t0:7.2f} s   {result}")


if __name__ == "__main__":
    main()
