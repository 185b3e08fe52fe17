"""A required option or argument left out, said in the tool's words: which one, and the
command line as typed with what the command still needs added from its complete example
(:data:`EXAMPLES`), so the fix is one copy away and the copy runs. Click's own report
named it below a usage banner, with no example of a value."""

from __future__ import annotations

import os
import shlex
import stat
from collections.abc import Sequence
from pathlib import Path

import click

from ..errors import EspCabundleError, InputError
from ..spelling import shell_join
from ._usage import (
    Refused,
    gives,
    joined,
    option_spellings,
    optional_value,
    options_end,
    usage_error,
)

__all__ = [
    "EXAMPLES",
    "INSTEAD",
    "NAMED_AFTER",
    "completed",
    "example",
    "extra_arguments",
    "flag_value_error",
    "missing_error",
    "missing_value_error",
    "swallowed_option",
    "unstrayed",
]

# The options that name the CA: a stray file is the CA only if none of them is typed.
CA_SOURCES = ("--bundle", "--preset", "--root")

# Each command with a required value: its arguments and options in one line with all it
# needs to run, not only what click knows is required (pack wants a layout, flash a CA):
# a test runs every hint. Values come from the command's --help (a test holds them to it).
EXAMPLES: dict[str, str] = {
    "pack": "--fs spiffs --profile esp-idf --size 1408K --preset letsencrypt -o spiffs.bin",
    "flash": "-p /dev/ttyUSB0 --board mdash-arduino --preset letsencrypt",
    "read": "-p /dev/ttyUSB0 --partition spiffs -o spiffs.bin",
    "restore": "-p /dev/ttyUSB0",
    "update-dump": "dump.bin --board mdash-arduino --preset mdash -o new.bin",
    "fs ls": "fs.bin",
    "fs cat": "fs.bin /ca.pem",
    "fs put": "fs.bin ca.pem",
    "fs rm": "fs.bin /old-ca.pem",
    "journal prune": "--older-than 30d",
}

# A command's argument that takes a CA file: a CA file typed alone is that one (``fs put
# ca.pem``: the file to put), not the image before it (the hint was "fs put ca.pem ca.pem").
CA_ARGUMENT: dict[str, str] = {"fs put": "source"}
_CA_SUFFIXES = (".pem", ".crt", ".cer", ".der")

# An option typed stands for the example's options named with it, which would clash:
# a board gives the layout, --bundle refuses --preset, --all reads no one partition, a
# --platform has its own profile (arduino-2.0.17's is arduino: esp-idf is refused).
INSTEAD: dict[str, tuple[str, ...]] = {
    "--board": ("--fs", "--profile", "--size"),
    "--bundle": ("--preset",),
    "--all": ("--partition",),
    "--platform": ("--profile",),
}

# An example's value named after another option's value, typed (--fs, or the file system
# of a typed --board) or the example's: a LittleFS image copied from pack's hint is
# littlefs.bin, not spiffs.bin.
NAMED_AFTER: dict[tuple[str, str], tuple[str, str]] = {
    ("pack", "--output"): ("--fs", "{}.bin"),
}


def example(
    command: str, cmd: click.Command
) -> tuple[list[tuple[click.Option, list[str]]], list[str]]:
    """``command``'s example (``fs put``) read against ``cmd``: each option with its
    words (``-o``, ``fs.bin``), then the arguments in order; empty if not listed."""
    flags = {o: p for p in cmd.params if isinstance(p, click.Option) for o in p.opts}
    options: list[tuple[click.Option, list[str]]] = []
    arguments: list[str] = []
    words = iter(shlex.split(EXAMPLES.get(command, "")))
    for word in words:
        option = flags.get(word)
        if option is None:
            arguments.append(word)
        else:
            options.append((option, [word] if option.is_flag else [word, next(words)]))
    return options, arguments


