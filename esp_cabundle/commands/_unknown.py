"""An option or subcommand a command has not got (``check --server x``, ``push
stauts``), said in the tool's words: which command lacks it, which commands have it,
and a hint giving the line as typed with the option or command meant in its place, or
the command's --help. Click printed its usage banner and "No such option", and
``--json`` got click's kind."""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence

import click

from ..errors import InputError
from ..redact import remember, secret_option, typed_value
from ..text import closest, some
from ._option_table import OPTIONS, holders, options_of, short_cluster
from ._usage import example_line, option_spellings, options_end

__all__ = [
    "command_typo",
    "misplaced_option",
    "unknown_before_command",
    "unknown_command",
    "unknown_option",
]

# Options users type from other tools, by the name this tool gives the same thing; used
# only where the command has the option named (push --jobs: --concurrency).
SYNONYMS: dict[str, tuple[str, ...]] = {
    "--jobs": ("--concurrency",),
    "--parallel": ("--concurrency",),
    "--years": ("--service-years",),
    "--server": ("--host",),
    "--servers": ("--host",),
    "--out": ("--output",),
}

# Subcommands users type by another name (journal show: journal list).
COMMAND_SYNONYMS: dict[str, tuple[str, ...]] = {
    "show": ("list", "status"),
    "ls": ("list",),
    "delete": ("prune",),
    "clean": ("prune",),
    "rm": ("prune",),
    "get": ("pull",),
}


def unknown_option(e: click.NoSuchOption, argv: Sequence[str]) -> InputError:
    """The error (exit 2) for ``e``, an option the command of ``e.ctx`` lacks (``argv``
    the line typed): the commands that have it (:data:`._option_table.OPTIONS`: no other
    command is imported), and a hint of the line with the nearest of the command's own
    options in its place, else its --help."""
    ctx, typed = e.ctx, e.option_name
    if ctx is None:
        return InputError(e.format_message())
    path = ctx.command_path.partition(" ")[2] or ctx.command_path
    others = [p for p in holders(typed) if p != path]
    message = f"{path} has no {typed} option" + (
        f" ({typed} is an option of {_listed(others)})" if others else ""
    )
    help_line = f"{path}'s options: esp-cabundle {path} --help"
    # An option other commands have was no typo: only a synonym is offered for it,
    # unless it was given a value where theirs takes none (build --presets letsencrypt:
    # roots --presets is a flag), which is a typo of this command's own option.
    valued = _given_value(typed, argv)
    copied = [c for c in others if options_of(c).get(typed, False) or not valued]
    meant = _meant(typed, ctx.command, argv, by_spelling=not copied)
    if not meant:
        return InputError(message, hint=help_line)
    if len(meant) == 1 and _typed_secret(typed, meant[0], argv):
        # --api-key KEY: the line mended would hand the key to --api-key-file as a path
        return InputError(message, hint=_secret_file_hint(meant[0], path))
    words = _in_place(argv, typed, meant[0]) if len(meant) == 1 else None
    if words is None:  # several as near, or in a cluster of short options (-qz)
        return InputError(message, hint=f"did you mean {_or(meant)}? {help_line}")
    return InputError(message, hint=f"did you mean {meant[0]}? {example_line(words)}")


# The environment variable each secret's -file option stands in for (push --help).
_SECRET_ENV = {"--api-key-file": "MDASH_API_KEY", "--mqtt-password-file": "MQTT_PASSWORD"}


def _typed_secret(typed: str, meant: str, argv: Sequence[str]) -> bool:
    """``typed`` (meant as ``meant``, a secret's -file option) was given a secret, not a
    file: its name says so (``--api-key``), or its value names no file (``--api-kye
    KEY``) and it names no file; that value is then kept out of every line printed."""
    if meant not in _SECRET_ENV:
        return False
    words = list(argv[: options_end(argv)])
    at = _word_at(words, typed)
    glued = [w.partition("=")[2] for w in words if w.startswith(f"{typed}=")]
    value = glued[0] if glued else (words[at + 1] if 0 <= at < len(words) - 1 else "")
    if not value or not (glued or typed_value(value)):
        return secret_option(typed)
    try:
        a_file = os.path.isfile(value)
    except (OSError, ValueError):
        a_file = False
    if a_file:  # --api-key-fil key.txt: a path, to mend
        return False
    remember(value)
    return True


