"""What a file's bytes are before any certificate is read from them: UTF-16 text (with
or without a BOM), binary data, and the shape certificates take in them (PEM, DER, C
string literals, C byte arrays). One set of rules for every reader of the tool."""

from __future__ import annotations

import json

from ._stdin import STDIN
from .errors import CertificateError, InputError
from .file_kinds import shell_path
from .pubkeys import read_tlv_header as _read_tlv_header

__all__ = [
    "archive_kind",
    "decode_text",
    "lock_root_count",
    "looks_binary",
    "manifest_root_count",
    "refuse_archive",
    "sniff_kind",
]

# Archives and compressed files by their magic bytes (zip APPNOTE 4.3.7/4.3.16, RFC 1952,
# POSIX ustar at offset 257, xz, bzip2, 7z, zstd frame): what each is called, the command
# that unpacks it ({} the file), and the one that unpacks it on a pipe (standard input to
# standard output; "" when it needs a file: a zip's or 7z's index is at its end). A stored
# zip holds its PEM text verbatim, and was read as the PEM file it packs; a compressed one
# was "binary data" with no way out.
_ARCHIVES: tuple[tuple[int, bytes, str, str, str], ...] = (
    (0, b"PK\x03\x04", "a zip archive", "unzip {}", ""),
    (0, b"PK\x05\x06", "an empty zip archive", "unzip {}", ""),
    (0, b"\x1f\x8b", "a gzip-compressed file", "gunzip -k {}", "gunzip -c"),
    (257, b"ustar", "a tar archive", "tar -xf {}", "tar -xOf -"),
    (0, b"\xfd7zXZ\x00", "an xz-compressed file", "unxz -k {}", "unxz -c"),
    (0, b"BZh", "a bzip2-compressed file", "bunzip2 -k {}", "bunzip2 -c"),
    (0, b"7z\xbc\xaf\x27\x1c", "a 7z archive", "7z x {}", ""),
    (0, b"\x28\xb5\x2f\xfd", "a zstd-compressed file", "unzstd {}", "unzstd -c"),
)
_BZIP2_BLOCK = b"1AY&SY"  # after BZh and the block size digit: "BZh" alone may be text


def archive_kind(data: bytes) -> tuple[str, str] | None:
    """What archive or compressed file ``data`` is, and the command (``{}`` for its
    name) that unpacks it; None for anything else."""
    row = _archive(data)
    return None if row is None else (row[2], row[3])


def _archive(data: bytes) -> tuple[int, bytes, str, str, str] | None:
    """The row of :data:`_ARCHIVES` that ``data`` is."""
    for row in _ARCHIVES:
        at, magic = row[0], row[1]
        if data[at : at + len(magic)] != magic:
            continue
        if magic == b"BZh" and not (data[3:4].isdigit() and data[4:10] == _BZIP2_BLOCK):
            continue
        if magic == b"\x1f\x8b" and data[2:3] != b"\x08":  # deflate, the only method
            continue
        return row
    return None


def refuse_archive(data: bytes, *, source: str, error: type[InputError] = CertificateError) -> None:
    """Refuse ``data`` when it is an archive or compressed file: no reader of the tool
    unpacks one, and a stored zip's PEM text would be read as a CA file."""
    found = _archive(data)
    if found is None:
        return
    _, _, what, unpack, piped = found
    if source == STDIN:  # no file to unpack: './-' named none
        hint = (
            f"unpack it on the way in: ... | {piped} | esp-cabundle ... -"
            if piped
            else f"save it to a file and unpack it ({unpack.format('FILE')}), then give the "
            "CA file it holds"
        )
    else:
        tar = what == "a gzip-compressed file" and source.endswith((".tar.gz", ".tgz"))
        command = ("tar -xzf {}" if tar else unpack).format(shell_path(source))
        hint = f"unpack it first ({command}), then give the CA file it holds"
    raise error(
        f"{what} ({len(data):,} bytes), not a certificate file: esp-cabundle unpacks "
        "no archive or compressed file",
        path=source,
        hint=hint,
    )


_UTF16_BOMS = ((b"\xff\xfe", "utf-16-le"), (b"\xfe\xff", "utf-16-be"))
_UTF16_PROBE = 64  # bytes looked at to tell UTF-16 text without a BOM


def _ascii_units(units: bytes) -> bool:
    return all(b in (0x09, 0x0A, 0x0D) or 0x20 <= b < 0x7F for b in units)


