"""An empty (or blank) value for an option naming a port, a board, a partition, a URL,
a root or a directory is a usage error (exit 2) said when the options are read: before
the CA is judged, before any progress bar, and before anything is opened or written.
Before, ``flash -p ''`` reported a device failure (exit 3) and ``--board ''`` fell
through to the config's board."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from esp_cabundle.cli import cli

DATA = Path(__file__).resolve().parent / "data"
UNIT = "socket://127.0.0.1:9"  # never reached: the options are refused first

FLASH = ["flash", "-p", UNIT, "--board", "mdash-arduino", "--bundle", "ca.pem"]
PUSH = ["push", "--mqtt", "mqtt://127.0.0.1:9", "--device", "a", "--board", "mdash-arduino",
        "--bundle", "ca.pem", "--dry-run"]  # fmt: skip

CASES = [
    (["flash", "--board", "mdash-arduino", "--bundle", "ca.pem"], "-p"),
    (FLASH, "-p"),  # a second, empty --port beside a good one
    (FLASH, "--board"),
    (FLASH, "--journal-dir"),
    (["flash", "-p", UNIT, "--board", "mdash-arduino"], "--preset"),
    (["flash", "-p", UNIT, "--board", "mdash-arduino"], "--root"),
    (["flash", "-p", UNIT, "--board", "mdash-arduino", "--preset", "default"], "--exclude"),
    (FLASH, "--target"),
    (["restore"], "-p"),
    (["restore", "-p", UNIT], "--journal-dir"),
    (["restore", "-p", UNIT], "--board"),
    (["read", "--all", "-o", "out.bin"], "-p"),
    (["read", "-p", UNIT, "-o", "out.bin"], "--partition"),
    (["inspect"], "-p"),
    (["inspect", "ca.pem"], "--port"),
    (PUSH, "--mqtt"),
    (PUSH, "--mdash"),
    (PUSH, "--device"),
    (PUSH, "--rpc"),
    (PUSH, "--server"),
    (PUSH, "--board"),
    (["virtual-unit", "--board", "mdash-arduino"], "--chip"),
    (["virtual-unit", "--board", "mdash-arduino"], "--rpc"),
    (["virtual-unit", "--rpc", "http://127.0.0.1:0"], "--id"),
    (["virtual-unit"], "--board"),
    (["check", "--bundle", "ca.pem"], "--host"),
    (["check", "--bundle", "ca.pem", "--roadmap", "letsencrypt"], "--device"),
    (["check", "--bundle", "ca.pem"], "--roadmap"),
    (["journal", "list"], "--journal-dir"),
    (["init", "--yes"], "--preset"),
]


@pytest.mark.parametrize("blank", ["", "  "])
@pytest.mark.parametrize(("args", "flag"), CASES, ids=lambda c: c if isinstance(c, str) else None)
def test_an_empty_value_is_a_usage_error(
    runner: CliRunner, in_tmp: Path, monkeypatch: pytest.MonkeyPatch,
    args: list[str], flag: str, blank: str,
) -> None:  # fmt: skip
    monkeypatch.setenv("ESP_CABUNDLE_JOURNAL", str(in_tmp / "journal"))
    monkeypatch.delenv("ESP_CABUNDLE_MQTT", raising=False)
    ca = (DATA / "letsencrypt" / "isrgrootx1.pem").read_bytes()
    (in_tmp / "ca.pem").write_bytes(ca)
    r = runner.invoke(cli, [*args, flag, blank])
    assert r.exit_code == 2, r.output
    assert "an empty value names no" in r.output or "an empty path names no" in r.output
    named = {"-p": "--port"}.get(flag, flag)  # the option is named, in the tool's words
    assert f"Error: bad {named}: " in r.output or f"'{flag}'" in r.output, r.output
    assert "Usage:" not in r.output and "\n  hint: " in r.output, r.output
    for word in ("CA:", "%", "FAILED", "Traceback"):  # no gate line, no progress
        assert word not in r.output, r.output
    assert sorted(p.name for p in in_tmp.iterdir()) == ["ca.pem"]  # nothing written
    assert (in_tmp / "ca.pem").read_bytes() == ca
