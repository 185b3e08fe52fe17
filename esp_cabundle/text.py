"""Wording shared by the library's messages and the commands' output: counts that agree
with their nouns, and text from untrusted inputs (file names, certificate subjects) made
safe to show."""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import fields
from pathlib import Path

from .errors import InputError

__all__ = [
    "byte_count",
    "closest",
    "comment_text",
    "decoded_utf8",
    "fact_line",
    "plural",
    "plural_noun",
    "printable",
    "printable_name",
    "shorten",
    "shown_path",
    "some",
    "suggest",
    "suggest_file",
    "typed_path",
    "utf8_fault",
]


def plural(n: int, noun: str, nouns: str | None = None) -> str:
    """``1 root``, ``2 roots``: a count with its noun agreeing (never ``root(s)``)."""
    return f"{n} {noun if n == 1 else (nouns or noun + 's')}"


def plural_noun(noun: str) -> str:
    """``journal entry`` -> ``journal entries``, ``lock file`` -> ``lock files``: the
    plural of a noun the caller names, as errors say it ("the limit for journal entries")."""
    if noun.endswith("y") and noun[-2:-1] not in ("a", "e", "o", "u"):
        return noun[:-1] + "ies"
    return noun + "s"


def printable(text: str) -> str:
    """``text`` with what must not reach a terminal or an ASCII-only stream escaped:
    bytes that were not UTF-8 (surrogate escapes) as ``\\xNN``, control and other
    non-printing characters (newline, ESC, U+2028) as Python escapes. Printable text,
    accents included, is unchanged."""
    if text.isprintable():
        return text
    out = []
    for ch in text:
        code = ord(ch)
        if 0xDC80 <= code <= 0xDCFF:
            out.append(f"\\x{code - 0xDC00:02x}")
        elif not ch.isprintable():
            out.append(ch.encode("unicode_escape").decode("ascii"))
        else:
            out.append(ch)
    return "".join(out)


def shown_path(path: str | os.PathLike[str]) -> str:
    """A file the command wrote or read, as the user would type it: relative to the
    working directory when it lies below it (a config found there, or given as an
    absolute path, makes its outputs' paths absolute), else as it is; ``-`` is standard
    output. Made :func:`~esp_cabundle.text.printable`."""
    text = os.fspath(path)
    return "standard output" if text == "-" else printable(typed_path(text))


def typed_path(path: str | os.PathLike[str]) -> str:
    """:func:`shown_path`'s path, relative to the working directory when below it, but
    not made printable: for a command that a shell quotes (spelling.shell_word), whose
    ``$'...'`` gives back a name's bytes where printable's escape named another file."""
    text = os.fspath(path)
    p = Path(text)
    if p.is_absolute():
        with contextlib.suppress(OSError, ValueError):  # no working directory; not below
            below = p.relative_to(Path.cwd())
            text = str(below) if below.parts else text
    return text


def printable_name(name: str) -> str:
    """A file name inside an image, :func:`printable` with its backslashes doubled: a
    name may hold a real CR, shown ``\\r``, or a backslash and an ``r``, shown
    ``\\\\r``, and the two must not look the same. (Host paths keep :func:`printable`:
    on Windows their backslashes are separators, not escapes.)"""
    return printable(name.replace("\\", "\\\\"))


def some(items: Sequence[str], most: int = 5) -> str:
    """``a, b, c and 2 more``: the first ``most`` items, made safe to show, and how
    many more there are (a list of thousands of units stays one line)."""
    shown = ", ".join(printable(i) for i in items[:most])
    return shown + (f" and {len(items) - most} more" if len(items) > most else "")


def shorten(text: str, width: int, ellipsis: str = "\u2026") -> str:
    """``text`` cut to ``width`` characters for a table cell, an ellipsis saying so (the
    whole text stays in --json and --csv)."""
    if len(text) <= width:
        return text
    if width <= len(ellipsis):
        return ellipsis[:width]
    return text[: width - len(ellipsis)] + ellipsis


# Facts (inspect, fs ls) that are sizes in bytes, though their name does not say so; a
# file's size is ``file /ca.pem``; an ESP-IDF bundle's is ``size``.
_SIZE_FACTS = frozenset({"page size", "block size", "image size", "size"})


def fact_line(key: str, value: str | int) -> str:
    """``block count: 64``, ``image size: 262,144 bytes``: a report's fact as text shows
    it, the same for every file system and command: numbers grouped by thousands, as
    sizes are everywhere else, and ``bytes`` after a size whose name does not say so.
    Made :func:`printable`."""
    if key.startswith("file "):  # a file's size: its name is one inside the image
        key = "file " + printable_name(key[5:])
    if isinstance(value, bool) or not isinstance(value, int):
        return printable(f"{key}: {value}")
    unit = " byte" if value == 1 else " bytes"
    unit = unit if key in _SIZE_FACTS or key.startswith("file ") else ""
    return printable(f"{key}: {value:,}{unit}")


# Three dashes or more: what PEM armour ("-----BEGIN", "----END") and key headers start
# with. In a comment they are written escaped, so no reader takes the comment for armour.
_DASHES = re.compile(r"-{3,}")


def byte_count(n: int) -> str:
    """``6,054 bytes``, ``1 byte``: a size in messages, grouped as sizes are everywhere."""
    return f"{n:,} byte" if n == 1 else f"{n:,} bytes"


