"""Private keys in od's and hexdump's words in decimal or octal, for :mod:`.keyscan`.

``od -tu2``, ``od -td2`` (with offsets or ``-An``) and ``hexdump -d`` print a file as
16-bit words in decimal, ``od -tu4``/``-td4`` and ``-tu8``/``-td8`` as 32- and 64-bit
ones, and ``od`` (no option), ``od -o`` and ``hexdump -o`` as 16-bit words in octal (six
digits each), each word's bytes read in the host's order: ``30 81 87 02 01 00`` is
`` 33072   647     1`` on a little-endian host (``-td2``: ``-32464``; ``hexdump -d``
pads: ``33072   00647   00001``; ``od``: ``100460 001207 000001``), and the same bytes
swapped in each word on a big-endian one. :func:`find_words` decodes each run of such
numbers in every format its numbers fit (the narrowest decimal width holding them all;
octal if each is six octal digits) and in both byte orders, and gives the bytes to the
caller's DER scan (keyscan's ``_scan_der``), which finds a key at any offset of them; the
words of a certificate are no key to it.

Speed, as for bare hex (:mod:`.keyscan_hex`): a pattern opening with a digit would be
tried at every digit of base64. A run is found instead from markers in a copy of the
text with each byte replaced by its class (digit, blank, line end, "-", other): a number
of three digits or more, then a blank or a line end and three more words. One of the
first two words holding a key's bytes is such a number (0x30 with a length of 5 or more
beside it makes 1328 or more in either byte order), with three more of the key's words
after it (see _MIN_WORDS). A run is looked for from after the last
byte of another class before the marker (within RUN_LEAD), so it is decoded from that
word or before (one word a line, ``od -w2``, too); each run is read once and each marker
costs bounded work, so the scan is linear.
"""

from __future__ import annotations

import re
import sys
from array import array
from collections.abc import Iterator

from ._patterns import lazy_re
from .keyscan_common import MIN_BYTES, RUN_LEAD, ScanDer, nth_position

__all__ = ["find_words"]

# A word: up to twenty digits (a 64-bit word; hexdump -d pads to five: "00647"), signed
# for od -td*, then a blank or a line end (od and hexdump put one after every word).
_WORD = rb"-?[0-9]{1,20}(?=[ \t\r\n]|\Z)"
# Between two words: blanks, or a line end with blanks, a comment mark ("# ", "// ", " * ")
# and od's or hexdump's offset ("0000020", six to sixteen hex digits, then a blank)
# after it, and the blanks that pad a word to its column (20 for od -An -tu8's "0").
# Each piece is bounded, so a run is matched with bounded backtracking.
_LINE_OPENING = rb"\n(?:[ \t]{0,8}(?:[#;!>%*]|//)[ \t]{0,4})?(?:[0-9a-fA-F]{6,16}(?=[ \t]))?"
_SEP = rb"[ \t\r]{0,48}(?:" + _LINE_OPENING + rb"[ \t]{0,24})?"
_CHUNK = 1024  # words a match at most: re keeps an entry per repetition of a group
# Words in a run, at least: 7 bytes, the smallest key der_key_kind takes, span four
# 16-bit words; in 32- or 64-bit words, every key a tool writes spans four too (the
# smallest, an Ed25519 PKCS#8 key, has 48 bytes; an OpenSSH one far more). Fewer would
# make every "3082 0202 0201" of an xxd line a run, twice as slow.
_MIN_WORDS = 4
_RUN = lazy_re(_WORD + rb"(?:" + _SEP + _WORD + rb"){%d,%d}" % (_MIN_WORDS - 1, _CHUNK))
_MORE = lazy_re(rb"(?:" + _SEP + _WORD + rb"){1,%d}" % _CHUNK)
# The words from one on, as many as a run's first: where none of them can open a run.
_HEAD = lazy_re(_WORD + rb"(?:" + _SEP + _WORD + rb"){0,%d}" % (_MIN_WORDS - 1))
# A word a run holds (every one in a run but the first follows a separator, which ends
# with a blank, a line end, a comment mark or an offset and a blank: never a letter, a
# digit or ".:_-"). A number of six digits or more right after a line end or a comment
# mark is an offset (od's "0000020", alone on its last line too), not a word: od -An
# and hexdump indent their words.
_TOKEN = lazy_re(
    rb"(?<![0-9A-Za-z._:-])(?:-?[0-9]{1,5}|(?<=[ \t])(?<![#;!>%*/][ \t])-?[0-9]{6,20})"
    rb"(?=[ \t\r\n]|\Z)"
)
# Each byte's class: "d" a digit, " " a blank, "\n" and "-" themselves, "." anything else.
_CLASSES = bytes(
    b"d"[0]
    if 0x30 <= c <= 0x39
    else c
    if c in b"\n-"
    else b" "[0]
    if c in b" \t\r\x0b\x0c"
    else b"."[0]
    for c in range(256)
)
# A marker: three digits ending a number, then the separators and words a run's first
# four words have, in their classes (a separator's "\t", "\r", comment marks and hex digits
# are " ", " ", "." and "." or "d" there). Run by re from the literal "ddd", in C.
_CLASS_SEP = rb"[ ]{0,48}(?:\n(?:[ ]{0,8}\.{1,2}[ ]{0,4})?(?:[d.]{6,16}(?= ))?[ ]{0,24})?"
_CLASS_WORD = rb"-?d{1,20}(?=[ \n]|\Z)"
_MARK = re.compile(
    rb"ddd(?=[ \n])(?=(?:" + _CLASS_SEP + _CLASS_WORD + rb"){%d})" % (_MIN_WORDS - 1)
)
_MASK = (1 << 64) - 1
# od's and hexdump's octal words: six digits, 0 to 0177777
_OCTAL_WORD = re.compile(rb"[01][0-7]{5}").fullmatch


