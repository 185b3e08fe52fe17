"""What a virtual unit holds when it is started for a board or from a dump.

For a board: its partition table, and in each of its file-system partitions a file
system made with the board's profile, as its firmware would have left it: the CA file
the fleets that went dark shipped with (DST Root CA X3 alone, expired since 2021) and
the board's settings files, so a rehearsal ``flash`` shows the roots it changes and
keeps the other files. Everything else is erased (no firmware runs on a virtual unit).
A unit in the field (``virtual-unit --rpc``) holds that file system alone.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..boards import Board
from ..catalog import Catalog
from ..errors import InputError, PartitionTableError
from ..flash.dump_size import appended_message, size_message
from ..fs.edit import pack_image
from ..partitions import read_partition_table
from ..spelling import PYTHON, Spelling
from .chips import CHIPS, JEDEC_CAPACITY

__all__ = ["UnitImage", "board_fs_image", "board_image", "dump_image"]

# The CA file a unit starts with: the root mDash and Let's Encrypt fleets relied on.
SHIPPED_ROOTS = ("dst-root-ca-x3",)


@dataclass(frozen=True, slots=True)
class UnitImage:
    """A virtual unit's chip, and its flash content (as long as the flash)."""

    chip: str
    flash: bytes

    @property
    def flash_size(self) -> int:
        return len(self.flash)


def board_image(board: Board, *, chip: str | None = None, spelling: Spelling = PYTHON) -> UnitImage:
    """A unit of ``board`` as it left the factory (see the module). InputError for a
    board without a partition layout or a file system, or a chip or flash size the
    virtual unit cannot be; its hints name the options as ``spelling`` does."""

    board.file_system(spelling)  # InputError for a board without one
    if board.layout is None:
        raise InputError(
            f"board {board.name} names no partition layout to lay out a unit with",
            hint=f"start the unit from a dump of a real one: {spelling.dump}",
        )
    size = _flash_size(board.flash_size, board.name)
    flash = bytearray(b"\xff" * size)
    table = board.layout.to_binary()
    flash[board.table_offset : board.table_offset + len(table)] = table
    for p in board.fs_partitions(board.layout, spelling):
        flash[p.offset : p.end] = board_fs_image(board, p.size, spelling=spelling)
    return UnitImage(_chip(chip or board.chips[0]), bytes(flash))


def board_fs_image(
    board: Board,
    size: int | None = None,
    *,
    ca: bytes | None = None,
    spelling: Spelling = PYTHON,
) -> bytes:
    """The file system a unit of ``board`` leaves the factory with (see the module),
    ``size`` bytes (default: its first file-system partition's), holding ``ca`` as its
    CA file instead of the shipped one when given; hints as ``spelling`` says."""
    fs = board.file_system(spelling)
    if size is None:
        parts = board.fs_partitions(board.layout, spelling) if board.layout is not None else ()
        if not parts:
            raise InputError(f"board {board.name} names no file-system partition to size one by")
        size = parts[0].size
    if ca is None:
        catalog = Catalog.load()
        ca = "".join(catalog.certificate(catalog.resolve(a)).pem() for a in SHIPPED_ROOTS).encode()
    files = [(fs.ca_path, ca)]
    files += [(path, _settings(board.name, path)) for path in fs.config_files]
    return pack_image(
        fs.fs_type, fs.profile, size, files, platform=fs.platform, spelling=spelling
    ).data


def dump_image(
    data: bytes, *, chip: str = "esp32", name: str = "dump", spelling: Spelling = PYTHON
) -> UnitImage:
    """A unit holding a whole-flash dump (``esptool read-flash 0 ALL``), the rest of
    its flash erased. InputError for what no unit could hold: an empty file, one larger
    than any flash or of a length no flash has, or bytes without a valid partition
    table listing only partitions inside them (the checks ``update-dump`` makes:
    ``inspect`` and ``update-dump`` would refuse the file, and ``flash`` would find no
    table on the unit); hints as ``spelling`` says."""
    if not data:
        raise InputError("empty file, not a flash dump", path=name)
    sizes = sorted(JEDEC_CAPACITY)
    fits = [s for s in sizes if s >= len(data)]
    if not fits:
        raise InputError(
            f"{len(data):#x} bytes: larger than the largest flash a virtual unit has "
            f"({sizes[-1] >> 20} MB)",
            path=name,
        )
    try:
        table = read_partition_table(data)
    except PartitionTableError as e:
        raise InputError(
            f"not a whole-flash dump: {e.reason}; no unit started",
            path=name,
            hint=f"start it from a whole-flash dump ({spelling.read_all}, or esptool "
            f"read-flash 0 ALL dump.bin), or lay it out for a board: {spelling.lay_out}",
        ) from e
    odd = size_message(len(data), spelling) or appended_message(data, table.offset, spelling)
    if odd is not None:  # bytes added or lost, or two dumps: not what a unit's flash held
        raise InputError(f"{odd[0]}; no unit started", path=name, hint=odd[1])
    return UnitImage(_chip(chip), data + b"\xff" * (fits[0] - len(data)))


def _settings(board: str, path: str) -> bytes:
    """A settings file a unit of ``board`` keeps beside its CA (a stand-in: Wi-Fi
    credentials and device keys are what a real one holds), in its firmware's form:
    mDash's ``mdash.cfg`` holds ``name value`` lines, Mongoose OS's ``conf9.json`` JSON."""
    if path.endswith(".cfg"):
        return (
            f"device.id virtual-{board}\nwifi.sta.ssid bench\nwifi.sta.pass not-a-secret\n"
        ).encode()
    return (
        f'{{"device": {{"id": "virtual-{board}"}}, "wifi": {{"ssid": "bench", '
        f'"pass": "not-a-secret"}}, "file": "{path}"}}\n'
    ).encode()


def _flash_size(size: int, board: str) -> int:
    if size not in JEDEC_CAPACITY:
        sizes = ", ".join(f"{s >> 20} MB" for s in sorted(JEDEC_CAPACITY))
        raise InputError(f"board {board}: a virtual unit has {sizes} of flash, not {size:#x}")
    return size


def _chip(name: str) -> str:
    key = name.lower().replace("-", "")
    if key not in CHIPS:
        raise InputError(
            f"a virtual unit cannot be a chip {name!r}", hint="chips: " + ", ".join(sorted(CHIPS))
        )
    return key
