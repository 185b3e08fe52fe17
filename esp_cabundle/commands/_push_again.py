"""The line that pushes to one unit with another board: a push refuses a unit whose
firmware is not the board's (the CA was judged for another firmware), and "run the same
command again with --board X for this unit" was no line to run: the same command covers
the whole fleet, and its ledger is bound to the first board (another is refused)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import click

from ..board_links import board_links
from ..boards import load_board
from ..push.urls import masked_values
from ..spelling import shell_join
from ..text import printable
from ._push_gate import UNJUDGED
from ._push_links import project_config
from ._usage import replaced_option, split_option, takes_value, typed_words, with_option

if TYPE_CHECKING:
    from ..push.transport import UnitRef

__all__ = ["unit_board_again"]

# The options that pick units, by the parameter's name: a line for one unit drops them
# all, then names that unit as its transport does (--device ID, or --rpc URL).
_PICKS = ("devices", "devices_file", "rpc_urls")
# Each link's options, by the transport that names a unit; a line for one unit keeps its
# own link's and drops the others' (a --mdash beside it would list that fleet again).
_LINKS = {
    "mdash": ("mdash_url", "api_key_file"),
    "mqtt": ("mqtt_url", "mqtt_password_file"),
    "http": ("rpc_urls",),
    "ws": ("rpc_urls",),
}


def unit_board_again(
    ctx: click.Context, opts: dict[str, Any]
) -> Callable[[str, UnitRef], str | None]:
    """For a board and a unit, the command line as typed that pushes to that unit alone
    with that board, on a ledger of that board's beside the run's (``lan.db``:
    ``lan-mongoose-os-esp32.db``; one line per unit of it shares it); None for a unit
    reached by a transport this does not know. It keeps the run's judging options
    (--server, --target, --allow, -c); when, for that board, nothing would judge the CA
    (the run was judged by its own board's connections alone), it says what to add: the
    line as printed was refused as unjudged."""
    ledger = opts["ledger_path"]
    params = {p.name: p for p in ctx.command.params if isinstance(p, click.Option)}
    typed = typed_words(ctx)

    def without(words: list[str], names: tuple[str, ...]) -> list[str]:
        for name in names:
            p = params[name]
            flags = [*p.opts, *p.secondary_opts]
            words, _ = split_option(words, flags, takes_value=takes_value(ctx, p))
        return words

    def line(board: str, unit: UnitRef) -> str | None:
        if unit.via not in _LINKS:
            return None
        others = {n for via, names in _LINKS.items() if via != unit.via for n in names}
        words = without(typed, tuple(dict.fromkeys((*_PICKS, *sorted(others)))))
        note = ""
        if unit.via in ("http", "ws"):
            address = unit.address or unit.id
            if masked_values(address.partition("?")[2].partition("#")[0]):
                # the ledger keeps no query value: the mask would be refused as a URL
                note = (
                    f" (URL: {address}, each query value given again as first typed: "
                    "the ledger and reports keep none)"
                )
                address = "URL"
            words = with_option(words, *_valued("--rpc", address))
        else:
            words = with_option(words, *_valued("--device", unit.id))
        words = replaced_option(words, ["--board"], "--board", board)
        own = ledger.with_name(f"{ledger.stem}-{board}{ledger.suffix}")
        words = replaced_option(words, ["--ledger"], "--ledger", str(own))
        text = printable(f"esp-cabundle {shell_join(words)}")
        if _judges_nothing(opts, board, unit.via):
            text += (
                f" --server HOST[:PORT] (the server those units connect to: nothing else "
                f"judges the CA for {board}; or, knowing the file is right, --allow unjudged)"
            )
        return text + printable(note)

    return line


def _judges_nothing(opts: dict[str, Any], board: str, via: str) -> bool:
    """Whether a line for ``board`` over the link ``via`` would have nothing to judge the
    CA against (refused unless --allow unjudged), as :func:`._push_gate.gated_ca` tells:
    no server or target named, none in the config, none implied by the kept link (an
    https --mdash, an mqtts:// broker), and no connection of the board's firmware that
    reads the file."""
    ca = opts["ca"]
    if opts["servers"] or ca.targets or UNJUDGED in ca.allow:
        return False
    if via == "mdash" and str(opts["mdash_url"] or "").lower().startswith("https://"):
        return False
    if via == "mqtt" and str(opts["mqtt_url"] or "").lower().startswith("mqtts://"):
        return False
    config = project_config(opts)
    if config is not None and config.section("targets", ()):
        return False
    return not board_links(load_board(board)).judged


def _valued(flag: str, value: str) -> tuple[str, ...]:
    """``flag value``; glued (``--device=-x``) when the value could read as an option."""
    return (f"{flag}={value}",) if value.startswith("-") else (flag, value)
