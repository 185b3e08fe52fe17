"""Every dump tool's text of many EC keys is refused, their secret bytes holding runs of
repeats (what od and hexdump squeeze to a "*"): keys from fixed scalars and a seeded
generator, the same every run, so a layout of repeats the squeezed-dump reader loses
fails each run, not once in a few hundred (a random key holding "c2 c2 4b 4b" went
unrefused in od -w1's dump, and the test that met it used keys made afresh each run)."""

from __future__ import annotations

import random
from collections.abc import Callable

import pytest
from cryptography.hazmat.primitives import serialization as ser
from cryptography.hazmat.primitives.asymmetric import ec
from support.tools import run_tool

from esp_cabundle.keyscan import find_private_key
from tests.test_keyscan_dumps import SQUEEZING

# od's text column (-z, between "> <"; after hex, decimal or octal bytes, with offsets or
# none) and lines of a second type (-tc) after each line
COLUMNS = [
    ["od", "-tx1z"],
    ["od", "-tx1z", "-v"],
    ["od", "-A", "x", "-t", "x1z", "-v"],
    ["od", "-A", "x", "-t", "x1z", "-w1"],
    ["od", "-tx1z", "-w1", "-v"],
    ["od", "-tx1", "-tc"],
    ["od", "-tx1", "-tc", "-v"],
    ["od", "-tx1", "-tc", "-w1"],
    ["od", "-tu1", "-tc", "-w1"],
    ["od", "-Ax", "-tx1z", "-tc", "-w2"],
    ["od", "-tu1z"],
    ["od", "-A", "x", "-t", "u1z", "-v"],
    ["od", "-td1z", "-w1"],
    ["od", "-td1z", "-w32", "-v"],
    ["od", "-to1z"],
    ["od", "-An", "-tx1z"],
    ["od", "-An", "-tu1z", "-v"],
    ["od", "-tu1z", "-tc"],
    ["od", "-An", "-tu1z", "-tc", "-w1"],  # no offsets: the -tc lines are numbers too
]
# No offsets, one word a line: each line looks like an offset; little-endian words
WORD_A_LINE = [
    ["od", "-An", "-tx4", "-w4"],
    ["od", "-An", "-tx2", "-w2"],
    ["od", "-An", "-tx8", "-w8"],
    ["od", "-An", "-to4", "-w4"],
    ["od", "-An", "-tx4", "-w4", "-v"],
]
# No offsets: a "*" stands for its line once (keys from _pairs: runs of two at most)
OFFSETLESS = [
    ["od", "-An", "-tx1", "-w1"],
    ["od", "-An", "-tx1", "-w1", "-v"],
    ["od", "-An", "-tu1", "-w1"],
    ["od", "-An", "-b", "-w1"],
    ["od", "-An", "-tu1z", "-w1"],
    ["od", "-An", "-tx1z", "-w1"],
]
KEYS = 60  # per tool: about 2,800 dumps in all
SEED = 20261203


def _runs(rng: random.Random, scalar: bytearray) -> None:
    """Runs of one byte or one 16-bit word, two to six long, some back to back."""
    at = rng.randrange(4)
    while at < len(scalar) - 4:
        unit = bytes([rng.randrange(256)]) * rng.choice((1, 1, 2))
        for _ in range(rng.randrange(2, 7)):
            scalar[at : at + len(unit)] = unit
            at += len(unit)
        at += rng.choice((0, 0, 1, 2, 5))


def _pairs(rng: random.Random, scalar: bytearray) -> None:
    """Pairs of equal bytes, some back to back, never three in a row."""
    at = rng.randrange(4)
    while at < len(scalar) - 3:
        scalar[at : at + 2] = bytes([rng.randrange(256)]) * 2
        if at and scalar[at - 1] == scalar[at]:
            scalar[at - 1] ^= 0x55
        at += rng.choice((2, 2, 3, 5))
    for i in range(2, len(scalar)):  # a pair back to back with one of the same byte
        if scalar[i - 2] == scalar[i - 1] == scalar[i]:
            scalar[i] ^= 0xAA


def _keys(runs: Callable[[random.Random, bytearray], None] = _runs) -> list[bytes]:
    rng = random.Random(SEED)
    forms = (ser.PrivateFormat.PKCS8, ser.PrivateFormat.TraditionalOpenSSL)
    out = []
    for n in range(KEYS):
        key = ec.derive_private_key(rng.randrange(1, 1 << 255), ec.SECP256R1())
        der = bytearray(key.private_bytes(ser.Encoding.DER, forms[n % 2], ser.NoEncryption()))
        at = der.index(b"\x02\x01\x01\x04\x20") + 5  # the scalar's 32 bytes
        scalar = bytearray(der[at : at + 32])
        runs(rng, scalar)
        der[at : at + 32] = scalar  # still a key to the scanner: it reads the tags
        out.append(bytes(der))
    return out


@pytest.mark.parametrize("command", SQUEEZING + COLUMNS + WORD_A_LINE + OFFSETLESS, ids=" ".join)
def test_every_seeded_key_is_refused_in_every_dump(command: list[str]) -> None:
    """Without offsets (od -An) a "*" of a run of three equal lines or more stands for
    an unknown number of lines: the key is refused all the same."""
    keys = _keys()
    squeezes = command in WORD_A_LINE + OFFSETLESS and not {"-v", "-w8"} & set(command)
    if squeezes:  # the form under test (runs of 12 bytes at most: no 3 equal 8-byte lines)
        assert any(b"\n*\n" in run_tool(command, key) for key in keys[:5])
    missed = [n for n, key in enumerate(keys) if find_private_key(run_tool(command, key)) is None]
    assert not missed, f"keys {missed} of seed {SEED} not found in {' '.join(command)}'s dump"


@pytest.mark.parametrize("command", OFFSETLESS, ids=" ".join)
def test_every_seeded_key_of_pairs_is_refused_in_every_dump_without_offsets(
    command: list[str],
) -> None:
    """Without offsets nothing tells how many lines a "*" stands for: a key holding
    no three equal bytes in a row, each "*" for one line (the least), is refused."""
    keys = _keys(_pairs)
    if "-v" not in command:  # the form under test
        assert all(b"\n*\n" in run_tool(command, key) for key in keys[:5])
    missed = [n for n, key in enumerate(keys) if find_private_key(run_tool(command, key)) is None]
    assert not missed, f"keys {missed} of seed {SEED} not found in {' '.join(command)}'s dump"
