"""Where a command's CA file comes from: a finished file (``--bundle``) or a build.

``pack``, ``update-dump`` and ``flash`` all put a ``ca.pem`` somewhere. They take it as
is from ``--bundle``, or build it exactly as ``esp-cabundle build`` would (the config
file, presets, added and excluded roots, the same policies; no lock file written).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

__all__ = ["build_ca_pem", "ca_source_options", "read_bundle_file", "resolve_ca"]

F = TypeVar("F", bound=Callable[..., Any])


def ca_source_options(f: F) -> F:
    """``--bundle FILE`` or ``-c/--config``, ``--preset``, ``--root``, ``--exclude``."""
    for option in reversed(
        (
            click.option(
                "--bundle",
                "bundle_file",
                type=click.Path(dir_okay=False, path_type=Path),
                metavar="FILE",
                help="Put this CA file (a ca.pem made by 'build') instead of building one.",
            ),
            click.option(
                "-c",
                "--config",
                "config_path",
                type=click.Path(dir_okay=False, path_type=Path),
                help="Build the bundle from this config (default: ./cabundle.yaml if present).",
            ),
            click.option(
                "--preset", "presets", multiple=True, metavar="NAME", help="Bundle preset."
            ),
            click.option(
                "--root", "roots", multiple=True, metavar="ALIAS|SHA256|FILE", help="Add a root."
            ),
            click.option(
                "--exclude",
                "excludes",
                multiple=True,
                metavar="ALIAS|SHA256|FILE",
                help="Drop a root.",
            ),
        )
    ):
        f = option(f)
    return f


def resolve_ca(
    bundle_file: Path | None,
    config_path: Path | None,
    presets: tuple[str, ...],
    roots: tuple[str, ...],
    excludes: tuple[str, ...],
    at: str | None,
) -> bytes:
    """The CA file's bytes: ``bundle_file`` as is, or built from the other options.

    InputError when a finished file is combined with build options (which would be
    silently ignored otherwise).
    """
    from ..errors import InputError

    if bundle_file is not None:
        if config_path or presets or roots or excludes:
            raise InputError(
                "--bundle takes a finished CA file; it cannot be combined with -c, --preset, "
                "--root or --exclude"
            )
        return read_bundle_file(bundle_file)
    return build_ca_pem(config_path, presets, roots, excludes, at)


def read_bundle_file(path: Path) -> bytes:
    """A CA file's bytes, refused unless it holds certificates (and no private key)."""
    from ..certs import load_certificates
    from ._fsopts import read_input

    data = read_input(path)
    load_certificates(data, source=str(path))  # refuses private keys and non-certificates
    return data


def build_ca_pem(
    config_path: Path | None,
    presets: tuple[str, ...],
    roots: tuple[str, ...],
    excludes: tuple[str, ...],
    at: str | None,
) -> bytes:
    """``ca.pem`` as ``esp-cabundle build`` makes it from this config and these flags."""
    from dataclasses import replace

    from ..build import build_bundle
    from ..bundle import BundleSpec
    from ..config import Config, OutputSpec, find_config, load_config
    from ._common import parse_at

    path = config_path or find_config()
    config = load_config(path) if path else Config(None, BundleSpec(), ())
    spec = config.spec
    if presets:
        spec = replace(spec, presets=presets)
    if roots:
        spec = replace(spec, roots=spec.roots + tuple(_cwd_relative(r) for r in roots))
    if excludes:
        spec = replace(spec, excludes=spec.excludes + tuple(_cwd_relative(x) for x in excludes))
    result = build_bundle(spec, (OutputSpec("pem", Path("ca.pem")),), at=parse_at(at))
    return result.outputs[0][1]


def _cwd_relative(spec: str) -> str:
    """A flag naming an existing file is taken relative to the working directory."""
    p = Path(spec)
    return str(p.resolve()) if not p.is_absolute() and p.exists() else spec
