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
from pathlib import Path
from typing import TYPE_CHECKING

from ..boards import list_boards

if TYPE_CHECKING:
    from collections.abc import Iterator
    from datetime import datetime

    from ..boards import Board
    from ..check import ItemResult
    from ..findings import Report
    from ..timeline import FailingSince

# The preset of the fix line when the board's firmware has none named after it: the line
# runs as copied, and 'flash'/'update-dump' gate it under the board's rules first.
_DEFAULT_PRESET = "default"


def with_reach_note(report: Report, board: Board | None, at: datetime) -> Report:
    """``report`` (a unit's or a whole-flash dump's) with one more note when the CA file
    its board reads lets no chain of the board's servers through at ``at``; ``board``:
    the one named (--board: it replaces what the files mark, and a note says where it
    contradicts them), else the one the dump's files mark, if exactly one. --json gets
    the board used (``how``: named or inferred) and the verdict (``reach``)."""
    if report.kind not in ("unit", "flash dump"):
        return report
    # deferred: the check and its verifier load for a unit or dump, not for a CA file
    from ..board_links import board_links, link_items
    from ..check import check_items  # deferred: as above
    from ..own_servers import own_server_evidence  # deferred: as above
    from ..verify import TrustSet  # deferred: as above

    named = board is not None
    others: tuple[Board, ...] = ()  # boards of the marked firmware not reading the file
    if board is None:
        board, others = _marked_board(report)
    if board is None:
        return report
    how = "named" if named else "inferred"
    said = {"name": board.name, "version": board.version, "how": how}
    notes = [*report.notes, *(_contradictions(report, board) if named else ())]
    reach: dict[str, object] | None = None
    links = board_links(board)
    if board.filesystem is not None and links.judged:
        items = link_items(board, links)
        # A saved chains/HOST.pem is judged too, as update-dump and flash judge it.
        saved, _ = own_server_evidence(links.judged, Path("."), board.device_profile(), at=at)
        for ca in _ca_files(report, board):
            certs = [f.certificate for f in ca.findings if f.certificate and not f.unparseable]
            trust = TrustSet.from_certificates(certs, source=ca.source)
            judged = check_items(trust, [*items, *saved], at=at)
            failed = [r for r in judged.results if not r.timeline.start.ok]
            reach = _reach(ca, failed, firm=not others)
            if failed:
                notes.append(_line(report, board, ca, _earliest(failed), others))
                break
    extra = (*report.extra, ("board", said), ("reach", reach))
    return replace(report, notes=tuple(notes), extra=extra)


def _earliest(failed: list[ItemResult]) -> ItemResult:
    """Of the failing chains (the roadmap's, a saved one's), the one failing since the
    earliest date: what the unit has been cut off for at least (the first on a tie)."""

    def since(r: ItemResult) -> datetime:
        tl = r.timeline
        return tl.failing_since.date if tl.failing_since is not None else tl.start.at

    return min(failed, key=since)


def _reach(ca: Report, failed: list[ItemResult], *, firm: bool) -> dict[str, object]:
    """--json's ``reach``: whether the CA file verifies the board's servers and, when
    not, since when as check --json says it (``failing_since``, with ``roadmap_since``);
    ``firm``: false when the dump's files leave open whether the file is read."""
    if not failed:
        return {"ok": True, "ca_file": ca.source, "firm": firm}
    first = _earliest(failed)
    since = first.timeline.failing_since
    return {
        "ok": False,
        "ca_file": ca.source,
        "firm": firm,
        "server": first.item.hostname or first.item.name,
        "failing_since": since.to_dict() if since else None,
    }


