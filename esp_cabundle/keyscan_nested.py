"""Private keys one encoding deeper than :mod:`.keyscan`'s text scan sees, for it:

- inside a PEM block's DER: a key in a certificate's extension (any OCTET STRING the
  issuer chose) is in every device's CA file once the certificate is; each armoured
  block's body is decoded and given to keyscan's DER scan, and its values (a DER
  file's too) one a line to its text scan (:func:`find_in_pem_bodies`, :func:`der_texts`);
- in base64 of a whole PEM key file (a Kubernetes Secret's ``tls.key:``, a ``.env``
  line, ``base64 key.pem``): the base64 of a run of dashes is looked for, and the text
  it decodes to read for a private-key header as keyscan reads one
  (:func:`find_base64_pem`).

Both cost a few ``bytes.find`` and C decodes over a PEM bundle, no Python loop per byte.
"""

from __future__ import annotations

import base64
import binascii
import bisect
import hashlib
import re
from collections.abc import Callable

from .keyscan_armour import find_armour
from .keyscan_common import ScanDer

__all__ = ["der_texts", "find_base64_pem", "find_in_der_values", "find_in_pem_bodies"]

ScanText = Callable[[bytes], "tuple[str, int] | None"]

_BEGIN = b"-----begin"
_END = b"-----end"


def find_in_pem_bodies(
    data: bytes, low: bytes, scan_der: ScanDer, scan_text: ScanText
) -> tuple[str, int] | None:
    """A DER or BER key inside the decoded body of a PEM block (a certificate's
    extension), or a key spelt as text in one of its values (``scan_text``, keyscan's
    text scan: base64, hex): its kind, naming the certificate, and where the block's
    BEGIN line is. ``low`` is ``data`` lower-cased (any spelling of the armour is read).

    The bodies are scanned as one buffer, as a DER file of many certificates is: one
    scan, not one per block (150 roots: 1 ms, not 2); a key is found in it
    wherever a scan of its block alone would find it."""
    begins: list[int] = []  # each block's BEGIN, and where its DER starts in ``joined``
    offsets: list[int] = []
    pieces: list[bytes] = []
    size, pos = 0, low.find(_BEGIN)
    while pos >= 0:
        body = low.find(b"\n", pos)
        if body < 0:
            break
        end = low.find(_END, body)
        if end < 0:
            end = len(low)
        try:
            # not strict: line ends and any other non-base64 byte are skipped
            der = binascii.a2b_base64(data[body:end])
        except (binascii.Error, ValueError):
            der = b""
        begins.append(pos)
        offsets.append(size)
        pieces.append(der)
        size += len(der)
        pos = low.find(_BEGIN, end)
    found = (scan_der(b"".join(pieces)) or _in_values(pieces, offsets, scan_text)) if size else None
    if found is None:
        return None
    block = bisect.bisect_right(offsets, found[1]) - 1
    return f"{found[0]} inside the DER of {_block_name(pieces[block])}", begins[block]


def find_in_der_values(der: bytes, scan_text: ScanText) -> tuple[str, int] | None:
    """A key spelt as text (``scan_text``: base64, hex) in one of the values of DER
    certificates (:func:`der_texts`), and where in ``der``; None at once for bytes that
    do not open as a certificate does, a SEQUENCE of 128 bytes or more (text, an image:
    they were text-scanned already)."""
    if der[:1] != b"\x30" or der[1:2] not in (b"\x81", b"\x82", b"\x83"):
        return None
    if _definite(der, 0, len(der)) is None:
        return None
    return _in_values([der], [0], scan_text)


def _in_values(
    pieces: list[bytes], offsets: list[int], scan_text: ScanText
) -> tuple[str, int] | None:
    """A key spelt as text in a value of one of ``pieces`` (DER each, at ``offsets`` in
    them joined), and where in them joined; each piece walked on its own, so that one
    that is no DER (a block of junk before the certificates) hides no other's values."""
    lines: list[bytes] = []
    starts: list[int] = []
    at: list[int] = []
    size = 0
    for piece, offset in zip(pieces, offsets, strict=True):
        texts, text_starts, text_at = der_texts(piece)
        if texts:
            lines.append(texts)
            starts.extend(size + start for start in text_starts)
            at.extend(offset + a for a in text_at)
            size += len(texts) + 1
    found = scan_text(b"\n".join(lines)) if lines else None
    if found is None:
        return None
    line = bisect.bisect_right(starts, found[1]) - 1
    return f"{found[0]} in a DER value", at[line] + found[1] - starts[line]


