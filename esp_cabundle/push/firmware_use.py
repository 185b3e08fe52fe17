"""Whether a unit's firmware reads the CA file pushed to it.

The same board name covers firmware releases that treat the file differently: mDash
1.2.13 verifies mdash.net with ``/spiffs/ca.pem``, mDash 1.2.16 never opens it and
trusts the ISRG Root X1 compiled in (``data/firmware/mdash.yaml``). A unit reports its
release in ``Sys.GetInfo``; the board's firmware data says what that release trusts. A
unit whose firmware does not read the file is not protected by pushing it.

Where each firmware says its release:

- mDash (cesanta/mDash ``src/mDash.c`` ``rpc_get_info``): ``fw_version`` is
  ``MDASH_VERSION "-" MDASH_FRAMEWORK`` (``src/mDash.h``: ``a-ARDUINO-ARDUINO_BOARD`` on
  Arduino, ``idf`` otherwise), e.g. ``1.2.16-a-10819-ESP32_DEV`` or ``1.2.15-idf``;
- Mongoose OS (``rpc-common`` ``Sys.GetInfo``): ``fw_version`` is the application's own
  version; ``mg_version`` is the OS's (a release number, or a build stamp such as
  ``202312302350`` for builds from a branch, which names no release).

Which firmware a unit runs shows in the same answer: only Mongoose OS reports
``mg_version`` (and ``fs_size``/``fs_free``, ``rpc-common`` ``mgos_rpc.c``); mDash's
``rpc_get_info`` reports neither, and its ``fw_version`` is ``1.2.14-a-10819-ESP32_DEV``.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable
from typing import TYPE_CHECKING

from ..boards import board_running, load_board_file
from ..errors import InputError
from ..firmware import ca_set_info, load_firmware, parse_version
from ..spelling import PYTHON, Spelling

if TYPE_CHECKING:
    from ..boards import Board
    from .files import UnitInfo

__all__ = ["firmware_release", "not_read_by", "reported_firmware", "wrong_board"]

# The Sys.GetInfo field naming the firmware release, per firmware data name.
_VERSION_FIELD = {"mdash": "fw_version", "mongoose-os": "mg_version"}
# mDash's fw_version: MDASH_VERSION "-" MDASH_FRAMEWORK (src/mDash.c, src/mDash.h), e.g.
# 1.2.14-a-10819-ESP32_DEV, 1.2.15-idf (older stand-ins said 1.2.14-Arduino).
_MDASH_FW_VERSION = re.compile(r"^(\d{1,4}\.\d{1,4}\.\d{1,4})-[A-Za-z]")
_LEADING_VERSION = re.compile(r"^v?(\d{1,4}\.\d{1,4}(?:\.\d{1,4})?)(?:$|[-+ ])")


def firmware_release(board: Board, info: UnitInfo) -> str | None:
    """The release of the board's firmware the unit reports (``1.2.16``), or None when
    it reports none this board's firmware data can place."""
    if board.firmware is None:
        return None
    field = _VERSION_FIELD.get(board.firmware.name)
    text = info.mg_version if field == "mg_version" else info.fw_version if field else None
    m = _LEADING_VERSION.match(text.strip()) if text else None
    return m.group(1) if m else None


def not_read_by(board: Board, info: UnitInfo) -> str | None:
    """Why a unit of ``board`` reporting ``info`` does not use the CA file the board
    keeps (None: it reads it, or its release is unknown and it is taken to)."""
    fs = board.filesystem
    version = firmware_release(board, info)
    if board.firmware is None or fs is None or version is None:
        return None
    firmware = load_firmware(board.firmware.name)
    try:
        release = firmware.release(version)
    except InputError:
        return None  # a release the data does not list: no claim either way
    if any(ca.reads(fs.ca_path) for ca in release.trusts.values()):
        return None
    parts = []
    for conn, ca in release.trusts.items():
        title = ca_set_info(ca.ca_set).title
        trusts = (
            f"its built-in {title}"
            if ca.kind == "builtin"
            else f"{ca.path}"
            if ca.kind == "file"
            else f"its certificate bundle ({title})"
        )
        parts.append(f"{conn}: {trusts}")
    name = next((ca.path for ca in release.trusts.values() if ca.path), fs.ca_path)
    return (
        f"{firmware.title} {version} does not read {name} ({'; '.join(parts)}): the "
        "file pushed does not protect this unit; update its firmware instead"
    )


def reported_firmware(info: UnitInfo) -> tuple[str, str | None] | None:
    """The firmware a unit's ``Sys.GetInfo`` shows it runs: its firmware data name and
    release (``("mongoose-os", "2.20.0")``), or None when the answer does not tell.
    Only a clear sign counts: ``mg_version`` (Mongoose OS alone reports it), or an mDash
    ``fw_version`` from a unit that reports no Mongoose OS field."""
    if info.mg_version is not None:
        m = _LEADING_VERSION.match(info.mg_version.strip())
        return "mongoose-os", m.group(1) if m else None
    if info.fs_size is None and info.fs_free is None and info.fw_version is not None:
        m = _MDASH_FW_VERSION.match(info.fw_version.strip())
        if m:
            return "mdash", m.group(1)
    return None


def wrong_board(
    board: Board,
    info: UnitInfo,
    *,
    spelling: Spelling = PYTHON,
    again: Callable[[str], str | None] | None = None,
) -> tuple[str, str] | None:
    """Why a unit reporting ``info`` does not run ``board``'s firmware, and the hint
    (the board that runs what it reports), or None: it does, or it does not say. A CA
    judged under another firmware's rules and servers, written where that firmware
    keeps it, says nothing of what this unit trusts. ``again``: given that board, what
    updates this unit alone with it (a push's command line), else None."""
    reported = reported_firmware(info)
    if board.firmware is None or reported is None or reported[0] == board.firmware.name:
        return None
    name, version = reported
    runs = load_firmware(name).title + (f" {version}" if version else "")
    mine = load_firmware(board.firmware.name).title
    right = None
    if version is not None:
        with contextlib.suppress(InputError):
            right = board_running(name, parse_version(version))
    why = (
        f"the unit reports {runs} firmware, not the {mine} that board {board.name} runs: "
        f"the CA was judged for {mine}'s connections and file; not written"
    )
    if right is not None and load_board_file(right, right).filesystem is None:
        # Its CA is compiled in (mDash 1.2.16): a push with that board is refused, and
        # no file protects the unit; only new firmware does.
        return why, (
            f"{right} is the board that runs {runs}, whose CA is compiled in: no CA file "
            f"on the unit to push; ship new firmware built with {spelling.compiled} output"
        )
    line = again(right) if again is not None and right is not None else None
    if line is not None:  # a push covers many units: a line for this one, runnable
        return why, f"{right} is the board that runs {runs}; push this unit with it: {line}"
    hint = (
        f"{spelling.board_again_for(right)} for this unit (the board that runs {runs})"
        if right is not None
        else f"push to this unit with the {spelling.board} of the {runs} it runs"
    )
    return why, hint
