"""A ``push --watch`` refusal that waiting cannot change (a unit running another board's
firmware) is made once a run: later passes asked the unit again each time, repeating
the same refusal and traffic, and a watch with nothing else left never ended."""

from __future__ import annotations

import json
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from support.fleet import invoke, mdash_unit, write_ca

from esp_cabundle.push.ledger import Ledger

KEY = "watch-settled-key-5e6f7a"  # the stand_in fixture's mDash API key


@pytest.mark.timeout(60)
def test_a_wrong_board_unit_is_refused_once_and_the_watch_ends(stand_in: Any, in_tmp: Path) -> None:
    late = mdash_unit("late", online_at=float("inf"))  # listed offline on the first pass
    wrong = mdash_unit("wrong")

    def wake(method: str, params: dict[str, Any], when: str) -> None:
        if method == "Sys.GetInfo" and when == "after":
            late.online_at = 0.0  # online from the second pass on, whatever the timing

    wrong.hook = wake
    s = stand_in([wrong, late])
    write_ca(in_tmp)
    # --until only bounds a run that would otherwise watch forever (the old behaviour)
    end = datetime.fromtimestamp(time.time() + 20, timezone.utc).isoformat()
    code, out = invoke("push", "--mdash", s.url, "--board", "mongoose-os-esp32", "--bundle",
                       "ca.pem", "--allow", "unjudged", "--timeout", "2", "--watch", "--poll",
                       "0.1", "--until", end, "--json")  # fmt: skip
    doc, _ = json.JSONDecoder().raw_decode(out, out.index("{"))  # then the watch's log
    assert code == 3 and doc["passes"] >= 2, out
    assert wrong.count("Sys.GetInfo") == 1, wrong.count("Sys.GetInfo")  # not asked again
    assert doc.get("watch_ended") is None, out  # it ended by itself, not at --until
    with Ledger(in_tmp / "cabundle-campaign.db") as ledger:
        rows = {r.id: r for r in ledger.rows()}
    assert rows["wrong"].state == "failed" and rows["wrong"].attempts == 1
    assert "not the Mongoose OS that board mongoose-os-esp32 runs" in rows["wrong"].last_error
    assert rows["late"].state == "failed" and rows["late"].attempts == 1  # refused in pass 2
