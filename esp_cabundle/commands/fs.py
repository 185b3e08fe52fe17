"""``esp-cabundle fs ls|cat|put|rm``: an offline file manager for images and dumps."""

from __future__ import annotations

import contextlib
import functools
import os
import stat
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from ..clobber import refuse_clobbering, same_file
from ..errors import DumpNotImageError, ImageError, InputError
from ..file_kinds import shell_word
from ..file_modes import content_mode
from ..fileio import PRIVATE, read_input, refuse_special, write_atomic
from ..fs import normalize_path, open_image
from ..fs.base import HintContext
from ..fs.dirfiles import private_key_warning
from ..fs.edit import (
    FileEdit,
    ImageRegion,
    edit_image,
    locate_image,
    partition_at,
)
from ..gate import CaSource
from ..images import check_board_platform
from ..text import fact_line, printable, printable_name
from ..ui import echo, emit_json, format_table, warn
from ._fsboard import board_warning, misplaced_ca, named_ca_warning
from ._fsopts import (
    dump_partitions_hint,
    emptied_note,
    fs_command,
    holds_no_fs,
    listing_rows,
    named_partition,
    no_image_hint,
    not_an_image_hint,
    partition_option,
    refuse_fs_as_image_profile,
    refuse_partition_with_offset,
    refuse_unblocked_size,
    with_dump_table,
    with_table_hint,
)
from ._fsput import not_a_ca_at, read_source, refuse_swapped
from .ca_source import CaOptions, announce, ca_options
from .options import (
    CLI_SPELLING,
    FILE_PATH,
    at_option,
    board_option,
    chosen_board,
    fs_type_option,
    json_option,
    lfs_version_options,
    mtime_option,
    offset_option,
    output_path,
    parse_at,
    profile_option,
    quiet_option,
    size_option,
)

if TYPE_CHECKING:
    from ..boards import Board
    from ..fs import FileSystemImage
    from ..fs.edit import EditResult

F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True, slots=True)
class ImageArgs:
    """IMAGE and where its file system sits in it, as every ``fs`` command takes them."""

    image: Path
    offset: int = 0
    size: int | None = None
    fs_type: str | None = None
    profile: str | None = None
    partition: str | None = None  # a dump's partition by its table name, for offset/size

    def read(self) -> bytes:
        hint = no_image_hint(self.image)
        return read_input(self.image, what="file-system image", devices=False, hint=hint)

    def refuse_unwritable(self) -> None:
        """``put``/``rm`` edit IMAGE in place, so it must be a regular file: a FIFO would
        be drained by the read and then block the write-back until some reader came,
        a socket or block device cannot take the image back. Refused before it is opened
        (a character device is left to :meth:`read`, which refuses it unopened too)."""
        try:
            mode = os.stat(self.image).st_mode
        except OSError:
            return  # missing, a link leading nowhere or in a loop: read() says which
        if stat.S_ISCHR(mode):
            return
        refuse_special(
            self.image,
            what="file-system image to edit in place",
            hint="save the image to a file first (esp-cabundle read ... -o fs.bin), edit "
            "that, then flash it",
        )

    def region(self, data: bytes | None = None) -> ImageRegion:
        """Where the file system sits in IMAGE's bytes (``data``: already read)."""
        if self.size == 0:
            raise InputError(
                "--size 0 names no partition",
                hint="give the partition's size from its table (e.g. --size 1408K), or "
                "leave --size out to read it from the bytes",
            )
        data = self.read() if data is None else data
        if self.partition is not None:
            found = named_partition(data, self.partition, self.image)
            return locate_image(
                data, offset=found.offset, size=found.size, source=str(self.image),
                spelling=CLI_SPELLING,
            )  # fmt: skip
        size = self.size
        if size is None and self.offset:
            # A whole-flash dump's own partition table knows the size at that offset.
            entry = partition_at(data, self.offset)
            size = entry.size if entry is not None else None
        try:
            region = locate_image(
                data, offset=self.offset, size=size, source=str(self.image), spelling=CLI_SPELLING
            )
        except DumpNotImageError as e:
            if e.partitions:  # else why it has none (a dump cut short ...)
                e.hint = dump_partitions_hint(e.partitions)
            raise
        except InputError as e:  # e.g. no size at that offset: the table's partitions
            e.hint = with_dump_table(e.hint, data, str(self.image), self.offset, size)
            raise
        refuse_unblocked_size(self.size, data, self.image)  # a dump said first: the fix names it
        return region

    def open(self, region: ImageRegion | None = None) -> FileSystemImage:
        region = region or self.region()
        refuse_fs_as_image_profile(self.profile)
        try:
            return open_image(
                region.data, fs_type=self.fs_type, profile=self.profile, spelling=CLI_SPELLING
            )
        except (ImageError, InputError) as e:
            hint = with_table_hint(e.hint, region, str(self.image))
            # the whole file is no file system (not one refused for --fs or --profile, nor
            # an erased one, whose hint says to make one; nor the first --size bytes of it)
            whole = region.size == len(region.container)
            if e.path is None and whole and holds_no_fs(region.data):
                hint = not_an_image_hint(self.image, len(region.data), e.hint)
            if e.path is None:  # "neither LittleFS nor SPIFFS found": say in which file
                raise type(e)(e.reason, path=printable(str(self.image)), hint=hint) from e
            e.hint = hint
            raise

    def where(self, region: ImageRegion | None) -> str:
        """The --partition, else --offset/--size, that name ``region`` again (nothing for
        a whole image)."""
        if self.partition is not None:
            return f" --partition {shell_word(self.partition)}"  # as typed: may be ESC
        if region is None or not region.offset:
            return ""
        return f" --offset {region.offset:#x} --size {region.size:#x}"

    @contextlib.contextmanager
    def naming_image(self, region: ImageRegion) -> Iterator[None]:
        """A file not in the image: its hint's ``fs ls IMAGE`` becomes the command to
        type, this IMAGE (quoted for a shell) and the options that found its file
        system, not the placeholder."""
        try:
            yield
        except ImageError as e:  # and, for a slice of a dump off its table, the table's
            e.reword(HintContext(ls_command=self.command("ls", region)))
            e.hint = with_table_hint(e.hint, region, str(self.image))
            raise

    def command(self, verb: str, region: ImageRegion | None, *words: str | Path) -> str:
        """``esp-cabundle fs VERB IMAGE WORDS...`` naming this file system again, as a
        shell reads it: the --offset/--size of ``region`` (else those given) and the
        --fs/--profile given."""
        where = (
            self.where(region)
            if region is not None or self.partition is not None
            else (f" --offset {self.offset:#x}" if self.offset else "")
            + (f" --size {self.size:#x}" if self.size is not None else "")
        )
        options = where + (f" --fs {self.fs_type}" if self.fs_type else "")
        options += f" --profile {shell_word(self.profile)}" if self.profile else ""
        return fs_command(verb, self.image, *words, options=options)


