"""An output typed twice with different names (``pack -o a.bin -o b.bin``): click keeps
the last and says nothing, so a user who asked for two files gets one (push's
``--ledger a.db --ledger b.db`` likewise wrote one campaign where two were named). Found once for
every command, from the command line as typed (click records no count), and said as a
usage error: the option, the values, and the line with the option given once. The same
name twice is taken (one meaning). Other options keep the last value given, as most
tools do: scripts and Makefiles put defaults first and override them (``--timeout 2 ...
--timeout 60``); options meant to repeat (``multiple=True``: --root, --device,
--target, build's -o), counts and flags are left alone."""

from __future__ import annotations

from collections.abc import Sequence

import click

from ..errors import InputError
from ._usage import cluster, option_spellings, optional_value, usage_error

__all__ = ["repeated_option"]

# Options naming one file, where a second name silently replaced the first.
_ONE_FILE = frozenset({"output", "ledger_path"})

# One occurrence: where its words start in the line read apart, how many, its value.
_Seen = tuple[int, int, str]


def _single_value(option: click.Option) -> bool:
    """An output (or ledger) whose second name silently replaces the first."""
    return (
        option.name in _ONE_FILE
        and not (option.is_flag or option.count or option.multiple)
        and option.nargs == 1
    )


def repeated_option(
    cmd: click.Command, words: Sequence[str], head: Sequence[str], also: Sequence[str] = ()
) -> tuple[InputError, click.Command] | None:
    """The usage error for the first single-value option of ``cmd`` (or of the
    subcommand ``words`` name) typed with two different values, and the command whose
    option it is; None when there is none, or when help is asked for (``also``: the
    help option names; help says nothing of values). ``words``: the line after the
    command's name, ``head``: the words before them, for the mended line."""
    out: list[str] = list(head)  # the line, each short option of a cluster apart
    seen: dict[tuple[int, str], tuple[click.Option, list[_Seen]]] = {}
    current = cmd
    options = option_spellings(current)
    i = 0
    while i < len(words):
        word = words[i]
        if word == "--":  # after it every word is an argument
            out += words[i:]
            break
        if word in also:
            return None
        option, value, used, emitted, lead = _read_option(word, words[i + 1 :], options)
        if option is None and not word.startswith("-"):
            sub = current.commands.get(word) if isinstance(current, click.Group) else None
            if sub is not None:  # a group's subcommand: its options from here on
                current, options = sub, option_spellings(sub)
        start = len(out) + lead
        out += emitted
        if option is not None and value is not None:
            key = (id(current), option.name or "")
            seen.setdefault(key, (option, []))[1].append((start, len(out) - start, value))
        i += used
    for option, occurrences in seen.values():
        values = [v for _, _, v in occurrences]
        if len(set(values)) > 1:
            kept = [w for n, w in enumerate(out) if not _dropped(n, occurrences[:-1])]
            name = "/".join(option.opts)
            error = usage_error(
                f"{name} given {len(values)} times ({', '.join(values)}); it takes one value",
                kept,
                why="give it once",
            )
            owner = next(c for c in _commands(cmd) if option in c.params)
            return error, owner
    return None


def _dropped(n: int, occurrences: Sequence[_Seen]) -> bool:
    """Word ``n`` of the line belongs to one of ``occurrences`` (those left out)."""
    return any(start <= n < start + length for start, length, _ in occurrences)


def _commands(cmd: click.Command) -> list[click.Command]:
    """``cmd`` and its subcommands, at any depth."""
    subs = cmd.commands.values() if isinstance(cmd, click.Group) else ()
    return [cmd, *(c for sub in subs for c in _commands(sub))]


def _read_option(
    word: str, after: Sequence[str], options: dict[str, click.Option]
) -> tuple[click.Option | None, str | None, int, list[str], int]:
    """What ``word`` (``after`` it, the rest of the line) gives as click reads it: the
    option and its value (None unless a second one would replace it), how many words
    it takes, those words with a cluster's flags apart (``-qo x``: ``-q``, ``-o``,
    ``x``), and how many of them lead the option's own (the cluster's flags)."""
    plain: tuple[None, None, int, list[str], int] = (None, None, 1, [word], 0)
    if word.startswith("--"):
        flag, eq, glued = word.partition("=")
        option = options.get(flag)
        if option is None:
            return plain
        if eq or option.is_flag or option.count:
            return option, _kept(option, glued if eq else None), 1, [word], 0
        if optional_value(option) and (not after or after[0].startswith("-")):
            return option, _kept(option, option.flag_value), 1, [word], 0
        taken = min(max(option.nargs, 1), len(after))
        value = " ".join(after[:taken])
        return option, _kept(option, value), 1 + taken, [word, *after[:taken]], 0
    split = cluster(word, options)
    if split is None:
        return plain
    lead, taker, glued = split
    if taker is None:  # flags only
        return None, None, 1, lead, 0
    spelt, option = taker
    if glued:
        return option, _kept(option, glued), 1, [*lead, f"{spelt}{glued}"], len(lead)
    value = after[0] if after else ""
    given = [*lead, spelt, *after[:1]]
    return option, _kept(option, value), 1 + bool(after), given, len(lead)


def _kept(option: click.Option, value: object) -> str | None:
    """``option``'s value when a second one would replace it, else None."""
    return str(value) if _single_value(option) and value is not None else None
