"""What ``push status`` reads from a campaign ledger, in bounded memory.

A fleet's ledger holds millions of rows: counts, each state's first units and the
go-dark summary are aggregated in SQL, the tables read only the rows they show, and
every unit (``--json``, ``--csv``) is written as it is read. Status never writes: a
finished ledger is read immutable, so a campaign that starts and checkpoints meanwhile
moves pages under the read, which is then done again (:func:`read_consistently`).

Go-dark dates: for each CA file a campaign meets (found on units, or pushed), the date
it stops accepting the campaign's servers (``CampaignOptions.deadline_for``) is kept in
the campaign table under ``goes_dark:<SHA-256>``: an ISO date (a past one: failing since
then) or ``none`` (no failure within the forecast). A unit's current CA is the file
pushed once it holds it, else the file found on it; a unit whose file was never read
(never answered, no CA file, firmware that does not read it) or a ledger written before
these dates were kept says ``unknown``. Kept as campaign facts, not a column: no schema
change, and a ledger written by an older release reads as before.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, fields
from datetime import datetime
from operator import itemgetter
from pathlib import Path
from typing import Any, TypeVar

from ..dates import now
from ..spelling import CLI_SPELLING, PYTHON
from .ledger import DONE_STATES, STATES, Ledger, UnitRow
from .ledger_files import LedgerDamaged, side
from .ledger_meta import (
    DARK_KEY,
    JUDGED_KEY,
    NONE_FOUND,
    NOTHING_JUDGED,
    ROADMAP_KEY,
    ROADMAP_WHY_KEY,
    UNKNOWN,
)

# How a stored out-of-space error offers in-place writing: as the CLI's runs said it (and
# every ledger before the hints took the caller's words), and as a script's runs say it.
IN_PLACE_SAID = (CLI_SPELLING.in_place, PYTHON.in_place)


def in_place_would_help(error: str | None) -> bool:
    """Whether a unit's stored error offers in-place writing, in either spelling."""
    return any(said in (error or "") for said in IN_PLACE_SAID)


__all__ = [
    "BATCH_STATE_DARK",
    "DARK_KEY",
    "DATES_IN_SQL",
    "JUDGED_KEY",
    "NONE_FOUND",
    "NOTHING_JUDGED",
    "ROADMAP_KEY",
    "ROADMAP_WHY_KEY",
    "UNIT_BATCH",
    "UNIT_KEYS",
    "UNKNOWN",
    "StatusView",
    "UnitTally",
    "campaign_facts",
    "campaign_finished",
    "dark_order",
    "is_past",
    "read_consistently",
    "read_status",
    "unit_batches",
    "unit_cells",
    "unit_darks",
]

NOT_DONE = ("pending", "offline", "writing", "rebooted", "failed")
IDS_PER_STATE = 10  # unit ids named per state: a fleet's thousands stay one line each

# The SHA-256 of the file a unit holds now, as far as the ledger knows (NULL: unknown).
# A "writing" or failed unit may hold either file: the one found is the one it is known
# to have held (a refused write gives it back), so its date is the earlier one.
_HELD = (
    f"CASE WHEN state IN ({', '.join(repr(s) for s in (*sorted(DONE_STATES), 'rebooted'))}) "
    "THEN new_sha256 WHEN state = 'unused' OR old_sha256 = 'none' THEN NULL "
    "ELSE old_sha256 END"
)
_T = TypeVar("_T")


@dataclass(frozen=True, slots=True)
class StatusView:
    """What the text of ``push status`` shows; ``left`` and ``unused`` hold the units
    listed (the first ``shown`` by id, or all), each count the whole ledger's."""

    meta: dict[str, str]  # the campaign's facts, without the go-dark dates
    counts: dict[str, int]
    first_ids: dict[str, list[str]]  # per state, its first IDS_PER_STATE ids
    left: list[tuple[UnitRow, str]]  # units not done, with the date they go dark
    unused: list[UnitRow]
    out_of_space: int  # failed units out of room
    in_place_would_do: bool  # ... each of which --in-place would help
    dark: dict[str, int]  # go-dark date (or none/unknown) -> units, in dark_order
    hinted: int = 0  # failed units whose error's hint needs doing first (failed_hinted)
    begun: int = 0  # pending units charged an attempt (pending_begun)


def dark_value(dates: dict[str, str], held: str | None) -> str:
    return dates.get(held, UNKNOWN) if held else UNKNOWN


def dark_order(value: str) -> tuple[int, str]:
    """Dates first, earliest first; then "none", then "unknown"."""
    return (0 if value not in (NONE_FOUND, UNKNOWN) else 1 + (value == UNKNOWN), value)


