"""The MQTT probe round under load and interrupted.

A broker hands a client's QoS 1 messages on a few at a time (mosquitto: 20 in flight),
so 1000 answers come back over several round trips: a probe that started each unit's
timeout when it was asked recorded answering units offline. A Ctrl-C (``stop``) did not
end a probe's wait, and a pass probed even when ``stop`` was set."""

from __future__ import annotations

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
