"""``inspect`` for file-system images: every file, and the certificates of each CA file.

Listed in :data:`esp_cabundle.inspect.INSPECTORS`. Claims only bytes that start
with a LittleFS or SPIFFS image (a whole flash dump starts with the bootloader, and is
left to the dump inspector); an image that is recognised but broken is an ImageError,
not a fall-through to "no certificate found".
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..errors import CertificateError, ImageError, PrivateKeyError
from ..findings import Report, certificate_file_report
from ..spelling import PYTHON, Spelling
from ..text import printable_name
from . import detect_fs_type, open_image
from .spiffs_probe import size_hint

if TYPE_CHECKING:
    from ..board_model import Board
    from .base import FileSystemImage

__all__ = ["inspect_image"]

CERT_SUFFIXES = (".pem", ".crt", ".cer", ".der", ".ca", ".ca-bundle")
# A partition table at 0x8000 means a flash dump, even if a probe matched by chance.
_PARTITION_TABLE = (0x8000, b"\xaa\x50")


def _is_flash_dump(data: bytes) -> bool:
    at, magic = _PARTITION_TABLE
    return len(data) > at + 2 and data[at : at + 2] == magic


def inspect_image(
    data: bytes, source: str, spelling: Spelling = PYTHON, *, board: Board | None = None
) -> Report | None:
    """A Report listing the image's files, with one child per file holding
    certificates; None when ``data`` is not a file-system image. ``board``: the board
    named for the unit, whose file system's profile reads the image (its detection said
    so); one that does not mount it is said in a note, and the bytes' own profile used.
    An image that is broken is an ImageError naming ``source``: inspect takes several
    inputs, and the file-system layer knows none of their names."""
    fs_type = detect_fs_type(data)
    cut = fs_type is None and size_hint(data) is not None  # a SPIFFS partition cut short
    if (fs_type is None and not cut) or (fs_type != "littlefs" and _is_flash_dump(data)):
        return None
    try:
        if fs_type is None:  # open_image's error and hint, as fs ls says them, not "binary data"
            open_image(data)
            return None  # not reached: bytes no file system claims never open
        return _image_report(data, source, fs_type, board)
    except ImageError as e:
        if e.path is not None or type(e) is not ImageError:
            raise
        raise ImageError(e.reason, path=source, hint=e.worded or e.hint) from e


def _image_report(data: bytes, source: str, fs_type: str, board: Board | None) -> Report:
    notes: list[str] = []
    image = None
    said: str | None = None  # the detection fact, when the board's profile read it
    fs = board.filesystem if board is not None else None
    if board is not None and fs is not None and fs.fs_type == fs_type:
        try:
            image = open_image(data, fs_type=fs_type, profile=fs.profile)
            said = f"profile {fs.profile} (board {board.name}'s)"
        except ImageError as e:
            notes.append(
                f"does not mount with profile {fs.profile} (board {board.name}'s): "
                f"{e.message}; read as its bytes say"
            )
    image = image or open_image(data, fs_type=fs_type)
    with image:  # every file is read below; its mount is not kept after
        return _report_of(image, data, source, fs_type, said, notes)


def _report_of(
    image: FileSystemImage,
    data: bytes,
    source: str,
    fs_type: str,
    said: str | None,
    notes: list[str],
) -> Report:
    files = image.files()
    facts = [
        (k, said if k == "detection" and said else v) for k, v in image.describe(files).items()
    ]
    facts.append(("image size", image.size))
    children: list[Report] = []
    for f in files:
        facts.append((f"file {f.path}", f.size))
        name = printable_name(f.path)  # notes are text: a backslash shown doubled
        content = image.read(f.path)
        named_cert = f.path.lower().endswith(CERT_SUFFIXES)
        if not content:
            if named_cert:
                notes.append(f"{name} is empty")
            continue
        try:
            children.append(certificate_file_report(content, f"{source}:{f.path}"))
        except PrivateKeyError:
            notes.append(f"{name} holds a private key (not shown)")
        except CertificateError as e:
            if named_cert:
                notes.append(f"{name}: no certificate could be read ({e.message})")
    if not children:
        notes.append("no file in the image holds certificates")
    return Report(
        source=source,
        kind=f"{fs_type} image",
        notes=tuple(notes),
        facts=tuple(facts),
        children=tuple(children),
        words=(("profile", image.profile_words()),),  # as fs ls says it
    )