def is_past(value: str) -> bool:
    return value not in (NONE_FOUND, UNKNOWN) and datetime.fromisoformat(value) <= now()


def _split_meta(meta: dict[str, str]) -> tuple[dict[str, str], dict[str, str]]:
    facts = {k: v for k, v in meta.items() if not k.startswith(DARK_KEY)}
    dates = {k[len(DARK_KEY) :]: v for k, v in meta.items() if k.startswith(DARK_KEY)}
    return facts, dates


def status_view(ledger: Ledger, shown: int | None) -> StatusView:
    """One read of ``ledger`` for the text of ``push status`` (``shown``: None for all)."""
    meta, dates = _split_meta(ledger.meta())
    counts, first, dark = _tally(ledger, dates)
    cols, limit = ", ".join(ledger.shown_exprs()), -1 if shown is None else shown
    marks = ", ".join("?" * len(NOT_DONE))
    # Each query below is asked only of states the tally found: one no unit is in costs
    # a scan of the table (a sort of its rows' ids, or a walk of the whole id index).
    left = (
        [
            (UnitRow(*r[:-1]), dark_value(dates, r[-1]))
            for r in ledger.select(
                f"SELECT {cols}, {_HELD} FROM units WHERE state IN ({marks}) ORDER BY id LIMIT ?",
                (*NOT_DONE, limit),
            )
        ]
        if any(counts[s] for s in NOT_DONE)
        else []
    )
    unused = (
        [
            UnitRow(*r)
            for r in ledger.select(
                f"SELECT {cols} FROM units WHERE state = 'unused' ORDER BY id LIMIT ?", (limit,)
            )
        ]
        if counts["unused"]
        else []
    )
    # out of space: as the run's summary tells it (_push_render._full_units)
    said = " OR ".join("instr(last_error, ?) > 0" for _ in IN_PLACE_SAID)
    full, in_place = (
        next(
            ledger.select(
                f"SELECT COUNT(*), COALESCE(MIN({said}), 0) FROM units "
                "WHERE state = 'failed' AND instr(last_error, 'out of space') > 0",
                IN_PLACE_SAID,
            )
        )
        if counts["failed"]
        else (0, 0)
    )
    hinted = failed_hinted(ledger) if counts["failed"] else 0
    begun = pending_begun(ledger) if counts["pending"] else 0
    return StatusView(meta, counts, first, left, unused, full, bool(in_place), dark, hinted, begun)


def pending_begun(ledger: Ledger) -> int:
    """Pending units charged an attempt: begun (a first call a lost link refused, a run
    killed in it), so not among those the summaries call "never started"."""
    query = "SELECT COUNT(*) FROM units WHERE state = 'pending' AND attempts > 0"
    return int(next(ledger.select(query))[0])


def failed_hinted(ledger: Ledger) -> int:
    """Failed units whose stored error carries a hint (``TEXT (hint: HINT)``, as the
    campaign joins them): the same command alone does not change them, so push's next
    step counts them apart (_push_render._left_counts), and status alike."""
    return int(
        next(
            ledger.select(
                "SELECT COUNT(*) FROM units WHERE state = 'failed' "
                "AND last_error LIKE '% (hint: %)'"
            )
        )[0]
    )


def _tally(
    ledger: Ledger, dates: dict[str, str]
) -> tuple[dict[str, int], dict[str, list[str]], dict[str, int]]:
    """Units per state, each state's first IDS_PER_STATE ids, and units per go-dark date
    (in :func:`dark_order`). One pass counts (state, file held) pairs a batch at a time,
    in C: SQLite's GROUP BY sorts every row first (2 million: seconds), and a Python
    step per row took 2 s. The first ids are then read by SQL, state by state."""
    seen: Counter[tuple[str, str | None, int]] = Counter()
    sql = f"SELECT state, {_HELD}, instr(id, '?') > 0 FROM units"
    for batch in ledger.select_batches(sql, (), UNIT_BATCH):
        seen.update(batch)
    counts = dict.fromkeys(STATES, 0)
    held_by: Counter[str | None] = Counter()
    for (state, held, _), n in seen.items():
        counts[state] = counts.get(state, 0) + n
        held_by[held] += n
    masked = any(query for _, _, query in seen)  # an id whose query values outputs mask
    first = _first_ids(ledger, {s: n for s, n in counts.items() if n}, masked=masked)
    dark: dict[str, int] = {}
    for held, n in held_by.items():
        value = dark_value(dates, held)
        dark[value] = dark.get(value, 0) + n
    ordered = {k: dark[k] for k in sorted(dark, key=dark_order)}
    return {s: counts[s] for s in STATES}, first, ordered