def _line(
    report: Report, board: Board, ca: Report, first: ItemResult, others: tuple[Board, ...]
) -> str:
    """The note: the server, since when and why, and the command that fixes it (the
    board as given: a version typed is kept, a default one is not spelled out). With
    ``others`` (a dump whose files mark a firmware some versions of which never read the
    CA file) no verdict: whether the unit fails depends on its version; with a board
    that does not fit the unit, no command that 'flash' would refuse."""
    tl = first.timeline
    server = first.item.hostname or first.item.name
    when = _since(tl.failing_since)
    path = ca.source.rsplit(":", 1)[-1]
    why = f"its {path} does not verify the chain {server} sends{_code(tl.start.error)}"
    misfit = _misfit(report, board)
    if misfit is not None and report.kind != "unit":  # said in a note of its own
        misfit = f"board {board.name} does not fit this dump (see the note saying why)"
    fix = f"; fix: {_fix(report, board)}" if misfit is None else f"; {misfit}"
    if others:
        ignore = " or ".join(f"{_versions(b)} (board {b.name})" for b in others)
        return (
            f"whether a unit holding this flash completes its TLS handshake to {server} "
            f"depends on its firmware version: {_versions(board)} (board {board.name}) "
            f"reads {path}, which does not verify the chain {server} sends"
            f"{_code(tl.start.error)}{when}; {ignore} never reads it (its CA is compiled "
            f"in); for {_versions(board)}, {fix.removeprefix('; ')}"
        )
    who = "this unit fails" if report.kind == "unit" else "a unit holding this flash fails"
    return f"{who} its TLS handshake to {server}{when}: {why}{fix}"


def _since(since: FailingSince | None) -> str:
    """`` since DATE (WHY)``, `` at least since ...`` when the chain bounds it only from
    below, with the roadmap's date beside it as check says it (:attr:`roadmap_text`)."""
    if since is None:
        return ""
    lead = "since" if since.bounded else "at least since"
    also = f"; {since.roadmap_text}" if since.roadmap_since is not None else ""
    return f" {lead} {since.date.date().isoformat()} ({since.why}{also})"


def _versions(board: Board) -> str:
    """``mdash 1.2.12-1.2.14``: the firmware versions a board describes."""
    fw = board.firmware
    return board.name if fw is None else f"{fw.name} {fw.versions.replace('..', '-')}"


def _fix(report: Report, board: Board) -> str:
    """The command that replaces the CA file, with the preset named after the board's
    firmware (mdash-arduino: 'mdash', as README recommends), else the default one. There
    is no option that ignores ./cabundle.yaml, so where there is one the line says so."""
    # deferred: the preset table loads only once a note is written
    from ..catalog import PRESETS
    from ..config import CONFIG_NAME  # deferred: as above

    fw = board.firmware
    preset = fw.name if fw is not None and fw.name in PRESETS else _DEFAULT_PRESET
    name = board.full_name if board.version_given else board.name
    if report.kind == "unit":
        words = ["flash", "--port", report.source, "--board", name, "--preset", preset]
    else:
        words = ["update-dump", report.source, "--board", name, "--preset", preset]
        words += ["-o", "new.bin"]
    line = f"esp-cabundle {shlex.join(words)}"
    if Path(CONFIG_NAME).exists():
        line += (
            f" (run where no {CONFIG_NAME} is: the one here would add its roots, "
            "excludes and policies to the preset)"
        )
    return line


def _contradictions(report: Report, board: Board) -> list[str]:
    """Where the board named for a dump (or unit) contradicts what its files say: a
    board keeping its CA in its firmware reads none of them; a dump whose partitions
    the board reads hold no file at its CA path (no verdict then); a file marking
    another firmware (/mdash.cfg under mongoose-os-esp32). A unit's misfits are said
    by reading (:func:`_misfit`)."""
    # deferred: board_fit reads every board file; only for a board named on a dump
    from ..board_fit import foreign_mark
    from ..board_links import board_links  # deferred: as above

    fs = board.filesystem
    if fs is None:
        links = board_links(board)
        said = "; ".join(f"it verifies {c.host} with {what}" for c, what in links.unread)
        who = f"{links.who} (board {board.name})" if links.who else f"board {board.name}"
        return [
            f"{who} reads no CA file from a file system"
            + (f": {said}" if said else "")
            + "; the CA files shown here do not decide its TLS handshakes"
        ]
    out = []
    if report.kind == "flash dump":
        misfit = _misfit(report, board)
        held = [p for p in _fs_parts(report, board) if f"file {fs.ca_path}" in dict(p.facts)]
        if misfit is not None:
            out.append(misfit)
        elif not held:
            many = "partitions" if len(fs.partitions) > 1 else "partition"
            named = f"{many} {'+'.join(fs.partitions)}"
            where = named if fs.partitions else f"its {fs.fs_type} partition"
            out.append(
                f"board {board.name} reads {fs.ca_path} on {fs.fs_type} in {where}: this "
                f"dump holds no {fs.ca_path} there, so its TLS handshakes are not judged "
                "(esp-cabundle boards lists the others)"
            )
    for part in report.children:
        kind = dict(part.facts).get("file system")
        paths = [k.removeprefix("file ") for k, _ in part.facts if k.startswith("file /")]
        mark = foreign_mark(board, paths, fs_type=str(kind)) if kind is not None else None
        if mark is not None:
            names = f" (board {mark.names})" if mark.names else ""
            name = part.source.rsplit(":", 1)[-1]
            out.append(
                f"its {name} partition holds {mark.path}, which marks {mark.firmware}"
                f"{names}, not board {board.name}'s firmware: the board named may be "
                "the wrong one"
            )
            break
    return out


