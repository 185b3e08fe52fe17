"""Helpers of the commands that read and edit images (``pack``, ``fs``, ``update-dump``);
their options are in :mod:`.options`."""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import click

from ..errors import InputError, PartitionTableError
from ..file_kinds import shell_join
from ..fileio import shell_path
from ..fs import FS_TYPES, detect_fs_type, profiles_of
from ..fs.base import ERASE_BLOCK
from ..missing_hints import missing_ca_hint, names_source
from ..spelling import CLI_SPELLING
from ..text import byte_count, printable, printable_name
from ._missing import completed
from ._option_types import Name
from ._paths import says_text
from ._usage import example_line, replaced_option, split_option, typed_words, usage_error

if TYPE_CHECKING:
    from ..boards import Board
    from ..fs.base import FileInfo, FileSystemImage
    from ..fs.edit import ImageRegion
    from ..partition_entry import Partition


def fs_command(verb: str, *words: str | Path, options: str = "") -> str:
    """``esp-cabundle fs VERB WORDS...OPTIONS`` for a hint: every word (an image, a file,
    a path in the image) quoted as a shell reads it, so a name with a space or a ``$``
    can be copied back; ``options``: flags already safe for a shell."""
    return printable(f"esp-cabundle fs {verb} {shell_join(str(w) for w in words)}{options}")


def with_platform(board: Board, platform: str) -> Board:
    """``board`` with its LittleFS ``platform`` replaced; it must agree with the board."""
    fs = board.filesystem
    assert fs is not None
    if fs.fs_type != "littlefs":
        raise InputError(
            f"--platform applies to LittleFS; board {board.name} uses {fs.fs_type}",
            hint="omit --platform",
        )
    from ..fs.lfs_platforms import resolve_platform  # deferred: LittleFS only (see below)

    plat = resolve_platform(platform)
    if plat.profile != fs.profile:
        raise InputError(
            f"platform {plat.spec} uses the {plat.profile} LittleFS profile; board "
            f"{board.name} uses {fs.profile}",
            hint="pick the board of that platform (esp-cabundle boards)",
        )
    return replace(board, filesystem=replace(fs, platform=plat.spec))


def checked_platform(ctx: click.Context, value: str | None) -> str | None:
    """``--platform``'s value, or the refusal of a version never released (``arduino-2.017``
    was read as 2.17 and got on-disk 2.1, which the 2.0.x units meant cannot mount); its
    hint is the command line typed with the release meant (or the family alone) in place,
    so it runs when copied. Other problems are left to the command, which knows more."""
    if value is None:
        return None
    # deferred: LittleFS's platform table builds its rows on import; a SPIFFS pack and
    # every command without --platform never read it
    from ..fs.lfs_platforms import PlatformVersionError, resolve_platform

    try:
        resolve_platform(value, CLI_SPELLING)
    except PlatformVersionError as e:
        words = replaced_option(typed_words(ctx), ["--platform"], "--platform", e.meant or e.family)
        e.hint = e.advice + example_line(words)
        raise
    except InputError:
        return value
    return value


def refuse_fs_as_profile(ctx: click.Context, fs_type: str | None, profile: str | None) -> None:
    """``--profile spiffs``: a file system typed where its profile goes. The hint listed
    the other file system's profiles, not the fix; it is now the line typed with --fs
    set to that file system and --profile left out (and what else the command lacks),
    so it runs when copied."""
    if profile is None or profile not in FS_TYPES:
        return
    words = split_option(typed_words(ctx), ["--profile"], takes_value=True)[0]
    words = replaced_option(words, ["--fs"], "--fs", profile)
    kept = fs_type if fs_type is not None and fs_type != profile else None
    listed = ", ".join(profiles_of(kept or profile))
    raise usage_error(
        f"--profile {profile}: {profile} is a file system, not a profile",
        completed(ctx, words),
        why=f"or keep --fs {kept} with one of its profiles: {listed}"
        if kept
        else f"the {profile} profiles: {listed}",
    )