_TEXT_MIN = 16  # a primitive value shorter than this spells no key in any encoding
_TEXT_DEPTH = 4  # OCTET STRINGs walked as DER inside one another (an extension's value)
_TEXT_ELEMENTS = 1 << 20  # elements walked in all: a hostile body costs bounded work


# der_texts of certificates walked before, by digest: the gate scans its input, then its
# rendered read-back, the same DER (the walk doubled a 145-root bundle's scan). Bounded:
# pieces up to _KEPT_SIZE bytes, _KEPT_MAX of them (8 MiB at most).
_KEPT: dict[bytes, tuple[bytes, tuple[int, ...], tuple[int, ...]]] = {}
_KEPT_SIZE = 8192
_KEPT_MAX = 1024


def der_texts(der: bytes) -> tuple[bytes, tuple[int, ...], tuple[int, ...]]:
    """:func:`_der_texts`, answered from :data:`_KEPT` for a certificate walked before."""
    if len(der) > _KEPT_SIZE:
        return _der_texts(der)
    digest = hashlib.sha256(der).digest()
    kept = _KEPT.get(digest)
    if kept is None:
        kept = _der_texts(der)
        if len(_KEPT) >= _KEPT_MAX:
            _KEPT.clear()
        _KEPT[digest] = kept
    return kept


def _der_texts(der: bytes) -> tuple[bytes, tuple[int, ...], tuple[int, ...]]:
    """The values of ``der``'s primitive elements (``_TEXT_MIN`` bytes or more), each on
    a line of its own, for the text scans, with where each line starts in the result
    and in ``der``. In the DER itself each value follows its length byte, which may be
    a base64 or hex character ("X" is 0x58) that then opens the run, so a key's base64
    in an extension was not seen to start where the key does. An OCTET STRING's value
    is also walked as DER (an extension's value is an encoded element: a UTF8String
    holding the key's base64) when it holds one element whole; bytes that do not parse,
    and those past _TEXT_ELEMENTS elements, are kept whole."""
    lines: list[bytes] = []
    starts: list[int] = []
    at: list[int] = []
    size = 0
    todo = [(0, len(der), 0)]
    walked = 0
    while todo:
        pos, stop, depth = todo.pop()
        while pos < stop:
            walked += 1
            el = _definite(der, pos, stop) if walked <= _TEXT_ELEMENTS else None
            if el is None:  # not DER from here (or walked far enough): the bytes as they are
                el = (0, pos, stop - pos)
            tag, start, length = el
            end = start + length
            if tag & 0x20:
                pos = start  # constructed: its elements follow
                continue
            if tag == 0x04 and depth < _TEXT_DEPTH and _wraps(der, start, end):
                todo.append((start, end, depth + 1))  # an encoded element: walked, not kept
            elif length >= _TEXT_MIN:
                lines.append(der[start:end])
                starts.append(size)
                at.append(start)
                size += length + 1
            pos = end
    return b"\n".join(lines), tuple(starts), tuple(at)


def _wraps(der: bytes, start: int, end: int) -> bool:
    """``der[start:end]`` is one element whole (an extension's encoded value)."""
    el = _definite(der, start, end)
    return el is not None and el[1] + el[2] == end


def _definite(der: bytes, pos: int, stop: int) -> tuple[int, int, int] | None:
    """(tag, content start, content length) of the definite-length element at ``pos``
    ending by ``stop`` (a one-byte tag), or None."""
    if pos + 2 > stop:
        return None
    tag, first = der[pos], der[pos + 1]
    if tag & 0x1F == 0x1F:
        return None
    if first < 0x80:
        start, length = pos + 2, first
    else:
        n = first & 0x7F
        if not 0 < n <= 3:
            return None
        start, length = pos + 2 + n, int.from_bytes(der[pos + 2 : pos + 2 + n], "big")
    return (tag, start, length) if start + length <= stop else None


