"""The types of :func:`~esp_cabundle.gate.gate_ca`'s and
:func:`~esp_cabundle.images.pack_ca`'s arguments, checked at their entry: a board's
name, a BundleSpec or one Target there failed deep inside (``'str' object has no
attribute 'connection_cas'``, ``'Target' object is not iterable``). Each refusal is an
:class:`~esp_cabundle.errors.ArgumentTypeError` whose hint is the call to make."""

from __future__ import annotations

import os
from collections.abc import Sequence

from .arguments import ca_source_call, fspath_or, require_items, require_type
from .bundle import BundleSpec

__all__ = ["check_catalog", "check_gate_arguments", "check_targets"]


def check_gate_arguments(source: object, source_type: type, board: object, targets: object) -> None:
    """``source_type``: :class:`~esp_cabundle.gate.CaSource` (gate imports this module)."""
    if not isinstance(source, source_type):
        wrap = "CaSource.build(spec)" if isinstance(source, BundleSpec) else ca_source_call(source)
        if wrap is not None:
            hint = f"wrap it: gate_ca({wrap}, ...)"
        else:
            hint = "give CaSource.build(BundleSpec(...)) or CaSource.from_file(path)"
        require_type(source, source_type, "gate_ca takes a CaSource", hint)
    if board is not None:
        # deferred: a build with no board (a plain build's path) loads no board model
        from .board_model import check_board

        check_board(board, "gate_ca")
    check_targets(targets, "gate_ca")


def check_catalog(catalog: object, call: str) -> None:
    """``call``'s ``catalog=``: None or a Catalog. A name or a file's path there failed
    deep inside (``'str' object has no attribute 'preset'``), and an empty one (``{}``)
    was taken for None: the installed catalog."""
    if catalog is None:
        return
    # deferred: only a caller who loaded a Catalog gets past here, so it is loaded
    from .catalog import Catalog

    if isinstance(catalog, str | os.PathLike):
        hint = (
            f"load it first: catalog=Catalog.load(mozilla_pem=Path({fspath_or(catalog)!r})), "
            "or leave catalog out (the installed one)"
        )
    else:
        hint = "catalog=Catalog.load(), or leave catalog out (the installed one)"
    require_type(catalog, Catalog, f"{call}'s catalog= takes a Catalog", hint)


def check_targets(targets: object, call: str) -> None:
    """``call``'s ``targets=``: a sequence of Target (one Target, a host's name or a
    chain file's path there failed deep inside)."""
    if isinstance(targets, Sequence) and not targets:
        return
    # deferred: only a caller who made Targets gets here, so the module is loaded
    from .targets import Target

    require_items(
        targets,
        Target,
        f"{call}'s targets=",
        sequence=True,
        one_hint="give a list: targets=[target]",
        hint="give a list: targets=[parse_target('example.com')]",
        item_hint=lambda t: (
            f"make each with parse_target: targets=[parse_target({fspath_or(t)!r})]"
            if isinstance(t, str | os.PathLike)
            else "make each with parse_target('example.com') or Target(...)"
        ),
    )
