"""A hint shows the command line as typed (mended), and a usage error comes before the
option that would remember a URL's password is read: ``push --mqtt mqtt://u:PASS@h
--concurrency 0`` printed PASS in its hint. The passwords of URLs typed (and an mDash
key alone before an https URL's @) are masked in every line and JSON document."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from esp_cabundle.cli import run
from esp_cabundle.errors import DeviceError
from esp_cabundle.redact import MASK

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


KEY = "Zq7mdashKEYvalue91"
MDASH = ["--mdash", "https://dash.example/api/v2"]


@pytest.mark.parametrize(
    ("args", "env"),
    [
        (["push", "--api-key", KEY, *MDASH], "MDASH_API_KEY"),
        (["push", f"--api-key={KEY}", *MDASH], "MDASH_API_KEY"),
        (["push", "--api-kye", KEY, *MDASH], "MDASH_API_KEY"),  # a typo no secret's name
        (["push", "--mqtt", "mqtt://broker.example", "--mqtt-pass", KEY], "MQTT_PASSWORD"),
        (["push", "--mqtt", "mqtt://broker.example", "--password", KEY], "MQTT_PASSWORD"),
        (["--api-key", KEY, "push", *MDASH], "MDASH_API_KEY"),  # before the command
    ],
)
@pytest.mark.parametrize("as_json", [False, True])
def test_a_secret_typed_as_an_options_value_is_never_shown(
    args: list[str], env: str, as_json: bool, capsys: pytest.CaptureFixture[str]
) -> None:
    """``push --api-key KEY`` is no option: its "did you mean --api-key-file?" hint
    printed the key, as the file's name to give. It says where a secret goes instead."""
    at = args.index("push") + 1
    typed = [*args[:at], "--json", *args[at:]] if as_json else args
    assert run(typed) == 2
    out = capsys.readouterr()
    text = out.out + out.err
    assert KEY not in text, text
    hint = json.loads(out.out)["hint"] if as_json else text
    assert "-file FILE" in hint and env in hint and "never given on the command line" in hint


def test_a_path_given_to_a_misspelt_file_option_is_mended_as_typed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Only a value that names no file is taken for a secret: a key file's path stays."""
    key_file = tmp_path / "mdash.key"
    key_file.write_text("k\n")
    monkeypatch.chdir(tmp_path)
    assert run(["push", "--api-key-fil", "mdash.key", *MDASH]) == 2
    err = capsys.readouterr().err
    assert "did you mean --api-key-file? e.g. esp-cabundle push --api-key-file mdash.key" in err
    assert "[redacted]" not in err


def test_a_secret_option_with_no_close_name_still_hides_its_value(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert run(["push", "--token", KEY, *MDASH]) == 2
    out = capsys.readouterr()
    assert KEY not in out.out + out.err and "push --help" in out.err


@pytest.mark.parametrize(
    "args",
    [
        ["push", "--mdash", "--api-kye", "-S3CRETKEYVALUE", "ca.pem"],  # base64url: may open "-"
        ["push", "--mdash", "x", "--api-kye=-Zk9", "ca.pem"],
        ["push", "--mdash", "x", "--api-key", "-S3CRETKEYVALUE"],
    ],
)
def test_a_secret_opening_with_a_dash_is_never_shown(
    args: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(args) == 2
    out = capsys.readouterr()
    secret = args[3].partition("=")[2] if "=" in args[3] else args[4]
    assert secret not in out.out + out.err, out.err


def test_a_short_url_password_is_masked_where_it_stands(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """``mqtt://u:pw@h``: a password under 4 characters was shown (masking "pw" alone
    would mask ordinary text); it is masked between "user:" and "@"."""
    assert run(["push", "--mqtt", "mqtt://u:pw@broker.example", "--concurrency", "0"]) == 2
    err = capsys.readouterr().err
    assert "u:pw@" not in err and "mqtt://u:[redacted]@broker.example" in err, err


def test_a_short_query_value_is_masked_before_punctuation() -> None:
    from esp_cabundle import redact

    redact.forget()
    try:
        redact.remember_query_values("pin=42")
        for end in [":", ")", ",", ".", ";", ">", "]", "", " x", "&a=1", "#f"]:
            shown = redact.redact(f"(http://h/rpc?pin=42{end}")
            assert "pin=42" not in shown and "pin=[redacted]" in shown, (end, shown)
        assert redact.redact("?pin=420") == "?pin=420"  # another value: left alone
        assert redact.redact("xpin=42") == "xpin=42"  # another key
    finally:
        redact.forget()


@pytest.mark.parametrize("error", [DeviceError, MemoryError])
def test_debug_tracebacks_mask_what_the_error_line_masks(
    error: type[Exception], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """--debug printed the traceback as Python formats it, the message (and any cause's)
    with the secret the error line below it masks: a query value of a typed --rpc URL,
    which a message or a library's exception may quote."""
    url = f"http://127.0.0.1:9/rpc?session={PASS}"

    def fail(*args: object, **kwargs: object) -> None:
        raise error(f"unit {url} answered oddly")

    monkeypatch.setattr("esp_cabundle.commands.push._run", fail)
    code = run(["--debug", "push", "--rpc", url, "--board", "mdash-arduino"])
    out = capsys.readouterr()
    assert code in (3, 1, 2), out
    assert "Traceback" in out.err and f"session={MASK}" in out.err, out.err
    assert PASS not in out.out + out.err, out.err