def _fs_parts(report: Report, board: Board) -> Iterator[Report]:
    """The partitions of ``report`` holding a file system of the board's type that the
    board reads (named, or any when it names them by subtype)."""
    fs = board.filesystem
    assert fs is not None
    for part in report.children:
        name = part.source.rsplit(":", 1)[-1]
        if dict(part.facts).get("file system") != fs.fs_type:
            continue
        if not fs.partitions or name in fs.partitions:
            yield part


def _misfit(report: Report, board: Board) -> str | None:
    """Why 'flash --board' (a dump: 'update-dump --board') would refuse it (a partition
    the board names holds another file system than the board's, or, on a unit, the
    board's partitions are missing, as inspect's own note says); None when it fits."""
    fs = board.filesystem
    assert fs is not None
    for part in report.children:
        name = part.source.rsplit(":", 1)[-1]
        facts = dict(part.facts)
        kind = facts.get("file system")
        if kind is None or (fs.partitions and name not in fs.partitions):
            continue
        profile = facts.get("profile")
        if kind != fs.fs_type or (kind == "spiffs" and profile not in (None, fs.profile)):
            held = f"{kind} ({profile})" if kind == "spiffs" and profile else str(kind)
            own = f"{fs.fs_type} ({fs.profile})" if fs.fs_type == "spiffs" else fs.fs_type
            unit = report.kind == "unit"
            verb = "flash" if unit else "update-dump"
            return (
                f"board {board.name} does not fit this {'unit' if unit else 'dump'}: its "
                f"{name} partition holds {held}, not {own}; '{verb} --board {board.name}' "
                "would refuse it (esp-cabundle boards lists the others)"
            )
    if report.kind != "unit":
        return None
    said = f"board {board.name} does not fit this unit"  # reading's note: partitions missing
    return next((n for n in report.notes if n.startswith(said)), None)


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


def _marked_board(report: Report) -> tuple[Board | None, tuple[Board, ...]]:
    """The one shipped board the dump's files mark (``/mdash.cfg`` on a SPIFFS
    partition named ``spiffs``: mdash-arduino), as :func:`.board_fit.boards_marked`
    tells them (None when none or several fit), and the boards of the same firmware that
    never read a CA file (mdash 1.2.15+, CA compiled in): a unit upgraded to them keeps
    the old files, so the dump alone does not say whether the file is read."""
    # deferred: board_fit reads every board file; only a dump or unit without --board
    from ..board_fit import boards_marked

    found: set[str] = set()
    boards = {b.name: b for b in list_boards()}
    unread: set[str] = set()
    for part in report.children:
        facts = dict(part.facts)
        kind = facts.get("file system")
        if kind is None:
            continue
        name = part.source.rsplit(":", 1)[-1]
        paths = [k.removeprefix("file ") for k, _ in part.facts if k.startswith("file /")]
        for b in boards_marked(list(boards.values()), paths):
            fs = b.filesystem
            if fs is None:
                unread.add(b.name)
            elif fs.fs_type != kind:
                continue
            elif not fs.partitions or name in fs.partitions:
                found.add(b.name)
    if len(found) != 1:
        return None, ()
    return boards[found.pop()], tuple(boards[n] for n in sorted(unread))
