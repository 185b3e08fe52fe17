"""The MQTT broker's hints in the caller's words: a script that built its ``MqttUrl``
by hand is told to check the host and port in ``url``, and of the URL's password for a
refused login; the CLI keeps --mqtt and MQTT_PASSWORD / --mqtt-password-file."""

from __future__ import annotations

import pytest
from support.fleet_links import Mosquitto, free_port, mosquitto_binary

from esp_cabundle.errors import AuthError, DeviceError
from esp_cabundle.push.mqtt import MqttTransport, MqttUrl, parse_mqtt_url
from esp_cabundle.spelling import CLI_SPELLING


def test_a_url_built_by_hand_names_no_flag() -> None:
    url = MqttUrl(False, "127.0.0.1", free_port())  # nothing listens there
    with pytest.raises(DeviceError) as e:
        MqttTransport(url, ["u1"])
    assert e.value.hint == "check the host and port in url"
    assert parse_mqtt_url(f"mqtt://{url.host}:{url.port}", CLI_SPELLING).given_in == "--mqtt"


@pytest.mark.skipif(mosquitto_binary() is None, reason="mosquitto is not installed")
@pytest.mark.timeout(60)
def test_a_refused_login_names_the_password_as_the_caller_gives_it() -> None:
    with Mosquitto(users={"fleet": "right"}) as broker:
        url = MqttUrl(False, "127.0.0.1", broker.port, "fleet", "wrong")
        with pytest.raises(AuthError) as e:
            MqttTransport(url, ["u1"])
        assert e.value.hint is not None and "--" not in e.value.hint
        assert e.value.hint == (
            "check the user name and the password (the URL's user:password@, or "
            "MqttUrl(password=...))"
        )
        with pytest.raises(AuthError) as e:
            MqttTransport(url, ["u1"], spelling=CLI_SPELLING)
        assert e.value.hint == (
            "check the user name and the password (MQTT_PASSWORD or --mqtt-password-file)"
        )
