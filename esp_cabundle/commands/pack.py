"""``esp-cabundle pack``."""

from __future__ import annotations

import contextlib
import os
import stat
from datetime import datetime
from pathlib import Path

import click

from ..clobber import refuse_clobbering
from ..config import not_read_hint
from ..errors import ImageError, InputError
from ..fileio import PRIVATE, PUBLIC, file_kind, kept_from_others, shell_path, write_atomic
from ..fs.base import HintContext
from ..fs.dirfiles import DirFiles, collect_dir_files
from ..images import image_spec, new_image
from ..sizes import size_words
from ..text import closest, printable, printable_name
from ..ui import echo, emit_json, format_table, note, shown_path, warn
from ._fsopts import refuse_fs_as_profile
from ._missing import completed
from ._usage import (
    example_line,
    replaced_option,
    split_option,
    typed_words,
    usage_error,
    with_option,
)
from .ca_source import CaOptions, announce, ca_options
from .options import (
    CLI_SPELLING,
    at_option,
    board_option,
    chosen_board,
    fs_type_option,
    json_option,
    lfs_version_options,
    mtime_option,
    output_path,
    parse_at,
    profile_option,
    quiet_option,
    size_option,
)


@click.command()
@board_option()
@fs_type_option(required=False, default="the board's; required without --board")
@profile_option(detect=False)
@lfs_version_options
@size_option(required=False, default="with --board, its partition's")
@click.option(
    "--from-dir",
    "from_dir",
    type=click.Path(path_type=Path),
    metavar="DIR",
    callback=lambda ctx, param, value: _refuse_from_dir(value),
    help="Also put every file under DIR (paths relative to DIR). FIFOs, sockets, devices "
    "and symlinks leading nowhere are left out with a note; a symlink leading outside DIR "
    "is refused.",
)
@click.option(
    "--follow-symlinks",
    "follow_symlinks",
    is_flag=True,
    help="With --from-dir: pack what symlinks leading outside DIR lead to.",
)
@ca_options()
@click.option(
    "--ca-path",
    "ca_path",
    metavar="PATH",
    help="Where the CA file goes in the image (default: the board's, else the profile's).",
)
@mtime_option
@click.option(
    "-o",
    "--output",
    required=True,
    type=output_path(binary="a file-system image"),
    help="Image file to write (missing directories are made).",
)
@at_option
@json_option
@quiet_option
def pack(
    board: str | None,
    fs_type: str | None,
    profile: str | None,
    platform: str | None,
    disk_version: int | None,
    size: int | None,
    from_dir: Path | None,
    follow_symlinks: bool,
    ca: CaOptions,
    ca_path: str | None,
    mtime: int | None,
    output: Path,
    at: datetime | None,
    as_json: bool,
    quiet: bool,
) -> None:
    """Make a LittleFS or SPIFFS image holding the CA bundle at the profile's CA path
    (/ca.pem), plus any files from a directory, ready to flash at the partition's offset.
    With --board (or board: in cabundle.yaml, unless --fs, --profile or --platform
    describe the image), the board profile gives every image parameter and its rules
    judge the CA; explicit --size and --ca-path replace the board's, a contradicting
    --fs or --profile is an error.

    The CA is built as 'esp-cabundle build' would (same config, presets, roots and
    policies; no lock file written), or taken from --bundle, and passes the same gate
    as every write: policies, private keys, the config's targets (and --target). Say
    which CA: --bundle, --preset, --root or a cabundle.yaml (no silent default). The
    image is mounted again and every file read back before it is written; on any error
    nothing is written.

    Of --from-dir, what cannot be a file on a unit (FIFOs, sockets, devices) and
    symlinks leading nowhere or in a loop are left out, each with a note; a symlink
    leading outside DIR is an error unless --follow-symlinks. A file holding a private
    key is packed with a warning (every unit gets that key) and the image written 0600.

    \b
    Examples:
      esp-cabundle pack --board mdash-arduino --bundle ca.pem -o mdash-spiffs.bin
      esp-cabundle pack --fs littlefs --profile esp-idf --size 256K \\
          --preset default -o littlefs.bin
      esp-cabundle pack --fs littlefs --profile mongoose-os --size 256K \\
          --bundle ca.pem --from-dir fs/ -o fs.bin   # fs/: your files to add
      esp-cabundle pack --fs littlefs --platform arduino-2.0.17 --size 1408K \\
          --bundle ca.pem -o lfs-2.0.17.bin
      esp-cabundle pack --fs littlefs --platform arduino-2.0.5 --size 1408K \\
          --bundle ca.pem -o lfs-2.0.5.bin
      esp-cabundle pack --fs spiffs --profile esp-idf --size 1408K \\
          --preset letsencrypt --from-dir data/ -o spiffs.bin   # your data/
    """
    refuse_fs_as_profile(click.get_current_context(), fs_type, profile)
    described = fs_type is not None or profile is not None or platform is not None
    chosen = chosen_board(board, None if board or described else ca.config())
    if chosen is None and (fs_type is None or size is None):
        # run from a project's subdirectory, the board: of the config above is not read
        missed = None if described or ca.config() is not None else not_read_hint()
        # Only what is missing: "--fs and --size are required" when --fs was typed misled.
        lacking = [flag for flag, v in (("--fs", fs_type), ("--size", size)) if v is None]
        raise usage_error(
            f"{' and '.join(lacking)} {'is' if len(lacking) == 1 else 'are'} required "
            "without --board (or board: in cabundle.yaml)"
            + (f": no cabundle.yaml here ({missed})" if missed else ""),
            completed(click.get_current_context(), typed_words()),
            why="or name the units' board: esp-cabundle boards",
        )
    spec = image_spec(
        chosen,
        fs_type=fs_type,
        profile=profile,
        size=size,
        ca_path=ca_path,
        platform=platform,
        spelling=CLI_SPELLING,
    )
    # How this reader is told of a failed image: nothing written to -o, the line to type.
    context = HintContext(
        new_image=True, output=printable(str(output)), spelling=CLI_SPELLING, resized=_resized
    )
    # A size or on-disk version the image cannot have is said before the CA is judged
    # (one too small for the files, and so under the fewest blocks, when they are known).
    try:
        image = new_image(spec, chosen, disk_version=disk_version, spelling=CLI_SPELLING)
    except ImageError as e:
        e.reword(context)
        raise
    prof = image.profile
    if mtime is not None and not getattr(prof, "time_attributes", ()):
        raise InputError(
            f"--mtime: {spec.fs_type} profile {prof.name} keeps no time attributes",
            hint="use it with the littlefs esp-idf, arduino or platformio profiles",
        )
    refuse_clobbering([("image", output)], ca.input_files(chosen))
    if follow_symlinks and from_dir is None:
        raise InputError("--follow-symlinks applies to --from-dir's links; give --from-dir DIR")
    files = (
        collect_dir_files(from_dir, follow_symlinks=follow_symlinks, output=output)
        if from_dir is not None
        else DirFiles()
    )
    gated = ca.gate(board=chosen, at=parse_at(at), command="pack", ca_path=spec.ca_path)
    announce(gated, quiet=quiet, as_json=as_json)
    notes = [*files.notes, *image.notes]
    if not as_json:
        for n in notes:
            note(f"note: {printable(n)}", quiet=quiet)
        for w in files.warnings:
            warn(printable(w))
    try:
        packed = image.pack(
            gated,
            files=files.files,
            timestamp=mtime,
            spelling=CLI_SPELLING,
            from_dir=None if from_dir is None else str(from_dir),
        )
    except ImageError as e:
        # The library says nothing was written; the CLI knows where it would have gone.
        e.reword(context)
        raise
    # What packing itself left out (a CA file in DIR holding the bundle's own bytes).
    left_out = [n for n in packed.notes if n not in notes]
    notes += left_out
    if not as_json:
        for n in left_out:
            note(f"note: {printable(n)}", quiet=quiet)
    # As secret as what went in: a 0600 conf9.json (or CA file) makes a 0600 image.
    hidden = files.private or (ca.bundle_file is not None and kept_from_others(ca.bundle_file))
    # An image already holding these bytes is left untouched (same inode and mtime).
    unchanged = not write_atomic(output, packed.data, mode=PRIVATE if hidden else PUBLIC)

    facts = packed.image.describe()
    # A CA update rewrites the CA file in place: an image with no room for that is said.
    warnings = [*files.warnings, *([packed.cramped.text()] if packed.cramped else [])]
    if packed.cramped and not as_json:
        warn(printable(packed.cramped.text()))
    if as_json:
        emit_json(
            {
                "ok": True,
                "output": str(output),
                "bytes": len(packed.data),
                "unchanged": unchanged,
                "fs": spec.fs_type,
                "profile": prof.name,
                "board": spec.board,
                "partitions": [
                    {"name": p.name, "offset": p.offset, "size": p.size} for p in spec.partitions
                ],
                "facts": facts,
                "files": [{"path": p, "size": n} for p, n in packed.files],
                "notes": notes,
                "warnings": warnings,
                "gate": gated.to_dict(),
            }
        )
        return
    extra = f", disk {facts['disk version']}" if "disk version" in facts else ""
    verb = "unchanged: " if unchanged else "Wrote "
    echo(
        f"{verb}{shown_path(output)} ({len(packed.data):,} bytes"
        + (", already these bytes; not rewritten" if unchanged else "")
        + f"): {spec.fs_type}, profile "
        f"{prof.name}{extra}" + (f"; board {spec.board}'s {spec.where}" if spec.where else ""),
        quiet=quiet,
    )
    echo(
        format_table(
            ("path", "bytes"), [(printable_name(p), f"{n:,}") for p, n in packed.files], indent=2
        ),
        quiet=quiet,
    )