def refuse_fs_as_image_profile(profile: str | None) -> None:
    """``fs ls lfs.bin --profile spiffs``: a file system typed as the profile of an image
    that exists. The hint listed the image's file system's profiles; the fix is to leave
    --profile out, as the image says both, so the hint is the line typed without it."""
    if profile is None or profile not in FS_TYPES:
        return
    words, typed = split_option(typed_words(), ["--profile"], takes_value=True)
    if typed:  # else cabundle.yaml's, left to the profile check
        raise usage_error(
            f"--profile {profile}: {profile} is a file system, not a profile",
            words,
            why="the image's file system and profile are read from its bytes",
        )


def dump_partitions_hint(partitions: tuple[tuple[str, int, int], ...]) -> str:
    """For a whole-flash dump given as IMAGE: the line typed with --partition naming each
    file-system partition by its table name, one line for each (the lines gave --offset
    and --size, numbers copied from the table; a --size or --offset typed is left out,
    as --partition refuses them)."""
    words = typed_words()
    for flag in ("--offset", "--size"):
        words = split_option(words, [flag], takes_value=True)[0]
    lines = [
        shell_join(replaced_option(words, ["--partition"], "--partition", name))
        for name, _, _ in partitions
    ]
    return "e.g. esp-cabundle " + ", or esp-cabundle ".join(lines)


partition_option = click.option(
    "--partition",
    type=Name("partition"),
    metavar="NAME",
    help="A file-system partition of a whole-flash dump, by its table name (fs_0, "
    "spiffs): its offset and size come from the dump's partition table.",
)


def refuse_partition_with_offset(ctx: click.Context) -> None:
    """--partition names the offset and size itself: with --offset or --size too, one of
    them would be ignored; the line without --offset and --size is the hint."""
    typed = [
        f"--{n}" for n in ("offset", "size")
        if ctx.get_parameter_source(n) == click.core.ParameterSource.COMMANDLINE
    ]  # fmt: skip
    if typed:
        words = typed_words(ctx)
        for flag in typed:
            words = split_option(words, [flag], takes_value=True)[0]
        raise usage_error(
            f"--partition, {' and '.join(typed)}: each says where the file system is",
            words,
            why="--partition takes its offset and size from the dump's partition table",
        )


def named_partition(data: bytes, name: str, image: Path) -> Partition:
    """The file-system partition ``--partition NAME`` names in a whole-flash dump's own
    table (the fs commands took --offset and --size alone, copied from that table by
    hand). Refused: bytes with no table (an image is read whole), a name the table lacks
    (its names listed), and a partition of another kind than the file systems'."""
    from ..partitions import read_partition_table  # deferred: dumps only (as fs.edit)

    shown = shell_path(image)
    without = shell_join(split_option(typed_words(), ["--partition"], takes_value=True)[0])
    try:
        table = read_partition_table(data, check_size=False)
    except PartitionTableError:
        raise InputError(
            f"--partition {name}: {shown} has no partition table; --partition names a "
            "partition of a whole-flash dump",
            hint=f"an image is read whole: esp-cabundle {without}",
        ) from None
    found = table.by_name(name)
    # A partition whose entry runs past the dump's end is none to use (it cannot be read).
    fs_parts = [p for p in table if p.may_hold_fs]
    past = [p.name for p in fs_parts if p.offset + p.size > len(data)]
    listed = ", ".join(p.name for p in fs_parts if p.name not in past) or "none"
    if past:
        runs = "runs" if len(past) == 1 else "run"
        listed += f" inside {shown} ({', '.join(past)} {runs} past its end)"
    if found is None:
        names = ", ".join(p.name for p in table)
        raise InputError(
            f"--partition {name}: no partition named '{name}' in {shown}'s table (it has {names})",
            hint=f"its file-system partitions: {listed}",
        )
    if not found.may_hold_fs:
        raise InputError(
            f"--partition {name}: partition '{name}' is {found.type_name} "
            f"{found.subtype_name}, not a file system (data spiffs, littlefs or fat)",
            hint=f"the file-system partitions of {shown}'s table: {listed}",
        )
    if found.name in past:  # said in --partition's terms: no --offset or --size was typed
        raise InputError(
            f"--partition {name}: the table's entry for '{name}' "
            f"(0x{found.offset:X}+0x{found.size:X}) runs past the end of {shown} "
            f"({byte_count(len(data))}): the dump is cut short, or the table is wrong",
            hint="read the unit's whole flash again (esp-cabundle read --port PORT --all -o "
            f"full.bin); what {shown} holds: esp-cabundle inspect {shown}",
        )
    return found


