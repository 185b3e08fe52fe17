"""A library user's common mistakes (one str where a sequence goes, a naive datetime, a
name where an object goes, text where bytes go) get an ArgumentTypeError naming the
argument and what to give, raised before anything is done (no broker is dialled), not a
raw TypeError or AttributeError from deep inside."""

from __future__ import annotations

import socket
from datetime import date, datetime, timezone
from pathlib import Path

import pytest

from esp_cabundle.certs import load_certificate_file
from esp_cabundle.errors import ArgumentTypeError
from esp_cabundle.inspect import inspect_path
from esp_cabundle.push.mqtt import MqttTransport, parse_mqtt_url


@pytest.fixture
def no_connect(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """Any attempt to dial the broker, recorded (the refusal must come first)."""
    dialled: list[object] = []

    def refuse(*args: object, **kwargs: object) -> object:
        dialled.append(args)
        raise ConnectionRefusedError("dialled")

    monkeypatch.setattr(socket, "create_connection", refuse)
    return dialled


def test_mqtt_one_str_as_the_device_ids_is_refused_before_connecting(
    no_connect: list[object],
) -> None:
    with pytest.raises(ArgumentTypeError, match="device_ids takes a sequence") as e:
        MqttTransport.from_url("mqtt://127.0.0.1:1", "dev1")  # type: ignore[arg-type]
    assert e.value.hint == "give a tuple: device_ids=('dev1',)"
    with pytest.raises(ArgumentTypeError, match="device_ids takes names"):
        MqttTransport.from_url("mqtt://127.0.0.1:1", [1, 2])  # type: ignore[list-item]
    assert no_connect == []


def test_mqtt_url_of_the_wrong_type_is_refused(no_connect: list[object]) -> None:
    with pytest.raises(ArgumentTypeError, match="takes an MqttUrl, not str") as e:
        MqttTransport("mqtt://127.0.0.1:1", ["dev1"])  # type: ignore[arg-type]
    assert e.value.hint is not None and "from_url" in e.value.hint
    url = parse_mqtt_url("mqtt://127.0.0.1:1")
    with pytest.raises(ArgumentTypeError, match="URL as str, not MqttUrl"):
        MqttTransport.from_url(url, ["dev1"])  # type: ignore[arg-type]
    assert no_connect == []


X1 = Path(__file__).parent / "data/letsencrypt/isrgrootx1.pem"
NAIVE = datetime(2030, 1, 1)
AWARE = datetime(2030, 1, 1, tzinfo=timezone.utc)


def test_certificate_dates_take_a_naive_datetime_or_a_date_as_utc() -> None:
    (cert,) = load_certificate_file(X1)
    for at in (NAIVE, date(2030, 1, 1)):
        assert cert.days_left(at) == cert.days_left(AWARE)
        assert cert.is_expired(at) is cert.is_expired(AWARE) is False
        assert cert.is_valid_at(at) is cert.is_valid_at(AWARE) is True
        assert cert.is_not_yet_valid(at) is False
    for call in (cert.days_left, cert.is_expired, cert.is_valid_at, cert.is_not_yet_valid):
        with pytest.raises(ArgumentTypeError, match="a date or datetime is needed, not str"):
            call("2030-01-01")  # type: ignore[arg-type]


def test_report_to_dict_takes_a_naive_datetime_as_utc() -> None:
    report = inspect_path(X1)
    assert report.to_dict(NAIVE) == report.to_dict(AWARE)
    assert report.to_dict(date(2030, 1, 1)) == report.to_dict(AWARE)
    with pytest.raises(ArgumentTypeError, match="a date or datetime is needed, not str"):
        report.to_dict("2030-01-01")  # type: ignore[arg-type]
