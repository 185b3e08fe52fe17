"""The board profile's data model: the values a profile may hold and the validated
profile itself.

Apart from :mod:`.boards`, which reads and validates the YAML, so the types carry no
parsing and the parser is not buried under them.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Literal

from .arguments import fspath_or, require_type
from .board_versions import BoardFirmware, firmware_dict
from .errors import ArgumentTypeError, InputError, PartitionTableError
from .firmware import load_firmware
from .frozen_map import FrozenMap
from .partitions import Partition, PartitionTable
from .spelling import PYTHON, Spelling
from .text import suggest
from .verify import DeviceProfile, mbedtls_version_for

if TYPE_CHECKING:
    from .firmware import Connection, ConnectionCa, Release

__all__ = [
    "CHIPS",
    "CLOCK_MODES",
    "FLASH_SIZES",
    "FS_PROFILE_NAMES",
    "OUTPUT_FORMS",
    "VERIFY_RULES",
    "Board",
    "BoardOutput",
    "FsTarget",
    "VerifyProfile",
    "check_board",
]

# The flash sizes esptool knows (--flash-size: 256KB ... 128MB).
FLASH_SIZES = frozenset(1 << n for n in range(18, 28))
CHIPS = ("esp32", "esp32s2", "esp32s3", "esp32c2", "esp32c3", "esp32c5", "esp32c6", "esp32h2")
VERIFY_RULES = ("mbedtls", "idf-bundle", "idf-bundle-cross-signed")
CLOCK_MODES = ("none", "synced", "unset")
OUTPUT_FORMS = ("filesystem", "c", "idf-bundle")
# Profile names of fs/spiffs.py SPIFFS_PROFILES and fs/littlefs.py LITTLEFS_PROFILES,
# listed here so loading a board never imports littlefs (tests keep them in sync).
FS_PROFILE_NAMES: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        "spiffs": ("esp-idf", "arduino", "platformio", "mongoose-os"),
        "littlefs": ("esp-idf", "arduino", "platformio", "mongoose-os"),
    }
)
_OUTPUT_FORMAT = {"filesystem": "pem", "c": "c", "idf-bundle": "idf-bundle"}


@dataclass(frozen=True, slots=True)
class FsTarget:
    """The file-system partition(s) holding the CA file.

    ``partitions`` names them (each must exist; all are updated); without names, the
    data partitions of one of ``subtypes`` are taken (``pick``: all, first or last, as
    the firmware mounts them). ``platform`` (LittleFS) names the platform version the
    units run (``arduino-2.0.17``): an image it cannot mount is refused.
    """

    fs_type: str
    profile: str
    ca_path: str
    partitions: tuple[str, ...] = ()
    subtypes: tuple[str, ...] = ()
    pick: Literal["all", "first", "last"] = "all"
    config_files: tuple[str, ...] = ()
    platform: str | None = None

    def select(self, table: PartitionTable, spelling: Spelling = PYTHON) -> tuple[Partition, ...]:
        """The partitions of ``table`` this target updates; PartitionTableError if absent
        (its hint names the board as ``spelling`` does)."""
        names = ", ".join(f"'{p.name}'" for p in table) or "none"
        if self.partitions:
            found = []
            for name in self.partitions:
                p = table.by_name(name)
                if p is None:
                    raise PartitionTableError(
                        f"the partition table has no partition '{name}' (it has {names})",
                        hint=suggest(
                            name,
                            (q.name for q in table),
                            f"is this the right {spelling.board}? the firmware mounts its "
                            f"file system from '{name}'",
                        ),
                    )
                if not p.is_data:
                    raise PartitionTableError(
                        f"partition {p.describe()} is not a data partition; no file system "
                        "lives there"
                    )
                found.append(p)
            return tuple(found)
        matches = self.candidates(table)
        if not matches:
            raise PartitionTableError(
                f"the partition table has no data partition of subtype "
                f"{' or '.join(self.subtypes)} (it has {names})",
                hint=f"is this the right {spelling.board}?",
            )
        if self.pick == "first":
            return matches[:1]
        if self.pick == "last":
            return matches[-1:]
        return matches

    def candidates(self, table: PartitionTable) -> tuple[Partition, ...]:
        """The data partitions of ``table`` of one of ``subtypes``, in table order."""
        return tuple(
            p for p in table if p.is_data and any(p.subtype_name == s for s in self.subtypes)
        )


@dataclass(frozen=True, slots=True)
class BoardOutput:
    """What a firmware build consumes: a file in the file system, C source, or a bundle."""

    form: Literal["filesystem", "c", "idf-bundle"]
    path: str | None = None
    options: Mapping[str, str | int | bool] = field(default_factory=FrozenMap)

    def __post_init__(self) -> None:
        # A frozen copy: immutable, yet it pickles and hashes (a Board crosses processes).
        object.__setattr__(self, "options", FrozenMap(self.options))

    @property
    def format(self) -> str:
        """The FORMATS name that renders it (``pem`` for a file-system CA file)."""
        return _OUTPUT_FORMAT[self.form]


@dataclass(frozen=True, slots=True)
class VerifyProfile:
    """How the device decides: mbedTLS CA list or ESP-IDF bundle callback; its clock; its
    mbedTLS line (``mbedtls: 3.6`` or a platform version such as ``idf-5.4``); whether
    its firmware sets the server's hostname; what it does with a partly parsed CA file
    (``ca_parse: fatal`` for Mongoose-based firmware, ``skip`` for esp-tls/Arduino)."""

    rules: Literal["mbedtls", "idf-bundle", "idf-bundle-cross-signed"]
    clock: Literal["none", "synced", "unset"]
    mbedtls: Literal["2.28", "3.6"] | None = None  # None: the rules' own line
    hostname: bool = True
    ca_parse: Literal["skip", "fatal"] = "skip"

    @property
    def line(self) -> Literal["2.28", "3.6"]:
        """The mbedTLS line: as stated, else ESP-IDF 6.0's for its cross-signed bundle
        (mbedTLS 4, modelled with 3.6's rules) and 2.28 for the rest."""
        if self.mbedtls is not None:
            return self.mbedtls
        return "3.6" if self.rules == "idf-bundle-cross-signed" else "2.28"

    def device_profile(self, name: str, description: str = "") -> DeviceProfile:
        """These rules alone as a profile named ``name``; a board's own profile, with
        what its firmware version changes, is :meth:`Board.device_profile`."""
        return DeviceProfile(
            self.rules, self.clock, name, description, self.line, self.hostname, self.ca_parse
        )

    def to_dict(self) -> dict[str, object]:
        out: dict[str, object] = {"rules": self.rules, "clock": self.clock}
        if self.mbedtls is not None:
            out["mbedtls"] = self.mbedtls
        if not self.hostname:
            out["hostname"] = False
        if self.ca_parse != "skip":
            out["ca_parse"] = self.ca_parse
        return out


@dataclass(frozen=True, slots=True)
class Board:
    """A validated board profile; ``version`` and ``release`` are set when the board
    names its firmware (``mdash-arduino@1.2.13``, or the default version)."""

    name: str
    description: str
    framework: str
    chips: tuple[str, ...]
    flash_size: int
    table_offset: int
    output: BoardOutput
    verify: VerifyProfile
    filesystem: FsTarget | None = None
    layout: PartitionTable | None = None
    notes: tuple[str, ...] = ()
    source: str = ""
    firmware: BoardFirmware | None = None
    version: str | None = None
    version_given: bool = False
    release: Release | None = None
    # the partitions CSV ``layout: NAME`` read (its path), "" for a layout written inline
    layout_file: str = ""

    @property
    def full_name(self) -> str:
        """``mdash-arduino@1.2.13`` (the version in use), or the bare name."""
        return f"{self.name}@{self.version}" if self.version else self.name

    @property
    def files(self) -> tuple[str, ...]:
        """The files this profile was read from: its board file (none for one made in
        code) and the partitions CSV its layout names; what is built from it depends on
        each (a build's dependency file lists them)."""
        return tuple(str(path) for _, path in self.read_files())

    def read_files(self) -> list[tuple[str, Path]]:
        """:attr:`files` as :func:`~esp_cabundle.clobber.refuse_clobbering` takes inputs:
        no output may replace the board file or the partitions CSV its layout names."""
        named = [("board file", self.source), ("board's partitions CSV", self.layout_file)]
        return [(what, Path(f)) for what, f in named if f]

    def device_profile(self) -> DeviceProfile:
        """How this board's units verify a server (``verify_chain(..., profile)``): its
        rules and clock, with what its firmware version does: the mbedTLS line of an
        ESP-IDF release, and whether the client sets the server's name (mDash
        1.2.12-1.2.14 never do: ``+no-hostname``)."""
        profile = self.verify.device_profile(f"board {self.full_name}", self.description)
        firmware = self.firmware
        idf = firmware is not None and firmware.name == "esp-idf"
        if self.verify.mbedtls is None and idf and self.version:
            # An ESP-IDF release names its mbedTLS line (4.4: 2.28, 5.x: 3.x).
            profile = replace(profile, mbedtls=mbedtls_version_for(f"idf-{self.version}"))
        sets = {ca.hostname for _, ca in self.connection_cas() if ca.hostname is not None}
        if len(sets) == 1:  # every connection of this release agrees
            profile = replace(profile, sets_hostname=sets.pop())
        return profile

    def connection_cas(self) -> tuple[tuple[Connection, ConnectionCa], ...]:
        """Each connection of the board's firmware and what this version trusts for it."""
        if self.firmware is None or self.release is None:
            return ()
        fw = load_firmware(self.firmware.name)
        return tuple((c, self.release.trusts[c.name]) for c in fw.connections)

    def file_system(self, spelling: Spelling = PYTHON) -> FsTarget:
        """Where this board keeps its CA file; InputError for a board whose firmware
        holds its CA compiled in (there is no file on a unit to replace; the hint names
        the build and the boards as ``spelling`` does)."""
        if self.filesystem is None:
            raise InputError(
                f"board {self.name} keeps its CA in {self.output.form} form, not in a file "
                "system: there is no CA file on its units to replace",
                hint=f"ship new firmware built with {spelling.compiled} output instead, or "
                f"pick a board with a file system ({spelling.boards})",
            )
        return self.filesystem

    def fs_partitions(
        self, table: PartitionTable, spelling: Spelling = PYTHON
    ) -> tuple[Partition, ...]:
        """The partition(s) of ``table`` holding this board's CA file system.

        A board that picks one of several partitions by subtype (``pick: first`` or
        ``last``) is refused when the table holds another one its layout does not
        describe: that is a unit of another firmware (Mongoose OS keeps fs_0 and fs_1,
        both subtype spiffs), and updating only the one picked would leave the other
        holding the old CA. The hints name the board as ``spelling`` does.
        """
        fs = self.file_system(spelling)
        chosen = fs.select(table, spelling)
        if fs.partitions or fs.pick == "all":
            return chosen
        described = {p.name for p in self.layout} if self.layout is not None else set()
        found = fs.candidates(table)
        others = [p for p in found if p not in chosen and p.name not in described]
        if others:
            own = fs.select(self.layout) if self.layout is not None else ()
            layout = f" (its layout has {_names(own)})" if own else ""
            raise PartitionTableError(
                f"the partition table has {len(found)} file-system partitions "
                f"({_names(found)}); board {self.name} takes only the {fs.pick} of them"
                f"{layout}, so it would update '{chosen[0].name}' and leave {_names(others)} "
                "holding the old CA",
                hint=f"is this the right {spelling.board}? pick the board of the unit's "
                f"firmware ({spelling.boards}), or one that names every partition it mounts",
            )
        return chosen

    def to_dict(self) -> dict[str, Any]:
        fs = self.filesystem
        return {
            "name": self.name,
            "description": self.description,
            "framework": self.framework,
            "chips": list(self.chips),
            "flash_size": self.flash_size,
            "partition_table": {
                "offset": self.table_offset,
                "layout": [
                    {
                        "name": p.name,
                        "type": p.type_name,
                        "subtype": p.subtype_name,
                        "offset": p.offset,
                        "size": p.size,
                        "flags": list(p.flag_names),
                    }
                    for p in self.layout
                ]
                if self.layout
                else None,
            },
            "filesystem": {
                "type": fs.fs_type,
                "profile": fs.profile,
                "ca_path": fs.ca_path,
                "partitions": list(fs.partitions),
                "subtypes": list(fs.subtypes),
                "pick": fs.pick,
                "config_files": list(fs.config_files),
                "platform": fs.platform,
            }
            if fs
            else None,
            "output": {
                "form": self.output.form,
                "format": self.output.format,
                "path": self.output.path,
                "options": dict(self.output.options),
            },
            "verify": self.verify.to_dict(),
            "notes": list(self.notes),
            "source": self.source,
            **firmware_dict(self),
        }


def _names(parts: Sequence[Partition]) -> str:
    return ", ".join(f"'{p.name}'" for p in parts)


def check_board_name(value: object) -> None:
    """load_board's argument: a board's name or a profile file's path; bytes or None
    there were looked up as the board ``"b'mdash'"`` or ``'None'``."""
    if isinstance(value, bytes | bytearray):
        hint = f"give the name as str: load_board({bytes(value).decode(errors='replace')!r})"
    elif isinstance(value, Board):
        hint = f"board {value.name} is loaded already: give it as it is (board=board)"
    else:
        hint = "name one: load_board('mdash-arduino'); list_boards() gives them all"
    require_type(
        value,
        (str, os.PathLike),
        "load_board takes a board's name or a profile file's path (str or Path)",
        hint,
    )


def check_board(board: object, call: str) -> None:
    """``board``: None or a Board, for a library call's ``board=`` (``call`` names it): a
    name or a profile file's path is refused with the load to make first."""
    if board is None:
        return
    if isinstance(board, str | os.PathLike):
        raise ArgumentTypeError(
            f"{call}'s board= takes a Board, not {type(board).__name__} {fspath_or(board)!r}",
            hint=f"load it first: board=load_board({fspath_or(board)!r})",
        )
    require_type(board, Board, f"{call}'s board= takes a Board", "board=load_board(name)")
