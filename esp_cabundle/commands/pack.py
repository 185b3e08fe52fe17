"""``esp-cabundle pack``."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import click

from ..errors import InputError
from ..fileio import write_atomic
from ..fs import get_profile
from ..fs.edit import collect_dir_files, pack_ca_image
from ..fs.lfs_platforms import resolve_platform
from ..text import printable
from ..ui import echo, emit_json, format_table
from .ca_source import CaOptions, announce, ca_options
from .options import (
    at_option,
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
@fs_type_option(required=True)
@profile_option(detect=False)
@lfs_version_options
@size_option(required=True)
@click.option(
    "--from-dir",
    "from_dir",
    type=click.Path(path_type=Path),
    metavar="DIR",
    help="Also put every file under DIR (paths relative to DIR).",
)
@ca_options()
@click.option(
    "--ca-path",
    "ca_path",
    metavar="PATH",
    help="Where the CA file goes in the image (default: the profile's, /ca.pem).",
)
@mtime_option
@click.option(
    "-o",
    "--output",
    required=True,
    type=output_path(),
    help="Image file to write.",
)
@at_option
@json_option
@quiet_option
def pack(
    fs_type: str,
    profile: str | None,
    platform: str | None,
    disk_version: int | None,
    size: int,
    from_dir: Path | None,
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

    The CA is built as 'esp-cabundle build' would (same config, presets, roots and
    policies; no lock file written), or taken from --bundle, and passes the same gate
    as every write: policies, private keys, the config's targets (and --target). Say
    which CA: --bundle, --preset, --root or a cabundle.yaml (no silent default). The
    image is mounted again and every file read back before it is written; on any error
    nothing is written.

    \b
    Examples:
      esp-cabundle pack --fs littlefs --profile esp-idf --size 256K --preset default \\
          -o littlefs.bin
      esp-cabundle pack --fs littlefs --profile mongoose-os --size 256K \\
          --bundle ca.pem --from-dir fs/ -o fs.bin
      esp-cabundle pack --fs littlefs --platform arduino-2.0.17 --size 1408K \\
          --bundle ca.pem -o lfs.bin
      esp-cabundle pack --fs spiffs --profile esp-idf --size 1408K --preset letsencrypt \\
          --from-dir data/ -o spiffs.bin
    """
    prof = get_profile(fs_type, _profile_name(fs_type, profile, platform))
    if mtime is not None and not getattr(prof, "time_attributes", ()):
        raise InputError(
            f"--mtime: {fs_type} profile {prof.name} keeps no time attributes",
            hint="use it with the littlefs esp-idf, arduino or platformio profiles",
        )
    files = collect_dir_files(from_dir) if from_dir is not None else []
    gated = ca.gate(board=None, at=parse_at(at), command="pack")
    announce(gated, quiet=quiet, as_json=as_json)
    packed = pack_ca_image(
        fs_type,
        prof,
        size,
        gated,
        ca_path=ca_path,
        files=files,
        timestamp=mtime,
        platform=platform,
        disk_version=disk_version,
    )
    write_atomic(output, packed.data)

    facts = packed.image.describe()
    if as_json:
        emit_json(
            {
                "output": str(output),
                "bytes": len(packed.data),
                "fs": fs_type,
                "profile": prof.name,
                "facts": facts,
                "files": [{"path": p, "size": n} for p, n in packed.files],
                "gate": gated.to_dict(),
            }
        )
        return
    extra = f", disk {facts['disk version']}" if "disk version" in facts else ""
    echo(
        f"Wrote {output} ({len(packed.data):,} bytes): {fs_type}, profile {prof.name}{extra}",
        quiet=quiet,
    )
    echo(
        format_table(
            ("path", "bytes"), [(printable(p), f"{n:,}") for p, n in packed.files], indent=2
        ),
        quiet=quiet,
    )


def _profile_name(fs_type: str, profile: str | None, platform: str | None) -> str:
    """--profile, or the profile a LittleFS --platform implies."""
    if profile is not None:
        return profile
    if platform is not None and fs_type == "littlefs":
        return resolve_platform(platform).profile
    raise InputError(
        "--profile is required"
        + (" (or --platform, for LittleFS)" if fs_type == "littlefs" else ""),
        hint="e.g. --profile esp-idf",
    )
