"""``fs put``/``fs rm`` against the board and the CA path: a ``--board`` (or the config's
``board:``) whose file system the image is not is refused, naming the boards it is for
(``fs put fs.bin ca.pem --board mdash-arduino`` put a CA into a Mongoose OS LittleFS
image under an mDash SPIFFS board's rules, silently); and a CA file put under its own
name (``fs put fs.bin def.pem`` wrote ``/def.pem``, the firmware reads ``/ca.pem``) is
said, with the command that replaces the CA file instead."""

from __future__ import annotations

import os
from collections.abc import Callable, Collection
from pathlib import Path
from typing import TYPE_CHECKING

from ..board_fit import board_misfit, boards_for_image, foreign_mark
from ..boards import boards_dir
from ..errors import InputError
from ..file_kinds import shell_join
from ..text import printable
from ._usage import replaced_option, typed_words

if TYPE_CHECKING:
    from ..board_model import Board
    from ..fs import FileSystemImage

__all__ = ["board_warning", "misplaced_ca", "named_ca_warning", "pack_hint"]

_CERT_SUFFIXES = (".crt", ".cer", ".der")
# Where ESP-IDF and Arduino mount the partition (esp_vfs_spiffs_register's base_path,
# SPIFFS.begin()/LittleFS.begin()): in the firmware's paths, never in the image's.
_MOUNT_POINTS = ("spiffs", "littlefs")


def board_warning(image: FileSystemImage, board: Board | None, *, typed: bool) -> str | None:
    """Refuse ``board`` (InputError, exit 2) when the image is another file system than
    the board's firmware mounts, or a LittleFS on-disk version its ``platform:`` cannot
    mount: its CA path and verdict rules are for units that could not read this image.
    A board of the same file system made for another platform (as far as the bytes
    tell; some profiles cannot be told apart) is only warned about: the returned
    warning, None if the board fits. ``typed``: --board was given (else
    the config's ``board:``)."""
    if board is None:
        return None
    misfit = board_misfit(board, image)
    if misfit is None:
        _refuse_foreign_firmware(image, board, typed=typed)
        return None
    kind, said = misfit
    named = "" if typed else " (board: in cabundle.yaml)"
    said = said.replace(f"board {board.name}'s", f"board {board.name}{named}'s", 1)
    if kind == "platform":
        # littlefs cannot take 2.1 back to 2.0, and another board would not be the units'.
        raise InputError(
            f"{said} (a unit that formats on mount failure would erase it); nothing written",
            hint=f"{pack_hint(board)}, or name the platform version the units really run",
        )
    fitting = [b.name for b in boards_for_image(image)]
    if fitting:
        line = replaced_option(typed_words(), ["--board"], "--board", fitting[0])
        run = printable(f"esp-cabundle {shell_join(line)}")
        others = f" (or {', '.join(fitting[1:])})" if fitting[1:] else ""
        hint = f"name the board the image is for: {run}{others}"
    else:
        hint = "name the board the image is for (esp-cabundle boards lists them)"
    if kind == "fs":
        raise InputError(f"{said}; nothing written", hint=hint)
    return f"{said}: its CA path and rules may not be this image's; {hint}"


def pack_hint(board: Board) -> str:
    """For an image whose LittleFS on-disk version ``board``'s platform cannot mount
    (:func:`board_misfit`'s ``"platform"``): the 'pack' that makes one its units mount,
    naming the board (a board file by its path: pack finds no user's board by name) and
    the platform judged (a --platform typed here replaced the board's own: pack is told
    it too, or it would write for the board's)."""
    fs = board.filesystem
    words = ["pack", "--board", _board_word(board)]
    words += ["--platform", fs.platform] if fs is not None and fs.platform else []
    return (
        f"make a 2.0 image its units mount with "
        f"'{printable(f'esp-cabundle {shell_join(words)}')}' (it writes 2.0 for their platform)"
    )


def _board_word(board: Board) -> str:
    """``board`` as --board takes it back: a shipped board's name (with the version, if
    one was typed), a board file's path."""
    source = Path(board.source) if board.source else None
    if source is None or source.parent == boards_dir() or not os.path.isfile(source):
        return board.full_name if board.version_given else board.name
    name = str(source)
    return f"./{name}" if name.startswith("-") else name


