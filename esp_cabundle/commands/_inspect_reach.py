"""inspect's line for a unit or dump whose CA file cuts its board off its own servers.

A DST-only ``/ca.pem`` showed as one EXPIRED row, exit 0, and nothing said that the unit
can no longer reach mdash.net, nor what to run. The verdict is the write gate's own
(:func:`.board_links.link_items`: the chains the board's servers send over time, judged
under its rules), never one made up here; the line says since when the handshake fails
and the command that replaces the CA file (``flash`` on a unit, ``update-dump`` on a
dump). Exit codes are left to --fail-on/--fail-within.
"""

from __future__ import annotations

import shlex
from dataclasses import replace
from typing import TYPE_CHECKING

from ..boards import list_boards

if TYPE_CHECKING:
    from collections.abc import Iterator
    from datetime import datetime

    from ..boards import Board
    from ..check import ItemResult
    from ..findings import Report

# The CA the fix line writes: it runs as copied, and 'flash'/'update-dump' gate it under
# the board's rules before anything is written.
_PRESET = ("--preset", "default")


def with_reach_note(report: Report, board: Board | None, at: datetime) -> Report:
    """``report`` (a unit's or a whole-flash dump's) with one more note when the CA file
    its board reads lets no chain of the board's servers through at ``at``; ``board``:
    the one given (--board), else the one the dump's files mark, if exactly one."""
    if report.kind not in ("unit", "flash dump"):
        return report
    # deferred: the check and its verifier load for a unit or dump, not for a CA file
    from ..board_links import board_links, link_items
    from ..check import check_items  # deferred: as above
    from ..verify import TrustSet  # deferred: as above

    board = board or _marked_board(report)
    if board is None or board.filesystem is None:
        return report
    items = link_items(board, board_links(board))
    if not items:  # its servers do not read the CA file, or have no known chains
        return report
    for ca in _ca_files(report, board):
        certs = [f.certificate for f in ca.findings if f.certificate and not f.unparseable]
        trust = TrustSet.from_certificates(certs, source=ca.source)
        judged = check_items(trust, items, at=at)
        failed = [r for r in judged.results if not r.timeline.start.ok]
        if failed:
            return replace(report, notes=(*report.notes, _line(report, board, ca, failed)))
    return report


def _line(report: Report, board: Board, ca: Report, failed: list[ItemResult]) -> str:
    """The note: the server, since when and why, and the command that fixes it (the
    board as given: a version typed is kept, a default one is not spelled out)."""
    first = failed[0]
    tl = first.timeline
    server = first.item.hostname or first.item.name
    since = tl.failing_since
    when = f" since {since.date.date().isoformat()} ({since.why})" if since else ""
    who = "this unit fails" if report.kind == "unit" else "a unit holding this flash fails"
    path = ca.source.rsplit(":", 1)[-1]
    name = board.full_name if board.version_given else board.name
    if report.kind == "unit":
        fix = ["flash", "--port", report.source, "--board", name, *_PRESET]
    else:
        fix = ["update-dump", report.source, "--board", name, *_PRESET]
        fix += ["-o", "new.bin"]
    return (
        f"{who} its TLS handshake to {server}{when}: its {path} does not verify the chain "
        f"{server} sends{_code(tl.start.error)}; fix: esp-cabundle {shlex.join(fix)}"
    )


def _code(error: int | None) -> str:
    """`` (-0x2700)``: the code the unit logs, as mbedTLS prints it."""
    return "" if error is None else f" ({f'-0x{-error:04x}' if error < 0 else error})"


def _ca_files(report: Report, board: Board) -> Iterator[Report]:
    """The reports of the CA file ``board`` reads, in each of its file-system partitions
    the report shows."""
    fs = board.filesystem
    assert fs is not None
    for part in report.children:
        name = part.source.rsplit(":", 1)[-1]
        if fs.partitions and name not in fs.partitions:
            continue
        for f in part.children:
            if f.source == f"{part.source}:{fs.ca_path}" and f.findings:
                yield f


def _marked_board(report: Report) -> Board | None:
    """The one shipped board the dump's files mark (``/mdash.cfg`` on a SPIFFS
    partition named ``spiffs``: mdash-arduino), as :func:`.board_fit.boards_marked`
    tells them; None when none or several fit."""
    # deferred: board_fit reads every board file; only a dump or unit without --board
    from ..board_fit import boards_marked

    found: set[str] = set()
    boards = {b.name: b for b in list_boards()}
    for part in report.children:
        facts = dict(part.facts)
        kind = facts.get("file system")
        if kind is None:
            continue
        name = part.source.rsplit(":", 1)[-1]
        paths = [k.removeprefix("file ") for k, _ in part.facts if k.startswith("file /")]
        for b in boards_marked(list(boards.values()), paths):
            fs = b.filesystem
            if fs is None or fs.fs_type != kind:
                continue
            if not fs.partitions or name in fs.partitions:
                found.add(b.name)
    return boards[found.pop()] if len(found) == 1 else None
