"""One rule for the evidence a board's own server is judged on, by every path.

A board's firmware connection that reads the CA file (mDash 1.2.13 verifies mdash.net
with ``/spiffs/ca.pem``) is judged by ``build``, ``pack``, ``update-dump``, ``flash``,
``push`` (all through :mod:`.gate`), ``push status``'s forecast and ``check --board`` on
the same evidence, in the same order:

1. the chains the tool ships for that kind of server (its roadmap: what the server sends
   over time), always: a saved chain is one snapshot and cannot tell the future;
2. the user's saved ``chains/HOST.pem`` too, when there is one (what the server sent when
   it was saved); the worse verdict counts.

Never a live capture: a ``push`` in the field is not blocked offline when the tool knows
the server's chains, and ``pack``, ``flash`` and ``push`` give one verdict for one CA. The
notes say which evidence was used, and when the shipped roadmap is older than a renewal
cycle (the server may have moved to a chain announced since), with the command that
saves what it sends today: ``chains show --host``, which needs no cabundle.yaml.

A server whose connection does not trust the file written (mDash 1.2.16 verifies
mdash.net with its built-in ISRG Root X1) is not judged by any of them: the CA cannot
cut it off, and ``push``'s ``--server mdash.net`` or ``--mdash`` must not be refused
offline for want of its chain (:func:`unread_servers`).
"""

from __future__ import annotations

import os
from collections.abc import Collection, Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from .chains import DEFAULT_PORT
from .check import CheckItem, target_items
from .errors import InputError
from .roadmaps import roadmap_server
from .spelling import shell_join
from .targets import Target, target_label
from .text import shown_path, typed_path

if TYPE_CHECKING:
    from .firmware import Connection, ConnectionCa
    from .verify import DeviceProfile

__all__ = ["is_own_server", "own_server_evidence", "save_chain_command", "unread_servers"]


def save_chain_command(host: str, path: Path) -> str:
    """The command that saves ``host``'s chain where every path reads it; ``chains
    show --host`` works with or without a cabundle.yaml (``chains pull`` needs one). The
    path quoted as it is, not made printable first: that escape named another file."""
    return shell_join(["esp-cabundle", "chains", "show", "--host", host, "-o", typed_path(path)])


def is_own_server(
    target: Target, connections: Sequence[tuple[Connection, ConnectionCa | None]]
) -> bool:
    """Whether ``target`` is the server of one of ``connections`` (the same host on the
    TLS port, no chain file of its own): it is then judged as that connection is."""
    return target.chain is None and any(
        conn.server and conn.host == target.host and target.port == DEFAULT_PORT
        for conn, _ in connections
    )


def unread_servers(
    targets: Sequence[Target],
    unread: Sequence[tuple[Connection, str]],
    who: str,
    *,
    listed: Collection[str] = (),
) -> tuple[list[Target], tuple[str, ...]]:
    """``targets`` without the servers of ``unread`` connections (each with what it trusts
    instead of the file written), and a note per server left out: ``who``'s units never
    verify it with the file, so no CA written can cut them off it. A host ``listed`` in
    the config's ``targets:`` is kept: the user asked for it by name."""
    kept: list[Target] = []
    notes: dict[str, str] = {}
    for t in targets:
        instead = next(
            (what for c, what in unread if is_own_server(t, [(c, None)])),
            None,
        )
        if instead is None or t.host in listed:
            kept.append(t)
        else:
            notes[t.name] = (
                f"{t.name} not judged: {who} verifies it with {instead}, not with the "
                "file written, so this CA cannot cut its units off it"
            )
    return kept, tuple(notes.values())


def own_server_evidence(
    connections: Sequence[tuple[Connection, ConnectionCa]],
    base: Path,
    device: DeviceProfile,
    *,
    at: datetime,
    unread_note: bool = False,
    configured: Mapping[str, Target] | None = None,
) -> tuple[list[CheckItem], tuple[str, ...]]:
    """The saved chains (``base/chains/HOST.pem``) of ``connections``' servers as items to
    judge beside their roadmaps, named as the connection, and one note per server saying
    what it was judged on. A config target on that host reads its saved chain itself:
    leave its connection out of ``connections``. ``unread_note``: a saved chain that
    cannot be read is a note (its server judged on the roadmap alone), not an error:
    ``inspect`` reads a working directory's chains the user never named. ``configured``:
    a config's targets by host (lower case), read where they say (their ``chain:``) as
    check reads them, for a caller judging them here rather than leaving them out."""
    items: list[CheckItem] = []
    notes: list[str] = []
    for conn, ca in connections:
        if not conn.server or not conn.host:
            continue
        roadmap, kind = roadmap_server(conn.server)
        target = (configured or {}).get(conn.host.lower().rstrip(".")) or Target(
            target_label(conn.host, DEFAULT_PORT), conn.host, DEFAULT_PORT
        )
        path = target.chain_path(base)
        shown = shown_path(path)  # as typed from here: a report the same in any checkout
        shipped = f"the chains the tool ships for it (roadmap {roadmap.name}: {kind.name})"
        stale = ""
        if roadmap.reviewed is not None and (roadmap.switched_by(roadmap.reviewed) or at) < at:
            stale = (
                f"; the tool's roadmap was last checked on {roadmap.reviewed.date()}: the "
                "server may send a chain announced since"
            )
        save = f"; save what it sends today with: {save_chain_command(conn.host, path)}"
        if os.path.isfile(path):
            dev = device if ca.hostname is None else replace(device, sets_hostname=ca.hostname)
            try:
                found = target_items([target], base, device=dev, live=False)
            except InputError as e:
                if not unread_note:
                    raise
                notes.append(
                    f"{conn.name}: judged on {shipped} alone: the saved {shown} cannot be "
                    f"read ({e.reason}){stale}{save}"
                )
                continue
            items += [replace(item, name=conn.name, hostname=conn.host) for item in found]
            notes.append(
                f"{conn.name}: judged on the saved {shown} and on {shipped}, the worse verdict "
                f"counts{stale}"
            )
        else:
            notes.append(
                f"{conn.name}: judged on {shipped}, no saved {shown}{stale}{save * bool(stale)}"
            )
    return items, tuple(notes)