def missing_error(e: click.MissingParameter, argv: Sequence[str]) -> EspCabundleError:
    """The error for ``e`` (exit 2): ``-o/--output is required`` (or the argument and the
    command's usage), with the reason a command gave (``required_board``'s), and a
    hint: ``argv`` with what its command's example has and ``argv`` lacks added."""
    ctx, param = e.ctx, e.param
    if ctx is None or param is None:
        return InputError(e.format_message())
    if isinstance(param, click.Argument):
        usage = " ".join(ctx.command.collect_usage_pieces(ctx))
        message = (
            f"the {param.human_readable_name} argument is required ({ctx.command_path} {usage})"
        )
    else:
        message = f"{'/'.join(param.opts)} is required"
    if e.message:  # the command's reason: "(or board: in cabundle.yaml): it says ..."
        message += joined(e.message)
    unknown = _unknown_profile(ctx, argv)
    if unknown is not None:
        return unknown
    _, whys = _mended(ctx, argv)
    line = completed(ctx, argv, param)
    board = _example_board(ctx, argv, line)
    if board is not None and ctx.command_path.partition(" ")[2] in UNIT_BOARD_COMMANDS:
        whys.append(BOARD_EXAMPLE.format(board))
    return usage_error(message, line, why="; ".join(whys))


# The example's board is one of many: said, so that it is not taken for the unit's (a
# Mongoose OS unit given mdash-arduino is refused for its partitions).
UNIT_BOARD_COMMANDS = ("flash", "update-dump")  # whose --board is one unit's (a dump's)
BOARD_EXAMPLE = (
    "{} is only an example: give the board of the firmware on the unit, one of those "
    "esp-cabundle boards lists"
)


def _example_board(ctx: click.Context, argv: Sequence[str], line: Sequence[str]) -> str | None:
    """The --board the mended ``line`` names and ``argv`` did not (the example's), or None."""
    opts = (p for p in ctx.command.params if isinstance(p, click.Option))
    board = next((p for p in opts if "--board" in p.opts), None)
    if board is None or _typed_value(board, argv) is not None:
        return None
    return _typed_value(board, line)


def _unknown_profile(ctx: click.Context, argv: Sequence[str]) -> EspCabundleError | None:
    """A --profile no file system has: the error to say first, with its did-you-mean
    (the command says it once run), as a hint carrying the bad name failed again."""
    profile = ctx.params.get("profile")
    if not isinstance(profile, str) or not any(
        "--profile" in p.opts for p in ctx.command.params if isinstance(p, click.Option)
    ):
        return None
    # deferred: the profile tables load only for a line missing an option
    from ..fs import FS_TYPES, get_profile, profiles_of

    if any(profile in profiles_of(t) for t in FS_TYPES):
        return None
    fs = ctx.params.get("fs_type")
    if fs not in FS_TYPES:
        typed = [o for o in ctx.command.params if isinstance(o, click.Option)]
        board = next((o for o in typed if "--board" in o.opts), None)
        fs = _board_fs(_typed_value(board, argv)) if board is not None else None
    try:
        get_profile(fs if fs in FS_TYPES else "spiffs", profile)
    except EspCabundleError as error:
        return error
    return None


def extra_arguments(ctx: click.Context, argv: Sequence[str]) -> InputError | None:
    """The error (exit 2) for words ``ctx``'s command has no argument for (``pack -o x.bin
    -- --size 12X``: after ``--`` every word is an argument), which click said below its
    usage banner with no hint: the words, and the line as typed without them. None if
    they are not found in ``argv`` (click's words then)."""
    extra = [argv[i] for i in _extra_spots(ctx, argv)]
    if not extra:
        return None
    path = ctx.command_path.partition(" ")[2]
    usage = " ".join(ctx.command.collect_usage_pieces(ctx))
    takes = any(isinstance(p, click.Argument) for p in ctx.command.params)
    more = f"no more arguments ({ctx.command_path} {usage})" if takes else "no arguments"
    message = f"{path} takes {more}: {shell_join(extra)}"
    _, whys = _mended(ctx, argv)
    return usage_error(message, completed(ctx, argv), why="; ".join(whys))


def _extra_spots(ctx: click.Context, words: Sequence[str]) -> list[int]:
    """Where in ``words`` the arguments ``ctx``'s command has no slot for are typed."""
    cmd = ctx.command
    slots = [p.nargs for p in cmd.params if isinstance(p, click.Argument)]
    if any(n < 0 for n in slots):
        return []
    return _command_arguments(cmd, ctx.command_path.split()[1:], words)[sum(slots) :]


