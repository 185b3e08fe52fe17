"""keyscan_dumps._drop copies the pieces between matches into one buffer instead of
``re.sub`` (bounded memory on short lines); on any text it must give what ``re.sub``
gives with each match's group left out."""

from __future__ import annotations

import random
import re
from collections.abc import Callable

import pytest

from esp_cabundle.keyscan_dumps import _CONTINUED, _TEXT_COLUMN, _drop

# Pieces od/xxd dumps are made of, and near misses: offsets, od's later types' lines,
# od -z text columns, comment marks, blanks, CRs, stray bytes.
_PIECES = [
    b"0000000", b"0000020", b"00000000:", b"0000000000000010", b"# ", b"// ", b"--", b";",
    b" ", b"  ", b"\t", b"        ", b"                ", b"\n", b"\r\n", b"\r",
    b" 30 82 01 0a", b" 060 202 001", b"   0   202  001", b" 2d2d", b" >0.0<", b">..<",
    b"<", b">", b"*", b"x", b"0", b"\x00", b"\xff",
]  # fmt: skip


def _by_sub(pattern: re.Pattern[bytes], group: int | str, data: bytes) -> bytes:
    """What ``re.sub`` gives: each match with its ``group`` left out."""
    return pattern.sub(
        lambda m: data[m.start() : m.start(group)] + data[m.end(group) : m.end()], data
    )


def _text(rng: random.Random) -> bytes:
    return b"".join(rng.choice(_PIECES) for _ in range(rng.randrange(0, 120)))


@pytest.mark.parametrize(
    ("pattern", "group"), [(_CONTINUED, "more"), (_TEXT_COLUMN, 0)], ids=["more", "column"]
)
def test_drop_agrees_with_re_sub(
    pattern: Callable[[], re.Pattern[bytes]], group: int | str
) -> None:
    rng = random.Random(20261203)
    compiled = pattern()
    changed = 0
    for _ in range(3000):
        data = _text(rng)
        dropped = _drop(compiled, group, data)
        assert dropped == _by_sub(compiled, group, data), data
        changed += dropped != data
    assert changed > 30  # the texts hit the pattern often, not only its misses
