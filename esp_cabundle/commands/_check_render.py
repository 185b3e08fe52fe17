"""``esp-cabundle check``'s verdicts as text: the trust set, the date (and horizon)
checked, and each chain's verdict, path or failure, and the dates it flips."""

from __future__ import annotations

import textwrap
from datetime import timedelta
from typing import TYPE_CHECKING

from ..anchors import describe_trust, intermediate_notes, intermediates, not_ca_notes
from ..catalog import Catalog
from ..dates import clamped
from ..text import printable

if TYPE_CHECKING:
    from ..check import CheckReport, ItemResult
    from ..timeline import Period

__all__ = ["render_report"]


def _wrapper(width: int, first: str, rest: str) -> textwrap.TextWrapper:
    """Prose wrapped at ``width`` without breaking a word or at a hyphen: a path, a
    command (esp-cabundle) or a date (YYYY-MM-DD) is copied whole from the terminal."""
    return textwrap.TextWrapper(
        width=width,
        initial_indent=first,
        subsequent_indent=rest,
        break_long_words=False,
        break_on_hyphens=False,
    )


def render_report(report: CheckReport, *, width: int = 96) -> str:
    """The verdicts as text, wrapped at ``width`` (the terminal's, when narrower)."""
    catalog = Catalog.load()
    cas = report.anchors(catalog)
    mids = len(intermediates(cas))
    lines = [f"Trust set: {printable(describe_trust(report.trust, catalog))}"]
    span = f"at {report.at.date().isoformat()}"
    if report.until:
        span += f", forecast until {report.until.date().isoformat()}"
    lines.append(f"Checked {span}.")
    lines.extend(f"Note: {n}." for n in report.notes)
    if mids:  # as the gate and inspect warn about them
        key_only = report.trust.stored_bundle
        lines.extend(f"Note: {n}." for n in intermediate_notes(cas, catalog, key_only=key_only))
    lines.extend(f"Note: {n}." for n in not_ca_notes(cas))  # a server's certificate given
    devices = {r.item.device.name: r.item.device for r in report.results}
    if len(devices) == 1:
        d = next(iter(devices.values()))
        text = f"Device: {d.name}" + (f" — {d.description}" if d.description else "")
        lines.extend(_wrapper(width, "", "  ").wrap(text))
    for r in report.results:
        lines.append("")
        lines.extend(
            _render_item(r, show_device=len(devices) > 1, horizon=bool(report.until), width=width)
        )
    lines.append("")
    failed = len(report.failures)
    lines.append(
        f"{len(report.results) - failed} pass, {failed} fail"
        + (" (over the whole horizon)" if report.until else "")
    )
    return "\n".join(lines)


def _render_item(r: ItemResult, *, show_device: bool, horizon: bool, width: int) -> list[str]:
    tl = r.timeline
    v = tl.start
    head = f"{'PASS' if r.ok else 'FAIL'}  {printable(r.item.name)}"
    if show_device:
        head += f"  [{r.item.device.name}]"
    out = [head]
    wrap = _wrapper(width, "      ", "        ")
    if r.item.what_if:
        out.extend(wrap.wrap(f"server: {r.item.what_if}"))
    if len(r.item.periods) > 1 or (r.item.periods and r.item.periods[0].start):
        out.extend(wrap.wrap("sends: " + "; ".join(_span(p) for p in r.item.periods)))
    status = "accepted" if v.ok else "refused"
    flags = f" [{', '.join(v.flag_names)}]" if v.flag_names else ""
    sent = tl.period_at(v.at)
    chain = f" ({sent.name})" if sent.name and r.item.periods else ""
    if tl.sent_from is not None:
        status = f"not sent at the date checked; sent from then: {status}"
    name = {
        "matched": f", name {v.hostname} checked",
        "mismatch": f", name {v.hostname} does not match",
        "not-judged": ", name not judged (no --hostname)",
        "not-set": ", the device checks no name",
        "no-leaf": ", name not judged (no server certificate in the chain)",
    }[v.name_status]
    lib = f" [mbedTLS {v.profile.mbedtls}]" if v.profile.mbedtls != "2.28" else ""
    out.extend(wrap.wrap(f"{v.at.date().isoformat()}{chain}: {status}{flags}{name}{lib}"))
    if tl.failing_since is not None:
        out.extend(wrap.wrap(tl.failing_since.describe()))
    out.extend(wrap.wrap(v.explanation))
    for said in r.chain_notes:
        out.extend(wrap.wrap(said))
    if horizon:
        for f in tl.flips:
            out.extend(wrap.wrap(f.describe()))
            if f.chain_change and r.item.renewal_days:
                by = clamped(f.when, timedelta(days=r.item.renewal_days)).date().isoformat()
                out.extend(
                    wrap.wrap(f"  (a server takes the new chain when it renews: all have by {by})")
                )
        if tl.note:
            out.extend(wrap.wrap(tl.note))
        # renewed ones, and an undated chain's judged by their dates, said above
        later = [e for e in tl.rotating if e not in tl.renewed and e not in tl.undated]
        if later:
            renewed = ", ".join(f"{e.label} ({e.date.date().isoformat()})" for e in later)
            out.extend(wrap.wrap(f"renewed by the server, not forecast: {renewed}"))
    return out


def _span(p: Period) -> str:
    start = p.start.date().isoformat() if p.start else "always"
    if p.end is None:
        return f"{p.name} from {start}"
    return f"{p.name} {start}..{p.end.date().isoformat()}"