def unstrayed(ctx: click.Context, argv: Sequence[str]) -> tuple[list[str], list[str]]:
    """``argv`` without the words click would refuse as extra arguments of ``ctx``'s
    command (``pack ca.pem``), and why each went: a regular file is the CA meant, given
    with --bundle where the command has it and no CA is named; another is left out. A
    hint echoing them failed with "unexpected extra argument" when copied."""
    cmd = ctx.command
    words = list(argv)
    names = ctx.command_path.split()[1:]
    end = options_end(words)
    # after a --, every word is an argument too: one more than the command takes failed
    # the copied line as well (pack -- --size 12X kept '-- --size 12X')
    strays = _extra_spots(ctx, words)
    if not strays:
        return words, []
    opts = {o for p in cmd.params if isinstance(p, click.Option) for o in p.opts}
    named = any(gives(w, f) for w in words[:end] for f in CA_SOURCES)
    # push status q.db: the hint left q.db out, and the line it gave read another ledger
    ledger = "--ledger" not in opts or any(gives(w, "--ledger") for w in words[:end])
    out: list[str] = []
    whys: list[str] = []
    left: list[str] = []
    for i, word in enumerate(words):
        if i not in strays:
            out.append(word)
        elif i < end and "--bundle" in opts and not named and _regular_file(word):
            named = True
            out += ["--bundle", word]
            whys.append(f"{word} is the CA file: it goes in with --bundle")
        elif i < end and not ledger and _regular_file(word) and _sqlite(word):
            ledger = True
            out += ["--ledger", word]
            whys.append(f"{word} is the campaign's ledger: it goes in with --ledger")
        else:
            left.append(word)
    if left:
        what = "such argument" if len(left) == 1 else "such arguments"
        after = ", and after -- every word is one" if strays[-1] > end else ""
        whys.append(f"{shell_join(left)} left out: {' '.join(names)} takes no {what}{after}")
    return out[:-1] if out[-1:] == ["--"] else out, whys


def _mended(ctx: click.Context, argv: Sequence[str]) -> tuple[list[str], list[str]]:
    """``argv`` :func:`unstrayed`, then a CA file typed in an earlier slot moved to its
    own (:func:`_ca_moved`); and why each word moved."""
    words, whys = unstrayed(ctx, argv)
    words, moved = _ca_moved(ctx.command_path.partition(" ")[2], ctx.command, words)
    return words, whys + moved


def _ca_moved(
    command: str, cmd: click.Command, words: Sequence[str]
) -> tuple[list[str], list[str]]:
    """``fs put ca.pem``: the last argument typed, a CA file (by its name) in a slot
    before :data:`CA_ARGUMENT`'s, is that argument; the example's values fill the slots
    before it. The words so mended, and why (none if nothing moved)."""
    required = [p for p in cmd.params if isinstance(p, click.Argument) and p.required]
    slot = next((i for i, p in enumerate(required) if p.name == CA_ARGUMENT.get(command)), None)
    spots = _command_arguments(cmd, command.split(), words)
    if slot is None or not 0 < len(spots) <= slot:
        return list(words), []
    word = words[spots[-1]]
    _, examples = example(command, cmd)
    if not word.lower().endswith(_CA_SUFFIXES) or len(examples) < slot:
        return list(words), []
    before = required[len(spots) - 1 : slot]
    out = [*words[: spots[-1]], *examples[len(spots) - 1 : slot], *words[spots[-1] :]]
    names = " and ".join(p.human_readable_name for p in before)
    return out, [f"{word} is the {required[slot].human_readable_name}: the {names} comes first"]


def _command_arguments(cmd: click.Command, names: Sequence[str], words: Sequence[str]) -> list[int]:
    """Where in ``words`` ``cmd``'s arguments are typed, past the ``names`` that run it
    (``fs``, ``put``)."""
    spots = _argument_spots(cmd, words)
    return spots[len(names) :] if [words[i] for i in spots[: len(names)]] == list(names) else spots


