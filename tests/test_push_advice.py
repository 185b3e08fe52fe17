"""What ``push`` advises after a run, as a fleet owner's tryout read it: units not
reached told to run the command again (not sent to the bench), the old file's dates
not repeated once every unit holds the new one, an out-of-space unit offered --in-place
as honestly as the dry run, said once, and the next step after every run that left
units not done (only Ctrl-C said one)."""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from support.fleet import full_mongoose_unit, invoke, write_ca
from support.fleet_links import started

from esp_cabundle.commands._push_render import render_report
from esp_cabundle.fs import create_image, open_image
from esp_cabundle.push.campaign_types import CampaignReport
from esp_cabundle.push.ledger import Ledger, UnitRow
from esp_cabundle.virtual.rpc import MongooseUnit
from esp_cabundle.virtual.rpc_links import LanUnitServer

SINCE = datetime(2024, 6, 6, tzinfo=timezone.utc)
OLD_PARAGRAPH = "A CA file found on units fails a server"


def _row(uid: str, state: str, error: str | None = None) -> UnitRow:
    return UnitRow(uid, "mqtt", state, 0, error, None, None, None, None, None, "2026-01-01", None)


def _report(*states: str, stopped: bool = False) -> CampaignReport:
    rows = tuple(_row(f"u{i}", s) for i, s in enumerate(states))
    return CampaignReport(rows, False, None, 1, stopped, SINCE)


class _File:
    name, board, sha256 = "/ca.pem", "mongoose-os-esp32", "ab" * 32


def _render(report: CampaignReport, capsys: Any, **opts: Any) -> str:
    base = {"as_json": False, "quiet": False, "watch": False, "ledger_path": "camp2.db"}
    render_report(report, _File(), {**base, **opts}, 0)  # type: ignore[arg-type]
    return " ".join(capsys.readouterr().out.split())


# --- 1: units not reached are reached by the same command, not on the bench ------------


def test_paused_and_offline_units_are_told_to_run_again_not_sent_to_the_bench(
    capsys: Any,
) -> None:
    """A run stopped after 2 of 20 units said of the 18 never started "update those on
    the bench", as it did of a unit merely offline: the units the file was found on were
    reached over the same link, so the same command (or --watch) reaches the others."""
    out = _render(_report(*["verified"] * 2, *["pending"] * 18, stopped=True), capsys)
    assert "18 units not reached yet (18 pending: never started) may hold it too" in out, out
    assert "run the same command again (or with --watch) to reach them" in out
    assert "bench" not in out
    out = _render(_report("verified", "offline"), capsys)
    assert "1 unit not reached yet (1 offline) may hold it too" in out, out
    assert "run the same command again (or with --watch) to reach it" in out
    assert "bench" not in out


@pytest.mark.parametrize("as_json", [False, True], ids=["text", "json"])
def test_status_counts_the_next_step_as_push_does(tmp_path: Path, as_json: bool) -> None:
    """A failed unit whose error carries a hint (out of space) needs that first: push's
    summary counts it apart, status counted it among those the rerun takes up (and, with
    only it left, told to rerun the push, which push says will not help)."""
    path = tmp_path / "c.db"
    with Ledger(path) as ledger:
        ledger.bind(ca_sha256="ab" * 32, board="mongoose-os-esp32", ca_path="/ca.pem")
        ledger.enroll((f"u{i}", "mqtt", None) for i in range(4))
    db = sqlite3.connect(path)
    with db:
        db.execute("UPDATE units SET state = 'offline' WHERE id IN ('u0', 'u1', 'u2')")
        db.execute(
            "UPDATE units SET state = 'failed', last_error = 'out of space on the unit "
            "(hint: free space on the unit)' WHERE id = 'u3'"
        )
    db.close()
    extra = ["--json"] if as_json else []

    def said() -> str:
        code, out = invoke("push", "status", "--ledger", str(path), *extra)
        assert code == 3, out
        return str(json.loads(out)["next"]) if as_json else out

    out = said()
    assert "Next: 3 units not done: run the push that wrote" in out, out
    assert "; 1 failed unit needs what its error says first." in out, out
    db = sqlite3.connect(path)
    with db:
        db.execute("UPDATE units SET state = 'verified' WHERE id IN ('u0', 'u1', 'u2')")
    db.close()
    out = said()
    assert "Next: 1 failed unit needs what its error says first (the ledger" in out, out
    assert "run the push that wrote" not in out, out


# --- 2: the old file's paragraph, once every unit is done: not again --------------------


