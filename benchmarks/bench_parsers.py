"""Parsers on hostile inputs: time and peak memory, to show they stay linear and bounded.

The inputs of issue 11 §6: a C byte array ending in a char literal (the old pattern
backtracked exponentially: 24 items 9 s, 28 over a minute), a C file of 300,000 string
literals (45 s before), C byte arrays from 1 MB to the 4 MiB cap (time should grow in
proportion), a 15 MB array (refused by the cap without parsing; 1.45 GB before), a
billion-laughs YAML, a 256 KiB YAML list, a 100,000-deep lock file; and ``inspect`` of a
well-formed ESP-IDF v2 bundle of 400,000 tiny roots (4 MB, under the 4 MiB cap), its
report, its table (summed up past 1,000 rows; --all) and its streamed --json (before:
the whole command took 6.7-9.5 s and 336 MB as text, 10 s and 1.18 GB with --json); the
partition-table search over 256 MiB dumps whose every sector starts like a table
(before: every one parsed, about a minute each; now bytes.find, a structural check and
at most 64 full parses) and over a 16 MiB dump with a moved table. Run:
    python benchmarks/bench_parsers.py
"""

from __future__ import annotations

import contextlib
import itertools
import os
import struct
import sys
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

from esp_cabundle.errors import EspCabundleError

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from support.bundles import cn, v2_bundle  # noqa: E402  (tests' hand-made bundles)

ISRG = (ROOT / "tests" / "data" / "letsencrypt" / "isrgrootx1.pem").read_text()


def measure(name: str, size: int, fn: Callable[[], Any]) -> None:
    """Time one call, then run it again under tracemalloc for its peak memory (tracing
    slows Python several times over, so the two are never measured together)."""
    outcome = "ok"
    t0 = time.perf_counter()
    try:
        fn()
    except EspCabundleError as e:
        outcome = "refused: " + e.message.split(": ", 1)[-1][:60]
    seconds = time.perf_counter() - t0
    tracemalloc.start()
    with contextlib.suppress(EspCabundleError):
        fn()
    _cur, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print(
        f"  {name:28s} {size / 1e6:6.2f} MB {seconds:7.2f} s  peak {peak / 1e6:6.1f} MB  {outcome}"
    )


def _array(n: int, tail: str = "") -> bytes:
    return ("const unsigned char a[] = {" + "0x41, " * n + tail + "};\n").encode()


def _v2_bundle(names: list[bytes]) -> bytes:
    """An ESP-IDF v2 bundle of these DER names, each with an empty key (the tiniest root)."""
    return v2_bundle([(n, b"") for n in names])


def _bundles() -> None:
    from esp_cabundle.commands.inspect import render_report
    from esp_cabundle.dates import now
    from esp_cabundle.inspect import inspect_bytes, report_document
    from esp_cabundle.ui import emit_json

    def json_out(data: bytes) -> None:
        with open(os.devnull, "w") as sink, contextlib.redirect_stdout(sink):
            emit_json({"reports": [report_document(inspect_bytes(data, source="b"), now())]})
        sys.stdout.flush()

    same = _v2_bundle([b"\x30\x00"] * 400_000)  # one empty name, 400,000 times
    alnum = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
    names = (cn("".join(t)) for t in itertools.product(alnum, repeat=3))
    distinct = _v2_bundle(sorted(itertools.islice(names, 170_000)))  # 170,000 names
    for label, data in (("400,000 same roots", same), ("170,000 distinct roots", distinct)):
        print(f"ESP-IDF bundle, {label}:")
        measure("report", len(data), lambda d=data: inspect_bytes(d, source="b"))
        measure(
            "table (summed up)",
            len(data),
            lambda d=data: render_report(inspect_bytes(d, source="b"), now(), None),
        )
        measure(
            "table --all",
            len(data),
            lambda d=data: render_report(inspect_bytes(d, source="b"), now(), None, every_row=True),
        )
        measure("--json (streamed)", len(data), lambda d=data: json_out(d))


def _dumps() -> None:
    from esp_cabundle.partitions import PartitionTable, read_partition_table

    def entry(i: int, offset: int) -> bytes:
        name = f"p{i}".encode().ljust(16, b"\0")
        return struct.pack("<2sBBLL16sL", b"\xaa\x50", 1, 0x82, offset, 0x1000, name, 0)

    unended = b"".join(entry(i, 0x100000 + i * 0x1000) for i in range(128))
    overlapping = b"".join(entry(i, 0x100000) for i in range(95)).ljust(0x1000, b"\xff")
    print("Flash dumps (partition-table search):")
    for label, sector in (("tables without an end", unended), ("overlapping tables", overlapping)):
        data = sector * (256 << 8)
        measure(f"256 MiB of {label}", len(data), lambda d=data: read_partition_table(d))
    moved = PartitionTable.from_csv("nvs, data, nvs, , 16K\n", offset=0xF00000).to_binary()
    data = bytes(0xF00000) + moved + b"\xff" * (0x100000 - len(moved))
    measure("16 MiB, table at 0xf00000", len(data), lambda: read_partition_table(data))


def main() -> None:
    from esp_cabundle.bundle import Lock
    from esp_cabundle.certs import load_certificates
    from esp_cabundle.config import parse_config

    print("C source:")
    for n in (28, 1000):
        data = _array(n, "'\\0'")
        measure(f"array of {n} + '\\0'", len(data), lambda d=data: load_certificates(d))
    lines = "".join(f'"{line}\\n"\n' for line in ISRG.strip().splitlines())
    data = ("static const char *s =\n" + '"A"\n' * 300_000 + lines + ";\n").encode()
    measure("300,000 literals + a PEM", len(data), lambda: load_certificates(data))
    for mb in (1, 2, 4):
        data = _array((mb * 1_000_000) // 6)
        measure(f"byte array, {mb} MB", len(data), lambda d=data: load_certificates(d))
    data = _array(15_000_000 // 6)
    measure("byte array, 15 MB", len(data), lambda: load_certificates(data))

    print("YAML and JSON:")
    levels = "abcdefghi"
    laughs = 'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n' + "".join(
        f"{n}: &{n} [{','.join([f'*{p}'] * 9)}]\n" for p, n in itertools.pairwise(levels)
    )
    measure("billion laughs", len(laughs), lambda: parse_config(laughs, path=Path("c.yaml")))
    text = "exclude: [" + "abcdefgh, " * 25_000 + "]\n"
    measure("256 KiB YAML list", len(text), lambda: parse_config(text, path=Path("c.yaml")))
    deep = b"[" * 100_000 + b"]" * 100_000
    measure("100,000-deep lock file", len(deep), lambda: Lock.from_bytes(deep))

    _dumps()
    _bundles()


if __name__ == "__main__":
    main()
