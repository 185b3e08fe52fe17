"""Steps 4 and 5 of the gate (:mod:`.gate`): the targets and the board's own connections
must accept the CA, else a refusal naming the servers units would lose; and the one-line
summary of what accepted it.

Split from :mod:`.gate` (which re-exports :func:`parse_target`) to keep it small; the
check and its verifier still load only when there is something to judge.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from .anchors import count_anchors
from .board_links import BoardLinks, link_items
from .spelling import Spelling

if TYPE_CHECKING:
    from .boards import Board
    from .bundle import Bundle, Policy
    from .check import CheckFailed, CheckItem, CheckReport, Target
    from .config import Config

__all__ = ["parse_target"]


def parse_target(text: str, *, config: bool = True) -> Target:
    """A ``--target``: :func:`.targets.parse_target` (the one rule for file or host;
    ``config``: whether there is one, for the hint on a missing chain file)."""
    # deferred: the check and its verifier (~20 ms) load only when there are targets
    from .targets import parse_target as parse

    return parse(text, config=config)


def _targets(config: Config | None, extra: Sequence[Target]) -> tuple[Target, ...]:
    """The targets named for this write first, then the config's (by name, once)."""
    configured: tuple[Target, ...] = config.section("targets", ()) if config else ()
    names = {t.name for t in extra}
    return tuple(extra) + tuple(t for t in configured if t.name not in names)


def _judge_targets(
    bundle: Bundle,
    targets: Sequence[Target],
    config: Config | None,
    board: Board | None,
    policy: Policy,
    at: datetime,
    links: BoardLinks,
    spelling: Spelling,
    skip_hint: str,
) -> tuple[CheckReport | None, tuple[str, ...], tuple[str, ...]]:
    """Every target must accept ``bundle`` now and until the end of service; under the
    board's rules when there is a board (it is what the CA goes on), else each target's
    own device, the config's ``device:``, or the default profile. So must every
    connection of the board's firmware that reads the file, against the chains its
    server sends over time (offline, from the CA's roadmap) and its saved chain if any
    (:mod:`.own_servers`); the notes say which. A target that is such a server (push's
    ``mdash.net``) is judged as the connection is, never captured live; one whose
    firmware connection trusts something else (mDash 1.2.16's built-in root) is not
    judged at all, and a note says why (its name is returned last, for the summary)."""
    listed = {t.host for t in config.section("targets", ())} if config is not None else set()
    if links.unread:
        # deferred: as below
        from .own_servers import unread_servers

        kept, skipped = unread_servers(targets, links.unread, links.who, listed=listed)
        left_out = tuple(t.name for t in targets if t not in kept)
        targets = kept
    else:
        skipped, left_out = (), ()
    if not targets and not links.judged:
        return None, skipped, left_out
    # deferred: the check and its verifier (~20 ms) load only when there are targets
    from .check import check_items, target_items
    from .own_servers import is_own_server, own_server_evidence  # deferred: as above
    from .verify import TrustSet  # deferred: as above

    base = config.base_dir if config is not None else Path(".")
    targets = [t for t in targets if t.host in listed or not is_own_server(t, links.judged)]
    default = config.section("device") if config is not None else None
    device = board.device_profile() if board is not None else None
    items = target_items(
        targets,
        base,
        device=device,
        default_device=default,
        skip_hint=skip_hint,
        spelling=spelling,
        pulled={t.name for t in config.section("targets", ())} if config is not None else (),
    )
    own = link_items(board, links) if board is not None else []
    evidence: tuple[str, ...] = ()
    if board is not None and links.judged:
        conns = [(c, ca) for c, ca in links.judged if c.host not in listed]
        saved, evidence = own_server_evidence(conns, base, board.device_profile(), at=at)
        own += saved
    until = policy.service_until if policy.service_until and policy.service_until > at else None
    trust = TrustSet.from_bundle(bundle, source="the CA to be written")
    report = check_items(trust, [*items, *own], at=at, until=until, spelling=spelling)
    if not report.ok:
        raise _refusal(report, own, links, board, spelling.no_check)
    renewed = tuple(n for r in report.results for n in r.chain_notes)
    return report, skipped + evidence + renewed, left_out


