"""A unit's ``--rpc`` URL may carry any credential in its query (``?session=``): the
ledger and reports keep each value masked, but a usage error's hint repeats the line as
typed, and it came before the option that masks the URL is read: ``push --rpc
'http://h/rpc?session=abc123' --concurrency 0`` printed abc123 in its hint."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from esp_cabundle.cli import cli
from esp_cabundle.redact import redact, remember_query_values, remember_typed


def test_a_hint_repeating_the_typed_line_masks_the_rpc_query_values(
    in_tmp: Path, runner: CliRunner
) -> None:
    url = "http://127.0.0.1:2/rpc?session=abc123&x=long%20value"
    args = ["push", "--rpc", url, "--board", "mongoose-os-esp32", "--concurrency", "0"]
    r = runner.invoke(cli, args)
    assert r.exit_code == 2, r.output
    assert "--concurrency 1" in r.output  # the hint repeats the line
    assert "abc123" not in r.output and "long value" not in r.output, r.output
    assert "session=[redacted]" in r.output
    assert sorted(p.name for p in in_tmp.iterdir()) == []  # nothing written


def test_only_web_urls_query_values_are_remembered() -> None:
    remember_typed(["--mqtt", "mqtt://broker:1883/?client=plain-name", "--rpc=wss://h/r?k=s3cret9"])
    assert redact("s3cret9 plain-name") == "[redacted] plain-name"


def test_a_short_query_value_is_masked_where_it_stands_as_its_keys_value() -> None:
    remember_query_values("pin=42&k=Qz7&ab")
    text = "pin=42 at port 4242; xpin=42, 'http://h/r?k=Qz7&ab#f' \"pin=42\" k=Qz7x Qz7 ab"
    assert redact(text) == (
        "pin=[redacted] at port 4242; xpin=42, 'http://h/r?k=[redacted]&[redacted]#f' "
        '"pin=[redacted]" k=Qz7x Qz7 ab'
    )


def test_a_short_percent_encoded_value_is_masked_as_typed_and_decoded() -> None:
    remember_query_values("p%20n=a%2Cb")
    assert redact("?p%20n=a%2Cb&p n=a,b") == "?p%20n=[redacted]&p n=[redacted]"


def test_a_hint_repeating_the_typed_line_masks_short_query_values(
    in_tmp: Path, runner: CliRunner
) -> None:
    url = "http://127.0.0.1:2/rpc?pin=Qz7&s=ab1234"
    for json in ([], ["--json"]):
        args = ["push", *json, "--rpc", url, "--board", "mongoose-os-esp32", "--concurrency", "0"]
        r = runner.invoke(cli, args)
        assert r.exit_code == 2, r.output
        assert "--concurrency 1" in r.output  # the hint repeats the line
        assert "Qz7" not in r.output and "ab1234" not in r.output, r.output
        assert "pin=[redacted]&s=[redacted]" in r.output
    assert sorted(p.name for p in in_tmp.iterdir()) == []  # nothing written


def test_an_error_quoting_a_typed_url_masks_its_short_query_values(
    in_tmp: Path, runner: CliRunner
) -> None:
    rpc = "http://127.0.0.1:2/rpc?pin=Qz7"
    for json in ([], ["--json"]):
        bad = "http://h/?k=Wv"  # a URL given where a number goes: quoted by the error
        args = ["push", *json, "--rpc", rpc, "--board", "mongoose-os-esp32", "--concurrency", bad]
        r = runner.invoke(cli, args)
        assert r.exit_code == 2, r.output
        assert "k=[redacted]" in r.output, r.output
        assert "Qz7" not in r.output and "Wv" not in r.output, r.output
    assert sorted(p.name for p in in_tmp.iterdir()) == []


def test_a_short_query_value_before_closing_punctuation_is_masked() -> None:
    remember_query_values("pin=42")
    assert redact("(pin=42), <pin=42>; pin=42; pin=420") == (
        "(pin=[redacted]), <pin=[redacted]>; pin=[redacted]; pin=420"
    )


def test_masking_a_text_by_a_query_remembers_nothing() -> None:
    from esp_cabundle.redact import known, mask_query_values

    text = "dev=B; abc123 and B alone; [redacted] stays whole"
    assert mask_query_values(text, "dev=B&s=abc123&acted") == (
        "dev=[redacted]; [redacted] and B alone; [redacted] stays whole"
    )
    assert not known()