def _secret_file_hint(option: str, path: str) -> str:
    """Where a secret typed as an option's value goes instead: never on a command line,
    which other users of the machine read (ps, /proc) and shells keep in their history."""
    env = _SECRET_ENV.get(option)
    where = f"{option} FILE (a file only you can read)" + (f" or {env}" if env else "")
    return (
        f"did you mean {option}? a secret is never given on the command line, where other "
        f"users see it (ps) and the shell's history keeps it: {path} reads it from {where}"
    )


def unknown_before_command(
    typed: str,
    root: click.Command,
    argv: Sequence[str],
    command: tuple[int, str, click.Command | None] | None,
) -> InputError:
    """The error (exit 2) for ``esp-cabundle --jsn build``: an option before the command
    (``command``: where it is typed, its words, what they run; None if none) that neither
    the tool nor that command has. Click failed it before any command ran, with its
    banner. Offered: the nearest of the tool's own options and the command's (any
    command's when none is typed), in a mended line: a command's option after it (with
    no command typed, after the one that has it; several are named). With no command
    typed, a word after one near only a flag (``--jsn zzzz``) is said as no command."""
    own = _valued(_options(root))
    if command is None:
        name, theirs = None, {o: v for c in OPTIONS for o, v in options_of(c).items()}
    else:
        name, theirs = command[1], (_valued(_options(command[2])) if command[2] else {})
    others = holders(typed)
    message = f"esp-cabundle has no {typed} option" + (
        f" ({typed} is an option of {_listed(others)})" if others else ""
    )
    help_line = (
        f"{name}'s options: esp-cabundle {name} --help"
        if name
        else "its options: esp-cabundle --help"
    )
    words = list(argv)
    end = command[0] if command is not None else options_end(words)
    at = _typed_at(words, typed)
    glued = words[at] != typed
    valued = glued or (at < end - 1 and not words[at + 1].startswith("-"))
    options = {**theirs, **own}
    nearest = _option_meant(typed, options, valued=valued) if not others else ()
    if command is None and not nearest and valued and not glued and not others:
        # --jsn zzzz: near a flag only, so zzzz is no value of it but a command mistyped
        flags = _option_meant(typed, options, valued=False)
        if flags:
            return InputError(
                f"esp-cabundle has no command {words[at + 1]!r}",
                hint=f"{typed} is no option either: did you mean {_or(flags)}? "
                "the commands: esp-cabundle --help",
            )
    if len(nearest) != 1:
        said = f"did you mean {_or(nearest)}? " if nearest else ""
        return InputError(message, hint=f"{said}{help_line}")
    near = nearest[0]
    if command is not None and _typed_secret(typed, near, argv):
        return InputError(message, hint=_secret_file_hint(near, command[1]))
    if near in own:  # the tool's own option stays where it was typed
        mended = _in_place(words, typed, near) or words
        return InputError(message, hint=f"did you mean {near}? {example_line(mended)}")
    if command is None:
        where = _after_a_command(typed, near, words, valued=valued)
        return InputError(message, hint=f"did you mean {near}? {where}")
    mended = _moved_after(words, at, typed, near, valued=valued, end=end, command=command[1])
    return InputError(
        message, hint=f"did you mean {near}? it goes after the command: {example_line(mended)}"
    )


