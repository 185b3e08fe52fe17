"""A unit's ``--rpc`` URL may carry any credential in its query (``?session=``): the
ledger and reports keep each value masked, but a usage error's hint repeats the line as
typed, and it came before the option that masks the URL is read: ``push --rpc
'http://h/rpc?session=abc123' --concurrency 0`` printed abc123 in its hint."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from esp_cabundle.cli import cli
from esp_cabundle.redact import redact, remember_typed


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
