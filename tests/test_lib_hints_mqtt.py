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


def test_a_port_that_speaks_no_mqtt_is_told_to_check_the_port(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A listener that takes the connection and says nothing (another service's port, a
    TLS listener given as mqtt://) gave "no answer from the MQTT broker ... in 10 s" and
    no hint: the hint names the port to check, and mqtts:// for a plain URL."""
    import socket

    import esp_cabundle.push.mqtt as mqtt_mod

    monkeypatch.setattr(mqtt_mod, "_CONNECT_TIMEOUT", 0.3)
    with socket.create_server(("127.0.0.1", 0)) as silent:
        port = silent.getsockname()[1]
        with pytest.raises(DeviceError) as e:
            MqttTransport(parse_mqtt_url(f"mqtt://127.0.0.1:{port}", CLI_SPELLING), ["u1"])
    assert e.value.message.startswith("no answer from the MQTT broker"), e.value
    assert e.value.hint == (
        "something took the connection but gave no MQTT answer: check that the port in "
        "--mqtt is the broker's, or a TLS one that wants mqtts://"
    )
