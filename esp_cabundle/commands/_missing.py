"""A required option or argument left out, said in the tool's words: which one, and the
command line as typed with what the command still needs added from its complete example
(:data:`EXAMPLES`), so the fix is one copy away and the copy runs. Click's own report
named it below a usage banner, with no example of a value."""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from pathlib import Path

import click

from ..errors import EspCabundleError, InputError
from ._usage import gives, options_end, usage_error
from .options import joined

__all__ = [
    "EXAMPLES",
    "INSTEAD",
    "NAMED_AFTER",
    "completed",
    "example",
    "missing_error",
    "missing_value_error",
]

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


def missing_error(e: click.MissingParameter, argv: Sequence[str]) -> InputError:
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
    return usage_error(message, completed(ctx, argv, param))


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
    words = list(argv)
    end = options_end(words)
    at = max((i for i, w in enumerate(words[:end]) if w == e.option_name), default=end - 1)
    words[at + 1 : at + 1] = _value_of(cmd, path, param)
    choices = param.type.choices if isinstance(param.type, click.Choice) else ()
    wanted = " or ".join(map(str, choices)) or _metavar(param)
    return usage_error(f"{'/'.join(param.opts)} needs a value ({wanted})", words)


def _value_of(cmd: click.Command, path: str, param: click.Option) -> list[str]:
    """An example value of ``param``: its command's :data:`EXAMPLES`, else the first
    its help's examples give, else its metavar (one per value it takes)."""
    options, _ = example(path, cmd)
    given = next((ws[1:] for p, ws in options if p is param), None)
    if given:
        return given
    nargs = max(param.nargs, 1)
    # The help's example lines, a backslash joining a line to the next.
    for line in (cmd.help or "").replace("\\\n", " ").splitlines():
        try:
            shown = shlex.split(line, comments=True)
        except ValueError:
            continue
        if shown[:1] != ["esp-cabundle"]:
            continue
        for i, word in enumerate(shown[:-nargs]):
            values = shown[i + 1 : i + 1 + nargs]
            if word in param.opts and not any(w.startswith("-") for w in values):
                return values
    return [_metavar(param)] * nargs


def completed(
    ctx: click.Context, argv: Sequence[str], param: click.Parameter | None = None
) -> list[str]:
    """``argv`` (the command line as typed) with what its command's example has and it
    lacks added, ``param`` too if the example has it not: a command that finds a
    layout missing itself (pack without --size) mends the line as a missing option's
    hint does."""
    command = ctx.command_path.partition(" ")[2]
    words = list(argv)
    end = options_end(words)
    options, arguments = _still_missing(command, ctx.command, param, words[:end])
    words[end:end] = options
    return words + arguments


def _still_missing(
    command: str, cmd: click.Command, param: click.Parameter | None, given: Sequence[str]
) -> tuple[list[str], list[str]]:
    """The words of the example's options not in ``given`` nor stood for by one there
    (:data:`INSTEAD`), and of ``param`` and the arguments after it (arguments fill in
    order: those are missing too). A value not in the table is its metavar."""
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
        after = NAMED_AFTER.get((command, _long(p)))
        if after is not None and len(ws) == 2:
            flag, form = after
            source = typed.get(flag)
            value = _typed_value(source, given) if source is not None else None
            if value is None and flag == "--fs" and "--board" in typed:
                value = _board_fs(_typed_value(typed["--board"], given))
            ws = [ws[0], form.format(value)] if value else ws
        words += ws
    if isinstance(param, click.Option) and all(p is not param for p, _ in options):
        words += [param.opts[0], _metavar(param)]
    required = [p for p in cmd.params if isinstance(p, click.Argument) and p.required]
    start = required.index(param) if param in required else len(required)
    after_args = [
        arguments[i] if i < len(arguments) else p.human_readable_name
        for i, p in enumerate(required[start:], start)
    ]
    return words, after_args


def _board_fs(name: str | None) -> str | None:
    """The file system of the board ``name`` names (shipped, or a board file that is a
    regular file: a FIFO would be waited on), or None: an example never fails on a bad
    name, nor waits for one."""
    try:
        if not name or (
            ("/" in name or name.endswith((".yaml", ".yml"))) and not Path(name).is_file()
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