def no_image_hint(image: Path) -> str:
    """Where an image comes from, for one that is not there (``fs ls nofile.bin`` said
    only "no such file-system image"), naming the file the user typed. A name that says
    a dump (``arduino-dump.bin``) is not one to pack an image into: reading the unit's
    whole flash makes it. Every command named runs as copied (a unit's PORT given)."""
    name = shell_path(image)
    says = says_text(image)
    if says:  # "pack -o my.pem" is refused: a CA file typed where IMAGE goes
        return (
            f"a {image.suffix} name says {says}, not an image: give the image first "
            "(make one with esp-cabundle pack --preset default --fs spiffs --profile esp-idf "
            "--size 1408K -o fs.bin, or save a unit's with esp-cabundle read --port PORT "
            f"--partition spiffs -o fs.bin; {_FS_PARTITION})"
        )
    if _DUMP_WORDS & set(re.split(r"[^a-z]+", image.stem.lower())):
        return (
            f"{save_flash_hint(image)}; "
            "its partition table then names the --offset and --size of its file system"
        )
    return (
        f"save a unit's file-system partition as it (esp-cabundle read --port PORT "
        f"--partition spiffs -o {name}; {_FS_PARTITION}), or make a new image "
        f"(esp-cabundle pack --preset default --fs spiffs --profile esp-idf --size 1408K -o {name})"
    )


def save_flash_hint(dump: Path) -> str:
    """The read that saves a unit's whole flash as ``dump``, for one that is not there
    (each caller says what then)."""
    read = f"esp-cabundle read --port PORT --all -o {shell_path(dump)}"
    return f"save a unit's whole flash as it ({read})"


def no_input_hint(path: Path) -> str:
    """Where a file to inspect comes from, for one that is not there ("no such image or
    CA file" said nothing more): a CA file's name, the build that writes it; any other,
    as :func:`no_image_hint` says (a dump's name: the whole flash read from a unit); a
    program source's (main.cpp), where it was looked for."""
    if names_source(path) or (says_text(path) and path.suffix.lower() != ".json"):
        return missing_ca_hint(path)
    return no_image_hint(path)


# The partition a unit's file system is usually in, for a read that runs as copied (only
# PORT is left to fill in): Arduino's and PlatformIO's default tables name it spiffs,
# whether it holds SPIFFS or LittleFS (data/boards/); others name theirs in `boards`.
_FS_PARTITION = "Arduino's and PlatformIO's name; esp-cabundle boards says each board's"

# Words of a file name that say it holds a whole flash (arduino-dump.bin, flash_4mb.bin).
_DUMP_WORDS = frozenset({"dump", "flash", "backup", "full"})


def not_an_image_hint(image: Path, size: int, advice: str | None) -> str:
    """For a whole file neither LittleFS nor SPIFFS: what the fs commands read and how a
    unit's is saved, and how to learn what the file holds. ``advice`` ("pass the whole
    partition") is the file systems' own, true only of one cut short, and said so."""
    name = shell_path(image)
    first = f"{advice}, if {name} is a partition cut short; otherwise: " if advice else ""
    return (
        f"{first}fs commands read a LittleFS or SPIFFS partition image (esp-cabundle read "
        f"--port PORT --partition spiffs -o fs.bin; {_FS_PARTITION}) or a whole-flash "
        "dump with its partition table (esp-cabundle read --port PORT --all -o dump.bin); "
        f"what the {size:,} bytes of {name} are: esp-cabundle inspect {name}"
    )


