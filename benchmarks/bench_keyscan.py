"""keyscan: the private-key scan every write path runs is linear in its input.

Scans inputs built to make a careless scanner slow (header words on every line, with
and without a "begin" or "end" before them, base64 runs that open like DER, DER SEQUENCE
headers back to back, BER headers of indefinite length whose AlgorithmIdentifier never
ends, C hex bytes opening like DER in arrays, in string literals and in runs of one
byte, with suffixes and casts, text full of the commas and backslashes C hex is written
with (CSV, JSON), hex dump lines, bare hex and od's words opening like DER, words of hex
digits, decimal and octal byte lists opening like DER (one run, and runs of seven bytes
each decoded alone), od's and hexdump's decimal and octal words opening like DER,
squeezed dumps (a "*" for repeated lines, expanded or too far to), OpenSSH's magic as
C text, tables of numbers, base64 in C string literals, NUL-interleaved text that takes
the UTF-16 pass, random bytes) at 1, 2, 4 and 8 MiB, and a real 228 KiB Mozilla store
(certifi's, with serial numbers and fingerprints in its comments; the median and best of
50 scans).
Prints MB/s per input and size, and the time ratio from 1 to 8 MiB (linear: about 8;
quadratic would be about 64).

Run:
    python benchmarks/bench_keyscan.py
"""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import certifi

from esp_cabundle.keyscan import find_private_key

MIB = 1 << 20


def _fill(unit: bytes) -> Callable[[int], bytes]:
    return lambda n: (unit * (n // len(unit) + 1))[:n]


INPUTS: dict[str, Callable[[int], bytes]] = {
    "'private key' without context": _fill(b"private key, "),
    "'private key' on every line": _fill(b"# this file holds no private key\n"),
    "'end' and two words before it": _fill(b"# the end of a private key\n"),
    "'-----begin' and 'private' near": _fill(b"-----begin private\n"),
    "base64 runs opening like DER": _fill(b"MIIFazCCA1OgAwIBAgIRAIIQz7DSQONZRGPgu2OCiwAw\n"),
    "DER SEQUENCE headers": _fill(b"\x30\x82\x02\x02\x02\x01"),
    # each candidate walks _WALK elements into nested indefinite lengths, finding no end
    "BER PKCS#8 heads, endless": _fill(b"\x30\x80\x02\x01\x00\x30\x80\x06\x01\x00"),
    "BER PKCS#12 heads": _fill(b"\x30\x80\x02\x01\x03\x30\x80"),
    "C hex runs opening with 0x30": _fill(b"{0x30, 0x82, 0x02, 0x02,\n"),
    "C string literals opening with \\x30": _fill(b'"\\x30\\x82\\x02\\x02"\n'),
    "C hex runs of one byte": _fill(b"x30"),  # "0x30" every third byte, each its own run
    "C hex with suffixes and casts": _fill(b"{(uint8_t)0x30u, 0x82u, 0x2, 0x2,\n"),
    # the bytes C hex is written with, in ordinary text
    "commas": _fill(b","),
    "backslashes": _fill(b"\\"),
    "CSV": _fill(b"id,name,value,flag\n17,alpha,0.5,true\n"),
    "JSON-like": _fill(b'{"a": 1, "b": [2, 3], "c": {"d": "e"}},\n'),
    "xxd lines opening like DER": _fill(b"00000000: 3082 0202 0201  0.....\n"),
    "hexdump -C lines": _fill(b"00000000  30 82 02 02 02 01  |0.....|\n"),
    "bare hex, colons": _fill(b"30:82:02:02:"),
    "bare hex, one string": _fill(b"3082020202"),
    "words of hex digits": _fill(b"ab cd ef 0x deadbeef 1234567890123\n"),
    "od -An -x words opening like DER": _fill(b" 8230 0202 0102 0000\n"),
    "decimal bytes opening like DER": _fill(b"{48, 130, 2, 2, 2, 1,\n"),
    "decimal runs of seven bytes": _fill(b"48,1,2,3,4,5,6;"),  # each decoded alone
    "decimal bytes with casts": _fill(b"{(uint8_t)48U, 130U, 2U, 2U, 2U, 1U,\n"),
    "octal bytes opening like DER": _fill(b"{060, 0202, 02, 02, 02, 01,\n"),
    "od -tu2 words opening like DER": _fill(b" 33328   514     2  4096\n"),
    "hexdump -d lines": _fill(b"0000000   33328   00514   00002   04096\n"),
    "od's octal words opening like DER": _fill(b"0000000 101060 001002 000402 010000\n"),
    "od -tu4 words opening like DER": _fill(b"0000000 2751758896 1442840834 2859977144\n"),
    "od -tu8 words": _fill(b"0000000  6196954198115123760 18212655126143289784\n"),
    "squeezed od lines, '*' expanded": _fill(b"0000000 048\n0000001 048\n*\n0000010 002\n"),
    "squeezed od lines, '*' too far": _fill(b"0000000 060\n0000001 060\n*\n7777777777 060\n"),
    "OpenSSH's magic as C text": _fill(b'"openssh-key-v1\\0\\0\\0\\0"\n'),
    "numbers": _fill(b"48, 1048, 255, 3, 65535, -7, 2026\n"),
    "base64 in C string literals": _fill(b'  "MIIFazCCA1OgAwIBAgIRAIIQz7DSQONZRGPgu2OCiwAw\\n"\n'),
    "UTF-16 of PEM text": _fill("MIIBIjANBgkqhkiG9w0BAQEFAAOC\n".encode("utf-16-le")),
    "random bytes": os.urandom,
}


def _time(data: bytes) -> float:
    start = time.perf_counter()
    found = find_private_key(data)
    elapsed = time.perf_counter() - start
    assert found is None, found
    return elapsed


def main() -> None:
    store = Path(certifi.where()).read_bytes()
    runs = [_time(store) * 1000 for _ in range(50)]
    print(
        f"Mozilla store ({len(store) // 1024} KiB): median {statistics.median(runs):.2f} ms, "
        f"best {min(runs):.2f} ms"
    )
    print(f"{'input':34} " + " ".join(f"{n:>4} MiB" for n in (1, 2, 4, 8)) + "   8/1")
    for name, make in INPUTS.items():
        times = [_time(make(n * MIB)) for n in (1, 2, 4, 8)]
        rates = " ".join(f"{n / t:5.1f}MB/s" for n, t in zip((1, 2, 4, 8), times, strict=True))
        print(f"{name:34} {rates}  {times[3] / times[0]:4.1f}x")


if __name__ == "__main__":
    main()
