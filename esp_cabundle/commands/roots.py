"""``esp-cabundle roots``."""

from __future__ import annotations

from datetime import datetime

import click

from ..catalog import PRESETS, Catalog, Preset, entry_certificate, entry_status
from ..errors import InputError, VerdictError
from ..text import plural
from ..ui import Column, echo, emit_json, format_table, table_width
from .options import at_option, json_option, parse_at, wide_option

# On a narrow terminal the alias and the fingerprint (what 'build --root' and a search
# take) stay whole; names and statuses are cut, and source, key, then status left out.
_ROOT_COLUMNS = (
    "alias",
    Column("name", cut=True, least=12),
    "not after",
    Column("key", hide=2),
    "sha256",
    Column("source", hide=3),
    Column("status", cut=True, least=10, hide=1),
)


@click.command()
@click.argument("query", required=False)
@click.option("--presets", "show_presets", is_flag=True, help="List the presets and their reasons.")
@click.option(
    "--all", "show_all", is_flag=True, help="List every root, not only those with an alias."
)
@at_option
@json_option
@wide_option
def roots(
    query: str | None, show_presets: bool, show_all: bool, at: datetime | None, as_json: bool
) -> None:
    """List or search the root catalog: alias, subject, expiry, key, source, status.

    Without QUERY, lists the roots that have an alias (use --all for the whole Mozilla
    store). QUERY matches aliases, names, subjects and fingerprints; a QUERY that
    matches no root exits 1, as grep does (with --json: {"ok": false, ...}). With
    --presets, QUERY picks the preset of that name, or those holding a root it matches.

    \b
    Examples:
      esp-cabundle roots
      esp-cabundle roots isrg
      esp-cabundle roots 96bcec06
      esp-cabundle roots --presets
      esp-cabundle roots --presets aws-iot
      esp-cabundle roots --all --json
    """
    when = parse_at(at)
    catalog = Catalog.load()
    if show_presets:
        if show_all:
            raise InputError(
                "--all lists roots, --presets the presets: give one of them",
                hint="esp-cabundle roots --presets, or esp-cabundle roots --all",
            )
        chosen = _presets_matching(catalog, query)
        if as_json:
            presets = {p.name: {"reason": p.reason, "roots": list(p.aliases)} for p in chosen}
            emit_json({"presets": presets})
            return
        for p in chosen:
            echo(f"{p.name}: {p.reason}")
            echo(f"  roots: {', '.join(p.aliases)}")
        return
    entries = catalog.search(query)
    if not query and not show_all:
        entries = [e for e in entries if e.aliases]
    entries.sort(key=lambda e: (e.alias is None, e.alias or "", e.label))
    if query and not entries:  # a search that finds nothing says so in its exit code
        raise VerdictError(
            f"no root matches '{query}'",
            hint="QUERY matches aliases, names, subjects and fingerprints; "
            "'esp-cabundle roots --all' lists every root",
        )
    if as_json:
        out = []
        for e in entries:
            c = entry_certificate(e)
            out.append(
                {
                    "alias": e.alias,
                    "aliases": list(e.aliases),
                    "label": e.label,
                    "subject": c.subject,
                    "sha256": e.sha256,
                    "not_after": c.not_after.isoformat(),
                    "key": c.key_description,
                    "source": e.source,
                    "provenance": e.provenance,
                    "status": entry_status(e, when),
                }
            )
        emit_json({"certifi": catalog.mozilla_version, "roots": out})
        return
    rows = []
    for e in entries:
        c = entry_certificate(e)
        rows.append(
            (
                e.alias or "-",
                e.label,
                c.not_after.date().isoformat(),
                c.key_description,
                e.sha256[:16],
                e.source,
                entry_status(e, when),
            )
        )
    echo(format_table(_ROOT_COLUMNS, rows, width=table_width()))
    echo(f"\n{plural(len(rows), 'root')}; Mozilla store from certifi {catalog.mozilla_version}.")
    # The table shows 16 of the 64 hex digits: say where the whole fingerprint is.
    echo("Use an alias, or the full SHA-256 (roots QUERY --json), with 'build --root'.")


def _presets_matching(catalog: Catalog, query: str | None) -> list[Preset]:
    """The presets named ``query``, or holding a root it matches (as ``roots QUERY``
    does): ``roots --presets isrg`` lists the presets with an ISRG root, where it once
    listed every preset as if no QUERY had been given. None: exit 1, as a search."""
    if not query:
        return list(PRESETS.values())
    if query in PRESETS:
        return [PRESETS[query]]
    found = {a for e in catalog.search(query) for a in e.aliases}
    chosen = [p for p in PRESETS.values() if found & set(p.aliases)]
    if not chosen:
        raise VerdictError(
            f"no preset is named '{query}' or holds a root it matches",
            hint=f"presets: {', '.join(PRESETS)}; 'esp-cabundle roots --presets' lists them all",
        )
    return chosen
