"""A board's firmware connections as a write sees them (split from :mod:`.gate`, which
re-exports these names): which connections trust the file written and are judged
against their servers, and notes on those the file does not change."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .boards import Board
    from .check import CheckItem
    from .firmware import Connection, ConnectionCa

__all__ = ["BoardLinks", "board_links", "link_items"]


@dataclass(frozen=True, slots=True)
class BoardLinks:
    """A board's firmware connections as a write sees them: those that trust the file
    written (``judged``, with the file's path as the firmware names it), notes on
    those the file does not change, and those among them with a server, each with what
    it trusts instead (``unread``: mDash 1.2.16's mdash.net, "its built-in ISRG Root X1"):
    a write does not judge their server (:func:`.own_servers.unread_servers`)."""

    judged: tuple[tuple[Connection, ConnectionCa], ...] = ()
    notes: tuple[str, ...] = ()
    who: str = ""
    unread: tuple[tuple[Connection, str], ...] = ()


def board_links(
    board: Board, ca_path: str | None = None, *, own_bundle: bool = False
) -> BoardLinks:
    """What writing the CA at ``ca_path`` (default: the board's CA path) changes among
    the connections of ``board``'s firmware version. ``own_bundle``: the write is an
    ESP-IDF bundle the project loads (or the ca.pem ESP-IDF builds its bundle from,
    CONFIG_MBEDTLS_CUSTOM_CERTIFICATE_BUNDLE_PATH): connections that trust "their
    certificate bundle" trust that one, so no note says they keep the default bundle."""
    conns = board.connection_cas()
    if board.firmware is None or not conns:
        return BoardLinks()
    # deferred: firmware data is read only for boards that name their firmware
    from .firmware import ca_set_info, load_firmware

    who = f"{load_firmware(board.firmware.name).title} {board.version}"
    path = ca_path or (board.filesystem.ca_path if board.filesystem is not None else None)
    judged, notes, unread = [], [], []
    for conn, ca in conns:
        if path is not None and ca.reads(path):
            if conn.server:  # a kind of server with a roadmap: judged offline
                judged.append((conn, ca))
            continue
        title = ca_set_info(ca.ca_set).title
        if ca.kind == "builtin":
            notes.append(
                f"{who} does not read {ca.path or path or 'a CA file'} for {conn.label}; it "
                f"trusts its built-in {title} (the file written does not change that)"
            )
            instead = f"its built-in {title}"
        elif ca.kind == "file":
            notes.append(f"{who} reads {ca.path} for {conn.label}, not {path or 'this file'}")
            instead = str(ca.path)
        elif own_bundle:
            continue
        else:
            notes.append(
                f"{who} trusts its default certificate bundle ({title}) for {conn.label}, "
                "unless the project configures its own bundle (an idf-bundle output)"
            )
            instead = f"its certificate bundle ({title})"
        if conn.host:
            unread.append((conn, instead))
    return BoardLinks(tuple(judged), tuple(notes), who, tuple(unread))


def link_items(board: Board, links: BoardLinks) -> list[CheckItem]:
    """The chains the servers of ``links.judged`` send over time (their roadmaps), each
    judged under ``board``'s rules with what that connection sets (the server name)."""
    # deferred: the check and its verifier (~20 ms) load only when there are links
    from .check import board_server_items

    device = board.device_profile()
    own: list[CheckItem] = []
    for conn, ca in links.judged:
        dev = device if ca.hostname is None else replace(device, sets_hostname=ca.hostname)
        for item in board_server_items(board, dev, connections=[(conn, ca)]):
            own.append(replace(item, name=conn.name, hostname=conn.host))
    return own