_WALKED = 20_000  # ids read in id order for every state's first ids at once


def _first_ids(ledger: Ledger, counts: dict[str, int], *, masked: bool) -> dict[str, list[str]]:
    """Each state's first IDS_PER_STATE ids as outputs show them, in order (text, as
    the rows' check proves every id: SQLite's order of text is Python's). Unmasked, the
    first _WALKED ids by the id index name them for the states they hold enough of;
    another state's are sorted out of a scan of the table (a top-N sort: a few rows
    held), as every state's are where a URL id's query values are masked."""
    first: dict[str, list[str]] = {}
    if not masked:
        for state, uid in ledger.select(
            "SELECT state, id FROM units ORDER BY id LIMIT ?", (_WALKED,)
        ):
            ids = first.setdefault(state, [])
            if len(ids) < IDS_PER_STATE:
                ids.append(uid)
    uid = ledger.shown_exprs()[0]
    for state, n in counts.items():
        if len(first.get(state, ())) < min(n, IDS_PER_STATE):
            sql = f"SELECT {uid} FROM units WHERE state = ? ORDER BY 1 LIMIT ?"
            first[state] = [r[0] for r in ledger.select(sql, (state, IDS_PER_STATE))]
    return first


# A unit's keys in --json and --csv: UnitRow's, then the day its current CA goes dark.
UNIT_KEYS = (*(f.name for f in fields(UnitRow)), "goes_dark")
UNIT_BATCH = 4096  # units read, encoded and written at a time
DATES_IN_SQL = 64  # go-dark dates looked up by SQL (one CASE per row); more: by Python
_STATE_DARK = itemgetter(UNIT_KEYS.index("state"), len(UNIT_KEYS) - 1)
BATCH_STATE_DARK = itemgetter(0, 1)  # a unit_batches row's state and go-dark value
# A unit's object as emit_json writes one in a list at level 1: each key's line, its end.
_JSON_KEYS = [
    ("    {\n" if i == 0 else ",\n") + f"      {json.dumps(k, ensure_ascii=False)}: "
    for i, k in enumerate(UNIT_KEYS)
]
_JSON_END = "\n    }"


