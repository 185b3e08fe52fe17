"""The CA and board a write call takes (:func:`~esp_cabundle.images.pack_ca`,
:func:`~esp_cabundle.flash.offline.update_dump`,
:func:`~esp_cabundle.flash.flasher.flash_unit`), checked at its entry: ``ca.pem``'s
bytes, the CA file's path or a board's name there failed deep inside (``'bytes' object
has no attribute 'for_board'``). Each refusal is an
:class:`~esp_cabundle.errors.ArgumentTypeError` whose hint is the call to make."""

from __future__ import annotations

from .arguments import ca_source_call, require_type
from .errors import ArgumentTypeError

__all__ = ["check_ca_for_board"]


def check_ca_for_board(ca: object, board: object, call: str, *, optional: bool = False) -> None:
    """``call``'s ``ca`` (a :class:`~esp_cabundle.gate.GatedCA`) and its ``board`` (a
    Board; ``optional``: or None): the bytes of ``ca.pem``, a CA file's path or a board's
    name there failed deep inside (``'bytes' object has no attribute 'for_board'``)."""
    # deferred: a caller holding a GatedCA has loaded the gate; pack --profile and the
    # flash modules do not load it, nor the board model, for nothing
    from .gate import GatedCA

    if board is not None or not optional:
        # deferred: as the gate above
        from .board_model import Board, check_board

        check_board(board, call)
        require_type(board, Board, f"{call}'s board takes a Board", "board=load_board(name)")
    if isinstance(ca, GatedCA):
        return
    source = ca_source_call(ca) or "CaSource.build(spec)"
    raise ArgumentTypeError(
        f"{call} takes a GatedCA (made by gate_ca only), not {type(ca).__name__}",
        hint=f"gate it first: ca = gate_ca({source}, board=board, at=now)",
    )
