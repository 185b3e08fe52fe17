"""inspect's line for a unit or dump whose CA file cuts its board off its own servers.

A DST-only ``/ca.pem`` showed as one EXPIRED row, exit 0, and nothing said that the unit
can no longer reach mdash.net, nor what to run. The verdict is the write gate's own
(:func:`.board_links.link_items`: the chains the board's servers send over time, judged
under its rules), never one made up here; the line says since when the handshake fails
and the command that replaces the CA file (``flash`` on a unit, ``update-dump`` on a
dump). Exit codes are left to --fail-on/--fail-within.
"""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from ..boards import list_boards
from ..spelling import shell_join

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence
    from datetime import datetime

    from ..board_links import BoardLinks
    from ..boards import Board
    from ..check import CheckItem, ItemResult
    from ..findings import Report
    from ..targets import Target
    from ..timeline import FailingSince

# The preset of the fix line when the board's firmware has none named after it: the line
# runs as copied, and 'flash'/'update-dump' gate it under the board's rules first.
_DEFAULT_PRESET = "default"


def with_reach_note(
    report: Report,
    board: Board | None,
    at: datetime,
    *,
    base: Path = Path("."),
    targets: Sequence[Target] = (),
) -> Report:
    """``report`` (a unit's or a whole-flash dump's) with one more note when the CA file
    its board reads lets no chain of the board's servers through at ``at`` (or holds no
    certificate); ``board``: the one named (--board: it replaces what the files mark, and
    a note says where it contradicts them), else the one the dump's files mark, if exactly
    one. --json gets the board used (``board``, ``board_version``: as typed, else null;
    ``board_how``: named or inferred, as other commands name a board) and the verdict
    (``reach``). A saved ``base``/chains/HOST.pem is judged for a named board only (see
    :func:`_saved_chains`); ``base``: the project's directory (-c's), else the working
    directory; ``targets``: its config's, whose ``chain:`` is read for their host."""
    if report.kind not in ("unit", "flash dump"):
        return report
    # deferred: the check and its verifier load for a unit or dump, not for a CA file
    from ..board_links import board_links, link_items
    from ..check import check_items  # deferred: as above
    from ..verify import TrustSet  # deferred: as above

    named = board is not None
    others: tuple[Board, ...] = ()  # boards of the marked firmware not reading the file
    how = "named with --board"
    if board is None:
        board, others, how = _marked_board(report)
    if board is None:
        return report
    notes = [*report.notes, *(_contradictions(report, board) if named else ())]
    reach: dict[str, object] | None = None
    links = board_links(board)
    held = list(_ca_files(report, board)) if board.filesystem is not None else []
    if held and links.judged:
        items = link_items(board, links)
        saved, evidence = _saved_chains(links, board, at, base, targets) if named else ([], ())
        where = len(notes)  # the evidence is said before the verdict, once one is given
        for part, ca in held:
            found = ca.findings if ca is not None else ()
            certs = [f.certificate for f in found if f.certificate and not f.unparseable]
            if ca is None or not certs:
                notes.append(_no_certificate(report, board, part, links, others))
                continue
            trust = TrustSet.from_certificates(certs, source=ca.source)
            judged = check_items(trust, [*items, *saved], at=at)
            failed = [r for r in judged.results if not r.timeline.start.ok]
            reach = _reach(ca, failed, saved, firm=not others)
            if failed:
                notes.append(_line(report, board, ca, _earliest(failed), saved, others))
                break
        notes[where:where] = evidence if reach is not None else ()
    said = (
        ("board", board.name),
        ("board_version", board.version if board.version_given else None),
        ("board_how", "named" if named else "inferred"),
    )
    extra = (*report.extra, *said, ("reach", reach))
    facts, words = _board_fact(report, board, how)
    return replace(report, notes=tuple(notes), extra=extra, facts=facts, words=words)


def _board_fact(
    report: Report, board: Board, how: str
) -> tuple[tuple[tuple[str, str | int], ...], tuple[tuple[str, str], ...]]:
    """``report``'s facts and words with the board its verdict was judged as: the text
    said nothing of it (--json had ``board`` and ``board_how``). The fact is the name, as
    reading a unit with --board gives it (moved last, never said twice: a unit reads as
    its dump); its words say the version typed and how it was known (``board:
    mdash-arduino@1.2.13 (named with --board)``, ``board: mdash-arduino (inferred from
    /mdash.cfg in partition spiffs)``)."""
    facts = (*((k, v) for k, v in report.facts if k != "board"), ("board", board.name))
    shown = board.full_name if board.version_given else board.name
    return facts, (*report.words, ("board", f"{shown} ({how})"))


