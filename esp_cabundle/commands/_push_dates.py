"""What ``push`` and ``push status`` say of the forecast of the units' current CA files:
since when one found already fails (with check's roadmap date beside it), and the day
the units' current CA stops working; and each unit's date in their tables, by the same
rule (:func:`dark_words`): the table said "since 2024-03-13" of a DST-only unit beside
the paragraph's "at least since 2024-03-13" and its roadmap date, 2024-06-06."""

from __future__ import annotations

from datetime import datetime

from ..push.ledger_meta import NONE_FOUND, UNKNOWN
from ..push.ledger_status import is_past
from ..text import plural

__all__ = ["dark_words", "date_lines", "roadmap_note"]

Roadmap = tuple[datetime | str, str]  # check's roadmap date (an instant) and its kinds


def _day(d: datetime | str) -> str:
    return d[:10] if isinstance(d, str) else d.date().isoformat()


def _since(d: datetime | str) -> str:
    """A date a CA file already fails from, in the paragraph's and the tables' words:
    "at least", as check says of a saved chain's date (see :func:`date_lines`)."""
    return f"at least since {_day(d)}"


def _instant(d: datetime | str) -> datetime:
    return datetime.fromisoformat(d) if isinstance(d, str) else d


def dark_words(
    value: str, failing_since: datetime | str | None = None, roadmap: Roadmap | None = None
) -> str:
    """A unit's go-dark value (an ISO instant, "none" or "unknown") as the tables show it:
    the day; a past one as the paragraph says ``failing_since`` (:func:`date_lines`),
    "at least since" the day, with check's roadmap date beside it when the unit's file
    is the one that date is of (its date is the campaign's ``failing_since``: the one
    ``roadmap`` is kept beside), so that the table and the paragraph tell one date."""
    if value == NONE_FOUND:
        return "none found"  # no failure within the forecast (20 years)
    if value == UNKNOWN or not is_past(value):
        return value if value == UNKNOWN else value[:10]
    same = failing_since is not None and _instant(value) == _instant(failing_since)
    beside = f" (roadmap: {_day(roadmap[0])})" if same and roadmap is not None else ""
    return _since(value) + beside


def roadmap_note(roadmap: Roadmap) -> str:
    """What "(roadmap: DAY)" in a table stands for, said once below it: check's words."""
    return f"roadmap: {_roadmap_words(*roadmap)}"


def date_lines(
    deadline: datetime | str | None,
    since: datetime | str | None,
    *,
    pending: int = 0,
    begun: int = 0,
    offline: int = 0,
    settled: bool = False,
    roadmap: Roadmap | None = None,
    again: str = "the same command",
) -> list[str]:
    """The forecast of the units' current files, as a campaign found them; ``pending``
    and ``offline``: units whose file was never read, each told what reaches them
    (``begun``: of ``pending``, those charged an attempt, so not "never started");
    ``settled``: every listed unit is done, so no unit holds the old file any more and
    nothing is said (it was said on every run and status of a finished campaign);
    ``roadmap``: check's roadmap date and kinds, said beside ``since`` in its words;
    ``again``: what to run again to reach the units not reached (``push status`` names
    the push that wrote its ledger: running status again reaches none)."""
    if settled:
        return []
    out = []
    if since is not None:
        # "at least": from a saved chain the date is only the first day that chain was
        # judged (its certificates' start, or a roadmap's date), not when the units'
        # connection broke. The units it was found on were reached (their file was
        # read), so the link does not depend on it: a unit not reached was not started,
        # or was offline, and the same command reaches it (it was told to update them
        # on the bench, as if the file had cut them off).
        head = (
            "A CA file found on units fails a server the campaign judged it against, "
            f"{_since(since)}"
        )
        rest = (
            "unit that connects to that server with it could not; these units were "
            "reached, so the link this push used does not depend on it."
        )
        line = f"{head}: a {rest}"
        if roadmap is not None:
            line = f"{head}; {_roadmap_words(*roadmap)}. A {rest}"
        fresh = pending - begun
        why = [f"{fresh} pending: never started"] if fresh else []
        why += [f"{begun} pending: begun but not finished"] if begun else []
        why += [f"{offline} offline"] if offline else []
        if why:
            line += (
                f" {plural(pending + offline, 'unit')} not reached yet ({', '.join(why)}) "
                f"may hold it too: run {again} again (or with --watch) to reach "
                f"{'it' if pending + offline == 1 else 'them'}."
            )
        out.append(line)
    if deadline is not None:
        out.append(f"The units' current CA stops working on {_day(deadline)}.")
    return out


def _roadmap_words(when: datetime | str, why: str) -> str:
    """check's words for the roadmap's date (``timeline.roadmap_words``), naming the
    chain: push's sentence shows none (check's says "this chain" beside it)."""
    from ..timeline import roadmap_words  # deferred: verify's forecasting, for this line only

    return roadmap_words(_instant(when), why, "that server's chain")
