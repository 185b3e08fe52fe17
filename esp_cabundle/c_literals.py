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

__all__ = [
    "BrokenArray",
    "ByteArray",
    "CScan",
    "looks_like_c_array",
    "position_in_list",
    "scan_c",
    "strings_to_text",
    "unescape_c",
]

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
# A cast before an item, as code generators write arrays ("(uint8_t)0x30", "(unsigned
# char) 48", Java's "(byte)0x82"): qualifiers and one type name, each bounded. The value
# is the constant's; one out of a byte's range is refused as without the cast.
_CAST = r"\(\s*(?:(?:const|volatile|unsigned|signed)\s+){0,3}[A-Za-z_]\w{0,31}\s*\)\s*"
# One item and its comma, matched where the previous one ended: a loop over items, never a
# pattern repeated over the whole list (the old optional comma made that exponential).
_ITEM_AT = re.compile(
    rf"\s*(?:{_CAST})?(?:(?P<int>{_INT_CONST})|(?P<chr>{_CHAR_CONST}))[uUlL]*\s*(?P<sep>,?)"
)
_BLANK_TO_END = re.compile(r"\s*\Z")
# The first item as _ITEM_AT reads it: "0060" (octal, zero-padded), "0x30u" (a suffix)
# and "(uint8_t)0x30" (a cast) open a byte array too; so does a first item mistyped
# ("0x3g", "0x300", "0x30 0x82" without its comma), for the loader to name it rather
# than the file read as PEM and "no certificate found" said.
_ARRAY_HINT = re.compile(
    r"\{\s*(?:"
    + _CAST
    + r")?(?:(?:0[xX][0-9a-fA-F]+|[0-9]{1,4})[uUlL]{0,3}|'(?:[^'\\\n]|\\[^\n]{1,4})'"
    + r"|[0-9]\w{0,7}(?:[ \t]+[0-9]\w{0,7})?)\s*,"
)


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
class BrokenArray:
    """A brace list that reads as bytes up to an item that is none (``{0x30, 0x82,
    0xZZ, ...}``, a missing comma), so no array: the line of that item, the bytes read
    before it, what is there and what was expected, and ``head``, the first bytes the
    list holds with that item left out (read on past it), which say what it was for."""

    line: int
    items: int
    what: str
    head: bytes

    def opens_as_certificate(self) -> str | None:
        """How the list opens when a certificate's bytes are meant (a DER SEQUENCE with a
        long length, ``30 82 ...``, or PEM text), else None: a struct initialiser or a
        table of numbers is no certificate, and is left alone."""
        return _opens_as_certificate(self.head, min(self.items, len(self.head)))


def _opens_as_certificate(head: bytes, gap: int | None = None) -> str | None:
    """``gap``: where a bad item sat among ``head``'s bytes (it is left out of them)."""
    # A certificate is over 127 bytes: its SEQUENCE length takes 1-4 more bytes (81-84).
    if len(head) >= 4 and head[0] == 0x30 and 0x81 <= head[1] <= 0x84:
        return f"DER ({head[:2].hex(' ')} ...)"
    if head.startswith(b"-----BEGIN"):
        return "PEM text (-----BEGIN)"
    if gap is not None and gap < 2:
        return _der_around_gap(head, gap)
    return None


def _der_around_gap(head: bytes, gap: int) -> str | None:
    """A certificate's DER with its first or second byte mistyped ("{0x3g, 0x82, 0x05,
    0x6b, 0x30, 0x82, ...}"): the one unknown byte is taken as either, and the SEQUENCE
    inside (the TBSCertificate, ``30 8x`` right after the outer length) must follow."""
    full: list[int | None] = [*head[:gap], None, *head[gap:]]
    for n in range(1, 5):
        if len(full) < 4 + n or full[0] not in (0x30, None) or full[1] not in (0x80 + n, None):
            continue
        inner, size = full[2 + n], full[3 + n]
        if inner == 0x30 and size is not None and 0x81 <= size <= 0x84:
            shown = " ".join("??" if b is None else f"{b:02x}" for b in full[: 4 + n])
            return f"DER ({shown} ...)"
    return None


@dataclass(frozen=True, slots=True)
class CScan:
    """What a C file holds: its string literals (line, body as written, whether a ``;``
    follows) and its byte arrays, outside ``#if 0`` blocks; ``notes`` say where other
    conditionals surround them (read as if they held), ``unknown_escapes`` (line,
    character) where a literal has an escape C does not define."""

    literals: tuple[tuple[int, str, bool], ...]
    arrays: tuple[ByteArray, ...]
    bad_arrays: tuple[tuple[int, str], ...]
    notes: tuple[str, ...] = ()
    unknown_escapes: tuple[tuple[int, str], ...] = ()
    disabled_literals: int = 0  # string literals skipped inside #if 0
    # where a brace list that opens as bytes stops reading as them ("{0x30, 0x82, 0xZZ,
    # ...}"): no array, but the place to name
    broken_arrays: tuple[BrokenArray, ...] = ()

    def has_pem_literal(self) -> bool:
        """A PEM header in the literals as the compiler joins them (``"-----BEG" "IN
        CERTIFICATE-----"`` included)."""
        return "-----BEGIN" in strings_to_text(self)[0]


