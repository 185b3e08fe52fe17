"""``push`` stopped (Ctrl-C, SIGTERM) once every unit is done: nothing was left undone.

Such a run printed "4 of 4 units done ... Interrupted: 0 units not done." and exited 130,
where ``flash`` stopped the same way exits 0 (esp_cabundle/_entry.py: a late Ctrl-C
changes nothing). The stop is set from the progress event that says the last unit is
done, so no timing decides where it lands; a stop that leaves a unit not done is still
an interrupt (exit 130).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from support.fleet import assert_updated, ca_bytes, mongoose_unit, write_ca
from support.fleet_links import unit_hosts, unit_ids

import esp_cabundle.commands.push as push_command
from esp_cabundle.cli import cli
from esp_cabundle.push.campaign import UnitEvent, run_campaign


@pytest.fixture
def host(mosquitto: Any) -> Iterator[Any]:
    yield from unit_hosts(mosquitto.port)


def _stop_after(finals: int, monkeypatch: pytest.MonkeyPatch) -> list[UnitEvent]:
    """Run push's campaign with its stop set (as its Ctrl-C handler sets it) as the
    ``finals``-th unit is through: the events seen until then."""
    seen: list[UnitEvent] = []

    def stopping(*args: Any, progress: Callable[[UnitEvent], None], stop: threading.Event,
                 **kw: Any) -> Any:  # fmt: skip
        def watched(ev: UnitEvent) -> None:
            progress(ev)
            if ev.final:
                seen.append(ev)
                if len(seen) == finals:
                    stop.set()

        return run_campaign(*args, progress=watched, stop=stop, **kw)

    monkeypatch.setattr(push_command, "run_campaign", stopping)
    return seen


def _push(mosquitto: Any, tmp: Path, ids: list[str], *extra: str) -> tuple[int, str, str]:
    write_ca(tmp)
    argv = ["push", "--mqtt", mosquitto.url, "--board", "mongoose-os-esp32"]
    argv += ["--bundle", str(tmp / "ca.pem"), "--ledger", str(tmp / "campaign.db")]
    argv += ["--timeout", "1", "--allow", "unjudged", *extra]
    for uid in ids:
        argv += ["--device", uid]
    r = CliRunner().invoke(cli, argv)
    if r.exception and not isinstance(r.exception, SystemExit):
        raise r.exception
    return r.exit_code, r.stdout, r.stderr


def test_a_stop_once_every_unit_is_done_exits_0_and_says_no_interrupt(
    mosquitto: Any, host: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    units = [mongoose_unit(u) for u in unit_ids("esp32-late", 2)]
    host(units)
    seen = _stop_after(len(units), monkeypatch)
    code, out, err = _push(mosquitto, tmp_path, [u.unit_id for u in units])
    assert [ev.state for ev in seen] == ["verified", "verified"], out + err  # stop after both
    assert code == 0, out + err
    assert "2 of 2 units done (2 verified)" in out
    assert "Interrupted" not in out + err and "not done" not in out + err
    for u in units:
        assert_updated(u, ca_bytes())


def test_its_json_says_done_not_interrupted(
    mosquitto: Any, host: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    units = [mongoose_unit(u) for u in unit_ids("esp32-latej", 2)]
    host(units)
    _stop_after(len(units), monkeypatch)
    code, out, err = _push(mosquitto, tmp_path, [u.unit_id for u in units], "--json")
    doc = json.loads(out)
    assert (code, doc["exit_code"], doc["ok"], doc["interrupted"]) == (0, 0, True, False), err
    assert doc["next"] is None and not any("Interrupted" in n for n in doc["notes"])


def test_a_stop_that_leaves_a_unit_not_done_is_still_an_interrupt(
    mosquitto: Any, host: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    units = [mongoose_unit(u) for u in unit_ids("esp32-early", 3)]
    host(units)
    seen = _stop_after(1, monkeypatch)  # one unit at a time: the stop starts no other
    code, out, _ = _push(mosquitto, tmp_path, [u.unit_id for u in units], "--concurrency", "1")
    assert len(seen) == 1 and code == 130
    assert "1 of 3 units done" in out
    assert "Interrupted: 2 units not done (2 pending: never started)" in out
