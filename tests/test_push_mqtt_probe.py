"""The MQTT probe round under load and interrupted.

A broker hands a client's QoS 1 messages on a few at a time (mosquitto: 20 in flight),
so 1000 answers come back over several round trips: a probe that started each unit's
timeout when it was asked recorded answering units offline. A Ctrl-C (``stop``) did not
end a probe's wait, and a pass probed even when ``stop`` was set."""

from __future__ import annotations

import base64
import threading
import time
from pathlib import Path
from typing import Any

from support.fleet import ca_bytes, mongoose_unit
from support.fleet_links import unit_ids
from support.gated import gated

from esp_cabundle.push.campaign import CampaignOptions, PushFile, run_campaign
from esp_cabundle.push.ledger import Ledger
from esp_cabundle.push.mqtt import MqttTransport, parse_mqtt_url
from esp_cabundle.virtual.rpc_links import MqttUnitHost


def test_answers_handed_on_slowly_still_count(mosquitto: Any) -> None:
    """One worker answering 0.3 s apart: the last answers come after their own 0.5 s
    timeout, but answers keep coming, so the units are there (as a broker handing
    1000 answers on 20 at a time)."""
    units = [mongoose_unit(u) for u in unit_ids("esp32-slow", 4)]

    def slow(method: str, params: dict[str, Any], when: str) -> None:
        if when == "before":
            time.sleep(0.3)

    for u in units:
        u.hook = slow
    host = MqttUnitHost(mosquitto.port, units, workers=1)
    silent = unit_ids("esp32-quiet", 2)
    transport = MqttTransport(parse_mqtt_url(mosquitto.url), [u.unit_id for u in units] + silent)
    try:
        found = transport.probe(transport.ids, "Sys.GetInfo", {}, timeout=0.5)
    finally:
        transport.close()
        host.close()
    assert sorted(found) == sorted(silent), found


def test_stop_ends_a_probe_wait_and_blames_no_unit(mosquitto: Any) -> None:
    silent = unit_ids("esp32-stop", 3)
    transport = MqttTransport(parse_mqtt_url(mosquitto.url), silent)
    stop = threading.Event()
    threading.Timer(0.2, stop.set).start()
    try:
        t0 = time.monotonic()
        found = transport.probe(silent, "Sys.GetInfo", {}, timeout=5.0, stop=stop)
        elapsed = time.monotonic() - t0
    finally:
        transport.close()
    assert found == {} and elapsed < 1.5, (found, elapsed)
    assert transport._waiting == {}


def test_a_pass_with_stop_set_probes_nothing_and_records_nothing(
    mosquitto: Any, tmp_path: Path
) -> None:
    silent = unit_ids("esp32-halt", 3)
    transport = MqttTransport(parse_mqtt_url(mosquitto.url), silent)
    stop = threading.Event()
    stop.set()
    push = PushFile(gated(ca_bytes(), "mongoose-os-esp32"))
    try:
        with Ledger(tmp_path / "c.db") as ledger:
            t0 = time.monotonic()
            report = run_campaign(
                [transport], push, ledger, CampaignOptions(timeout=5.0), stop=stop
            )
            elapsed = time.monotonic() - t0
    finally:
        transport.close()
    assert [(r.state, r.attempts) for r in report.rows] == [("pending", 0)] * 3
    assert elapsed < 1.5, elapsed


def test_stop_set_during_the_probe_of_a_pass_records_nothing(
    mosquitto: Any, tmp_path: Path
) -> None:
    silent = unit_ids("esp32-intr", 3)
    transport = MqttTransport(parse_mqtt_url(mosquitto.url), silent)
    stop = threading.Event()
    threading.Timer(0.3, stop.set).start()
    push = PushFile(gated(ca_bytes(), "mongoose-os-esp32"))
    try:
        with Ledger(tmp_path / "c.db") as ledger:
            t0 = time.monotonic()
            report = run_campaign(
                [transport], push, ledger, CampaignOptions(timeout=5.0), stop=stop
            )
            elapsed = time.monotonic() - t0
    finally:
        transport.close()
    assert [(r.state, r.attempts) for r in report.rows] == [("pending", 0)] * 3
    assert elapsed < 2.0, elapsed