def _refusal(
    report: CheckReport,
    own: Sequence[CheckItem],
    links: BoardLinks,
    board: Board | None,
    skip_option: str,
) -> CheckFailed:
    """The error for a CA that a target, or the board's own connection, would refuse:
    a technician reads which server the units would lose, and why."""
    from .check import CheckFailed  # deferred: loaded with the check

    cut = [r for r in report.failures if any(r.item is i for i in own)]
    broken = len(report.failures) - len(cut)
    parts = []
    if cut and board is not None:
        names = ", ".join(dict.fromkeys(r.item.name for r in cut))
        paths = ", ".join(dict.fromkeys(ca.path or "" for _, ca in links.judged))
        parts.append(
            f"cut {board.full_name} units off {names} ({links.who} verifies "
            f"{'it' if len(cut) == 1 else 'them'} with {paths}, the file being written)"
        )
    if broken:
        parts.append(f"break {broken} target{'s' if broken != 1 else ''}")
    from .fix_hints import fix_hint  # deferred: loaded with the check, as above

    hint = fix_hint([r for r in report.failures if not any(r.item is i for i in own)], report.trust)
    if cut and board is not None:
        hint = (
            "keep the root the chain ends at (named above) in the CA; 'esp-cabundle check "
            f"--board {board.full_name} --bundle FILE --until DATE' replays every date"
        )
    return CheckFailed(
        f"the CA would {' and '.join(parts)}; nothing written",
        # The undated notes the hint points to (check prints them with each result).
        violations=(*report.failure_lines(), *_undated_notes(report)),
        hint=f"{hint}, or pass {skip_option} to write anyway",
        report=report,
    )


def _undated_notes(report: CheckReport) -> tuple[str, ...]:
    return tuple(f"{r.item.name}: {n}" for r in report.failures if (n := r.undated_note))


def _summary(
    bundle: Bundle,
    report: CheckReport | None,
    board: Board | None,
    converted: str | None,
    *,
    skipped_by: str | None,
    left_out: Sequence[str] = (),
) -> str:
    """``8 roots, accepted by mdash.net until 2035-06-04 under mdash-arduino rules``.

    "until" is the earliest date a root that a target's chain ends at expires: devices
    that check dates stop accepting the chain then, and servers move on to other roots;
    or earlier, the date a saved chain with no capture date first fails as check's
    forecast says (its leaf or an issuing intermediate expires, nothing renews them),
    even past the gate's horizon: the summary claims no more than check does.
    When no device judged checks dates, no date is given (it would read as a cut-off).
    Servers ``left_out`` (the firmware verifies them without the file) are named when
    none was judged: "no targets to judge" alone reads as if none were given.
    """
    head = count_anchors(bundle.certificates)  # "1 CA (an intermediate, not a root)"
    if converted:
        head += f" (converted from {converted})"
    if skipped_by is not None:
        return f"{head}; targets not checked ({skipped_by})"
    if report is None and left_out:
        it = "it" if len(left_out) == 1 else "them"
        return (
            f"{head}; {', '.join(left_out)} not judged "
            f"(the firmware does not read this file for {it})"
        )
    if report is None:
        return f"{head}; no targets to judge"
    names = list(dict.fromkeys(r.item.name for r in report.results))
    who = ", ".join(names) if len(names) <= 3 else f"{len(names)} targets"
    ends = [
        s.certificate.not_after
        for r in report.results
        for s in (r.timeline.start.trusted_root,)
        if s is not None and s.certificate is not None
    ]
    ends += [e for r in report.results if (e := r.timeline.undated_end) is not None]
    until = f" until {min(ends).date().isoformat()}" if ends else ""
    if board is not None:
        rules = board.name
    else:
        devices = {r.item.device.name for r in report.results}
        rules = next(iter(devices)) if len(devices) == 1 else "their devices'"
    if report.results and not any(r.item.device.checks_dates for r in report.results):
        # No date reads like a cut-off to units that never compare dates.
        return f"{head}, accepted by {who} under {rules} rules (the device does not check dates)"
    return f"{head}, accepted by {who}{until} under {rules} rules"