def _sql_text(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def unit_batches(ledger: Ledger, *, as_text: bool = False) -> Iterator[list[tuple[Any, ...]]]:
    """Every unit by id, UNIT_BATCH at a time, read as they are written, each as
    ``(state, goes_dark, text)``: the text its item of ``--json``'s "units" list as
    (indent=2) :func:`~esp_cabundle.ui.emit_json` writes it at level 1 (the values of
    UNIT_KEYS), or (``as_text``) its ``--csv`` line, :func:`unit_cells` joined by
    commas, its rowid after it (a line whose cells csv quotes is written from them).
    SQLite writes each unit's text: 2 million units read as 15 Python values each took
    seconds. A campaign meets a few CA files: SQL names each unit's date too.

    A ``--csv`` line is one printf() of the stored values (a chain of ``||`` copies
    each line's growing head 28 times, and masking was asked three times per row: 7 s
    of 2 million units, 2.6 s so). A row printf() may not write as the chain does is
    read again by rowid through the chain (:func:`_chained_sql`): one whose id or
    address holds a query (masked: :meth:`.ledger.Ledger.shown_exprs`), or a NUL in a
    text cell (printf stops there). The rows' check proves every other cell NUL-free
    text, a number or NULL. JSON's values each take a json_quote(), which printf()
    did not make faster: its text is the chain's."""
    dates = _split_meta(ledger.meta())[1]
    if as_text:
        exprs, args, dark_in_sql = _unit_exprs(ledger, dates, ledger.unit_exprs())
        shown = exprs if dark_in_sql else exprs[:-1]
        uid, address = exprs[0], exprs[UNIT_KEYS.index("address")]
        free = (e for k, e in zip(UNIT_KEYS, exprs, strict=False) if k in _FREE)
        odd = " OR ".join(
            (f"instr({uid}, '?') OR instr(ifnull({address}, ''), '?')",
             *(f"instr({e}, char(0))" for e in free))
        )  # fmt: skip
        text = f"printf('{','.join('%s' for _ in shown)}', {', '.join(shown)})"
    else:  # each row as it is, no row read again
        exprs, args, dark_in_sql = _unit_exprs(ledger, dates, ledger.shown_exprs())
        text = _chained_text(exprs, dark_in_sql, as_text=False)
        sql = f"SELECT state, {exprs[-1]}, {text} FROM units ORDER BY id"
        batches = ledger.select_batches(sql, args * (1 + dark_in_sql), UNIT_BATCH)
        yield from batches if dark_in_sql else _dated(batches, dates, as_text=False)
        return
    sql = f"SELECT state, {exprs[-1]}, {text}, rowid, {odd} FROM units ORDER BY id"
    # the date's SQL is in the text too: its arguments twice
    batches = ledger.select_batches(sql, args * (1 + dark_in_sql), UNIT_BATCH)
    again, again_args = _chained_sql(ledger, dates, as_text=as_text)
    for batch in batches:
        reread = [r[3] for r in batch if r[4]]
        if reread:
            found = {r[0]: r[1:] for r in ledger.select(again, [*again_args, json.dumps(reread)])}
            batch = [(*found[r[3]], r[3]) if r[4] else r for r in batch]
        yield [r[:4] for r in batch] if dark_in_sql else next(_dated([batch], dates, as_text=True))


def _dated(
    batches: Iterable[list[tuple[Any, ...]]], dates: dict[str, str], *, as_text: bool
) -> Iterator[list[tuple[Any, ...]]]:
    """:func:`unit_batches`' rows whose text lacks its go-dark date: added here (a dict
    look-up), the SHA-256 held in its place."""
    for batch in batches:
        rows: list[tuple[Any, ...]] = []
        for state, held, line, *rest in batch:
            dark = dark_value(dates, held)
            if as_text:
                rows.append((state, dark, f"{line},{dark}", rest[0]))
            else:
                value = json.dumps(dark, ensure_ascii=False)
                rows.append((state, dark, f"{line}{_JSON_KEYS[-1]}{value}{_JSON_END}"))
        yield rows


# The text columns whose values the rows' check leaves free (a NUL among them).
_FREE = frozenset({"id", "transport", "last_error", "fw_version", "address", "note"})


def _chained_sql(ledger: Ledger, dates: dict[str, str], *, as_text: bool) -> tuple[str, list[str]]:
    """The SQL of rows read again by rowid (a JSON list of them): each as
    ``(rowid, state, held or date, text)``, the text as the values shown
    (:meth:`.ledger.Ledger.shown_exprs`) joined by ``||`` (a NUL kept)."""
    exprs, args, dark_in_sql = _unit_exprs(ledger, dates, ledger.shown_exprs())
    text = _chained_text(exprs, dark_in_sql, as_text=as_text)
    sql = (
        f"SELECT rowid, state, {exprs[-1]}, {text} FROM units "
        "WHERE rowid IN (SELECT value FROM json_each(?))"
    )
    return sql, args * (1 + dark_in_sql)


def _chained_text(exprs: list[str], dark_in_sql: bool, *, as_text: bool) -> str:
    """The SQL of a unit's text from ``exprs`` (:func:`_unit_exprs`), joined by ``||``."""
    shown = exprs if dark_in_sql else exprs[:-1]
    if as_text:
        return " || ',' || ".join(_text_cells(shown))
    pairs = zip(_JSON_KEYS, shown, strict=False)
    text = " || ".join(f"{_sql_text(key)} || json_quote({e})" for key, e in pairs)
    return text + (f" || {_sql_text(_JSON_END)}" if dark_in_sql else "")


def unit_cells(ledger: Ledger, rowids: list[int]) -> list[tuple[Any, ...]]:
    """The units of ``rowids`` (in that order) as ``csv.writer`` is given them: each
    cell as it writes it where SQLite says it alike (NULL as "", a whole number in
    decimal), then the go-dark value; for the lines of :func:`unit_batches` that need
    csv's quotes."""
    dates = _split_meta(ledger.meta())[1]
    exprs, args, dark_in_sql = _unit_exprs(ledger, dates, ledger.shown_exprs())
    cells = [*_text_cells(exprs[:-1]), exprs[-1]]
    sql = (
        f"SELECT rowid, {', '.join(cells)} FROM units "
        "WHERE rowid IN (SELECT value FROM json_each(?))"
    )
    found = {r[0]: r[1:] for r in ledger.select(sql, [*args, json.dumps(rowids)])}
    rows = [found[r] for r in rowids]
    if dark_in_sql:
        return rows
    return [(*r[:-1], dark_value(dates, r[-1])) for r in rows]


def _unit_exprs(
    ledger: Ledger, dates: dict[str, str], exprs: list[str]
) -> tuple[list[str], list[str], bool]:
    """The SQL of a unit's UNIT_KEYS values (``exprs``, then its go-dark value), its
    arguments, and whether the last is its go-dark value (else the SHA-256 held, for
    dark_value)."""
    known = {k: v for k, v in dates.items() if k}  # as dark_value: no file held, unknown
    if len(known) > DATES_IN_SQL:  # a CASE that long is slower than a dict
        return [*exprs, _HELD], [], False
    whens = " ".join("WHEN ? THEN ? " for _ in known)
    dark = f"CASE {_HELD} {whens}ELSE ? END" if known else "?"
    return [*exprs, dark], [*(x for pair in known.items() for x in pair), UNKNOWN], True


def _text_cells(exprs: list[str]) -> list[str]:
    """Each value as csv.writer writes it, where SQLite writes it alike: NULL as "",
    the number column's integer in decimal (a float is not: SQLite writes 1e100 as
    1.0e+100, left as it is)."""
    return [f"ifnull({_as_text(c) if c == 'attempts' else c}, '')" for c in exprs]


def unit_darks(ledger: Ledger) -> dict[Any, str]:
    """Each unit's go-dark value by id, as :func:`unit_batches` gives it: ``push --json``
    gives a unit the value ``push status --json`` does (one shape for both)."""
    _, dates = _split_meta(ledger.meta())
    return {
        uid: dark_value(dates, held)
        for uid, held in ledger.select(f"SELECT id, {_HELD} FROM units")
    }


def _as_text(col: str) -> str:
    """The number column: an integer as text (SQLite's decimal is Python's); a float is
    not (SQLite writes 1e100 as 1.0e+100)."""
    return f"CASE typeof({col}) WHEN 'integer' THEN CAST({col} AS TEXT) ELSE {col} END"


def campaign_finished(counts: Mapping[str, int]) -> bool:
    """The campaign's ``ok`` in ``push status``, as in ``push``: no unit is left not
    done (each is up to date, verified, reconnected or unused). The ledger does not keep
    whether the run rebooted, so a verified unit counts as done here."""
    return not any(counts.get(s, 0) for s in NOT_DONE)


class UnitTally:
    """Units per state and per go-dark date, counted batch by batch as
    :func:`unit_batches` are written: the counts ``--json`` gives before the units take
    no second read of the ledger."""

    def __init__(self, key: Callable[[tuple[Any, ...]], Any] = _STATE_DARK) -> None:
        self._key = key  # a row's state and go-dark value (BATCH_STATE_DARK: unit_batches')
        self._seen: Counter[tuple[Any, Any]] = Counter()

    def add(self, batch: list[tuple[Any, ...]]) -> None:
        self._seen.update(map(self._key, batch))  # counted in C, not row by row

    def counts(self) -> dict[str, int]:
        counts = dict.fromkeys(STATES, 0)
        for (state, _), n in self._seen.items():
            if state in counts:
                counts[state] += n
        return counts

    def finished(self) -> bool:
        """:func:`campaign_finished` of the units counted: ``push status --json``'s ok."""
        return campaign_finished(self.counts())

    def dark(self) -> dict[str, int]:
        """Units per go-dark date, in :func:`dark_order`."""
        dark: Counter[Any] = Counter()
        for (_, value), n in self._seen.items():
            dark[value] += n
        return {k: dark[k] for k in sorted(dark, key=dark_order)}


def campaign_facts(ledger: Ledger) -> dict[str, str]:
    """The campaign's facts as ``--json`` gives them: no go-dark dates, no schema."""
    facts, _ = _split_meta(ledger.meta())
    return {k: v for k, v in facts.items() if k != "schema"}


def read_consistently(p: Path, read: Callable[[Ledger], _T], *, tries: int = 3) -> _T:
    """``read`` on the ledger at ``p``, opened read only. A campaign that starts or
    checkpoints while it reads (the file opened immutable, or its pages moved) changes
    the file's size, time or log: then it is read again, through its log."""
    real = p.resolve()

    def stamp() -> tuple[int, int, bool]:
        st = real.stat()
        return st.st_size, st.st_mtime_ns, os.path.exists(side(p, "-wal"))

    for attempt in range(tries):
        before = stamp()
        try:
            with Ledger(p, readonly=True) as ledger:
                got = read(ledger)
        except LedgerDamaged as e:  # pages moved under an immutable read, read again
            # A value no campaign writes is damage, said at once, unless the file changed
            # under the read: a torn immutable read can give any value, so read it again.
            if attempt + 1 == tries or (not e.reread and stamp() == before):
                raise
            continue
        if stamp() == before:
            return got
    return got  # a campaign checkpointing throughout: its last read, each query whole


def read_status(p: Path, *, shown: int | None = None) -> StatusView:
    """The text view of ``push status`` of the ledger at ``p`` (read only)."""
    return read_consistently(p, lambda ledger: status_view(ledger, shown))