def image_options(f: F) -> F:
    """IMAGE plus where the file system sits in it and what it is, handed to the
    command as one ``img: ImageArgs``."""

    @functools.wraps(f)
    def command(*args: Any, **kwargs: Any) -> Any:
        img = ImageArgs(**{k: kwargs.pop(k) for k in ImageArgs.__slots__})
        if img.partition is not None:
            refuse_partition_with_offset(click.get_current_context())
        return f(*args, img=img, **kwargs)

    for option in (
        profile_option(detect=True),
        fs_type_option(required=False),
        size_option(
            required=False,
            default="the dump's partition table entry at --offset, else the rest of the "
            "file (LittleFS: its superblock's)",
        ),
        offset_option,
        partition_option,
        click.argument("image", type=FILE_PATH),
    ):
        command = option(command)
    return command  # type: ignore[return-value]


@click.group()
def fs() -> None:
    """Offline file manager for LittleFS and SPIFFS images, and for a file-system
    partition inside a flash dump (--partition NAME, or --offset and --size). 'put' and
    'rm' edit in place the way the device would: other files, the on-disk version and
    every byte outside the partition stay as they are; the file is replaced atomically,
    or not at all.

    \b
    Examples:
      esp-cabundle fs ls fs.bin         # an image: made as in pack --help
      esp-cabundle fs cat fs.bin /ca.pem > ca.pem
      esp-cabundle fs put fs.bin new-ca.pem /ca.pem
      esp-cabundle fs rm fs.bin /old.pem    # a file it holds (fs ls lists them)
      esp-cabundle fs ls arduino-dump.bin --partition spiffs --json
      # a dump read with: esp-cabundle read --port PORT --all -o arduino-dump.bin
    """