def _refuse_from_dir(from_dir: Path | None) -> Path | None:
    """--from-dir naming no directory, refused naming the option (the library's bare
    "ca.pem: not a directory" did not): a single CA file there was meant for --bundle,
    so without another CA source the hint is the line as typed with --bundle instead,
    and what else it lacks (-o). Its callback: said before a missing option is, whose
    hint carried the file on as --from-dir and failed when copied."""
    if from_dir is None:
        return None
    try:
        mode = from_dir.stat().st_mode
    except FileNotFoundError:
        mode = None
    except OSError:  # unreadable on the way: the library's walk says how
        return from_dir
    if mode is not None and stat.S_ISDIR(mode):
        return from_dir
    kind = "no such directory" if mode is None else f"{file_kind(mode)}, not a directory"
    message = f"--from-dir {printable(str(from_dir))}: {kind}; nothing was written"
    words, _ = split_option(typed_words(), ("--from-dir",), takes_value=True)
    words, _ = split_option(words, ("--follow-symlinks",), takes_value=False)
    sources = ("--bundle", "--preset", "--root")
    typed_source = any(w.split("=")[0] in sources for w in words)
    if mode is not None and stat.S_ISREG(mode) and not typed_source:
        why = "a single CA file goes in with --bundle; --from-dir packs a directory's files"
        words = with_option(words, "--bundle", str(from_dir))
        raise usage_error(message, completed(click.get_current_context(), words), why=why)
    bundle = "; a single CA file goes in with --bundle" if mode is not None else ""
    raise InputError(message, hint=_dir_hint(from_dir, words) + bundle)