def misplaced_option(
    typed: str, argv: Sequence[str], command: tuple[int, str, click.Command | None] | None
) -> InputError:
    """The error (exit 2) for ``esp-cabundle --json build``: an option of the command
    (``command``: where it is typed and its words; None if none is) typed before it. The
    hint is the line with the option, and its value, moved after the command."""
    words = list(argv)
    if command is None:  # every command but virtual-unit has --json
        return InputError(
            f"{typed} goes after a command: esp-cabundle build {typed}",
            hint="the commands: esp-cabundle --help",
        )
    at, name = _typed_at(words, typed), command[1]
    option = _options(command[2]).get(typed) if command[2] else None
    valued = option is not None and not (option.is_flag or option.count) and words[at] == typed
    moved = _moved_after(words, at, typed, typed, valued=valued, end=command[0], command=name)
    return InputError(
        f"{typed} goes after the command: esp-cabundle {name} {typed}",
        hint=example_line(moved),
    )


def _after_a_command(typed: str, meant: str, words: Sequence[str], *, valued: bool) -> str:
    """Where ``meant``, an option of commands, goes when no command is typed: after the
    one command that has it, in the line mended; when several have it they are named,
    none picked (the first by name was offered: ``--size`` went to ``fs ls``)."""
    have = holders(meant)
    if len(have) > 1:
        return f"it goes after a command that has it: {_listed(have)}"
    at = _typed_at(words, typed)
    out, moved = _cut(words, at, typed, meant, valued=valued)
    return f"it goes after the command: {example_line([*out, *have[0].split(), *moved])}"


def _moved_after(
    words: Sequence[str], at: int, typed: str, meant: str, *, valued: bool, end: int, command: str
) -> list[str]:
    """``words`` with option ``typed`` at ``at`` (its value glued on, or next when
    ``valued``) spelt ``meant`` and moved after ``command``'s words, which start at
    ``end``."""
    out, moved = _cut(words, at, typed, meant, valued=valued)
    start = end - (len(words) - len(out))
    last = _word_at(out[start:], command.split()[-1]) + start
    return [*out[: last + 1], *moved, *out[last + 1 :]]


def _cut(
    words: Sequence[str], at: int, typed: str, meant: str, *, valued: bool
) -> tuple[list[str], list[str]]:
    """``words`` without option ``typed`` at ``at`` (its value glued on, or next when
    ``valued``), and those words, the option spelt ``meant``."""
    glued = words[at] != typed
    moved = (
        [meant + words[at][len(typed) :]] if glued else [meant, *words[at + 1 : at + 1 + valued]]
    )
    return [*words[:at], *words[at + len(moved) :]], moved


def _typed_at(words: Sequence[str], typed: str) -> int:
    """Where option ``typed`` is in ``words``: alone or with its value glued on."""
    return next(i for i, w in enumerate(words) if w == typed or w.startswith(f"{typed}="))


def _nearest(typed: str, names: Sequence[str]) -> tuple[str, ...]:
    """Those of ``names`` nearest ``typed`` by spelling, their dashes left out (a shared
    ``--`` made ``--bogus`` near ``--log`` and ``--foo`` near ``--root``). Of several
    equally near, those fewest edits away (two letters swapped is one: ``--prot`` is
    ``--port``, not ``--root``, the first of the table); all of them if still tied."""
    bare = {n.lstrip("-"): n for n in names}
    key = typed.lstrip("-").lower()
    near = closest(key, bare, most=len(bare))
    fewest = min((_edits(key, n.lower()) for n in near), default=0)
    return tuple(bare[n] for n in near if _edits(key, n.lower()) == fewest)


def _edits(a: str, b: str) -> int:
    """The edits making ``a`` into ``b``: a letter added, left out, changed, or two
    neighbours swapped (the optimal string alignment distance)."""
    rows = [list(range(len(b) + 1))]
    for i in range(1, len(a) + 1):
        row = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            row[j] = min(rows[-1][j] + 1, row[j - 1] + 1, rows[-1][j - 1] + (a[i - 1] != b[j - 1]))
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                row[j] = min(row[j], rows[-2][j - 2] + 1)
        rows.append(row)
    return rows[-1][-1]


def _or(names: Sequence[str]) -> str:
    """``--a``, ``--a or --b``, ``--a, --b or --c``: the options offered."""
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} or {names[-1]}"


def _valued(options: dict[str, click.Option]) -> dict[str, bool]:
    """Each of ``options`` with whether it takes a value (a flag or a count does not)."""
    return {o: not (p.is_flag or p.count) for o, p in options.items()}


