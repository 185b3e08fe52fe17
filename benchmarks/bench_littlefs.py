"""LittleFS: time to build a 256 KiB image (ca.pem plus a few device files) for every
profile, and how many 4 KiB blocks replacing ca.pem touches on the Mongoose OS vector
(tests/data/littlefs/mongoose-lfs20-256k.bin, written by littlefs 2.5 itself).

Targets: ca.pem replacement touches <= 4 blocks. Run:
    python benchmarks/bench_littlefs.py [--runs N]
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

from esp_cabundle.fs.littlefs import LITTLEFS_PROFILES, LittleFsImage, build_littlefs_image

ROOT = Path(__file__).resolve().parent.parent
VECTOR = ROOT / "tests" / "data" / "littlefs" / "mongoose-lfs20-256k.bin"
LE = ROOT / "tests" / "data" / "letsencrypt"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--runs", type=int, default=9)
    args = ap.parse_args()
    ca = b"".join(p.read_bytes() for p in sorted(LE.glob("*.pem")))  # ~100 KB of PEM
    files = [
        ("/ca.pem", ca[:16384]),
        ("/conf0.json", b'{"device": {"id": "esp32_0001"}}'),
        ("/conf9.json", b'{"wifi": {"sta": {"ssid": "factory", "pass": "secret"}}}'),
        ("/big.dat", bytes(range(256)) * 117),
    ]
    print("build a 256 KiB LittleFS image (4 files, 46 KB), median of", args.runs, "runs:")
    for name in LITTLEFS_PROFILES:
        times = []
        for _ in range(args.runs):
            t0 = time.perf_counter()
            build_littlefs_image(files, size=256 * 1024, profile=name)
            times.append(time.perf_counter() - t0)
        print(f"  {name:12s} {statistics.median(times) * 1000:7.1f} ms")

    vector = VECTOR.read_bytes()
    print("replace ca.pem on the Mongoose OS vector (64 blocks):")
    for label, data in (
        ("same size (3929 B)", ca[:3929]),
        ("ISRG Root X1 (1939 B)", (LE / "isrgrootx1.pem").read_bytes()),
        ("larger (9000 B)", ca[:9000]),
    ):
        t0 = time.perf_counter()
        img = LittleFsImage.open(vector)
        img.write("/ca.pem", data)
        touched = img.changed_blocks()
        ms = (time.perf_counter() - t0) * 1000
        again = LittleFsImage.open(img.to_bytes())
        print(
            f"  {label:24s} {len(touched)} blocks touched {touched} "
            f"(target <= 4), disk {again.describe()['disk version']}, {ms:.1f} ms"
        )


if __name__ == "__main__":
    main()
