"""What ``push`` and ``push status`` print: the summary of a run, a dry run's survey,
and a ledger (every unit, --json and --csv: :mod:`._push_status_units`). Table cells are
cut with an ellipsis to fit the terminal (unit ids never are); --wide, --json and --csv
keep every text whole."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Collection, Sequence
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from ..file_kinds import shell_word
from ..push.ledger import STATES, UnitRow
from ..push.ledger_status import (
    IDS_PER_STATE,
    JUDGED_KEY,
    NONE_FOUND,
    NOT_DONE,
    NOTHING_JUDGED,
    ROADMAP_KEY,
    ROADMAP_WHY_KEY,
    UNIT_KEYS,
    UNKNOWN,
    UnitTally,
    campaign_facts,
    dark_order,
    in_place_would_help,
    is_past,
    read_consistently,
    unit_darks,
)
from ..push.room import room_cells
from ..text import plural, some
from ..ui import (
    Column,
    echo,
    emit_json,
    format_table,
    note,
    table_width,
)
from ._push_dates import Roadmap, dark_words, date_lines, roadmap_note
from ._push_status_units import status_next, told_first
from ._push_until import end_words

if TYPE_CHECKING:
    from pathlib import Path

    from ..push.campaign import CampaignReport, PushFile
    from ..push.ledger_status import StatusView
    from ..push.survey import SurveyRow

__all__ = [
    "SHOWN",
    "dry_run_exit_code",
    "render_dry_run",
    "render_report",
    "render_status",
]

SHOWN = 50


def _error_cell(row: Any) -> str:
    """A unit's last error for its table row: without the ``unit ID:`` the unit column
    already says, and, out of space, without the hint the footer says once (a table
    cell of some 300 characters said it again beside the footer)."""
    text = row.last_error or ""
    text = text.removeprefix(f"unit {row.id}: ")
    return _split_hint(text)[0] if _full(row) else text


def _full(row: Any) -> bool:
    """A unit failed for want of room (the footer's :func:`_full_units`)."""
    return row.state == "failed" and "out of space" in (row.last_error or "")


def _split_hint(error: str) -> tuple[str, str | None]:
    """A stored error and its hint, as the campaign joins them: ``TEXT (hint: HINT)``."""
    at = error.rfind(" (hint: ")
    if at < 0 or not error.endswith(")"):
        return error, None
    return error[:at], error[at + len(" (hint: ") : -1]


# A unit's id and state stay whole on a narrow terminal; texts are cut, and the columns
# that matter least left out.
_WHY = Column("why", cut=True, least=12)
_ERROR = Column("last error", cut=True, least=12)
_FIRMWARE = Column("firmware", cut=True, least=8, hide=1)
_ROOM = Column("room", cut=True, least=12)


def _full_units(
    rows: list[Any], count: int | None = None, in_place_would_do: bool | None = None
) -> list[str]:
    """The way out for units that had no room, said once: the in-place hint their errors
    share, with its sizes, else (units told apart, or not all among ``rows``: ``count`` in all,
    ``in_place_would_do`` for each, as ``push status`` counts them) in general; --in-place
    only where the staged copy was what did not fit (a unit already written in place
    needs space freed)."""
    full = [r for r in rows if _full(r)]
    count = len(full) if count is None else count
    hints = {_split_hint(r.last_error or "")[1] for r in full}
    hint = next(iter(hints)) if len(hints) == 1 else None
    if count and count == len(full) and hint is not None and in_place_would_help(hint):
        return [f"{plural(count, 'unit is', 'units are')} out of space: {hint}."]
    if in_place_would_do is None:
        in_place_would_do = all(in_place_would_help(r.last_error) for r in full)
    return _full_line(count, in_place_would_do)


def _full_line(full: int, in_place_would_do: bool) -> list[str]:
    """:func:`_full_units` from counts (``push status`` counts them in SQL)."""
    if not full:
        return []
    line = (
        f"{plural(full, 'unit is', 'units are')} out of space: free space on "
        f"{'it' if full == 1 else 'them'}"
    )
    if in_place_would_do:
        line += (
            ", or push again with --in-place, which may fit: the CA file is written over "
            "the old one, with no second copy, so it fits where the file system frees the "
            "old file's space as it is overwritten (push status --json: each unit's sizes)"
        )
    return [line + "."]


def _never_answered(
    rows: list[Any], said: str = "never answered", *, watching: bool = False
) -> list[str]:
    """MQTT units that have not answered (a ledger's rows: never): a broker lists no
    units, so an id that no unit has looks like a unit that is off. ``watching``: the
    run already watched (--watch), so the advice is to run it again, not to add it."""
    ids = [
        r.id
        for r in rows
        if r.transport == "mqtt" and r.state == "offline" and getattr(r, "last_seen", None) is None
    ]
    if not ids:
        return []
    return [
        f"{plural(len(ids), 'unit')} {said} over MQTT ({some(ids)}): a broker keeps "
        "no list of units, so an id no unit has looks like a unit that is off; check each "
        "id against the units' device.id, or "
        + ("run the same --watch again later." if watching else "keep watching for them (--watch).")
    ]


def _unused_clause(states: list[str]) -> str:
    """What the summary line adds for units whose firmware does not read the file: they
    leave nothing to do (exit 0), but the file does not protect them."""
    n = states.count("unused")
    if not n:
        return ""
    them = "it" if n == 1 else "them"
    return f"; {n} unused: no push changes {them}, and the file does not protect {them}"


def _unused(rows: list[Any], count: int | None = None, shown: int | None = SHOWN) -> list[str]:
    """The units ``unused`` among ``rows`` (``count`` of them in all), the first
    ``shown`` (None: all) in a table."""
    unused = [r for r in rows if r.state == "unused"]
    count = len(unused) if count is None else count
    if not count:
        return []
    lines = [
        f"\n{plural(count, 'unit')} whose firmware does not read the file (not protected by it):"
    ]
    table = [(r.id, r.fw_version or "", r.note or "") for r in unused[:shown]]
    lines.append(format_table(("unit", _FIRMWARE, _WHY), table, width=table_width()))
    return lines


def _run_units(report: CampaignReport, ledger: Path) -> dict[str, Any]:
    """What ``push --json`` shares with ``push status --json``, in its shape: the
    campaign's facts, counts and go-dark dates of ``units``, each unit with the same keys
    and values (UNIT_KEYS), read back from the ledger the run wrote."""
    facts, darks = read_consistently(ledger, lambda led: (campaign_facts(led), unit_darks(led)))
    rows = [
        (*(getattr(r, k) for k in UNIT_KEYS[:-1]), darks.get(r.id, UNKNOWN)) for r in report.rows
    ]
    tally = UnitTally()
    tally.add(rows)
    return {"campaign": facts, "counts": tally.counts(), "goes_dark": tally.dark(),
            "units": [dict(zip(UNIT_KEYS, r, strict=True)) for r in rows]}  # fmt: skip


BEGUN = "pending, begun"  # a stopped run's count of pending units charged an attempt

# What each state left not done says in the interrupted line (another state: its name).
_LEFT_AS = {
    "pending": "pending: never started",
    BEGUN: "pending: begun but not finished",  # charged an attempt (a lost link's refusal)
    "verified": "verified: not rebooted yet",  # with --reboot only
    "rebooted": "rebooted: not back yet",
}


def stopped_line(report: CampaignReport, *, in_place: bool = False) -> str:
    """What a run stopped by Ctrl-C or SIGTERM says, as ``flash`` says "STOPPED ...;
    next: ...": the units it left, by state, and the next step (the exit code, 130, and
    --json's "interrupted" were all it said). Every state left is named, none at 0: the
    line named only pending and mid-write units, so a watch's offline units made "5 units
    not done (0 pending, never started, 0 mid-write)"."""
    left = Counter(
        _left_as(r) for r in report.rows if not report.is_done(r) and r.state != "unused"
    )
    held = "may hold a partial CA file (--in-place)" if in_place else "holds its old or new CA file"
    said = {**_LEFT_AS, "writing": f"mid-write: each {held}"}
    order = {s: i for i, s in enumerate((*STATES[:1], BEGUN, *STATES[1:]))}
    parts = [
        f"{left[s]} {said.get(s, s)}"
        for s in sorted(left, key=lambda s: (order.get(s, len(order)), str(s)))
    ]
    by_state = f" ({', '.join(parts)})" if parts else ""
    step = stopped_step(report)
    then = f"; next: {step}" if step is not None else ""
    return f"Interrupted: {plural(left.total(), 'unit')} not done{by_state}{then}."


def _left_as(row: UnitRow) -> str:
    """A unit's state as a stopped run's line counts it: a pending unit charged an
    attempt was begun (its first call refused by a link lost, or a run killed in it),
    so it is not among those "never started"."""
    return BEGUN if row.state == "pending" and row.attempts else row.state


def stopped_step(report: CampaignReport) -> str | None:
    """The next step a stopped run's line says, by :func:`next_step`'s rule: the same
    command finishes the units left, but not a failed one whose error gives a hint (it
    said "run the same command again to finish them" of those too). None: none left."""
    again, first = _left_counts(report)
    if not again and not first:
        return None
    told = told_first(first)
    if not again:
        return told
    rerun = "run the same command again to finish " + (
        f"the other {plural(again, 'unit')}" if first else "them"
    )
    return f"{rerun}; {told}" if first else rerun


def _left_counts(report: CampaignReport) -> tuple[int, int]:
    """(units the same command takes up again, failed units whose error's hint needs
    doing first) of those a run left not done."""
    left = [r for r in report.rows if not report.is_done(r) and r.state != "unused"]
    first = sum(
        r.state == "failed" and _split_hint(r.last_error or "")[1] is not None for r in left
    )
    return len(left) - first, first


def lost_line(report: CampaignReport) -> list[str]:
    """A pass the link's loss stopped: when, and that the units it left are not to blame
    (the units not begun are left as they were, none charged an attempt); the next step by
    :func:`stopped_step`'s rule (it said "run the same command again" of a unit out of
    space too, and of none left), unless a Ctrl-C's line said it already."""
    if report.link_lost is None:
        return []
    what, when = report.link_lost
    at = when.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S")
    step = None if report.stopped else stopped_step(report)
    return [f"{what} lost at {at} UTC" + (f"; next: {step}." if step is not None else ".")]


def next_step(report: CampaignReport, opts: dict[str, Any]) -> str | None:
    """What to do about the units a run left not done (None: none left): only a run
    stopped by Ctrl-C said it, so a run that ended with a unit offline or failed named
    neither the ledger nor the command that takes them up again. A failed unit whose
    error gives a hint (out of space, another board's firmware) needs that first: the
    same command alone does not change it."""
    again, first = _left_counts(report)
    if not again and not first:
        return None
    ledger = opts.get("ledger_path")
    keeps = f" (the ledger {ledger} keeps where each unit stands)" if ledger else ""
    told = told_first(first)
    if not again:
        return f"Next: {told}{keeps}."
    them = "it" if again == 1 else "them"
    rerun = f"run the same command again, or with --watch to keep trying {them} until done"
    if opts.get("watch"):  # a watch ended at its --until: the same line is refused now
        later = opts.get("until") is not None and report.watch_ended is not None
        again_when = "again with a later --until (this one has passed)" if later else ""
        rerun = f"run the same command {again_when or 'with --watch again later'}"
    also = f"; {told}" if first else ""
    return f"Next: {plural(again, 'unit')} not done: {rerun}{keeps}{also}."


def run_exit_code(report: CampaignReport) -> int:
    """What a push run exits with, and its ``--json`` document says (as every error
    document does): 130 interrupted, 3 a unit not done, else 0."""
    if report.stopped:
        return 130
    return 0 if report.ok else 3


def dry_run_exit_code(rows: Sequence[SurveyRow], *, refused: bool = False) -> int:
    """What a dry run exits with, and its ``--json`` document says: 2 when a real run
    would refuse the ledger (``refused``: another campaign's), as it would exit; 3 when
    it would leave a unit not done, else 0."""
    from ..push.survey import WOULD_FINISH  # deferred: with the survey (dry runs only)

    if refused:
        return 2
    return 0 if all(r.state in WOULD_FINISH for r in rows) else 3


def render_report(
    report: CampaignReport,
    push_file: PushFile,
    opts: dict[str, Any],
    traffic: int,
    *,
    said: Collection[str] = (),
) -> None:
    """The run's summary; ``said``: notes warned of already (on stderr, before the run),
    kept in the JSON's notes but not printed again."""
    done = sum(1 for r in report.rows if report.is_done(r))
    left = [r for r in report.rows if not report.is_done(r) and r.state != "unused"]
    silent = _never_answered(left, watching=bool(opts.get("watch")))
    stopped = [stopped_line(report, in_place=bool(opts.get("in_place")))] if report.stopped else []
    stopped += lost_line(report)
    follow = next_step(report, opts)
    if stopped:  # --json's "next" is the one its line says (follow is not printed)
        step = stopped_step(report)
        follow = f"Next: {step}." if step is not None else None
    if opts["as_json"]:
        shared = _run_units(report, opts["ledger_path"])
        emit_json(
            {
                "ledger": str(opts["ledger_path"]),
                "board": push_file.board,
                "ca_sha256": push_file.sha256,
                "ok": report.ok,
                "exit_code": run_exit_code(report),
                "interrupted": report.stopped,
                "passes": report.passes,
                "deadline": report.deadline.isoformat() if report.deadline else None,
                "failing_since": (
                    report.failing_since.isoformat() if report.failing_since else None
                ),
                "roadmap_since": (  # check's failing_since.roadmap_since, beside it
                    {"date": report.roadmap[0].date().isoformat(), "why": report.roadmap[1]}
                    if report.roadmap
                    else None
                ),
                "watch_ended": (report.watch_ended.isoformat() if report.watch_ended else None),
                "notes": [*report.notes, *stopped, *silent],  # the advice the text gives, too
                "next": follow,  # as flash --json's "next": null when nothing is left
                "bytes": traffic,
                **shared,  # campaign, counts, goes_dark, units: as push status --json
            }
        )
        return
    quiet = opts["quiet"]
    _print_notes(report.notes, said, quiet=quiet)
    counts = ", ".join(f"{n} {s}" for s, n in sorted(report.counts().items()))
    unused = _unused_clause([r.state for r in report.rows])
    echo(
        f"{done} of {len(report.rows)} units done ({counts or 'none listed'}){unused}.",
        quiet=quiet,
        wrap=True,
    )
    states = Counter(r.state for r in report.rows)
    settled = bool(report.rows) and not left
    begun = sum(r.state == "pending" and r.attempts > 0 for r in report.rows)
    for line in date_lines(report.deadline, report.failing_since, pending=states["pending"],
                       begun=begun, offline=states["offline"], settled=settled,
                       roadmap=report.roadmap):  # fmt: skip
        echo(line, quiet=quiet, wrap=True)
    if report.watch_ended is not None:  # it ran out of time, not of units
        when = end_words(report.watch_ended)  # --until DAY: "the end of DAY (00:00 UTC ...)"
        echo(f"Stopped watching at {when}, the end set for the watch, with units not done.",
             quiet=quiet, wrap=True)  # fmt: skip
    for line in stopped:  # with -q too (the run did not finish), then on stderr as errors
        (note if quiet else echo)(line, wrap=True)
    if quiet:
        return
    if left:
        rows = [(r.id, r.state, r.attempts, _error_cell(r)) for r in left]
        headers = ("unit", "state", Column("attempts", hide=1), _ERROR)
        echo(format_table(headers, rows[:SHOWN], width=table_width()))
        if len(left) > SHOWN:
            more = f"push status --ledger {shell_word(str(opts['ledger_path']))} --all"
            echo(f"... and {len(left) - SHOWN} more: esp-cabundle {more}", wrap=True)
        for line in _full_units(left) + silent:
            echo(line, wrap=True)
    for line in _unused(list(report.rows)):
        echo(line, wrap=True)
    if follow is not None and not stopped:  # a stopped run's own line said the next step
        echo(f"\n{follow}", wrap=True)


def _doubtful_have_room(n: int) -> str:
    """The units a dry run cannot promise room to (:func:`~esp_cabundle.push.survey.unsure`)."""
    if n == 1:
        return "the 1 unit whose room for the file cannot be told has it"
    return f"the {n:,} units whose room for the file cannot be told have it"


def _print_notes(notes: Sequence[str], said: Collection[str], *, quiet: bool) -> None:
    """The links' notes, each once: one warned of already is not printed again."""
    for text in notes:
        if text not in said:
            echo(f"Note: {text}.", quiet=quiet, wrap=True)


def render_dry_run(
    rows: list[SurveyRow],
    push_file: PushFile,
    opts: dict[str, Any],
    *,
    notes: Sequence[str] = (),
    said: Collection[str] = (),
    refused: bool = False,
    judged_against: str | None = None,
) -> None:
    """The survey; ``notes``: the links' (a key sent in the clear, a unit listed twice),
    in the JSON as a run's are, printed unless ``said`` already (as :func:`render_report`);
    ``refused``: a real run would refuse the ledger (the notes say why); the units per
    go-dark date (``judged_against``: the servers, as a push keeps it), as status says."""
    from ..push.survey import WOULD_FINISH, unsure  # deferred: with the survey

    silent = _never_answered(rows, "did not answer")
    tally = Counter(r.goes_dark for r in rows)
    dark = {v: tally[v] for v in sorted(tally, key=dark_order)}
    since, roadmap = _dry_run_failing(rows)

    def words(value: str) -> str:
        return dark_words(value, since, roadmap)

    if opts["as_json"]:
        code = dry_run_exit_code(rows, refused=refused)
        would_finish = not code
        emit_json(
            {
                "ok": would_finish,
                "exit_code": code,
                "dry_run": True,
                "ca_sha256": push_file.sha256,
                "would_finish": would_finish,
                "notes": [*notes, *silent],
                "goes_dark": dark,
                "units": [r.to_dict() for r in rows],
            }
        )
        return
    quiet = opts["quiet"]
    rooms, room_notes = room_cells([r.room for r in rows])  # "unknown": why said below
    table = [
        (r.id, r.state, r.fw_version or "", words(r.goes_dark), room, _why_cell(r))
        for r, room in zip(rows, rooms, strict=True)
    ]  # fmt: skip  # room: as --json's, the verdict first (a cut cell keeps "fits", ...)
    headers = (
        "unit", "would", _FIRMWARE, Column("goes dark", hide=2), _ROOM,
        Column("current CA / why", cut=True, least=16),
    )  # fmt: skip
    echo(format_table(headers, table, width=table_width()), quiet=quiet)
    for line in room_notes:
        echo(line, quiet=quiet, wrap=True)
    counts: dict[str, int] = {}
    for r in rows:
        counts[r.state] = counts.get(r.state, 0) + 1
    summary = ", ".join(f"{n} {s}" for s, n in sorted(counts.items())) or "no units listed"
    blocked = sum(n for s, n in counts.items() if s not in WOULD_FINISH)
    doubtful = len(unsure(rows))  # whether the file fits is not known: not promised
    verdict = (
        "a push with this ledger is refused (exit 2)"
        if refused
        else "a push would finish every unit"
        if not blocked and not doubtful
        else f"a push would finish every unit if {_doubtful_have_room(doubtful)}"
        if not blocked
        else f"a push now would leave {plural(blocked, 'unit')} not done (exit 3)"
    )
    unused = _unused_clause([r.state for r in rows])
    _print_notes(notes, said, quiet=quiet)
    for line in _dark_summary(dark, judged_against, words, roadmap):
        echo(line, quiet=quiet, wrap=True)
    echo(f"Dry run, nothing written: {summary}; {verdict}{unused}.", quiet=quiet, wrap=True)
    for line in silent:
        echo(line, quiet=quiet, wrap=True)


def _dry_run_failing(rows: Sequence[SurveyRow]) -> tuple[str | None, Roadmap | None]:
    """The date a push would keep as ``failing_since`` (the earliest past one found) and
    the roadmap's beside it, as the campaign keeps them (``note_old_ca``)."""
    past = [r for r in rows if r.goes_dark not in (NONE_FOUND, UNKNOWN) and is_past(r.goes_dark)]
    if not past:
        return None, None
    first = min(past, key=lambda r: datetime.fromisoformat(r.goes_dark))
    return first.goes_dark, first.roadmap


def _why_cell(row: SurveyRow) -> str:
    """A dry-run row's "current CA / why": why it would not finish, else its current
    CA; a unit with no room says so in its room cell, which the error only repeated
    ("would fail: no room (...)" beside "no room (...)"): its current CA instead."""
    if row.room and row.error and row.error.endswith(row.room):
        return row.current or ""
    return row.error or row.note or row.current or ""


def _per_state(view: StatusView) -> list[tuple[str, int, str]]:
    """Each state, its count, and its first units by id ("and N more")."""
    out = []
    for s in STATES:
        n, ids = view.counts.get(s, 0), view.first_ids.get(s, [])
        more = f" and {n - len(ids)} more" if n > len(ids) else ""
        out.append((s, n, some(ids, IDS_PER_STATE) + more))
    return out


def _dark_summary(
    dark: dict[str, int],
    judged_against: str | None,
    words: Callable[[str], str] = dark_words,
    roadmap: Roadmap | None = None,
) -> list[str]:
    """Units per day their current CA stops accepting the campaign's servers, each day in
    ``words`` (the units' table's); when the run named none (a plain mqtt:// broker, no
    --server), why every date is unknown; ``roadmap``: check's roadmap date a day shows,
    said below the table (where no paragraph above said it)."""
    if not dark:
        return []
    rows = [(words(v), n) for v, n in dark.items()]
    out = [
        "\nCurrent CA goes dark (each unit's file, against the campaign's servers):",
        format_table(("goes dark", "units"), rows, width=table_width()),
    ]
    if roadmap is not None and any("(roadmap: " in c for c, _ in rows):
        out.append(roadmap_note(roadmap))
    if UNKNOWN in dark and judged_against == NOTHING_JUDGED:
        out.append(
            "unknown: the campaign named no server to judge the units' files against; "
            "push again with --server HOST (their own server, its chain in "
            "chains/HOST.pem) or --target HOST[:PORT]|CHAIN (another server they reach), "
            "or list the servers under targets: in the config (cabundle.yaml or -c FILE)"
        )
    return out


def render_status(view: StatusView, *, show_all: bool, ledger: Path | str = "") -> None:
    """``push status`` as text, from :func:`~esp_cabundle.push.ledger_status.read_status`."""
    meta, counts = view.meta, view.counts
    echo(
        f"Campaign: board {meta.get('board', '?')}, CA SHA-256 "
        f"{meta.get('ca_sha256', '?')[:16]}..., started {meta.get('created_at', '?')}",
        wrap=True,
    )
    left = sum(counts.get(s, 0) for s in NOT_DONE)
    settled = sum(counts.values()) > 0 and not left
    waiting = {"pending": counts.get("pending", 0), "offline": counts.get("offline", 0),
               "begun": view.begun}  # fmt: skip
    road = meta.get(ROADMAP_KEY), meta.get(ROADMAP_WHY_KEY)
    roadmap = (road[0], road[1]) if road[0] and road[1] else None
    for line in date_lines(meta.get("deadline"), meta.get("failing_since"), settled=settled,
                       roadmap=roadmap, again=f"the push that wrote {ledger}",
                       **waiting):  # fmt: skip
        echo(line, wrap=True)
    which = Column("which", cut=True, least=12, split=", ")
    echo(format_table(("state", "units", which), _per_state(view), width=table_width()))
    since = meta.get("failing_since")

    def words(value: str) -> str:
        return dark_words(value, since, roadmap)

    # a settled campaign says no paragraph: the roadmap's date its table shows is said below
    for line in _dark_summary(view.dark, meta.get(JUDGED_KEY), words, roadmap if settled else None):
        echo(line, wrap=True)
    if left:
        echo(f"\nNot yet updated ({left}):")
        table = [
            (r.id, r.state, r.attempts, r.last_seen or "never", words(d), _error_cell(r))
            for r, d in view.left
        ]
        headers = (
            "unit", "state", Column("attempts", hide=3), Column("last seen", hide=2),
            Column("goes dark", hide=1), _ERROR,
        )  # fmt: skip
        echo(format_table(headers, table, width=table_width()))
        if left > len(view.left):
            echo(
                f"... and {left - len(view.left)} more: --all lists them, --csv every unit",
                wrap=True,
            )
        listed = [r for r, _ in view.left]
        for line in _full_units(listed, view.out_of_space, view.in_place_would_do):
            echo(line, wrap=True)
    shown = None if show_all else SHOWN
    for line in _unused(view.unused, counts.get("unused", 0), shown):
        echo(line, wrap=True)
    follow = status_next(counts, ledger, view.hinted) if ledger else None
    if follow is not None:
        echo("\n" + follow, wrap=True)
