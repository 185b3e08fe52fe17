"""A usage error a command finds itself (an option without the mode it belongs to, a
flag the command has not got), said as a missing option is (``_missing``): the tool's
words and a hint giving the command line as typed, mended. Click's ``UsageError``
printed its usage banner instead, with no example, and ``--json`` got click's kind."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import click

from ..errors import InputError
from ..file_kinds import shell_join
from ..text import printable
from ._option_table import short_cluster

if TYPE_CHECKING:
    from ..spelling import Spelling

__all__ = [
    "Refused",
    "cluster",
    "example_line",
    "line_with_value",
    "option_spellings",
    "optional_value",
    "piped_roots_build",
    "replaced_option",
    "split_option",
    "takes_value",
    "typed_board_again",
    "typed_words",
    "unclustered",
    "url_in_line",
    "usage_error",
    "with_option",
]


class Refused(click.Option):
    """An option a command has not got but users type (``build --board``): hidden, and
    refused by ``refusal`` (given the line as typed and the value) with the command's
    rule, typed with a value or without one (value None: :mod:`._missing` asks it), not
    first told it needs a value and then refused for the value given."""

    def __init__(
        self,
        param_decls: Sequence[str],
        *,
        refusal: Callable[[list[str], str | None], InputError],
        **attrs: Any,
    ) -> None:
        super().__init__(
            param_decls, hidden=True, expose_value=False, callback=self._refuse, **attrs
        )
        self.refusal = refusal

    def _refuse(self, ctx: click.Context, param: click.Parameter, value: str | None) -> None:
        if value is not None:
            raise self.refusal(typed_words(ctx), value)


def typed_words(ctx: click.Context | None = None) -> list[str]:
    """The command line as typed, after ``esp-cabundle`` (the group keeps it: cli.py),
    each cluster of ``ctx``'s short options apart (:func:`unclustered`)."""
    ctx = ctx or click.get_current_context(silent=True)
    obj = ctx.find_root().obj if ctx is not None else None
    words = list(obj.get("argv", ()) if isinstance(obj, dict) else ())
    return unclustered(words, ctx.command) if ctx is not None else words


def unclustered(words: Sequence[str], command: click.Command) -> list[str]:
    """``-qc FILE`` as ``-q -c FILE``, split as click reads a cluster (:func:`cluster`),
    so each option in it can be found and moved or left out; a cluster naming an option
    ``command`` lacks stays whole."""
    options = option_spellings(command)
    out: list[str] = []
    end = options_end(words)
    for i, word in enumerate(words):
        split = cluster(word, options) if i < end and len(word) > 2 and word[1] != "-" else None
        if split is None:  # no cluster, or not this command's: the word as typed
            out.append(word)
            continue
        flags, taker, glued = split
        out += [*flags, *([taker[0]] if taker else []), *([glued] if glued else [])]
    return out


def option_spellings(command: click.Command) -> dict[str, click.Option]:
    """Every spelling of ``command``'s options (``-o``, ``--output``, ``--no-x``): the one
    table each reading of a typed line looks options up in."""
    return {
        o: p
        for p in command.params
        if isinstance(p, click.Option)
        for o in (*p.opts, *p.secondary_opts)
    }


def cluster(
    word: str, options: Mapping[str, click.Option]
) -> tuple[list[str], tuple[str, click.Option] | None, str] | None:
    """``word`` (``-qo x``) read as click reads a cluster of short options: its flags
    (``-q``), the option taking a value with its spelling (``-o``) if one does, and the
    word's rest after it (that value, when not empty); None when ``word`` is no cluster
    or a letter names none of ``options`` (:func:`._option_table.short_cluster`'s rule,
    which the option table reads too)."""
    read = short_cluster(word, {o: not (p.is_flag or p.count) for o, p in options.items()})
    if read is None:
        return None
    flags, taker, rest = read
    return flags, (taker, options[taker]) if taker is not None else None, rest


def optional_value(option: click.Option) -> bool:
    """A value that may be left out (--mdash's URL): the next word is its value only if
    it is no option, as click reads it (else click gives the option's flag_value)."""
    return isinstance(option.flag_value, str) and not option.is_flag


