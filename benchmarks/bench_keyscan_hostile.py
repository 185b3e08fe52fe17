"""keyscan on squeezed dumps: the hostile units of tests/test_keyscan_dumps.py's
test_hostile_squeezes_are_scanned_in_bounded_time_and_memory, each repeated to 512 KiB
(as the test does), scanned for keys; no key is found in any.

Prints MB/s (CPU time, ``time.process_time``, best of ``--repeat`` scans) per unit,
slowest first. To compare with another checkout, run it with that checkout's package
first on ``PYTHONPATH``.

Run:
    python benchmarks/bench_keyscan_hostile.py [--repeat N]
"""

from __future__ import annotations

import argparse
import time

from esp_cabundle.keyscan import find_private_key

SIZE = 1 << 19
UNITS = [
    b"0000000 048\n0000001 048\n*\n7777777777777777 002\n",
    b"0000000 048\n0000001 048\n*\n0000010 002\n",
    b"0000000 060\n0000001 060\n*\n0000010 060\n",
    b"0000000 000\n0000001 000\n*\n",
    b"*\n",
    b"0000000 30 82\n*\n",
    b"00000000: 3082\n00000002: 3082\n*\n00000010: 0201\n",
    b"0000000 " + b"1 " * 600 + b"\n0000001 1\n*\n0000777 1\n",
    b" 30\n*\n",
    b" 30 82 02 01\n 30 82 02 01\n*\n",
    b"0000000 30 82\n        0 202\n*\n",
    b"0000000 30 82 02 01  >0...<\n*\n0000010 30 82 02 01  >0...<\n",
    b" 30 82 02 01  >0...<\n*\n",
    b"0000000 30\n*\n0000002 82\n*\n",
    b" 30  >0<\n   0\n*\n",
    b" 48  >0<\n    \n",
    b"0 >0<\n",
    b" >0<\n*\n",
    b"000000 \n      1\n",
]


def _fill(unit: bytes) -> bytes:
    return (unit * (SIZE // len(unit) + 1))[:SIZE]


def _seconds(data: bytes, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.process_time()
        found = find_private_key(data)
        best = min(best, time.process_time() - start)
        if found is not None:
            raise SystemExit(f"a key found in hostile text: {found}")
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="scans per unit (best kept)")
    repeat = parser.parse_args().repeat
    rows = [(_seconds(_fill(unit), repeat), unit) for unit in UNITS]
    total = sum(seconds for seconds, _ in rows)
    print(f"{len(UNITS)} units of 512 KiB, best of {repeat}: {total:.2f} s CPU in all")
    for seconds, unit in sorted(rows, reverse=True):
        label = repr(unit if len(unit) <= 40 else unit[:37] + b"...")
        print(f"{SIZE / seconds / 1e6:8.2f} MB/s {seconds:7.3f} s  {label}")


if __name__ == "__main__":
    main()