def test_the_old_file_paragraph_is_not_repeated_once_every_unit_holds_the_new_one(
    capsys: Any, tmp_path: Path
) -> None:
    """With 20 of 20 verified (exit 0) every push and push status still said the old
    file fails at least since a date: no unit holds it any more."""
    assert OLD_PARAGRAPH in _render(_report("verified", "offline"), capsys)
    out = _render(_report(*["verified"] * 20), capsys)
    assert "20 of 20 units done" in out and OLD_PARAGRAPH not in out, out
    path = tmp_path / "c.db"
    with Ledger(path) as ledger:
        ledger.bind(ca_sha256="ab" * 32, board="mongoose-os-esp32", ca_path="/ca.pem")
        ledger.set_meta("failing_since", SINCE.isoformat())
        ledger.set_meta("deadline", SINCE.isoformat())
        ledger.enroll((f"u{i}", "mqtt", None) for i in range(3))
    code, out = invoke("push", "status", "--ledger", str(path))
    assert code == 3 and OLD_PARAGRAPH in out and "stops working on" in out, out
    db = sqlite3.connect(path)
    with db:
        db.execute("UPDATE units SET state = 'verified'")
    db.close()
    code, out = invoke("push", "status", "--ledger", str(path))
    assert code == 0 and OLD_PARAGRAPH not in out and "stops working on" not in out, out


# --- 4: the next step after a run that left units not done -----------------------------


def test_a_run_that_left_units_not_done_names_the_ledger_and_the_rerun(capsys: Any) -> None:
    """The first push (exit 3, one unit offline, one failed) named neither the ledger
    nor the command that takes them up again; only a Ctrl-C said a next step."""
    out = _render(_report("verified", "offline", "failed"), capsys)
    assert "Next: 2 units not done: run the same command again, or with --watch" in out, out
    assert "the ledger camp2.db keeps where each unit stands" in out
    # a unit refused with a hint (out of space, another board) needs that first
    full = _row("u9", "failed", "out of space on the unit (hint: free space on the unit)")
    report = _report("offline")
    report = CampaignReport((*report.rows, full), False, None, 1, False)
    out = _render(report, capsys)
    assert "Next: 1 unit not done: run the same command again" in out, out
    assert "; 1 failed unit needs what its error says first." in out
    out = _render(CampaignReport((full,), False, None, 1, False), capsys)
    assert "Next: 1 failed unit needs what its error says first (the ledger camp2" in out, out
    assert "run the same command again" not in out
    out = _render(CampaignReport((full, full), False, None, 1, False), capsys)
    assert "Next: 2 failed units need what their errors say first" in out, out
    assert "Next:" not in _render(_report("verified", "unused"), capsys)
    watched = _render(_report("offline"), capsys, watch=True)
    assert "Next: 1 unit not done: run the same command with --watch again later" in watched
    # A watch that reached its --until: the same line is refused now (--until has passed),
    # so "again later" sent the owner to an exit 2; a later --until is what it needs.
    ended = _report("offline")
    ended = CampaignReport(ended.rows, False, None, 1, False, SINCE, watch_ended=SINCE)
    watched = _render(ended, capsys, watch=True, until=SINCE)
    assert "Next: 1 unit not done: run the same command again with a later --until" in watched
    # a stopped run says its own next step, once
    stopped = _render(_report("verified", "pending", stopped=True), capsys)
    assert stopped.count("run the same command again to finish them") == 1
    assert "Next:" not in stopped