def _block_name(der: bytes) -> str:
    """The certificate ``der`` is, by its subject, for an error; cut short: it is the
    issuer's text, and a line of it is enough to find the certificate."""
    # deferred: cryptography's x509 only for a block found holding a key
    from cryptography import x509

    try:
        subject = x509.load_der_x509_certificate(der).subject.rfc4514_string()
    except ValueError:
        return "a PEM block"
    subject = subject if len(subject) <= 80 else subject[:77] + "..."
    return f"the certificate {subject!r}"


# The base64 of "----" (four dashes, the fewest armour keyscan accepts once it is on both
# sides, three on one) at each of the three offsets a byte may have in a 3-byte group,
# its characters that depend on the dashes alone, and how far before it its group starts.
def _dashes_b64(offset: int) -> tuple[bytes, int]:
    text = base64.b64encode(b"\0" * offset + b"----")
    first = (0, 2, 3)[offset]  # characters holding a byte before the dashes
    last = (offset + 4) * 8 // 6  # characters holding a byte after them
    return text[first:last], first


_DASHES_B64 = tuple(_dashes_b64(offset) for offset in range(3))  # "LS0tL", "0tLS", "tLS0t"
_BLANKS = b" \t\r\n"
_B64_RUN = re.compile(rb"[A-Za-z0-9+/]*")
_BEFORE, _AFTER = 96, 1024  # base64 characters decoded around a spelling of dashes
_REACH = 256  # a header's base64 within this of its dashes (80 bytes of label and blanks)


def find_base64_pem(data: bytes) -> tuple[str, int] | None:
    """A PEM private-key header spelt in base64 (wrapped or not), and where the base64
    of its dashes is, or None. Each spelling of dashes found is decoded with up to
    _BEFORE characters before it and _AFTER after, in steps of its own 4-character
    groups, and the text read as :func:`.keyscan_armour.find_armour` reads any. A
    spelling inside what was decoded in the same 4-character steps, but for its last
    _REACH characters, is not decoded again: a run of dashes spelt 1 MB long is
    decoded about 1 MB in all; one out of step (another alignment, which decodes
    to other text) is decoded on its own."""
    flat = data.translate(None, _BLANKS)
    for spelt, back in _DASHES_B64:
        decoded = [-1] * 4  # by a group's offset mod 4: up to where its spellings were read
        pos = flat.find(spelt, back)
        while pos >= 0:
            group = pos - back
            if group < decoded[group % 4]:
                pos = flat.find(spelt, pos + 1)
                continue
            before = _B64_RUN.match(flat[max(0, group - _BEFORE) : group][::-1])
            start = group - (before.end() // 4 * 4 if before is not None else 0)
            after = _B64_RUN.match(flat, group, group + _AFTER)
            stop = after.end() if after is not None else group
            stop -= (stop - start) % 4
            if _key_text(base64.b64decode(flat[start:stop]).lower()):
                return "base64 of a PEM private-key header", _unflattened(data, pos)
            decoded[group % 4] = stop - _REACH
            pos = flat.find(spelt, pos + 1)
    return None


# A key's base64 body after its header: what a PEM key file has and a name does not (a
# certificate whose subject is "-----BEGIN PRIVATE KEY-----" holds the header alone, and
# its PEM body is the base64 of it: that is no key).
_BODY = re.compile(rb"[a-z0-9+/]{40}")
_BODY_REACH = 400  # past the label: the header's end, Proc-Type/DEK-Info lines, blanks


def _key_text(low: bytes) -> bool:
    """A private-key header in ``low`` (decoded, lower-cased) followed by a key body."""
    label = find_armour(low)
    return label is not None and _BODY.search(low, label, label + _BODY_REACH) is not None


def _unflattened(data: bytes, pos: int) -> int:
    """The offset in ``data`` of byte ``pos`` of ``data`` with its blanks removed: a
    binary search (an error's position only)."""
    low, high = pos, len(data)
    while low < high:
        mid = (low + high) // 2
        if len(data[: mid + 1].translate(None, _BLANKS)) > pos:
            high = mid
        else:
            low = mid + 1
    return low