def usage_error(message: str, words: Sequence[str], *, why: str = "") -> InputError:
    """The error (exit 2) for ``message``, its hint ``e.g. esp-cabundle WORDS`` (the
    mended command line) with ``why`` after it."""
    return InputError(message, hint=example_line(words, why=why))


def example_line(words: Sequence[str], *, why: str = "") -> str:
    """``e.g. esp-cabundle WORDS`` (a mended command line), ``why`` after it."""
    return f"e.g. esp-cabundle {shell_join(words)}" + (f" ({why})" if why else "")


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


def line_with_value(ctx: click.Context, param: click.Parameter, value: str) -> list[str]:
    """The command line as typed, ``param`` given ``value`` where it was last typed."""
    flags = [*param.opts, *param.secondary_opts]
    return replaced_option(typed_words(ctx), flags, max(flags, key=len), value)


def url_in_line(
    words: Sequence[str], flag: str, bad: str, scheme: str, *, host: str, path: str = "/rpc"
) -> tuple[list[str], str]:
    """``words`` with ``flag``'s URL ``bad`` (``--rpc ftp://1.2.3.4``, ``--rpc=...``) given
    ``scheme`` in its place (``http://1.2.3.4/rpc``): its host kept if it names one, else
    ``host``; ``path`` added if it has none. Also the URL's rest after ``scheme://``, for
    an alternative (``or ws://1.2.3.4/rpc``). push and virtual-unit say a bad --rpc so."""
    rest = bad.partition("://")[2] if "://" in bad else bad
    try:
        named = bool(urlsplit(f"http://{rest}").hostname)
    except ValueError:  # a '[' without its ']'
        named = False
    rest = rest if named else host
    cut = min((i for i in (rest.find("?"), rest.find("#")) if i >= 0), default=len(rest))
    if "/" not in rest[:cut]:  # the path goes before a query: not "host?x=1/rpc"
        rest = rest[:cut] + path + rest[cut:]
    fixed = f"{scheme}://{rest}"
    out = [fixed if w == bad else f"{flag}={fixed}" if w == f"{flag}={bad}" else w for w in words]
    return out, rest


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
    if optional_value(option):
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


def joined(reason: str) -> str:
    """``reason`` after "--board is required" (:mod:`.options`, and a missing option's
    message, :mod:`._missing`): a parenthesis follows it, a clause a colon."""
    return f" {reason}" if reason.startswith("(") else f": {reason}"


# Stands for the board's name in the line typed until the hint names one; shell-safe,
# so shell_join leaves it bare.
_BOARD_SLOT = "BOARD-NAME-SLOT"


def typed_board_again(spelling: Spelling, port: str | None = None) -> Spelling:
    """``spelling`` whose wrong-board hint is the command line typed with the board the
    unit's partitions fit (``esp-cabundle flash -p ... --board mongoose-os-esp32``), so it
    runs when copied; "run the same command again with --board X" left the user to
    rebuild the line. Braces in the line are doubled: the hint is a format string.
    ``port``: that unit's port alone in the line, for one unit of a multi-port run (the
    board fits that unit, and the line typed would rerun every port with it)."""
    words = typed_words()
    if port is not None:
        words = replaced_option(words, ["-p", "--port"], "-p", port)
    words = replaced_option(words, ["--board"], "--board", _BOARD_SLOT)
    line = printable(f"esp-cabundle {shell_join(words)}")
    line = line.replace("{", "{{").replace("}", "}}").replace(_BOARD_SLOT, "{}")
    return spelling._replace(board_again=line)


def piped_roots_build(config: Path | None) -> list[str]:
    """``build [-c FILE] -f pem -o - ... --allow POLICY...``: the project's roots as PEM
    on a pipe, for inspect's and check's gate lines. That PEM is never shipped, so no
    shipped-output policy applies (a budget sized for the bundle, an expired root): a
    refused build left the gate an empty pipe ("-: empty file", exit 2) instead of its
    verdict. No --at: with every policy relaxed the build judges no date, and a later
    --at than the config's service_until is refused as a slip."""
    # deferred: bundle loads the catalog's code; only a failed gate needs the names
    from ..bundle import POLICY_NAMES

    words = ["build", *(["-c", str(config)] if config is not None else [])]
    words += ["-f", "pem", "-o", "-", "--no-lock", "--no-check", "-q"]
    return words + [w for name in POLICY_NAMES for w in ("--allow", name)]