# Conditional directives at a line start. Only "#if 0" / "#if 1" (and their #elif/#else)
# are decided; any other condition is read as holding, and said in a note.
_DIRECTIVE = re.compile(r"^[ \t]*#[ \t]*(if|ifdef|ifndef|elif|else|endif)\b", re.M)
_C_COMMENTS = re.compile(r"/\*.*?(?:\*/|$)|//.*")
_KNOWN_ESCAPES = frozenset("abfnrtv\\'\"?xuU01234567\r\n")
_MAX_NOTES = 5


class _Conditionals:
    """The ``#if`` stack as lexing meets directives: each level is "on", "off" or "?"
    (not decided here), with whether a branch of it was already on."""

    def __init__(self) -> None:
        self.stack: list[tuple[str, bool, int, str]] = []  # state, taken, line, directive
        self.notes: list[str] = []
        self._noted: set[int] = set()

    @property
    def active(self) -> bool:
        return all(state != "off" for state, _t, _l, _d in self.stack)

    def directive(self, name: str, expr: str, line: int) -> None:
        value = {"0": "off", "1": "on"}.get(expr, "?") if name in ("if", "elif") else "?"
        shown = f"#{name} {expr}".strip()
        if name in ("if", "ifdef", "ifndef"):
            self.stack.append((value, value == "on", line, shown))
        elif not self.stack:
            return  # an #else or #endif without its #if: the compiler's to report
        elif name == "endif":
            self.stack.pop()
        else:
            state, taken, _l, _d = self.stack[-1]
            if taken:
                new = "off"
            elif name == "else":
                new = "on" if state == "off" else "?"
            else:
                new = value if state == "off" else "?"
            self.stack[-1] = (new, taken or new == "on", line, shown)

    def note_use(self, line: int) -> None:
        """A literal or array at ``line`` is read: note the undecided conditional around it."""
        for state, _t, at, shown in self.stack:
            if state == "?" and at not in self._noted and len(self.notes) < _MAX_NOTES:
                self._noted.add(at)
                self.notes.append(
                    f"line {line} is inside '{shown}' (line {at}): read as if it held; "
                    "firmware built without it has none of these certificates"
                )


def _unknown_escapes(body: str, line: int) -> list[tuple[int, str]]:
    if "\\" not in body:
        return []
    return [
        (line, m.group(1)[0]) for m in _ESCAPE.finditer(body) if m.group(1)[0] not in _KNOWN_ESCAPES
    ]


@lru_cache(maxsize=1)
def scan_c(text: str) -> CScan:
    """Lex ``text`` once (sniffing and loading the same file share the result)."""
    literals: list[tuple[int, str, bool]] = []
    unknown: list[tuple[int, str]] = []
    code: list[str] = []
    cond = _Conditionals()
    disabled = 0
    line = 1
    pending = -1  # index of the last literal while only blanks/comments follow it
    for m in _LEX.finditer(text):
        kind = m.lastgroup
        tok = m.group(0)
        if kind == "code" and "#" in tok:
            _code_with_directives(text, m.start(), tok, line, cond, code)
        elif not cond.active:
            code.append("\n" * tok.count("\n"))  # inside #if 0: as if it were not there
            disabled += kind == "str"
        elif kind == "str":
            body = tok[1:-1] if len(tok) > 1 and tok.endswith('"') else tok[1:]
            literals.append((line, body, False))
            unknown += _unknown_escapes(body, line)
            cond.note_use(line)
            pending = len(literals) - 1
            code.append('"' + "\n" * tok.count("\n"))
        elif kind == "com":
            code.append(" " + "\n" * tok.count("\n"))
        else:
            code.append(tok)
        if cond.active and kind in ("code", "chr") and pending >= 0:
            stripped = tok.lstrip() if kind == "code" else "'"
            if stripped.startswith(";"):
                ln, body, _ = literals[pending]
                literals[pending] = (ln, body, True)
            if stripped:
                pending = -1
        line += tok.count("\n")
    arrays, bad, broken = _arrays("".join(code))
    for a in arrays:
        cond.note_use(a.line)
    return CScan(
        tuple(literals),
        tuple(arrays),
        tuple(bad),
        tuple(cond.notes),
        tuple(unknown),
        disabled,
        tuple(broken),
    )