def test_json_names_the_next_step(capsys: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from esp_cabundle.commands import _push_render

    monkeypatch.setattr(_push_render, "_run_units", lambda report, ledger: {})
    opts = {"as_json": True, "quiet": False, "watch": False, "ledger_path": "c.db"}
    render_report(_report("verified", "offline"), _File(), opts, 0)  # type: ignore[arg-type]
    doc = json.loads(capsys.readouterr().out)
    assert doc["next"].startswith("Next: 1 unit not done: run the same command again"), doc
    assert "c.db" in doc["next"]
    render_report(_report("verified"), _File(), opts, 0)  # type: ignore[arg-type]
    assert json.loads(capsys.readouterr().out)["next"] is None


# --- 3: out of space: --in-place offered as the dry run says it, once ------------------


@pytest.fixture
def lan() -> Iterator[Any]:
    with started(LanUnitServer) as start:
        yield start


def test_out_of_space_offers_in_place_as_the_dry_run_says_it_once(lan: Any, tmp_path: Path) -> None:
    """A full unit was told "or push with --in-place", which then failed; the dry run
    with --in-place said "may not fit". The hint now says what in place needs (sizes,
    the old file's, the file system's part), once: in the footer, not in the table cell
    of some 300 characters beside it."""
    write_ca(tmp_path)
    unit = full_mongoose_unit("cramped", blocks=16, old_ca=b"old CA\n" * 1286, spare=1)
    url = lan(unit).http_url
    args = ["push", "--rpc", url, "--board", "mongoose-os-esp32", "--bundle",
            str(tmp_path / "ca.pem"), "--allow", "unjudged", "--ledger", str(tmp_path / "c.db"),
            "--timeout", "2"]  # fmt: skip
    code, dry = invoke(*args, "--dry-run", "--in-place", env={"COLUMNS": "400"})
    assert code == 0 and "may not fit (ca.pem needs 6,054 bytes, the unit has 4,096" in dry, dry
    code, out = invoke(*args, env={"COLUMNS": "400"})
    assert code == 3, out
    text = " ".join(out.split())
    assert (
        "1 unit is out of space: free space on the unit (remove files it does not need), or "
        "push again with --in-place, which may fit: ca.pem needs 6,054 bytes, the unit has "
        "4,096 bytes free and the old ca.pem holds 9,002 bytes: it fits only if the file "
        "system frees the old file's space"
    ) in text, text
    assert text.count("--in-place") == 1 and "(hint:" not in text
    assert text.count("remove files it does not need") == 1
    with Ledger(tmp_path / "c.db") as led:  # the ledger keeps the whole hint (status reads it)
        (row,) = led.rows()
    assert "--in-place, which may fit" in (row.last_error or "")


def test_status_says_the_in_place_hint_once_too(lan: Any, tmp_path: Path) -> None:
    """``push status`` shows the same rows: the hint in its footer, not in the cell."""
    write_ca(tmp_path)
    unit = full_mongoose_unit("cramped", blocks=16, old_ca=b"old CA\n" * 1286, spare=1)
    ledger = str(tmp_path / "c.db")
    code, _ = invoke("push", "--rpc", lan(unit).http_url, "--board", "mongoose-os-esp32",
                     "--bundle", str(tmp_path / "ca.pem"), "--allow", "unjudged",
                     "--ledger", ledger, "--timeout", "2")  # fmt: skip
    assert code == 3
    code, out = invoke("push", "status", "--ledger", ledger, env={"COLUMNS": "400"})
    text = " ".join(out.split())
    assert code == 3 and "1 unit is out of space: free space on the unit" in text, text
    assert "which may fit: ca.pem needs 6,054 bytes, the unit has 4,096 bytes free" in text
    assert text.count("--in-place") == 1 and "(hint:" not in text


def nearly_full_spiffs_unit(uid: str) -> tuple[MongooseUnit, int]:
    """A Mongoose OS unit on a 64 KiB SPIFFS that reports twice the letsencrypt CA's
    size free (SPIFFS_info) yet refuses a second copy of it: SPIFFS keeps part of its
    free bytes. Its reported free bytes too."""
    image = create_image("spiffs", "mongoose-os", 64 * 1024)
    image.write("/ca.pem", b"old CA\n" * 300)
    image.write("/conf9.json", b'{"a": 1}')
    image.write("/fill.bin", b"\xa5" * 37168)
    space = image.device_space()
    assert space is not None
    return MongooseUnit(uid, open_image(image.to_bytes())), space[1]


def test_a_refused_write_is_not_said_to_have_room(lan: Any, tmp_path: Path) -> None:
    """On a nearly full SPIFFS the unit reports 12,048 bytes free and refuses a 6,054-byte
    ca.pem.new; the hint said "ca.pem needs 6,054 bytes, the unit has 12,048 bytes free"
    (a contradiction beside "out of space"). It now leads with the room a CA file has
    there (less than the size refused), then the free bytes and that the file system
    keeps part of them; --in-place is still offered."""
    write_ca(tmp_path)
    need = len((tmp_path / "ca.pem").read_bytes())
    unit, free = nearly_full_spiffs_unit("cramped")
    assert need <= free  # the case: the reported free bytes would hold it
    args = ["push", "--rpc", lan(unit).http_url, "--board", "mongoose-os-esp32", "--bundle",
            str(tmp_path / "ca.pem"), "--allow", "unjudged", "--ledger", str(tmp_path / "c.db"),
            "--timeout", "2"]  # fmt: skip
    code, out = invoke(*args, env={"COLUMNS": "400"})
    text = " ".join(out.split())
    assert code == 3 and "out of space on the unit writing ca.pem.new" in text, text
    for needs, has in re.findall(r"needs ([\d,]+) bytes, the unit has ([\d,]+) bytes free", text):
        assert int(needs.replace(",", "")) > int(has.replace(",", "")), text
    assert (
        f"which may fit: a CA file has less than {need:,} bytes of room on the unit (it took "
        f"no ca.pem.new that size; {free:,} bytes free as it reports, of which its file "
        "system keeps part: SPIFFS for its clean-up and file records"
    ) in text, text
    assert text.count("--in-place") == 1
    with Ledger(tmp_path / "c.db") as led:  # status reads the offer back from the ledger
        (row,) = led.rows()
    assert "--in-place, which may fit: a CA file has less than" in (row.last_error or "")


def test_the_units_past_the_table_are_sent_to_this_ledgers_status(capsys: Any) -> None:
    """A run leaving more units than its table shows said "... and 10 more: esp-cabundle
    push status": pasted, that read ./cabundle-campaign.db (another campaign's, or none)
    and, without --all, showed the same first ones again. The line names the ledger and
    --all, and runs as printed."""
    from esp_cabundle.commands._push_render import SHOWN

    out = _render(_report(*["offline"] * (SHOWN + 10)), capsys)
    assert "... and 10 more: esp-cabundle push status --ledger camp2.db --all" in out, out
