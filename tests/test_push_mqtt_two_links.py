"""A unit listed by an MQTT broker and by mDash: silent over MQTT (its MQTT client
off) it still answers over mDash, and a dry run must say what mDash reached. The
probe's silent units were keyed by id alone, so its mDash row was "offline" too."""

from __future__ import annotations

from typing import Any

from support.fleet import ca_bytes, mdash_unit
from support.gated import gated

from esp_cabundle.push.campaign import CampaignOptions, PushFile
from esp_cabundle.push.mdash import MdashTransport
from esp_cabundle.push.mqtt import MqttTransport, parse_mqtt_url
from esp_cabundle.push.survey import survey

KEY = "mdash-key-7a8b9c0d1e2f"


def test_a_unit_silent_over_mqtt_is_still_read_over_mdash(mosquitto: Any, stand_in: Any) -> None:
    s = stand_in([mdash_unit("esp32-both")])
    mdash = MdashTransport(KEY, base_url=s.url, timeout=2)
    mqtt = MqttTransport(parse_mqtt_url(mosquitto.url), ["esp32-both"])  # no unit there
    push = PushFile(gated(ca_bytes(), "mdash-arduino"))
    try:  # one worker: the mDash row is made first and is the one kept
        rows = survey([mdash, mqtt], push, CampaignOptions(timeout=0.5, concurrency=1))
    finally:
        mqtt.close()
        mdash.close()
    assert [(r.id, r.transport, r.state) for r in rows] == [
        ("esp32-both", "mdash", "would-write")
    ], rows
