"""Parsers on hostile inputs: time and peak memory, to show they stay linear and bounded.

The inputs of issue 11 §6: a C byte array ending in a char literal (the old pattern
backtracked exponentially: 24 items 9 s, 28 over a minute), a C file of 300,000 string
literals (45 s before), C byte arrays from 1 MB to the 4 MiB cap (time should grow in
proportion), a 15 MB array (refused by the cap without parsing; 1.45 GB before), a
billion-laughs YAML, a 256 KiB YAML list, a 100,000-deep lock file; ``inspect`` of a PEM
of 8,000 small CA certificates (4 MB, under the 4 MiB certificate-file cap; 10 of them
expired) and of an ESP-IDF bundle of 4,096 roots (the most inspect reads): the report,
its table (summed up past 1,000 rows; --all) and its streamed --json; the partition-table
search over 256 MiB dumps whose every sector starts like a table (before: every one
parsed, about a minute each; now bytes.find, a structural check and at most 64 full
parses) and over a 16 MiB dump with a moved table.

Each input is either read or refused as expected; any other outcome (a refusal of an
input that should be read, an input that should be refused read) stops the run with a
message and exit status 1, rather than timing the wrong thing. Run:
    python benchmarks/bench_parsers.py            # the sizes above
    python benchmarks/bench_parsers.py --quick    # smaller inputs, a few seconds
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import os
import struct
import sys
import time
import tracemalloc
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from esp_cabundle.errors import EspCabundleError

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

# The tests' hand-made bundles and certificates.
from support.bundles import P256_KEY, cn, v2_bundle  # noqa: E402
from support.verify_pki import mint  # noqa: E402

ISRG = (ROOT / "tests" / "data" / "letsencrypt" / "isrgrootx1.pem").read_text()


def _cold() -> None:
    """Empty the caches a command starts without (certificates parsed by the mbedTLS
    model, nodes of the verifier), so the second run of an input is timed as the first."""
    from esp_cabundle.verify import nodes, parse

    parse.parse_refusal.cache_clear()
    for cached in (nodes.node_for_certificate, nodes.keyonly_node, nodes.load_spki):
        cached.cache_clear()


def _outcome(fn: Callable[[], Any]) -> str:
    _cold()
    try:
        fn()
    except EspCabundleError as e:
        return "refused: " + e.message
    return "ok"


def measure(name: str, size: int, fn: Callable[[], Any], refused: str | None = None) -> None:
    """Time one call, then run it again under tracemalloc for its peak memory (tracing
    slows Python several times over, so the two are never measured together).
    ``refused``: words the refusal must hold; None, the input must be read. Any other
    outcome stops the benchmark (exit 1): timing a refusal is not timing the parser."""
    t0 = time.perf_counter()
    outcome = _outcome(fn)
    seconds = time.perf_counter() - t0
    expected = "ok" if refused is None else "refused: ..." + refused
    if (refused is None) != (outcome == "ok") or (refused is not None and refused not in outcome):
        sys.exit(f"bench_parsers: {name}: expected {expected}, got {outcome}")
    tracemalloc.start()
    _outcome(fn)
    _cur, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print(
        f"  {name:32s} {size / 1e6:6.2f} MB {seconds:7.2f} s  peak {peak / 1e6:6.1f} MB  "
        + outcome[:70]
    )


def _array(n: int, tail: str = "") -> bytes:
    return ("const unsigned char a[] = {" + "0x41, " * n + tail + "};\n").encode()


def _pem_file(n: int, expired: int) -> bytes:
    """``n`` small self-signed CA certificates (one P-256 key, ~500 bytes of PEM each),
    ``expired`` of them spread through the file and long expired."""
    key = mint("Key").key
    old = {"not_before": datetime(2010, 1, 1, tzinfo=timezone.utc),
           "not_after": datetime(2020, 1, 1, tzinfo=timezone.utc)}  # fmt: skip
    every = n // expired
    return b"".join(
        mint(f"R{i:05d}", key=key, **(old if i % every == every // 2 else {})).pem for i in range(n)
    )


def _inspect(label: str, data: bytes) -> None:
    from esp_cabundle.commands.inspect import render_report
    from esp_cabundle.dates import now
    from esp_cabundle.inspect import inspect_bytes, report_document
    from esp_cabundle.ui import emit_json

    def json_out() -> None:
        with open(os.devnull, "w") as sink, contextlib.redirect_stdout(sink):
            emit_json({"reports": [report_document(inspect_bytes(data, source="b"), now())]})
        sys.stdout.flush()

    print(f"{label}:")
    measure("report", len(data), lambda: inspect_bytes(data, source="b"))
    measure(
        "table (summed up)",
        len(data),
        lambda: render_report(inspect_bytes(data, source="b"), now(), None),
    )
    measure(
        "table --all",
        len(data),
        lambda: render_report(inspect_bytes(data, source="b"), now(), None, every_row=True),
    )
    measure("--json (streamed)", len(data), json_out)
    table = render_report(inspect_bytes(data, source="b"), now(), None)
    print("  " + next(line.strip() for line in table.splitlines() if "by status:" in line))


def _inputs(quick: bool) -> None:
    from esp_cabundle.limits import MAX_IDF_BUNDLE_ROOTS

    n = 1_010 if quick else 8_000  # past the 1,000 rows a table lists; 4 MB, under the cap
    _inspect(f"PEM, {n:,} certificates", _pem_file(n, expired=10))
    names = [cn(f"R{i:05d}") for i in range(MAX_IDF_BUNDLE_ROOTS)]
    roots = names[:n] if quick else names
    # each root with a key mbedTLS parses (an empty one is judged unparseable)
    bundle = v2_bundle([(r, P256_KEY) for r in roots])
    _inspect(f"ESP-IDF bundle, {len(roots):,} roots", bundle)
    over = v2_bundle([(n, b"") for n in [*names, cn("R99999")]])
    print("ESP-IDF bundle over the limit:")
    measure(f"{MAX_IDF_BUNDLE_ROOTS + 1:,} roots", len(over), lambda: _read(over), "too large")


def _read(data: bytes) -> None:
    from esp_cabundle.inspect import inspect_bytes

    inspect_bytes(data, source="b")


def _dumps(quick: bool) -> None:
    from esp_cabundle.partitions import PartitionTable, read_partition_table

    def entry(i: int, offset: int) -> bytes:
        name = f"p{i}".encode().ljust(16, b"\0")
        return struct.pack("<2sBBLL16sL", b"\xaa\x50", 1, 0x82, offset, 0x1000, name, 0)

    unended = b"".join(entry(i, 0x100000 + i * 0x1000) for i in range(128))
    overlapping = b"".join(entry(i, 0x100000) for i in range(95)).ljust(0x1000, b"\xff")
    mib = 16 if quick else 256
    print("Flash dumps (partition-table search):")
    for label, sector, why in (
        ("tables without an end", unended, "no end-of-table marker"),
        ("overlapping tables", overlapping, "overlaps"),
    ):
        data = sector * (mib << 8)
        measure(f"{mib} MiB of {label}", len(data), lambda d=data: read_partition_table(d), why)
    moved = PartitionTable.from_csv("nvs, data, nvs, , 16K\n", offset=0xF00000).to_binary()
    data = bytes(0xF00000) + moved + b"\xff" * (0x100000 - len(moved))
    measure("16 MiB, table at 0xf00000", len(data), lambda: read_partition_table(data))


def main() -> None:
    from esp_cabundle.certs import load_certificates
    from esp_cabundle.config import parse_config
    from esp_cabundle.lockfile import Lock

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="smaller inputs (a few seconds)")
    quick = parser.parse_args().quick

    none = "no certificate found"
    print("C source:")
    for n in (28, 1000):
        data = _array(n, "'\\0'")
        measure(f"array of {n} + '\\0'", len(data), lambda d=data: load_certificates(d), none)
    literals = 30_000 if quick else 300_000
    lines = "".join(f'"{line}\\n"\n' for line in ISRG.strip().splitlines())
    data = ("static const char *s =\n" + '"A"\n' * literals + lines + ";\n").encode()
    measure(f"{literals:,} literals + a PEM", len(data), lambda: load_certificates(data))
    for mb in (1,) if quick else (1, 2, 4):
        data = _array((mb * 1_000_000) // 6)
        measure(f"byte array, {mb} MB", len(data), lambda d=data: load_certificates(d), none)
    data = _array(15_000_000 // 6)
    measure("byte array, 15 MB", len(data), lambda: load_certificates(data), "over the 4 MiB")

    print("YAML and JSON:")
    levels = "abcdefghi"
    laughs = 'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n' + "".join(
        f"{n}: &{n} [{','.join([f'*{p}'] * 9)}]\n" for p, n in itertools.pairwise(levels)
    )
    measure("billion laughs", len(laughs), lambda: parse_config(laughs, path=Path("c.yaml")),
            "aliases expand")  # fmt: skip
    items = 2_500 if quick else 25_000
    text = "exclude: [" + "abcdefgh, " * items + "]\n"
    yaml_list = f"{len(text) >> 10} KiB YAML list"
    measure(yaml_list, len(text), lambda: parse_config(text, path=Path("c.yaml")))
    deep = b"[" * 100_000 + b"]" * 100_000
    measure("100,000-deep lock file", len(deep), lambda: Lock.from_bytes(deep), "nests deeper")

    _dumps(quick)
    _inputs(quick)


if __name__ == "__main__":
    main()
