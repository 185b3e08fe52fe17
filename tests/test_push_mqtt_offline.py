"""``push --mqtt`` to a fleet mostly off, and a broker lost mid-run.

A broker keeps no list of units, so a silent id cost a whole ``--timeout`` each,
``--concurrency`` at a time (40 unknown ids took 50 s with the defaults; 3000 ids with
2500 off, 52 minutes a pass): a pass now asks every unit its first call at once and
records the silent ones after one timeout. A broker killed mid-run charged every unit
left an attempt and "offline", and the advice blamed their ids: the pass now stops,
leaves them as they were, and says the broker was lost."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from click.testing import CliRunner
from support.fleet import ca_bytes, mongoose_unit, write_ca
from support.fleet_links import Mosquitto, unit_hosts, unit_ids
from support.gated import gated

from esp_cabundle.cli import cli
from esp_cabundle.push import mqtt as mqtt_module
from esp_cabundle.push.campaign import CampaignOptions, PushFile, run_campaign
from esp_cabundle.push.ledger import Ledger
from esp_cabundle.push.mqtt import MqttTransport, parse_mqtt_url
from esp_cabundle.push.survey import survey
from esp_cabundle.push.transport import LinkLost, Traffic


@pytest.fixture
def host(mosquitto: Any) -> Iterator[Any]:
    yield from unit_hosts(mosquitto.port)


def push_file() -> PushFile:
    return PushFile(gated(ca_bytes(), "mongoose-os-esp32"))


def test_silent_ids_cost_one_probe_round_not_a_timeout_each(
    mosquitto: Any, host: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    on = [mongoose_unit(u) for u in unit_ids("esp32-on", 2)]
    host(on)
    silent = unit_ids("esp32-off", 40)
    calls: list[str] = []
    probes: list[list[str]] = []
    real_call, real_probe = MqttTransport.call, getattr(MqttTransport, "probe", None)

    def call(self: MqttTransport, channel: Any, method: str, params: Any, **kw: Any) -> Any:
        calls.append(channel.unit_id)
        return real_call(self, channel, method, params, **kw)

    def probe(self: MqttTransport, ids: Any, method: str, params: Any, **kw: Any) -> Any:
        probes.append(list(ids))
        assert real_probe is not None
        return real_probe(self, ids, method, params, **kw)

    monkeypatch.setattr(MqttTransport, "call", call)
    if real_probe is not None:  # before it, each unit was called alone
        monkeypatch.setattr(MqttTransport, "probe", probe)
    ids = [u.unit_id for u in on] + silent
    transport = MqttTransport(parse_mqtt_url(mosquitto.url), ids)
    try:
        with Ledger(tmp_path / "c.db") as ledger:
            report = run_campaign([transport], push_file(), ledger, CampaignOptions(timeout=0.5))
    finally:
        transport.close()
    assert not set(calls) & set(silent), calls  # no silent unit waited on alone
    assert probes == [ids]  # one round, every unit at once
    assert set(calls) == {u.unit_id for u in on}
    rows = {r.id: r for r in report.rows}
    assert {rows[u.unit_id].state for u in on} == {"verified"}
    for uid in silent:  # recorded as a first call unanswered always was
        row = rows[uid]
        assert (row.state, row.attempts, row.last_seen) == ("offline", 1, None), row
        assert row.last_error == f"unit {uid}: no answer to Sys.GetInfo within 0.5 s"


def test_a_dry_run_finds_silent_ids_in_one_round_too(
    mosquitto: Any, host: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    (on,) = [mongoose_unit(u) for u in unit_ids("esp32-dry", 1)]
    host([on])
    silent = unit_ids("esp32-dark", 20)
    calls: list[str] = []
    real_call = MqttTransport.call

    def call(self: MqttTransport, channel: Any, method: str, params: Any, **kw: Any) -> Any:
        calls.append(channel.unit_id)
        return real_call(self, channel, method, params, **kw)

    monkeypatch.setattr(MqttTransport, "call", call)
    transport = MqttTransport(parse_mqtt_url(mosquitto.url), [on.unit_id, *silent])
    try:
        rows = survey([transport], push_file(), CampaignOptions(timeout=0.5))
    finally:
        transport.close()
    assert set(calls) == {on.unit_id}, calls
    assert [r.state for r in rows] == ["would-write"] + ["offline"] * 20
    assert rows[1].error == f"unit {silent[0]}: no answer to Sys.GetInfo within 0.5 s"


def test_forty_silent_ids_finish_in_about_one_timeout(mosquitto: Any, tmp_path: Path) -> None:
    """Each cost the whole timeout, 8 at a time: 40 × 0.5 s ÷ 8 = 2.5 s."""
    silent = unit_ids("esp32-gone", 40)
    transport = MqttTransport(parse_mqtt_url(mosquitto.url), silent)
    try:
        with Ledger(tmp_path / "c.db") as ledger:
            t0 = time.monotonic()
            report = run_campaign([transport], push_file(), ledger, CampaignOptions(timeout=0.5))
            elapsed = time.monotonic() - t0
    finally:
        transport.close()
    assert report.counts() == {"offline": 40}
    assert elapsed < 4 * 0.5, elapsed


@pytest.mark.timeout(120)
def test_a_broker_lost_mid_run_stops_the_pass_and_blames_no_unit(
    broker: Mosquitto, tmp_path: Path
) -> None:
    units = [mongoose_unit(u) for u in unit_ids("esp32-b", 5)]
    first, cut, *untouched = units

    def kill(method: str, params: dict[str, Any], when: str) -> None:
        if method == "FS.Put" and when == "before" and broker.proc is not None:
            broker.proc.kill()  # the broker dies while this unit is being written

    cut.hook = kill
    hosts = unit_hosts(broker.port)
    next(hosts)(units)
    ca = write_ca(tmp_path)
    argv = ["push", "--mqtt", broker.url, "--board", "mongoose-os-esp32", "--bundle", str(ca),
            "--allow", "unjudged", "--ledger", str(tmp_path / "c.db"), "--timeout", "20",
            "--concurrency", "1"]  # fmt: skip
    for u in units:
        argv += ["--device", u.unit_id]
    try:
        t0 = time.monotonic()
        r = CliRunner().invoke(cli, argv)
        elapsed = time.monotonic() - t0
    finally:
        hosts.close()
    assert r.exit_code == 3, r.output
    assert "MQTT broker lost at " in r.stdout, r.stdout
    assert " UTC; next: run the same command again to finish them." in r.stdout, r.stdout
    assert "never answered" not in r.stdout and "check each id" not in r.stdout, r.stdout
    with Ledger(tmp_path / "c.db") as ledger:
        rows = {row.id: row for row in ledger.rows()}
    assert rows[first.unit_id].state == "verified"
    assert rows[cut.unit_id].state == "writing"  # as it was when the broker went
    assert "MQTT broker link is down" in (rows[cut.unit_id].last_error or "")
    for u in untouched:  # never begun: as they were, no attempt charged
        row = rows[u.unit_id]
        assert (row.state, row.attempts, row.last_error) == ("pending", 0, None), row
    assert elapsed < 15, elapsed  # the loss ends the call awaiting FS.Put: no 20 s wait


def test_a_probe_keeps_at_most_its_cap_awaiting(
    mosquitto: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A broker drops answers beyond what it queues for one client: a probe of a large
    fleet asks in a window, not all at once."""
    monkeypatch.setattr(mqtt_module, "_PROBE_INFLIGHT", 5)
    silent = unit_ids("esp32-win", 12)
    transport = MqttTransport(parse_mqtt_url(mosquitto.url), silent)
    most: list[int] = []
    real_send = MqttTransport._send

    def send(self: MqttTransport, unit: str, method: str, params: Any) -> Any:
        most.append(len(self._waiting) + 1)
        return real_send(self, unit, method, params)

    monkeypatch.setattr(MqttTransport, "_send", send)
    try:
        found = transport.probe(silent, "Sys.GetInfo", {}, timeout=0.2)
    finally:
        transport.close()
    assert sorted(found) == sorted(silent) and max(most) == 5, most
    assert transport._waiting == {}  # nothing left awaited