def _regular_file(word: str) -> bool:
    """``word`` names a regular file (a FIFO is never opened, so never waited on)."""
    try:
        return stat.S_ISREG(Path(word).stat().st_mode)
    except (OSError, ValueError):
        return False


def _sqlite(word: str) -> bool:
    """``word`` names an SQLite database (its header), as a campaign's ledger is: a CA
    file typed after --bundle is no ledger."""
    try:
        with open(word, "rb") as f:
            return f.read(16) == b"SQLite format 3\x00"
    except OSError:
        return False


def _argument_spots(cmd: click.Command, words: Sequence[str]) -> list[int]:
    """Where in ``words`` click reads an argument: not an option nor an option's value
    (an option ``cmd`` has not got is taken for a flag); after ``--``, every word."""
    options = option_spellings(cmd)
    end = options_end(words)
    spots: list[int] = []
    i = 0
    while i < len(words):
        word = words[i]
        option = options.get(word) if i < end else None
        if i >= end:
            spots += [i] if i > end else []
        elif option is not None and not (option.is_flag or option.count):
            # a value that may be left out (--mdash's URL) is not the next option
            after = words[i + 1] if i + 1 < len(words) else "-"
            optional = optional_value(option) and after.startswith("-")
            i += 0 if optional else max(option.nargs, 1)
        elif not word.startswith("-") or word == "-":
            spots.append(i)
        i += 1
    return spots


def swallowed_option(
    cmd: click.Command, words: Sequence[str], also: Sequence[str] = ()
) -> click.BadOptionUsage | None:
    """``build --preset --json``: click takes the flag for --preset's value. An option
    whose value is one of ``cmd``'s own long options (``--json``, ``--size=1M``; or
    ``also``, the help option), or the ``--`` ending the options (``pack --from-dir --
    -o x``: click took it for a directory), was left without its value: the error
    :func:`missing_value_error` says, else None."""
    options = option_spellings(cmd)
    end = options_end(words)
    i = 0
    while i < end:
        option = options.get(words[i])
        # a value that may be left out (--mdash's URL): the next option is no value of it
        if option is None or option.is_flag or option.count or optional_value(option):
            i += 1
            continue
        after = words[i + 1] if i + 1 < end else ""
        taken_end = i + 1 == end < len(words)  # the -- after it: click takes it for a value
        if taken_end or (after.startswith("--") and after.partition("=")[0] in {*options, *also}):
            return click.BadOptionUsage(words[i], f"Option '{words[i]}' requires an argument.")
        i += 1 + max(option.nargs, 1)
    return None


def missing_value_error(
    e: click.BadOptionUsage, cmd: click.Command, path: str, argv: Sequence[str]
) -> InputError | None:
    """The error for an option of ``cmd`` (command ``path``, ``fs ls``) typed last
    without its value (``build --preset``), said as a missing option is: which option,
    and ``argv`` with a value after it (the command's example's, else its help's, else
    its metavar). None for other misuse (a flag given a value): click's words do."""
    param = next(
        (p for p in cmd.params if isinstance(p, click.Option) and e.option_name in p.opts), None
    )
    if param is None or param.is_flag or param.count or "argument" not in e.message:
        return None
    if isinstance(param, Refused):  # build --board: build's rule, not "needs a value"
        return param.refusal(list(argv), None)
    words = list(argv)
    at, end = _typed_last(e.option_name, words)
    choices = param.type.choices if isinstance(param.type, click.Choice) else ()
    wanted = " or ".join(map(str, choices)) or _metavar(param)
    said = f"{'/'.join(param.opts)} needs a value ({wanted})"
    # pack --from-dir -- -o x: click took the -- for its value (a directory named '--')
    if _given_end(at, end, words):
        said += ", not the -- after it: a -- ends the options"
        if _no_arguments(cmd):
            del words[end]  # no argument follows: the words after it were options
    words[at + 1 : at + 1] = _value_of(cmd, path, param, words[:end])
    words = _with_arguments(path, cmd, words)
    return usage_error(said, words)


