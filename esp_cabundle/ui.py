"""Rendering for the CLI: plain aligned tables, JSON, and messages on the right stream.

Kept free of heavy imports so ``--help`` and ``build`` start fast; progress bars (rich)
are imported only by the commands that move data to or from units.
"""

from __future__ import annotations

import codecs
import contextlib
import json
import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import click

from .text import printable

__all__ = [
    "echo",
    "emit_json",
    "error_document",
    "format_table",
    "note",
    "safe_streams",
    "shown_path",
    "stdout_carries_output",
    "warn",
]


def _escape_unencodable(err: UnicodeError) -> tuple[str, int]:
    """Codec error handler: what a stream's encoding cannot carry is written escaped
    (a non-UTF-8 byte of a file name as ``\\xNN``) instead of failing the command."""
    if not isinstance(err, UnicodeEncodeError):
        raise err
    out = []
    for ch in err.object[err.start : err.end]:
        code = ord(ch)
        if 0xDC80 <= code <= 0xDCFF:
            out.append(f"\\x{code - 0xDC00:02x}")
        else:
            out.append(ch.encode("ascii", "backslashreplace").decode("ascii"))
    return "".join(out), err.end


def safe_streams() -> None:
    """Make stdout and stderr escape what their encoding lacks (PYTHONIOENCODING=ascii,
    a C locale, names that are not UTF-8) so output never ends in a UnicodeEncodeError."""
    codecs.register_error("esp-cabundle-escape", _escape_unencodable)
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            # A stream that cannot be reconfigured keeps its own handler.
            with contextlib.suppress(ValueError, OSError, TypeError):
                reconfigure(errors="esp-cabundle-escape")


def _lines(text: str) -> str:
    """Every line of ``text`` :func:`~esp_cabundle.text.printable`: an escape sequence
    or a carriage return from a certificate, a file name or a unit never reaches the
    terminal. (A newline inside one name must be escaped where the name is put in the
    text: here it cannot be told from the lines the text is made of.)"""
    return "\n".join(printable(line) for line in text.split("\n"))


def shown_path(path: str | os.PathLike[str]) -> str:
    """A file the command wrote or read, as the user would type it: relative to the
    working directory when it lies below it (a config found there, or given as an
    absolute path, makes its outputs' paths absolute), else as it is; ``-`` is standard
    output. Made :func:`~esp_cabundle.text.printable`."""
    text = os.fspath(path)
    if text == "-":
        return "standard output"
    p = Path(text)
    if p.is_absolute():
        with contextlib.suppress(OSError, ValueError):  # no working directory; not below
            below = p.relative_to(Path.cwd())
            text = str(below) if below.parts else text
    return printable(text)


def echo(text: str = "", *, quiet: bool = False) -> None:
    if not quiet:
        click.echo(_lines(text))


def note(text: str, *, quiet: bool = False) -> None:
    """Secondary information on stderr, so stdout stays clean for pipes."""
    if not quiet:
        click.echo(_lines(text), err=True)


def warn(text: str) -> None:
    click.echo(click.style("warning: ", fg="yellow") + _lines(text), err=True)


def emit_json(doc: Mapping[str, Any], *, err: bool = False) -> None:
    """``doc`` as indented JSON on stdout (``err``: on stderr, when stdout carries an
    output such as ``-o -``). The CLI then knows a report was printed, and does not add
    an error document after it.

    Every command prints one object with ``ok`` first: a document that does not say
    (a command that succeeded) gets ``"ok": true``; one whose verdict can be negative
    says ``ok`` itself (check, push, flash), and an error is :func:`error_document`."""
    obj = dict(doc) if "ok" in doc else {"ok": True, **doc}
    ctx = click.get_current_context(silent=True)
    if ctx is not None:
        ctx.find_root().ensure_object(dict)["json_printed"] = True
    stream = sys.stderr if err else sys.stdout
    text = json.dumps(obj, indent=2, ensure_ascii=False, default=str)
    encoding = getattr(stream, "encoding", None) or "utf-8"
    try:
        text.encode(encoding)
    except (UnicodeEncodeError, LookupError):
        # Lone surrogates (names that are not UTF-8) or a narrow stream: \u escapes keep
        # the JSON valid where escaping by the stream would not.
        text = json.dumps(obj, indent=2, ensure_ascii=True, default=str)
    click.echo(text, err=err)


def stdout_carries_output() -> None:
    """Say that standard output carries the command's output (``-o -``): its report,
    and a ``--json`` document, go to stderr then."""
    ctx = click.get_current_context(silent=True)
    if ctx is not None:
        ctx.find_root().ensure_object(dict)["stdout_taken"] = True


def error_document(e: Any, exit_code: int) -> dict[str, Any]:
    """What a command run with ``--json`` prints when it fails: one shape for every
    command and every error (``violations`` lists a negative verdict's reasons)."""
    return {
        "ok": False,
        "error": getattr(e, "message", str(e)),
        "kind": type(e).__name__,
        "exit_code": exit_code,
        "violations": [str(v) for v in getattr(e, "violations", ())],
        "hint": getattr(e, "hint", None),
    }


def format_table(headers: Sequence[str], rows: Sequence[Sequence[Any]], *, indent: int = 0) -> str:
    """Columns padded to their widest cell; the last column is never padded. Cells are
    shown :func:`~esp_cabundle.text.printable`: a newline or an escape sequence in a name
    from a certificate, a device or a file never breaks or forges a row."""
    cells = [[printable(str(h)) for h in headers]] + [[printable(str(c)) for c in r] for r in rows]
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