def test_a_unit_whose_probe_request_is_lost_is_asked_again(mosquitto: Any) -> None:
    """A request lost on its way (the unit reconnecting to the broker as it went out):
    the unit was called silent after one probe, offline until the next pass. Still
    silent three quarters of a timeout on, it is asked once more; its answer counts."""
    units = [mongoose_unit(u) for u in unit_ids("esp32-lost", 2)]
    lost = units[0].unit_id
    host = MqttUnitHost(mosquitto.port, units)
    real = host.client.on_message
    dropped: list[str] = []

    def lossy(client: Any, userdata: Any, msg: Any) -> None:
        if msg.topic == f"{lost}/rpc" and not dropped:
            dropped.append(msg.topic)  # the first request to it never arrives
            return
        real(client, userdata, msg)

    host.client.on_message = lossy
    silent = unit_ids("esp32-gone", 2)
    transport = MqttTransport(parse_mqtt_url(mosquitto.url), [u.unit_id for u in units] + silent)
    try:
        t0 = time.monotonic()
        found = transport.probe(transport.ids, "Sys.GetInfo", {}, timeout=1.0)
        elapsed = time.monotonic() - t0
    finally:
        transport.close()
        host.close()
    assert dropped and sorted(found) == sorted(silent), found
    assert [u.count("Sys.GetInfo") for u in units] == [1, 1]  # the others asked once
    # no more than one timeout for the silent ones (a second would end at 2.0 s; the
    # margin is for a loaded machine)
    assert elapsed < 1.9, elapsed
    assert transport._waiting == {}


def test_asking_again_adds_no_timeout_when_every_unit_is_silent(
    mosquitto: Any, monkeypatch: Any
) -> None:
    """A fleet mostly off: each silent unit is asked twice, still in one timeout."""
    silent = unit_ids("esp32-dark", 5)
    transport = MqttTransport(parse_mqtt_url(mosquitto.url), silent)
    published: list[str] = []
    real = MqttTransport._publish

    def publish(self: MqttTransport, unit: str, waiter: Any, params: Any) -> None:
        published.append(unit)
        real(self, unit, waiter, params)

    monkeypatch.setattr(MqttTransport, "_publish", publish)
    try:
        t0 = time.monotonic()
        found = transport.probe(silent, "Sys.GetInfo", {}, timeout=1.0)
        elapsed = time.monotonic() - t0
    finally:
        transport.close()
    assert sorted(found) == sorted(silent)
    assert sorted(published) == sorted(silent * 2), published
    assert 1.0 <= elapsed < 1.9, elapsed  # one timeout, not two (2.0 s)


def test_stop_ends_a_dry_runs_probe_as_a_passs(mosquitto: Any) -> None:
    """The dry run's survey probed with no ``stop``: its wait ran the whole timeout and
    then began every unit. Now it ends as a pass's probe does, no unit begun."""
    from esp_cabundle.push.survey import survey

    silent = unit_ids("esp32-dry", 3)
    transport = MqttTransport(parse_mqtt_url(mosquitto.url), silent)
    stop = threading.Event()
    threading.Timer(0.2, stop.set).start()
    push = PushFile(gated(ca_bytes(), "mongoose-os-esp32"))
    try:
        t0 = time.monotonic()
        rows = survey([transport], push, CampaignOptions(timeout=5.0), stop=stop)
        elapsed = time.monotonic() - t0
    finally:
        transport.close()
    assert rows == [] and elapsed < 1.5, (rows, elapsed)
    assert transport._waiting == {}


def test_a_slow_unit_is_not_asked_a_write_twice(mosquitto: Any) -> None:
    """Asking a unit still silent once more is for requests that only read: a slow unit
    does both, and an ``FS.Put`` append asked again added its chunk twice (as the HTTP
    pool no longer resends a write, adf6df1)."""
    unit = mongoose_unit("esp32-slow-write", delay=1.7)  # answers after the ask-again point
    host = MqttUnitHost(mosquitto.port, [unit])
    transport = MqttTransport(parse_mqtt_url(mosquitto.url), [unit.unit_id])
    chunk = {"filename": "/appended.txt", "data": base64.b64encode(b"abc").decode()}
    try:
        found = transport.probe(transport.ids, "FS.Put", {**chunk, "append": True}, timeout=2.0)
        for _ in range(100):  # a second request, if sent, is served after the first
            if not host.waiting:
                break
            time.sleep(0.05)
    finally:
        transport.close()
        host.close()
    assert found == {}  # it answered, late
    assert unit.image.read("/appended.txt") == b"abc"
    assert unit.count("FS.Put") == 1