def _code_with_directives(
    text: str, start: int, tok: str, line: int, cond: _Conditionals, code: list[str]
) -> None:
    """Append a code token to ``code``, its parts inside ``#if 0`` blanked (newlines
    kept), and apply the directives it holds to ``cond``."""
    pos = 0
    for d in _DIRECTIVE.finditer(tok):
        if d.start() == 0 and start > 0 and text[start - 1] != "\n":
            continue  # "#" in the middle of a line (after a literal): not a directive
        part = tok[pos : d.start()]
        code.append(part if cond.active else "\n" * part.count("\n"))
        end = text.find("\n", start + d.end())
        expr = _C_COMMENTS.sub("", text[start + d.end() : end if end >= 0 else len(text)])
        cond.directive(d.group(1), " ".join(expr.split()), line + tok.count("\n", 0, d.start()))
        pos = d.end()
    part = tok[pos:]
    code.append(part if cond.active else "\n" * part.count("\n"))


def _arrays(code: str) -> tuple[list[ByteArray], list[tuple[int, str]], list[BrokenArray]]:
    arrays: list[ByteArray] = []
    bad: list[tuple[int, str]] = []
    broken: list[BrokenArray] = []
    line, last = 1, 0
    for m in _BRACES.finditer(code):
        line += code.count("\n", last, m.start())
        last = m.start()
        try:
            data = _array_bytes(code, m.start(1), m.end(1))
        except _NotAByte as e:
            why = _meant_as_bytes(code, m.start(), e)
            if why is not None:  # else a table of wider numbers: no bytes, left alone
                at = line + code.count("\n", m.start(), e.at)
                bad.append((at, f"{e.what}, {position_in_list(e.items)}; {why}"))
            continue
        if isinstance(data, bytes):
            arrays.append(ByteArray(line, data))
        elif data is not None:
            items, at, what, head = data
            broken.append(BrokenArray(line + code.count("\n", m.start(), at), items, what, head))
    return arrays, bad, broken


# Where a brace list stops reading as bytes: the text there, up to the next separator.
_TOKEN_AT = re.compile(r"\s*([^\s,{}]{1,40})")
# A brace list that reads as this many bytes before it stops is taken for a byte array
# with a typo in it ("{0x30, 0x82, 0xZZ"), not a struct initialiser ("{0, NULL}").
_BROKEN_AFTER = 2
# Bytes of a broken list kept to judge what it was for (BrokenArray.head): enough for a
# DER header or "-----BEGIN".
_HEAD = 16
_Stopped = tuple[int, int, str, bytes]


class _NotAByte(ValueError):
    """A constant no byte holds (``0x300``, ``08``): the bytes read before it, where it
    is, what is wrong, and the list's first bytes with it left out (as
    :attr:`BrokenArray.head`)."""

    def __init__(self, items: int, at: int, what: str, head: bytes) -> None:
        super().__init__(what)
        self.items, self.at, self.what, self.head = items, at, what, head


def position_in_list(items: int) -> str:
    """Where a bad item sits, for messages: after the bytes read before it."""
    return f"after {items} byte{'s' * (items != 1)}" if items else "as its first item"


# Types a byte array is declared with (C, stdint, Linux, lwIP, Arduino, Windows).
_BYTE_TYPE = re.compile(
    r"\b(?:(?:un)?signed\s+)?char\b"
    r"|\b(?:u_?int8_t|int8_t|u8_t|u8|s8|u_?char|uchar|byte|BYTE|UCHAR|UINT8)\b"
)
# How far before a brace list its declaration is looked for ("static const unsigned
# char name[] = "); bounded, so a file of many lists is still read in linear time.
_DECLARATION = 160


def _meant_as_bytes(code: str, brace: int, e: _NotAByte) -> str | None:
    """Why a brace list holding a constant no byte holds is a byte array with a typo in
    it, refusing the file, or None when it is a table of wider numbers (``uint16_t
    ports[] = {8883, 443}``, ``int table[] = {1000, 2000}``) that firmware keeps beside
    its certificates, ignored as any brace list that is no bytes. A byte array is meant
    when the list is declared with a byte type (``unsigned char``, ``uint8_t``, ...) or
    opens as a certificate (``30 82 ...``, ``-----BEGIN``), the bad item read as a hole;
    a typo in a root's array must never drop that root unseen."""
    decl = code[max(0, brace - _DECLARATION) : brace]
    decl = decl[decl.rfind(";") + 1 :]  # this statement
    # from the last block opening before its '=' ("void f(char c) { int t[] = {"): a
    # function's parameters or a struct's members are not this list's type
    eq = decl.rfind("=")
    before = decl[: eq if eq >= 0 else len(decl)]
    decl = decl[max(before.rfind("{"), before.rfind("}")) + 1 :]
    typed = _BYTE_TYPE.search(decl)
    if typed is not None:
        return f"the list is declared '{' '.join(typed.group(0).split())}'"
    opens = _opens_as_certificate(e.head, min(e.items, len(e.head)))
    if opens is not None:
        return f"the list opens as a certificate's {opens}"
    return None