class _Words:
    """A run's words as they are read, chunk by chunk: each as a 64-bit pattern (two's
    complement), the range they span, and their values in octal while all are od's."""

    def __init__(self) -> None:
        self.values = array("Q")
        self.octal: array[int] | None = array("H")
        self.low = self.high = 0

    def add(self, tokens: list[bytes]) -> None:
        """Read the words ``tokens`` (found by _TOKEN, whose look back sees the blank
        before the first)."""
        numbers = list(map(int, tokens))
        if not numbers:
            return
        low, high = min(numbers), max(numbers)
        self.low, self.high = min(self.low, low), max(self.high, high)
        if self.low < -(1 << 63) or self.high > _MASK:
            self.values = array("Q")  # no word holds it: no decimal format (twenty 9s)
        elif low >= 0:
            self.values.extend(numbers)
        else:
            self.values.extend([n & _MASK for n in numbers])
        if self.octal is not None:
            if all(map(_OCTAL_WORD, tokens)):
                self.octal.extend(int(t, 8) for t in tokens)
            else:
                self.octal = None

    def variants(self) -> Iterator[tuple[bytes, int, str]]:
        """The bytes the words spell in each format that holds them all and each byte
        order: (bytes, word width, how they were read)."""
        width = next(
            (w for w in (2, 4, 8) if -(1 << (8 * w - 1)) <= self.low and self.high < 1 << (8 * w)),
            0,
        )
        formats: list[tuple[array[int], int, str]] = []
        if width:
            code = {2: "H", 4: "I", 8: "Q"}[width]
            mask = (1 << (8 * width)) - 1
            if width == 8:
                words = self.values
            elif self.low >= 0:  # each fits: converted in C
                words = array(code, self.values)
            else:  # signed: each masked, one at a time (no list of them all)
                words = array(code, (v & mask for v in self.values))
            formats.append((words, width, "decimal"))
        if self.octal is not None:
            formats.append((self.octal, 2, "octal"))
        for words, size, base in formats:
            if len(words) * size < MIN_BYTES:
                continue
            for order in ("little", "big"):
                if order != sys.byteorder:
                    words = array(words.typecode, words)
                    words.byteswap()
                yield words.tobytes(), size, f"{base} {8 * size}-bit words, {order}-endian"


def find_words(data: bytes, scan_der: ScanDer) -> tuple[str, int] | None:
    """A DER or BER key (or OpenSSH's) in decimal or octal words in ``data``: its kind,
    and where the word holding its first byte is."""
    classes = data.translate(_CLASSES)
    pos = 0
    while (mark := _MARK.search(classes, pos)) is not None:
        at = mark.start()
        end = at + 3  # the end of the marker's number
        # Every run opening before the marker's number ends, from after the last byte
        # no run holds (within RUN_LEAD): tried at each word, each word once (where no
        # run opens, none opens at the words after it up to the break).
        lead = max(pos, at - RUN_LEAD)
        other = classes.rfind(b".", lead, at)
        pos = other + 1 if other >= 0 else lead
        while (word := _TOKEN().search(data, pos, end)) is not None:
            run = _RUN().match(data, word.start())
            if run is None:
                head = _HEAD().match(data, word.start())
                pos = head.end() if head is not None else word.end()
                continue
            found, pos = _scan_run(data, run, scan_der)
            if found is not None:
                return found
        pos = max(pos, end)
    return None


def _scan_run(
    data: bytes, run: re.Match[bytes], scan_der: ScanDer
) -> tuple[tuple[str, int] | None, int]:
    """Scan the run of words whose first chunk is ``run``. Returns what was found, and
    where the run ends."""
    words, end = _Words(), run.end()
    tokens = _TOKEN().findall(data, run.start(), end)
    more = _MORE().match(data, end)
    if more is None and 2 * len(tokens) < MIN_BYTES and all(len(t) <= 4 for t in tokens):
        # _RUN took offsets for words ("0000010 002", "0000000 048", "*": od's octal
        # bytes): numbers of four characters at most (-999 to 9999) are 16-bit words, and
        # no od octal word (six digits); too few to spell MIN_BYTES bytes, they are what
        # variants yields nothing for, found without building it (87% of such a scan).
        return None, end
    words.add(tokens)
    while more is not None:
        words.add(_TOKEN().findall(data, end, more.end()))
        end = more.end()
        more = _MORE().match(data, end)
    for decoded, size, how in words.variants():
        found = scan_der(decoded)
        if found is not None:
            where = nth_position(_TOKEN(), data, run.start(), found[1] // size, end)
            return (f"{found[0]} spelt as {how}", where), end
    return None, end
