"""The forecast as one self-contained HTML page: a timeline and the verdict table.

``esp-cabundle check --report report.html`` writes it for people who do not read
terminal output (fleet owners, a CI artifact). Everything is inline: CSS in a ``<style>``
element, the timeline as inline SVG, no script and no network resource, so the file
opens anywhere, offline, years later. The same report gives the same bytes: dates come
from the report (its ``at`` and horizon), never from the clock.

Timeline: one bar per trusted root and per certificate each server sends, from
not-before to not-after; for a server whose chain changes over time (a CA roadmap), a
band per chain from the day servers start sending it to the day they stop; the
service-life window shaded; a line at the date checked; a mark where a target's verdict
flips (a certificate date or a chain change), and where a chain already failing at the
date checked began to fail. A bar that starts before the axis says so; no label runs
off the picture. Elements carry ``data-*`` attributes with their ISO dates so tests and
tools can read the page.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import MAXYEAR, MINYEAR, datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from . import __version__
from .dates import LAST
from .fileio import write_atomic
from .text import plural, printable
from .verify import describe_certificate

if TYPE_CHECKING:
    from .check import CheckReport, ItemResult
    from .targets import ChainNotCaptured

__all__ = ["ReportWrite", "render_html_report", "write_html_report"]

_WIDTH = 1160
_LABEL_W = 330
_RIGHT_PAD = 24
_TOP = 34  # room for the year labels
_ROW = 20
_BAR = 12
_GROUP_GAP = 10
# Bars that began long ago would squeeze the years that matter; clip the axis there.
_MAX_YEARS_BACK = 12
# Likewise ends far ahead (a root valid until 9999, service until 9999-12-31): the
# axis stops this long after the last verdict change; what runs on is drawn to its edge.
_MAX_YEARS_AHEAD = 50
# Year labels at most this many; grid lines every year up to 100 years, else per label.
_MAX_YEAR_LABELS = 20
_YEAR_STEPS = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000)

_CSS = """
body { font: 14px/1.4 system-ui, -apple-system, "Segoe UI", sans-serif; color: #1b1b1b;
  margin: 24px; background: #fff; }
h1 { font-size: 20px; margin: 0 0 4px; }
h2 { font-size: 16px; margin: 24px 0 8px; }
p.summary { margin: 4px 0; }
.pass { color: #1a7f37; font-weight: 600; }
.fail { color: #c62828; font-weight: 600; }
.unjudged { color: #b26a00; font-weight: 600; }
svg { display: block; max-width: 100%; height: auto; border: 1px solid #ddd;
  background: #fff; }
svg text { font: 11px system-ui, sans-serif; fill: #333; }
svg text.group { font-weight: 600; fill: #111; }
svg text.mark-label { font-size: 10px; }
svg .axis { stroke: #999; stroke-width: 1; }
svg .tick { stroke: #e3e3e3; stroke-width: 1; }
svg .bar.root { fill: #2c7fb8; }
svg .bar.root.undated { fill: #9ecae1; }
svg .bar.chain { fill: #7b52ab; }
svg .bar.chain.renewed { fill: #c2a5cf; }
svg .service-life { fill: #d9f0d3; }
svg .today { stroke: #e6550d; stroke-width: 2; }
svg .flip.fail { stroke: #c62828; stroke-width: 3; }
svg .flip.pass { stroke: #1a7f37; stroke-width: 3; }
svg .failing-since { stroke: #c62828; stroke-width: 2; stroke-dasharray: 4 3; }
svg .bar.sent { fill: #fdd0a2; }
svg .sent-start, svg .sent-stop { stroke: #a63603; stroke-width: 2; }
svg .clipped-mark { fill: #fff; }
ul.legend { list-style: none; padding: 0; margin: 6px 0; display: flex; flex-wrap: wrap;
  gap: 14px; font-size: 12px; }
ul.legend span.swatch { display: inline-block; width: 14px; height: 10px;
  margin-right: 4px; vertical-align: middle; }
table.verdicts { border-collapse: collapse; width: 100%; }
table.verdicts th, table.verdicts td { border: 1px solid #ddd; padding: 4px 8px;
  text-align: left; vertical-align: top; }
table.verdicts th { background: #f3f3f3; }
table.verdicts td.why { font-size: 12px; max-width: 520px; }
table.verdicts td.nowrap { white-space: nowrap; }
footer { margin-top: 24px; color: #777; font-size: 12px; }
""".strip()


@dataclass(frozen=True, slots=True)
class _Bar:
    label: str
    kind: str  # "root", "chain" or "sent" (when a server sends a chain)
    not_before: datetime | None
    not_after: datetime | None
    sha256: str | None
    renewed: bool = False


@dataclass(frozen=True, slots=True)
class _Group:
    title: str
    bars: tuple[_Bar, ...]
    result: ItemResult | None = None


def _h(text: str, quote: bool = True) -> str:
    """``text`` for the page: control characters (C0, C1: ESC starting a terminal
    sequence, a NUL, a newline) and other non-printing ones written as ``\\x1b``-style
    escapes, as terminal output shows them (:func:`~esp_cabundle.text.printable`), then
    HTML-escaped. Subjects and names come from certificates anyone can make."""
    return html.escape(printable(text), quote=quote)


def _day(dt: datetime) -> str:
    return dt.date().isoformat()


def _midnight(dt: datetime) -> datetime:
    return datetime(dt.year, dt.month, dt.day, tzinfo=timezone.utc)


# Average glyph widths of the SVG fonts (11 px and 10 px system-ui), rounded up so the
# estimate errs wide: a label placed by it never runs past the picture's edge.
_CHAR_W = {11: 6.6, 10: 6.0}


def _text_at(x: float, text: str, size: int, lo: float = 2.0) -> tuple[float, str]:
    """Where a label for a mark at ``x`` goes: right of it if it fits before the right
    edge, else left of it (anchored at its end), never past the left edge ``lo``."""
    w = len(text) * _CHAR_W[size]
    if x + 3 + w <= _WIDTH - 2:
        return round(x + 3, 1), "start"
    return round(max(x - 3, lo + w), 1), "end"


def _groups(report: CheckReport) -> list[_Group]:
    roots = tuple(
        _Bar(a.label, "root", a.not_before, a.not_after, a.sha256) for a in report.trust.anchors
    )
    groups = [_Group(f"Trust set: {plural(len(roots), 'root')}", roots)]

    for r in report.results:
        tl = r.timeline
        # not an undated chain's expired ones: judged by their dates (ItemResult.undated_note)
        renewed = {e.sha256 for e in tl.rotating if e not in tl.undated}
        bars: list[_Bar] = []
        seen: set[str] = set()
        for seg in tl.segments:
            p = seg.period
            if p.start is not None and r.item.periods:
                bars.append(_Bar(f"sends {p.name}", "sent", p.start, p.end, None))
            for c in p.chain.certificates:
                if c.sha256 not in seen:
                    seen.add(c.sha256)
                    bars.append(
                        _Bar(
                            describe_certificate(c),
                            "chain",
                            c.not_before,
                            c.not_after,
                            c.sha256,
                            c.sha256 in renewed,
                        )
                    )
        groups.append(_Group(r.item.name, tuple(bars), r))
    return groups


def _year(year: int) -> datetime:
    """1 January of ``year``, held within the calendar (years 1 to 9999)."""
    return datetime(min(max(year, MINYEAR), MAXYEAR), 1, 1, tzinfo=timezone.utc)


def _axis(
    report: CheckReport, groups: Sequence[_Group], window_end: datetime | None
) -> tuple[datetime, datetime]:
    """Whole years from the earliest start (at most _MAX_YEARS_BACK before the date
    checked) to the latest end (at most _MAX_YEARS_AHEAD after the last verdict change),
    at least 3 years, within the years 1 to 9999."""
    at = _midnight(report.at)
    starts = [b.not_before for g in groups for b in g.bars if b.not_before is not None]
    events = [at]
    for r in report.results:
        events += [f.date for f in r.timeline.flips]
        events += [r.timeline.start.at]
        if r.timeline.failing_since is not None:
            starts.append(r.timeline.failing_since.date)
    ends = [b.not_after for g in groups for b in g.bars if b.not_after is not None]
    ends += [d for d in (report.until, window_end) if d is not None]
    lo = max(min([at, *starts]), _year(at.year - _MAX_YEARS_BACK))
    last = max(events)
    hi = max(last, min(max([last, *ends]), _year(last.year + _MAX_YEARS_AHEAD)))
    first, end = lo.year, hi.year + 1  # the axis ends on 1 January after ``hi``
    if end - first < 3:
        end = min(first + 3, MAXYEAR + 1)
        first = end - 3
    if end > MAXYEAR:  # no 1 January 10000: the axis ends with the calendar
        return _year(first), LAST
    return _year(first), _year(end)


class _Scale:
    def __init__(self, lo: datetime, hi: datetime) -> None:
        self.lo, self.hi = lo, hi
        self.x0 = float(_LABEL_W)
        self.x1 = float(_WIDTH - _RIGHT_PAD)

    def x(self, dt: datetime) -> float:
        span = (self.hi - self.lo).total_seconds()
        t = min(max((dt - self.lo).total_seconds(), 0.0), span)
        return round(self.x0 + (self.x1 - self.x0) * t / span, 1)


def _attrs(**kw: object) -> str:
    return "".join(
        f' {k.rstrip("_").replace("_", "-")}="{_h(str(v), quote=True)}"'
        for k, v in kw.items()
        if v is not None
    )


def _mark_label(x: float, y: float, text: str, cls: str = "mark-label") -> str:
    tx, anchor = _text_at(x, text, 10)
    return f'<text class="{cls}" x="{tx}" y="{y}" text-anchor="{anchor}">{_h(text)}</text>'


def _svg(report: CheckReport, window_end: datetime | None, window_label: str) -> str:
    groups = _groups(report)
    lo, hi = _axis(report, groups, window_end)
    sc = _Scale(lo, hi)
    rows = sum(1 + len(g.bars) for g in groups)
    height = _TOP + rows * _ROW + len(groups) * _GROUP_GAP + 16
    plot_top, plot_bottom = _TOP - 6, height - 10
    out: list[str] = [
        f'<svg id="timeline-svg" xmlns="http://www.w3.org/2000/svg" width="{_WIDTH}" '
        f'height="{height}" viewBox="0 0 {_WIDTH} {height}" role="img" '
        f'aria-label="Timeline of certificate validity and verdict changes"'
        f"{_attrs(data_from=_day(lo), data_to=_day(hi))}>"
    ]
    at = _midnight(report.at)
    if window_end is not None and window_end > at:
        x_a, x_b = sc.x(at), sc.x(window_end)
        out.append(
            f'<rect class="service-life" x="{x_a}" y="{plot_top}" width="{round(x_b - x_a, 1)}" '
            f'height="{plot_bottom - plot_top}"'
            f"{_attrs(data_from=_day(at), data_to=_day(window_end))}>"
            f"<title>{_h(window_label)}: {_day(at)} to {_day(window_end)}</title></rect>"
        )
    # Year grid and labels.
    span_years = hi.year - lo.year
    step = next(s for s in _YEAR_STEPS if span_years <= s * _MAX_YEAR_LABELS)
    grid = 1 if span_years <= 100 else step
    for year in range(lo.year, hi.year + 1, grid):
        x = sc.x(datetime(year, 1, 1, tzinfo=timezone.utc))
        out.append(f'<line class="tick" x1="{x}" y1="{plot_top}" x2="{x}" y2="{plot_bottom}"/>')
        if (year - lo.year) % step == 0:
            anchor = "end" if x + 14 > _WIDTH - 2 else "middle"
            out.append(f'<text class="year" x="{x}" y="16" text-anchor="{anchor}">{year}</text>')
    out.append(f'<line class="axis" x1="{sc.x0}" y1="{plot_top}" x2="{sc.x1}" y2="{plot_top}"/>')

    y = _TOP
    for g in groups:
        group_top = y
        out.append(f'<text class="group" x="8" y="{y + 14}">{_h(_short(g.title, 48))}</text>')
        y += _ROW
        for b in g.bars:
            out.append(_bar(b, sc, y, hi) if b.kind != "sent" else _sent(b, sc, y, hi))
            y += _ROW
        if g.result is not None:
            out.extend(_marks(g, sc, group_top, y))
        y += _GROUP_GAP
    x_today = sc.x(at)
    out.append(
        f'<line class="today" x1="{x_today}" y1="{plot_top}" x2="{x_today}" y2="{plot_bottom}"'
        f"{_attrs(data_date=_day(at))}><title>checked at {_day(at)}</title></line>"
    )
    out.append(_mark_label(x_today, plot_top + 10, _day(at)))
    out.append("</svg>")
    return "\n".join(out)


def _marks(g: _Group, sc: _Scale, top: int, bottom: int) -> list[str]:
    """Flip marks over a target's rows, and where a failure in effect began."""
    assert g.result is not None
    tl = g.result.timeline
    out = []
    for f in tl.flips:
        x = sc.x(f.date)
        state = "pass" if f.verdict.ok else "fail"
        why = "; ".join(f.causes) or "verdict changes"
        data = _attrs(
            data_target=g.title,
            data_date=_day(f.date),
            data_ok=str(f.verdict.ok).lower(),
            data_chain_change=str(f.chain_change).lower(),
        )
        out.append(
            f'<line class="flip {state}" x1="{x}" y1="{top + 2}" x2="{x}" y2="{bottom - 2}"'
            f"{data}><title>{_h(g.title)}: {state}s from {_day(f.date)} ({_h(why)})"
            "</title></line>"
        )
        word = "fails" if state == "fail" else "passes"
        out.append(_mark_label(x, top + 12, f"{word} {_day(f.date)}"))
    if tl.sent_from is not None and not tl.start.ok:  # refused from its first day
        x = sc.x(tl.sent_from)
        out.append(
            f'<line class="flip fail" x1="{x}" y1="{top + 2}" x2="{x}" y2="{bottom - 2}"'
            f"{_attrs(data_target=g.title, data_date=_day(tl.sent_from), data_ok='false')}"
            f"{_attrs(data_chain_change='true')}><title>{_h(g.title)}: fails from "
            f"{_day(tl.sent_from)}, when servers start sending it</title></line>"
        )
        out.append(_mark_label(x, top + 12, f"fails {_day(tl.sent_from)}"))
    since = tl.failing_since
    if since is not None and since.date >= sc.lo:
        x = sc.x(since.date)
        out.append(
            f'<line class="failing-since" x1="{x}" y1="{top + 2}" x2="{x}" y2="{bottom - 2}"'
            f"{_attrs(data_target=g.title, data_date=_day(since.date))}>"
            f"<title>{_h(g.title)}: {_h(since.describe())}</title></line>"
        )
        out.append(_mark_label(x, top + 12, f"failing since {_day(since.date)}"))
    return out


def _short(text: str, n: int) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


def _clipped(b: _Bar, sc: _Scale, y: int) -> tuple[str, str, str | None]:
    """For a bar that starts before the axis or ends after it: a marker at that end of
    the axis, a note, and the ``data-clipped`` value ("start", "end" or both)."""
    marks, notes, sides = [], [], []
    if b.not_before is not None and b.not_before < sc.lo:
        x = sc.x0
        marks.append(
            f'<path class="clipped-mark" d="M{x + 7} {y + 2} L{x + 2} {y + _BAR / 2} '
            f'L{x + 7} {y + _BAR - 2} Z"/>'
        )
        notes.append(f" (starts {_day(b.not_before)}, before the axis)")
        sides.append("start")
    if b.not_after is not None and b.not_after > sc.hi:
        x = sc.x1
        marks.append(
            f'<path class="clipped-mark" d="M{x - 7} {y + 2} L{x - 2} {y + _BAR / 2} '
            f'L{x - 7} {y + _BAR - 2} Z"/>'
        )
        notes.append(f" (runs past the axis, to {_day(b.not_after)})")
        sides.append("end")
    return "".join(marks), "".join(notes), " ".join(sides) or None


def _bar(b: _Bar, sc: _Scale, y: int, hi: datetime) -> str:
    label = f'<text x="20" y="{y + 10}">{_h(_short(b.label, 46))}</text>'
    classes = f"bar {b.kind}" + (" renewed" if b.renewed else "")
    if b.not_before is None or b.not_after is None:
        # An ESP-IDF bundle entry: a name and a key, no dates; it anchors forever.
        return label + (
            f'<rect class="{classes} undated" x="{sc.x0}" y="{y}" '
            f'width="{round(sc.x1 - sc.x0, 1)}" height="{_BAR}"'
            f"{_attrs(data_label=b.label, data_sha256=b.sha256)}>"
            f"<title>{_h(b.label)}: no dates (ESP-IDF bundle entry)</title></rect>"
        )
    x_a, x_b = sc.x(b.not_before), sc.x(b.not_after)
    width = max(round(x_b - x_a, 1), 1.0)
    note = " (renewed by the server)" if b.renewed else ""
    mark, clip_note, clipped = _clipped(b, sc, y)
    classes += "".join(f" clipped-{side}" for side in (clipped or "").split())
    data = _attrs(
        data_label=b.label,
        data_sha256=b.sha256,
        data_not_before=_day(b.not_before),
        data_not_after=_day(b.not_after),
        data_clipped=clipped,
    )
    return (
        label
        + (
            f'<rect class="{classes}" x="{x_a}" y="{y}" width="{width}" height="{_BAR}" rx="2"'
            f"{data}>"
            f"<title>{_h(b.label)}: {_day(b.not_before)} to {_day(b.not_after)}{note}"
            f"{clip_note}</title></rect>"
        )
        + mark
    )


def _sent(b: _Bar, sc: _Scale, y: int, hi: datetime) -> str:
    """The time servers send one chain, with a mark where they start and where they stop."""
    assert b.not_before is not None
    end = b.not_after or hi
    x_a, x_b = sc.x(b.not_before), sc.x(end)
    mark, clip_note, clipped = _clipped(b, sc, y)
    until = f" until {_day(b.not_after)}" if b.not_after else " (no end announced)"
    classes = "".join(f" clipped-{side}" for side in (clipped or "").split())
    out = [
        f'<text x="20" y="{y + 10}">{_h(_short(b.label, 46))}</text>',
        f'<rect class="bar sent{classes}" x="{x_a}" y="{y}" '
        f'width="{max(round(x_b - x_a, 1), 1.0)}" height="{_BAR}"'
        f"{_attrs(data_step=b.label.removeprefix('sends '), data_from=_day(b.not_before))}"
        f"{_attrs(data_to=_day(b.not_after) if b.not_after else None)}"
        f"{_attrs(data_clipped=clipped)}>"
        f"<title>{_h(b.label)} from {_day(b.not_before)}{until}{clip_note}</title></rect>",
        mark,
    ]
    if b.not_before >= sc.lo:
        out.append(
            f'<line class="sent-start" x1="{x_a}" y1="{y - 3}" x2="{x_a}" y2="{y + _BAR + 3}"'
            f"{_attrs(data_date=_day(b.not_before))}/>"
        )
    if b.not_after is not None and b.not_after <= sc.hi:
        out.append(
            f'<line class="sent-stop" x1="{x_b}" y1="{y - 3}" x2="{x_b}" y2="{y + _BAR + 3}"'
            f"{_attrs(data_date=_day(b.not_after))}/>"
        )
    return "".join(out)


def _verdict_rows(report: CheckReport) -> list[str]:
    rows = []
    for r in report.results:
        tl = r.timeline
        v = tl.start
        first = tl.first_failure
        start_text = "accepted" if v.ok else f"refused: {v.error_text}"
        if v.flag_names:
            start_text += f" [{', '.join(v.flag_names)}]"
        if tl.sent_from is not None:
            start_text = f"sent from then, {start_text}"
        since = tl.failing_since
        failure_date = tl.first_failure_date
        if since is not None:
            failure = f"already failing since {_day(since.date)}"
            if not since.bounded:
                failure = f"failing at least since {_day(since.date)}"
            if since.valid_from is not None:  # the chain did not exist then
                failure = f"not what the server sent at {_day(since.date)}"
            why = f"{since.why}. {v.explanation}"
        elif first is not None:
            failure = _day(first.date)
            why = first.describe()
        elif failure_date is not None:
            failure = _day(failure_date)
            why = v.explanation
        else:
            failure = ""
            why = tl.note or v.explanation
        what_if = f"server: {r.item.what_if}. " if r.item.what_if else ""
        why = " ".join((why, *r.chain_notes))  # as the text says them after the verdict
        state = "pass" if r.ok else "fail"
        data = _attrs(
            data_target=r.item.name,
            data_ok=str(r.ok).lower(),
            data_first_failure=_day(failure_date) if failure_date else None,
            data_failing_since=_day(since.date) if since else None,
        )
        rows.append(
            f"<tr{data}>"
            f"<td>{_h(r.item.name)}</td>"
            f'<td class="nowrap">{_h(r.item.device.name)}</td>'
            f'<td class="{state}">{state.upper()}</td>'
            f"<td>{_day(v.at)}: {_h(start_text)}</td>"
            f'<td class="nowrap">{_h(failure)}</td>'
            f'<td class="why">{_h(what_if + why)}</td>'
            "</tr>"
        )
    return rows


def _unjudged_rows(unjudged: Sequence[ChainNotCaptured]) -> list[str]:
    """A row per target whose chain could not be captured: left out, the page showed
    every chain passing while the run exited 3."""
    return [
        f"<tr{_attrs(data_target=e.target, data_ok='false', data_judged='false')}>"
        f"<td>{_h(e.target)}</td><td></td>"
        '<td class="unjudged">NOT JUDGED</td>'
        f'<td class="why" colspan="3">{_h(f"not judged: {e.message}")}</td>'
        "</tr>"
        for e in unjudged
    ]


def render_html_report(
    report: CheckReport,
    *,
    service_until: datetime | None = None,
    unjudged: Sequence[ChainNotCaptured] = (),
) -> str:
    """The page for ``report``; ``service_until`` (the devices' end of service, e.g. from
    ``cabundle.yaml``) is shaded, else the forecast horizon ``report.until``;
    ``unjudged``: the targets whose chains could not be captured, counted and listed."""
    # deferred: the catalog loads only for a page, to count the trust set's intermediates
    from .anchors import describe_trust
    from .catalog import Catalog  # deferred: as above

    window_end = service_until or report.until
    window_label = "service life" if service_until is not None else "forecast horizon"
    failed = len(report.failures)
    passed = len(report.results) - failed
    span = f"at {_day(report.at)}"
    if report.until:
        span += f", forecast until {_day(report.until)}"
    names = sorted({r.item.device.name for r in report.results})
    devices = f"; devices: {_h(', '.join(names))}" if names else ""  # none: nothing judged
    counts = f"{passed} pass, {failed} fail"
    if unjudged:
        counts += f", {len(unjudged)} not judged"
    title = f"esp-cabundle forecast: {counts}"
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{_h(title)}</title>",
        f"<style>\n{_CSS}\n</style>",
        "</head>",
        "<body>",
        "<h1>Will devices accept their servers?</h1>",
        f'<p class="summary"><span class="{"pass" if report.ok and not unjudged else "fail"}">'
        f"{counts}</span> (checked {span}{devices}).</p>",
        f'<p class="summary">Trust set: {_h(describe_trust(report.trust, Catalog.load()))}.</p>',
        '<section id="timeline">',
        "<h2>Timeline</h2>",
        _svg(report, window_end, window_label),
        '<ul class="legend">',
        '<li><span class="swatch" style="background:#2c7fb8"></span>trusted root</li>',
        '<li><span class="swatch" style="background:#7b52ab"></span>certificate the server '
        "sends</li>",
        '<li><span class="swatch" style="background:#c2a5cf"></span>leaf or issuing '
        "intermediate (renewed by the server)</li>",
        '<li><span class="swatch" style="background:#fdd0a2"></span>when servers send a '
        "chain (CA roadmap), marked where they start and stop</li>",
        f'<li><span class="swatch" style="background:#d9f0d3"></span>{window_label}</li>',
        '<li><span class="swatch" style="background:#e6550d"></span>date checked</li>',
        '<li><span class="swatch" style="background:#c62828"></span>verdict flips to fail</li>',
        '<li><span class="swatch" style="background:#1a7f37"></span>verdict flips to pass</li>',
        '<li><span class="swatch" style="background:repeating-linear-gradient(90deg,#c62828 0 4px,'
        '#fff 4px 7px)"></span>where a failure in effect at the date checked began</li>',
        "<li>◀ on a bar: it starts before the axis; ▶: it runs past the axis</li>",
        "</ul>",
        "</section>",
        '<section id="verdicts">',
        "<h2>Verdicts</h2>",
        '<table class="verdicts">',
        "<thead><tr><th>Target</th><th>Device</th><th>Verdict</th><th>At start</th>"
        "<th>First failure</th><th>Why</th></tr></thead>",
        "<tbody>",
        *_verdict_rows(report),
        *_unjudged_rows(unjudged),
        "</tbody>",
        "</table>",
        "</section>",
    ]
    notes = list(report.notes)
    if notes:
        parts += ['<section id="notes">', "<h2>Notes</h2>", "<ul>"]
        parts += [f"<li>{_h(n)}</li>" for n in notes]
        parts += ["</ul>", "</section>"]
    parts += [
        f"<footer>esp-cabundle {_h(__version__)}: check {_h(span)}.</footer>",
        "</body>",
        "</html>",
    ]
    return "\n".join(parts) + "\n"


class ReportWrite(NamedTuple):
    """The page's size, and whether the file already held exactly it and was left
    untouched (same inode and mtime; a read-only file system is no error then)."""

    size: int
    unchanged: bool


def write_html_report(
    path: str | Path,
    report: CheckReport,
    *,
    service_until: datetime | None = None,
    unjudged: Sequence[ChainNotCaptured] = (),
) -> ReportWrite:
    """Render and write atomically (a failure leaves no partial page); its size and
    whether it was unchanged, for the line that says so (as build and pack say it)."""
    text = render_html_report(report, service_until=service_until, unjudged=unjudged)
    page = text.encode("utf-8")
    return ReportWrite(len(page), not write_atomic(path, page))
