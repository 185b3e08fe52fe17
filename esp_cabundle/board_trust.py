"""Which trust set a board's firmware version judges: a CA compiled in whatever a
``--bundle`` says (unless it is that firmware's own form, rebuilt), the firmware's own
default CA file, or the caller's fallback (:func:`board_trust`)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from .fileio import read_input
from .firmware import ca_set_info, load_ca_set, load_firmware
from .sniff import sniff_kind
from .trust_files import load_trust_set
from .verify import TrustSet

if TYPE_CHECKING:
    from .boards import Board

__all__ = ["board_trust"]


def board_trust(
    board: Board, bundle_path: Path | None, *, fallback: Callable[[], TrustSet]
) -> tuple[TrustSet, tuple[str, ...]]:
    """What a unit of ``board`` trusts, and notes saying why.

    A firmware CA compiled in is what units use whatever ``bundle_path`` says (unless the
    bundle is in the form the firmware is built from: the CA of rebuilt firmware). A CA
    file or ESP-IDF bundle is ``bundle_path`` when given; without it, a board named with
    a version judges what that firmware holds until someone replaces it, and an
    unversioned board keeps ``fallback`` (``./ca.pem`` or the config's roots).
    """
    conns = board.connection_cas()
    if not conns or board.firmware is None:
        return (load_trust_set(bundle_path) if bundle_path else fallback()), ()
    conn, ca = conns[0]
    info = ca_set_info(ca.ca_set)
    who = f"{load_firmware(board.firmware.name).title} {board.version}"
    notes = []
    if not board.version_given:
        notes.append(
            f"board {board.name} is taken to run {who} (its default); name another with "
            f"{board.name}@VERSION ({board.firmware.versions})"
        )

    def own() -> TrustSet:
        return load_ca_set(ca.ca_set).trust_set(key_only=ca.kind == "bundle")

    if ca.kind == "builtin":
        if bundle_path is None:
            notes.append(f"{who} trusts its built-in {info.title} for {conn.label}")
            return own(), tuple(notes)
        data = read_input(
            bundle_path,
            what="bundle file",
            certificates=True,
            stdin=True,  # '-': read once
        )
        if board.output.form == "c" and sniff_kind(data) in ("c-strings", "c-array"):
            notes.append(
                f"{bundle_path} is judged as the CA of rebuilt firmware; units running "
                f"{who} as released trust its built-in {info.title} for {conn.label}"
            )
            return load_trust_set(bundle_path), tuple(notes)
        notes.append(
            f"{who} does not read {ca.path or bundle_path.name} for {conn.label}; it trusts "
            f"its built-in {info.title} (judged that, not {bundle_path})"
        )
        return own(), tuple(notes)
    if bundle_path is not None:
        return load_trust_set(bundle_path), tuple(notes)
    if board.version_given:
        notes.append(f"no --bundle: {who} trusts, for {conn.label}, {ca.describe(info)}")
        return own(), tuple(notes)
    return fallback(), tuple(notes)
