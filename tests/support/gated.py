"""CA files through the write-path gate, as the planners and flashers now require.

``gated(pem, board)`` is what a write command hands the layers below; ``canonical(pem)``
is what the device's CA file holds for a given input (the gate re-renders it as
``build`` writes PEM). Judged at a fixed instant so certificates that expire later do not
turn the tests red.
"""

from __future__ import annotations

from datetime import datetime, timezone
from functools import cache
from pathlib import Path

from esp_cabundle.boards import Board, load_board
from esp_cabundle.bundle import POLICY_NAMES, Policy
from esp_cabundle.gate import CaSource, GatedCA, gate_ca

AT = datetime(2026, 6, 1, tzinfo=timezone.utc)
X1_PEM = (Path(__file__).resolve().parent.parent / "data/letsencrypt/isrgrootx1.pem").read_bytes()


def gated(
    pem: bytes,
    board: str | Board | None = None,
    *,
    name: str = "ca.pem",
    allow_all: bool = False,
    check_targets: bool = True,
) -> GatedCA:
    """``pem`` gated for ``board`` (a name or a profile), no targets but the board's own
    connections (mdash-arduino's mdash.net: the CA must hold ISRG Root X1);
    ``allow_all`` relaxes every policy (for CA files that only need to be big);
    ``check_targets=False`` skips the connections too (``--no-check``). Cached by board
    name."""
    if isinstance(board, str):
        return _gated_for(pem, board, name, allow_all, check_targets)
    policy = Policy(allow=frozenset(POLICY_NAMES)) if allow_all else Policy()
    return gate_ca(
        CaSource.finished(name, pem, policy=policy),
        board=board,
        at=AT,
        check_targets=check_targets,
    )


@cache
def _gated_for(pem: bytes, board: str, name: str, allow_all: bool, check_targets: bool) -> GatedCA:
    return gated(
        pem, load_board(board), name=name, allow_all=allow_all, check_targets=check_targets
    )


def verbatim(pem: bytes, board: str) -> GatedCA:
    """``pem`` gated for ``board``, but carrying ``pem``'s own bytes instead of the gate's
    rendering: for tests of the layers below that replay byte sequences checked outside
    this suite (the SPIFFS cut states that SPIFFS's C code mounted, tests/data/spiffs/
    cuts.txt). The certificates still pass the gate's policies, not the board's
    connections (those recorded files hold minted roots: the bytes cannot change); the
    seal is recomputed here, which only a test may do."""
    import dataclasses
    import hashlib

    from esp_cabundle import gate

    ca = gated(pem, board, allow_all=True, check_targets=False)
    return dataclasses.replace(
        ca,
        pem=pem,
        sha256=hashlib.sha256(pem).hexdigest(),
        _seal=gate._mac(pem, ca.board, ca.labels),
    )


def canonical(pem: bytes, *, allow_expired: bool = False) -> bytes:
    """The bytes the device's CA file holds when ``pem`` is written through the gate."""
    return gated(pem, allow_all=allow_expired).pem


def huge(board: str, size: int = 300 * 1024) -> GatedCA:
    """A gated CA file of more than ``size`` bytes: ISRG Root X1 (so the board's own
    connections accept it), then self-signed CA certificates minted under one EC key,
    each its own root (more than a partition of that size can take)."""
    return gated(X1_PEM + _many_roots(size), board)


@cache
def _many_roots(size: int) -> bytes:
    from .verify_pki import mint, pooled_key

    key = pooled_key("ec256", 99)
    pem = b""
    n = 0
    while len(pem) < size * 3 // 4:  # the gate adds a comment header (~35 %) per root
        n += 1
        pem += mint(f"Filler Root {n}", key=key).pem
    return pem
