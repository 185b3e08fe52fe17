"""The line that pushes to one unit with another board: a push refuses a unit whose
firmware is not the board's (the CA was judged for another firmware), and "run the same
command again with --board X for this unit" was no line to run: the same command covers
the whole fleet, and its ledger is bound to the first board (another is refused)."""

from __future__ import annotations

import shlex
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import click

from ..text import printable
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


def unit_board_again(ctx: click.Context, ledger: Path) -> Callable[[str, UnitRef], str | None]:
    """For a board and a unit, the command line as typed that pushes to that unit alone
    with that board, on a ledger of that board's beside ``ledger`` (``lan.db``:
    ``lan-mongoose-os-esp32.db``; one line per unit of it shares it); None for a unit
    reached by a transport this does not know."""
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
        if unit.via in ("http", "ws"):
            words = with_option(words, *_valued("--rpc", unit.address or unit.id))
        else:
            words = with_option(words, *_valued("--device", unit.id))
        words = replaced_option(words, ["--board"], "--board", board)
        own = ledger.with_name(f"{ledger.stem}-{board}{ledger.suffix}")
        words = replaced_option(words, ["--ledger"], "--ledger", str(own))
        return printable(f"esp-cabundle {shlex.join(words)}")

    return line


def _valued(flag: str, value: str) -> tuple[str, ...]:
    """``flag value``; glued (``--device=-x``) when the value could read as an option."""
    return (f"{flag}={value}",) if value.startswith("-") else (flag, value)