def listing_rows(files: list[FileInfo], empty_dirs: list[str]) -> list[tuple[str, str]]:
    """fs ls's table rows, by path: each file and its size, and each directory holding
    nothing as ``/cfg/`` (a LittleFS image kept one ``fs rm`` emptied, that no listing
    showed, and ``fs rm IMAGE /cfg`` removes)."""
    rows = [(f.path, f"{f.size:,}") for f in files]
    rows += [(d + "/", "(empty directory)") for d in empty_dirs]
    return [(printable_name(p), size) for p, size in sorted(rows)]


def emptied_note(image: FileSystemImage, removed: list[str]) -> str:
    """For fs rm's line: the directories its removals left holding nothing. They are
    kept, as a unit's unlink keeps them (the firmware may expect its directory), and
    were then in the image unseen; ``fs rm IMAGE /cfg`` removes one."""
    empty = set(image.empty_dirs())
    left = sorted({p.rsplit("/", 1)[0] for p in removed} & empty)
    if not left:
        return ""
    shown = ", ".join(printable_name(d) for d in left)
    return f" (left empty, kept: {shown}; fs rm removes an empty directory)"


def holds_no_fs(data: bytes) -> bool:
    """Bytes holding no file system that are not erased or zeroed either, nor a SPIFFS
    partition cut short (whose error says so)."""
    from ..fs.spiffs_probe import cut_from  # deferred: SPIFFS's modules on demand

    blank = data.count(data[:1]) == len(data)
    return detect_fs_type(data) is None and not blank and cut_from(data) is None


def with_table_hint(hint: str | None, region: ImageRegion, image: str) -> str | None:
    """``hint`` plus, for a slice of a whole-flash dump that is none of its file-system
    partitions (the help's 0x290000 on a dump whose table puts SPIFFS at 0x291000),
    where the dump's own table puts them: the next command to type."""
    return with_dump_table(hint, region.container, image, region.offset, region.size)


def with_dump_table(
    hint: str | None, container: bytes, image: str, offset: int, size: int | None
) -> str | None:
    """:func:`with_table_hint` before a region is found: ``size`` None when --offset
    starts no entry of the table and no file system says its size there (the hint
    said only "give --size", where the table names the partitions to read)."""
    if not offset:
        return hint
    from ..fs.edit import dump_fs_partitions  # deferred: the fs commands' own import

    _, parts = dump_fs_partitions(container)
    if not parts or any((p.offset, p.size) == (offset, size) for p in parts):
        return hint
    named = "; ".join(f"{p.name}: --offset {p.offset:#x} --size {p.size:#x}" for p in parts)
    table = f"the file-system partitions of {printable(image)}'s table: {named}"
    inside = [p for p in parts if p.offset < offset < p.offset + p.size]
    if inside:  # LittleFS keeps its superblock twice: one block in, it is found again
        p = inside[0]
        table = f"--offset {offset:#x} is {offset - p.offset:#x} into {p.name}; {table}"
    return f"{hint}; {table}" if hint else table


def refuse_unblocked_size(size: int | None, data: bytes, image: Path) -> None:
    """A --size no file-system partition can have (not whole 4 KiB blocks, or fewer than
    two) said as the option's fault, with IMAGE's real size: LittleFS cut to 100 bytes
    said its superblock was unreadable, "the image is corrupt", of an image that is fine."""
    if size is None or not data or (size % ERASE_BLOCK == 0 and size >= 2 * ERASE_BLOCK):
        return
    wrong = [f"not a multiple of the {ERASE_BLOCK:,}-byte block"] if size % ERASE_BLOCK else []
    if size < 2 * ERASE_BLOCK:
        wrong.append(f"less than the two blocks ({2 * ERASE_BLOCK:,} bytes) a file system needs")
    raise InputError(
        f"--size {size:,} is {' and '.join(wrong)}; the file is {byte_count(len(data))}",
        path=printable(str(image)),
        hint=f"leave --size out to read all {byte_count(len(data))} of a partition image, or "
        "give the partition's size from its table (e.g. --size 1408K)",
    )
