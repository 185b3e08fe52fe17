"""A usage error a command finds itself (an option without the mode it belongs to, a
flag the command has not got), said as a missing option is (``_missing``): the tool's
words and a hint giving the command line as typed, mended. Click's ``UsageError``
printed its usage banner instead, with no example, and ``--json`` got click's kind."""

from __future__ import annotations

import shlex
from collections.abc import Sequence

import click

from ..errors import InputError

__all__ = [
    "example_line",
    "replaced_option",
    "split_option",
    "takes_value",
    "typed_words",
    "unclustered",
    "usage_error",
    "with_option",
]


def typed_words(ctx: click.Context | None = None) -> list[str]:
    """The command line as typed, after ``esp-cabundle`` (the group keeps it: cli.py),
    each cluster of ``ctx``'s short options apart (:func:`unclustered`)."""
    ctx = ctx or click.get_current_context(silent=True)
    obj = ctx.find_root().obj if ctx is not None else None
    words = list(obj.get("argv", ()) if isinstance(obj, dict) else ())
    return unclustered(words, ctx.command) if ctx is not None else words


def unclustered(words: Sequence[str], command: click.Command) -> list[str]:
    """``-qc FILE`` as ``-q -c FILE``, split as click reads a cluster (flags until one
    that takes a value, the word's rest its value), so each option in it can be found and
    moved or left out; a cluster naming an option ``command`` lacks stays whole."""
    shorts = {
        o: p
        for p in command.params
        if isinstance(p, click.Option)
        for o in (*p.opts, *p.secondary_opts)
        if len(o) == 2 and o[0] == "-" and o[1] != "-"
    }
    out: list[str] = []
    end = options_end(words)
    for i, word in enumerate(words):
        if i >= end or len(word) <= 2 or word[0] != "-" or word[1] == "-":
            out.append(word)
            continue
        parts: list[str] = []
        for j, char in enumerate(word[1:], 2):
            option = shorts.get(f"-{char}")
            if option is None:  # not this command's: leave the word as typed
                parts = [word]
                break
            parts.append(f"-{char}")
            if not (option.is_flag or option.count):
                parts += [word[j:]] if word[j:] else []
                break
        out += parts
    return out


def usage_error(message: str, words: Sequence[str], *, why: str = "") -> InputError:
    """The error (exit 2) for ``message``, its hint ``e.g. esp-cabundle WORDS`` (the
    mended command line) with ``why`` after it."""
    return InputError(message, hint=example_line(words, why=why))


def example_line(words: Sequence[str], *, why: str = "") -> str:
    """``e.g. esp-cabundle WORDS`` (a mended command line), ``why`` after it."""
    return f"e.g. esp-cabundle {shlex.join(words)}" + (f" ({why})" if why else "")


def replaced_option(words: Sequence[str], flags: Sequence[str], *given: str) -> list[str]:
    """``words`` with the option named by ``flags`` (``--size X``, ``--size=X``) given as
    ``given`` where it was last typed, left out where typed before; added if not typed."""
    end = options_end(words)
    spots = [i for i, word in enumerate(words[:end]) if any(gives(word, f) for f in flags)]
    if not spots:
        return with_option(words, *given)
    out: list[str] = []
    i = 0
    while i < len(words):
        if i in spots:
            out += given if i == spots[-1] else ()
            i += 2 if words[i] in flags else 1
            continue
        out.append(words[i])
        i += 1
    return out


def gives(word: str, flag: str) -> bool:
    """``word`` gives ``flag``: alone (its value next) or with its value glued on
    (``--output x``, ``--output=x``, ``-ox``)."""
    return word == flag or word.startswith(f"{flag}=" if flag.startswith("--") else flag)


def options_end(words: Sequence[str]) -> int:
    """Where options end in ``words``: at a ``--`` (after it, a word is an argument)."""
    return words.index("--") if "--" in words else len(words)


def with_option(words: Sequence[str], *added: str) -> list[str]:
    """``words`` with ``added`` before a ``--`` (after it, a word is an argument)."""
    out = list(words)
    end = options_end(out)
    out[end:end] = added
    return out


def takes_value(ctx: click.Context, option: click.Option) -> bool:
    """Whether ``option`` typed is followed by its value. --mdash's URL may be left out
    (click then gives its flag_value): typed alone, the next word is another option."""
    if option.is_flag or option.count:
        return False
    if isinstance(option.flag_value, str):  # a value that may be left out
        value = ctx.params.get(option.name or "")
        if value != option.flag_value:
            return True
        words = typed_words(ctx)  # the default typed out: the word after is that value
        glued = {f"{o}={value}" for o in option.opts}
        return any(
            (word in option.opts and after == value) or word in glued
            for word, after in zip(words, [*words[1:], ""], strict=True)
        )
    return True


def split_option(
    words: Sequence[str], flags: Sequence[str], *, takes_value: bool
) -> tuple[list[str], list[str]]:
    """``words`` without the option named by ``flags`` (``--until X``, ``--until=X``,
    ``-uX``; a flag alone), and the words that gave it, in order."""
    rest: list[str] = []
    taken: list[str] = []
    end = options_end(words)
    i = 0
    while i < len(words):
        word = words[i]
        if i < end and word in flags:
            taken += words[i : i + 1 + takes_value]
            i += 1 + takes_value
            continue
        glued = any(gives(word, f) and word != f for f in flags)
        (taken if i < end and takes_value and glued else rest).append(word)
        i += 1
    return rest, taken
