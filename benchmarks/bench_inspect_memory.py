"""Peak memory and time of ``inspect`` on random bytes, the worst input for the private-key
scan (every scanner's marks turn up, as do NULs, so the NUL-stripped text is scanned
again), and of ``pack --from-dir`` packing such a file (the same scan, as a warning):
each run in a child process (the CLI as a user runs it), its peak resident size
(ru_maxrss from wait4) printed in MB and as a multiple of the input's size, and its
wall time. A report, not a timed assertion; README's "Input limits" figures come from
here. Random bytes hold no key: each inspect must say "binary data" (exit 2).

Run:
    python benchmarks/bench_inspect_memory.py [--sizes 32M,128M,256M] [--pack 32M]
    python benchmarks/bench_inspect_memory.py --sizes 1M --pack 1M    # a few seconds
"""

from __future__ import annotations

import argparse
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CA = ROOT / "tests" / "data" / "letsencrypt" / "isrgrootx1.pem"
UNITS = {"K": 1 << 10, "M": 1 << 20}


def run(args: list[str], cwd: Path) -> tuple[int, int, float, str]:
    """(exit code, peak resident bytes, seconds, stderr) of ``esp-cabundle ARGS``."""
    cmd = [sys.executable, "-m", "esp_cabundle", *args]
    start = time.monotonic()
    proc = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.monotonic() - start
    assert proc.stderr is not None
    err = proc.stderr.read().decode(errors="replace").strip()
    proc.stderr.close()
    return os.waitstatus_to_exitcode(status), usage.ru_maxrss * 1024, seconds, err


def _size(given: str) -> int:
    return int(given[:-1]) * UNITS[given[-1].upper()]


def _random_file(path: Path, size: int) -> None:
    rng = random.Random(1)
    with path.open("wb") as f:
        for _ in range(0, size, 1 << 24):
            f.write(rng.randbytes(min(1 << 24, size - f.tell())))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--sizes", default="32M,128M,256M", help="inspect's inputs (32M,128M,256M)")
    ap.add_argument("--pack", default="32M", help="pack --from-dir's file sizes (32M)")
    args = ap.parse_args()
    failed = 0
    with tempfile.TemporaryDirectory(prefix="bench-inspect-memory-") as tmp:
        work = Path(tmp)
        _, base, _, _ = run(["--version"], work)
        print(f"interpreter and CLI alone: {base / 1e6:.0f} MB peak RSS")
        print("command             size   peak RSS   x input   x input over the CLI alone   time")
        jobs = [("inspect", given) for given in filter(None, args.sizes.split(","))]
        jobs += [("pack --from-dir", given) for given in filter(None, args.pack.split(","))]
        for verb, given in jobs:
            size = _size(given)
            files = work / "files"
            files.mkdir(exist_ok=True)
            data = files / "random.bin"
            _random_file(data, size)
            if verb == "inspect":
                argv, ok = ["inspect", str(data)], 2  # "binary data": refused, nothing found
            else:
                image = str(work / "fs.bin")
                argv = ["pack", "--fs", "littlefs", "--profile", "esp-idf"]
                argv += ["--size", f"{2 * size // 1024 + 256}K", "--from-dir", str(files)]
                argv += ["--bundle", str(CA)]
                argv += ["-o", image]
                ok = 0
            code, peak, seconds, err = run(argv, work)
            data.unlink()
            if code != ok:
                print(f"    ({verb} exited {code}: {err.splitlines()[-1:]})")
                failed += 1
                continue
            print(
                f"{verb:16s} {size / (1 << 20):5.0f} MiB  {peak / 1e6:6.0f} MB  "
                f"{peak / size:7.2f}   {(peak - base) / size:7.2f}   {seconds:24.1f} s"
            )
    if failed:
        sys.exit(f"bench_inspect_memory: {failed} command(s) failed (above); figures missing")


if __name__ == "__main__":
    main()
