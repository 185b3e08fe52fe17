"""esp-cabundle beside ESP-IDF's own scripts, whole-process, measured in one run.

Pairs (same inputs, same machine, runs interleaved so load hits both alike):
  1. `build -f idf-bundle` from ESP-IDF's full cacrt_all.pem  vs  gen_crt_bundle.py
  2. `pack --fs spiffs` of a 1408 KiB image holding that file  vs  spiffsgen.py, and the
     same in a 14 MiB image
Each line prints the median wall time of both, the ratio esp-cabundle / vendor
(target <= 1.00) and the same ratio of CPU time (user + sys), which load disturbs less.
A last line prints the floor every esp-cabundle command stands on before any of its own
code runs: the interpreter starting, importing the standard library modules every command
uses (dataclasses, pathlib, hashlib, json, ...), and click. spiffsgen.py's whole run at
1408 KiB is about that floor, while `pack` must also gate the CA (parse every root, refuse
keys, judge policies, render and read back) and verify the image it built.

The vendor scripts are not shipped: point at an ESP-IDF checkout
    python benchmarks/bench_vendor.py --idf-path ~/esp/esp-idf [--runs N]
(or set IDF_PATH). Without one, it prints why it skipped and exits 0.
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

GEN_CRT = Path("components/mbedtls/esp_crt_bundle/gen_crt_bundle.py")
CACRT = Path("components/mbedtls/esp_crt_bundle/cacrt_all.pem")
SPIFFSGEN = Path("components/spiffs/spiffsgen.py")
VERSION_CMAKE = Path("tools/cmake/version.cmake")
# What every esp-cabundle command imports from the standard library before its own work
# (dataclasses brings inspect and ast; pathlib brings urllib.parse; hashlib loads OpenSSL).
# Their import alone is most of spiffsgen.py's whole run at the 1408 KiB size.
STDLIB = "typing, enum, re, datetime, dataclasses, pathlib, hashlib, json, base64, calendar"


# As installed packages run: with their bytecode (pip compiles it at install). A shell
# that sets PYTHONDONTWRITEBYTECODE would otherwise recompile every module on each run.
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def idf_version(idf: Path) -> str:
    """The checkout's ESP-IDF version as its build reads it, or "unknown".

    The figures depend on it: spiffsgen.py on ESP-IDF master after v6.0 (2026) imports
    esp_pylib's logger, which adds ~80 ms to every run, while every release up to
    v6.0.x imports only the standard library."""
    try:
        text = (idf / VERSION_CMAKE).read_text(encoding="utf-8")
    except OSError:
        return "unknown"
    parts = [
        m.group(1)
        for key in ("MAJOR", "MINOR", "PATCH")
        if (m := re.search(rf"IDF_VERSION_{key}\s+(\d+)", text))
    ]
    return ".".join(parts) if len(parts) == 3 else "unknown"


def run_once(cmd: list[str], cwd: Path) -> tuple[float, float]:
    """(wall, cpu) seconds of one whole process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    subprocess.run(
        cmd, cwd=cwd, env=ENV, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def pair(
    label: str, ours: list[str], vendor: list[str], cwd: Path, runs: int
) -> tuple[float, float]:
    """Print the pair's figures; return the two median wall times."""
    for cmd in (ours, vendor):  # warm the page cache; fail loudly if a command fails
        run_once(cmd, cwd)
    o_wall, o_cpu, v_wall, v_cpu = [], [], [], []
    for _ in range(runs):
        w, c = run_once(ours, cwd)
        o_wall.append(w)
        o_cpu.append(c)
        w, c = run_once(vendor, cwd)
        v_wall.append(w)
        v_cpu.append(c)
    ow, vw = statistics.median(o_wall), statistics.median(v_wall)
    oc, vc = statistics.median(o_cpu), statistics.median(v_cpu)
    verdict = "met" if ow <= vw else "MISSED"
    print(f"  {label}")
    print(f"    esp-cabundle {ow:6.3f} s   vendor {vw:6.3f} s   ratio {ow / vw:4.2f}  ({verdict})")
    print(f"    cpu          {oc:6.3f} s   vendor {vc:6.3f} s   ratio {oc / vc:4.2f}")
    return ow, vw


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--idf-path", type=Path, default=os.environ.get("IDF_PATH"))
    ap.add_argument("--runs", type=int, default=11)
    args = ap.parse_args()
    idf = args.idf_path
    if idf is None:
        print("skipped: set IDF_PATH (or --idf-path) to an ESP-IDF checkout to compare")
        return 0
    missing = [p for p in (GEN_CRT, CACRT, SPIFFSGEN) if not (Path(idf) / p).is_file()]
    if missing:
        print(f"skipped: {idf} has no {', '.join(map(str, missing))}; set IDF_PATH to ESP-IDF")
        return 0
    exe = shutil.which("esp-cabundle")
    tool = [exe] if exe else [sys.executable, "-m", "esp_cabundle"]
    py = sys.executable
    with tempfile.TemporaryDirectory() as tmp:
        cwd = Path(tmp)
        shutil.copy(Path(idf) / CACRT, cwd / "cacrt_all.pem")
        (cwd / "data").mkdir()
        shutil.copy(Path(idf) / CACRT, cwd / "data" / "ca.pem")
        size = (cwd / "cacrt_all.pem").stat().st_size
        print(
            f"median of {args.runs} interleaved runs, Python {sys.version.split()[0]}, "
            f"vendor scripts of ESP-IDF {idf_version(Path(idf))}"
        )
        walls = {}
        walls["build"] = pair(
            "build -f idf-bundle from cacrt_all.pem  vs  gen_crt_bundle.py",
            [*tool, "build", "-q", "-f", "idf-bundle", "--idf-version", "5.0", "--root",
             "cacrt_all.pem", "--allow", "expired", "-o", "ours.bin"],
            [py, str(Path(idf) / GEN_CRT), "-q", "-i", "cacrt_all.pem"],
            cwd,
            args.runs,
        )  # fmt: skip
        # The pair (the Arduino default partition), then a 14 MiB one: the image
        # work grows with the partition, the fixed cost (start-up, the gate) does not.
        for size_arg, hex_size in (("1408K", "0x160000"), ("14M", "0xE00000")):
            walls[f"pack {size_arg}"] = pair(
                f"pack --fs spiffs {size_arg} with a {size // 1000} KB file  vs  spiffsgen.py",
                [*tool, "pack", "-q", "--fs", "spiffs", "--profile", "esp-idf", "--size",
                 size_arg, "--bundle", "data/ca.pem", "--allow", "expired", "-o",
                 "ours-spiffs.bin"],
                [py, str(Path(idf) / SPIFFSGEN), hex_size, "data", "spiffsgen.bin"],
                cwd,
                args.runs,
            )  # fmt: skip

        def median_of(code: str) -> float:
            return statistics.median(run_once([py, "-c", code], cwd)[0] for _ in range(args.runs))

        bare = median_of("pass")
        stdlib = median_of(f"import {STDLIB}")
        floor = median_of(f"import {STDLIB}, click")
        print(
            f"  floor: Python starting {bare:.3f} s; importing the standard library "
            f"modules every command needs {stdlib:.3f} s; and click {floor:.3f} s"
        )
        # What each side does past what it must pay to start: the vendor scripts need
        # only the interpreter, esp-cabundle also click.
        for name, (ow, vw) in walls.items():
            print(
                f"  past start-up, {name}: esp-cabundle {ow - floor:.3f} s, "
                f"vendor {vw - bare:.3f} s"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
