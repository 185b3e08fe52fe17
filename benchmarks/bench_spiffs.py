"""SPIFFS: time to build a 1408 KiB image (the Arduino-ESP32 default ``spiffs`` partition)
from the ESP-IDF vector's files, for each profile, how many 4 KiB sectors replacing
``ca.pem`` touches on each vendor image (tests/data/spiffs), and how long writes that
need garbage collection over and over take: a file nearly filling the 1408 KiB image,
and 10 MB and 12 MB files into an empty 15 MiB image (the 12 MB one refused: the
index-header pages each 256-byte append leaves deleted do not fit).

Targets: the esp-idf build no slower than spiffsgen.py (about 0.11 s here); a ca.pem
replacement touches <= 6 sectors; the 12 MB write answered in seconds: the victim
search that scored every block per collection took 42 s here, the index-page search
that walked every page of the file's id from the cursor 4.5 s (now about 2 s; the 10 MB
write 1.3 s -> 1.1 s). Then planning a CA update (flash, update-dump) on a lived-in,
nearly full 1408 KiB partition, where the new CA file fits only after garbage collection
across many blocks: the ordering that mounted every trial write took 61-99 s for the
127-sector esp-idf case and 110-136 s for the 189-sector one here (about 1.5 s and 1 s
now, the same plans byte for byte), figures only. Run:
    python benchmarks/bench_spiffs.py [--runs N] [--writes-only] [--write-runs N] [--plans-only]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

from esp_cabundle.errors import ImageError
from esp_cabundle.fs.spiffs import SpiffsImage, build_spiffs_image
from esp_cabundle.fs.spiffs_safe import plan_spiffs_replace

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
from support.spiffs_full import ca, nearly_full  # noqa: E402

DATA = ROOT / "tests" / "data"
SIZE = 1408 * 1024
ORDER = ["ca.pem", "mdash.cfg", "big.dat", "certs/extra.pem"]
VECTORS = ["idf-64k.bin", "idf-arduino-1408k.bin", "mongoose-256k.bin"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=9)
    parser.add_argument(
        "--writes-only", action="store_true", help="only the writes that collect garbage"
    )
    parser.add_argument("--write-runs", type=int, default=1, help="median of N for each write")
    parser.add_argument(
        "--plans-only", action="store_true", help="only the plans on nearly full partitions"
    )
    args = parser.parse_args()

    files = [(n, (DATA / "spiffs" / "idf_src" / n).read_bytes()) for n in ORDER]
    if not args.plans_only:
        if not args.writes_only:
            build_and_replace(files, args.runs)
        collecting_writes(files, args.write_runs)
    if not args.writes_only:
        nearly_full_plans()


def build_and_replace(files: list[tuple[str, bytes]], runs: int) -> None:
    print(f"build {SIZE // 1024} KiB SPIFFS image ({len(files)} files, median of {runs}):")
    for profile in ("esp-idf", "mongoose-os"):
        times = []
        for _ in range(runs):
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


def collecting_writes(files: list[tuple[str, bytes]], runs: int) -> None:
    each = "one run each" if runs == 1 else f"median of {runs}"
    print(f"writes that collect garbage again and again ({each}):")
    lived = build_spiffs_image(files, size=SIZE, profile="esp-idf")
    for label, image, size in (
        ("1 MB into the 1408 KiB image", lived, 1_000_000),
        ("10 MB into an empty 15 MiB image", None, 10_000_000),
        ("12 MB into an empty 15 MiB image", None, 12_000_000),
    ):
        data = (bytes(range(251)) * (size // 251 + 1))[:size]
        times = []
        for _ in range(runs):
            img = SpiffsImage.open(image) if image else SpiffsImage.create(15 << 20, "esp-idf")
            t0 = time.perf_counter()
            try:
                img.write("/big.bin", data)
                result = f"written, {img.gc_runs} collections"
            except ImageError as e:
                result = "refused: " + str(e).splitlines()[0].split("(", 2)[-1].rstrip(")")
            times.append(time.perf_counter() - t0)
        print(f"  {label:34s} {statistics.median(times):7.2f} s   {result}")


# (profile, CA roots before, after, 100-byte files, every n-th removed, filler bytes):
# the fullest image (to 256 bytes) where the unit could still write the new CA file
FULL_CASES = [
    ("esp-idf", 8, 18, 2400, 12, 100320),
    ("esp-idf", 8, 30, 2000, 10, 299552),
    ("arduino", 8, 30, 2000, 10, 271744),
    ("esp-idf", 18, 8, 1500, 6, 538560),
]


def nearly_full_plans() -> None:
    print("plan replacing ca.pem on a nearly full 1408 KiB partition (garbage collected):")
    for profile, before, after, files, every, filler in FULL_CASES:
        old, new = ca(before), ca(after)
        data = nearly_full(profile, old, files, every, filler)
        t0 = time.perf_counter()
        plan = plan_spiffs_replace(data, profile, "/ca.pem", new)
        elapsed = time.perf_counter() - t0
        print(
            f"  {profile:8s} ca.pem {len(old):6d} -> {len(new):6d} bytes, {files} files: "
            f"{len(plan.steps):3d} sectors, power_safe {plan.power_safe}, {elapsed:6.2f} s"
        )


if __name__ == "__main__":
    main()