def _dir_hint(from_dir: Path, words: list[str]) -> str:
    """For a --from-dir that is no directory: the one beside it its name is near to, as
    the line typed; else the directories there, and how to make it or go without it
    (the hint was "e.g. --from-dir data/", the very path missing after the help's
    example was copied). ``words``: the line typed without --from-dir."""
    ctx = click.get_current_context()
    dirs: list[str] = []
    with contextlib.suppress(OSError), os.scandir(from_dir.parent) as found:
        dirs = sorted(d.name for d in found if d.is_dir() and not d.name.startswith("."))
    dirs = [d for d in dirs if d != from_dir.name]
    near = closest(from_dir.name, dirs, most=1)
    if near:
        line = with_option(words, "--from-dir", f"{from_dir.parent / near[0]}/")
        return example_line(completed(ctx, line), why=f"{near[0]}/ is the directory there")
    place = "here" if str(from_dir.parent) == "." else f"in {from_dir.parent}"
    there = (
        f"the directories {place}: "
        + ", ".join(f"{d}/" for d in dirs[:6])
        + (", ..." if len(dirs) > 6 else "")
        if dirs
        else f"no directories {place}"
    )
    make = (
        "name another"
        if os.path.lexists(from_dir)  # a file there: not one to make
        else f"make it (mkdir -p {shell_path(from_dir)}) and put the image's files in it"
    )
    return f"{there}; {make}, or pack the CA alone: " + example_line(completed(ctx, words))


def _resized(size: int, why: str) -> str:
    """The line as typed with ``--size`` of ``size`` bytes: a too small image's hint."""
    words = replaced_option(typed_words(), ("--size",), "--size", size_words(size))
    return example_line(words, why=why)
