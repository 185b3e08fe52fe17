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

import bisect
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, fields
from datetime import datetime
from operator import itemgetter
from pathlib import Path
from typing import Any, TypeVar

from ..dates import now
from ..spelling import CLI_SPELLING, PYTHON
from .ledger import DONE_STATES, STATES, Ledger, UnitRow
from .ledger_files import LedgerDamaged, side
from .ledger_meta import DARK_KEY, JUDGED_KEY, NONE_FOUND, NOTHING_JUDGED, UNKNOWN

# How a stored out-of-space error offers in-place writing: as the CLI's runs said it (and
# every ledger before the hints took the caller's words), and as a script's runs say it.
IN_PLACE_SAID = (CLI_SPELLING.in_place, PYTHON.in_place)


def in_place_would_help(error: str | None) -> bool:
    """Whether a unit's stored error offers in-place writing, in either spelling."""
    return any(said in (error or "") for said in IN_PLACE_SAID)


__all__ = [
    "DARK_KEY",
    "DATES_IN_SQL",
    "JUDGED_KEY",
    "NONE_FOUND",
    "NOTHING_JUDGED",
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
    left = [
        (UnitRow(*r[:-1]), dark_value(dates, r[-1]))
        for r in ledger.select(
            f"SELECT {cols}, {_HELD} FROM units WHERE state IN ({marks}) ORDER BY id LIMIT ?",
            (*NOT_DONE, limit),
        )
    ]
    unused = [
        UnitRow(*r)
        for r in ledger.select(
            f"SELECT {cols} FROM units WHERE state = 'unused' ORDER BY id LIMIT ?", (limit,)
        )
    ]
    # out of space: as the run's summary tells it (_push_render._full_units)
    said = " OR ".join("instr(last_error, ?) > 0" for _ in IN_PLACE_SAID)
    full, in_place = next(
        ledger.select(
            f"SELECT COUNT(*), COALESCE(MIN({said}), 0) FROM units "
            "WHERE state = 'failed' AND instr(last_error, 'out of space') > 0",
            IN_PLACE_SAID,
        )
    )
    return StatusView(meta, counts, first, left, unused, full, bool(in_place), dark)


def _order(value: object) -> tuple[int, Any]:
    """SQLite's ORDER BY of a column's values: NULL, numbers, text (BINARY: as str
    compares), blobs; a damaged ledger may hold any of them as an id."""
    if value is None:
        return (0, 0)
    if isinstance(value, int | float):
        return (1, value)
    return (2, value) if isinstance(value, str) else (3, value)


def _tally(
    ledger: Ledger, dates: dict[str, str]
) -> tuple[dict[str, int], dict[str, list[str]], dict[str, int]]:
    """Units per state, each state's first IDS_PER_STATE ids, and units per go-dark date
    (in :func:`dark_order`), in one pass over the table holding a few values: SQLite's
    GROUP BY and window functions sort every row first (2 million: 300 MB, seconds)."""
    counts = dict.fromkeys(STATES, 0)
    first: dict[str, list[str]] = {}
    held_by: dict[str | None, int] = {}
    uid_shown = ledger.shown_exprs()[0]  # a URL's query values masked
    for state, uid, held in ledger.select(f"SELECT state, {uid_shown}, {_HELD} FROM units"):
        counts[state] = counts.get(state, 0) + 1
        held_by[held] = held_by.get(held, 0) + 1
        ids = first.setdefault(state, [])
        if len(ids) < IDS_PER_STATE or (
            uid < ids[-1]  # text ids: the common case, compared directly
            if type(uid) is str and type(ids[-1]) is str
            else _order(uid) < _order(ids[-1])
        ):
            bisect.insort(ids, uid, key=_order)
            del ids[IDS_PER_STATE:]
    dark: dict[str, int] = {}
    for held, n in held_by.items():
        value = dark_value(dates, held)
        dark[value] = dark.get(value, 0) + n
    ordered = {k: dark[k] for k in sorted(dark, key=dark_order)}
    return {s: counts[s] for s in STATES}, first, ordered


# A unit's keys in --json and --csv: UnitRow's, then the day its current CA goes dark.
UNIT_KEYS = (*(f.name for f in fields(UnitRow)), "goes_dark")
UNIT_BATCH = 1024  # rows read, encoded and written at a time
DATES_IN_SQL = 64  # go-dark dates looked up by SQL (one CASE per row); more: by Python
_STATE_DARK = itemgetter(UNIT_KEYS.index("state"), len(UNIT_KEYS) - 1)


def unit_batches(ledger: Ledger, *, as_text: bool = False) -> Iterator[list[tuple[Any, ...]]]:
    """Every unit by id as ``--json`` and ``--csv`` give it (the values of UNIT_KEYS),
    UNIT_BATCH rows at a time, read as they are written. A campaign meets a few CA files:
    SQL names each unit's date, so a row needs no Python of its own (2 million did).
    ``as_text``: each cell as ``csv.writer`` writes it where SQLite says it alike (NULL
    as "", a whole number in decimal); a float or blob left as it is."""
    _, dates = _split_meta(ledger.meta())
    known = {k: v for k, v in dates.items() if k}  # as dark_value: no file held, unknown
    cols, size = ledger.shown_exprs(), UNIT_BATCH
    if as_text:
        cols = [f"ifnull({_as_text(c) if c == 'attempts' else c}, '')" for c in cols]
    if len(known) > DATES_IN_SQL:  # a CASE that long is slower than a dict
        sql = f"SELECT {', '.join(cols)}, {_HELD} FROM units ORDER BY id"
        for batch in ledger.select_batches(sql, (), size):
            yield [(*r[:-1], dark_value(dates, r[-1])) for r in batch]
        return
    whens = " ".join("WHEN ? THEN ?" for _ in known)
    dark = f"CASE {_HELD} {whens} ELSE ? END" if known else "?"
    args = [*(x for pair in known.items() for x in pair), UNKNOWN]
    sql = f"SELECT {', '.join(cols)}, {dark} FROM units ORDER BY id"
    yield from ledger.select_batches(sql, args, size)


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

    def __init__(self) -> None:
        self._seen: Counter[tuple[Any, Any]] = Counter()

    def add(self, batch: list[tuple[Any, ...]]) -> None:
        self._seen.update(map(_STATE_DARK, batch))  # counted in C, not row by row

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
        return st.st_size, st.st_mtime_ns, side(p, "-wal").exists()

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
