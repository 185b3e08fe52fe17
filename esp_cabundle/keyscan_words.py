"""Private keys in od's and hexdump's decimal 16-bit words, for :mod:`.keyscan`.

``od -tu2`` and ``od -td2`` (with offsets or ``-An``) and ``hexdump -d`` print a file as
16-bit words in decimal, each of two bytes read little-endian as od reads them on a
little-endian host: ``30 81 87 02 01 00`` is `` 33072   647     1`` (``-td2``: ``-32464``;
``hexdump -d`` pads: ``33072   00647   00001``). :func:`find_words` decodes each run of
such numbers and gives its bytes to the caller's DER scan (keyscan's ``_scan_der``),
which finds a key at any offset of them; the words of a certificate are no key to it.

Speed, as for bare hex (:mod:`.keyscan_hex`): a pattern opening with a digit would be
tried at every digit of base64. A run is found instead from markers in a copy of the
text with each byte replaced by its class (digit, blank, line end, "-", other): a number
of three to five digits, then a blank or a line end and three more words. The word
holding a key's first byte is one: 0x30 with a length of 5 or more below it makes 1328
or more (every key der_key_kind takes is 7 bytes or more), 0x30 above a byte 12288 or
more, and three words or more follow it. A run is looked for from after the last byte of
another class before the marker (within _RUN_LEAD), so it is decoded from that word or
before (one word a line, ``od -w2``, too); each run is read once and each marker costs
bounded work, so the scan is linear.
"""

from __future__ import annotations

import re
import sys
from array import array

from .keyscan_hex import ScanDer

__all__ = ["find_words"]

# A word: up to five digits (hexdump -d pads to five: "00647"), signed for od -td2, then
# a blank or a line end (od and hexdump put one after every word); no letter or digit
# before it (an offset such as "00000a0" holds no word).
_WORD = rb"-?[0-9]{1,5}(?=[ \t\r\n]|\Z)"
# Between two words: blanks, or a line end with blanks, a comment mark ("# ", "// ", " * ")
# and od's or hexdump's offset ("0000020", six to sixteen hex digits, then a blank)
# after it. Each piece is bounded, so a run is matched with bounded backtracking.
_LINE_OPENING = rb"\n(?:[ \t]{0,8}(?:[#;!>%*]|//)[ \t]{0,4})?(?:[0-9a-fA-F]{6,16}(?=[ \t]))?"
_SEP = rb"[ \t\r]{0,48}(?:" + _LINE_OPENING + rb"[ \t]{0,8})?"
_CHUNK = 1024  # words a match at most: re keeps an entry per repetition of a group
_MIN_WORDS = 4  # 7 bytes: the smallest key der_key_kind takes
_RUN = re.compile(_WORD + rb"(?:" + _SEP + _WORD + rb"){%d,%d}" % (_MIN_WORDS - 1, _CHUNK))
_MORE = re.compile(rb"(?:" + _SEP + _WORD + rb"){1,%d}" % _CHUNK)
# The words from one on, as many as a run's first: where none of them can open a run.
_HEAD = re.compile(_WORD + rb"(?:" + _SEP + _WORD + rb"){0,%d}" % (_MIN_WORDS - 1))
# Where a run may open: each word (every one in a run but the first follows a separator,
# which ends with a blank, a line end, a comment mark or an offset and a blank: never a
# letter, a digit or ".:_-").
_TOKEN = re.compile(rb"(?<![0-9A-Za-z._:-])" + _WORD)
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
# A marker: three digits ending a word, then the separators and words a run's first four
# words have, in their classes (a separator's "\t", "\r", comment marks and hex digits
# are " ", " ", "." and "." or "d" there). Run by re from the literal "ddd", in C; a
# word of six digits or more (an offset) is passed over after.
_CLASS_SEP = rb"[ ]{0,48}(?:\n(?:[ ]{0,8}\.{1,2}[ ]{0,4})?(?:[d.]{6,16}(?= ))?[ ]{0,8})?"
_CLASS_WORD = rb"-?d{1,5}(?=[ \n]|\Z)"
_MARK = re.compile(
    rb"ddd(?=[ \n])(?=(?:" + _CLASS_SEP + _CLASS_WORD + rb"){%d})" % (_MIN_WORDS - 1)
)
_RUN_LEAD = 512  # how far before a marker its run is looked for, at most


def _words_bytes(text: bytes) -> bytes:
    """The bytes a piece of a run spells, each word little-endian."""
    words = array("H", [int(w) & 0xFFFF for w in _TOKEN.findall(text)])
    if sys.byteorder == "big":
        words.byteswap()
    return words.tobytes()


def find_words(data: bytes, scan_der: ScanDer) -> tuple[str, int] | None:
    """A DER or BER key (or OpenSSH's) in decimal 16-bit words in ``data``: its kind,
    and where the word holding its first byte is."""
    classes = data.translate(_CLASSES)
    pos = 0
    while (mark := _MARK.search(classes, pos)) is not None:
        at = mark.start()
        end = at + 3  # the end of the marker's number
        if classes[at - 3 : at] == b"ddd":
            pos = end  # six digits or more
            continue
        # Every run opening before the marker's number ends, from after the last byte
        # no run holds (within _RUN_LEAD): tried at each word, each word once (where no
        # run opens, none opens at the words after it up to the break).
        lead = max(pos, at - _RUN_LEAD)
        other = classes.rfind(b".", lead, at)
        pos = other + 1 if other >= 0 else lead
        while (word := _TOKEN.search(data, pos, end)) is not None:
            run = _RUN.match(data, word.start())
            if run is None:
                head = _HEAD.match(data, word.start())
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
    out, end = bytearray(_words_bytes(run.group())), run.end()
    while (more := _MORE.match(data, end)) is not None:
        out += _words_bytes(more.group())
        end = more.end()
    found = scan_der(bytes(out))
    if found is None:
        return None, end
    index = found[1] // 2
    for m in _TOKEN.finditer(data, run.start(), end):
        if not index:
            return (f"{found[0]} spelt as decimal 16-bit words, little-endian", m.start()), end
        index -= 1
    return None, end