def _options(command: click.Command) -> dict[str, click.Option]:
    """``command``'s options --help shows, by every spelling."""
    return {o: p for o, p in option_spellings(command).items() if not p.hidden}


def command_typo(words: Sequence[str], names: Iterable[str], *, near: bool = True) -> str | None:
    """The first of ``words`` (no command among them) that is no option, nor the value
    of one (``--chain chain.pem``), and is near one of the command ``names`` (any such
    word unless ``near``): ``buidl`` in ``--json buidl``, which click never reached (it
    failed the option first); None if none is."""
    valued = {o for c in OPTIONS for o, takes in options_of(c).items() if takes}
    return next(
        (
            w
            for i, w in enumerate(words)
            if not w.startswith("-")
            and (i == 0 or words[i - 1] not in valued)
            and (not near or closest(w, names, most=1))
        ),
        None,
    )


def unknown_command(ctx: click.Context, name: str, argv: Sequence[str]) -> InputError:
    """The error (exit 2) for ``name``, no command of the group of ``ctx`` (``journal
    show``, ``buidl``): its commands, and a hint of the line (``argv``, without a ``--``
    ending only the tool's or a group's options: ``push -- stauts``, ``-- buidl``) with
    the one meant in place of ``name``, else the group's --help. Options typed before a
    command (``--json buidl``) are mended for the one meant (:func:`_mended_before`)."""
    group = ctx.command
    assert isinstance(group, click.Group)
    path = ctx.command_path.partition(" ")[2]
    names = group.list_commands(ctx)
    near = [c for c in COMMAND_SYNONYMS.get(name.lower(), ()) if c in names]
    near = near[:1] or list(closest(name, names, most=1))
    message = f"{path or 'esp-cabundle'} has no command {name!r}" + (
        f" (its commands: {', '.join(names)})" if path else ""
    )
    help_line = (
        f"{path}'s commands: esp-cabundle {path} --help"
        if path
        else "the commands: esp-cabundle --help"
    )
    if not near:
        return InputError(message, hint=help_line)
    words = list(argv)
    group_at = _word_at(words, path.split()[-1]) if path else -1
    at = next((i for i in range(group_at + 1, options_end(words)) if words[i] == name), None)
    if at is None:
        return InputError(message, hint=f"did you mean {near[0]!r}? {help_line}")
    words = _mended_after(words, at + 1, f"{path} {near[0]}".lstrip(), ctx.help_option_names)
    if path:  # right after its group: options before it are the group's own (push)
        del words[at]
        words.insert(group_at + 1, near[0])
    else:  # --debug may come before a command
        words[at] = near[0]
        words = _mended_before(group, words, at, near[0])
    return InputError(message, hint=f"did you mean {near[0]!r}? {example_line(words)}")


def _mended_after(
    words: Sequence[str], start: int, command: str, known: Iterable[str]
) -> list[str]:
    """``words`` with each option typed from ``start`` (after a mistyped command, before
    a ``--``) that ``command`` (its words: ``fs ls``; a group's subcommand typed after it
    is read) lacks spelt as the one of its options nearest it: ``buidl --jsn`` was mended
    to ``build --jsn``, which failed again on --jsn. ``known`` (the help options), a
    cluster of ``command``'s short options, and an option none is near (the line mended
    then says it) are left as typed."""
    out = list(words)
    end = options_end(out)
    sub = next((w for w in out[start:end] if not w.startswith("-")), None)
    command = f"{command} {sub}" if f"{command} {sub}" in OPTIONS else command
    takes = {**options_of(command), **dict.fromkeys(known, False)}
    i = start
    while i < end:
        word = out[i]
        name, glued, _ = word.partition("=")
        i += 1
        if not word.startswith("-") or word == "-":
            continue  # an argument, or the value of an option before it
        if name in takes:
            i += takes[name] and not glued
            continue
        read = None if name.startswith("--") else short_cluster(word, takes)
        if read is not None:  # -qo x: -o's value next
            i += read[1] is not None and not read[2]
            continue
        valued = bool(glued) or (i < end and not out[i].startswith("-"))
        meant = _option_meant(name, takes, valued=valued)
        if len(meant) == 1:
            out[i - 1] = meant[0] + word[len(name) :]
    return out


