"""Peak memory of ``fs put`` and ``fs ls`` on large LittleFS and SPIFFS images: each run
in a child process (the CLI as a user runs it), its peak resident size (ru_maxrss from
wait4) printed in MB and as a multiple of the image size. A report, not a timed assertion.

The README's figure (an edit holds an image about twice, a listing once) comes from here.
SPIFFS images stop at 16 MiB (65,535 pages of 256 bytes), so SPIFFS is measured there.
A command that fails is named and the run exits 1 at the end (a failure is no figure).
Run:
    python benchmarks/bench_fs_memory.py [--littlefs 64M,256M] [--spiffs 4M,16380K]
    python benchmarks/bench_fs_memory.py --littlefs 1M --spiffs 1M    # a few seconds
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CA = ROOT / "tests" / "data" / "letsencrypt" / "isrgrootx1.pem"
UNITS = {"K": 1 << 10, "M": 1 << 20}


def peak_rss(args: list[str], cwd: Path) -> tuple[int, int]:
    """(exit code, peak resident bytes) of ``esp-cabundle ARGS`` run in a child."""
    cmd = [sys.executable, "-m", "esp_cabundle", *args]
    proc = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    assert proc.stderr is not None
    err = proc.stderr.read().decode(errors="replace").strip()
    proc.stderr.close()
    if proc.returncode:
        print(f"    ({' '.join(args[:2])} exited {proc.returncode}: {err.splitlines()[-1:]})")
    return proc.returncode, usage.ru_maxrss * 1024  # Linux: KiB


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--littlefs", default="64M,256M", help="LittleFS image sizes (64M,256M)")
    ap.add_argument("--spiffs", default="4M,16380K", help="SPIFFS image sizes (4M,16380K)")
    args = ap.parse_args()
    failed = 0
    with tempfile.TemporaryDirectory(prefix="bench-fs-memory-") as tmp:
        work = Path(tmp)
        (work / "ca.pem").write_bytes(CA.read_bytes())
        _, base = peak_rss(["--version"], work)
        print(f"interpreter and CLI alone: {base / 1e6:.0f} MB peak RSS")
        print("fs            size       command   peak RSS   x image   x image over the CLI alone")
        for fs, sizes in (("littlefs", args.littlefs), ("spiffs", args.spiffs)):
            for given in filter(None, sizes.split(",")):
                size = int(given[:-1]) * UNITS[given[-1].upper()]
                image = work / f"{fs}-{given}.bin"
                pack = ["pack", "--fs", fs, "--profile", "esp-idf", "--size", given]
                code, _ = peak_rss([*pack, "--bundle", "ca.pem", "-o", image.name], work)
                if code:
                    failed += 1
                    continue
                # README's claims, each measured: put and rm edit (about twice), ls and
                # inspect read (about once); rm takes away what put added.
                for verb, argv in (
                    ("fs put", ["fs", "put", image.name, "ca.pem", "/x.pem"]),
                    ("fs rm", ["fs", "rm", image.name, "/x.pem"]),
                    ("fs ls", ["fs", "ls", image.name]),
                    ("inspect", ["inspect", image.name]),
                ):
                    code, peak = peak_rss(argv, work)
                    if code:
                        failed += 1
                        continue
                    print(
                        f"{fs:10s} {size / (1 << 20):6.1f} MiB  {verb:8s}  "
                        f"{peak / 1e6:6.0f} MB  "
                        f"{peak / size:7.2f}   {(peak - base) / size:7.2f}"
                    )
                image.unlink()
    if failed:
        sys.exit(f"bench_fs_memory: {failed} command(s) failed (above); their figures are missing")


if __name__ == "__main__":
    main()