def _array_bytes(code: str, pos: int, end: int) -> bytes | _Stopped | None:
    """The bytes of the brace list ``code[pos:end]``; when it is not a list of byte
    constants, None, or (bytes read, position, what was there, head) when it reads as
    bytes around the item that stops it (see :func:`_stopped`). :class:`_NotAByte` when
    a constant does not fit in a byte."""
    out = bytearray()
    while True:
        m = _ITEM_AT.match(code, pos, end)
        if m is None or (
            m.end() < end and not m.group("sep") and code[m.end() - 1] not in " \t\r\n"
        ):
            # no constant here, or one run on into other text ("0xZZ" reads as "0")
            return _stopped(code, pos, end, out, "where a byte constant was expected")
        text = m.group("int")
        try:
            if text is not None:
                value = _int_constant(text)
            else:
                chars = unescape_c(m.group("chr")[1:-1])
                value = ord(chars[0]) if chars else 0
        except ValueError:
            what = "is not a valid C constant"
        else:
            what = "does not fit in a byte" if value > 0xFF else ""
        if what:
            item = m.group(0).strip().rstrip(",").strip()
            after = m.end("int" if text is not None else "chr")
            head = bytes(out[:_HEAD])
            if len(head) < _HEAD:
                head += _bytes_after(code, after, end, _HEAD - len(head))
            at = m.start() + len(m.group(0)) - len(m.group(0).lstrip())
            raise _NotAByte(len(out), at, f"{item} {what}", head)
        out.append(value)
        pos = m.end()
        if not m.group("sep") or _BLANK_TO_END.match(code, pos, end):
            break
    if _BLANK_TO_END.match(code, pos, end):
        return bytes(out)
    return _stopped(code, pos, end, out, "where ',' was expected")


def _stopped(code: str, pos: int, end: int, out: bytearray, expected: str) -> _Stopped | None:
    """(bytes read, where, what, head) for a brace list that read as the bytes ``out`` up
    to ``pos``, where it stops; head: its first bytes, read on past that item when few
    were read before it (``{0xZZ, 0x30, 0x82, ...}``). None when it read as fewer than
    :data:`_BROKEN_AFTER` bytes, unless the item there starts as a number and the list
    opens as a certificate: most brace lists in C are not bytes."""
    token = _TOKEN_AT.match(code, pos, end)
    if token is None:
        return None
    head = bytes(out[:_HEAD])
    if len(head) < _HEAD:
        head += _bytes_after(code, token.end(1), end, _HEAD - len(head))
    if len(out) < _BROKEN_AFTER and (
        not token.group(1)[0].isdigit() or _opens_as_certificate(head, len(out)) is None
    ):
        return None  # "{FLAG_A, 0x30, ...}": a name, not a mistyped number, stops it
    return len(out), token.start(1), f"'{token.group(1)}' {expected}", head


def _bytes_after(code: str, pos: int, end: int, most: int) -> bytes:
    """Up to ``most`` bytes read from the item after the next comma from ``pos`` on,
    until one is no byte: what a list holds past a bad item."""
    comma = code.find(",", pos, end)
    out = bytearray()
    pos = comma + 1
    while comma >= 0 and len(out) < most:
        m = _ITEM_AT.match(code, pos, end)
        if m is None or m.group("int") is None:
            break  # character constants too rare after a typo to be worth reading here
        try:
            value = _int_constant(m.group("int"))
        except ValueError:
            break
        if value > 0xFF or (
            m.end() < end and not m.group("sep") and code[m.end() - 1] not in " \t\r\n"
        ):
            break
        out.append(value)
        pos = m.end()
        if not m.group("sep"):
            break
    return bytes(out)


def _int_constant(text: str) -> int:
    """C reads a leading 0 as octal (``010`` is 8); Python's int(…, 0) refuses it."""
    if len(text) > 32:
        raise ValueError(text)  # no byte needs it; long digit runs convert slowly
    if len(text) > 1 and text[0] == "0" and text[1].isdigit():
        return int(text, 8)  # ValueError for 08 and 09, as a compiler refuses them
    return int(text, 0)


def looks_like_c_array(text: str) -> bool:
    """A ``{0x.., ``, ``{48, `` or ``{'.', `` opening (its first item possibly
    mistyped, ``{0x3g, ``): a C byte array is likely."""
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
