"""A hint shows the command line as typed (mended), and a usage error comes before the
option that would remember a URL's password is read: ``push --mqtt mqtt://u:PASS@h
--concurrency 0`` printed PASS in its hint. The passwords of URLs typed (and an mDash
key alone before an https URL's @) are masked in every line and JSON document."""

from __future__ import annotations

import json

import pytest

from esp_cabundle.cli import run

PASS = "S3cretPass"


@pytest.mark.parametrize(
    "args",
    [
        ["push", "--mqtt", f"mqtt://u:{PASS}@broker.example", "--concurrency", "0"],
        ["push", f"--mqtt=mqtts://u:{PASS}@broker.example:8883", "--jobs", "4"],
        ["push", "--mdash", f"https://{PASS}@mdash.example/api/v2", "--concurency", "2"],
        ["push", "stauts", "--mqtt", f"mqtt://u:{PASS}@broker.example"],
    ],
)
@pytest.mark.parametrize("as_json", [False, True])
def test_a_typed_urls_password_is_never_shown(
    args: list[str], as_json: bool, capsys: pytest.CaptureFixture[str]
) -> None:
    typed = [args[0], "--json", *args[1:]] if as_json else args
    assert run(typed) == 2
    out = capsys.readouterr()
    text = out.out + out.err
    assert PASS not in text and "[redacted]" in text, text
    if as_json:
        doc = json.loads(out.out)
        assert doc["kind"] == "InputError" and "[redacted]" in doc["hint"], doc


def test_a_url_without_a_password_is_shown_as_typed(capsys: pytest.CaptureFixture[str]) -> None:
    """Only secrets are masked: a user name beside no password (MQTT) and a host stay."""
    assert run(["push", "--mqtt", "mqtt://fleetuser@broker.example", "--concurrency", "0"]) == 2
    err = capsys.readouterr().err
    assert "mqtt://fleetuser@broker.example" in err and "[redacted]" not in err, err
