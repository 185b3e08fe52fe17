"""C source as firmware keeps certificates: string literals and byte arrays.

One lexer pass (comments, string and character literals, everything else in runs) feeds
both readers, so the work is linear in the file: no pattern here can backtrack across
tokens, and no position is rescanned. String literals are unescaped as a C compiler
does (all of C's escapes, line splices) and concatenated; byte arrays are brace lists of
integer or character constants.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass
from functools import lru_cache

__all__ = ["ByteArray", "CScan", "looks_like_c_array", "scan_c", "strings_to_text", "unescape_c"]

# Each alternative is unambiguous and always consumes at least one character; an
# unterminated literal or comment ends at the line end (or file end for a comment).
_LEX = re.compile(
    r"""
    (?P<str>"[^"\\\n]*(?:\\.[^"\\\n]*)*"?)
  | (?P<chr>'[^'\\\n]*(?:\\.[^'\\\n]*)*'?)
  | (?P<com>/\*.*?(?:\*/|\Z)|//[^\n]*)
  | (?P<code>[^"'/]+|/)
    """,
    re.S | re.X,
)
_ESCAPE = re.compile(r"\\(x[0-9a-fA-F]+|[0-7]{1,3}|u[0-9a-fA-F]{4}|U[0-9a-fA-F]{8}|\r?\n|.)", re.S)
_SIMPLE = {
    "a": "\a",
    "b": "\b",
    "f": "\f",
    "n": "\n",
    "r": "\r",
    "t": "\t",
    "v": "\v",
    "\\": "\\",
    "'": "'",
    '"': '"',
    "?": "?",
}
# A brace list without nested braces; its items are checked separately.
_BRACES = re.compile(r"\{([^{}]*)\}")
_CHAR_CONST = r"'(?:[^'\\\n]|\\(?:x[0-9a-fA-F]+|[0-7]{1,3}|.))'"
_INT_CONST = r"0[xX][0-9a-fA-F]+|[0-9]+"
# One item and its comma, matched where the previous one ended: a loop over items, never a
# pattern repeated over the whole list (the old optional comma made that exponential).
_ITEM_AT = re.compile(rf"\s*(?:(?P<int>{_INT_CONST})|(?P<chr>{_CHAR_CONST}))[uUlL]*\s*(?P<sep>,?)")
_BLANK_TO_END = re.compile(r"\s*\Z")
_ARRAY_HINT = re.compile(r"\{\s*(?:0[xX][0-9a-fA-F]+|[0-9]{1,3}|'(?:[^'\\\n]|\\[^\n]{1,4})')\s*,")


def unescape_c(raw: str) -> str:
    """The characters a C string literal's body stands for (escapes resolved)."""
    if "\\" not in raw:
        return raw
    return _ESCAPE.sub(_unescape_one, raw)


def _unescape_one(m: re.Match[str]) -> str:
    esc = m.group(1)
    head = esc[0]
    if head == "x" and len(esc) > 1:
        return chr(int(esc[1:], 16) & 0xFF)  # C: out of range; keep the low byte
    if head in "01234567":
        return chr(int(esc, 8) & 0xFF)
    if head in "uU" and len(esc) > 1:
        code = int(esc[1:], 16)
        return chr(code) if code <= 0x10FFFF and not 0xD800 <= code <= 0xDFFF else "\ufffd"
    if head in "\r\n":
        return ""  # a backslash-newline splice
    return _SIMPLE.get(head, head)


@dataclass(frozen=True, slots=True)
class ByteArray:
    """A brace list of byte constants: its bytes and the line where it opens."""

    line: int
    data: bytes


@dataclass(frozen=True, slots=True)
class CScan:
    """What a C file holds: its string literals (line, body as written, whether a ``;``
    follows) and its byte arrays."""

    literals: tuple[tuple[int, str, bool], ...]
    arrays: tuple[ByteArray, ...]
    bad_arrays: tuple[tuple[int, str], ...]

    def has_pem_literal(self) -> bool:
        return any("-----BEGIN" in unescape_c(body) for _l, body, _e in self.literals)


@lru_cache(maxsize=1)
def scan_c(text: str) -> CScan:
    """Lex ``text`` once (sniffing and loading the same file share the result)."""
    literals: list[tuple[int, str, bool]] = []
    code: list[str] = []
    line = 1
    pending = -1  # index of the last literal while only blanks/comments follow it
    for m in _LEX.finditer(text):
        kind = m.lastgroup
        tok = m.group(0)
        if kind == "str":
            body = tok[1:-1] if len(tok) > 1 and tok.endswith('"') else tok[1:]
            literals.append((line, body, False))
            pending = len(literals) - 1
            code.append('"' + "\n" * tok.count("\n"))
        elif kind == "com":
            code.append(" " + "\n" * tok.count("\n"))
        else:
            if pending >= 0 and kind == "code":
                stripped = tok.lstrip()
                if stripped.startswith(";"):
                    ln, body, _ = literals[pending]
                    literals[pending] = (ln, body, True)
                if stripped:
                    pending = -1
            elif kind == "chr":
                pending = -1
            code.append(tok)
        line += tok.count("\n")
    arrays, bad = _arrays("".join(code))
    return CScan(tuple(literals), tuple(arrays), tuple(bad))


def _arrays(code: str) -> tuple[list[ByteArray], list[tuple[int, str]]]:
    arrays: list[ByteArray] = []
    bad: list[tuple[int, str]] = []
    line, last = 1, 0
    for m in _BRACES.finditer(code):
        line += code.count("\n", last, m.start())
        last = m.start()
        try:
            data = _array_bytes(code, m.start(1), m.end(1))
        except ValueError as e:
            bad.append((line, str(e)))
            continue
        if data is not None:
            arrays.append(ByteArray(line, data))
    return arrays, bad


def _array_bytes(code: str, pos: int, end: int) -> bytes | None:
    """The bytes of the brace list ``code[pos:end]``, None when it is not a list of byte
    constants; ValueError when a constant does not fit in a byte."""
    out = bytearray()
    while True:
        m = _ITEM_AT.match(code, pos, end)
        if m is None:
            return None
        text = m.group("int")
        try:
            if text is not None:
                value = _int_constant(text)
            else:
                chars = unescape_c(m.group("chr")[1:-1])
                value = ord(chars[0]) if chars else 0
        except ValueError:
            raise ValueError(f"{m.group(0).strip()} is not a valid C constant") from None
        if value > 0xFF:
            raise ValueError(f"{m.group(0).strip(' ,')} does not fit in a byte")
        out.append(value)
        pos = m.end()
        if not m.group("sep") or _BLANK_TO_END.match(code, pos, end):
            break
    return bytes(out) if _BLANK_TO_END.match(code, pos, end) else None


def _int_constant(text: str) -> int:
    """C reads a leading 0 as octal (``010`` is 8); Python's int(…, 0) refuses it."""
    if len(text) > 32:
        raise ValueError(text)  # no byte needs it; long digit runs convert slowly
    if len(text) > 1 and text[0] == "0" and text[1].isdigit():
        return int(text, 8)  # ValueError for 08 and 09, as a compiler refuses them
    return int(text, 0)


def looks_like_c_array(text: str) -> bool:
    """A ``{0x.., ``, ``{48, `` or ``{'.', `` opening: a C byte array is likely."""
    return _ARRAY_HINT.search(text) is not None


def strings_to_text(scan: CScan) -> tuple[str, list[int]]:
    """Every literal concatenated as the compiler would (a ``;`` after one also ends a
    line), and the source line of each line of the result as ``str.splitlines`` cuts it
    (it cuts at ``\\r``, ``\\f``, ``\\v`` and more, not only ``\\n``)."""
    pieces: list[str] = []
    starts: list[int] = []
    lines: list[int] = []
    size = 0
    at_line_start = True
    for src_line, body, ends_statement in scan.literals:
        content = unescape_c(body)
        if content:
            at_line_start = content.endswith("\n")
        if ends_statement and not at_line_start:
            content += "\n"  # a statement boundary between literals also ends a line
            at_line_start = True
        if not content:
            continue
        starts.append(size)
        lines.append(src_line)
        pieces.append(content)
        size += len(content)
    text = "".join(pieces)
    line_map: list[int] = []
    offset = 0
    for piece in text.splitlines(keepends=True):
        line_map.append(lines[bisect.bisect_right(starts, offset) - 1])
        offset += len(piece)
    return text, line_map
