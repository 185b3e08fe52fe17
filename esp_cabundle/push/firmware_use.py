"""Whether a unit's firmware reads the CA file pushed to it.

The same board name covers firmware releases that treat the file differently: mDash
1.2.13 verifies mdash.net with ``/spiffs/ca.pem``, mDash 1.2.16 never opens it and
trusts the ISRG Root X1 compiled in (``data/firmware/mdash.yaml``). A unit reports its
release in ``Sys.GetInfo``; the board's firmware data says what that release trusts. A
unit whose firmware does not read the file is not protected by pushing it.

Where each firmware says its release:

- mDash (cesanta/mDash ``src/mDash.c`` ``rpc_get_info``): ``fw_version`` is
  ``MDASH_VERSION "-" framework``, e.g. ``1.2.16-Arduino``;
- Mongoose OS (``rpc-common`` ``Sys.GetInfo``): ``fw_version`` is the application's own
  version; ``mg_version`` is the OS's (a release number, or a build stamp such as
  ``202312302350`` for builds from a branch, which names no release).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from ..errors import InputError
from ..firmware import ca_set_info, load_firmware

if TYPE_CHECKING:
    from ..boards import Board
    from .files import UnitInfo

__all__ = ["firmware_release", "not_read_by"]

# The Sys.GetInfo field naming the firmware release, per firmware data name.
_VERSION_FIELD = {"mdash": "fw_version", "mongoose-os": "mg_version"}
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
