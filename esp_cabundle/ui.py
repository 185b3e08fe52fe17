"""Rendering for the CLI: plain aligned tables, JSON, and messages on the right stream.

Kept free of heavy imports so ``--help`` and ``build`` start fast; progress bars (rich)
are imported only by the commands that move data to or from units.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import click

from ._patterns import lazy_re
from .narrow_streams import safe_streams
from .text import printable, shown_path

__all__ = [
    "Column",
    "display_width",
    "echo",
    "emit_json",
    "error_document",
    "fit_lines",
    "format_table",
    "json_carried",
    "json_printed",
    "note",
    "safe_streams",
    "shown_path",
    "stdout_carries_output",
    "table_width",
    "warn",
    "wrap_width",
]


def _lines(text: str) -> str:
    """Every line of ``text`` :func:`~esp_cabundle.text.printable`: an escape sequence
    or a carriage return from a certificate, a file name or a unit never reaches the
    terminal. (A newline inside one name must be escaped where the name is put in the
    text: here it cannot be told from the lines the text is made of.)"""
    return "\n".join(printable(line) for line in text.split("\n"))


def echo(text: str = "", *, quiet: bool = False, wrap: bool = False) -> None:
    """``text`` on stdout; ``wrap``: prose, its long lines wrapped (:func:`fit_lines`)."""
    if quiet:
        return
    if _stdout_taken():  # ``-o /dev/stdout``: the output's bytes only, the rest to stderr
        note(text, wrap=wrap)
        return
    click.echo(fit_lines(_lines(text), table_width()) if wrap else _lines(text))


def note(text: str, *, quiet: bool = False, wrap: bool = False) -> None:
    """Secondary information on stderr, so stdout stays clean for pipes."""
    if not quiet:
        shown = fit_lines(_lines(text), table_width(err=True)) if wrap else _lines(text)
        click.echo(shown, err=True)


def fit_lines(text: str, width: int | None, *, hang: int | None = None) -> str:
    """``text`` with each line wider than ``width`` (:func:`table_width`; None: every
    line whole, as tables keep rows on a pipe) wrapped at its spaces, never through a
    word: a path or a fingerprint stays whole to be copied. Continuation lines are
    indented ``hang`` columns (default: the line's own indent and two more). Widths are
    :func:`display_width`'s, as tables measure them: a CJK name takes two columns a
    character."""
    if width is None or all(display_width(line) <= width for line in text.split("\n")):
        return text
    out = []
    for line in text.split("\n"):
        if display_width(line) <= width:
            out.append(line)
            continue
        lead = line[: len(line) - len(line.lstrip(" "))]
        more = " " * (len(lead) + 2 if hang is None else hang)
        if len(more) > width // 2:  # a hang that leaves too little room: a short one
            more = lead + "  "
        out.extend(_wrapped(line[len(lead) :], width, lead, more) or [line])
    return "\n".join(out)


def _wrapped(text: str, width: int, first: str, more: str) -> list[str]:
    """``text`` in lines of at most ``width`` display columns (a word wider stays whole
    on its own), the first after ``first``, the rest after ``more``: textwrap's greedy
    fill, which counts characters. Spaces between words stay; at a break they go."""
    lines: list[str] = []
    lead, words, used = first, "", len(first)
    for space, word in _SPACED_WORD().findall(text):
        w = display_width(word)
        if words and used + len(space) + w > width:
            lines.append(lead + words)
            lead, words, used = more, "", len(more)
        if words:
            words, used = words + space, used + len(space)
        words, used = words + word, used + w
    if words:
        lines.append(lead + words)
    return lines


_SPACED_WORD = lazy_re(r"( *)([^ ]+)")
"""A word and the spaces before it: the chunks prose wraps between."""


def warn(text: str) -> None:
    click.echo(click.style("warning: ", fg="yellow") + _lines(text), err=True)


def emit_json(doc: Mapping[str, Any]) -> None:
    """``doc`` as indented JSON on stdout, or on stderr when stdout carries the output
    (:func:`stdout_carries_output`: ``-o -``, ``-o /dev/stdout``). The CLI then knows a
    report was printed, and does not add an error document after it; nor, when the
    report says ``"ok": false``, the ``Error:`` lines (the document said the failure).

    Every command prints one object with ``ok`` first: a document that does not say
    (a command that succeeded) gets ``"ok": true``; one whose verdict can be negative
    says ``ok`` itself (check, push, flash), and an error is :func:`error_document`."""
    obj = dict(doc) if "ok" in doc else {"ok": True, **doc}
    json_printed(ok=obj["ok"] is not False)
    err = _stdout_taken()
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


def json_printed(*, ok: bool = True) -> None:
    """Tell the CLI a ``--json`` document was printed, as :func:`emit_json` does: for a
    command that writes its document itself."""
    ctx = click.get_current_context(silent=True)
    if ctx is not None:
        state = ctx.find_root().ensure_object(dict)
        state["json_printed"] = True
        state["json_failed"] = not ok


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
            click.echo(json_carried("".join(piece), encoding), nl=False, err=err)
            piece, size = [], 0
    click.echo(json_carried("".join(piece), encoding), err=err)


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
        start = ("," if opened else "[") + "\n"
        flat = _flat_items(batch, pad + "  ")
        if flat is not None:
            batch.clear()
            opened = True
            return start + flat
        text = json.dumps(batch, indent=2, ensure_ascii=False, default=str)
        batch.clear()
        # "[\n  a,\n  b\n]" -> "  a,\n  b", each line moved to this level.
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


def _flat_items(items: list[Any], pad: str) -> str | None:
    """``items`` as ``json.dumps(items, indent=2)`` writes them inside its list, each at
    ``pad``, when every one is a flat object of text, whole numbers, booleans and nulls
    (a ledger's units): written here with the C string encoder json.dumps uses, as its
    indented output takes the pure-Python encoder (2 million units: 60 s, not 27 s). None
    for any other item."""
    out = []
    inner = ",\n" + pad + "  "
    for item in items:
        if type(item) is not dict:
            return None
        parts = []
        for k, v in item.items():
            kind = type(v)
            if type(k) is not str:
                return None
            if kind is str:
                text = _json_str(v)
            elif kind is int:
                text = int.__repr__(v)
            elif v is None:
                text = "null"
            elif kind is bool:
                text = "true" if v else "false"
            else:
                return None
            parts.append(_json_str(k) + ": " + text)
        out.append("{\n" + pad + "  " + inner.join(parts) + "\n" + pad + "}" if parts else "{}")
    return pad + (",\n" + pad).join(out)


_json_str = json.encoder.encode_basestring  # json.dumps's for ensure_ascii=False (C)


def json_carried(text: str, encoding: str) -> str:
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
    and a ``--json`` document, go to stderr then. Said once, where the output is named;
    :func:`echo`, :func:`emit_json` and :func:`table_width` decide by it, so a command
    says its report alike wherever its output goes."""
    ctx = click.get_current_context(silent=True)
    if ctx is not None:
        ctx.find_root().ensure_object(dict)["stdout_taken"] = True


def _echoed_to(err: bool) -> Any:
    """The stream text for stdout goes to (``err``: stderr): stderr when stdout carries
    the output, as :func:`echo` sends it there."""
    return sys.stderr if err or _stdout_taken() else sys.stdout


def _stdout_taken() -> bool:
    """Whether :func:`stdout_carries_output` was said in this run."""
    ctx = click.get_current_context(silent=True)
    obj = ctx.find_root().obj if ctx is not None else None
    return isinstance(obj, dict) and bool(obj.get("stdout_taken"))


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


# Never compared nor printed: no __eq__/__repr__ to generate at start-up (~0.15 ms).
@dataclass(frozen=True, slots=True, eq=False, repr=False)
class Column:
    """A table column and how it gives way when the table is wider than the room.

    ``cut``: its cells may be shortened with an ellipsis, down to ``least`` characters
    (never below its header's width). ``hide`` > 0: the column may be left out when the
    table still does not fit once every cut column is at its least, the highest ``hide``
    first. A column neither cut nor hidden (a plain header) is shown whole: identifiers a
    user copies back (aliases, fingerprints, MACs, ports, unit ids, paths) are never cut.
    ``split``: a cell listing items (unit ids) is cut after its last whole item.
    """

    header: str
    cut: bool = False
    least: int = 0
    hide: int = 0
    split: str = ""


def display_width(text: str) -> int:
    """The terminal columns ``text`` takes: an East Asian wide or fullwidth character
    (CJK) two, a combining mark none, any other one. ``len`` would misalign a table
    holding a Japanese or Chinese certificate name."""
    if text.isascii():
        return len(text)
    return sum(_char_width(ch) for ch in text)


def _char_width(ch: str) -> int:
    import unicodedata  # deferred: only text with non-ASCII characters (start-up cost)

    if unicodedata.combining(ch) or unicodedata.category(ch) in ("Mn", "Me"):
        return 0
    return 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1


def _start_within(text: str, columns: int) -> str:
    """The longest start of ``text`` that takes at most ``columns`` columns (a wide
    character that would straddle the edge is left out; combining marks stay with the
    character they follow)."""
    if text.isascii():
        return text[:columns]
    used = 0
    for i, ch in enumerate(text):
        used += _char_width(ch)
        if used > columns:
            return text[:i]
    return text


def _cut(text: str, width: int, ellipsis: str, split: str) -> str:
    """``text`` cut to ``width`` columns with ``ellipsis``; with ``split``, after the
    last whole item that fits (``dev-1, dev-2, …``), never through one."""
    if display_width(text) <= width:
        return text
    if width <= len(ellipsis):  # both ellipses take a column per character
        return ellipsis[:width]
    kept = _start_within(text, width - len(ellipsis))
    if not split:
        return kept + ellipsis
    end = kept.rfind(split)  # the last separator that ends within the room
    return text[: end + len(split)] + ellipsis if end > 0 else ellipsis[:width]


def table_width(*, err: bool = False) -> int | None:
    """How many columns a table may take where :func:`echo` writes it (``err``: on
    stderr, as :func:`note`): COLUMNS when it is set, as git and man honour it; else the
    terminal's width when the stream is a terminal; else None, whole rows, as ls and ps
    give a pipe. None too with --wide."""
    ctx = click.get_current_context(silent=True)
    if ctx is not None and (ctx.find_root().obj or {}).get("wide"):
        return None
    columns = os.environ.get("COLUMNS", "").strip()
    if columns.isdigit() and int(columns) > 0:
        return int(columns)
    stream = _echoed_to(err)
    try:
        if not stream.isatty():
            return None
        width = os.get_terminal_size(stream.fileno()).columns
    except (AttributeError, ValueError, OSError):
        return None
    return width if width > 0 else None


def wrap_width(most: int, *, err: bool = False) -> int:
    """Where prose is wrapped: at ``most`` characters (a comfortable line), or at the
    width :func:`table_width` gives when it is narrower."""
    width = table_width(err=err)
    return most if width is None else max(20, min(most, width))


def _ellipsis(err: bool) -> str:
    """``…``, or ``...`` where the stream's encoding lacks it (it would be escaped as a
    6-character ``\\u2026`` that breaks the columns)."""
    stream = _echoed_to(err)
    try:
        "\u2026".encode(getattr(stream, "encoding", None) or "utf-8")
    except (UnicodeEncodeError, LookupError):
        return "..."
    return "\u2026"


def _fit(
    cols: Sequence[Column], heads: Sequence[str], natural: Sequence[int], room: int | None
) -> tuple[list[int], list[int]]:
    """The columns shown and each column's width so the table fits ``room``: cut
    columns shrink, the widest first, to their least; then hideable ones go."""
    shown = list(range(len(cols)))
    if room is None:
        return shown, list(natural)
    hideable = sorted((i for i, c in enumerate(cols) if c.hide), key=lambda i: -cols[i].hide)
    while True:
        widths = list(natural)
        floor = [
            min(natural[i], max(display_width(heads[i]), c.least, 1)) if c.cut else natural[i]
            for i, c in enumerate(cols)
        ]
        excess = sum(widths[i] for i in shown) + 2 * (len(shown) - 1) - room
        while excess > 0:
            cuttable = [i for i in shown if widths[i] > floor[i]]
            if not cuttable:
                break
            widest = max(cuttable, key=lambda i: widths[i])
            widths[widest] -= 1
            excess -= 1
        if excess <= 0 or not hideable:
            return shown, widths
        shown.remove(hideable.pop(0))


def format_table(
    headers: Sequence[str | Column],
    rows: Sequence[Sequence[Any]],
    *,
    indent: int = 0,
    width: int | None = None,
    err: bool = False,
) -> str:
    """Columns padded to their widest cell; the last column is never padded. Cells are
    shown :func:`~esp_cabundle.text.printable`: a newline or an escape sequence in a name
    from a certificate, a device or a file never breaks or forges a row.

    ``width`` (see :func:`table_width`): the table is made to fit it, as each
    :class:`Column` allows (cut with an ellipsis, then hidden; a line saying which
    columns were left out ends the table); None keeps every row whole. ``err``: the
    table goes to stderr (the ellipsis it can carry), as it does by :func:`echo` when
    stdout carries the output."""
    cols = [h if isinstance(h, Column) else Column(h) for h in headers]
    heads = [printable(c.header) for c in cols]
    cells = [[printable(str(c)) for c in r] for r in rows]
    sizes = [[display_width(c) for c in r] for r in [heads, *cells]]
    natural = [max(r[i] for r in sizes) for i in range(len(cols))]
    shown, widths = _fit(cols, heads, natural, None if width is None else width - indent)
    dots = _ellipsis(err)
    pad = " " * indent
    lines = []
    for n, r in enumerate([heads, *cells]):
        parts = []
        for k, i in enumerate(shown):
            c, size = r[i], sizes[n][i]
            if size > widths[i]:
                c = _cut(c, widths[i], dots, cols[i].split)
                size = display_width(c)
            # Padded by columns, not characters: a CJK name takes two per character.
            parts.append(c if k == len(shown) - 1 else c + " " * (widths[i] - size))
        lines.append(pad + "  ".join(parts).rstrip())
        if n == 0:
            # An unheaded column (a marker such as "<- CA file system") gets no rule.
            rule = ["-" * widths[i] if heads[i] else "" for i in shown]
            lines.append(pad + "  ".join(rule).rstrip())
    hidden = [heads[i] for i in range(len(cols)) if i not in shown]
    if hidden:
        said = f"({', '.join(hidden)}: left out to fit; --wide shows every column)"
        room = max(20, (width or 0) - indent)
        import textwrap  # deferred: only a table that had to leave columns out

        lines.extend(pad + line for line in textwrap.wrap(said, room, break_on_hyphens=False))
    return "\n".join(lines)


def is_tty() -> bool:
    return sys.stdout.isatty()


def stderr_is_tty() -> bool:
    """Whether a live bar may be drawn on stderr: not into a log file, a pipe or a
    journal (rich would leave its last frame there), which get log lines instead."""
    return sys.stderr.isatty()