def end_dropped(option: str, cmd: click.Command, argv: Sequence[str]) -> bool:
    """``pack --from-dir -- -o x --json``: ``option`` was given the ``--`` ending the
    options for its value, and ``cmd`` takes no argument, so the words after it were
    options: the mended line leaves that ``--`` out (and its --json is the command's)."""
    return _given_end(*_typed_last(option, argv), argv) and _no_arguments(cmd)


def _given_end(at: int, end: int, words: Sequence[str]) -> bool:
    """The option at ``at`` was given the ``--`` at ``end`` for its value, and words
    follow that ``--``."""
    return at == end - 1 < len(words) - 1


def _no_arguments(cmd: click.Command) -> bool:
    """``cmd`` takes no argument: words after a ``--`` it was typed with were options."""
    return not any(isinstance(p, click.Argument) for p in cmd.params)


def _typed_last(option: str, words: Sequence[str]) -> tuple[int, int]:
    """Where ``option`` is last typed before a ``--`` (just before it if not typed), and
    where the options end (:func:`._usage.options_end`)."""
    end = options_end(words)
    return max((i for i, w in enumerate(words[:end]) if w == option), default=end - 1), end


def flag_value_error(e: click.BadOptionUsage, argv: Sequence[str]) -> InputError | None:
    """The error for a flag given a value (``build --no-check=x``), which click said in
    its words (and under --json, its kind): the line with the value left out. None for
    other misuse."""
    if "does not take a value" not in e.message:
        return None
    flag = e.option_name
    end = options_end(argv)
    given = [w for w in argv[:end] if w.startswith(f"{flag}=")]
    words = [flag if i < end and w in given else w for i, w in enumerate(argv)]
    return usage_error(f"{flag} takes no value: it is a flag", words)


def _with_arguments(command: str, cmd: click.Command, words: Sequence[str]) -> list[str]:
    """``words`` with the required arguments of ``cmd`` not typed added from its example
    (``fs ls --profile x``: the image too), a CA file typed first moved (:func:`_ca_moved`)."""
    out, _ = _ca_moved(command, cmd, words)
    typed = len(_command_arguments(cmd, command.split(), out))
    _, examples = example(command, cmd)
    required = [p for p in cmd.params if isinstance(p, click.Argument) and p.required]
    return out + [
        examples[i] if i < len(examples) else p.human_readable_name
        for i, p in enumerate(required)
        if i >= typed
    ]


def _value_of(
    cmd: click.Command, path: str, param: click.Option, typed: Sequence[str] = ()
) -> list[str]:
    """An example value of ``param``: its command's :data:`EXAMPLES`, else the first
    its help's examples give (of those sharing most options with ``typed``: push
    --rpc's board, not --mdash's), else its metavar (one per value it takes)."""
    options, _ = example(path, cmd)
    given = next((ws[1:] for p, ws in options if p is param), None)
    if given:
        return [_named_after(cmd, path, param, given[0], typed), *given[1:]]
    nargs = max(param.nargs, 1)
    found: list[tuple[int, list[str]]] = []
    # The help's example lines, a backslash joining a line to the next.
    for line in (cmd.help or "").replace("\\\n", " ").splitlines():
        try:
            shown = shlex.split(line, comments=True)
        except ValueError:
            continue
        while shown and "=" in shown[0] and not shown[0].startswith("-"):
            shown = shown[1:]  # an environment value before it: MDASH_API_KEY=... esp-cabundle
        if shown[:1] != ["esp-cabundle"]:
            continue
        for i, word in enumerate(shown[:-nargs]):
            values = shown[i + 1 : i + 1 + nargs]
            if word in param.opts and not any(w.startswith("-") for w in values):
                shared = sum(w.startswith("-") and w in typed for w in shown)
                found.append((shared, values))
                break
    if found:
        return max(found, key=lambda f: f[0])[1]  # the first of those sharing most
    return [_metavar(param)] * nargs


