"""A required option or argument left out, said in the tool's words: which one, and the
command line as typed with what is missing added, so the fix is one copy away. Click's
own report named it below a usage banner, with no example of a value."""

from __future__ import annotations

import shlex
from collections.abc import Sequence

import click

from ..errors import InputError
from .options import Needed

__all__ = ["EXAMPLES", "missing_error"]

# A value for each required parameter, taken from its command's --help examples (a test
# holds them to it): "COMMAND PARAM" first, else "PARAM" (the parameter's Python name).
EXAMPLES: dict[str, str] = {
    "pack output": "fs.bin",
    "update-dump dump": "dump.bin",
    "update-dump output": "new.bin",
    "read output": "dump.bin",
    "image": "fs.bin",
    "fs cat path": "/ca.pem",
    "fs put source": "ca.pem",
    "fs rm paths": "/old-ca.pem",
    "port": "/dev/ttyUSB0",
    "ports": "/dev/ttyUSB0",
    "board": "mdash-arduino",
    "older_than": "30d",
}


def example_value(command: str, param: click.Parameter) -> str:
    """What the hint gives ``param`` of ``command`` (``fs put``); its metavar if the
    table has nothing (a new required option: the test over commands says so)."""
    name = param.name or ""
    found = EXAMPLES.get(f"{command} {name}", EXAMPLES.get(name))
    return found if found is not None else (param.metavar or name.upper())


def missing_error(e: click.MissingParameter, argv: Sequence[str]) -> InputError:
    """The error for ``e`` (exit 2): ``-o/--output is required`` (or the argument and the
    command's usage), with the reason a command gave (``required_board``'s), and a
    hint: ``argv`` with every required value still missing added."""
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
        message += f" {e.message}" if e.message.startswith("(") else f": {e.message}"
    words = list(argv)
    end = words.index("--") if "--" in words else len(words)
    options, arguments = _still_missing(ctx.command, param, words[:end])
    for p in options:
        words[end:end] = [p.opts[0], example_value(command, p)]
        end += 2
    words += [example_value(command, p) for p in arguments]
    return InputError(message, hint=f"e.g. esp-cabundle {shlex.join(words)}")


def _still_missing(
    command: click.Command, param: click.Parameter, given: Sequence[str]
) -> tuple[list[click.Option], list[click.Argument]]:
    """The required options not in ``given`` (``param`` among them), and ``param`` with
    the required arguments after it (arguments fill in order: those are missing too)."""
    options = [
        p
        for p in command.params
        if isinstance(p, click.Option)
        and (p.required or p is param or isinstance(p, Needed))
        and not any(_names(w, o) for w in given for o in p.opts)
    ]
    arguments = [p for p in command.params if isinstance(p, click.Argument) and p.required]
    after = arguments[arguments.index(param) :] if param in arguments else []
    return options, after


def _names(word: str, flag: str) -> bool:
    """``word`` gives ``flag``: ``--output x``, ``--output=x`` or ``-ox``."""
    glued = f"{flag}=" if flag.startswith("--") else flag
    return word == flag or word.startswith(glued)