@fs.command("ls")
@image_options
@json_option
@quiet_option
def ls_cmd(img: ImageArgs, as_json: bool, quiet: bool) -> None:
    """List the files of an image: path and size, with what the image is.

    \b
    Examples:
      esp-cabundle fs ls littlefs.bin
      esp-cabundle fs ls spiffs.bin --profile esp-idf --json
      esp-cabundle fs ls arduino-dump.bin --offset 0x290000 --size 1408K
      # a dump read with: esp-cabundle read --port PORT --all -o arduino-dump.bin
    """
    region = img.region()
    fs_image = img.open(region)
    with img.naming_image(region):  # LittleFS found one block into a partition: -84 here
        files, empty = fs_image.listing()
        facts = fs_image.describe(files)
    if as_json:
        emit_json(
            {
                "image": str(img.image),
                "offset": region.offset,
                "size": region.size,
                "fs": fs_image.fs_type,
                "profile": fs_image.profile.name,  # the one assumed: as before
                "profiles": list(fs_image.possible_profiles()),  # more when the bytes do not tell
                "facts": facts,
                "files": [{"path": f.path, "size": f.size} for f in files],
                "empty_dirs": empty,  # LittleFS directories holding nothing (SPIFFS has none)
            }
        )
        return
    where = f" at 0x{region.offset:X}" if region.offset else ""
    echo(
        f"{printable(str(img.image))}{where}: {fs_image.fs_type} image, {region.size:,} bytes",
        quiet=quiet,
        wrap=True,
    )
    for k, v in facts.items():
        if k != "file system":
            shown = fs_image.profile_words() if k == "profile" else v
            echo(f"  {fact_line(k, shown)}", quiet=quiet, wrap=True)
    rows = listing_rows(files, empty)
    echo(format_table(("path", "bytes"), rows, indent=2) if rows else "  (no files)", quiet=quiet)


@fs.command("cat")
@image_options
@click.argument("path")
@click.option(
    "-o",
    "--output",
    type=output_path(allow_dash=True),
    help="Write the file here instead of standard output.",
)
# Hidden: every other command has --json, so it is tried here; click would say "Did you
# mean '--fs'?". cat's output is the file's exact bytes: say so, and where JSON is.
@click.option("--json", "as_json", is_flag=True, hidden=True)
def cat_cmd(img: ImageArgs, path: str, output: Path | None, as_json: bool) -> None:
    """Print one file of an image (its exact bytes) or save it with -o.

    \b
    Examples:
      esp-cabundle fs cat fs.bin /ca.pem
      esp-cabundle fs cat mos-dump.bin /conf9.json --partition fs_0 -o conf9.json
      # a dump read with: esp-cabundle read --port PORT --all -o mos-dump.bin
    """
    if as_json:
        # Said as one JSON document, as a script that typed --json reads it (cli.py).
        click.get_current_context().find_root().ensure_object(dict)["json"] = True
        raise InputError(
            "fs cat has no --json: it prints the file's exact bytes (or saves them with -o)",
            hint=f"e.g. {img.command('ls', None, '--json')} (lists the files as JSON)",
        )
    if output is not None:
        refuse_clobbering([("output", output)], [("image", img.image)])
    region = img.region()
    with img.naming_image(region):
        data = img.open(region).read(path)
    # A unit's file is private (/conf9.json holds passwords) unless it is certificates
    # alone (/ca.pem): then it keeps the existing file's mode, or is written 0644.
    # Standard output too, as "-o -" writes it: a file the shell opened for it ("fs cat
    # dump.bin /conf9.json > conf9.json", 0666 under umask 000) was left readable to all.
    write_atomic(output if output is not None else "-", data, mode=content_mode(data))


