"""Private-key material in the encodings listed below, found in linear passes over the input.

A CA file goes to every device of a fleet, so a key in it is a key published. Keys turn up
in CA files in more shapes than ``-----BEGIN PRIVATE KEY-----``: a header in lower case,
with four dashes, two spaces, a NUL or a non-breaking space in the label; a key's body with
its header lines cut off; a DER key after DER certificates; UTF-16 text; PuTTY ``.ppk`` and
JWK files. :func:`find_private_key` looks for all of them:

- PEM armour naming a private key: ``private`` and ``key`` (at most eight
  non-alphanumeric bytes apart) right after ``begin`` or ``end`` and at most two label
  words, with a run of dashes before the ``begin`` or after the label, any case;
- DER and BER structures of private keys wherever they start: PKCS#1 RSA and DSA
  (``SEQUENCE { INTEGER 0|1, INTEGER of 64+ bytes, ...}``), PKCS#8 (``INTEGER 0|1,
  AlgorithmIdentifier, OCTET STRING``), SEC1 EC (``INTEGER 1, OCTET STRING``), encrypted
  PKCS#8 (PKCS#5/PKCS#12 PBE algorithms) and PKCS#12 stores (RFC 8017 A.1.2, RFC 5958,
  RFC 5915, RFC 5208 6, RFC 7292 4), in definite or indefinite lengths (X.690 8.1.3.6);
  a PKCS#12 store's bags are counted (:mod:`.pkcs12`): one of certificates only in the
  clear holds no key, one with encrypted parts may;
- the same structures, a PKCS#7/CMS data or signed-data ContentInfo whose content is one of
  them, and OpenSSH's ``openssh-key-v1`` magic, at the start of every run of base64 (PEM
  bodies without headers, C string literals); a PKCS#12 store there is decoded whole
  (``base64 FILE.p12``, one C literal a line too) and its bags counted as in DER;
- the same structures and magic spelt in hex anywhere in text, a file read as PEM
  included (:mod:`.keyscan_hex`): C hex bytes (``"\\x30\\x80..."``, ``{0x30, 0x80, ...}``,
  ``(uint8_t)0x30``; OpenSSH's magic as a string's text), the dumps of xxd, hexdump, od
  (bytes, or words as ``od -x`` prints them), bare hex (``308204a4...``, ``30:82:...``);
- spelt as decimal or octal bytes (:mod:`.keyscan_dec`): C arrays (``{48, 130, ...}``,
  ``{060, 0202, ...}``, suffixes and casts too), Python, JavaScript and Java lists, ``od
  -tu1``, ``od -td1``, ``od -b``; as od's and hexdump's words (:mod:`.keyscan_words`):
  decimal of 16, 32, 64 bits, octal (``od``, ``hexdump -o``), in either byte order; dumps
  squeezed (a lone ``*`` for repeated lines) read with the lines it stands for (keyscan_dumps);
- spelt as C octal escapes (``"\\060\\202..."``, :func:`.keyscan_dec.find_c_octal`);
- inside every PEM block's and DER file's DER (an extension value's key, DER or text),
  and base64 of a whole PEM key file (a Kubernetes Secret's ``tls.key``) (:mod:`.keyscan_nested`);
- Java key stores (JKS, JCEKS) by their key entries' algorithms, and in base64 by their
  magic number and a first entry holding a key;
- PuTTY's ``PuTTY-User-Key-File-N:`` / ``Private-Lines:`` and a JWK ``"d"`` member;
- all of the above again with NUL bytes removed (UTF-16 and UTF-32 text holding ASCII,
  text in NUL-padded fields), when such text is there at all (:func:`.wide_text`).

Not found: keys compressed, encrypted other than as PKCS#8 or PKCS#12, or re-encoded beyond
these (base32, ascii85, base64 of base64): README's "No private key" lists both.

Each pattern is a regular expression without unbounded nested repetition, and each candidate
is checked in bounded work (a window of its line, a bounded walk over BER elements): the
scan is linear. A finding says where and what kind of key, never its bytes.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Iterator
from typing import TYPE_CHECKING

from .errors import PrivateKeyError
from .keyscan_armour import find_armour as _find_armour
from .keyscan_armour import header_start
from .keyscan_ber import INDEFINITE as _INDEFINITE
from .keyscan_ber import end as _end
from .keyscan_ber import enter as _enter
from .keyscan_ber import next_tag as _next_tag
from .keyscan_ber import oid_at as _oid_at
from .keyscan_ber import tlv as _tlv
from .keyscan_common import JAVA_MAGIC, KeyFinding, Lowered, java_store_kind, line_of, memoised
from .keyscan_common import wide_text as _wide_text
from .keyscan_dec import find_c_octal
from .keyscan_dumps import find_dumps
from .keyscan_hex import find_c_hex
from .keyscan_nested import find_base64_pem, find_in_der_values, find_in_pem_bodies

if TYPE_CHECKING:
    from .pkcs12 import Pfx

__all__ = ["KeyFinding", "base64_pfx", "find_private_key", "refuse_private_keys"]


# PuTTY .ppk lines, and the RFC 1421 headers of an encrypted traditional OpenSSL key.
_KEY_LINES = re.compile(
    rb"putty-user-key-file-\d{1,3}[ \t]{0,8}:|private-lines[ \t]{0,8}:"
    # OpenSSL's text dump: "Private-Key: (256 bit)", "ED25519 Private-Key:" then "priv:"
    rb"|private-key:[ \t]{0,8}(?:\(\d|\r?\n[ \t]{0,8}priv:)"
    rb"|proc-type:[ \t]{0,8}4,[ \t]{0,8}encrypted|dek-info[ \t]{0,8}:"
)
# Every _KEY_LINES alternative holds one of these: a byte search rules most inputs out
# far faster than the alternation (which has no literal prefix for re to look for).
_KEY_LINE_WORDS = (
    b"putty-user-key-file-",
    b"private-lines",
    b"private-key:",
    b"proc-type:",
    b"dek-info",
)
# JWK private members are base64url; a "d" with a long value is a private exponent/scalar.
_JWK = re.compile(rb'"d"[ \t\r\n]{0,8}:[ \t\r\n]{0,8}"[A-Za-z0-9_-]{16}')
_OPENSSH_MAGIC = b"openssh-key-v1\x00"
# Every position where a DER or BER SEQUENCE opens with an INTEGER or a SEQUENCE (zero-
# width, so no candidate hides another). Length 0x80 is BER's indefinite length.
_DER_START = re.compile(
    rb"(?=\x30(?:[\x00-\x80]|\x81[\x00-\xff]|\x82[\x00-\xff]{2}|\x83[\x00-\xff]{3})[\x02\x30])",
    re.DOTALL,
)
_B64_RUN = re.compile(rb"[A-Za-z0-9+/]{16,}")
# A run opening as a key's base64 can ("M", "b", "/", "z"; see _scan_base64), a base64
# character never before it (a run at the very start of the input is looked at apart):
# found in a copy of the text with each byte replaced by its class (_B64_CLASSES: "M"
# for those four, "a" for the other base64 characters, "." for the rest) as ".M" and
# 15 more. re finds the literal ".M" by a fast scan (3x a search for "[Mbz/]" then a
# look behind at every "M" of base64); a pattern opening with the run's characters is
# tried at every letter of every word (n*n/2 steps for a word of n letters).
_B64_CLASSES = bytes(
    (b"M"[0] if c in b"Mbz/" else b"a"[0])
    if c in b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    else b"."[0]
    for c in range(256)
)
_B64_KEY_RUN = re.compile(rb"\.M[aM]{15,}")
_B64_KEY_HEAD, _B64_CHUNK = re.compile(rb"\.M[aM]{15}"), 1 << 18  # see _b64_run_spans
_B64_GAP = 8  # bytes between two pieces of one base64 body: a line end, C quotes, "\n"
_B64_PREFIX = 256  # base64 characters decoded per run: enough for any key's header
# The lines after a run that may open a PKCS#12 store, matched 1024 at a time (re keeps
# an entry per repetition of a group): after a line end, a "\\n" in a C or JSON string,
# or the end of a C string literal and the opening of the next ('\\n"', a "\\" if in a
# macro, then '  "'); what is between is dropped.
_B64_LINES = re.compile(
    rb'(?:(?:\r?\n|(?:\\r)?(?:\\n)?"[ \t]{0,64}\\?\r?\n[ \t]{0,64}"|(?:\\r)?\\n)'
    rb"[A-Za-z0-9+/]+){1,1024}"
)
_B64_JOINS = b'\r\n\t "\\'
_PKCS5 = bytes.fromhex("2a864886f70d0105")  # 1.2.840.113549.1.5 (PBES1/PBES2)
_PKCS12_PBE = bytes.fromhex("2a864886f70d010c01")  # 1.2.840.113549.1.12.1
# Java key stores (keytool -storetype JKS / JCEKS): a private-key entry is an
# EncryptedPrivateKeyInfo under Sun's KeyProtector (1.3.6.1.4.1.42.2.17.1.1) or
# PBEWithMD5AndTripleDES (1.3.6.1.4.1.42.2.19.1); the file opens with a magic number,
# a version, an entry count, then each entry's tag (1: private key, 2: certificate).
_JAVA_PBE = (bytes.fromhex("2b060104012a02110101"), bytes.fromhex("2b060104012a021301"))
_JAVA_B64 = (b"/u3+7", b"zs7Oz")  # the magic numbers' first 30 bits in base64
_PKCS7 = bytes.fromhex("2a864886f70d0107")  # 1.2.840.113549.1.7: PKCS#7/CMS content types
_PKCS7_DATA = _PKCS7 + b"\x01"
_PKCS7_SIGNED = _PKCS7 + b"\x02"
# der_key_kind's keys that open with no version: an encrypted key, a ContentInfo.
_OID_LED = (_PKCS5, _PKCS12_PBE, *_JAVA_PBE, _PKCS7)
# A version (INTEGER 0 to 3) after a SEQUENCE's header, as _DER_START spells it; re
# finds the literal 02 01 at C speed and looks back from it. Two bytes a match: an
# 02 01 in the version byte of one (02 01 02 01 00) is found too.
_VERSION_LED = re.compile(
    rb"\x02\x01(?=[\x00-\x03])(?:(?<=\x30[\x00-\x80]..)|(?<=\x30\x81...)"
    rb"|(?<=\x30\x82....)|(?<=\x30\x83.....))",
    re.DOTALL,
)

# A PFX (der_key_kind's PKCS#12 store) is walked for its bags (:mod:`.pkcs12`): one with
# certificates only is no key. A scan walks at most _PFX_WALKS stores (each walk is
# bounded, but a store's bags are far more than keyscan_ber.WALK elements); any more
# are key stores.
_PKCS12_STORE = "PKCS#12 key store"
_PKCS12_SEALED = "PKCS#12 store, no key bag in the clear"
_PFX_WALKS = 4
# A PFX's "version 3" (02 01 03) in base64, after the SEQUENCE's length in each form it
# can take (LL or 80, 81 LL, 82 LL LL, 83 LL LL LL) and the authSafe's 30: "MHkC AQMw",
# "MIH/ AgED", "MIL/ /wIB AzCC", "MIP/ //8C AQMw".
_PFX_VERSION_B64 = (b"AQMw", b"AgED", b"IBAz")


def _content_info_key(buf: bytes, pos: int, truncated: bool) -> str | None:
    """The kind of key that is the content of the PKCS#7/CMS ContentInfo at ``pos``:
    data (``openssl cms -data_create``) or signed data's encapsulated content
    (``cms -sign -nodetach``), whose OCTET STRING (BER: its first piece) opens with a
    key (RFC 5652 3, 5.1, 5.2). Bounded: one level, a fixed path of elements."""
    at = _enter(buf, pos, 0x30)
    oid = _tlv(buf, at) if at is not None else None
    if at is None or oid is None or oid[0] != 0x06:
        return None
    content = buf[oid[1] : oid[1] + oid[2]]
    inner = _enter(buf, oid[1] + oid[2], 0xA0)
    if content == _PKCS7_SIGNED:  # SignedData { version, digestAlgorithms, encapContentInfo }
        signed = _enter(buf, inner, 0x30)
        if signed is None or _enter(buf, signed, 0x02) is None:
            return None
        digests = _end(buf, signed)
        if digests is None or _enter(buf, digests, 0x31) is None:
            return None
        encap = _enter(buf, _end(buf, digests), 0x30)
        if encap is None or not _oid_at(buf, encap, (_PKCS7_DATA,)):
            return None
        # its eContent; without one (certificates only) this is the certificates' [0],
        # whose first element is a certificate, not an OCTET STRING
        inner = _enter(buf, _end(buf, encap), 0xA0)
    elif content != _PKCS7_DATA:
        return None
    octets = _enter(buf, inner, 0x04)
    if octets is None:  # BER: a constructed OCTET STRING, its first piece
        octets = _enter(buf, _enter(buf, inner, 0x24), 0x04)
    if octets is None:
        return None
    kind = der_key_kind(buf, octets, truncated=True, _wrapped=True)
    return None if kind is None else f"{kind} in a PKCS#7/CMS ContentInfo"


def der_key_kind(
    buf: bytes, pos: int = 0, *, truncated: bool = False, _wrapped: bool = False
) -> str | None:
    """The kind of private key whose DER or BER starts at ``pos``, or None.

    ``truncated``: ``buf`` may stop inside the key (the first bytes of a base64 body);
    its declared length is then not required to fit.
    """
    outer = _tlv(buf, pos)
    if outer is None or outer[0] != 0x30:
        return None
    start = outer[1]
    # an indefinite length ends at its end-of-contents octets: inside buf, at most
    end = len(buf) if outer[2] == _INDEFINITE else start + outer[2]
    if end > len(buf) and not truncated:
        return None
    first = _tlv(buf, start)
    if first is None or first[1] + max(first[2], 0) > end:
        return None
    tag, c, n = first
    if tag == 0x30:  # EncryptedPrivateKeyInfo: { AlgorithmIdentifier { PBE OID }, OCTET STRING }
        if not _oid_at(buf, c, (_PKCS5, _PKCS12_PBE, *_JAVA_PBE)):
            return None
        if _next_tag(buf, start) not in (None, 0x04, 0x24):
            return None
        java = _oid_at(buf, c, _JAVA_PBE)
        return "encrypted key of a Java key store" if java else "encrypted PKCS#8"
    if tag == 0x06:  # a ContentInfo
        return None if _wrapped else _content_info_key(buf, pos, truncated)
    if tag != 0x02 or n != 1 or c >= len(buf) or buf[c] > 3:
        return None
    version = buf[c]
    second = _tlv(buf, c + 1)
    if second is None or c + 1 >= end:
        return None
    tag2, c2, n2 = second
    if tag2 == 0x02 and version <= 1 and n2 >= 64:
        return "PKCS#1 RSA or DSA"
    if version == 1 and ((tag2 == 0x04 and 16 <= n2 <= 72) or (tag2 == 0x24 and n2 == _INDEFINITE)):
        return "SEC1 EC"
    alg = _tlv(buf, c2) if tag2 == 0x30 else None
    if alg is None or alg[0] != 0x06:
        return None
    oid = buf[alg[1] : alg[1] + alg[2]]
    if version == 3:
        return _PKCS12_STORE if oid.startswith(_PKCS7) else None
    if version <= 1 and not oid.startswith(_PKCS7):
        # The OCTET STRING after the AlgorithmIdentifier; a v1 certificate's TBS with a
        # small serial has its issuer Name there, and a PKCS#7/CMS EncryptedData its
        # EncryptedContentInfo in its place (opening with a content type, not a key
        # algorithm). DSA/DH parameters may push it past the decoded prefix of a base64
        # body.
        after = _end(buf, c + 1)
        third = _tlv(buf, after) if after is not None else None
        if (third is not None and third[0] in (0x04, 0x24)) or (
            truncated and (after is None or after >= len(buf))
        ):
            return "PKCS#8"
    return None


def _cannot_open_key(head: bytes) -> bool:
    """True when base64 that opens with ``head`` (16 characters) can be neither a key's
    DER, by the tags :func:`der_key_kind` requires, nor OpenSSH's or Java's magic. False means
    "look closer", never "a key"."""
    raw = base64.b64decode(head)  # 16 characters of a run: valid, 12 bytes
    if raw[0] != 0x30:
        return not (_OPENSSH_MAGIC.startswith(raw) or raw[:4] in JAVA_MAGIC)
    outer = _tlv(raw, 0)
    first = _tlv(raw, outer[1]) if outer is not None else None
    if first is None:
        return False
    tag, content = first[0], first[1]
    if tag == 0x30:  # only an encrypted PKCS#8 key: its AlgorithmIdentifier opens with an OID
        return content < len(raw) and raw[content] != 0x06
    if tag == 0x06:  # only a ContentInfo that may wrap a key: a PKCS#7/CMS content type
        return first[2] != len(_PKCS7) + 1 or not _PKCS7.startswith(raw[content:])
    return tag != 0x02


def _scan_text(
    data: bytes, stores: list[int], *, bodies: bool = True, labels: bool = True
) -> tuple[str, int] | None:
    low = data.lower()  # labels False: certificate values (a name may read as a header)
    armour = _find_armour(low) if labels else None
    if armour is not None:
        return "PEM private-key header", header_start(low, armour)
    line = _KEY_LINES.search(low) if labels and any(w in low for w in _KEY_LINE_WORDS) else None
    if line:
        word = line.group(0)
        if word.startswith(b"private-key"):
            return "OpenSSL key text dump", line.start()
        putty = word.startswith((b"putty", b"private-lines"))
        return ("PuTTY .ppk key" if putty else "encrypted-PEM key headers"), line.start()
    jwk = _JWK.search(data)
    if jwk:
        return 'JWK "d" member', jwk.start()
    scan_der = memoised(_scan_der)  # for this text: its windows are scanned once each
    found = _scan_base64(data, stores) or find_c_hex(low, scan_der) or find_c_octal(data, scan_der)
    if found is not None:
        return found
    lowered = Lowered(data, low)  # let go by find_dumps before its own copies, made again
    del low  # for the PEM bodies: few copies of a big text at once (random 256 MiB: 2.3 GB)
    found = find_dumps(data, lowered, scan_der)
    if bodies:  # a body's values are text-scanned with bodies=False: one level deep
        each = lambda value: _scan_text(value, [], bodies=False, labels=False)  # noqa: E731
        found = found or find_in_pem_bodies(data, lowered.get(), _scan_der, each)
    lowered.drop()  # before find_base64_pem's copy
    return found or find_base64_pem(data)


def _b64_heads(data: bytes) -> Iterator[tuple[int, int, bytes]]:
    """Each run of base64 that may open a key's DER (or OpenSSH's or Java's magic): where
    it starts and ends, and its first _B64_PREFIX characters decoded with the runs that
    follow it within _B64_GAP bytes (the lines of a headerless PEM body, a C string
    literal a line)."""
    for start, end in _b64_run_spans(data):
        # DER SEQUENCE encodes as "M", OpenSSH as "b3Bl", a JKS as "/u3+7", a JCEKS as "zs7Oz"
        head = data[start : start + 16]
        if head[0] in b"/z" and not head.startswith(_JAVA_B64):
            continue
        if _cannot_open_key(head):
            continue  # every certificate's first line: decided from 12 bytes, not 192
        pieces = [data[start : min(end, start + _B64_PREFIX)]]
        size, last = len(pieces[0]), end
        while size < _B64_PREFIX:
            # the next run (a search from the end of one finds the next one whole)
            nxt = _B64_RUN.search(data, last, last + _B64_GAP + _B64_PREFIX)
            if nxt is None or nxt.start() - last > _B64_GAP:
                break
            pieces.append(data[nxt.start() : min(nxt.end(), nxt.start() + _B64_PREFIX - size)])
            size, last = size + len(pieces[-1]), nxt.end()
        text = b"".join(pieces)[:_B64_PREFIX]
        try:
            raw = base64.b64decode(text[: len(text) // 4 * 4])
        except (binascii.Error, ValueError):
            continue
        yield start, end, raw


def _b64_run_spans(data: bytes) -> Iterator[tuple[int, int]]:
    """The runs _B64_KEY_RUN finds in ``data.translate(_B64_CLASSES)`` (from after its
    "."), and one at the start opening as a key's can, in order; classified a chunk at
    a time, with the 16 bytes after it (a head of 17 classes starting in it is whole;
    none holds a "." after its first, so none starts in another): no whole-text copy."""
    first_run = _B64_RUN.match(data) if data[:1] in b"Mbz/" else None
    if first_run is not None:
        yield first_run.span()
    for base in range(0, len(data), _B64_CHUNK):
        classes = data[base : base + _B64_CHUNK + 16].translate(_B64_CLASSES)
        for m in _B64_KEY_HEAD.finditer(classes):
            if m.start() >= _B64_CHUNK:
                break
            run = _B64_RUN.match(data, base + m.start() + 1)
            yield base + m.start() + 1, run.end() if run is not None else base + m.end()


def _b64_lines(data: bytes, start: int, end: int) -> bytes:
    """What the base64 from ``data[start:end]`` (a run) on spells, with the lines that
    follow it as ``base64 FILE`` and ``openssl base64`` write them (LF or CRLF, padding
    optional): a PKCS#12 store is read whole, not from its first _B64_PREFIX characters.
    Linear in the lines; a scan decodes at most _PFX_WALKS bodies."""
    while (more := _B64_LINES.match(data, end)) is not None:
        end = more.end()
    text = data[start:end]
    if b"\\" in text:
        text = text.replace(b"\\n", b"").replace(b"\\r", b"")
    text = text.translate(None, _B64_JOINS)
    text = text[: len(text) - (len(text) % 4 == 1)]  # a lone last character spells no byte
    return base64.b64decode(text + b"=" * (-len(text) % 4))


def _scan_base64(data: bytes, stores: list[int]) -> tuple[str, int] | None:
    """A key's DER (or OpenSSH's or Java's magic) at the start of a run of base64
    (:func:`_b64_heads`); a PKCS#12 store's bags are counted (:func:`_pkcs12_kind`) and
    where its base64 starts is added to ``stores``."""
    walks = 0
    for start, end, raw in _b64_heads(data):
        if raw.startswith(_OPENSSH_MAGIC):
            return "base64 OpenSSH key", start
        kind = java_store_kind(raw) or der_key_kind(raw, truncated=True)
        if kind == _PKCS12_STORE:
            stores.append(start)
        if kind == _PKCS12_STORE and walks < _PFX_WALKS:
            walks += 1
            kind = _pkcs12_kind(_b64_lines(data, start, end), 0)
        if kind is not None:
            return f"base64 {kind}", start
    return None


def base64_pfx(data: bytes) -> tuple[int, Pfx] | None:
    """The first PKCS#12 store in base64 in ``data`` (see :func:`_b64_lines`) and where
    its base64 starts, or None; at most _PFX_WALKS candidates are walked. For the
    loaders: a store of certificates only is no key, yet no CA source."""
    if not any(version in data for version in _PFX_VERSION_B64):
        return None  # a PEM bundle: a fifth of the time of the search
    if _CLEAN.get(hashlib.sha256(data).digest()) is False:
        return None  # scanned whole for keys, and no run opened a store: a tenth of a walk
    walks = 0
    for start, end, raw in _b64_heads(data):
        if der_key_kind(raw, truncated=True) != _PKCS12_STORE:
            continue
        from .pkcs12 import read_pfx  # deferred: only text holding a PKCS#12 store's base64

        pfx = read_pfx(_b64_lines(data, start, end))
        if pfx is not None:
            return start, pfx
        walks += 1
        if walks >= _PFX_WALKS:
            break
    return None


def _scan_der(data: bytes) -> tuple[str, int] | None:
    # der_key_kind finds a key only where an INTEGER (0x02, a version) or an OID (0x06:
    # an encrypted key's algorithm, a ContentInfo's type) follows the outer SEQUENCE,
    # whatever its length's form: bytes holding neither (any text file) hold no DER or
    # BER key, and the candidate search, which stops at every "0" of base64 text, can be
    # skipped (tests/test_keyscan.py checks every vector with those bytes replaced).
    if b"\x02" in data or b"\x06" in data:
        walks = 0
        for start in _der_starts(data):
            kind = der_key_kind(data, start)
            if kind == _PKCS12_STORE and walks < _PFX_WALKS:
                walks += 1
                kind = _pkcs12_kind(data, start)
            if kind is not None:
                encoding = "BER" if data[start + 1] == 0x80 else "DER"
                return f"{encoding} {kind}", start
    pos = data.find(_OPENSSH_MAGIC)
    if pos >= 0:
        return "OpenSSH key", pos
    return None


def _der_starts(data: bytes) -> Iterator[int]:
    """Where der_key_kind may find a key in ``data``, in order. Without a PBE or PKCS#7
    OID in ``data`` it finds only keys opening with a version, ``02 01 0-3`` right after
    the SEQUENCE's 2 to 5 header bytes (_VERSION_LED): over certificates' DER (every PEM
    block's body is scanned) a tenth of the time of _DER_START, which stops at every
    byte. Lazy, as finditer is: a run of a million candidates holds a few at a time."""
    if any(oid in data for oid in _OID_LED):
        yield from (m.start() for m in _DER_START.finditer(data))
        return
    checked = -1  # the windows of two 02 01 overlap: each offset is tried once, in order
    for m in _VERSION_LED.finditer(data):
        pos = m.start()
        for q in range(max(checked + 1, pos - 5), pos - 1):
            if data[q] == 0x30 and _DER_START.match(data, q):
                yield q
        checked = pos - 2


def _pkcs12_kind(data: bytes, pos: int) -> str | None:
    """What the PKCS#12 store at ``pos`` is as a finding: a key store if a key bag is in
    the clear (or it cannot be walked), a store that may hold one in its encrypted part,
    or None for certificates only (a CA source the loaders refuse as PKCS#12)."""
    from .pkcs12 import read_pfx  # deferred: only bytes that start a PKCS#12 store

    pfx = read_pfx(data, pos)
    if pfx is None or pfx.keys:
        return _PKCS12_STORE
    if pfx.sealed:
        parts = "part" if pfx.sealed == 1 else "parts"
        return f"{_PKCS12_SEALED}, {pfx.sealed} encrypted {parts}"
    return None


def find_private_key(data: bytes) -> KeyFinding | None:
    """The first private key in ``data`` in any encoding this module knows, or None."""
    return _find_key(data, [])


def _find_key(data: bytes, stores: list[int]) -> KeyFinding | None:
    found = _scan_text(data, stores)
    if found is not None:
        return KeyFinding(found[0], found[1], line_of(data, found[1]))
    found = _scan_der(data) or find_in_der_values(data, lambda v: _scan_text(v, [], labels=False))
    if found is not None:
        return KeyFinding(found[0], found[1], 0)
    if b"\x00" in data and _wide_text(data):
        text = data.replace(b"\x00", b"")
        found = _scan_text(text, [])
        if found is not None:
            return KeyFinding(found[0], found[1], line_of(text, found[1]), "UTF-16")
    return None


# SHA-256 digests of inputs found to hold no key, each with whether a run of base64 in it
# opened a PKCS#12 store (only then need base64_pfx walk it); bounded for long processes.
_CLEAN: dict[bytes, bool] = {}
_CLEAN_MAX = 64


def refuse_private_keys(data: bytes, *, source: str) -> None:
    """Raise :class:`PrivateKeyError` naming ``source`` and where, if ``data`` holds a key.

    The message never quotes the key (nor its header line).
    """
    # A command meets the same bytes more than once (the gate refuses keys before it
    # tells a finished file from an ESP-IDF bundle, then the loader does): bytes found
    # clean are remembered by digest, which costs a tenth of a scan.
    digest = hashlib.sha256(data).digest()
    if digest in _CLEAN:
        return
    stores: list[int] = []
    found = _find_key(data, stores)
    if found is None:
        if len(_CLEAN) >= _CLEAN_MAX:
            _CLEAN.clear()
        _CLEAN[digest] = bool(stores)
        return
    line = found.file_line  # the error's file:line prefix (its offset: a hint's)
    at = found.where(line_said=True)  # the line is the prefix's: said once
    if _PKCS12_SEALED in found.kind:
        from .pkcs12 import pkcs12_hint  # deferred: as in _pkcs12_kind

        raise PrivateKeyError(
            f"{found.kind} at {at}: a private key may be in what only the "
            "store's password opens, and PKCS#12 is not a supported CA source; refusing "
            "the whole input",
            path=source,
            line=line,
            hint=pkcs12_hint(data, line and found.offset, base64=found.kind.startswith("base64")),
        )
    raise PrivateKeyError(
        f"private key material ({found.kind}) at {at}; refusing the whole input",
        path=source,
        line=line,
        hint="a CA file must hold only public certificates: remove the key (and treat it as "
        "exposed if this file was ever shared)",
    )
