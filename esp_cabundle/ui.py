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
from collections.abc import Iterable, Iterator, Mapping, Sequence
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
    if _streamed(obj):
        _emit_streamed(obj, stream, err=err)
        return
    text = json.dumps(obj, indent=2, ensure_ascii=False, default=str)
    encoding = getattr(stream, "encoding", None) or "utf-8"
    try:
        text.encode(encoding)
    except (UnicodeEncodeError, LookupError):
        # Lone surrogates (names that are not UTF-8) or a narrow stream: \u escapes keep
        # the JSON valid where escaping by the stream would not.
        text = json.dumps(obj, indent=2, ensure_ascii=True, default=str)
    click.echo(text, err=err)


def _streamed(value: Any) -> bool:
    """Whether ``value`` holds an iterator (a list made as it is written)."""
    kind = type(value)
    if kind in _PLAIN:  # the common case first: asked for every value of a report
        return False
    if kind is dict:
        values: Iterable[Any] = value.values()
    elif kind is list or kind is tuple:
        values = value
    elif isinstance(value, Iterator):
        return True
    elif isinstance(value, Mapping):
        values = value.values()
    elif isinstance(value, list | tuple):
        values = value
    else:
        return False
    return any(type(v) not in _PLAIN and _streamed(v) for v in values)


_PLAIN = frozenset({str, int, float, bool, type(None)})


def _emit_streamed(obj: Mapping[str, Any], stream: Any, *, err: bool) -> None:
    """``obj`` as :func:`emit_json` writes it (the same text as ``json.dumps(...,
    indent=2)``), its iterators taken as lists, written in pieces as it is made: a
    report of 400,000 certificates never exists whole, as objects or as text. A
    character the stream cannot carry is written as a JSON ``\\u`` escape (only string
    literals hold non-ASCII characters)."""
    encoding = getattr(stream, "encoding", None) or "utf-8"
    piece: list[str] = []
    size = 0
    for chunk in _json_chunks(obj, 0):
        piece.append(chunk)
        size += len(chunk)
        if size >= 1 << 16:
            click.echo(_carried("".join(piece), encoding), nl=False, err=err)
            piece, size = [], 0
    click.echo(_carried("".join(piece), encoding), err=err)


def _json_chunks(value: Any, level: int) -> Iterator[str]:
    """The pieces of ``json.dumps(value, indent=2, ensure_ascii=False, default=str)``,
    any iterator in ``value`` written as a list."""
    if not _streamed(value):  # made whole: one call, its lines moved to this level
        text = json.dumps(value, indent=2, ensure_ascii=False, default=str)
        yield text.replace("\n", "\n" + "  " * level) if level else text
        return
    inner = "\n" + "  " * (level + 1)
    if isinstance(value, Mapping):
        sep = "{" + inner
        for k, v in value.items():
            key = k if isinstance(k, str) else json.dumps(k)
            yield sep + json.dumps(key, ensure_ascii=False) + ": "
            yield from _json_chunks(v, level + 1)
            sep = "," + inner
        yield "{}" if sep.startswith("{") else "\n" + "  " * level + "}"
    elif isinstance(value, list | tuple | Iterator):
        yield from _list_chunks(value, level)


def _list_chunks(items: Iterable[Any], level: int) -> Iterator[str]:
    """A list's pieces; runs of items with no iterator in them are made a few hundred
    at a time (one ``json.dumps`` each, not one per item: 400,000 calls took seconds)."""
    pad = "  " * level
    opened = False
    batch: list[Any] = []

    def flush() -> str:
        nonlocal opened
        text = json.dumps(batch, indent=2, ensure_ascii=False, default=str)
        batch.clear()
        # "[\n  a,\n  b\n]" -> "  a,\n  b", each line moved to this level.
        start = ("," if opened else "[") + "\n"
        opened = True
        return start + pad + text[2:-2].replace("\n", "\n" + pad)

    for v in items:
        if not _streamed(v):
            batch.append(v)
            if len(batch) >= 256:
                yield flush()
            continue
        if batch:
            yield flush()
        yield ("," if opened else "[") + "\n" + pad + "  "
        opened = True
        yield from _json_chunks(v, level + 1)
    if batch:
        yield flush()
    yield "\n" + pad + "]" if opened else "[]"


def _carried(text: str, encoding: str) -> str:
    """``text`` with each character ``encoding`` lacks (a lone surrogate from a name that
    is not UTF-8) as a JSON ``\\u`` escape, as ``ensure_ascii`` would write it."""
    try:
        text.encode(encoding)
        return text
    except UnicodeEncodeError:
        pass
    except LookupError:
        encoding = "ascii"
    out = []
    for ch in text:
        try:
            ch.encode(encoding)
            out.append(ch)
        except UnicodeEncodeError:
            out.append(json.dumps(ch)[1:-1])
    return "".join(out)


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
