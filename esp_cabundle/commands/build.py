"""``esp-cabundle build``."""

from __future__ import annotations

from pathlib import Path

import click

from ..bundle import POLICY_NAMES
from ..text import plural
from ._common import at_option, json_option, parse_at, quiet_option


@click.command()
@click.option(
    "-c",
    "--config",
    "config_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Config file (default: ./cabundle.yaml if present).",
)
@click.option(
    "--preset",
    "presets",
    multiple=True,
    metavar="NAME",
    help="Start from a preset (repeatable; replaces the config's preset).",
)
@click.option(
    "--root",
    "roots",
    multiple=True,
    metavar="ALIAS|SHA256|FILE",
    help="Add a root by alias, SHA-256 fingerprint or certificate file (repeatable).",
)
@click.option(
    "--exclude",
    "excludes",
    multiple=True,
    metavar="ALIAS|SHA256|FILE",
    help="Drop a root from the selection (repeatable).",
)
@click.option(
    "-f",
    "--format",
    "formats",
    multiple=True,
    metavar="FORMAT",
    help="Output format: pem, der, c, json, ... (repeatable; replaces the config's outputs).",
)
@click.option(
    "-o",
    "--output",
    "output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Output path (with a single --format).",
)
@click.option(
    "--service-until",
    metavar="DATE",
    help="Devices' end of service: every root must stay valid until then.",
)
@click.option("--max-bytes", type=click.IntRange(min=1), help="Size budget for ca.pem in bytes.")
@click.option(
    "--allow",
    "allow",
    multiple=True,
    type=click.Choice(POLICY_NAMES),
    help="Relax a policy (repeatable).",
)
@click.option(
    "--c-name", default=None, metavar="IDENT", help="Variable name for C output (default s_pem)."
)
@click.option(
    "--c-style",
    type=click.Choice(["s_pem", "array"]),
    default=None,
    help="C output shape: mDash 's_pem' pointer or 'array' with a length.",
)
@click.option(
    "--idf-version",
    metavar="VERSION",
    help="ESP-IDF (5.4) or arduino-X.Y version the idf-bundle output is for: picks v1 or v2.",
)
@click.option(
    "--idf-filter",
    type=click.Path(dir_okay=False, path_type=Path),
    metavar="CSV",
    help="Keep only roots named in ESP-IDF's cmn_crt_authorities.csv (column 2).",
)
@click.option(
    "--locked", is_flag=True, help="Fail if the roots differ from cabundle.lock (for CI)."
)
@click.option("--no-lock", is_flag=True, help="Do not write cabundle.lock.")
@click.option("--dry-run", is_flag=True, help="Resolve and check, but write nothing.")
@click.option(
    "--no-check", is_flag=True, help="Write even if a configured target would refuse the bundle."
)
@at_option
@json_option
@quiet_option
def build(
    config_path: Path | None,
    presets: tuple[str, ...],
    roots: tuple[str, ...],
    excludes: tuple[str, ...],
    formats: tuple[str, ...],
    output: Path | None,
    service_until: str | None,
    max_bytes: int | None,
    allow: tuple[str, ...],
    c_name: str | None,
    c_style: str | None,
    idf_version: str | None,
    idf_filter: Path | None,
    locked: bool,
    no_lock: bool,
    dry_run: bool,
    no_check: bool,
    at: str | None,
    as_json: bool,
    quiet: bool,
) -> None:
    """Build a curated CA bundle from named roots and write it in the formats firmware uses.

    Without a config or flags, writes ./ca.pem from the default preset and a
    cabundle.lock that pins the roots' SHA-256 fingerprints. Nothing is written if any
    policy is violated (expired root, root expiring before --service-until, not a CA,
    over --max-bytes, not parseable by mbedTLS).

    \b
    Examples:
      esp-cabundle build
      esp-cabundle build --preset letsencrypt --root amazon-root-ca-1
      esp-cabundle build -f c --c-name s_pem -o src/ca_pem.h
      esp-cabundle build -c cabundle.yaml --locked        # CI: fail on drift
      esp-cabundle build --service-until 2036-01-01 --max-bytes 16384
      esp-cabundle build -f idf-bundle --idf-version 5.4 -o x509_crt_bundle.bin
    """
    from dataclasses import replace

    from ..build import LOCK_NAME, build_bundle, write_build
    from ..bundle import BundleSpec
    from ..config import Config, OutputSpec, find_config, load_config
    from ..dates import parse_when
    from ..errors import InputError
    from ..formats import FORMATS
    from ..formats.manifest import bundle_to_dict
    from ..ui import echo, emit_json, format_table, note

    when = parse_at(at)
    path = config_path or find_config()
    config = load_config(path) if path else Config(None, BundleSpec(), ())
    spec = config.spec
    if presets:
        spec = replace(spec, presets=presets)
    if roots:
        # Flags are relative to the working directory, config entries to the config.
        spec = replace(
            spec, roots=spec.roots + tuple(_cwd_relative(r, spec.base_dir) for r in roots)
        )
    if excludes:
        spec = replace(
            spec, excludes=spec.excludes + tuple(_cwd_relative(x, spec.base_dir) for x in excludes)
        )
    policy = spec.policy
    if service_until:
        policy = replace(policy, service_until=parse_when(service_until, what="--service-until"))
    if max_bytes:
        policy = replace(policy, max_bytes=max_bytes)
    if allow:
        policy = replace(policy, allow=policy.allow | frozenset(allow))
    spec = replace(spec, policy=policy)
    labels = config.section("idf_filter")
    if idf_filter is not None:
        from ..formats.idf_bundle import load_cmn_filter

        labels = load_cmn_filter(idf_filter)
    if labels is not None:
        spec = replace(spec, only_labels=labels)

    outputs = config.outputs
    if formats:
        unknown = [f for f in formats if f not in FORMATS]
        if unknown:
            raise InputError(
                f"unknown format '{unknown[0]}'", hint=f"formats: {', '.join(FORMATS)}"
            )
        outputs = tuple(OutputSpec(f, Path(FORMATS[f].default_path)) for f in formats)
    if not outputs:
        outputs = (OutputSpec("pem", Path("ca.pem")),)
    if output is not None:
        if len(outputs) != 1:
            raise InputError(
                "-o/--output needs exactly one output format", hint="use -f FORMAT -o PATH"
            )
        outputs = (replace(outputs[0], path=output),)
    if c_name or c_style:
        opts = {k: v for k, v in (("name", c_name), ("style", c_style)) if v}
        outputs = tuple(
            replace(o, options={**o.options, **opts}) if o.format == "c" else o for o in outputs
        )

    if idf_version:
        if not any(o.format == "idf-bundle" for o in outputs):
            raise InputError(
                "--idf-version applies to the idf-bundle output only",
                hint="add -f idf-bundle",
            )
        outputs = tuple(
            replace(o, options={**o.options, "idf_version": idf_version})
            if o.format == "idf-bundle"
            else o
            for o in outputs
        )

    lock_dir = config.path.parent if config.path else Path(".")
    lock_path = lock_dir / LOCK_NAME
    result = build_bundle(
        spec,
        outputs,
        at=when,
        lock_path=None if (no_lock and not locked) else lock_path,
        locked=locked,
    )
    if not no_check and config.section("targets"):
        # The config's targets must accept the bundle; imported only when there are any,
        # as the verifier is the heaviest module on this path.
        from ..check import check_build_targets

        check_build_targets(config, result.bundle, at=when, until=spec.policy.service_until)
    written = [] if dry_run else write_build(result)

    if as_json:
        doc = bundle_to_dict(result.bundle)
        doc.update(
            {
                "outputs": [
                    {"format": o.format, "path": str(o.path), "bytes": len(d)}
                    for o, d in result.outputs
                ],
                "lock": str(result.lock_path) if result.lock_path else None,
                "notes": list(result.notes),
                "allowed_violations": [v.message for v in result.violations if v.allowed],
                "written": [str(p) for p in written],
            }
        )
        emit_json(doc)
        return
    source = (
        f"preset {', '.join(repr(p) for p in spec.effective_presets)}"
        if spec.effective_presets
        else "the listed roots"
    )
    if spec.effective_presets and spec.roots:
        source += " plus the listed roots"
    echo(
        f"{plural(len(result.bundle), 'root')} from {source} "
        f"(Mozilla store: certifi {result.bundle.mozilla_version})",
        quiet=quiet,
    )
    rows = [
        (
            e.label[:44],
            e.certificate.key_description,
            e.certificate.not_after.date().isoformat(),
            e.certificate.sha256[:16],
            e.source,
        )
        for e in result.bundle.entries
    ]
    echo(
        format_table(("root", "key", "not after", "sha256", "source"), rows, indent=2), quiet=quiet
    )
    for n in result.notes:
        note(f"note: {n}", quiet=quiet)
    for v in result.violations:
        if v.allowed:
            note(f"allowed: {v.message}", quiet=quiet)
    verb = "Would write" if dry_run else "Wrote"
    parts = [f"{o.path} ({len(d):,} bytes)" for o, d in result.outputs]
    if result.lock_path is not None:
        parts.append(str(result.lock_path))
    echo(f"{verb} {', '.join(parts)}", quiet=quiet)


def _cwd_relative(spec: str, base_dir: Path) -> str:
    """A flag naming an existing file is taken relative to the working directory."""
    p = Path(spec)
    if not p.is_absolute() and p.exists():
        return str(p.resolve())
    return spec