def decode_text(data: bytes, *, source: str = "<input>") -> tuple[bytes, str | None]:
    """``data`` as UTF-8, and "UTF-16 text" when it was UTF-16 (a BOM, or ASCII
    characters each followed or preceded by a NUL, as Windows tools write PEM); other
    bytes are returned as they are. One rule for every reader: ``inspect``, ``check``,
    ``--root`` and the write gate read the same files; an archive is refused
    (:func:`refuse_archive`)."""
    refuse_archive(data, source=source)
    codec = next((c for bom, c in _UTF16_BOMS if data.startswith(bom)), None)
    body = data[2:] if codec else data
    if codec is None and len(data) >= 4 and len(data) % 2 == 0:
        head = data[:_UTF16_PROBE]
        if not any(head[1::2]) and _ascii_units(head[0::2]):
            codec = "utf-16-le"
        elif not any(head[0::2]) and _ascii_units(head[1::2]):
            codec = "utf-16-be"
    if codec is None:
        return data, None
    try:
        return body.decode(codec).encode("utf-8"), "UTF-16 text"
    except UnicodeDecodeError as e:
        raise CertificateError(f"not valid UTF-16 text ({e.reason})", path=source) from e


# Bytes no text file holds: C0 controls but tab, line ends, VT and FF; DEL; and bytes
# that never occur in UTF-8. A few are tolerated (a NUL terminator, a stray byte).
_NEVER_TEXT = bytes([*range(0x00, 0x09), *range(0x0E, 0x20), 0x7F, 0xC0, 0xC1, *range(0xF5, 0x100)])
_TEXT_PROBE = 65536


def looks_binary(data: bytes) -> bool:
    """True when ``data`` (its first 64 KiB, padding at the end ignored) is not text:
    over one byte in fifty is one no text holds. UTF-16 text is binary to this test:
    decode it first (:func:`decode_text`)."""
    body = data[: min(_TEXT_PROBE, _unpadded_size(data))]
    odd = len(body) - len(body.translate(None, _NEVER_TEXT))
    return odd * 50 > len(body)


def _unpadded_size(data: bytes) -> int:
    """``len(data.rstrip(b"\\x00\\xff"))``, without that copy of ``data`` (an image or
    random bytes ending in a NUL: as big as the input, where 64 KiB are read)."""
    end = len(data)
    while end > 0:
        start = max(0, end - _TEXT_PROBE)
        kept = len(data[start:end].rstrip(b"\x00\xff"))
        if kept:
            return start + kept
        end = start
    return 0


def sniff_kind(data: bytes) -> str:
    """``der``, ``pem``, ``c-strings`` or ``c-array``: how ``data`` holds certificates."""
    if data[:1] == b"\x30" and _looks_like_der(data):
        return "der"
    text = data.decode("utf-8", errors="replace")
    if '"' in text and "-" in text:
        from .c_literals import scan_c  # deferred: its lexer costs 2 ms; presets never lex

        # Lexing is linear but not free: only a file with a quote and a dash can hold PEM
        # in string literals (its header may be split: "-----BEG" "IN CERTIFICATE-----").
        if scan_c(text).has_pem_literal():
            return "c-strings"
    begin = text.find("-----BEGIN")
    if begin >= 0:
        # A PEM header inside quotes, yet no literal holds one: C source whose
        # certificates are all compiled out (#if 0), not a PEM file.
        quoted = '"' in text[text.rfind("\n", 0, begin) + 1 : begin]
        return "c-strings" if quoted else "pem"
    from .c_literals import looks_like_c_array  # deferred: as in the branch above

    if looks_like_c_array(text):
        return "c-array"
    if data[:1] == b"\x30":
        return "der"
    return "pem"


def _looks_like_der(data: bytes) -> bool:
    try:
        _tag, hdr, length = _read_tlv_header(data, 0)
    except ValueError:
        return False
    return hdr + length <= len(data)


def manifest_root_count(text: str) -> int | None:
    """How many roots ``text`` lists when it is this tool's own manifest (``build -f
    json``, :mod:`.formats.manifest`), else None: given where certificates were
    expected, it is named, as "no certificate found" left users thinking it a broken
    bundle."""
    head = text.lstrip()[:1]
    if head != "{" or '"roots"' not in text or '"der_bytes"' not in text:
        return None
    try:
        doc = json.loads(text)
    except (ValueError, RecursionError):  # RecursionError: nesting deeper than Python's
        return None
    if not isinstance(doc, dict) or not isinstance(doc.get("roots"), list):
        return None
    roots = doc["roots"]
    if not all(isinstance(r, dict) and "sha256" in r for r in roots):
        return None
    return len(roots)


def lock_root_count(text: str) -> int | None:
    """How many roots ``text`` pins when it is this tool's own ``cabundle.lock``
    (:mod:`.lockfile`: ``lock_version`` and a ``roots`` list of sha256 entries), else
    None: given where certificates were expected, it is named, as "no certificate found"
    said nothing of what the file is."""
    if text.lstrip()[:1] != "{" or '"lock_version"' not in text or '"roots"' not in text:
        return None
    try:
        doc = json.loads(text)
    except (ValueError, RecursionError):  # RecursionError: nesting deeper than Python's
        return None
    if not isinstance(doc, dict) or "lock_version" not in doc:
        return None
    roots = doc.get("roots")
    if not isinstance(roots, list) or not all(isinstance(r, dict) and "sha256" in r for r in roots):
        return None
    return len(roots)
