"""What ``push`` prints of a run that did not end by itself: a run stopped by Ctrl-C
says so on stdout with the next step (only --json's "interrupted" did), and a --watch
whose stderr is no terminal logs a line per pass that changed something."""

from __future__ import annotations

from typing import Any

import pytest

from esp_cabundle.commands._push_render import render_report
from esp_cabundle.push.campaign_types import CampaignReport
from esp_cabundle.push.ledger import UnitRow


def _row(uid: str, state: str) -> UnitRow:
    return UnitRow(uid, "mqtt", state, 0, None, None, None, None, None, None, "2026-01-01", None)


def _report(*states: str, stopped: bool = True) -> CampaignReport:
    rows = tuple(_row(f"u{i}", s) for i, s in enumerate(states))
    return CampaignReport(rows, False, None, 1, stopped)


class _File:
    name, board, sha256 = "/ca.pem", "mongoose-os-esp32", "ab" * 32


def _text(report: CampaignReport, capsys: Any, **opts: Any) -> str:
    """stdout; with -q, stderr (where errors go: stdout stays empty)."""
    base = {"as_json": False, "quiet": False, "watch": False, "ledger_path": None}
    render_report(report, _File(), {**base, **opts}, 0)  # type: ignore[arg-type]
    out, err = capsys.readouterr()
    assert not (out if opts.get("quiet") else err), (out, err)
    return str(err if opts.get("quiet") else out)


@pytest.mark.parametrize("quiet", [False, True])
def test_a_stopped_run_says_so_what_is_left_and_the_next_step(capsys: Any, quiet: bool) -> None:
    out = _text(_report("verified", "verified", "pending", "pending", "writing"), capsys,
                quiet=quiet)  # fmt: skip
    assert "2 of 5 units done" in out or quiet
    line = " ".join(out.split())
    assert "Interrupted: 3 units not done (2 pending: never started, 1 mid-write" in line, out
    assert "next: run the same command again to finish them." in line, out


def test_a_run_that_ended_by_itself_says_nothing_of_an_interrupt(capsys: Any) -> None:
    out = _text(_report("verified", "pending", stopped=False), capsys)
    assert "Interrupted" not in out


def test_the_stopped_line_names_in_place_partial_files() -> None:
    from esp_cabundle.commands._push_render import stopped_line

    line = stopped_line(_report("writing", "pending"), in_place=True)
    assert "1 mid-write: each may hold a partial CA file (--in-place)" in line
    assert "mid-write" not in stopped_line(_report("pending"))  # no state said at 0


def test_the_stopped_line_names_every_state_left_and_they_add_up() -> None:
    """A watch stopped with offline units said "5 units not done (0 pending, never
    started, 0 mid-write)": every state left is named, so the counts add up."""
    from esp_cabundle.commands._push_render import stopped_line

    line = stopped_line(_report("offline", "offline", "offline", "failed", "verified",
                                "rebooted", "pending", "unused"))  # fmt: skip
    assert line.startswith(
        "Interrupted: 6 units not done (1 pending: never started, 3 offline, "
        "1 rebooted: not back yet, 1 failed); next:"
    ), line
    said = line[line.index("(") + 1 : line.index(")")]
    assert sum(int(part.split()[0]) for part in said.split(", ")) == 6
    assert " 0 " not in line
    # with --reboot a verified unit is not done: said as such
    rebooting = _report("verified", "offline")
    rebooting = CampaignReport(rebooting.rows, True, None, 1, True)
    assert "(1 offline, 1 verified: not rebooted yet)" in stopped_line(rebooting)


def _watch() -> tuple[Any, list[str]]:
    from esp_cabundle.commands._push_until import WatchLog

    lines: list[str] = []
    return WatchLog(lines.append), lines


def test_a_watch_without_a_terminal_logs_each_pass_that_changed_something() -> None:
    from esp_cabundle.push.campaign_types import UnitEvent

    log, lines = _watch()
    log.listing(2)  # pass 1: one verified, one never answers
    log.event(UnitEvent("a", "pending", "reading the CA file"))
    log.event(UnitEvent("a", "verified", final=True))
    log.event(UnitEvent("b", "offline", "unit b: no answer to Sys.GetInfo within 1 s", True))
    assert len(lines) == 1 and " pass 1: " in lines[0], lines
    assert "1 verified (a)" in lines[0] and "1 offline (b)" in lines[0]
    log.listing(2)  # pass 2: nothing new (a passed over, b silent again)
    log.event(UnitEvent("a", "verified", final=True))
    log.event(UnitEvent("b", "offline", "unit b: no answer to Sys.GetInfo within 1 s", True))
    assert len(lines) == 1, lines
    log.listing(2)  # pass 3: the broker is gone
    log.event(UnitEvent("a", "verified", final=True))
    log.event(UnitEvent("b", "offline", "unit b: the MQTT broker link is down (x)", True))
    assert len(lines) == 2 and "pass 3: MQTT broker lost" in lines[1], lines
    log.listing(2)  # pass 4: back, and b answers: verified mid-watch
    log.event(UnitEvent("a", "verified", final=True))
    log.event(UnitEvent("b", "offline", "reading the CA file"))
    log.event(UnitEvent("b", "verified", final=True))
    assert len(lines) == 3, lines
    assert "pass 4: MQTT broker back; 1 verified (b); units now: 2 verified" in lines[2]
    # each line starts with its time, UTC
    assert all(line[:4].isdigit() and line[19] == "Z" for line in lines), lines
    log.close()
    assert len(lines) == 3


