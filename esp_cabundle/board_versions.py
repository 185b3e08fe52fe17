"""Boards and the firmware versions they run: a board's ``firmware:`` section, what a
release changes in its output, and the firmware facts ``boards --json`` shows.

Kept apart from :mod:`boards` (file systems, partitions, outputs): the firmware side of a
board answers "what does this unit trust", the rest "where does the CA go". This module
knows boards only by type; :func:`esp_cabundle.boards.load_board` applies a version.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from .errors import InputError
from .firmware import Release, ca_set_info, load_firmware, parse_version, version_ranges
from .yamlnodes import Node

if TYPE_CHECKING:
    from .board_model import Board, BoardOutput

__all__ = ["BoardFirmware", "firmware_dict", "parse_board_firmware", "release_output"]


@dataclass(frozen=True, slots=True)
class BoardFirmware:
    """The firmware a board runs (``data/firmware/<name>.yaml``), the versions of it the
    board describes, and the version an unversioned board name means."""

    name: str
    versions: str
    default: str


def parse_board_firmware(node: Node) -> BoardFirmware:
    m = node.as_mapping(("name", "versions", "default"))
    for key in ("name", "versions", "default"):
        if key not in m:
            raise node.error(f"missing '{key}'")
    try:
        fw = load_firmware(m["name"].as_str())
        ranges = version_ranges(m["versions"].as_str())
        default = parse_version(m["default"].as_str())
    except InputError as e:
        raise node.error(e.message, hint=e.hint) from e
    if not any(lo <= default <= hi for lo, hi in ranges):
        raise m["default"].error(f"{m['default'].as_str()} is not among the board's versions")
    for lo, hi in ranges:
        for v in (lo, hi):
            if not any(r.matches(v) for r in fw.releases):
                text = ".".join(map(str, v))
                raise m["versions"].error(f"{fw.title} {text} is not a known release")
    return BoardFirmware(fw.name, m["versions"].as_str(), m["default"].as_str())


def release_output(output: BoardOutput, release: Release, version: str) -> BoardOutput:
    """The output of a board running ``release`` (named ``version``): a release may set
    output options (an ESP-IDF release picks its bundle layout)."""
    if not release.output:
        return output
    # "{version}" stands for the version the user named (ESP-IDF's idf_version).
    text = version.removeprefix("v")
    options = {
        **output.options,
        **{
            k: v.replace("{version}", text) if isinstance(v, str) else v
            for k, v in release.output.items()
        },
    }
    return replace(output, options=options)  # BoardOutput freezes it


def firmware_dict(board: Board) -> dict[str, Any]:
    """The board's firmware, version and connections, for ``boards --json``."""
    fw, release = board.firmware, board.release
    if fw is None or release is None:
        return {"version": None, "firmware": None, "connections": []}
    return {
        "version": board.version,
        "firmware": {
            "name": fw.name,
            "versions": fw.versions,
            "default": fw.default,
            "release": release.version,
            "release_date": release.date.date().isoformat() if release.date else None,
            "release_source": release.source,
        },
        "connections": [
            {
                "name": c.name,
                "host": c.host,
                "server": c.server,
                "trusts": ca.kind,
                "path": ca.path,
                "ca_set": ca.ca_set,
                "ca": ca_set_info(ca.ca_set).title,
                "sets_hostname": ca.hostname,
                "how": ca.how,
            }
            for c, ca in board.connection_cas()
        ],
    }
