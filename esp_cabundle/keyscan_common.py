"""What the text scanners of :mod:`.keyscan` (hex, decimal, words) share: the DER scan
they call, the sizes their runs are bounded by, the loop that decodes a run a chunk at a
time, and where the n-th number of a run is; and keyscan's own small helpers (line
numbers, Java key stores), kept here so keyscan.py stays readable at one length."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass

__all__ = [
    "JAVA_MAGIC",
    "MIN_BYTES",
    "RUN_LEAD",
    "KeyFinding",
    "Lowered",
    "ScanDer",
    "java_store_kind",
    "line_of",
    "memoised",
    "nth_position",
    "scan_runs",
    "wide_text",
]

# keyscan's DER scan: (kind, offset) of the first key in some bytes, or None.
ScanDer = Callable[[bytes], tuple[str, int] | None]
# The smallest structure der_key_kind takes for a key has 7 bytes (SEC1: 30 05, 02 01 01,
# 24 80; every other shape needs more): shorter runs are not decoded.
MIN_BYTES = 7
RUN_LEAD = 512  # how far before a marker its run is looked for, at most
_MEMO_MAX = 4096  # results one memoised scan keeps (a digest each): bounded memory


class Lowered:
    """A text's lower-cased copy, made when asked for and let go when a scanner is done
    with it: a scanner that makes copies of its own (dumps with their text columns
    dropped, squeezed lines expanded) drops it first, so the copies of a big input
    alive at once stay few (random 256 MiB: 2.3 GB at the peak of a scan)."""

    __slots__ = ("_data", "_low")

    def __init__(self, data: bytes, low: bytes | None = None) -> None:
        self._data, self._low = data, low

    def get(self) -> bytes:
        if self._low is None:
            self._low = self._data.lower()
        return self._low

    def drop(self) -> None:
        self._low = None


def memoised(scan_der: ScanDer) -> ScanDer:
    """``scan_der`` answering bytes it has scanned before from a digest of them. Hostile
    text (one unit repeated, squeezed dumps) hands the scanners the same window again and
    again (od -An's "*"s read as 1 to 8 lines, one dump line decoded per offset): each is
    scanned once. The DER scan is a function of its bytes alone, so every answer is the
    one a scan would give."""
    seen: dict[bytes, tuple[str, int] | None] = {}

    def scan(data: bytes) -> tuple[str, int] | None:
        digest = hashlib.sha256(data).digest()
        if digest in seen:
            return seen[digest]
        found = scan_der(data)
        if len(seen) >= _MEMO_MAX:
            seen.clear()
        seen[digest] = found
        return found

    return scan


def scan_runs(
    data: bytes,
    pos: int,
    run: re.Pattern[bytes],
    more: re.Pattern[bytes],
    decode: Callable[[bytes], bytes],
    scan_der: ScanDer,
    *,
    back: int = 0,
) -> tuple[tuple[str, int], int] | None:
    """The first key ``scan_der`` finds in a run of ``data`` from ``pos`` on, and where
    that run's text opens; None when no run holds one. A run opens where ``run`` matches
    (its text ``back`` bytes before the match: a lead the pattern looks behind for) and
    goes on while ``more`` matches right after it; each match is decoded on its own (a
    chunk holds its comments and casts whole), so what decoding makes stays small, and
    the run's bytes are scanned whole. Runs are maximal: the next starts past this one."""
    while (opened := run.search(data, pos)) is not None:
        start = opened.start() - back
        out, pos = bytearray(decode(data[start : opened.end()])), opened.end()
        while (went_on := more.match(data, pos)) is not None:
            out += decode(went_on.group())
            pos = went_on.end()
        found = scan_der(bytes(out))
        if found is not None:
            return found, start
    return None


def nth_position(
    pieces: re.Pattern[bytes], data: bytes, start: int, index: int, end: int | None = None
) -> int:
    """Where the ``index``-th number of the run opening at ``start`` is, or ``start``.
    ``pieces`` matches the numbers, in its group "num" if it has one (its other matches,
    comments, offsets, casts holding digits, are passed over). An error's line only:
    linear in the run."""
    numbered = "num" in pieces.groupindex
    for m in pieces.finditer(data, start, len(data) if end is None else end):
        if numbered and m.group("num") is None:
            continue
        if not index:
            return m.start()
        index -= 1
    return start


@dataclass(frozen=True, slots=True)
class KeyFinding:
    """Where key material was found: ``offset`` into the scanned bytes, 1-based ``line``,
    and ``encoding`` ("" for the bytes as given, "UTF-16" for text read with NULs removed)."""

    kind: str
    offset: int
    line: int
    encoding: str = ""

    @property
    def file_line(self) -> int | None:
        """The line an error's ``file:line:`` prefix names: one of the bytes as given (a
        UTF-16 text's lines are not the file's); None for DER, which has no lines."""
        return self.line if self.line and not self.encoding else None

    def where(self, *, line_said: bool = False) -> str:
        """Where it is, for a message. ``line_said``: the message's ``file:line:``
        prefix names :attr:`file_line` (when there is one), so then the byte offset
        alone (``evil.pem:1: ... at line 1`` said the place twice)."""
        if line_said and self.file_line:
            return f"byte offset {self.offset}"
        text = f"line {self.line}" if self.line else f"byte offset {self.offset}"
        if self.encoding:
            text += f" of its {self.encoding} text"
        elif self.line:
            text += f" (byte offset {self.offset})"
        return text


# A Java key store's first four bytes, by store type.
JAVA_MAGIC = {b"\xfe\xed\xfe\xed": "JKS", b"\xce\xce\xce\xce": "JCEKS"}


def line_of(data: bytes, offset: int) -> int:
    """The 1-based line of ``offset`` in ``data``."""
    return data.count(b"\n", 0, offset) + 1


def java_store_kind(raw: bytes) -> str | None:
    """A Java key store whose first entry is a private key (a trust store's are
    certificates); the raw bytes are found by the key entry's algorithm instead."""
    store = JAVA_MAGIC.get(raw[:4])
    if store is None or raw[12:16] != b"\x00\x00\x00\x01":
        return None
    return f"Java key store ({store})"


# 16 units of UTF-16 or UTF-32 text (a byte and one to three NULs, either byte order),
# or four pieces of ASCII text of up to 64 bytes each after NULs (a key's base64 kept in
# NUL-padded fixed-width fields: random bytes hold such a run about once in 10**9 bytes);
# every key shape the text scan finds needs one or the other, so NUL-laden bytes with
# neither (random binary data) hold no key the NUL pass would find. Two searches, not
# one alternation: each keeps the regex engine's fast skip to its first byte; the
# pieces' search starts only where a run of NULs does, so a long run costs its length once.
_WIDE_TEXT = re.compile(rb"(?:[^\x00]\x00{1,3}){16}")
_ASCII = rb"[\t\n\r\x20-\x7e]{1,64}"
_NUL_SPLIT = re.compile(rb"(?<!\x00)\x00+" + _ASCII + rb"(?:\x00{1,16}" + _ASCII + rb"){3}")


def wide_text(data: bytes) -> bool:
    """True when ``data`` holds a run of 16 characters of UTF-16 or UTF-32 text, or text
    split by NULs: only then does the scan again with NULs removed (random bytes: a copy
    and a whole second scan, a third of inspect's peak memory and half its time, spared)."""
    return _WIDE_TEXT.search(data) is not None or _NUL_SPLIT.search(data) is not None
