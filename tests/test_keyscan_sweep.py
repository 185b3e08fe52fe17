"""Every dump tool's text of many EC keys is refused, their secret bytes holding runs of
repeats (what od and hexdump squeeze to a "*"): keys from fixed scalars and a seeded
generator, the same every run, so a layout of repeats the squeezed-dump reader loses
fails each run, not once in a few hundred (a random key holding "c2 c2 4b 4b" went
unrefused in od -w1's dump, and the test that met it used keys made afresh each run)."""

from __future__ import annotations

import random

import pytest
from cryptography.hazmat.primitives import serialization as ser
from cryptography.hazmat.primitives.asymmetric import ec
from support.tools import run_tool

from esp_cabundle.keyscan import find_private_key
from tests.test_keyscan_dumps import SQUEEZING

KEYS = 60  # per tool: 600 dumps in all (~3 s)
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


def _keys() -> list[bytes]:
    rng = random.Random(SEED)
    forms = (ser.PrivateFormat.PKCS8, ser.PrivateFormat.TraditionalOpenSSL)
    out = []
    for n in range(KEYS):
        key = ec.derive_private_key(rng.randrange(1, 1 << 255), ec.SECP256R1())
        der = bytearray(key.private_bytes(ser.Encoding.DER, forms[n % 2], ser.NoEncryption()))
        at = der.index(b"\x02\x01\x01\x04\x20") + 5  # the scalar's 32 bytes
        scalar = bytearray(der[at : at + 32])
        _runs(rng, scalar)
        der[at : at + 32] = scalar  # still a key to the scanner: it reads the tags
        out.append(bytes(der))
    return out


@pytest.mark.parametrize("command", SQUEEZING, ids=" ".join)
def test_every_seeded_key_is_refused_in_every_dump(command: list[str]) -> None:
    keys = _keys()
    missed = [n for n, key in enumerate(keys) if find_private_key(run_tool(command, key)) is None]
    assert not missed, f"keys {missed} of seed {SEED} not found in {' '.join(command)}'s dump"