@fs.command("put", short_help="Write a file into the image; print the 4 KiB blocks that changed.")
@image_options
@lfs_version_options
@click.argument("source", type=FILE_PATH)
@click.argument("dest", required=False)
@mtime_option
@board_option()
@ca_options(bundle=False, build=False)
@at_option
@json_option
@quiet_option
def put_cmd(
    img: ImageArgs,
    platform: str | None,
    disk_version: int | None,
    source: Path,
    dest: str | None,
    mtime: int | None,
    board: str | None,
    ca: CaOptions,
    at: datetime | None,
    as_json: bool,
    quiet: bool,
) -> None:
    """Write SOURCE into the image as DEST (default: /<SOURCE's name>), replacing a file
    of that name, and print the 4 KiB blocks that changed (what a flasher must write).

    A DEST that is the CA path (the profile's /ca.pem, or --board's) takes a CA file
    through the same gate as 'build' and 'flash' (policies, private keys, the config's
    targets and --target; written as PEM); other paths take SOURCE's bytes as they are.
    With --board (the board the image is for; default: the config's board:) its CA path
    is gated too, under its rules. Paths in the image carry no mount point: the
    firmware's /spiffs/ca.pem is /ca.pem here (that DEST is refused); a DEST that looks
    like a CA file but is not the CA path goes in with a warning naming it. A file
    holding a private key goes in with a warning, as with 'pack --from-dir'; a SOURCE
    larger than the whole image is refused unread.

    \b
    Examples:
      esp-cabundle fs put fs.bin ca.pem
      esp-cabundle fs put fs.bin build/ca.pem /certs/ca.pem
      esp-cabundle fs put lfs-2.0.5.bin ca.pem --platform arduino-2.0.5
      esp-cabundle fs put arduino-dump.bin ca.pem --partition spiffs
      # lfs-2.0.5.bin: made as in pack --help; arduino-dump.bin: a dump read with
      #   esp-cabundle read --port PORT --all -o arduino-dump.bin
    """
    if dest is not None and (not dest.strip() or dest.endswith("/")):
        folder = dest.strip().strip("/")  # the folder meant: the example keeps it
        example = f"/{folder}/{source.name}" if folder else f"/{source.name}"
        raise InputError(
            f"DEST '{dest}' names no file" + (" (it ends with '/')" if dest.strip() else ""),
            hint=f"give the file's path in the image, e.g. {example}, or leave DEST out",
        )
    img.refuse_unwritable()
    image_bytes = img.read()
    refuse_swapped(img.image, source, dest, image_bytes)
    # Said after the image is known to be one: in "fs put ca.pem ca.pem" the slip is a
    # PEM file given as the image, and "SOURCE is the image itself" sent the user on.
    region = img.region(image_bytes)
    if same_file(img.image, source):
        # The image's own bytes would become a file inside it: a slip, never meant.
        link = "" if str(img.image) == str(source) else f" (the same file as {img.image})"
        # The example's file is never the image: its hint would repeat the failing line.
        named = "build/ca.pem" if same_file(img.image, Path("ca.pem")) else "ca.pem"
        raise InputError(
            f"SOURCE {source} is the image itself{link}; nothing written",
            hint=f"name the file to put into the image: {img.command('put', None, named)}",
        )
    fs_image = img.open(region)
    target = fs_image.checked_path(dest or "/" + source.name)
    data = read_source(source, region.size, fs_image.fs_type)
    gated = None
    key: str | None = None  # the warning for a private key put in the image
    config = ca.config()
    chosen = chosen_board(board, config)
    if board is not None and chosen is not None:  # as pack and update-dump refuse it
        check_board_platform(chosen, platform, CLI_SPELLING)
    warnings = [w for w in [board_warning(fs_image, chosen, typed=bool(board))] if w]
    ca_paths = _ca_paths(fs_image, chosen)
    ca_path = normalize_path(
        chosen.filesystem.ca_path if chosen and chosen.filesystem else fs_image.profile.ca_path
    )

    def put_to(path: str) -> str:
        run = img.command("put", region, source, path)
        return run + (f" --board {shell_word(board)}" if board else "")  # a file's, perhaps

    if dest is None:  # the documented default: said when it is not where the CA is read
        run = put_to(ca_path)
        warnings += [
            w for w in [named_ca_warning(source, data, target, ca_paths, command=run)] if w
        ]
    else:  # /CA.pem, /spiffs/ca.pem: a new file, and units keep reading their old CA
        held = [f.path for f in fs_image.files()]
        known = chosen is not None or img.profile is not None
        misplaced = misplaced_ca(
            target, ca_paths, held, ca_path=ca_path, put_to=put_to, known=known
        )
        warnings += [misplaced] if misplaced else []
    if target in ca_paths:
        with not_a_ca_at(target, source, ca_paths, put_to):
            src = CaSource.from_file(source, policy=ca.spec(config).policy, config=config)
            gated = ca.gate(board=chosen, at=parse_at(at), source=src, ca_path=target)
        announce(gated, quiet=quiet, as_json=as_json)
        data = gated.pem
    else:  # as pack --from-dir warns: every unit flashed with the image gets the key
        key = private_key_warning(source, data, target)
    result = _apply(
        img,
        [FileEdit("put", target, data)],
        region=region,
        mtime=mtime,
        platform=platform,
        disk_version=disk_version,
        keyed=key is not None,
    )
    warnings += [key] if key is not None else []
    if not as_json:
        for w in warnings:
            warn(printable(w))
    extra = {
        "put": {"path": target, "bytes": len(data)},
        "gate": gated.to_dict() if gated is not None else None,
        "warnings": warnings,
    }
    _report(
        img.image,
        result,
        f"put {printable_name(target)} ({len(data):,} bytes)",
        as_json,
        quiet,
        extra,
    )