def completed(
    ctx: click.Context, argv: Sequence[str], param: click.Parameter | None = None
) -> list[str]:
    """``argv`` (the command line as typed) with what its command's example has and it
    lacks added, ``param`` too if the example has it not: a command that finds a
    layout missing itself (pack without --size) mends the line as a missing option's
    hint does."""
    command = ctx.command_path.partition(" ")[2]
    words, _ = _mended(ctx, argv)
    end = options_end(words)
    typed = len(_command_arguments(ctx.command, command.split(), words))
    options, arguments = _still_missing(command, ctx.command, param, words[:end], typed)
    words[end:end] = options
    return words + arguments


def _still_missing(
    command: str,
    cmd: click.Command,
    param: click.Parameter | None,
    given: Sequence[str],
    arguments_typed: int,
) -> tuple[list[str], list[str]]:
    """The words of the example's options not in ``given`` nor stood for by one there
    (:data:`INSTEAD`), and of the required arguments after the ``arguments_typed`` (arguments
    fill in order). A value not in the table is its metavar."""
    typed = {
        _long(p): p
        for p in cmd.params
        if isinstance(p, click.Option) and any(gives(w, o) for w in given for o in p.opts)
    }
    dropped = set(typed).union(*(INSTEAD.get(flag, ()) for flag in typed))
    options, arguments = example(command, cmd)
    words: list[str] = []
    for p, ws in options:
        if _long(p) in dropped:
            continue
        if len(ws) == 2:
            ws = [ws[0], _named_after(cmd, command, p, ws[1], given)]
        words += ws
    if isinstance(param, click.Option) and all(p is not param for p, _ in options):
        # a value from the help (push's --board mdash-arduino): a metavar is not copied
        words += [param.opts[0], *_value_of(cmd, command, param, given)]
    required = [p for p in cmd.params if isinstance(p, click.Argument) and p.required]
    start = min(arguments_typed, len(required))
    after_args = [
        arguments[i] if i < len(arguments) else p.human_readable_name
        for i, p in enumerate(required[start:], start)
    ]
    return words, after_args


def _named_after(
    cmd: click.Command, command: str, param: click.Option, value: str, given: Sequence[str]
) -> str:
    """The example's ``value`` for ``param``, named after the option :data:`NAMED_AFTER`
    says as ``given`` types it (``--fs littlefs``: ``littlefs.bin``), or as a typed
    --board's file system is; ``value`` when neither is typed. Every hint that fills in
    the value (one missing, empty, or left without its value) names it alike."""
    after = NAMED_AFTER.get((command, _long(param)))
    if after is None:
        return value
    flag, form = after
    options = {o: p for p in cmd.params if isinstance(p, click.Option) for o in p.opts}
    source = options.get(flag)
    typed = _typed_value(source, given) if source is not None else None
    board = options.get("--board")
    if typed is None and flag == "--fs" and board is not None:
        typed = _board_fs(_typed_value(board, given))
    return form.format(typed) if typed else value


def _board_fs(name: str | None) -> str | None:
    """The file system of the board ``name`` names (shipped, or a board file that is a
    regular file: a FIFO would be waited on), or None: an example never fails on a bad
    name, nor waits for one."""
    try:
        if not name or (
            ("/" in name or name.endswith((".yaml", ".yml"))) and not os.path.isfile(name)
        ):
            return None
        # deferred: boards and their YAML (~100 ms) load only for a line missing an option
        from ..boards import load_board

        target = load_board(name).filesystem
    except (EspCabundleError, OSError, ValueError):
        return None
    return target.fs_type if target is not None else None


def _typed_value(option: click.Option, given: Sequence[str]) -> str | None:
    """The value last typed for ``option`` in ``given`` (``--fs x``, ``--fs=x``, ``-fx``)."""
    value = None
    for i, word in enumerate(given):
        for flag in option.opts:
            if word == flag and i + 1 < len(given):
                value = given[i + 1]
            elif gives(word, flag) and word != flag:
                value = word[len(flag) + flag.startswith("--") :]
    return value


def _long(option: click.Option) -> str:
    """``option``'s long flag (``--output`` of ``-o/--output``): what :data:`INSTEAD` names."""
    return max(option.opts, key=len)


def _metavar(param: click.Parameter) -> str:
    """What ``param``'s value is called in help (``FILE``), else its name in capitals."""
    return param.metavar or (param.name or "").upper()
