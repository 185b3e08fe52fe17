"""An option's bad value (``pack --size 12X``, ``flash --before x``, ``push
--concurrency 0``), said in the tool's words: which option, the type's own reason, and a
hint with the form it takes and the command line as typed with a value that converts in
its place. Click printed its usage banner and "Invalid value", with no hint, and
``--json`` got click's kind. Dates do the same in :mod:`._date_hint`."""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from typing import Any

import click

from ..errors import EspCabundleError, InputError
from ._usage import example_line, line_with_value, optional_value

__all__ = ["accepted", "bad_value"]


def bad_value(e: click.BadParameter, path: str, argv: Sequence[str]) -> InputError:
    """The error (exit 2) for ``e`` in command ``path`` (``fs ls``), ``argv`` the line
    typed: ``bad --size: <the type's reason>``, its hint the form ``--size`` takes and,
    where a value is found that the type takes, the typed line with it in place."""
    param, ctx = e.param, e.ctx
    if param is None or ctx is None:
        return InputError(e.format_message())
    name = _flag(param) if isinstance(param, click.Option) else param.human_readable_name
    message = f"bad {name}: {e.message}"
    form = f"{name} takes {accepted(param.type, param)}"
    if not isinstance(param, click.Option):
        return InputError(message, hint=form)
    value = next((v for v in _candidates(param, ctx, path, argv) if _converts(v, param, ctx)), None)
    if value is None:
        return InputError(message, hint=form)
    return InputError(message, hint=f"{form}; {example_line(line_with_value(ctx, param, value))}")


def accepted(kind: Any, param: click.Parameter) -> str:
    """What ``kind`` takes, in words: its ``accepted`` (a custom type's), the choices,
    a number's range, else the option's metavar."""
    said = getattr(kind, "accepted", None)
    if isinstance(said, str):
        return said
    if isinstance(kind, click.Choice):
        choices = [str(c) for c in kind.choices]
        return "one of " + (", ".join(choices[:-1]) + " or " + choices[-1])
    if isinstance(kind, (click.IntRange, click.FloatRange)):
        what = getattr(kind, "what", None) or (
            "a whole number" if isinstance(kind, click.IntRange) else "a number"
        )
        low, high = kind.min, kind.max
        if low is not None and high is not None:
            return f"{what} from {low} to {high}"
        return f"{what} of at least {low}" if low is not None else f"{what} up to {high}"
    return param.metavar or (param.name or "value").upper()


def _candidates(
    param: click.Option, ctx: click.Context, path: str, argv: Sequence[str]
) -> list[str]:
    """Values to try, best first: the choice nearest the one typed; a number in range
    nearest it; the command's own example's (its --help); the type's ``example``; the
    option's default."""
    # deferred: _missing reads the commands' examples, needed only on this error path
    from ._missing import _metavar, _typed_value, _value_of

    kind = param.type
    typed = _typed_value(param, argv)
    out: list[str] = []
    nearest = getattr(kind, "nearest", None)  # a list of choices (--allow a,b) mends each
    if callable(nearest) and typed:
        out += [v for v in [nearest(typed)] if isinstance(v, str)]
    if isinstance(kind, click.Choice):
        choices = [str(c) for c in kind.choices]
        out += difflib.get_close_matches(typed or "", choices, 1, 0.5) + choices[:1]
    if isinstance(kind, (click.IntRange, click.FloatRange)):
        out += _in_range(kind, typed)

    out += [v for v in _value_of(ctx.command, path, param, list(argv))[:1] if v != _metavar(param)]
    example = getattr(kind, "example", None)
    out += [example] if isinstance(example, str) else []
    for default in (param.default, param.flag_value if optional_value(param) else None):
        out += [str(default)] if isinstance(default, (int, float, str)) and default != "" else []
    return out


def _in_range(kind: click.IntRange | click.FloatRange, typed: str | None) -> list[str]:
    """The bounds, the one nearest a number typed first (``--concurrency 0``: 1)."""
    try:
        number: float | None = float(typed or "")
    except ValueError:
        number = None
    bounds = [b for b in (kind.min, kind.max) if b is not None]
    if number is not None:
        bounds.sort(key=lambda b: abs(b - number))
    return [str(b) if isinstance(kind, click.IntRange) else f"{b:g}" for b in bounds]


def _converts(value: str, param: click.Option, ctx: click.Context) -> bool:
    """``value`` is one ``param``'s type takes (a metavar, a bad example never shown)."""
    try:
        param.type.convert(value, param, ctx)
    except (click.BadParameter, EspCabundleError):
        return False
    return True


def _flag(param: click.Option) -> str:
    return max(param.opts, key=len)