def _mended_before(group: click.Command, words: Sequence[str], at: int, command: str) -> list[str]:
    """``words`` with each option typed before ``command`` (at ``at``) put where the line
    runs: the tool's own kept, ``command``'s moved after it, a misspelt one put right
    (``--jsn``: ``--json``, moved) and one neither is near left out with its value, as is
    a stray word. ``--debug --jsn buidl`` was mended to ``--debug --jsn build``, which
    failed again on --jsn."""
    own = _valued(_options(group))
    theirs = options_of(command)
    options = {**theirs, **own}
    kept: list[str] = []
    moved: list[str] = []
    i = 0
    while i < at:
        word = words[i]
        name, glued, _ = word.partition("=")
        i += 1
        if not word.startswith("-") or word == "-":
            continue  # a stray word: no command is there
        known = own.get(name, theirs.get(name))
        if known is None:  # a typo, given a value if one is glued on or next
            known = bool(glued) or (i < at and not words[i].startswith("-"))
            nearest = _option_meant(name, options, valued=known)
            meant = nearest[0] if len(nearest) == 1 else None
        else:
            meant = name
        value = words[i : i + 1] if known and not glued and i < at else []
        i += len(value)
        if meant is not None:
            (kept if meant in own else moved).extend([meant + word[len(name) :], *value])
    return [*kept, *words[at : at + 1], *moved, *words[at + 1 :]]


def _meant(
    typed: str, command: click.Command, argv: Sequence[str], *, by_spelling: bool
) -> tuple[str, ...]:
    """The options of ``command`` meant by ``typed``: a synonym it has, else (if
    ``by_spelling``) the nearest by spelling (several if as near) that take a value if
    ``typed`` was given one (``--sever=x``, or a word after it that no option is)."""
    options = _options(command)
    for synonym in SYNONYMS.get(typed, ()):
        if synonym in options:
            return (synonym,)
    if not by_spelling:
        return ()
    return _option_meant(typed, _valued(options), valued=_given_value(typed, argv))


def _option_meant(typed: str, options: Mapping[str, bool], *, valued: bool) -> tuple[str, ...]:
    """Those of ``options`` (each with whether it takes a value) nearest ``typed`` by
    spelling (:func:`_nearest`), long if it is long, short if short, and taking a value
    if it was ``valued`` (given one: ``--sever=x``, or a word after it no option is)."""
    names = [
        o
        for o, takes in options.items()
        if o.startswith("--") == typed.startswith("--") and (takes or not valued)
    ]
    return _nearest(typed, names)


def _given_value(typed: str, argv: Sequence[str]) -> bool:
    """``typed`` was given a value: glued on (``--x=1``), or next (no option)."""
    words = list(argv[: options_end(argv)])
    if any(w.startswith(f"{typed}=") for w in words):
        return True
    at = _word_at(words, typed)
    return 0 <= at < len(words) - 1 and not words[at + 1].startswith("-")


def _in_place(argv: Sequence[str], typed: str, meant: str) -> list[str] | None:
    """``argv`` with ``typed`` (alone, or with its value glued on) spelt ``meant``."""
    words = list(argv)
    end = options_end(words)
    for i, word in enumerate(words[:end]):
        if word == typed:
            words[i] = meant
            return words
        if word.startswith(f"{typed}="):
            words[i] = meant + word[len(typed) :]
            return words
    return None


def _listed(names: Sequence[str]) -> str:
    """``check and chains show``; ``a, b, c, d, e and 2 more`` for many."""
    if len(names) > 5:
        return some(names)
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def _word_at(words: Sequence[str], word: str) -> int:
    """Where ``word`` is first typed in ``words``; -1 if not."""
    return words.index(word) if word in words else -1