def test_a_watch_on_a_terminal_or_quiet_logs_no_lines(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    from esp_cabundle.commands._push_until import WatchLog

    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    assert WatchLog.wanted(watch=True, quiet=False) is None  # the bar says it
    monkeypatch.setattr(sys.stderr, "isatty", lambda: False)
    assert WatchLog.wanted(watch=True, quiet=False) is not None
    assert WatchLog.wanted(watch=True, quiet=True) is None
    assert WatchLog.wanted(watch=False, quiet=False) is None


def test_a_stopped_run_leaves_out_failed_units_whose_error_needs_doing_first(
    capsys: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """After Ctrl-C the line said "run the same command again to finish them" of a unit
    out of space too, which the same command does not change (next_step leaves it out);
    --json's "next" said next_step's words, not the line's."""
    import json
    from dataclasses import replace

    from esp_cabundle.commands import _push_render
    from esp_cabundle.commands._push_render import stopped_line

    full = replace(_row("u9", "failed"), last_error="out of space on the unit (hint: free space)")
    pending = _report("pending")
    mixed = CampaignReport((*pending.rows, full), False, None, 1, True)
    line = stopped_line(mixed)
    assert line.endswith(
        "next: run the same command again to finish the other 1 unit; "
        "1 failed unit needs what its error says first."
    ), line
    alone = stopped_line(CampaignReport((full,), False, None, 1, True))
    assert alone.endswith("; next: 1 failed unit needs what its error says first."), alone
    assert "run the same command" not in alone
    opts = {"as_json": True, "quiet": False, "watch": False, "ledger_path": "c.db"}
    monkeypatch.setattr(_push_render, "_run_units", lambda report, ledger: {})
    render_report(mixed, _File(), opts, 0)  # type: ignore[arg-type]
    doc = json.loads(capsys.readouterr().out)
    step = line[line.index("next: ") + len("next: ") :]
    assert doc["next"] == f"Next: {step}", doc
    assert line in doc["notes"]


@pytest.mark.parametrize("left", ["pending+full", "full", "none"])
def test_a_lost_link_says_the_step_its_json_says(
    capsys: Any, monkeypatch: pytest.MonkeyPatch, left: str
) -> None:
    """A run the link's loss stopped said "run the same command again" (of a unit out of
    space too, and of none left) and hid the Next: line, while --json's "next" kept
    next_step's words: both now say the step the line says, by the rule a Ctrl-C's does,
    and --json's is null when the line says none."""
    import json
    from dataclasses import replace
    from datetime import datetime, timezone

    from esp_cabundle.commands import _push_render

    full = replace(_row("u9", "failed"), last_error="out of space on the unit (hint: free space)")
    rows = {"pending+full": (_row("u0", "pending"), full), "full": (full,), "none": ()}[left]
    lost = ("MQTT broker", datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc))
    report = CampaignReport((_row("u1", "verified"), *rows), False, None, 1, link_lost=lost)
    step = {
        "pending+full": "run the same command again to finish the other 1 unit; "
        "1 failed unit needs what its error says first",
        "full": "1 failed unit needs what its error says first",
        "none": None,
    }[left]
    said = "MQTT broker lost at 2026-01-02 03:04:05 UTC"
    out = _text(report, capsys, ledger_path="c.db")
    line = f"{said}; next: {step}." if step else f"{said}."
    assert line in out, out
    assert "Next:" not in out and "run the same command again." not in out, out
    opts = {"as_json": True, "quiet": False, "watch": False, "ledger_path": "c.db"}
    monkeypatch.setattr(_push_render, "_run_units", lambda report, ledger: {})
    render_report(report, _File(), opts, 0)  # type: ignore[arg-type]
    doc = json.loads(capsys.readouterr().out)
    assert doc["next"] == (f"Next: {step}." if step else None), doc


def test_a_watch_line_counts_the_units_a_cut_pass_did_not_reach() -> None:
    """A pass the broker cut short logged "units now: 1 verified" for a fleet of 3: the
    units it never reached were left out of the count. They are now said as such."""
    from esp_cabundle.push.campaign_types import UnitEvent

    log, lines = _watch()
    log.listing(3)
    log.event(UnitEvent("a", "verified", final=True))
    log.link(False, "Unspecified error")  # the broker goes: b and c are never begun
    log.close()
    assert len(lines) == 1, lines
    assert "MQTT broker lost (Unspecified error); 1 verified (a)" in lines[0], lines
    assert lines[0].endswith("units now: 1 verified, 2 not reached yet"), lines


def test_a_watch_end_with_seconds_is_said_with_them() -> None:
    """``--until 2026-12-05T21:40:30`` was said "until 2026-12-05 21:40 UTC" (and "Stopped
    watching at 2026-12-05 21:40 UTC"): half a minute before the end given."""
    from datetime import datetime, timezone

    from esp_cabundle.commands._push_until import end_words, until_words

    at = datetime(2026, 12, 5, 21, 40, 30, tzinfo=timezone.utc)
    assert until_words(at) == "until 2026-12-05 21:40:30 UTC"
    assert end_words(at.replace(second=0)) == "2026-12-05 21:40 UTC"