def _ca_paths(image: FileSystemImage, board: Board | None) -> set[str]:
    """Where a CA file lives in this image: its profile's CA path, and the board's."""
    paths = {image.profile.ca_path}
    if board is not None:
        fs = board.filesystem
        if fs is not None:
            paths.add(fs.ca_path)
    return {normalize_path(p) for p in paths}


@fs.command("rm", short_help="Remove files from the image; print the 4 KiB blocks that changed.")
@image_options
@lfs_version_options
@click.argument("paths", nargs=-1, required=True)
@board_option()
@json_option
@quiet_option
def rm_cmd(
    img: ImageArgs,
    platform: str | None,
    disk_version: int | None,
    paths: tuple[str, ...],
    board: str | None,
    as_json: bool,
    quiet: bool,
) -> None:
    """Remove files from the image (all or none) and print the blocks that changed.
    Removing the CA file (the profile's /ca.pem, or --board's CA path) is done with a
    warning: units flashed with the image cannot verify their servers without it.

    \b
    Examples:
      esp-cabundle fs rm fs.bin /old-ca.pem   # a file it holds (fs ls lists them)
      esp-cabundle fs rm mos-dump.bin /a.pem /b.pem --partition fs_0
      # a dump read with: esp-cabundle read --port PORT --all -o mos-dump.bin
    """
    img.refuse_unwritable()
    region = img.region()
    fs_image = img.open(region)
    names = list(dict.fromkeys(fs_image.checked_path(p, new=False) for p in paths))  # once each
    chosen = chosen_board(board, None)
    ca_paths = _ca_paths(fs_image, chosen)
    warnings = [w for w in [board_warning(fs_image, chosen, typed=True)] if w]
    warnings += [_ca_removed(img, p, region) for p in names if p in ca_paths]
    edits = [FileEdit("rm", p) for p in names]
    with img.naming_image(region):
        result = _apply(img, edits, region=region, platform=platform, disk_version=disk_version)
    if not as_json:
        for w in warnings:
            warn(printable(w))
    shown = ", ".join(printable_name(p) for p in names) + emptied_note(result.image, names)
    extra = {"removed": names, "warnings": warnings}
    _report(img.image, result, f"removed {shown}", as_json, quiet, extra)


def _ca_removed(img: ImageArgs, path: str, region: ImageRegion) -> str:
    """The warning for removing the CA file: a unit flashed with the image keeps no CA
    to verify its servers with, and one whose servers it cannot reach cannot be fixed
    over the air. Said, not refused: putting a new one back is the next step."""
    return (
        f"{path} is the CA file the firmware reads: units flashed with {img.image} have no "
        f"CA file and cannot verify their servers until one is put back "
        f"({img.command('put', region, 'ca.pem', path)})"
    )


def _apply(
    img: ImageArgs,
    edits: list[FileEdit],
    *,
    region: ImageRegion,
    mtime: int | None = None,
    platform: str | None = None,
    disk_version: int | None = None,
    keyed: bool = False,  # a private key put: 0600, as its warning says, though no block changed
) -> EditResult:
    result = edit_image(
        region,
        edits,
        fs_type=img.fs_type,
        profile=img.profile,
        timestamp=mtime,
        platform=platform,
        disk_version=disk_version,
        spelling=CLI_SPELLING,
    )
    if result.changed_blocks or keyed:  # (same bytes and mode: left untouched)
        write_atomic(img.image, result.container, mode=PRIVATE)  # often a unit's dump
    return result


def _report(
    image: Path,
    result: EditResult,
    what: str,
    as_json: bool,
    quiet: bool,
    extra: dict[str, Any] | None = None,
) -> None:
    if as_json:
        emit_json(
            {
                "image": str(image),
                "offset": result.region.offset,
                "fs": result.image.fs_type,
                "profile": result.image.profile.name,
                "changed_blocks": list(result.changed_blocks),
                "changed_offsets": list(result.changed_offsets),
                "block_total": result.block_total,
                **(extra or {}),
            }
        )
        return
    blocks = result.changed_blocks
    echo(
        f"{image}: {what}; {len(blocks)} of {result.block_total} blocks changed",
        quiet=quiet,
    )
    if blocks:
        listed = ", ".join(
            f"{b} (0x{o:X})" for b, o in zip(blocks, result.changed_offsets, strict=True)
        )
        echo(f"  blocks: {listed}", quiet=quiet)
