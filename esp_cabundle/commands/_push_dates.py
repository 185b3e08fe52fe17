"""What ``push`` and ``push status`` say of the forecast of the units' current CA files:
since when one found already fails (with check's roadmap date beside it), and the day
the units' current CA stops working."""

from __future__ import annotations

from datetime import datetime

from ..text import plural

__all__ = ["date_lines"]


def date_lines(
    deadline: datetime | str | None,
    since: datetime | str | None,
    *,
    pending: int = 0,
    begun: int = 0,
    offline: int = 0,
    settled: bool = False,
    roadmap: tuple[datetime | str, str] | None = None,
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

    def day(d: datetime | str) -> str:
        return d[:10] if isinstance(d, str) else d.date().isoformat()

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
            "A CA file found on units fails a server the campaign judged it against, at "
            f"least since {day(since)}"
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
        why += [f"{begun} pending: begun, not finished"] if begun else []
        why += [f"{offline} offline"] if offline else []
        if why:
            line += (
                f" {plural(pending + offline, 'unit')} not reached yet ({', '.join(why)}) "
                f"may hold it too: run {again} again (or with --watch) to reach "
                f"{'it' if pending + offline == 1 else 'them'}."
            )
        out.append(line)
    if deadline is not None:
        out.append(f"The units' current CA stops working on {day(deadline)}.")
    return out


def _roadmap_words(when: datetime | str, why: str) -> str:
    """check's words for the roadmap's date (``timeline.roadmap_words``), naming the
    chain: push's sentence shows none (check's says "this chain" beside it)."""
    from ..timeline import roadmap_words  # deferred: verify's forecasting, for this line only

    day = datetime.fromisoformat(when) if isinstance(when, str) else when
    return roadmap_words(day, why, "that server's chain")
