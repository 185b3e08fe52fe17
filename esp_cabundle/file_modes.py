"""The names and modes of the files written: a staged file's name, known for what it is
after a run killed mid-write, and the mode an output gets, which never lets more users
read it than the file it replaces did."""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path

from ._patterns import lazy_re

# Temporary files end with this, so a run killed mid-write leaves names that are known
# for what they are (``pack --from-dir`` skips them); see is_temporary_name.
TEMP_SUFFIX = ".esp-cabundle-tmp"
_LEGACY_TEMP = lazy_re(r"^\..+\.[A-Za-z0-9_]{8}\.tmp$")  # mkstemp names before TEMP_SUFFIX


def is_temporary_name(name: str) -> bool:
    """True for a file name :mod:`.fileio` gives a staged or backup file."""
    return name.endswith(TEMP_SUFFIX) or bool(_LEGACY_TEMP().match(name))


# Modes of the files written (never narrowed or widened by the umask): PRIVATE for
# anything holding a unit's flash contents (Wi-Fi passwords, keys in its config files)
# or a file that was itself kept from others. A file replaced keeps what it denied to
# group and others: an output never becomes readable by more users than it was.
PUBLIC = 0o644
PRIVATE = 0o600


def kept_from_others(path: str | Path) -> bool:
    """True when ``path`` exists and users other than its owner and group may not read
    it: whatever holds its bytes is to be written :data:`PRIVATE`."""
    try:
        return not os.stat(path).st_mode & stat.S_IROTH
    except OSError:
        return False


def kept_narrow(mode: int, existing: int | None) -> int:
    """``mode``, without the group and other bits the replaced file did not grant."""
    if existing is None:
        return mode
    return mode & (stat.S_IMODE(existing) | 0o700)


def narrowed_in_place(mode: int, existing: int) -> int | None:
    """The mode a file the shell opened (``-o /dev/stdout > dump.bin``) is given before
    output of ``mode`` is written into it, or None to leave it: only a private output
    (secrets: a flash dump) takes from group and others what they may do; a public one
    leaves the mode the shell chose (``>>`` to a shared 0664 log stays 0664)."""
    if mode & 0o077 or not existing & 0o077:
        return None
    return stat.S_IMODE(existing) & ~0o077


def mode_kept(old_mode: int, mode: int) -> bool:
    """True when a file of ``old_mode`` already holding the bytes is left untouched by
    :func:`.fileio.write_atomic` with ``mode`` (its mode stays as it is)."""
    return stat.S_IMODE(old_mode) == kept_narrow(mode, old_mode)


# A PEM block whole; the four comment lines build writes before a certificate (its
# label, subject, dates and key, and its SHA-256, which must be that certificate's); and
# a blank line. Any other comment may hold anything (a token, a Wi-Fi password).
_PEM_BLOCK = lazy_re(rb"-----BEGIN ([A-Z0-9 ]{1,64})-----\r?\n[A-Za-z0-9+/=\s]*?-----END \1-----")
_BUILD_HEADER = lazy_re(
    rb"#[^\n]*\n# Subject: [^\n]*\n# Not after: [^\n]*\n# SHA-256: ([0-9a-f]{64})\r?\n"
    rb"(-----BEGIN CERTIFICATE-----\r?\n([A-Za-z0-9+/=\s]*?)-----END CERTIFICATE-----)"
)
_BLANK_LINE = lazy_re(rb"[ \t]*\r?")
_PUBLIC_BLOCKS = (b"CERTIFICATE", b"TRUSTED CERTIFICATE")


def content_mode(data: bytes | memoryview) -> int:
    """:data:`PUBLIC` for a file of certificates alone (a CA file: PEM certificates,
    blank lines and the comments ``build`` writes before each, no private key in any
    encoding); :data:`PRIVATE` for anything else copied off a unit (``/conf9.json`` holds
    its Wi-Fi password, a comment may hold a token), so a file whose content is not known
    to be public is never left readable by others."""
    import base64  # deferred: only fs cat -o
    import binascii  # deferred: only fs cat -o
    import hashlib  # deferred: only fs cat -o

    data = bytes(data)
    blocks = list(_PEM_BLOCK().finditer(data))
    if not blocks or any(m.group(1) not in _PUBLIC_BLOCKS for m in blocks):
        return PRIVATE

    def header(m: re.Match[bytes]) -> bytes:
        """A build header kept only when its SHA-256 is the certificate's below it."""
        try:
            der = base64.b64decode(b"".join(m.group(3).split()), validate=True)
        except (binascii.Error, ValueError):
            return m.group(0)
        return m.group(2) if hashlib.sha256(der).hexdigest().encode() == m.group(1) else m.group(0)

    rest = _PEM_BLOCK().sub(b"", _BUILD_HEADER().sub(header, data))
    if not all(_BLANK_LINE().fullmatch(line) for line in rest.split(b"\n")):
        return PRIVATE
    from .keyscan import find_private_key  # deferred: only a file found to be certificates

    return PRIVATE if find_private_key(data) is not None else PUBLIC