def _saved_chains(
    links: BoardLinks, board: Board, at: datetime, base: Path, targets: Sequence[Target]
) -> tuple[list[CheckItem], tuple[str, ...]]:
    """The project's saved chains/HOST.pem (``base``: beside the config -c names, else
    the working directory's; a config target's ``chain:`` for its host, as check reads
    them) of the board's servers, judged as
    update-dump --board judges them, and the notes saying what each server was judged on
    (one that cannot be read is said, never an error: the user did not name it). Only
    for a board named: without --board the dump alone is looked at, its verdict hedged,
    and a chains/ folder of whatever project is here must not change it unasked."""
    # deferred: loaded with the check, for a named board's unit or dump only
    from ..own_servers import own_server_evidence

    profile = board.device_profile()
    configured = {t.host.lower().rstrip("."): t for t in targets if t.host}
    return own_server_evidence(
        links.judged, base, profile, at=at, unread_note=True, configured=configured
    )


def _earliest(failed: list[ItemResult]) -> ItemResult:
    """Of the failing chains (the roadmap's, a saved one's), the one failing since the
    earliest date: what the unit has been cut off for at least (the first on a tie)."""

    def since(r: ItemResult) -> datetime:
        tl = r.timeline
        return tl.failing_since.date if tl.failing_since is not None else tl.start.at

    return min(failed, key=since)


def _reach(
    ca: Report, failed: list[ItemResult], saved: list[CheckItem], *, firm: bool
) -> dict[str, object]:
    """--json's ``reach``: whether the CA file verifies the board's servers and, when
    not, which (``hostname``, as check --json names it), since when as check --json says
    it (``failing_since``, with ``roadmap_since``) and the saved chain file that verdict
    rests on (``chain_file``; null: the shipped roadmap's); ``firm``: false when the
    dump's files leave open whether the file is read."""
    if not failed:
        return {"ok": True, "ca_file": ca.source, "firm": firm}
    first = _earliest(failed)
    since = first.timeline.failing_since
    return {
        "ok": False,
        "ca_file": ca.source,
        "firm": firm,
        "hostname": first.item.hostname or first.item.name,
        "failing_since": since.to_dict() if since else None,
        "chain_file": _saved_file(first, saved),
    }


def _saved_file(result: ItemResult, saved: list[CheckItem]) -> str | None:
    """The saved chain file ``result`` judged (chains/mdash.net.pem), None for the
    chains the tool ships."""
    return result.item.chain.source if any(result.item is s for s in saved) else None


def _line(
    report: Report,
    board: Board,
    ca: Report,
    first: ItemResult,
    saved: list[CheckItem],
    others: tuple[Board, ...],
) -> str:
    """The note: the server, since when and why, and the command that fixes it (the
    board as given: a version typed is kept, a default one is not spelled out). With
    ``others`` (a dump whose files mark a firmware some versions of which never read the
    CA file) no verdict: whether the unit fails depends on its version; with a board
    that does not fit the unit, no command that 'flash' would refuse. A verdict resting
    on a saved chain names its file."""
    tl = first.timeline
    server = first.item.hostname or first.item.name
    when = _since(tl.failing_since)
    path = _part_name(ca)
    file = _saved_file(first, saved)
    sent = f"sent, as saved in {file}" if file is not None else "sends"
    why = f"its {path} does not verify the chain {server} {sent}{_code(tl.start.error)}"
    fix = _fix_or_misfit(report, board)
    if others:
        ignore = " or ".join(f"{_versions(b)} (board {b.name})" for b in others)
        return (
            f"whether a unit holding this flash completes its TLS handshake to {server} "
            f"depends on its firmware version: {_versions(board)} (board {board.name}) "
            f"reads {path}, which does not verify the chain {server} sends"
            f"{_code(tl.start.error)}{when}; {ignore} never reads it (its CA is compiled "
            f"in); for {_versions(board)}, {fix}"
        )
    who = "this unit fails" if report.kind == "unit" else "a unit holding this flash fails"
    return f"{who} its TLS handshake to {server}{when}: {why}; {fix}"


def _no_certificate(
    report: Report, board: Board, part: Report, links: BoardLinks, others: tuple[Board, ...]
) -> str:
    """The note for a CA file the board reads that holds no certificate (empty, or none
    that parses): nothing in it verifies the board's servers, so no verdict is given,
    and ``reach`` stays null; the partition's own note says why."""
    fs = board.filesystem
    assert fs is not None
    servers = " and ".join(dict.fromkeys(c.host or c.name for c, _ in links.judged))
    reader = f"{_versions(board)} (board {board.name})" if others else f"board {board.name}"
    for_them = f"for {_versions(board)}, " if others else ""
    return (
        f"its {_part_name(part)} partition's {fs.ca_path}, which {reader} reads, holds no "
        f"certificate (the partition's note says why): nothing in it verifies the chain "
        f"{servers} sends, so its TLS handshakes are not judged; "
        f"{for_them}{_fix_or_misfit(report, board)}"
    )


