"""Boards and the firmware versions they run: a board's ``firmware:`` section, a name
with ``@VERSION``, and which shipped board runs a given version.

Kept apart from :mod:`boards` (file systems, partitions, outputs): the firmware side of a
board answers "what does this unit trust", the rest "where does the CA go".
"""

from __future__ import annotations

from dataclasses import replace
from types import MappingProxyType
from typing import Any

from .boards import Board, BoardFirmware, BoardOutput, board_names, load_board_file
from .config import Node
from .errors import InputError
from .firmware import ca_set_info, load_firmware, parse_version, version_ranges

__all__ = ["board_running", "firmware_dict", "parse_board_firmware", "with_version"]


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


def with_version(board: Board, version: str | None) -> Board:
    """The board running ``version`` of its firmware (None: the board's default version);
    the release may change the output (an ESP-IDF version picks the bundle layout)."""
    bf = board.firmware
    if bf is None:
        if version is not None:
            raise InputError(
                f"board {board.name} has no firmware versions",
                hint="'esp-cabundle boards' lists the versions of the boards that have them",
            )
        return board
    firmware = load_firmware(bf.name)
    chosen = version or bf.default
    v = parse_version(chosen)
    if not any(lo <= v <= hi for lo, hi in version_ranges(bf.versions)):
        other = board_running(bf.name, v)
        hint = f"use --board {other}@{chosen}" if other else f"this board covers {bf.versions}"
        raise InputError(f"board {board.name} does not run {firmware.title} {chosen}", hint=hint)
    release = firmware.release(chosen)
    output = board.output
    if release.output:
        # "{version}" stands for the version the user named (ESP-IDF's idf_version).
        chosen_text = chosen.removeprefix("v")
        options = {
            **output.options,
            **{
                k: v.replace("{version}", chosen_text) if isinstance(v, str) else v
                for k, v in release.output.items()
            },
        }
        output = BoardOutput(output.form, output.path, MappingProxyType(options))
    return replace(
        board, version=chosen, version_given=version is not None, release=release, output=output
    )


def board_running(firmware: str, version: tuple[int, ...]) -> str | None:
    """The shipped board that runs ``version`` of ``firmware``, if one does."""
    for name in board_names():
        fw = load_board_file(name, name).firmware
        if (
            fw is not None
            and fw.name == firmware
            and any(lo <= version <= hi for lo, hi in version_ranges(fw.versions))
        ):
            return name
    return None


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
