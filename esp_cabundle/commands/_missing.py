"""A required option or argument left out, said in the tool's words: which one, and the
command line as typed with what the command still needs added from its complete example
(:data:`EXAMPLES`), so the fix is one copy away and the copy runs. Click's own report
named it below a usage banner, with no example of a value."""

from __future__ import annotations

import shlex
from collections.abc import Sequence

import click

from ..errors import InputError
from .options import joined

__all__ = ["EXAMPLES", "INSTEAD", "example", "missing_error"]

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
# a board gives the layout, --bundle refuses --preset, --all reads no one partition.
INSTEAD: dict[str, tuple[str, ...]] = {
    "--board": ("--fs", "--profile", "--size"),
    "--bundle": ("--preset",),
    "--all": ("--partition",),
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
    command = ctx.command_path.partition(" ")[2]
    if isinstance(param, click.Argument):
        usage = " ".join(ctx.command.collect_usage_pieces(ctx))
        message = (
            f"the {param.human_readable_name} argument is required ({ctx.command_path} {usage})"
        )
    else:
        message = f"{'/'.join(param.opts)} is required"
    if e.message:  # the command's reason: "(or board: in cabundle.yaml): it says ..."
        message += joined(e.message)
    words = list(argv)
    end = words.index("--") if "--" in words else len(words)
    options, arguments = _still_missing(command, ctx.command, param, words[:end])
    words[end:end] = options
    words += arguments
    return InputError(message, hint=f"e.g. esp-cabundle {shlex.join(words)}")


def _still_missing(
    command: str, cmd: click.Command, param: click.Parameter, given: Sequence[str]
) -> tuple[list[str], list[str]]:
    """The words of the example's options not in ``given`` nor stood for by one there
    (:data:`INSTEAD`), and of ``param`` and the arguments after it (arguments fill in
    order: those are missing too). A value not in the table is its metavar."""
    typed = {
        _long(p)
        for p in cmd.params
        if isinstance(p, click.Option) and any(_names(w, o) for w in given for o in p.opts)
    }
    dropped = typed.union(*(INSTEAD.get(flag, ()) for flag in typed))
    options, arguments = example(command, cmd)
    words = [w for p, ws in options if _long(p) not in dropped for w in ws]
    if isinstance(param, click.Option) and all(p is not param for p, _ in options):
        words += [param.opts[0], param.metavar or (param.name or "").upper()]
    required = [p for p in cmd.params if isinstance(p, click.Argument) and p.required]
    start = required.index(param) if param in required else len(required)
    after = [
        arguments[i] if i < len(arguments) else p.human_readable_name
        for i, p in enumerate(required[start:], start)
    ]
    return words, after


def _long(option: click.Option) -> str:
    """``option``'s long flag (``--output`` of ``-o/--output``): what :data:`INSTEAD` names."""
    return max(option.opts, key=len)


def _names(word: str, flag: str) -> bool:
    """``word`` gives ``flag``: ``--output x``, ``--output=x`` or ``-ox``."""
    glued = f"{flag}=" if flag.startswith("--") else flag
    return word == flag or word.startswith(glued)