def comment_text(text: str) -> str:
    """``text`` (a certificate's subject or label) made safe for a comment line in a PEM
    file: :func:`printable` (no newline can end the comment, no escape sequence reaches a
    terminal that shows the file), and runs of three dashes or more written as ``\\x2d``
    so nothing in it reads as a ``-----BEGIN`` or ``-----END`` line to mbedTLS or any
    other PEM reader."""
    safe = printable(text)
    return _DASHES.sub(lambda m: "\\x2d" * len(m.group(0)), safe)


# Characters a reader takes for one another in a name copied by eye (lower case).
_LOOKALIKE = str.maketrans("lio", "110")


def closest(word: str, choices: Iterable[str], *, most: int = 4) -> tuple[str, ...]:
    """The choices nearest a mistyped ``word`` (case ignored), in the choices' order; all
    of those tied for nearest, so ``amazon-root-ca-l`` offers -1 to -4 rather than one
    picked by sort order, unless one differs only by a look-alike (l for 1). With nothing
    near (difflib's usual 0.6 cutoff), those whose first words it is (``idf`` for
    ``idf-bundle``: difflib counts a prefix as far); else empty."""
    import difflib  # deferred: only a mistyped name needs it

    key, names = word.strip().lower(), list(dict.fromkeys(choices))
    same = [c for c in names if c.lower().translate(_LOOKALIKE) == key.translate(_LOOKALIKE)]
    if same:  # l for 1, o for 0: one answer, not every name one character away
        return tuple(same[:most])
    best, found = 0.6, list[str]()
    for c in names:
        m = difflib.SequenceMatcher(None, key, c.lower())
        if m.real_quick_ratio() < best or m.quick_ratio() < best:
            continue
        r = m.ratio()
        if r > best:
            best, found = r, [c]
        elif r == best:
            found.append(c)
    if not found and len(key) >= 2:  # a first word typed alone: "idf" for idf-bundle
        found = [c for c in names if c.lower().startswith(key + "-")]
    return tuple(found[:most])


def suggest(word: str, choices: Iterable[str], hint: str | None = None) -> str | None:
    """``did you mean 'x'?`` for a mistyped name, put before the ``hint`` the error
    already gives (which stays): the one wording every unknown name (board, root,
    preset, roadmap, partition, config key) uses. ``hint`` alone when nothing is near."""
    near = closest(word, choices)
    if not near:
        return hint
    names = [f"'{n}'" for n in near]
    said = names[0] if len(names) == 1 else f"{', '.join(names[:-1])} or {names[-1]}"
    return f"did you mean {said}?" + (f" {hint}" if hint else "")


def suggest_file(name: str, names: Iterable[str]) -> str | None:
    """:func:`suggest` for a file name among ``names`` (those beside it): of the names
    ending as it does (``.bin``), what comes before is compared, so ``nofile.bin`` is not
    "near" ``fs.bin`` for the extension they share, while ``fs.bim`` is near ``fs.bin``."""
    stem, dot, ext = name.rpartition(".")
    names = list(names)
    alike = {n[: -len(ext) - 1]: n for n in names if dot and stem and n.endswith(dot + ext)}
    near = [alike[s] for s in closest(stem, alike)] if alike else []
    others = [n for n in names if n not in alike.values()]
    return suggest(name, near or closest(name, others))


def utf8_fault(data: bytes, start: int) -> tuple[int, int, int]:
    """Where ``data`` stops being UTF-8 (``start``: the UnicodeDecodeError's), as the
    1-based line and column an editor shows (a BOM takes no column) and the byte there:
    a byte offset alone sends the user to a hex viewer."""
    before = data[:start].decode("utf-8", "replace").removeprefix("\ufeff")
    line_start = before.rfind("\n") + 1
    return before.count("\n") + 1, len(before) - line_start + 1, data[start]


def decoded_utf8(
    data: bytes,
    *,
    what: str,
    path: str | None,
    error: type[InputError] = InputError,
    wording: str = "{what} is not UTF-8 text at {at}",
    strip_bom: bool = False,
) -> str:
    """``data`` as UTF-8 text, or ``error`` at the :func:`utf8_fault` line and column:
    the one refusal every text file the tool reads gives. ``wording`` puts ``{what}``
    and ``{at}`` (``column 9 (byte 0xe9)``) in the reader's sentence; with no ``path``
    (a peer's answer) the line goes into ``{at}``. ``strip_bom`` drops a leading BOM
    after decoding (not utf-8-sig: its error positions skip the BOM, the column too)."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        line, column, byte = utf8_fault(data, e.start)
        at = f"column {column} (byte 0x{byte:02x})"
        if path is None:  # no file:line to put ahead of the message
            raise error(wording.format(what=what, at=f"line {line}, {at}")) from e
        raise error(wording.format(what=what, at=at), path=path, line=line) from e
    return text.removeprefix("\ufeff") if strip_bom else text


def sized_repr(self: object) -> str:
    """A dataclass's repr with every bytes value (also inside tuples) shown as its size:
    an image, a dump or a build's outputs printed whole run to megabytes. Set as the
    class's ``__repr__`` (the dataclass then generates none)."""
    shown = (f"{f.name}={_sized(getattr(self, f.name))}" for f in fields(self) if f.repr)  # type: ignore[arg-type]
    return f"{type(self).__name__}({', '.join(shown)})"


def _sized(value: object) -> str:
    if isinstance(value, bytes | bytearray | memoryview):
        return f"<{len(value)} bytes>"
    if isinstance(value, tuple):
        items = [_sized(v) for v in value]
        return f"({items[0]},)" if len(items) == 1 else f"({', '.join(items)})"
    return repr(value)
