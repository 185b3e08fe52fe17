"""Rendering for the CLI: plain aligned tables, JSON, and messages on the right stream.

Kept free of heavy imports so ``--help`` and ``build`` start fast; progress bars (rich)
are imported only by the commands that move data to or from units.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from typing import Any

import click

__all__ = ["echo", "emit_json", "format_table", "note", "warn"]


def echo(text: str = "", *, quiet: bool = False) -> None:
    if not quiet:
        click.echo(text)


def note(text: str, *, quiet: bool = False) -> None:
    """Secondary information on stderr, so stdout stays clean for pipes."""
    if not quiet:
        click.echo(text, err=True)


def warn(text: str) -> None:
    click.echo(click.style("warning: ", fg="yellow") + text, err=True)


def emit_json(obj: Any) -> None:
    click.echo(json.dumps(obj, indent=2, ensure_ascii=False, default=str))


def format_table(headers: Sequence[str], rows: Sequence[Sequence[Any]], *, indent: int = 0) -> str:
    """Columns padded to their widest cell; the last column is never padded."""
    cells = [[str(h) for h in headers]] + [[str(c) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    pad = " " * indent
    lines = []
    for n, r in enumerate(cells):
        parts = [c.ljust(widths[i]) if i < len(r) - 1 else c for i, c in enumerate(r)]
        lines.append(pad + "  ".join(parts).rstrip())
        if n == 0:
            # An unheaded column (a marker such as "<- CA file system") gets no rule.
            rule = ["-" * w if h else "" for h, w in zip(headers, widths, strict=True)]
            lines.append(pad + "  ".join(rule).rstrip())
    return "\n".join(lines)


def is_tty() -> bool:
    return sys.stdout.isatty()