def _fix_or_misfit(report: Report, board: Board) -> str:
    """``fix: COMMAND``, or why the board does not fit the unit or dump (a dump's misfit
    is said in a note of its own, which this points to)."""
    misfit = _misfit(report, board)
    if misfit is not None and report.kind != "unit":
        return f"board {board.name} does not fit this dump (see the note saying why)"
    return f"fix: {_fix(report, board)}" if misfit is None else misfit


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
    line = f"esp-cabundle {shell_join(words)}"
    if os.path.exists(CONFIG_NAME):
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
        held = list(_ca_files(report, board))
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
        paths = _file_paths(part)
        mark = foreign_mark(board, paths, fs_type=str(kind)) if kind is not None else None
        if mark is not None:
            names = f" (board {mark.names})" if mark.names else ""
            out.append(
                f"its {_part_name(part)} partition holds {mark.path}, which marks {mark.firmware}"
                f"{names}, not board {board.name}'s firmware: the board named may be "
                "the wrong one"
            )
            break
    return out


def _misfit(report: Report, board: Board) -> str | None:
    """Why 'flash --board' (a dump: 'update-dump --board') would refuse it (a partition
    the board names holds another file system than the board's, or, on a unit, the
    board's partitions are missing, as inspect's own note says); None when it fits."""
    fs = board.filesystem
    assert fs is not None
    for part in report.children:
        name = _part_name(part)
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


def _ca_files(report: Report, board: Board) -> Iterator[tuple[Report, Report | None]]:
    """Each partition of ``report`` that ``board`` reads (one it names; when it names
    none, one holding its file-system type) holding a file at its CA path, with that
    file's report (None when it holds no certificate: no report is made for it). The
    one selector of the reach verdict and of the note saying there is no such file."""
    fs = board.filesystem
    assert fs is not None
    for part in report.children:
        facts = dict(part.facts)
        if facts.get("file system") is None:
            continue
        if fs.partitions and _part_name(part) not in fs.partitions:
            continue
        if not fs.partitions and facts["file system"] != fs.fs_type:
            continue
        ca = next((f for f in part.children if _part_name(f) == fs.ca_path), None)
        if ca is not None or fs.ca_path in _file_paths(part):
            yield part, ca if ca is not None and ca.findings else None


def _part_name(r: Report) -> str:
    """The last part of a report's source: ``spiffs`` of ``dump.bin:spiffs``, ``/ca.pem``
    of ``dump.bin:spiffs:/ca.pem``."""
    return r.source.rsplit(":", 1)[-1]


def _file_paths(part: Report) -> list[str]:
    """The paths of the files a file-system partition's report lists (its ``file /PATH``
    facts)."""
    return [k.removeprefix("file ") for k, _ in part.facts if k.startswith("file /")]


def _marked_board(report: Report) -> tuple[Board | None, tuple[Board, ...], str]:
    """The one shipped board the dump's files mark (``/mdash.cfg`` on a SPIFFS
    partition named ``spiffs``: mdash-arduino), as :func:`.board_fit.boards_marked`
    tells them (None when none or several fit), and the boards of the same firmware that
    never read a CA file (mdash 1.2.15+, CA compiled in): a unit upgraded to them keeps
    the old files, so the dump alone does not say whether the file is read; and how it
    was inferred (``inferred from /mdash.cfg in partition spiffs``)."""
    # deferred: board_fit reads every board file; only a dump or unit without --board
    from ..board_fit import boards_marked

    found: set[str] = set()
    boards = {b.name: b for b in list_boards()}
    unread: set[str] = set()
    marks: dict[str, list[str]] = {}  # each board found: the files that mark it, where
    for part in report.children:
        facts = dict(part.facts)
        kind = facts.get("file system")
        if kind is None:
            continue
        name = _part_name(part)
        for b in boards_marked(list(boards.values()), _file_paths(part)):
            fs = b.filesystem
            if fs is None:
                unread.add(b.name)
            elif fs.fs_type != kind:
                continue
            elif not fs.partitions or name in fs.partitions:
                found.add(b.name)
                held = [p for p in _file_paths(part) if p in fs.config_files]
                marks.setdefault(b.name, []).extend(f"{p} in partition {name}" for p in held)
    if len(found) != 1:
        return None, (), ""
    board = boards[found.pop()]
    how = " and ".join(marks.get(board.name, ()))
    how = f"inferred from {how}" if how else "inferred from its files"
    return board, tuple(boards[n] for n in sorted(unread)), how