def _refuse_foreign_firmware(image: FileSystemImage, board: Board, *, typed: bool) -> None:
    """Refuse (InputError) ``board`` for an image holding a file that marks another
    firmware (``/mdash.cfg`` under ``arduino-esp32-spiffs``): its CA rules are not the
    units' (a CA that cuts mDash units off mdash.net would pass); the hint is the line
    typed with the board the file marks, of the image's file system."""
    found = foreign_mark(board, (f.path for f in image.files()), fs_type=image.fs_type)
    if found is None:
        return
    path, keepers, names = found.path, found.keepers, found.names
    named = "" if typed else " (board: in cabundle.yaml)"
    if len(keepers) == 1:
        line = replaced_option(typed_words(), ["--board"], "--board", keepers[0].name)
        hint = f"name the board the image is for: {printable(f'esp-cabundle {shell_join(line)}')}"
    elif keepers:
        hint = f"name the board the image is for ({names})"
    else:  # none of the image's file system: a board named would refuse the image
        hint = printable(found.no_keeper())
    raise InputError(
        f"the image holds {printable(path)}, which only board {names}'s firmware keeps, "
        f"not board {board.name}{named}'s, whose CA rules are not its units' (a board file "
        f"made for that firmware lists {printable(path)} in its config_files); nothing written",
        hint=hint,
    )


def named_ca_warning(
    source: Path, data: bytes, target: str, ca_paths: set[str], *, command: str
) -> str | None:
    """For a certificate file put under its own name (DEST left out) where the firmware
    reads another: that units flashed with the image keep their old CA, and
    ``command`` (the same put with the CA path as DEST). None for any other file."""
    if target in ca_paths:
        return None
    if b"-----BEGIN CERTIFICATE-----" not in data[:0x4000] and (
        source.suffix.lower() not in _CERT_SUFFIXES
    ):
        return None
    ca = " or ".join(sorted(ca_paths))
    return (
        f"{printable(target)} is not the CA file: the firmware reads {ca}, so units "
        f"flashed with this image keep their old CA; to replace it: {command}"
    )


def misplaced_ca(
    target: str,
    ca_paths: set[str],
    held: Collection[str],
    *,
    ca_path: str,
    put_to: Callable[[str], str],
    known: bool,
) -> str | None:
    """For a DEST that is not the CA file but was likely meant as it: the warning naming
    the path the firmware reads (``ca_path``: the board's, else the profile's) and
    ``put_to(path)`` (the put that writes there), or None. ``fs put IMAGE def.pem
    /CA.pem`` wrote a new file, exit 0, and units kept their old /ca.pem. A DEST with a
    mount point before the CA path (``/spiffs/ca.pem``, the path the firmware opens, as
    README names mDash's file) is refused (InputError): the image's paths never carry
    it, in any case. ``held``: the image's paths (a folder ``/spiffs`` it already has, in
    the case typed, is a real one: neither refused nor warned of);
    ``known``: --board, --profile or the config's board: named the CA path (else a name
    alone is not judged)."""
    if target in ca_paths:
        return None
    ca = " or ".join(sorted(ca_paths))
    head, sep, rest = target[1:].partition("/")
    # The mount point in any case, the image's own folder only as typed: SPIFFS and
    # LittleFS names are case-sensitive, so /spiffs/ beside an image's /SPIFFS/ is new.
    folder = f"/{head}/"
    if sep and head.lower() in _MOUNT_POINTS and not any(p.startswith(folder) for p in held):
        inner = "/" + rest
        meant = next((p for p in sorted(ca_paths) if p.lower() == inner.lower()), None)
        if meant is not None:
            raise InputError(
                f"{printable(target)} is the path the firmware opens (the partition mounted "
                f"at /{head}); inside the image its CA file is {meant}, and "
                f"{printable(target)} would be a new file no unit reads; nothing written",
                hint=f"put it at {meant}: {put_to(meant)}",
            )
        return (
            f"{printable(target)} starts with /{head}/, where the firmware mounts the "
            f"partition: paths inside the image carry no mount point, so units would open "
            f"/{head}{printable(target)}; for the firmware's {printable(target)}: "
            f"{put_to(inner)}"
        )
    name = target.rsplit("/", 1)[-1].lower()
    ca_names = {p.rsplit("/", 1)[-1].lower() for p in ca_paths}
    if not known or not (name in ca_names or name.endswith((".pem", *_CERT_SUFFIXES))):
        return None
    return (
        f"{printable(target)} is not the CA file: the firmware reads {ca}; if it is meant "
        f"as the CA, units flashed with this image keep their old one; to replace it: "
        f"{put_to(ca_path)}"
    )
