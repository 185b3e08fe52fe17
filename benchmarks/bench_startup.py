"""Wall time of `esp-cabundle build` (preset, pem + c) and `esp-cabundle --help`, beside
`python -c pass`, as the median of several runs.

Targets (2-core machine): build <= 0.20 s, --help <= 0.12 s. Run:
    python benchmarks/bench_startup.py [--runs N]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def median_wall(cmd: list[str], cwd: Path, runs: int) -> float:
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        subprocess.run(
            cmd, cwd=cwd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--runs", type=int, default=9)
    args = ap.parse_args()
    exe = shutil.which("esp-cabundle")
    tool = [exe] if exe else [sys.executable, "-m", "esp_cabundle"]
    with tempfile.TemporaryDirectory() as tmp:
        cwd = Path(tmp)
        rows = [
            ("python -c pass", [sys.executable, "-c", "pass"], None),
            ("esp-cabundle --help", [*tool, "--help"], 0.12),
            (
                "esp-cabundle build --preset default -f pem -f c",
                [*tool, "build", "-q", "--preset", "default", "-f", "pem", "-f", "c"],
                0.20,
            ),
        ]
        print(f"median of {args.runs} runs, {sys.platform}, Python {sys.version.split()[0]}")
        for label, cmd, target in rows:
            t = median_wall(cmd, cwd, args.runs)
            goal = (
                f"  (target <= {target:.2f} s: {'met' if t <= target else 'MISSED'})"
                if target
                else ""
            )
            print(f"  {label:<50} {t:6.3f} s{goal}")


if __name__ == "__main__":
    main()