@pytest.mark.timeout(120)
def test_a_broker_gone_before_the_pass_leaves_every_unit_as_it_was(
    broker: Mosquitto, tmp_path: Path
) -> None:
    ids = unit_ids("esp32-d", 4)
    transport = MqttTransport(parse_mqtt_url(broker.url), ids)
    lost = threading.Event()
    transport.on_link = lambda up, why: None if up else lost.set()
    assert broker.proc is not None
    broker.proc.kill()
    assert lost.wait(60)
    try:
        with Ledger(tmp_path / "c.db") as ledger:
            report = run_campaign([transport], push_file(), ledger, CampaignOptions(timeout=0.5))
    finally:
        transport.close()
    assert [(r.state, r.attempts) for r in report.rows] == [("pending", 0)] * 4
    assert report.link_lost is not None and report.link_lost[0] == "MQTT broker"


def test_a_probe_that_times_out_with_the_broker_gone_blames_the_broker() -> None:
    """A request paho took while the link was going (no error, no answer): its silence
    is the broker's, so the probe says the link is lost, and no unit is taken for off."""
    transport = MqttTransport.__new__(MqttTransport)  # no broker: its client stubbed
    transport.client_id, transport.traffic = "esp-cabundle-t", Traffic()
    transport._waiting, transport._lock = {}, threading.Lock()
    transport._lost_at, transport._lost_why = None, ""
    transport._answered_at = 0.0

    class Client:
        def publish(self, topic: str, frame: bytes, qos: int) -> Any:
            transport._lost_at = datetime.now(timezone.utc)  # lost as this one went out
            transport._lost_why = "Unspecified error"
            return SimpleNamespace(rc=0)

    transport._client = Client()  # type: ignore[assignment]
    with pytest.raises(LinkLost, match="MQTT broker link is down"):
        transport.probe(["esp32-x"], "Sys.GetInfo", {}, timeout=0.1)
    assert transport._waiting == {}
